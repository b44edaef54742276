// CUDA optimizer updates over the flat arenas: one thread per element, the formulas of
// optimizer_math.h (the same ones the CPU loop calls).
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/optimizer.h"

namespace dpt::kernels {

__global__ void sgd_update_kernel(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                                  bool nesterov) {
  DPT_GRID_STRIDE(i, n) {
    float dummy = 0.f;
    sgd_step(w[i], g[i], v ? v[i] : dummy, lr, momentum, nesterov);
  }
}

__global__ void rmsprop_update_kernel(float* w, const float* g, float* ms, float* mom, float* mg, int64_t n, float lr,
                                      float rho, float momentum, float eps, bool centered) {
  DPT_GRID_STRIDE(i, n) {
    float d1 = 0.f, d2 = 0.f;
    rmsprop_step(w[i], g[i], ms[i], mom ? mom[i] : d1, mg ? mg[i] : d2, lr, rho, momentum, eps, centered);
  }
}

__global__ void adam_update_kernel(float* w, const float* g, float* m, float* v, float* vhat, int64_t n, float alpha,
                                   float b1, float b2, float eps, bool amsgrad) {
  DPT_GRID_STRIDE(i, n) {
    float d = 0.f;
    adam_step(w[i], g[i], m[i], v[i], vhat ? vhat[i] : d, alpha, b1, b2, eps, amsgrad);
  }
}

void sgd_update_cuda(float* w, const float* g, float* v, int64_t n, float lr, float momentum, bool nesterov,
                     void* stream) {
  if (n == 0) return;
  sgd_update_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(w, g, v, n, lr, momentum,
                                                                                             nesterov);
  DPT_CUDA_LAUNCH_CHECK();
}

void rmsprop_update_cuda(float* w, const float* g, float* ms, float* mom, float* mg, int64_t n, float lr, float rho,
                         float momentum, float eps, bool centered, void* stream) {
  if (n == 0) return;
  rmsprop_update_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      w, g, ms, mom, mg, n, lr, rho, momentum, eps, centered);
  DPT_CUDA_LAUNCH_CHECK();
}

void adam_update_cuda(float* w, const float* g, float* m, float* v, float* vhat, int64_t n, float alpha, float b1,
                      float b2, float eps, bool amsgrad, void* stream) {
  if (n == 0) return;
  adam_update_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      w, g, m, v, vhat, n, alpha, b1, b2, eps, amsgrad);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
