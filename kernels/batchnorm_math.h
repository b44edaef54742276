// Batch-normalisation formulas shared by the CPU loops and the CUDA kernels.
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

// mean, biased variance and 1/sqrt(var + eps) of one channel from its sums over `count` rows.
template <typename T>
DPT_HD void bn_stat(double sum, double sumsq, double count, double eps, T* mean, T* var, T* invstd) {
  const double m = count > 0 ? sum / count : 0.0;
  double v = count > 0 ? sumsq / count - m * m : 0.0;
  if (v < 0) v = 0;
  *mean = T(m);
  *var = T(v);
  *invstd = T(1.0 / sqrt(v + eps));
}

// One element of the input gradient: gamma * invstd / count * (count * dy - sum_dy - xhat * sum_dy_xhat).
template <typename T>
DPT_HD T bn_dx(T x, T dy, T mean, T invstd, T gamma, double sum_dy, double sum_dy_xhat, double count) {
  const double xhat = (double(x) - mean) * invstd;
  return T(double(gamma) * invstd / count * (count * dy - sum_dy - xhat * sum_dy_xhat));
}

// Keras's moving update: moving = moving * momentum + batch * (1 - momentum).
template <typename T>
DPT_HD T bn_moving(T moving, T batch, T momentum) {
  return moving * momentum + batch * (T(1) - momentum);
}

}  // namespace dpt::kernels
