// PReLU on CUDA: one thread per element through prelu.h's formulas, 64-bit indices.
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/prelu.h"

namespace dpt::kernels {

__global__ void prelu_forward_kernel(const float* __restrict__ x, const float* __restrict__ alpha, BroadcastMap map,
                                     int64_t per, int64_t n, float* __restrict__ y) {
  DPT_GRID_STRIDE(i, n) y[i] = prelu_value(x[i], alpha[map.source(i % per)]);
}

__global__ void prelu_backward_kernel(const float* __restrict__ x, const float* __restrict__ alpha, BroadcastMap map,
                                      int64_t per, int64_t n, float* dy, float* dx) {
  DPT_GRID_STRIDE(i, n) prelu_grad(x[i], alpha[map.source(i % per)], dy + i, dx ? dx + i : nullptr);
}

void prelu_forward_cuda(const float* x, const float* alpha, const BroadcastMap& map, int64_t per, int64_t n, float* y,
                        void* stream) {
  if (n == 0) return;
  prelu_forward_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, alpha, map, per, n,
                                                                                                y);
  DPT_CUDA_LAUNCH_CHECK();
}

void prelu_backward_cuda(const float* x, const float* alpha, const BroadcastMap& map, int64_t per, int64_t n, float* dy,
                         float* dx, void* stream) {
  if (n == 0) return;
  prelu_backward_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, alpha, map, per, n,
                                                                                                 dy, dx);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
