// CPU elementwise helpers.
#include "kernels/elementwise.h"
#include <algorithm>
#include <cmath>

namespace dpt::kernels {

template <typename T>
void bias_add_cpu(T* y, const T* bias, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    T* yr = y + r * cols;
    for (int64_t c = 0; c < cols; ++c) yr[c] += bias[c];
  }
}

template <typename T>
void bias_fill_cpu(T* y, const T* bias, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) std::copy(bias, bias + cols, y + r * cols);
}

template <typename T>
void bias_grad_cpu(const T* dy, T* db, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* dyr = dy + r * cols;
    for (int64_t c = 0; c < cols; ++c) db[c] += dyr[c];
  }
}

template void bias_add_cpu<float>(float*, const float*, int64_t, int64_t);
template void bias_add_cpu<double>(double*, const double*, int64_t, int64_t);
template void bias_fill_cpu<float>(float*, const float*, int64_t, int64_t);
template void bias_fill_cpu<double>(double*, const double*, int64_t, int64_t);
template void bias_grad_cpu<float>(const float*, float*, int64_t, int64_t);
template void bias_grad_cpu<double>(const double*, double*, int64_t, int64_t);

}  // namespace dpt::kernels
