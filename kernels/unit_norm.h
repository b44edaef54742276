// L2 normalization of rows of values, as Keras's ops.normalize(order=2, epsilon): y = x inv,
// inv = min(rsqrt(sum x^2), 1 / epsilon). UnitNormalization's epsilon is 1e-12 (rows of its trailing
// axes); Dot(normalize=True)'s is Keras's backend epsilon, 1e-7 (rows along its dot axis, which may
// be strided). The gradient, as autodiff takes it: inv (dy - y (y . dy)) where the rsqrt is below
// the cap, else cap dy (the minimum passes it to the constant). Sums in double in column order; on
// CUDA one thread a row through the same loop, so both devices give the same bits.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

constexpr double kUnitNormMaxInv = 1e12;  // UnitNormalization's 1 / 1e-12
constexpr double kDotNormMaxInv = 1e7;    // Dot's 1 / backend.epsilon()

// The rows: row r = (o, i), o < outer and i < inner, starts at o outer_stride + i inner_stride;
// its cols values lie col_stride apart.
struct NormRows {
  int64_t outer = 0, outer_stride = 0, inner = 1, inner_stride = 0, cols = 0, col_stride = 1;
  double max_inv = kUnitNormMaxInv;
  DPT_HD int64_t rows() const { return outer * inner; }
  DPT_HD int64_t start(int64_t r) const { return (r / inner) * outer_stride + (r % inner) * inner_stride; }
  // rows of cols contiguous values, one after another
  static NormRows contiguous(int64_t rows, int64_t cols, double max_inv = kUnitNormMaxInv) {
    NormRows n;
    n.outer = rows;
    n.outer_stride = cols;
    n.cols = cols;
    n.max_inv = max_inv;
    return n;
  }
};

// The row's inv, and whether the rsqrt was clipped to the cap.
template <typename T>
DPT_HD double unit_norm_inv(const T* x, int64_t cols, int64_t stride, double max_inv, bool* clipped) {
  double s = 0;
  for (int64_t c = 0; c < cols; ++c) s += double(x[c * stride]) * double(x[c * stride]);
  const double r = s > 0 ? 1.0 / sqrt(s) : max_inv * 2;
  *clipped = !(r < max_inv);
  return *clipped ? max_inv : r;
}

template <typename T>
DPT_HD void unit_norm_row(const T* x, T* y, int64_t cols, int64_t stride, double max_inv) {
  bool clipped = false;
  const T inv = T(unit_norm_inv(x, cols, stride, max_inv, &clipped));
  for (int64_t c = 0; c < cols; ++c) y[c * stride] = x[c * stride] * inv;
}

template <typename T>
DPT_HD void unit_norm_grad_row(const T* x, const T* dy, T* dx, int64_t cols, int64_t stride, double max_inv) {
  bool clipped = false;
  const double inv = unit_norm_inv(x, cols, stride, max_inv, &clipped);
  if (clipped) {
    for (int64_t c = 0; c < cols; ++c) dx[c * stride] = T(inv) * dy[c * stride];
    return;
  }
  double dot = 0;
  for (int64_t c = 0; c < cols; ++c) dot += double(x[c * stride]) * inv * double(dy[c * stride]);
  for (int64_t c = 0; c < cols; ++c)
    dx[c * stride] = T(inv * (double(dy[c * stride]) - double(x[c * stride]) * inv * dot));
}

// y and dx share x's layout (the rows' starts and strides).
template <typename T>
void unit_norm_forward_cpu(const T* x, T* y, const NormRows& rows);
template <typename T>
void unit_norm_backward_cpu(const T* x, const T* dy, T* dx, const NormRows& rows);
void unit_norm_forward_cuda(const float* x, float* y, const NormRows& rows, void* stream);
void unit_norm_backward_cuda(const float* x, const float* dy, float* dx, const NormRows& rows, void* stream);

}  // namespace dpt::kernels
