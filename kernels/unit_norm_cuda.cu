// L2 normalization on CUDA: one thread a row through unit_norm.h's loops (the CPU's bits).
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/unit_norm.h"

namespace dpt::kernels {

__global__ void unit_norm_forward_kernel(const float* __restrict__ x, float* __restrict__ y, NormRows n) {
  DPT_GRID_STRIDE(r, n.rows()) {
    const int64_t at = n.start(r);
    unit_norm_row(x + at, y + at, n.cols, n.col_stride, n.max_inv);
  }
}

__global__ void unit_norm_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                          float* __restrict__ dx, NormRows n) {
  DPT_GRID_STRIDE(r, n.rows()) {
    const int64_t at = n.start(r);
    unit_norm_grad_row(x + at, dy + at, dx + at, n.cols, n.col_stride, n.max_inv);
  }
}

void unit_norm_forward_cuda(const float* x, float* y, const NormRows& n, void* stream) {
  if (n.rows() * n.cols == 0) return;
  unit_norm_forward_kernel<<<grid_blocks(n.rows()), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n);
  DPT_CUDA_LAUNCH_CHECK();
}

void unit_norm_backward_cuda(const float* x, const float* dy, float* dx, const NormRows& n, void* stream) {
  if (n.rows() * n.cols == 0) return;
  unit_norm_backward_kernel<<<grid_blocks(n.rows()), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, dy, dx,
                                                                                                            n);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
