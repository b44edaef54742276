// CUDA losses and metrics: one thread per sample through the shared per-row formulas.
#include "kernels/cuda_check.h"
#include "kernels/loss.h"

namespace dpt::kernels {

__global__ void loss_rows_kernel(LossKind kind, bool fused, const float* pred, const float* target, int64_t rows,
                                 int64_t cols, int64_t tcols, float scale, float* grad, float* row_loss,
                                 const float* row_weight, float smoothing, float delta, FocalParams focal) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r >= rows) return;
  const float w = row_weight ? row_weight[r] : 1.f;  // as loss_cpu: the weight scales loss and gradient
  row_loss[r] = w * loss_row(kind, fused, pred + r * cols, target + r * tcols, cols, scale * w,
                             grad ? grad + r * cols : nullptr, smoothing, delta, focal);
}

__global__ void metric_rows_kernel(MetricFormula kind, const float* pred, const float* target, int64_t rows,
                                   int64_t cols, int64_t tcols, float* row_acc, int64_t stride,
                                   const float* row_weight) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r >= rows) return;
  metric_row_slots(kind, pred + r * cols, target + r * tcols, cols, row_acc + r, stride, false,
                   row_weight ? row_weight[r] : 1.f);
}

void loss_rows_cuda(LossKind kind, bool fused, const float* pred, const float* target, int64_t rows, int64_t cols,
                    float scale, float* grad, float* row_loss, const float* row_weight, void* stream, float smoothing,
                    float delta, FocalParams focal) {
  if (rows == 0) return;
  const int64_t tcols = loss_base(kind) == LossKind::sparse_categorical_crossentropy ? 1 : cols;
  loss_rows_kernel<<<unsigned((rows + 127) / 128), 128, 0, static_cast<cudaStream_t>(stream)>>>(
      kind, fused, pred, target, rows, cols, tcols, scale, grad, row_loss, row_weight, smoothing, delta, focal);
  DPT_CUDA_LAUNCH_CHECK();
}

void metric_rows_cuda(const MetricFormula& kind, const float* pred, const float* target, int64_t rows, int64_t cols,
                      float* row_acc, void* stream, int64_t stride, const float* row_weight) {
  if (rows == 0) return;
  const int64_t tcols = metric_sparse(kind) ? 1 : cols;
  metric_rows_kernel<<<unsigned((rows + 127) / 128), 128, 0, static_cast<cudaStream_t>(stream)>>>(
      kind, pred, target, rows, cols, tcols, row_acc, stride > 0 ? stride : rows, row_weight);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
