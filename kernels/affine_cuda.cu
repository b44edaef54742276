// Rescaling and Normalization on CUDA: one thread per element, the CPU's formulas.
#include "kernels/affine.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"

namespace dpt::kernels {

__global__ void affine_forward_kernel(AffineForm f, const float* __restrict__ x, float* __restrict__ y, int64_t rows,
                                      int64_t cols, const float* __restrict__ a, int64_t a_step,
                                      const float* __restrict__ b, int64_t b_step) {
  DPT_GRID_STRIDE(i, rows * cols) {
    const int64_t c = i % cols;
    y[i] = affine_fwd(f, x[i], a[c * a_step], b[c * b_step]);
  }
}

__global__ void affine_backward_kernel(AffineForm f, const float* __restrict__ dy, float* __restrict__ dx, int64_t rows,
                                       int64_t cols, const float* __restrict__ a, int64_t a_step) {
  DPT_GRID_STRIDE(i, rows * cols) dx[i] = affine_bwd(f, dy[i], a[(i % cols) * a_step]);
}

void affine_forward_cuda(AffineForm f, const float* x, float* y, int64_t rows, int64_t cols, const float* a,
                         int64_t a_step, const float* b, int64_t b_step, void* stream) {
  if (rows * cols == 0) return;
  affine_forward_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      f, x, y, rows, cols, a, a_step, b, b_step);
  DPT_CUDA_LAUNCH_CHECK();
}

void affine_backward_cuda(AffineForm f, const float* dy, float* dx, int64_t rows, int64_t cols, const float* a,
                          int64_t a_step, void* stream) {
  if (rows * cols == 0) return;
  affine_backward_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      f, dy, dx, rows, cols, a, a_step);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
