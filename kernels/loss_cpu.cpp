// CPU losses and metrics: a loop over rows of the shared per-row formulas (loss_math.h).
#include "kernels/loss.h"

namespace dpt::kernels {

template <typename T>
double loss_cpu(LossKind kind, bool fused, const T* pred, const T* target, int64_t rows, int64_t cols, T scale, T* grad,
                const T* row_weight, T smoothing, T delta, FocalParams focal) {
  const int64_t tcols = loss_base(kind) == LossKind::sparse_categorical_crossentropy ? 1 : cols;
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T w = row_weight ? row_weight[r] : T(1);
    total += double(w) * double(loss_row(kind, fused, pred + r * cols, target + r * tcols, cols, scale * w,
                                         grad ? grad + r * cols : nullptr, smoothing, delta, focal));
  }
  return total;
}

template <typename T>
double metric_sum_cpu(const MetricFormula& kind, const T* pred, const T* target, int64_t rows, int64_t cols) {
  const int64_t tcols = metric_sparse(kind) ? 1 : cols;
  double correct = 0;
  for (int64_t r = 0; r < rows; ++r) correct += metric_row(kind, pred + r * cols, target + r * tcols, cols);
  return correct;
}

template <typename T>
void metric_slots_cpu(const MetricFormula& f, const T* pred, const T* target, int64_t rows, int64_t cols, double* sums,
                      const T* row_weight) {
  const int64_t tcols = metric_sparse(f) ? 1 : cols;
  for (int64_t r = 0; r < rows; ++r)
    metric_row_slots(f, pred + r * cols, target + r * tcols, cols, sums, 1, true, row_weight ? row_weight[r] : T(1));
}

template double loss_cpu<float>(LossKind, bool, const float*, const float*, int64_t, int64_t, float, float*,
                                const float*, float, float, FocalParams);
template double loss_cpu<double>(LossKind, bool, const double*, const double*, int64_t, int64_t, double, double*,
                                 const double*, double, double, FocalParams);
template double metric_sum_cpu<float>(const MetricFormula&, const float*, const float*, int64_t, int64_t);
template double metric_sum_cpu<double>(const MetricFormula&, const double*, const double*, int64_t, int64_t);
template void metric_slots_cpu<float>(const MetricFormula&, const float*, const float*, int64_t, int64_t, double*,
                                      const float*);
template void metric_slots_cpu<double>(const MetricFormula&, const double*, const double*, int64_t, int64_t, double*,
                                       const double*);

}  // namespace dpt::kernels
