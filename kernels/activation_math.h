// Activation formulas shared by the CPU loops and the CUDA kernels (one definition of the math).
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

// Keras's activations whose gradient the output alone gives (so backward keeps no copy of the
// input): gelu, swish/silu and mish are not among them.
enum class Activation {
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
  leaky_relu
};

// Keras's SELU constants (Klambauer et al., 2017), as Keras 3 and jax.nn.selu write them.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
// Keras 3's activations.leaky_relu default negative_slope.
constexpr double kLeakySlope = 0.2;

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

// elu (alpha 1): x, or exp(x) - 1 below 0; its slope there is y + 1.
template <typename T>
DPT_HD T elu_fwd(T x) {
  return x > T(0) ? x : std::expm1(x);
}
template <typename T>
DPT_HD T elu_bwd(T y, T dy) {
  return y > T(0) ? dy : dy * (y + T(1));
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
// relu6: min(max(x, 0), 6).
template <typename T>
DPT_HD T relu6_fwd(T x) {
  return x > T(0) ? (x < T(6) ? x : T(6)) : T(0);
}
template <typename T>
DPT_HD T relu6_bwd(T y, T dy) {
  return y > T(0) && y < T(6) ? dy : T(0);
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
// leaky_relu: x, or negative_slope * x below 0 (the output's sign is the input's).
template <typename T>
DPT_HD T leaky_relu_fwd(T x) {
  return x > T(0) ? x : T(kLeakySlope) * x;
}
template <typename T>
DPT_HD T leaky_relu_bwd(T y, T dy) {
  return y > T(0) ? dy : T(kLeakySlope) * dy;
}

// Pointwise activations (softmax is a row operation, handled by the callers).
template <typename T>
DPT_HD T activation_fwd(Activation a, T x) {
  switch (a) {
    case Activation::relu: return relu_fwd(x);
    case Activation::sigmoid: return sigmoid_fwd(x);
    case Activation::tanh: return tanh_fwd(x);
    case Activation::elu: return elu_fwd(x);
    case Activation::selu: return selu_fwd(x);
    case Activation::softplus: return softplus_fwd(x);
    case Activation::softsign: return softsign_fwd(x);
    case Activation::relu6: return relu6_fwd(x);
    case Activation::exponential: return exponential_fwd(x);
    case Activation::leaky_relu: return leaky_relu_fwd(x);
    default: return x;
  }
}
template <typename T>
DPT_HD T activation_bwd(Activation a, T y, T dy) {
  switch (a) {
    case Activation::relu: return relu_bwd(y, dy);
    case Activation::sigmoid: return sigmoid_bwd(y, dy);
    case Activation::tanh: return tanh_bwd(y, dy);
    case Activation::elu: return elu_bwd(y, dy);
    case Activation::selu: return selu_bwd(y, dy);
    case Activation::softplus: return softplus_bwd(y, dy);
    case Activation::softsign: return softsign_bwd(y, dy);
    case Activation::relu6: return relu6_bwd(y, dy);
    case Activation::exponential: return exponential_bwd(y, dy);
    case Activation::leaky_relu: return leaky_relu_bwd(y, dy);
    default: return dy;
  }
}

}  // namespace dpt::kernels
