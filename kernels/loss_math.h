// Loss and metric formulas shared by CPU and CUDA (Keras's definitions, epsilon 1e-7 clipping).
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

enum class LossKind { categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error };
enum class AccuracyKind { categorical, sparse_categorical, binary };

constexpr double kLossEpsilon = 1e-7;  // keras.backend.epsilon()

template <typename T>
DPT_HD T clip_prob(T p) {
  const T eps = T(kLossEpsilon);
  return p < eps ? eps : (p > T(1) - eps ? T(1) - eps : p);
}
// -y * std::log(p), p clipped as Keras clips probabilities.
template <typename T>
DPT_HD T xent_term(T p, T y) { return y == T(0) ? T(0) : -y * std::log(clip_prob(p)); }
template <typename T>
DPT_HD T bce_term(T p, T y) {
  const T q = clip_prob(p);
  return -(y * std::log(q) + (T(1) - y) * std::log(T(1) - q));
}
// d bce / d p (unfused: the last layer is not a sigmoid)
template <typename T>
DPT_HD T bce_grad(T p, T y) {
  const T q = clip_prob(p);
  return (q - y) / (q * (T(1) - q));
}
template <typename T>
DPT_HD T sq_term(T p, T y) { return (p - y) * (p - y); }

}  // namespace dpt::kernels
