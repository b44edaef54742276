// Loss and metric formulas shared by CPU and CUDA (Keras's definitions, epsilon 1e-7 clipping).
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

// The *_from_logits kinds are Keras's cross-entropies with from_logits=True: the model's outputs are
// logits, and the loss takes their log-softmax (log-sigmoid) itself, without clipping.
enum class LossKind {
  categorical_crossentropy,
  sparse_categorical_crossentropy,
  binary_crossentropy,
  mean_squared_error,
  categorical_crossentropy_from_logits,
  sparse_categorical_crossentropy_from_logits,
  binary_crossentropy_from_logits,
  // Keras's other losses, each the mean over the last axis (kl_divergence: the sum) of an
  // element-wise term; huber with Keras's delta (1 by default).
  mean_absolute_error,
  huber,
  log_cosh,
  mean_squared_logarithmic_error,
  kl_divergence,
  poisson,
  mean_absolute_percentage_error,
  // Keras's hinge losses (hinge and squared_hinge read 0/1 targets as -1/1) and its
  // cosine_similarity loss (the negated cosine of a row's predictions and targets).
  hinge,
  squared_hinge,
  categorical_hinge,
  cosine_similarity,
  // Keras's focal cross-entropies (FocalParams: alpha, gamma, apply_class_balancing), and with
  // from_logits=True.
  binary_focal_crossentropy,
  categorical_focal_crossentropy,
  binary_focal_crossentropy_from_logits,
  categorical_focal_crossentropy_from_logits
};
DPT_HD constexpr bool loss_from_logits(LossKind k) {
  return k == LossKind::categorical_crossentropy_from_logits ||
         k == LossKind::sparse_categorical_crossentropy_from_logits || k == LossKind::binary_crossentropy_from_logits ||
         k == LossKind::binary_focal_crossentropy_from_logits ||
         k == LossKind::categorical_focal_crossentropy_from_logits;
}
// The cross-entropy a from_logits kind computes (the kind itself for the others).
DPT_HD constexpr LossKind loss_base(LossKind k) {
  return k == LossKind::categorical_crossentropy_from_logits          ? LossKind::categorical_crossentropy
         : k == LossKind::sparse_categorical_crossentropy_from_logits ? LossKind::sparse_categorical_crossentropy
         : k == LossKind::binary_crossentropy_from_logits             ? LossKind::binary_crossentropy
         : k == LossKind::binary_focal_crossentropy_from_logits       ? LossKind::binary_focal_crossentropy
         : k == LossKind::categorical_focal_crossentropy_from_logits  ? LossKind::categorical_focal_crossentropy
                                                                      : k;
}
DPT_HD constexpr bool loss_is_focal(LossKind k) {
  return loss_base(k) == LossKind::binary_focal_crossentropy ||
         loss_base(k) == LossKind::categorical_focal_crossentropy;
}
// Keras's BinaryFocalCrossentropy(alpha, gamma, apply_class_balancing) and
// CategoricalFocalCrossentropy(alpha, gamma) (the binary one's alpha applies only with balancing).
struct FocalParams {
  float alpha = 0.25f, gamma = 2.f;
  bool balance = false;
};
// The metric beside the loss. Most are a per-sample value averaged over samples: an accuracy
// (categorical, sparse_categorical, binary; top-k of one-hot or class-index targets), a regression
// error (mean_absolute_error, mean_squared_error; root_mean_squared_error: the square root of the
// mean, taken at the end), the cosine similarity, or a loss's own formula (`loss`: Keras's
// cross-entropy, kl_divergence, poisson, hinge, msle, mape and logcosh metrics). Keras's confusion
// metrics are counts summed over the samples, several per row (metric_slots), whose ratio is the
// metric: precision (true positives, predicted positives), recall (true positives, positives), the
// AUC (each row's positives and negatives counted into the thresholds' buckets), the F-beta score
// (each column's true positives, false positives, false negatives and support), and R2 (each
// column's sum of targets, of their squares, of the squared errors, and count).
enum class MetricKind {
  categorical,
  sparse_categorical,
  binary,
  mean_absolute_error,
  mean_squared_error,
  top_k_categorical,
  sparse_top_k_categorical,
  root_mean_squared_error,
  cosine_similarity,
  loss,
  precision,
  recall,
  auc,
  fbeta,
  r2
};
// A metric's formula with its settings, as the kernels take it (by value).
struct MetricFormula {
  MetricKind kind = MetricKind::categorical;
  LossKind loss = LossKind::mean_squared_error;  // kind loss: whose formula
  int k = 5;                                     // the top-k accuracies
  float threshold = 0.5f;                        // binary accuracy: a prediction above it is 1
  float smoothing = 0.f;                         // kind loss: Keras's label_smoothing
  int class_id = -1;                             // precision, recall: one column only (-1: every column)
  int bins = 200;                                // auc: Keras's num_thresholds
  int curve = 0;                                 // auc: 0 ROC, 1 PR
  int summation = 0;                             // auc: 0 interpolation, 1 minoring, 2 majoring
  bool logits = false;                           // auc: the predictions are logits (sigmoid first)
  bool multi_label = false;                      // auc: each column's curve apart (width columns), averaged
  int width = 1;                                 // fbeta: the output's columns
  float beta = 1.f;                              // fbeta
  int average = 1;                               // fbeta: 0 micro, 1 macro, 2 weighted; r2: 1 uniform, 2 by variance
  int regressors = 0;                            // r2: Keras's num_regressors (0: not adjusted)
  bool weighted = false;  // compile(weighted_metrics=...): each row's counts times its sample weight
  DPT_HD constexpr MetricFormula() {}
  DPT_HD constexpr MetricFormula(MetricKind kd) : kind(kd) {}  // NOLINT: a kind is a formula with the defaults
};
// Where a weighted metric keeps what it divides by, as Keras's weighted metrics do: a mean's sum of
// the rows' weights (its count), R2's count of values (num_samples, which Keras does not weigh);
// -1 for the others (the confusion metrics' ratios are of weighted counts alone).
DPT_HD constexpr int metric_weight_slot(const MetricFormula& f) {
  return !f.weighted || f.kind == MetricKind::auc || f.kind == MetricKind::fbeta || f.kind == MetricKind::precision ||
                 f.kind == MetricKind::recall
             ? -1
             : (f.kind == MetricKind::r2 ? 4 * f.width : 1);
}
// How many sums a metric keeps (values per row): 1, precision's and recall's 2, the AUC's 2 per
// threshold, the F-beta score's and R2's 4 per column; a weighted metric's weight slot after them.
DPT_HD constexpr int metric_slots(const MetricFormula& f) {
  return (f.kind == MetricKind::auc ? 2 * f.bins * (f.multi_label ? f.width : 1)
          : f.kind == MetricKind::fbeta || f.kind == MetricKind::r2
              ? 4 * f.width
              : (f.kind == MetricKind::precision || f.kind == MetricKind::recall ? 2 : 1)) +
         (metric_weight_slot(f) >= 0 ? 1 : 0);
}
// Whether the metric reads class indices (one column of targets) rather than one column per output.
DPT_HD constexpr bool metric_sparse(const MetricFormula& f) {
  return f.kind == MetricKind::sparse_categorical || f.kind == MetricKind::sparse_top_k_categorical ||
         (f.kind == MetricKind::loss && loss_base(f.loss) == LossKind::sparse_categorical_crossentropy);
}

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

// The element-wise losses: one element's term of Keras's formula and its derivative d term / d p
// (as TensorFlow's autodiff takes it: sign(0) = 0, a clip or maximum passing the gradient at its
// bound). delta: Huber's (Keras's Huber(delta=...), > 0).
template <typename T>
DPT_HD void elementwise_term(LossKind kind, T p, T y, T* term, T* grad, T delta = T(1)) {
  const T eps = T(kLossEpsilon), e = p - y, a = e < T(0) ? -e : e;
  const T sign = e > T(0) ? T(1) : (e < T(0) ? T(-1) : T(0));
  switch (kind) {
    case LossKind::mean_absolute_error:
      *term = a;
      *grad = sign;
      return;
    case LossKind::huber:  // half e^2 within delta, else delta (|e| - delta / 2)
      *term = a <= delta ? T(0.5) * e * e : delta * a - T(0.5) * delta * delta;
      *grad = a <= delta ? e : delta * sign;
      return;
    case LossKind::log_cosh: {  // x + softplus(-2x) - log 2, stable; its derivative tanh(x)
      const T t = T(-2) * e, at = t < T(0) ? -t : t;
      *term = e + ((t > T(0) ? t : T(0)) + std::log1p(std::exp(-at))) - T(0.6931471805599453);
      *grad = std::tanh(e);
      return;
    }
    case LossKind::mean_squared_logarithmic_error: {
      const T pc = p > eps ? p : eps, d = std::log(pc + T(1)) - std::log((y > eps ? y : eps) + T(1));
      *term = d * d;
      *grad = p >= eps ? T(2) * d / (pc + T(1)) : T(0);
      return;
    }
    case LossKind::kl_divergence: {  // both clipped to [eps, 1]
      const T yc = y < eps ? eps : (y > T(1) ? T(1) : y), pc = p < eps ? eps : (p > T(1) ? T(1) : p);
      *term = yc * std::log(yc / pc);
      *grad = p >= eps && p <= T(1) ? -yc / pc : T(0);
      return;
    }
    case LossKind::mean_absolute_percentage_error: {  // 100 |y - p| / max(|y|, eps)
      const T ay = y < T(0) ? -y : y, den = ay > eps ? ay : eps;
      *term = T(100) * a / den;
      *grad = T(100) * sign / den;
      return;
    }
    case LossKind::hinge:  // y in {-1, 1}: max(1 - y p, 0), its gradient at 0 taken as TF's maximum does
    case LossKind::squared_hinge: {
      const T m = T(1) - y * p, h = m > T(0) ? m : T(0);
      *term = kind == LossKind::hinge ? h : h * h;
      *grad = m >= T(0) ? (kind == LossKind::hinge ? -y : T(-2) * h * y) : T(0);
      return;
    }
    default: {  // poisson
      *term = p - y * std::log(p + eps);
      *grad = T(1) - y / (p + eps);
      return;
    }
  }
}

// Keras's hinge losses read a batch of targets that are all 0 or 1 as -1/1 (2y - 1); dptrain decides
// per row, which is Keras's reading whenever the targets are 0/1 or -1/1 throughout.
template <typename T>
DPT_HD bool hinge_binary_row(const T* y, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c)
    if (y[c] != T(0) && y[c] != T(1)) return false;
  return true;
}

// Keras's categorical_hinge: max(max_c (1 - y_c) p_c - sum_c y_c p_c + 1, 0); the gradient of the
// inner maximum is shared among tied columns, as TF's reduce_max shares it.
template <typename T>
DPT_HD T categorical_hinge_row(const T* p, const T* y, int64_t cols, T scale, T* g) {
  T pos = 0, neg = (T(1) - y[0]) * p[0];
  for (int64_t c = 0; c < cols; ++c) {
    pos += y[c] * p[c];
    const T v = (T(1) - y[c]) * p[c];
    neg = v > neg ? v : neg;
  }
  const T m = neg - pos + T(1);
  if (g) {
    int64_t ties = 0;
    for (int64_t c = 0; c < cols; ++c) ties += (T(1) - y[c]) * p[c] == neg ? 1 : 0;
    for (int64_t c = 0; c < cols; ++c)
      g[c] = m >= T(0) ? scale * (((T(1) - y[c]) * p[c] == neg ? (T(1) - y[c]) / T(ties) : T(0)) - y[c]) : T(0);
  }
  return m > T(0) ? m : T(0);
}

// Keras's cosine_similarity loss: -sum_c (y_c |y|^-1)(p_c |p|^-1), each inverse norm
// min(rsqrt(sum of squares), 1 / eps) as keras.ops.normalize takes it.
template <typename T>
DPT_HD T cosine_row(const T* p, const T* y, int64_t cols, T scale, T* g) {
  T pp = 0, yy = 0, py = 0;
  for (int64_t c = 0; c < cols; ++c) {
    pp += p[c] * p[c];
    yy += y[c] * y[c];
    py += p[c] * y[c];
  }
  const T cap = T(1) / T(kLossEpsilon);
  const bool p_free = T(1) / std::sqrt(pp) <= cap;  // the norm, not the cap, sets the scale (TF's minimum at a tie)
  const T ip = p_free ? T(1) / std::sqrt(pp) : cap, iy = T(1) / std::sqrt(yy) <= cap ? T(1) / std::sqrt(yy) : cap;
  if (g)
    for (int64_t c = 0; c < cols; ++c) g[c] = -scale * iy * (p_free ? ip * y[c] - ip * ip * ip * py * p[c] : ip * y[c]);
  return -(py * ip * iy);
}

// A row's targets with Keras's label_smoothing s: y (1 - s) + s u, u = 1 / classes for the categorical
// cross-entropy and 0.5 for the binary one (s = 0: y itself, exactly).
template <typename T>
struct Targets {
  const T* y;
  T keep = T(1), add = T(0);
  DPT_HD T operator[](int64_t c) const { return y[c] * keep + add; }
};
template <typename T>
DPT_HD Targets<T> smoothed(const T* y, T smoothing, T uniform) {
  return smoothing == T(0) ? Targets<T>{y} : Targets<T>{y, T(1) - smoothing, smoothing * uniform};
}

// Keras's cross-entropies with from_logits=True on a row of logits z: the loss from the log-softmax
// (log-sigmoid for binary) and, when g is given, scale * d(loss)/dz = softmax(z) - y (sigmoid(z) - y,
// over the columns for binary), as TensorFlow's *_cross_entropy_with_logits compute them.
template <typename T>
DPT_HD T logits_row(LossKind base, const T* z, const T* yv, int64_t cols, T scale, T* g, T smoothing) {
  T sample = 0;
  const Targets<T> y = smoothed(yv, smoothing, base == LossKind::binary_crossentropy ? T(0.5) : T(1) / T(cols));
  if (base == LossKind::binary_crossentropy) {
    for (int64_t c = 0; c < cols; ++c) {  // max(z, 0) - z y + log(1 + exp(-|z|))
      const T a = z[c] < T(0) ? -z[c] : z[c];
      sample += (z[c] > T(0) ? z[c] : T(0)) - z[c] * y[c] + std::log1p(std::exp(-a));
      if (g) {
        const T e = std::exp(-a), sig = z[c] >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
        g[c] = scale / T(cols) * (sig - y[c]);
      }
    }
    return sample / T(cols);
  }
  T m = z[0];
  for (int64_t c = 1; c < cols; ++c) m = z[c] > m ? z[c] : m;
  T sum = 0;
  for (int64_t c = 0; c < cols; ++c) sum += std::exp(z[c] - m);
  const T lse = m + std::log(sum);  // log sum exp z: -log softmax(z)_c = lse - z_c
  if (base == LossKind::sparse_categorical_crossentropy) {
    const int64_t label = int64_t(yv[0]);
    sample = lse - z[label];
    if (g) {
      for (int64_t c = 0; c < cols; ++c) g[c] = scale * std::exp(z[c] - lse);
      g[label] -= scale;
    }
    return sample;
  }
  T ysum = 0;
  for (int64_t c = 0; c < cols; ++c) {
    sample += y[c] == T(0) ? T(0) : y[c] * (lse - z[c]);
    ysum += y[c];
  }
  if (g)
    for (int64_t c = 0; c < cols; ++c) g[c] = scale * (std::exp(z[c] - lse) * ysum - y[c]);
  return sample;
}

// Keras's focal cross-entropies on a row (logits: the model's outputs are logits, taken through the
// sigmoid or softmax first, as Keras does), and, when g is given, scale * d(loss)/d(outputs).
//   binary: the mean over columns of w (1 - p_t)^gamma bce, p_t = y p + (1 - y)(1 - p), bce on p
//     clipped to [eps, 1 - eps], w = y alpha + (1 - y)(1 - alpha) with balancing, else 1;
//   categorical: o = p / sum(p) clipped to [eps, 1 - eps], the sum over columns of
//     alpha (1 - o)^gamma (-y log o).
// Targets smoothed as the cross-entropies' (label_smoothing). The clips pass their gradient, as
// the cross-entropies' here do.
template <typename T>
DPT_HD T sigmoid_of(T z) {
  const T a = z < T(0) ? -z : z, e = std::exp(-a);
  return z >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}
template <typename T>
DPT_HD T focal_row(LossKind base, bool logits, const T* v, const T* yv, int64_t cols, T scale, T* g, T smoothing,
                   FocalParams f) {
  const T gamma = T(f.gamma), alpha = T(f.alpha);
  T sample = 0;
  if (base == LossKind::binary_focal_crossentropy) {
    const Targets<T> y = smoothed(yv, smoothing, T(0.5));
    for (int64_t c = 0; c < cols; ++c) {
      const T p = logits ? sigmoid_of(v[c]) : v[c], yc = y[c];
      const T bce = bce_term(p, yc), pt = yc * p + (T(1) - yc) * (T(1) - p), base_ = T(1) - pt;
      const T focal = std::pow(base_, gamma), w = f.balance ? yc * alpha + (T(1) - yc) * (T(1) - alpha) : T(1);
      sample += w * focal * bce;
      if (g) {  // d/dp of w (1 - p_t)^gamma bce; d(1 - p_t)/dp = 1 - 2y
        const T dfocal = gamma * std::pow(base_, gamma - T(1)) * (T(1) - T(2) * yc);
        T d = w * (dfocal * bce + focal * bce_grad(p, yc));
        if (logits) d *= p * (T(1) - p);
        g[c] = scale / T(cols) * d;
      }
    }
    return sample / T(cols);
  }
  const Targets<T> y = smoothed(yv, smoothing, T(1) / T(cols));
  T lse = 0;  // logits: softmax's log-normaliser
  if (logits) {
    T m = v[0];
    for (int64_t c = 1; c < cols; ++c) m = v[c] > m ? v[c] : m;
    T sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(v[c] - m);
    lse = m + std::log(sum);
  }
  auto prob = [&](int64_t c) { return logits ? std::exp(v[c] - lse) : v[c]; };
  T total = 0;
  for (int64_t c = 0; c < cols; ++c) total += prob(c);
  // G_c = d(term_c)/d(o_c); A = sum_c G_c o_c: d/dp_j = (G_j - A) / total, and with logits
  // p_j (G_j - A) / total (the softmax's Jacobian: sum_k p_k (G_k - A) / total is 0).
  T a_sum = 0;
  for (int64_t c = 0; c < cols; ++c) {
    const T o = prob(c) / total, oc = clip_prob(o), yc = y[c];
    const T cce = yc == T(0) ? T(0) : -yc * std::log(oc), mod = std::pow(T(1) - oc, gamma);
    sample += alpha * mod * cce;
    if (g) {
      const T gc = alpha * (-gamma * std::pow(T(1) - oc, gamma - T(1)) * cce + (yc == T(0) ? T(0) : -mod * yc / oc));
      a_sum += gc * o;
      g[c] = gc;  // G_c, finished below
    }
  }
  if (g)
    for (int64_t c = 0; c < cols; ++c) g[c] = scale * (logits ? prob(c) : T(1)) * (g[c] - a_sum) / total;
  return sample;
}

// One sample's loss (row of `cols` predictions p against targets y; y is one class index for sparse
// categorical), and, when g is given, scale * d(loss)/d(p) -- or with respect to the pre-activation
// when fused (softmax for the cross-entropies, sigmoid for binary): the stable (p - y) form.
// smoothing: Keras's label_smoothing of the categorical and binary cross-entropies; delta: Huber's.
template <typename T>
DPT_HD T loss_row(LossKind kind, bool fused, const T* p, const T* y, int64_t cols, T scale, T* g, T smoothing = T(0),
                  T delta = T(1), FocalParams focal = FocalParams()) {
  if (loss_is_focal(kind))
    return focal_row(loss_base(kind), loss_from_logits(kind), p, y, cols, scale, g, smoothing, focal);
  if (loss_from_logits(kind)) return logits_row(loss_base(kind), p, y, cols, scale, g, smoothing);
  T sample = 0;
  switch (kind) {
    case LossKind::categorical_crossentropy: {
      const Targets<T> t = smoothed(y, smoothing, T(1) / T(cols));
      T ysum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        sample += xent_term(p[c], t[c]);
        ysum += t[c];
      }
      if (g)
        for (int64_t c = 0; c < cols; ++c)
          g[c] = fused ? scale * (p[c] * ysum - t[c]) : (t[c] == T(0) ? T(0) : -scale * t[c] / clip_prob(p[c]));
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
      const Targets<T> t = smoothed(y, smoothing, T(0.5));
      for (int64_t c = 0; c < cols; ++c) sample += bce_term(p[c], t[c]);
      sample /= T(cols);
      if (g)
        for (int64_t c = 0; c < cols; ++c) g[c] = scale / T(cols) * (fused ? p[c] - t[c] : bce_grad(p[c], t[c]));
      break;
    }
    case LossKind::mean_squared_error: {
      for (int64_t c = 0; c < cols; ++c) sample += sq_term(p[c], y[c]);
      sample /= T(cols);
      if (g)
        for (int64_t c = 0; c < cols; ++c) g[c] = scale * T(2) * (p[c] - y[c]) / T(cols);
      break;
    }
    case LossKind::mean_absolute_error:
    case LossKind::huber:
    case LossKind::log_cosh:
    case LossKind::mean_squared_logarithmic_error:
    case LossKind::kl_divergence:
    case LossKind::poisson:
    case LossKind::mean_absolute_percentage_error:
    case LossKind::hinge:
    case LossKind::squared_hinge: {
      const T per = kind == LossKind::kl_divergence ? T(1) : T(1) / T(cols);  // KL: the sum, else the mean
      const bool to_signs = (kind == LossKind::hinge || kind == LossKind::squared_hinge) && hinge_binary_row(y, cols);
      for (int64_t c = 0; c < cols; ++c) {
        T term = 0, d = 0;
        elementwise_term(kind, p[c], to_signs ? T(2) * y[c] - T(1) : y[c], &term, &d, delta);
        sample += term;
        if (g) g[c] = scale * per * d;
      }
      sample *= per;
      break;
    }
    case LossKind::categorical_hinge: return categorical_hinge_row(p, y, cols, scale, g);
    case LossKind::cosine_similarity: return cosine_row(p, y, cols, scale, g);
    default: break;  // the from_logits kinds, above
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

// Keras's in_top_k: the target's class is among the k largest predictions, counting as larger
// only those strictly above it (ties at the boundary count as in the top k, as TF and Keras's JAX
// backend count them).
template <typename T>
DPT_HD bool in_top_k(const T* p, int64_t cols, int64_t label, int k) {
  int64_t above = 0;
  for (int64_t c = 0; c < cols; ++c) above += p[c] > p[label] ? 1 : 0;
  return above < int64_t(k);
}

// One sample's metric: accuracy 0 or 1, or the fraction of matching columns for binary (Keras's
// binary_accuracy: the thresholded prediction equals the target, so a soft target never matches);
// the mean over columns of |p - y| or (p - y)^2 for the regression errors (root_mean_squared_error:
// the squared error, its root taken of the mean, metric_result); the cosine similarity; a loss's
// value.
template <typename T>
DPT_HD T metric_row(const MetricFormula& f, const T* p, const T* y, int64_t cols) {
  switch (f.kind) {
    case MetricKind::categorical: return argmax_row(p, cols) == argmax_row(y, cols) ? T(1) : T(0);
    case MetricKind::sparse_categorical: return argmax_row(p, cols) == int64_t(y[0]) ? T(1) : T(0);
    case MetricKind::top_k_categorical: return in_top_k(p, cols, argmax_row(y, cols), f.k) ? T(1) : T(0);
    case MetricKind::sparse_top_k_categorical: return in_top_k(p, cols, int64_t(y[0]), f.k) ? T(1) : T(0);
    case MetricKind::mean_absolute_error:
    case MetricKind::mean_squared_error:
    case MetricKind::root_mean_squared_error: {
      T s = T(0);
      for (int64_t c = 0; c < cols; ++c) {
        const T d = p[c] - y[c];
        s += f.kind == MetricKind::mean_absolute_error ? (d < T(0) ? -d : d) : d * d;
      }
      return s / T(cols);
    }
    case MetricKind::cosine_similarity: return -cosine_row(p, y, cols, T(0), static_cast<T*>(nullptr));
    case MetricKind::loss: return loss_row(f.loss, false, p, y, cols, T(0), static_cast<T*>(nullptr), T(f.smoothing));
    default: {
      int64_t ok = 0;
      for (int64_t c = 0; c < cols; ++c) ok += (p[c] > T(f.threshold) ? T(1) : T(0)) == y[c];
      return T(ok) / T(cols);
    }
  }
}

// The metric's value from the mean of its rows (root_mean_squared_error: the root of the mean).
inline double metric_result(const MetricFormula& f, double mean) {
  return f.kind == MetricKind::root_mean_squared_error ? std::sqrt(mean) : mean;
}

// One row's values of every slot of the metric, slot s at out[s * stride] (added to it when `add`):
// metric_row's value, or the confusion metrics' counts. A label counts as positive where it is not 0
// and a prediction where it is above the threshold, as Keras's confusion metrics count them (all
// columns, flattened, or one class_id). The AUC counts each column into bucket
// max(ceil(p (bins - 1)) - 1, 0) of p clipped to [0, 1] (positives in slots [0, bins), negatives in
// [bins, 2 bins)): Keras's evenly spaced thresholds, a prediction counting for every threshold it is
// strictly above. A weighted metric's values are each times the row's weight `w` (Keras's
// sample_weight), and its weight slot (metric_weight_slot) gains w, or R2's the row's columns.
template <typename T, typename U>
DPT_HD void metric_row_slots(const MetricFormula& f, const T* p, const T* y, int64_t cols, U* out, int64_t stride,
                             bool add = false, T w = T(1)) {
  const T m = f.weighted ? w : T(1);
  const int ws = metric_weight_slot(f);
  if (ws >= 0) out[ws * stride] = (add ? out[ws * stride] : U(0)) + U(f.kind == MetricKind::r2 ? T(cols) : m);
  if (f.kind == MetricKind::precision || f.kind == MetricKind::recall) {
    T tp = 0, other = 0;
    const int64_t c0 = f.class_id >= 0 ? f.class_id : 0, c1 = f.class_id >= 0 ? f.class_id + 1 : cols;
    for (int64_t c = c0; c < c1; ++c) {
      const bool pos = y[c] != T(0), said = p[c] > T(f.threshold);
      tp += pos && said ? T(1) : T(0);
      other += (f.kind == MetricKind::precision ? said : pos) ? T(1) : T(0);
    }
    out[0] = (add ? out[0] : U(0)) + U(m * tp);
    out[stride] = (add ? out[stride] : U(0)) + U(m * other);
    return;
  }
  if (f.kind == MetricKind::fbeta) {  // Keras's FBetaScore: threshold < 0 (None) marks the row's largest
    T top = p[0];
    for (int64_t c = 1; c < cols; ++c) top = p[c] > top ? p[c] : top;
    for (int64_t c = 0; c < cols; ++c) {
      const T a = p[c] < T(0) ? -p[c] : p[c];
      const T said = (f.threshold < 0.f ? p[c] >= top && a > T(1e-9) : p[c] > T(f.threshold)) ? T(1) : T(0);
      const T v[4] = {m * said * y[c], m * said * (T(1) - y[c]), m * (T(1) - said) * y[c], m * y[c]};
      for (int j = 0; j < 4; ++j) out[(j * cols + c) * stride] = (add ? out[(j * cols + c) * stride] : U(0)) + U(v[j]);
    }
    return;
  }
  if (f.kind == MetricKind::r2) {  // Keras's R2Score: sum y, sum y^2, sum (y - p)^2, count, per column
    for (int64_t c = 0; c < cols; ++c) {
      const T v[4] = {m * y[c], m * y[c] * y[c], m * (y[c] - p[c]) * (y[c] - p[c]), m};
      for (int j = 0; j < 4; ++j) out[(j * cols + c) * stride] = (add ? out[(j * cols + c) * stride] : U(0)) + U(v[j]);
    }
    return;
  }
  if (f.kind == MetricKind::auc) {  // multi_label: column c's buckets from 2 bins c on
    if (!add)
      for (int64_t b = 0; b < 2 * int64_t(f.bins) * (f.multi_label ? cols : 1); ++b) out[b * stride] = U(0);
    for (int64_t c = 0; c < cols; ++c) {
      T v = f.logits ? T(1) / (T(1) + std::exp(-p[c])) : p[c];
      v = v < T(0) ? T(0) : (v > T(1) ? T(1) : v);
      int b = int(std::ceil(v * T(f.bins - 1))) - 1;
      b = b < 0 ? 0 : b;
      const int64_t base = f.multi_label ? 2 * int64_t(f.bins) * c : 0;
      out[(base + (y[c] != T(0) ? 0 : f.bins) + b) * stride] += U(m);
    }
    return;
  }
  out[0] = (add ? out[0] : U(0)) + U(m * metric_row(f, p, y, cols));
}

// The area under one curve of the AUC's counts (2 bins: the positives' buckets, the negatives'), as
// Keras's AUC.result() sums it.
inline double auc_area(const MetricFormula& f, const double* sums) {
  const auto ratio = [](double a, double b) { return b == 0 ? 0.0 : a / b; };
  // tp[t], fp[t]: the positives and negatives above threshold t (the buckets from t up).
  const int n = f.bins;
  double P = 0, N = 0;
  for (int b = 0; b < n; ++b) {
    P += sums[b];
    N += sums[n + b];
  }
  double tp_next = 0, fp_next = 0, area = 0;
  for (int t = n - 1; t >= 1; --t) {  // from the highest threshold down: tp_next at t, tp_at at t - 1
    const double tp_at = tp_next + sums[t - 1], fp_at = fp_next + sums[n + t - 1];
    // The segment between thresholds t - 1 (tp_at) and t (tp_next), as Keras's result() sums it.
    if (f.curve == 1 && f.summation == 0) {  // PR, interpolated (Davis and Goadrich)
      const double dtp = tp_at - tp_next, p_at = tp_at + fp_at, p_next = tp_next + fp_next;
      const double dp = p_at - p_next, slope = ratio(dtp, dp > 0 ? dp : 0), intercept = tp_next - slope * p_next;
      const double safe = p_at > 0 && p_next > 0 ? ratio(p_at, p_next > 0 ? p_next : 0) : 1.0;
      area += ratio(slope * (dtp + intercept * std::log(safe)), P);  // over tp + fn, the positives
    } else {
      double x0, x1, y0, y1;
      if (f.curve == 0) {  // ROC: x the false positive rate, y the recall
        x0 = ratio(fp_at, N), x1 = ratio(fp_next, N), y0 = ratio(tp_at, P), y1 = ratio(tp_next, P);
      } else {  // PR: x the recall, y the precision
        x0 = ratio(tp_at, P), x1 = ratio(tp_next, P), y0 = ratio(tp_at, tp_at + fp_at),
        y1 = ratio(tp_next, tp_next + fp_next);
      }
      const double h =
          f.summation == 0 ? (y0 + y1) / 2 : (f.summation == 1 ? (y0 < y1 ? y0 : y1) : (y0 > y1 ? y0 : y1));
      area += (x0 - x1) * h;
    }
    tp_next = tp_at;
    fp_next = fp_at;
  }
  return area;
}

// The metric's value from its slots' sums over the samples seen (`seen`: what the per-sample
// values are averaged over; a weighted metric's weight slot instead). Keras's divide_no_nan: 0 where
// a ratio's denominator is 0. label_weights (nullable): a multi-label AUC's weights of its labels.
inline double metric_value(const MetricFormula& f, const double* sums, double seen,
                           const double* label_weights = nullptr) {
  const auto ratio = [](double a, double b) { return b == 0 ? 0.0 : a / b; };
  if (metric_weight_slot(f) >= 0 && f.kind != MetricKind::r2) seen = sums[metric_weight_slot(f)];
  if (f.kind == MetricKind::precision || f.kind == MetricKind::recall) return ratio(sums[0], sums[1]);
  if (f.kind == MetricKind::fbeta) {  // Keras's FBetaScore.result(), its epsilon 1e-7 included
    const double eps = kLossEpsilon, b2 = double(f.beta) * double(f.beta);
    const double *tp = sums, *fp = sums + f.width, *fn = sums + 2 * f.width, *support = sums + 3 * f.width;
    const auto score = [&](double t, double p, double n) {
      const double prec = t / (t + p + eps), rec = t / (t + n + eps);
      return prec * rec / (b2 * prec + rec + eps) * (1 + b2);
    };
    if (f.average == 0) {  // micro: the counts of every column together
      double t = 0, p = 0, n = 0;
      for (int c = 0; c < f.width; ++c) t += tp[c], p += fp[c], n += fn[c];
      return score(t, p, n);
    }
    double total = 0, weights = 0;
    for (int c = 0; c < f.width; ++c) {
      total += score(tp[c], fp[c], fn[c]) * (f.average == 2 ? support[c] : 1.0);
      weights += support[c];
    }
    return f.average == 2 ? total / (weights + eps) : total / f.width;
  }
  if (f.kind == MetricKind::r2) {  // Keras's R2Score.result()
    const double *sy = sums, *syy = sums + f.width, *res = sums + 2 * f.width, *count = sums + 3 * f.width;
    double score = 0, weighted = 0, weights = 0, samples = 0;
    for (int c = 0; c < f.width; ++c) {
      const double total = syy[c] - sy[c] * (sy[c] / count[c]);
      double raw = 1 - res[c] / total;
      raw = std::isinf(raw) ? 0.0 : raw;
      score += raw / f.width;
      weighted += total * raw;
      weights += total;
      samples += count[c];
    }
    if (f.weighted) samples = sums[metric_weight_slot(f)];  // Keras's num_samples: the values, unweighted
    if (f.average == 2) score = weighted / weights;
    if (f.regressors != 0 && f.regressors < samples - 1)  // adjusted, over every value (Keras's ops.size)
      score = 1 - (1 - score) * (samples - 1) / (samples - f.regressors - 1);
    return score;
  }
  if (f.kind != MetricKind::auc) return metric_result(f, seen > 0 ? sums[0] / seen : 0.0);
  if (!f.multi_label) return auc_area(f, sums);
  double total = 0, weights = 0;  // Keras's multi_label: the labels' AUCs averaged (by label_weights)
  for (int c = 0; c < f.width; ++c) {
    const double lw = label_weights ? label_weights[c] : 1.0;
    total += lw * auc_area(f, sums + 2 * int64_t(f.bins) * c);
    weights += lw;
  }
  return ratio(total, weights);
}

}  // namespace dpt::kernels
