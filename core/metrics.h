// The 'accuracy' metric, resolved as Keras resolves it from the loss and the output width.
#pragma once
#include <string>
#include "core/losses.h"

namespace dpt {

// binary_crossentropy or a 1-wide output -> binary; sparse loss -> sparse_categorical; else categorical.
AccuracyKind accuracy_for(LossKind loss, int64_t output_width);
// Sum over rows of per-sample accuracy.
double accuracy_sum(AccuracyKind k, const Tensor& pred, const Tensor& target);

}  // namespace dpt
