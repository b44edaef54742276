// CPU dropout through the shared counter-based mask.
#include <algorithm>
#include "kernels/dropout.h"

namespace dpt::kernels {

template <typename T>
void dropout_cpu(const T* x, T* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                 const BroadcastMap* noise) {
  const T scale = T(1.0 / (1.0 - double(rate)));
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    const T* __restrict xr = x + r * cols;
    T* __restrict yr = y + r * cols;
    const int32_t n = int32_t(cols);
    if (noise)
      for (int32_t c = 0; c < n; ++c)
        yr[c] = dropout_value(xr[c], uniform_in_row(k, uint32_t(noise->source(c))), rate, scale);
    else
      for (int32_t c = 0; c < n; ++c) yr[c] = dropout_value(xr[c], uniform_in_row(k, uint32_t(c)), rate, scale);
  }
}

template <typename T>
void dropout_mask_cpu(T* mask, int64_t rows, int64_t cols, float rate, const DropoutKey& key) {
  const T scale = T(1.0 / (1.0 - double(rate)));
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    T* mr = mask + r * cols;
    const int32_t n = int32_t(cols);
    for (int32_t c = 0; c < n; ++c) mr[c] = dropout_value(T(1), uniform_in_row(k, uint32_t(c)), rate, scale);
  }
}

template <typename T>
void apply_mask_cpu(int64_t count, const T* in, const T* mask, int64_t period, T* out, bool accumulate) {
#pragma omp parallel for schedule(static) if (count >= 65536)
  for (int64_t b = 0; b < count; b += period) {
    const T* ib = in + b;
    T* ob = out + b;
    const int64_t n = std::min(period, count - b);
#pragma omp simd
    for (int64_t e = 0; e < n; ++e) ob[e] = masked_value(ob[e], ib[e], mask[e], accumulate);
  }
}

template void dropout_mask_cpu<float>(float*, int64_t, int64_t, float, const DropoutKey&);
template void dropout_mask_cpu<double>(double*, int64_t, int64_t, float, const DropoutKey&);
template void apply_mask_cpu<float>(int64_t, const float*, const float*, int64_t, float*, bool);
template void apply_mask_cpu<double>(int64_t, const double*, const double*, int64_t, double*, bool);
template void dropout_cpu<float>(const float*, float*, int64_t, int64_t, float, const DropoutKey&, const BroadcastMap*);
template void dropout_cpu<double>(const double*, double*, int64_t, int64_t, float, const DropoutKey&,
                                  const BroadcastMap*);

}  // namespace dpt::kernels
