// Losses and metrics (accuracy, regression errors) on (rows, cols) predictions. Targets: (rows,
// cols) for categorical, binary and MSE; (rows, 1) class indices for sparse categorical.
#pragma once
#include <cstdint>
#include "kernels/loss_math.h"

namespace dpt::kernels {

// Returns the sum over rows of the per-sample losses. When grad is given, writes
// scale * d(sum of losses)/d(pred); with fused = true, the gradient is taken with respect to the
// last layer's pre-activation instead (softmax for the cross-entropies, sigmoid for binary),
// the numerically stable (p - y) form.
// row_weight (nullable): each sample's loss and gradient are multiplied by its weight (Keras's
// class_weight / sample_weight; the sum is still over the batch size, as Keras reduces it).
// smoothing: Keras's label_smoothing (the categorical and binary cross-entropies); delta: Huber's;
// focal: the focal cross-entropies' alpha, gamma and class balancing.
template <typename T>
double loss_cpu(LossKind kind, bool fused, const T* pred, const T* target, int64_t rows, int64_t cols, T scale, T* grad,
                const T* row_weight = nullptr, T smoothing = T(0), T delta = T(1), FocalParams focal = FocalParams());

// Sum over rows of the per-sample metric (metric_row).
template <typename T>
double metric_sum_cpu(const MetricFormula& kind, const T* pred, const T* target, int64_t rows, int64_t cols);
// Adds each of the metric's slots summed over rows (metric_row_slots) to sums[0, metric_slots(f)).
// row_weight (nullable): each row's sample weight, which a weighted metric (f.weighted) applies.
template <typename T>
void metric_slots_cpu(const MetricFormula& f, const T* pred, const T* target, int64_t rows, int64_t cols, double* sums,
                      const T* row_weight = nullptr);

// CUDA: one thread per row through loss_row/metric_row. Writes each row's loss (and metric)
// to device arrays, so the host reads one sum per step instead of synchronising per call.
void loss_rows_cuda(LossKind kind, bool fused, const float* pred, const float* target, int64_t rows, int64_t cols,
                    float scale, float* grad, float* row_loss, const float* row_weight, void* stream,
                    float smoothing = 0.f, float delta = 1.f, FocalParams focal = FocalParams());
// Each row's value of each slot of the metric: slot s of row r at row_acc[s * stride + r]; row_weight
// (nullable) as metric_slots_cpu's.
void metric_rows_cuda(const MetricFormula& kind, const float* pred, const float* target, int64_t rows, int64_t cols,
                      float* row_acc, void* stream, int64_t stride = 0, const float* row_weight = nullptr);

}  // namespace dpt::kernels
