// CUDA ops against the CPU reference on fresh random inputs (never zeros), float32 tolerance
// abs + rel*|ref|. Without a GPU each test says it was skipped and why.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>
#include "kernels/activation.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_devices.h"
#include "kernels/optimizer.h"

using namespace dpt::kernels;

namespace {

bool have_gpu() {
  std::string why;
  if (!cuda_devices(&why).empty()) return true;
  WARN("SKIPPED (no GPU): " << why);
  return false;
}

std::vector<float> rnd(size_t n, unsigned seed, float lo = -2.f, float hi = 2.f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(g);
  return v;
}

struct DevBuf {
  float* p = nullptr;
  explicit DevBuf(const std::vector<float>& h) {
    DPT_CUDA_CHECK(cudaMalloc(&p, h.size() * sizeof(float)));
    DPT_CUDA_CHECK(cudaMemcpy(p, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  ~DevBuf() { cudaFree(p); }
  std::vector<float> get(size_t n) const {
    std::vector<float> h(n);
    DPT_CUDA_CHECK(cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
  }
};

void expect_close(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol) {
  for (size_t i = 0; i < ref.size(); ++i) {
    INFO("element " << i << ": gpu " << got[i] << " cpu " << ref[i]);
    REQUIRE(std::abs(double(got[i]) - ref[i]) <= atol + rtol * std::abs(double(ref[i])));
  }
}

}  // namespace

TEST_CASE("CUDA activations match the CPU reference", "[gpu][activation]") {
  if (!have_gpu()) return;
  const int64_t rows = 37, cols = 129;
  for (Activation a : {Activation::relu, Activation::sigmoid, Activation::tanh, Activation::softmax, Activation::linear}) {
    const auto x = rnd(rows * cols, 1 + int(a)), dy = rnd(rows * cols, 50 + int(a));
    std::vector<float> y(x.size()), dx(x.size());
    activation_forward_cpu(a, x.data(), y.data(), rows, cols);
    activation_backward_cpu(a, y.data(), dy.data(), dx.data(), rows, cols);
    DevBuf dx_in(x), dy_out(std::vector<float>(x.size(), -7.f)), ddy(dy), ddx(std::vector<float>(x.size(), -7.f));
    activation_forward_cuda(a, dx_in.p, dy_out.p, rows, cols, nullptr);
    DevBuf dyv(y);
    activation_backward_cuda(a, dyv.p, ddy.p, ddx.p, rows, cols, nullptr);
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    INFO("activation " << int(a));
    expect_close(dy_out.get(x.size()), y, 1e-6, 1e-5);
    expect_close(ddx.get(x.size()), dx, 1e-6, 1e-5);
  }
}

TEST_CASE("CUDA optimizer updates match the CPU loops", "[gpu][optimizer]") {
  if (!have_gpu()) return;
  const int64_t n = 100003;
  const auto w0 = rnd(n, 3), g = rnd(n, 4);
  {
    std::vector<float> w = w0, v(n, 0.f);
    DevBuf dw(w0), dg(g), dv(v);
    for (int s = 0; s < 3; ++s) {
      sgd_update_cpu<float>(w.data(), g.data(), v.data(), n, 0.01f, 0.9f, true);
      sgd_update_cuda(dw.p, dg.p, dv.p, n, 0.01f, 0.9f, true, nullptr);
    }
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    expect_close(dw.get(n), w, 1e-6, 1e-5);
  }
  {
    std::vector<float> w = w0, ms(n, 0.f), mom(n, 0.f), mg(n, 0.f);
    DevBuf dw(w0), dg(g), dms(ms), dmom(mom), dmg(mg);
    for (int s = 0; s < 3; ++s) {
      rmsprop_update_cpu<float>(w.data(), g.data(), ms.data(), mom.data(), mg.data(), n, 1e-3f, 0.9f, 0.9f, 1e-7f, true);
      rmsprop_update_cuda(dw.p, dg.p, dms.p, dmom.p, dmg.p, n, 1e-3f, 0.9f, 0.9f, 1e-7f, true, nullptr);
    }
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    expect_close(dw.get(n), w, 1e-6, 1e-5);
  }
  {
    std::vector<float> w = w0, m(n, 0.f), v(n, 0.f), vh(n, 0.f);
    DevBuf dw(w0), dg(g), dm(m), dv(v), dvh(vh);
    for (int s = 1; s <= 3; ++s) {
      const float alpha = float(adam_alpha(1e-3, 0.9, 0.999, s));
      adam_update_cpu<float>(w.data(), g.data(), m.data(), v.data(), vh.data(), n, alpha, 0.9f, 0.999f, 1e-7f, true);
      adam_update_cuda(dw.p, dg.p, dm.p, dv.p, dvh.p, n, alpha, 0.9f, 0.999f, 1e-7f, true, nullptr);
    }
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    expect_close(dw.get(n), w, 1e-6, 1e-5);
  }
}
