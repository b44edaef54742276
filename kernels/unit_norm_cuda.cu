// UnitNormalization on CUDA: one thread a row through unit_norm.h's loops (the CPU's bits).
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/unit_norm.h"

namespace dpt::kernels {

__global__ void unit_norm_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows,
                                         int64_t cols) {
  DPT_GRID_STRIDE(r, rows) unit_norm_row(x + r * cols, y + r * cols, cols);
}

__global__ void unit_norm_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                          float* __restrict__ dx, int64_t rows, int64_t cols) {
  DPT_GRID_STRIDE(r, rows) unit_norm_grad_row(x + r * cols, dy + r * cols, dx + r * cols, cols);
}

void unit_norm_forward_cuda(const float* x, float* y, int64_t rows, int64_t cols, void* stream) {
  if (rows * cols == 0) return;
  unit_norm_forward_kernel<<<grid_blocks(rows), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, rows,
                                                                                                       cols);
  DPT_CUDA_LAUNCH_CHECK();
}

void unit_norm_backward_cuda(const float* x, const float* dy, float* dx, int64_t rows, int64_t cols, void* stream) {
  if (rows * cols == 0) return;
  unit_norm_backward_kernel<<<grid_blocks(rows), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, dy, dx, rows,
                                                                                                        cols);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
