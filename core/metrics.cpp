// Accuracy selection and dispatch.
#include "core/metrics.h"
#include "kernels/loss.h"

namespace dpt {

AccuracyKind accuracy_for(LossKind loss, int64_t width) {
  if (loss == LossKind::binary_crossentropy || width == 1) return AccuracyKind::binary;
  if (loss == LossKind::sparse_categorical_crossentropy) return AccuracyKind::sparse_categorical;
  return AccuracyKind::categorical;
}

double accuracy_sum(AccuracyKind k, const Tensor& pred, const Tensor& target) {
  const int64_t rows = pred.dim(0), cols = rows ? pred.numel() / rows : 0;
  return kernels::accuracy_sum_cpu<float>(k, pred.data(), target.data(), rows, cols);
}

}  // namespace dpt
