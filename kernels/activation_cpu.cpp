// CPU activations: pointwise through activation_math.h; softmax row by row (max-subtracted; in float
// through exp_math.h's poly_expf, which vectorises).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include "kernels/activation.h"
#include "kernels/cpu_loops.h"
#include "kernels/exp_math.h"

namespace dpt::kernels {


template <typename T>
void activation_forward_cpu(Activation a, const T* x, T* y, int64_t rows, int64_t cols) {
  if (a == Activation::softmax) {
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * cols;
      T* yr = y + r * cols;
      T m = xr[0];  // the max in lanes: exact, so the same value in any order
#pragma omp simd reduction(max : m)
      for (int64_t c = 1; c < cols; ++c) m = xr[c] > m ? xr[c] : m;
      T s = 0;
      if constexpr (std::is_same_v<T, float>) {  // vector code: poly_expf, the sum in lanes
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < cols; ++c) {
          yr[c] = poly_expf(xr[c] - m);
          s += yr[c];
        }
      } else {
        for (int64_t c = 0; c < cols; ++c) {
          yr[c] = std::exp(xr[c] - m);
          s += yr[c];
        }
      }
      T inv = T(1) / s;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) yr[c] *= inv;
    }
    return;
  }
  const int64_t n = rows * cols;
  switch (a.kind) {  // one loop per activation, so each vectorises
    case Activation::relu: parallel_elementwise(n, [=](int64_t i) { y[i] = relu_fwd(x[i]); }); break;
    case Activation::sigmoid: parallel_elementwise(n, [=](int64_t i) { y[i] = sigmoid_fwd(x[i]); }); break;
    case Activation::tanh: parallel_elementwise(n, [=](int64_t i) { y[i] = tanh_fwd(x[i]); }); break;
    case Activation::linear:
      if (x != y) std::copy(x, x + n, y);
      break;
    default: parallel_elementwise(n, [=](int64_t i) { y[i] = activation_fwd(a, x[i]); });
  }
}

template <typename T>
void activation_backward_cpu(Activation a, const typename NotDeduced<T>::type* x, const typename NotDeduced<T>::type* y,
                             const T* dy, T* dx, int64_t rows, int64_t cols) {
  if (a == Activation::softmax) {  // each row its own: the rows in parallel give the same bits
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; ++r) {
      const T* yr = y + r * cols;
      const T* dyr = dy + r * cols;
      T* dxr = dx + r * cols;
      T dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t c = 0; c < cols; ++c) dot += yr[c] * dyr[c];
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) dxr[c] = yr[c] * (dyr[c] - dot);
    }
    return;
  }
  const int64_t n = rows * cols;
  if (a.needs_input()) {
    parallel_elementwise(n, [=](int64_t i) { dx[i] = activation_bwd_x(a, x[i], dy[i]); });
    return;
  }
  switch (a.kind) {
    case Activation::relu: parallel_elementwise(n, [=](int64_t i) { dx[i] = relu_bwd(y[i], dy[i]); }); break;
    case Activation::sigmoid: parallel_elementwise(n, [=](int64_t i) { dx[i] = sigmoid_bwd(y[i], dy[i]); }); break;
    case Activation::tanh: parallel_elementwise(n, [=](int64_t i) { dx[i] = tanh_bwd(y[i], dy[i]); }); break;
    case Activation::linear:
      if (dx != dy) std::copy(dy, dy + n, dx);
      break;
    default: parallel_elementwise(n, [=](int64_t i) { dx[i] = activation_bwd(a, y[i], dy[i]); });
  }
}

template void activation_forward_cpu<float>(Activation, const float*, float*, int64_t, int64_t);
template void activation_forward_cpu<double>(Activation, const double*, double*, int64_t, int64_t);
template void activation_backward_cpu<float>(Activation, const float*, const float*, const float*, float*, int64_t,
                                             int64_t);
template void activation_backward_cpu<double>(Activation, const double*, const double*, const double*, double*, int64_t,
                                              int64_t);

}  // namespace dpt::kernels
