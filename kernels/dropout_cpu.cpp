// CPU dropout through the shared counter-based mask.
#include "kernels/dropout.h"

namespace dpt::kernels {

template <typename T>
void dropout_cpu(const T* x, T* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t base = uint64_t(key.row_offset + r) * uint64_t(cols);
    for (int64_t c = 0; c < cols; ++c) {
      const float u = uniform_at(key.seed, uint64_t(key.epoch), uint64_t(key.step), base + uint64_t(c));
      y[r * cols + c] = dropout_value(x[r * cols + c], u, rate);
    }
  }
}

template void dropout_cpu<float>(const float*, float*, int64_t, int64_t, float, const DropoutKey&);
template void dropout_cpu<double>(const double*, double*, int64_t, int64_t, float, const DropoutKey&);

}  // namespace dpt::kernels
