// L2 normalization on the CPU: unit_norm.h's rows, in parallel over rows.
#include "kernels/unit_norm.h"

namespace dpt::kernels {

template <typename T>
void unit_norm_forward_cpu(const T* x, T* y, const NormRows& n) {
  const int64_t rows = n.rows();
#pragma omp parallel for schedule(static) if (rows * n.cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = n.start(r);
    unit_norm_row(x + at, y + at, n.cols, n.col_stride, n.max_inv);
  }
}

template <typename T>
void unit_norm_backward_cpu(const T* x, const T* dy, T* dx, const NormRows& n) {
  const int64_t rows = n.rows();
#pragma omp parallel for schedule(static) if (rows * n.cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = n.start(r);
    unit_norm_grad_row(x + at, dy + at, dx + at, n.cols, n.col_stride, n.max_inv);
  }
}

template void unit_norm_forward_cpu<float>(const float*, float*, const NormRows&);
template void unit_norm_forward_cpu<double>(const double*, double*, const NormRows&);
template void unit_norm_backward_cpu<float>(const float*, const float*, float*, const NormRows&);
template void unit_norm_backward_cpu<double>(const double*, const double*, double*, const NormRows&);

}  // namespace dpt::kernels
