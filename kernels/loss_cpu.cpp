// CPU losses and accuracy.
#include "kernels/loss.h"
#include <algorithm>

namespace dpt::kernels {

template <typename T>
static int64_t argmax(const T* v, int64_t n) {
  return std::max_element(v, v + n) - v;  // first maximum, as numpy/TF argmax
}

template <typename T>
double loss_cpu(LossKind kind, bool fused, const T* pred, const T* target, int64_t rows, int64_t cols, T scale,
                T* grad) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = pred + r * cols;
    T* g = grad ? grad + r * cols : nullptr;
    double sample = 0;
    switch (kind) {
      case LossKind::categorical_crossentropy: {
        const T* y = target + r * cols;
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
        const int64_t label = int64_t(target[r]);
        sample = -std::log(clip_prob(p[label]));
        if (g) {
          for (int64_t c = 0; c < cols; ++c) g[c] = fused ? scale * p[c] : T(0);
          g[label] += fused ? -scale : -scale / clip_prob(p[label]);
        }
        break;
      }
      case LossKind::binary_crossentropy: {
        const T* y = target + r * cols;
        for (int64_t c = 0; c < cols; ++c) sample += bce_term(p[c], y[c]);
        sample /= double(cols);
        if (g)
          for (int64_t c = 0; c < cols; ++c)
            g[c] = scale / T(cols) * (fused ? p[c] - y[c] : bce_grad(p[c], y[c]));
        break;
      }
      case LossKind::mean_squared_error: {
        const T* y = target + r * cols;
        for (int64_t c = 0; c < cols; ++c) sample += sq_term(p[c], y[c]);
        sample /= double(cols);
        if (g)
          for (int64_t c = 0; c < cols; ++c) g[c] = scale * T(2) * (p[c] - y[c]) / T(cols);
        break;
      }
    }
    total += sample;
  }
  return total;
}

template <typename T>
double accuracy_sum_cpu(AccuracyKind kind, const T* pred, const T* target, int64_t rows, int64_t cols) {
  double correct = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = pred + r * cols;
    switch (kind) {
      case AccuracyKind::categorical:
        correct += argmax(p, cols) == argmax(target + r * cols, cols) ? 1.0 : 0.0;
        break;
      case AccuracyKind::sparse_categorical:
        correct += argmax(p, cols) == int64_t(target[r]) ? 1.0 : 0.0;
        break;
      case AccuracyKind::binary: {
        int64_t ok = 0;
        for (int64_t c = 0; c < cols; ++c) ok += (p[c] > T(0.5)) == (target[r * cols + c] > T(0.5));
        correct += double(ok) / double(cols);
        break;
      }
    }
  }
  return correct;
}

template double loss_cpu<float>(LossKind, bool, const float*, const float*, int64_t, int64_t, float, float*);
template double loss_cpu<double>(LossKind, bool, const double*, const double*, int64_t, int64_t, double, double*);
template double accuracy_sum_cpu<float>(AccuracyKind, const float*, const float*, int64_t, int64_t);
template double accuracy_sum_cpu<double>(AccuracyKind, const double*, const double*, int64_t, int64_t);

}  // namespace dpt::kernels
