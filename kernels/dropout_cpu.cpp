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

void alpha_dropout_cpu(const float* x, float* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                       const BroadcastMap* noise, bool grad) {
  const AlphaDropoutForm f = alpha_dropout_form(rate);
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = alpha_dropout_value(x[r * cols + c], uniform_in_row(k, uint32_t(noise ? noise->source(c) : c)),
                                            rate, f, grad);
  }
}

void gaussian_noise_cpu(const float* x, float* y, int64_t rows, int64_t cols, float stddev, bool multiply,
                        const DropoutKey& key) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = gaussian_noise_value(x[r * cols + c], normal_in_row(k, uint32_t(c)), stddev, multiply);
  }
}

void random_flip_cpu(const Flip2d& g, const DropoutKey& key, const float* x, float* y) {
  const int64_t plane = g.h * g.w * g.c;
  for (int64_t s = 0; s < g.n; ++s) {
    const bool flip = flip_drawn(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + s));
    const float* xs = x + s * plane;
    float* ys = y + s * plane;
    for (int64_t i = 0; i < g.h; ++i)
      for (int64_t j = 0; j < g.w; ++j) {
        const int64_t from = flip_source(g, flip, i, j);
        std::copy(xs + from, xs + from + g.c, ys + (i * g.w + j) * g.c);
      }
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
void apply_masks_cpu(int64_t count, const T* in, const T* masks, int64_t period, int copies, T* out,
                     int64_t out_stride) {
#pragma omp parallel for schedule(static) if (count * copies >= 65536)
  for (int64_t b = 0; b < count; b += period) {
    const int64_t n = std::min(period, count - b);
    for (int64_t e = 0; e < n; ++e) {
      const T v = in[b + e];
      for (int g = 0; g < copies; ++g) out[g * out_stride + b + e] = v * masks[g * period + e];
    }
  }
}

template <typename T>
void masked_sum_cpu(int64_t count, const T* parts, const T* masks, int64_t period, int copies, T* out,
                    bool accumulate) {
#pragma omp parallel for schedule(static) if (count * copies >= 65536)
  for (int64_t b = 0; b < count; b += period) {
    const int64_t n = std::min(period, count - b);
    for (int64_t e = 0; e < n; ++e)
      out[b + e] = masked_sum_value(out[b + e], parts + b + e, count, masks + e, period, copies, accumulate);
  }
}

template void dropout_mask_cpu<float>(float*, int64_t, int64_t, float, const DropoutKey&);
template void dropout_mask_cpu<double>(double*, int64_t, int64_t, float, const DropoutKey&);
template void apply_masks_cpu<float>(int64_t, const float*, const float*, int64_t, int, float*, int64_t);
template void apply_masks_cpu<double>(int64_t, const double*, const double*, int64_t, int, double*, int64_t);
template void masked_sum_cpu<float>(int64_t, const float*, const float*, int64_t, int, float*, bool);
template void masked_sum_cpu<double>(int64_t, const double*, const double*, int64_t, int, double*, bool);
template void dropout_cpu<float>(const float*, float*, int64_t, int64_t, float, const DropoutKey&, const BroadcastMap*);
template void dropout_cpu<double>(const double*, double*, int64_t, int64_t, float, const DropoutKey&,
                                  const BroadcastMap*);

}  // namespace dpt::kernels
