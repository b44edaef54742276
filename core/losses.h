// Losses by Keras name, and the fusion rule: softmax + (sparse) categorical cross-entropy and
// sigmoid + binary cross-entropy take the stable (p - y) gradient at the pre-activation.
#pragma once
#include <string>
#include "core/tensor.h"
#include "kernels/activation_math.h"
#include "kernels/loss_math.h"

namespace dpt {

using kernels::AccuracyKind;
using kernels::LossKind;

LossKind loss_from_name(const std::string& name);  // accepts Keras's names and aliases (mse)
std::string loss_name(LossKind k);
bool loss_fuses_with(LossKind k, kernels::Activation last);
bool loss_wants_one_hot(LossKind k);

// Sum over the rows of per-sample losses; writes scale * d(sum)/d(pred) into grad when given.
double loss_sum(LossKind k, bool fused, const Tensor& pred, const Tensor& target, float scale, Tensor* grad);

}  // namespace dpt
