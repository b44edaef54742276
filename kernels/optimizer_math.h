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

// The other optimizers as step functors: kSlots slot arrays each, the step's constants (computed
// once a step on the host) as members. update_cpu and update_cuda (kernels/optimizer.h) run one over
// the arena; every formula is Keras 3's update_step, operation for operation.

// Adagrad: acc += g^2; w -= lr*g / sqrt(acc + eps). The accumulator starts at
// initial_accumulator_value.
struct AdagradStep {
  static constexpr int kSlots = 1;
  float lr, eps;
  DPT_HD void operator()(float& w, float g, float& acc) const {
    acc += g * g;
    w -= lr * g / std::sqrt(acc + eps);
  }
};

// Adamax: m += (g-m)(1-b1); u = max(b2*u, |g|); w -= lr*m / ((1-b1^t)(u+eps)).
struct AdamaxStep {
  static constexpr int kSlots = 2;
  float lr, b1, b2, eps;
  float bias;  // 1 - b1^t
  DPT_HD void operator()(float& w, float g, float& m, float& u) const {
    m += (g - m) * (1.f - b1);
    const float bu = b2 * u, ag = g < 0.f ? -g : g;
    u = bu > ag ? bu : ag;
    w -= lr * m / (bias * (u + eps));
  }
};

// Nadam: m += (g-m)(1-b1); v += (g^2-v)(1-b2);
// m_hat = u_{t+1} m / (1 - P_{t+1}) + (1-u_t) g / (1 - P_t), v_hat = v / (1 - b2^t);
// w -= m_hat*lr / (sqrt(v_hat) + eps), with u_t = b1 (1 - 0.5*0.96^t) and P_t = u_1 ... u_t.
struct NadamStep {
  static constexpr int kSlots = 2;
  float lr, b1, b2, eps;
  float u_next, p_next_c;  // u_{t+1}, 1 - P_{t+1}
  float u_c, p_c;          // 1 - u_t, 1 - P_t
  float v_c;               // 1 - b2^t
  DPT_HD void operator()(float& w, float g, float& m, float& v) const {
    m += (g - m) * (1.f - b1);
    v += (g * g - v) * (1.f - b2);
    const float m_hat = u_next * m / p_next_c + u_c * g / p_c;
    const float v_hat = v / v_c;
    w -= m_hat * lr / (std::sqrt(v_hat) + eps);
  }
};

// u_t of Nadam's momentum schedule, and its running product P_t = u_1 ... u_t (P_0 = 1).
inline double nadam_u(double b1, long long t) { return b1 * (1.0 - 0.5 * std::pow(0.96, double(t))); }

// Adadelta: ag = rho*ag + (1-rho) g^2; d = -sqrt(ad+eps) g / sqrt(ag+eps);
// ad = rho*ad + (1-rho) d^2; w += lr*d.
struct AdadeltaStep {
  static constexpr int kSlots = 2;
  float lr, rho, eps;
  DPT_HD void operator()(float& w, float g, float& ag, float& ad) const {
    ag = rho * ag + (1.f - rho) * (g * g);
    const float d = -(std::sqrt(ad + eps) * g) / std::sqrt(ag + eps);
    ad = rho * ad + (1.f - rho) * (d * d);
    w += lr * d;
  }
};

// Lion: w -= lr * sign(b1*m + (1-b1) g); m = b2*m + (1-b2) g.
struct LionStep {
  static constexpr int kSlots = 1;
  float lr, b1, b2;
  DPT_HD void operator()(float& w, float g, float& m) const {
    const float c = m * b1 + g * (1.f - b1);
    w -= lr * (float(c > 0.f) - float(c < 0.f));
    m = m * b2 + g * (1.f - b2);
  }
};

// Keras's weight decay, before every optimizer's step: w = w - w*wd*lr (the gradient unused).
struct DecayStep {
  static constexpr int kSlots = 0;
  float wd, lr;
  DPT_HD void operator()(float& w, float) const { w = w - w * wd * lr; }
};

// Keras's gradient accumulation over N steps: between updates acc += g (run with the accumulator
// as the target); at the update g = (g + acc) / N, and acc starts again from 0 (run with the
// gradient as the target and as the input, the accumulator as the slot).
struct AccumulateStep {
  static constexpr int kSlots = 0;
  DPT_HD void operator()(float& acc, float g) const { acc += g; }
};
struct AverageStep {
  static constexpr int kSlots = 1;
  float steps;
  DPT_HD void operator()(float& out, float g, float& acc) const {
    out = (g + acc) / steps;
    acc = 0.f;
  }
};

// Keras's moving average of the weights (use_ema), after every step: avg = m*avg + (1-m)*w, with
// m 0 before the first update (avg starts as the weights); and overwriting the weights with it.
struct EmaStep {
  static constexpr int kSlots = 1;
  float momentum;
  DPT_HD void operator()(float& w, float, float& avg) const { avg = momentum * avg + (1.f - momentum) * w; }
};
struct OverwriteStep {
  static constexpr int kSlots = 1;
  DPT_HD void operator()(float& w, float, float& avg) const { w = avg; }
};

// Gradient clipping, before the weight decay and the step; Keras applies one of the three.
enum class ClipMode : int { none, norm, global_norm, value };

// What clipping multiplies and divides a gradient by, from the sum of squares of the weight's
// gradient (norm: g*clipnorm / max(||g||, clipnorm), ||g|| 0 where the sum is 0) or of every
// gradient (global_norm: g * clipnorm*min(1/||G||, 1/clipnorm), NaN where ||G|| is not finite).
DPT_HD void clip_factors(ClipMode mode, float c, double sumsq, float& mul, float& div) {
  const float norm = sumsq > 0.0 ? float(std::sqrt(sumsq)) : float(sumsq);
  if (mode == ClipMode::norm) {
    mul = c;
    div = norm > c ? norm : c;
  } else {
    const float inv = 1.f / norm, inv_c = 1.f / c;
    mul = c * (inv < inv_c ? inv : inv_c) + (norm - norm);
    div = 1.f;
  }
}

// Keras's L1/L2 weight regularizers: the penalty l1 |w| + l2 w^2 (summed in double) and its slope
// l1 sign(w) + 2 l2 w, which the weight's gradient gains. sign(0) is 0, as the gradient of |w| in
// TensorFlow and PyTorch (JAX takes 1 there).
DPT_HD double penalty_value(float w, float l1, float l2) {
  const double a = w < 0.f ? -double(w) : double(w);
  return double(l1) * a + double(l2) * a * a;
}
DPT_HD float penalty_slope(float w, float l1, float l2) { return l1 * float((w > 0.f) - (w < 0.f)) + 2.f * l2 * w; }

// Keras's weight constraints, applied after each update: MaxNorm, MinMaxNorm and UnitNorm scale a
// group of values (those sharing their coordinates off the constraint's axes) by their norm's
// factor, in float as Keras computes it (epsilon 1e-7); NonNeg takes max(w, 0).
enum class ConstraintKind : int { max_norm, min_max_norm, non_neg, unit_norm };
DPT_HD float constrained(ConstraintKind kind, float w, float norm, float min_value, float max_value, float rate) {
  const float eps = 1e-7f;
  if (kind == ConstraintKind::non_neg) return w > 0.f ? w : 0.f;
  if (kind == ConstraintKind::unit_norm) return w / (eps + norm);
  const float lo = kind == ConstraintKind::max_norm ? 0.f : min_value;
  const float clipped = norm < lo ? lo : norm > max_value ? max_value : norm;
  const float desired = kind == ConstraintKind::max_norm ? clipped : rate * clipped + (1.f - rate) * norm;
  return w * (desired / (eps + norm));
}

// clipvalue: g clamped to [-v, v] (NaN stays NaN).
DPT_HD float clip_value(float g, float v) { return g < -v ? -v : g > v ? v : g; }

}  // namespace dpt::kernels
