// Loss and metric formulas shared by CPU and CUDA (Keras's definitions, epsilon 1e-7 clipping).
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

enum class LossKind { categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error };
// The metric beside the loss: an accuracy (categorical, sparse_categorical, binary) or a regression
// error (mean_absolute_error, mean_squared_error), each a per-sample value averaged over samples.
enum class MetricKind { categorical, sparse_categorical, binary, mean_absolute_error, mean_squared_error };

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

// One sample's loss (row of `cols` predictions p against targets y; y is one class index for sparse
// categorical), and, when g is given, scale * d(loss)/d(p) -- or with respect to the pre-activation
// when fused (softmax for the cross-entropies, sigmoid for binary): the stable (p - y) form.
template <typename T>
DPT_HD T loss_row(LossKind kind, bool fused, const T* p, const T* y, int64_t cols, T scale, T* g) {
  T sample = 0;
  switch (kind) {
    case LossKind::categorical_crossentropy: {
      T ysum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        sample += xent_term(p[c], y[c]);
        ysum += y[c];
      }
      if (g)
        for (int64_t c = 0; c < cols; ++c)
          g[c] = fused ? scale * (p[c] * ysum - y[c]) : (y[c] == T(0) ? T(0) : -scale * y[c] / clip_prob(p[c]));
      break;
    }
    case LossKind::sparse_categorical_crossentropy: {
      const int64_t label = int64_t(y[0]);
      sample = -std::log(clip_prob(p[label]));
      if (g) {
        for (int64_t c = 0; c < cols; ++c) g[c] = fused ? scale * p[c] : T(0);
        g[label] += fused ? -scale : -scale / clip_prob(p[label]);
      }
      break;
    }
    case LossKind::binary_crossentropy: {
      for (int64_t c = 0; c < cols; ++c) sample += bce_term(p[c], y[c]);
      sample /= T(cols);
      if (g)
        for (int64_t c = 0; c < cols; ++c) g[c] = scale / T(cols) * (fused ? p[c] - y[c] : bce_grad(p[c], y[c]));
      break;
    }
    case LossKind::mean_squared_error: {
      for (int64_t c = 0; c < cols; ++c) sample += sq_term(p[c], y[c]);
      sample /= T(cols);
      if (g)
        for (int64_t c = 0; c < cols; ++c) g[c] = scale * T(2) * (p[c] - y[c]) / T(cols);
      break;
    }
  }
  return sample;
}

// Index of the first maximum (numpy/TF argmax).
template <typename T>
DPT_HD int64_t argmax_row(const T* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

// One sample's metric: accuracy 0 or 1, or the fraction of matching columns for binary (Keras's
// binary_accuracy: the thresholded prediction equals the target, so a soft target never matches);
// the mean over columns of |p - y| or (p - y)^2 for the regression errors.
template <typename T>
DPT_HD T metric_row(MetricKind kind, const T* p, const T* y, int64_t cols) {
  switch (kind) {
    case MetricKind::categorical: return argmax_row(p, cols) == argmax_row(y, cols) ? T(1) : T(0);
    case MetricKind::sparse_categorical: return argmax_row(p, cols) == int64_t(y[0]) ? T(1) : T(0);
    case MetricKind::mean_absolute_error:
    case MetricKind::mean_squared_error: {
      T s = T(0);
      for (int64_t c = 0; c < cols; ++c) {
        const T d = p[c] - y[c];
        s += kind == MetricKind::mean_absolute_error ? (d < T(0) ? -d : d) : d * d;
      }
      return s / T(cols);
    }
    default: {
      int64_t ok = 0;
      for (int64_t c = 0; c < cols; ++c) ok += (p[c] > T(0.5) ? T(1) : T(0)) == y[c];
      return T(ok) / T(cols);
    }
  }
}

}  // namespace dpt::kernels
