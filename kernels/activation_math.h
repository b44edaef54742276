// Activation formulas shared by the CPU loops and the CUDA kernels (one definition of the math).
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

enum class Activation { linear, relu, sigmoid, tanh, softmax };

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

// Pointwise activations (softmax is a row operation, handled by the callers).
template <typename T>
DPT_HD T activation_fwd(Activation a, T x) {
  switch (a) {
    case Activation::relu: return relu_fwd(x);
    case Activation::sigmoid: return sigmoid_fwd(x);
    case Activation::tanh: return tanh_fwd(x);
    default: return x;
  }
}
template <typename T>
DPT_HD T activation_bwd(Activation a, T y, T dy) {
  switch (a) {
    case Activation::relu: return relu_bwd(y, dy);
    case Activation::sigmoid: return sigmoid_bwd(y, dy);
    case Activation::tanh: return tanh_bwd(y, dy);
    default: return dy;
  }
}

}  // namespace dpt::kernels
