// Merge arithmetic on CUDA: one thread per element written, 64-bit indices.
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/merge.h"

namespace dpt::kernels {

__global__ void add_into_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t n) {
  DPT_GRID_STRIDE(i, n) y[i] += x[i];
}

__global__ void axpby_kernel(float* __restrict__ y, float s, const float* __restrict__ x, float t, int64_t n) {
  DPT_GRID_STRIDE(i, n) y[i] = s * y[i] + t * x[i];
}

__global__ void multiply_into_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t n) {
  DPT_GRID_STRIDE(i, n) y[i] *= x[i];
}

__global__ void copy_columns_kernel(const float* __restrict__ src, int64_t src_cols, int64_t src_off,
                                    float* __restrict__ dst, int64_t dst_cols, int64_t dst_off, int64_t rows,
                                    int64_t cols) {
  DPT_GRID_STRIDE(e, rows * cols) {
    const int64_t r = e / cols, c = e - r * cols;
    dst[r * dst_cols + dst_off + c] = src[r * src_cols + src_off + c];
  }
}

__global__ void broadcast_axpby_kernel(float* __restrict__ y, float s, const float* __restrict__ x, float t,
                                       BroadcastMap map, int64_t n) {
  DPT_GRID_STRIDE(i, n) y[i] = (s == 0.f ? 0.f : s * y[i]) + t * x[map.source(i)];
}

__global__ void broadcast_multiply_into_kernel(float* __restrict__ y, const float* __restrict__ x, BroadcastMap map,
                                               int64_t n) {
  DPT_GRID_STRIDE(i, n) y[i] *= x[map.source(i)];
}

// One thread per element of the small array, summing its share serially: deterministic, and the
// CPU's order. (Untuned: squeeze-and-excite's (N, 1, 1, C) gradient is N*C threads of H*W terms.)
__global__ void broadcast_sum_kernel(float* __restrict__ small, float s, const float* __restrict__ large,
                                     BroadcastMap map, int64_t m) {
  DPT_GRID_STRIDE(j, m) small[j] = float(double(s) * map.sum_onto(large, j));
}

void add_into_cuda(float* y, const float* x, int64_t n, void* stream) {
  if (n == 0) return;
  add_into_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, x, n);
  DPT_CUDA_LAUNCH_CHECK();
}

void axpby_cuda(float* y, float s, const float* x, float t, int64_t n, void* stream) {
  if (n == 0) return;
  axpby_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, s, x, t, n);
  DPT_CUDA_LAUNCH_CHECK();
}

void multiply_into_cuda(float* y, const float* x, int64_t n, void* stream) {
  if (n == 0) return;
  multiply_into_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, x, n);
  DPT_CUDA_LAUNCH_CHECK();
}

void copy_columns_cuda(const float* src, int64_t src_cols, int64_t src_off, float* dst, int64_t dst_cols,
                       int64_t dst_off, int64_t rows, int64_t cols, void* stream) {
  if (rows * cols == 0) return;
  copy_columns_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      src, src_cols, src_off, dst, dst_cols, dst_off, rows, cols);
  DPT_CUDA_LAUNCH_CHECK();
}

void broadcast_axpby_cuda(float* y, float s, const float* x, float t, const BroadcastMap& map, int64_t n,
                          void* stream) {
  if (n == 0) return;
  broadcast_axpby_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, s, x, t, map, n);
  DPT_CUDA_LAUNCH_CHECK();
}

void broadcast_multiply_into_cuda(float* y, const float* x, const BroadcastMap& map, int64_t n, void* stream) {
  if (n == 0) return;
  broadcast_multiply_into_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, x, map, n);
  DPT_CUDA_LAUNCH_CHECK();
}

void broadcast_sum_cuda(float* small, float s, const float* large, const BroadcastMap& map, int64_t m, void* stream) {
  if (m == 0) return;
  broadcast_sum_kernel<<<grid_blocks(m), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(small, s, large, map,
                                                                                                m);
  DPT_CUDA_LAUNCH_CHECK();
}

__global__ void extremum_forward_kernel(ExtremumInputs in, float* __restrict__ y, int64_t n) {
  DPT_GRID_STRIDE(i, n) y[i] = in.x[extremum_winner(in.x, in.count, in.is_max, i)][i];
}

__global__ void extremum_backward_kernel(ExtremumInputs in, const float* __restrict__ dy, int k, float* __restrict__ dx,
                                         int64_t n) {
  DPT_GRID_STRIDE(i, n) dx[i] = extremum_winner(in.x, in.count, in.is_max, i) == k ? dy[i] : 0.f;
}

void extremum_forward_cuda(const ExtremumInputs& in, float* y, int64_t n, void* stream) {
  if (n == 0) return;
  extremum_forward_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(in, y, n);
  DPT_CUDA_LAUNCH_CHECK();
}

void extremum_backward_cuda(const ExtremumInputs& in, const float* dy, int k, float* dx, int64_t n, void* stream) {
  if (n == 0) return;
  extremum_backward_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(in, dy, k, dx, n);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
