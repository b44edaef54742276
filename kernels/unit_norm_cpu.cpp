// UnitNormalization on the CPU: unit_norm.h's rows, in parallel over rows.
#include "kernels/unit_norm.h"

namespace dpt::kernels {

template <typename T>
void unit_norm_forward_cpu(const T* x, T* y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) unit_norm_row(x + r * cols, y + r * cols, cols);
}

template <typename T>
void unit_norm_backward_cpu(const T* x, const T* dy, T* dx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) unit_norm_grad_row(x + r * cols, dy + r * cols, dx + r * cols, cols);
}

template void unit_norm_forward_cpu<float>(const float*, float*, int64_t, int64_t);
template void unit_norm_forward_cpu<double>(const double*, double*, int64_t, int64_t);
template void unit_norm_backward_cpu<float>(const float*, const float*, float*, int64_t, int64_t);
template void unit_norm_backward_cpu<double>(const double*, const double*, double*, int64_t, int64_t);

}  // namespace dpt::kernels
