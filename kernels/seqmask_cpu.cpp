// Keras's sequence masks on the CPU (kernels/seqmask.h).
#include "kernels/seqmask.h"
#include "kernels/seqmask_math.h"

namespace dpt::kernels {

template <typename T>
void nonzero_mask_cpu(int64_t count, const T* x, T* mask) {
  for (int64_t i = 0; i < count; ++i) mask[i] = nonzero_flag(x[i]);
}

template <typename T>
void masking_forward_cpu(int64_t rows, int64_t cols, float value, const T* x, T* y, T* mask) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    mask[r] = any_differs(xr, cols, T(value));
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = kept_or_zero(mask[r], xr[c]);
  }
}

template <typename T>
void mask_rows_cpu(int64_t rows, int64_t cols, const T* mask, const T* x, T* y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = kept_or_zero(mask[r], x[r * cols + c]);
}

template <typename T>
void mask_carry_cpu(int64_t rows, int64_t units, const T* mask, const T* h_prev, T* h, const T* c_prev, T* c) {
  for (int64_t r = 0; r < rows; ++r) {
    if (kept(mask[r])) continue;
    for (int64_t u = r * units; u < (r + 1) * units; ++u) {
      h[u] = carried(mask[r], h[u], h_prev[u]);
      if (c) c[u] = carried(mask[r], c[u], c_prev[u]);
    }
  }
}

template <typename T>
void mask_split_cpu(int64_t rows, int64_t units, const T* mask, T* dh, T* dy, T* dc, T* carry_h, T* carry_c) {
  for (int64_t r = 0; r < rows; ++r) {
    if (kept(mask[r])) continue;
    for (int64_t u = r * units; u < (r + 1) * units; ++u) {
      carry_h[u] = dy ? dh[u] + dy[u] : dh[u];
      dh[u] = T(0);
      if (dy) dy[u] = T(0);
      if (dc) {
        carry_c[u] = dc[u];
        dc[u] = T(0);
      }
    }
  }
}

template <typename T>
void mask_join_cpu(int64_t rows, int64_t units, const T* mask, const T* carry_h, T* dh, const T* carry_c, T* dc) {
  for (int64_t r = 0; r < rows; ++r) {
    if (kept(mask[r])) continue;
    for (int64_t u = r * units; u < (r + 1) * units; ++u) {
      dh[u] = carry_h[u];
      if (dc) dc[u] = carry_c[u];
    }
  }
}

template <typename T>
void masked_mean_forward_cpu(int64_t n, int64_t steps, int64_t ch, const T* mask, const T* x, T* y) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < ch; ++c)
      y[r * ch + c] = masked_mean_value(x + r * steps * ch + c, ch, mask + r * steps, steps);
}

template <typename T>
void masked_mean_backward_cpu(int64_t n, int64_t steps, int64_t ch, const T* mask, const T* dy, T* dx) {
  for (int64_t r = 0; r < n; ++r) {
    const T count = mask_count(mask + r * steps, steps);
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t c = 0; c < ch; ++c)
        dx[(r * steps + t) * ch + c] = masked_mean_grad(dy[r * ch + c], mask[r * steps + t], count);
  }
}

#define DPT_SEQMASK_INSTANTIATE(T)                                                             \
  template void nonzero_mask_cpu<T>(int64_t, const T*, T*);                                    \
  template void masking_forward_cpu<T>(int64_t, int64_t, float, const T*, T*, T*);             \
  template void mask_rows_cpu<T>(int64_t, int64_t, const T*, const T*, T*);                    \
  template void mask_carry_cpu<T>(int64_t, int64_t, const T*, const T*, T*, const T*, T*);     \
  template void mask_split_cpu<T>(int64_t, int64_t, const T*, T*, T*, T*, T*, T*);             \
  template void mask_join_cpu<T>(int64_t, int64_t, const T*, const T*, T*, const T*, T*);      \
  template void masked_mean_forward_cpu<T>(int64_t, int64_t, int64_t, const T*, const T*, T*); \
  template void masked_mean_backward_cpu<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);
DPT_SEQMASK_INSTANTIATE(float)
DPT_SEQMASK_INSTANTIATE(double)
#undef DPT_SEQMASK_INSTANTIATE

}  // namespace dpt::kernels
