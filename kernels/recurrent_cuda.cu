// Recurrent layers' pieces on CUDA (kernels/recurrent.h): one thread per element moved, one per
// (sample, unit) of a step's cell, each calling recurrent_math.h's formulas as the CPU does.
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/recurrent.h"

namespace dpt::kernels {

__global__ void to_time_major_kernel(int64_t n, int64_t steps, int64_t feat, bool reverse,
                                     const float* __restrict__ src, float* __restrict__ dst) {
  DPT_GRID_STRIDE(e, n * steps * feat) {  // e indexes dst (steps, n, feat)
    const int64_t k = e % feat, row = e / feat, s = row % n, t = row / n;
    dst[e] = src[(s * steps + (reverse ? steps - 1 - t : t)) * feat + k];
  }
}

__global__ void to_sequence_major_kernel(int64_t n, int64_t steps, int64_t feat, bool reverse,
                                         const float* __restrict__ src, float* __restrict__ dst) {
  DPT_GRID_STRIDE(e, n * steps * feat) {  // e indexes dst (n, steps, feat)
    const int64_t k = e % feat, row = e / feat, t = row % steps, s = row / steps;
    dst[e] = src[((reverse ? steps - 1 - t : t) * n + s) * feat + k];
  }
}

__global__ void lstm_step_forward_kernel(int64_t rows, int64_t U, float* __restrict__ z,
                                         const float* __restrict__ c_prev, float* __restrict__ c,
                                         float* __restrict__ h) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    float* zr = z + r * 4 * U;
    lstm_cell(zr + u, zr + U + u, zr + 2 * U + u, zr + 3 * U + u, c_prev[e], c + e, h + e);
  }
}

__global__ void lstm_step_backward_kernel(int64_t rows, int64_t U, const float* __restrict__ gates,
                                          const float* __restrict__ c_prev, const float* __restrict__ c,
                                          const float* __restrict__ dh, const float* __restrict__ dy,
                                          float* __restrict__ dc, float* __restrict__ dz) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    const float* a = gates + r * 4 * U;
    float* d = dz + r * 4 * U;
    lstm_cell_grad(a[u], a[U + u], a[2 * U + u], a[3 * U + u], c_prev[e], c[e], dy ? dh[e] + dy[e] : dh[e], dc + e,
                   d + u, d + U + u, d + 2 * U + u, d + 3 * U + u);
  }
}

void to_time_major_cuda(int64_t n, int64_t steps, int64_t feat, bool reverse, const float* src, float* dst,
                        void* stream) {
  const int64_t total = n * steps * feat;
  if (total == 0) return;
  to_time_major_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, steps, feat,
                                                                                                    reverse, src, dst);
  DPT_CUDA_LAUNCH_CHECK();
}

void to_sequence_major_cuda(int64_t n, int64_t steps, int64_t feat, bool reverse, const float* src, float* dst,
                            void* stream) {
  const int64_t total = n * steps * feat;
  if (total == 0) return;
  to_sequence_major_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      n, steps, feat, reverse, src, dst);
  DPT_CUDA_LAUNCH_CHECK();
}

void lstm_step_forward_cuda(int64_t rows, int64_t units, float* z, const float* c_prev, float* c, float* h,
                            void* stream) {
  if (rows * units == 0) return;
  lstm_step_forward_kernel<<<grid_blocks(rows * units), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      rows, units, z, c_prev, c, h);
  DPT_CUDA_LAUNCH_CHECK();
}

void lstm_step_backward_cuda(int64_t rows, int64_t units, const float* gates, const float* c_prev, const float* c,
                             const float* dh, const float* dy, float* dc, float* dz, void* stream) {
  if (rows * units == 0) return;
  lstm_step_backward_kernel<<<grid_blocks(rows * units), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      rows, units, gates, c_prev, c, dh, dy, dc, dz);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
