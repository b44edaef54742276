// Optimizer update formulas, per element, exactly as Keras 3 documents and implements them.
// Shared by the CPU loops and the CUDA kernels.
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

// SGD: v = momentum*v - lr*g; w += v (or w += momentum*v - lr*g with Nesterov); plain w -= lr*g.
template <typename T>
DPT_HD void sgd_step(T& w, T g, T& v, T lr, T momentum, bool nesterov) {
  if (momentum == T(0)) {
    w -= lr * g;
    return;
  }
  v = momentum * v - lr * g;
  w += nesterov ? momentum * v - lr * g : v;
}

// RMSprop: ms = rho*ms + (1-rho)*g^2; (centered: mg = rho*mg + (1-rho)*g, denom = ms - mg^2 + eps,
// else denom = ms + eps); inc = lr*g/sqrt(denom); with momentum: mom = momentum*mom + inc, w -= mom.
template <typename T>
DPT_HD void rmsprop_step(T& w, T g, T& ms, T& mom, T& mg, T lr, T rho, T momentum, T eps, bool centered) {
  ms = rho * ms + (T(1) - rho) * g * g;
  T denom = ms + eps;
  if (centered) {
    mg = rho * mg + (T(1) - rho) * g;
    denom = ms - mg * mg + eps;
  }
  const T inc = lr * g / std::sqrt(denom);
  if (momentum > T(0)) {
    mom = momentum * mom + inc;
    w -= mom;
  } else {
    w -= inc;
  }
}

// Adam: m += (g-m)(1-b1); v += (g^2-v)(1-b2); (amsgrad: vhat = max(vhat, v), used for v);
// w -= alpha * m / (sqrt(v) + eps), with alpha = lr*sqrt(1-b2^t)/(1-b1^t) computed once per step.
template <typename T>
DPT_HD void adam_step(T& w, T g, T& m, T& v, T& vhat, T alpha, T b1, T b2, T eps, bool amsgrad) {
  m += (g - m) * (T(1) - b1);
  v += (g * g - v) * (T(1) - b2);
  T vv = v;
  if (amsgrad) {
    vhat = vhat > v ? vhat : v;
    vv = vhat;
  }
  w -= alpha * m / (std::sqrt(vv) + eps);
}

// alpha for Adam at 1-based step t.
inline double adam_alpha(double lr, double b1, double b2, long long t) {
  return lr * std::sqrt(1.0 - std::pow(b2, double(t))) / (1.0 - std::pow(b1, double(t)));
}

}  // namespace dpt::kernels
