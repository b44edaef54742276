// GPU test helpers: whether a GPU is there (else the test says it was skipped and why), copies
// between host vectors and device tensors, and training the same model on two device lists.
#pragma once
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"
#include "core/tensor.h"
#include "parallel/devices.h"
#include "parallel/trainer.h"

namespace dpt::test {

inline int gpu_count() {
  std::string why;
  const auto g = visible_gpus(&why);
  if (g.empty()) WARN("SKIPPED (no GPU): " << why);
  return int(g.size());
}

inline Tensor to_gpu(const std::vector<float>& h, Shape s, int dev = 0) {
  Tensor t(s, Device::cuda(dev));
  copy_floats(t.data(), t.device(), h.data(), Device::cpu(), t.numel());
  return t;
}

inline std::vector<float> to_host(const float* p, Device d, int64_t n) {
  std::vector<float> h(static_cast<size_t>(n));
  copy_floats(h.data(), Device::cpu(), p, d, n);
  return h;
}

// float32 tolerance: |gpu - cpu| <= atol + rtol * |cpu| element by element. Returns the worst
// element's ratio to its tolerance.
inline double expect_close(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol,
                           const std::string& what) {
  REQUIRE(got.size() == ref.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = std::abs(double(got[i]) - ref[i]) / (atol + rtol * std::abs(double(ref[i])));
    if (r > worst) {
      worst = r;
      at = i;
    }
  }
  INFO(what << ": worst element " << at << " gpu " << got[at] << " cpu " << ref[at] << " (ratio to tolerance " << worst
            << ")");
  CHECK(worst <= 1.0);
  return worst;
}

// The first n GPUs; `replicas` replicas sharing cuda:0.
std::vector<Device> gpus(int n);
std::vector<Device> on_gpu0(int replicas);

// A preset by name, or "bn-net" (test::bn_dropout_net), built with seed 11.
std::unique_ptr<Sequential> model_for(const std::string& which);

// Trains the same model from the same weights on `a` and on `b` (2 epochs of 4 steps of `batch`,
// synthetic data, categorical cross-entropy); returns rel_diff of the two results' weights.
double train_pair(const std::string& which, const std::vector<Device>& a, const std::vector<Device>& b, int64_t batch,
                  ParallelOptions po, const std::string& optimizer = "adam");
// The same with an optimizer's whole configuration (clipping, weight decay).
double train_pair(const std::string& which, const std::vector<Device>& a, const std::vector<Device>& b, int64_t batch,
                  ParallelOptions po, const OptimizerConfig& optimizer);

}  // namespace dpt::test
