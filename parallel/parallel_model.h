// ParallelModel: Keras's multi_gpu_model in C++. Built from a template model and a list of
// devices; compile/fit/evaluate/predict run data-parallel over one replica per device, and after
// fit the *template* holds the merged weights, so saving the template writes a file that loads
// into a one-device model. The parallel wrapper itself is never what gets saved.
#pragma once
#include <memory>
#include <vector>
#include "parallel/trainer.h"

namespace dpt {

class ParallelModel {
 public:
  ParallelModel(Sequential& template_model, std::vector<Device> devices, int threads = 1);
  void compile(LossKind loss, const Optimizer& optimizer, ParallelOptions options = {});
  History fit(const Dataset& x, const Dataset* validation, const FitOptions& opt,
              const std::vector<Callback*>& callbacks = {});
  EvalResult evaluate(const Dataset& data, int64_t batch_size = 32);
  std::vector<float> predict(const Dataset& data, int64_t batch_size = 32);
  Sequential& template_model() { return template_; }
  const std::vector<Device>& devices() const { return devices_; }
  Trainer& trainer();

 private:
  Sequential& template_;
  std::vector<Device> devices_;
  int threads_;
  std::unique_ptr<Trainer> trainer_;
};

// Keras's multi_gpu_model(model, gpus): replicas on GPUs 0..gpus-1 of those CUDA_VISIBLE_DEVICES
// exposes (errors name what was asked and what exists).
ParallelModel multi_gpu_model(Sequential& model, int gpus);

}  // namespace dpt
