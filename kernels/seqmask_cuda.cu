// Keras's sequence masks on CUDA (kernels/seqmask.h): the formulas of seqmask_math.h, one thread
// per element (per row for Masking's test, per (sample, channel) for the mean).
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/seqmask.h"
#include "kernels/seqmask_math.h"

namespace dpt::kernels {

__global__ void nonzero_mask_kernel(int64_t count, const float* x, float* mask) {
  DPT_GRID_STRIDE(i, count) mask[i] = nonzero_flag(x[i]);
}

__global__ void masking_test_kernel(int64_t rows, int64_t cols, float value, const float* x, float* mask) {
  DPT_GRID_STRIDE(r, rows) mask[r] = any_differs(x + r * cols, cols, value);
}

__global__ void mask_rows_kernel(int64_t rows, int64_t cols, const float* mask, const float* x, float* y) {
  DPT_GRID_STRIDE(i, rows * cols) y[i] = kept_or_zero(mask[i / cols], x[i]);
}

__global__ void mask_carry_kernel(int64_t rows, int64_t units, const float* mask, const float* h_prev, float* h,
                                  const float* c_prev, float* c) {
  DPT_GRID_STRIDE(i, rows * units) {
    const float m = mask[i / units];
    if (kept(m)) continue;
    h[i] = carried(m, h[i], h_prev[i]);
    if (c) c[i] = carried(m, c[i], c_prev[i]);
  }
}

__global__ void mask_split_kernel(int64_t rows, int64_t units, const float* mask, float* dh, float* dy, float* dc,
                                  float* carry_h, float* carry_c) {
  DPT_GRID_STRIDE(i, rows * units) {
    if (kept(mask[i / units])) continue;
    carry_h[i] = dy ? dh[i] + dy[i] : dh[i];
    dh[i] = 0.f;
    if (dy) dy[i] = 0.f;
    if (dc) {
      carry_c[i] = dc[i];
      dc[i] = 0.f;
    }
  }
}

__global__ void mask_join_kernel(int64_t rows, int64_t units, const float* mask, const float* carry_h, float* dh,
                                 const float* carry_c, float* dc) {
  DPT_GRID_STRIDE(i, rows * units) {
    if (kept(mask[i / units])) continue;
    dh[i] = carry_h[i];
    if (dc) dc[i] = carry_c[i];
  }
}

__global__ void masked_mean_forward_kernel(int64_t n, int64_t steps, int64_t ch, const float* mask, const float* x,
                                           float* y) {
  DPT_GRID_STRIDE(i, n * ch) {
    const int64_t r = i / ch, c = i % ch;
    y[i] = masked_mean_value(x + r * steps * ch + c, ch, mask + r * steps, steps);
  }
}

__global__ void masked_mean_backward_kernel(int64_t n, int64_t steps, int64_t ch, const float* mask, const float* dy,
                                            float* dx) {
  DPT_GRID_STRIDE(i, n * steps * ch) {
    const int64_t c = i % ch, rt = i / ch, r = rt / steps;
    dx[i] = masked_mean_grad(dy[r * ch + c], mask[rt], mask_count(mask + r * steps, steps));
  }
}

namespace {
cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }
}  // namespace

void nonzero_mask_cuda(int64_t count, const float* x, float* mask, void* stream) {
  if (count == 0) return;
  nonzero_mask_kernel<<<grid_blocks(count), kBlockThreads, 0, as_stream(stream)>>>(count, x, mask);
  DPT_CUDA_LAUNCH_CHECK();
}

void masking_forward_cuda(int64_t rows, int64_t cols, float value, const float* x, float* y, float* mask,
                          void* stream) {
  if (rows * cols == 0) return;
  masking_test_kernel<<<grid_blocks(rows), kBlockThreads, 0, as_stream(stream)>>>(rows, cols, value, x, mask);
  DPT_CUDA_LAUNCH_CHECK();
  mask_rows_cuda(rows, cols, mask, x, y, stream);
}

void mask_rows_cuda(int64_t rows, int64_t cols, const float* mask, const float* x, float* y, void* stream) {
  if (rows * cols == 0) return;
  mask_rows_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, as_stream(stream)>>>(rows, cols, mask, x, y);
  DPT_CUDA_LAUNCH_CHECK();
}

void mask_carry_cuda(int64_t rows, int64_t units, const float* mask, const float* h_prev, float* h, const float* c_prev,
                     float* c, void* stream) {
  if (rows * units == 0) return;
  mask_carry_kernel<<<grid_blocks(rows * units), kBlockThreads, 0, as_stream(stream)>>>(rows, units, mask, h_prev, h,
                                                                                        c_prev, c);
  DPT_CUDA_LAUNCH_CHECK();
}

void mask_split_cuda(int64_t rows, int64_t units, const float* mask, float* dh, float* dy, float* dc, float* carry_h,
                     float* carry_c, void* stream) {
  if (rows * units == 0) return;
  mask_split_kernel<<<grid_blocks(rows * units), kBlockThreads, 0, as_stream(stream)>>>(rows, units, mask, dh, dy, dc,
                                                                                        carry_h, carry_c);
  DPT_CUDA_LAUNCH_CHECK();
}

void mask_join_cuda(int64_t rows, int64_t units, const float* mask, const float* carry_h, float* dh,
                    const float* carry_c, float* dc, void* stream) {
  if (rows * units == 0) return;
  mask_join_kernel<<<grid_blocks(rows * units), kBlockThreads, 0, as_stream(stream)>>>(rows, units, mask, carry_h, dh,
                                                                                       carry_c, dc);
  DPT_CUDA_LAUNCH_CHECK();
}

void masked_mean_forward_cuda(int64_t n, int64_t steps, int64_t ch, const float* mask, const float* x, float* y,
                              void* stream) {
  if (n * ch == 0) return;
  masked_mean_forward_kernel<<<grid_blocks(n * ch), kBlockThreads, 0, as_stream(stream)>>>(n, steps, ch, mask, x, y);
  DPT_CUDA_LAUNCH_CHECK();
}

void masked_mean_backward_cuda(int64_t n, int64_t steps, int64_t ch, const float* mask, const float* dy, float* dx,
                               void* stream) {
  if (n * steps * ch == 0) return;
  masked_mean_backward_kernel<<<grid_blocks(n * steps * ch), kBlockThreads, 0, as_stream(stream)>>>(n, steps, ch, mask,
                                                                                                    dy, dx);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
