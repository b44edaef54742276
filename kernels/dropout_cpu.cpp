// CPU dropout through the shared counter-based mask.
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

template void dropout_cpu<float>(const float*, float*, int64_t, int64_t, float, const DropoutKey&, const BroadcastMap*);
template void dropout_cpu<double>(const double*, double*, int64_t, int64_t, float, const DropoutKey&,
                                  const BroadcastMap*);

}  // namespace dpt::kernels
