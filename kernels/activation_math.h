// Activation formulas shared by the CPU loops and the CUDA kernels (one definition of the math).
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

// One of Keras's activations, with its one setting where it has one (alpha: leaky_relu's negative
// slope, elu's alpha, relu6's cap; Keras's LeakyReLU, ELU and ReLU layers set them). Activation::relu
// converts to an Activation with the kind's default setting; `switch (a.kind)` selects the formula.
// The kinds before gelu have gradients the output alone gives (backward keeps no copy of the
// input); gelu and the kinds after it need the input (needs_input()).
struct Activation {
  enum Kind : uint8_t {
    linear,
    relu,
    sigmoid,
    tanh,
    softmax,
    elu,
    selu,
    softplus,
    softsign,
    relu6,
    exponential,
    leaky_relu,
    gelu,
    silu,
    mish,
    hard_silu
  };
  Kind kind = linear;
  float alpha = 0.f;

  DPT_HD constexpr Activation() = default;
  DPT_HD constexpr Activation(Kind k) : kind(k), alpha(default_alpha(k)) {}  // NOLINT: Activation::relu is one
  DPT_HD constexpr Activation(Kind k, float a) : kind(k), alpha(a) {}
  // Keras's defaults: activations.leaky_relu's 0.2, elu's 1, relu6's 6.
  DPT_HD static constexpr float default_alpha(Kind k) {
    return k == leaky_relu ? 0.2f : k == elu ? 1.f : k == relu6 ? 6.f : 0.f;
  }
  DPT_HD constexpr bool has_default_alpha() const { return alpha == default_alpha(kind); }
  DPT_HD constexpr bool needs_input() const { return kind >= gelu; }
  friend DPT_HD constexpr bool operator==(Activation a, Kind k) { return a.kind == k; }
  friend DPT_HD constexpr bool operator!=(Activation a, Kind k) { return a.kind != k; }
  friend DPT_HD constexpr bool operator==(Kind k, Activation a) { return a.kind == k; }
  friend DPT_HD constexpr bool operator!=(Kind k, Activation a) { return a.kind != k; }
  friend DPT_HD constexpr bool operator==(Activation a, Activation b) { return a.kind == b.kind && a.alpha == b.alpha; }
  friend DPT_HD constexpr bool operator!=(Activation a, Activation b) { return !(a == b); }
};

// Keras's SELU constants (Klambauer et al., 2017), as Keras 3 and jax.nn.selu write them.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

template <typename T>
DPT_HD T relu_fwd(T x) { return x > T(0) ? x : T(0); }
// Gradients are written in terms of the output y, so backward needs no copy of the input.
template <typename T>
DPT_HD T relu_bwd(T y, T dy) { return y > T(0) ? dy : T(0); }
template <typename T>
DPT_HD T sigmoid_fwd(T x) {
  // Stable for large |x|: never exponentiates a large positive number.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}
template <typename T>
DPT_HD T sigmoid_bwd(T y, T dy) { return dy * y * (T(1) - y); }
template <typename T>
DPT_HD T tanh_fwd(T x) { return std::tanh(x); }
template <typename T>
DPT_HD T tanh_bwd(T y, T dy) { return dy * (T(1) - y * y); }

// elu: x, or alpha * (exp(x) - 1) below 0; its slope there is y + alpha (alpha >= 0).
template <typename T>
DPT_HD T elu_fwd(T x, T alpha = T(1)) {
  return x > T(0) ? x : alpha * std::expm1(x);
}
template <typename T>
DPT_HD T elu_bwd(T y, T dy, T alpha = T(1)) {
  return y > T(0) ? dy : dy * (y + alpha);
}
// selu: scale * elu with alpha; below 0 its slope is y + scale * alpha.
template <typename T>
DPT_HD T selu_fwd(T x) {
  return T(kSeluScale) * (x > T(0) ? x : T(kSeluAlpha) * std::expm1(x));
}
template <typename T>
DPT_HD T selu_bwd(T y, T dy) {
  return y > T(0) ? dy * T(kSeluScale) : dy * (y + T(kSeluScale * kSeluAlpha));
}
// softplus: log(1 + exp(x)), without overflow; its slope sigmoid(x) is 1 - exp(-y).
template <typename T>
DPT_HD T softplus_fwd(T x) {
  return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
template <typename T>
DPT_HD T softplus_bwd(T y, T dy) {
  return -dy * std::expm1(-y);
}
// softsign: x / (1 + |x|); its slope 1 / (1 + |x|)^2 is (1 - |y|)^2.
template <typename T>
DPT_HD T softsign_fwd(T x) {
  return x / (T(1) + std::fabs(x));
}
template <typename T>
DPT_HD T softsign_bwd(T y, T dy) {
  const T r = T(1) - std::fabs(y);
  return dy * r * r;
}
// relu6: min(max(x, 0), cap), cap 6 (Keras's ReLU(max_value=cap) for another cap > 0).
template <typename T>
DPT_HD T relu6_fwd(T x, T cap = T(6)) {
  return x > T(0) ? (x < cap ? x : cap) : T(0);
}
template <typename T>
DPT_HD T relu6_bwd(T y, T dy, T cap = T(6)) {
  return y > T(0) && y < cap ? dy : T(0);
}
// exponential: exp(x), its own slope.
template <typename T>
DPT_HD T exponential_fwd(T x) {
  return std::exp(x);
}
template <typename T>
DPT_HD T exponential_bwd(T y, T dy) {
  return dy * y;
}
// leaky_relu: x, or slope * x below 0 (slope >= 0; with slope > 0 the output's sign is the input's).
template <typename T>
DPT_HD T leaky_relu_fwd(T x, T slope = T(0.2)) {
  return x > T(0) ? x : slope * x;
}
template <typename T>
DPT_HD T leaky_relu_bwd(T y, T dy, T slope = T(0.2)) {
  return y > T(0) ? dy : slope * dy;
}

// The activations whose gradient needs the input x (dptrain keeps the pre-activation for them).
// gelu, exact (Keras's default, approximate=False): x * Phi(x), Phi(x) = 0.5 erfc(-x / sqrt 2) as
// JAX and TensorFlow write it (never 0.5 (1 + erf(x / sqrt 2)): below about -5.5 that 1 + erf
// cancels to exactly 0, one ulp of erf apart on the CPU and CUDA); its slope is Phi(x) + x phi(x),
// phi the standard normal density.
template <typename T>
DPT_HD T gelu_fwd(T x) {
  return T(0.5) * x * std::erfc(x * T(-0.70710678118654752440));
}
template <typename T>
DPT_HD T gelu_bwd(T x, T dy) {
  const T cdf = T(0.5) * std::erfc(x * T(-0.70710678118654752440));
  const T pdf = T(0.39894228040143267794) * std::exp(T(-0.5) * x * x);
  return dy * (cdf + x * pdf);
}
// silu (Keras's swish): x * sigmoid(x); slope s (1 + x (1 - s)).
template <typename T>
DPT_HD T silu_fwd(T x) {
  return x * sigmoid_fwd(x);
}
template <typename T>
DPT_HD T silu_bwd(T x, T dy) {
  const T s = sigmoid_fwd(x);
  return dy * s * (T(1) + x * (T(1) - s));
}
// mish: x * tanh(softplus(x)); slope t + x * sigmoid(x) * (1 - t^2), t = tanh(softplus(x)).
template <typename T>
DPT_HD T mish_fwd(T x) {
  return x * std::tanh(softplus_fwd(x));
}
template <typename T>
DPT_HD T mish_bwd(T x, T dy) {
  const T t = std::tanh(softplus_fwd(x));
  return dy * (t + x * sigmoid_fwd(x) * (T(1) - t * t));
}
// hard_silu (Keras's hard_swish): x * relu6(x + 3) / 6; slope 0 below -3, 1 above 3, (2x + 3) / 6
// between.
template <typename T>
DPT_HD T hard_silu_fwd(T x) {
  return x * relu6_fwd(x + T(3)) / T(6);
}
template <typename T>
DPT_HD T hard_silu_bwd(T x, T dy) {
  return x < T(-3) ? T(0) : x > T(3) ? dy : dy * (T(2) * x + T(3)) / T(6);
}

// Pointwise activations (softmax is a row operation, handled by the callers).
template <typename T>
DPT_HD T activation_fwd(Activation a, T x) {
  switch (a.kind) {
    case Activation::relu: return relu_fwd(x);
    case Activation::sigmoid: return sigmoid_fwd(x);
    case Activation::tanh: return tanh_fwd(x);
    case Activation::elu: return elu_fwd(x, T(a.alpha));
    case Activation::selu: return selu_fwd(x);
    case Activation::softplus: return softplus_fwd(x);
    case Activation::softsign: return softsign_fwd(x);
    case Activation::relu6: return relu6_fwd(x, T(a.alpha));
    case Activation::exponential: return exponential_fwd(x);
    case Activation::leaky_relu: return leaky_relu_fwd(x, T(a.alpha));
    case Activation::gelu: return gelu_fwd(x);
    case Activation::silu: return silu_fwd(x);
    case Activation::mish: return mish_fwd(x);
    case Activation::hard_silu: return hard_silu_fwd(x);
    default: return x;
  }
}
// The gradient from the output y, for the kinds before gelu (the others need activation_bwd_x).
template <typename T>
DPT_HD T activation_bwd(Activation a, T y, T dy) {
  switch (a.kind) {
    case Activation::relu: return relu_bwd(y, dy);
    case Activation::sigmoid: return sigmoid_bwd(y, dy);
    case Activation::tanh: return tanh_bwd(y, dy);
    case Activation::elu: return elu_bwd(y, dy, T(a.alpha));
    case Activation::selu: return selu_bwd(y, dy);
    case Activation::softplus: return softplus_bwd(y, dy);
    case Activation::softsign: return softsign_bwd(y, dy);
    case Activation::relu6: return relu6_bwd(y, dy, T(a.alpha));
    case Activation::exponential: return exponential_bwd(y, dy);
    case Activation::leaky_relu: return leaky_relu_bwd(y, dy, T(a.alpha));
    default: return dy;
  }
}
// The gradient from the input x, for gelu and the kinds after it.
template <typename T>
DPT_HD T activation_bwd_x(Activation a, T x, T dy) {
  switch (a.kind) {
    case Activation::gelu: return gelu_bwd(x, dy);
    case Activation::silu: return silu_bwd(x, dy);
    case Activation::mish: return mish_bwd(x, dy);
    case Activation::hard_silu: return hard_silu_bwd(x, dy);
    default: return dy;
  }
}

}  // namespace dpt::kernels
