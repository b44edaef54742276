// Keras's UnitNormalization over rows of `cols` values (the trailing axes it normalizes), as Keras's
// ops.normalize(order=2, epsilon=1e-12): y = x inv, inv = min(rsqrt(sum x^2), 1e12). The gradient,
// as autodiff takes it: inv (dy - y (y . dy)) where the rsqrt is below 1e12, else 1e12 dy (the
// minimum passes it to the constant). Sums in double in column order; on CUDA one thread a row
// through the same loop, so both devices give the same bits.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

constexpr double kUnitNormMaxInv = 1e12;

// The row's inv, and whether the rsqrt was clipped to 1e12.
template <typename T>
DPT_HD double unit_norm_inv(const T* x, int64_t cols, bool* clipped) {
  double s = 0;
  for (int64_t c = 0; c < cols; ++c) s += double(x[c]) * double(x[c]);
  const double r = s > 0 ? 1.0 / sqrt(s) : kUnitNormMaxInv * 2;
  *clipped = !(r < kUnitNormMaxInv);
  return *clipped ? kUnitNormMaxInv : r;
}

template <typename T>
DPT_HD void unit_norm_row(const T* x, T* y, int64_t cols) {
  bool clipped = false;
  const T inv = T(unit_norm_inv(x, cols, &clipped));
  for (int64_t c = 0; c < cols; ++c) y[c] = x[c] * inv;
}

template <typename T>
DPT_HD void unit_norm_grad_row(const T* x, const T* dy, T* dx, int64_t cols) {
  bool clipped = false;
  const double inv = unit_norm_inv(x, cols, &clipped);
  if (clipped) {
    for (int64_t c = 0; c < cols; ++c) dx[c] = T(inv) * dy[c];
    return;
  }
  double dot = 0;
  for (int64_t c = 0; c < cols; ++c) dot += double(x[c]) * inv * double(dy[c]);
  for (int64_t c = 0; c < cols; ++c) dx[c] = T(inv * (double(dy[c]) - double(x[c]) * inv * dot));
}

template <typename T>
void unit_norm_forward_cpu(const T* x, T* y, int64_t rows, int64_t cols);
template <typename T>
void unit_norm_backward_cpu(const T* x, const T* dy, T* dx, int64_t rows, int64_t cols);
void unit_norm_forward_cuda(const float* x, float* y, int64_t rows, int64_t cols, void* stream);
void unit_norm_backward_cuda(const float* x, const float* dy, float* dx, int64_t rows, int64_t cols, void* stream);

}  // namespace dpt::kernels
