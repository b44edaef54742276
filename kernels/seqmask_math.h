// Keras's sequence masks, one element at a time, the same on every device (kernels/seqmask.h).
#pragma once
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

// A mask value is 1 (the step is read) or 0 (skipped); anything but 0 counts as 1.
template <typename T>
DPT_HD bool kept(T m) {
  return m != T(0);
}

// Embedding(mask_zero=True)'s mask value for an index.
template <typename T>
DPT_HD T nonzero_flag(T index) {
  return index != T(0) ? T(1) : T(0);
}

// Masking's mask value for a step of cols features: 1 where any differs from value.
template <typename T>
DPT_HD T any_differs(const T* x, int64_t cols, T value) {
  for (int64_t c = 0; c < cols; ++c)
    if (x[c] != value) return T(1);
  return T(0);
}

// The value, or 0 where the mask skips it (Keras's ops.where(mask, x, 0)).
template <typename T>
DPT_HD T kept_or_zero(T m, T x) {
  return kept(m) ? x : T(0);
}

// A recurrent step's state: the fresh one where the step is read, the previous one where it is
// skipped (Keras's ops.where(is_masked, old, new)).
template <typename T>
DPT_HD T carried(T m, T fresh, T prev) {
  return kept(m) ? fresh : prev;
}

// GlobalAveragePooling1D under a mask, as Keras computes it: the sum over steps of x * mask over
// the sum of the mask (0/0, NaN, where every step of the sample is skipped), x's steps `stride`
// apart, summed in step order.
template <typename T>
DPT_HD T masked_mean_value(const T* x, int64_t stride, const T* mask, int64_t steps) {
  T sum = T(0), count = T(0);
  for (int64_t t = 0; t < steps; ++t) {
    sum = sum + x[t * stride] * mask[t];
    count = count + mask[t];
  }
  return sum / count;
}

template <typename T>
DPT_HD T mask_count(const T* mask, int64_t steps) {
  T count = T(0);
  for (int64_t t = 0; t < steps; ++t) count = count + mask[t];
  return count;
}

// Its gradient at a step of mask value m, count the sample's mask_count.
template <typename T>
DPT_HD T masked_mean_grad(T dy, T m, T count) {
  return dy * m / count;
}

}  // namespace dpt::kernels
