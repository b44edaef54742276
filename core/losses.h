// Losses by Keras name, and the fusion rule: softmax + (sparse) categorical cross-entropy and
// sigmoid + binary cross-entropy take the stable (p - y) gradient at the pre-activation.
#pragma once
#include <string>
#include <vector>
#include "core/tensor.h"
#include "kernels/activation_math.h"
#include "kernels/loss_math.h"

namespace dpt {

using kernels::FocalParams;
using kernels::LossKind;
using kernels::MetricKind;

// Keras's names, aliases (mse) and class names (MeanSquaredError); from_logits: Keras's
// from_logits=True (the cross-entropies).
LossKind loss_from_name(const std::string& name, bool from_logits = false);
// The same without failing: false for an identifier dptrain has no loss for.
bool loss_kind_from_id(const std::string& id, LossKind* out);
std::string loss_name(LossKind k);        // Keras's name, from_logits or not
std::string loss_class_name(LossKind k);  // Keras's class (CategoricalCrossentropy)
extern const char* const kLossNames;      // every name loss_from_name takes, for messages
// A loss other than the cross-entropies and KL divergence (mean squared error, hinge, ...): dptrain
// logs it alone by default, where it logs accuracy beside a cross-entropy.
bool loss_is_regression(LossKind k);
// The name, with its settings where set: "categorical_crossentropy (from_logits=True, label_smoothing=0.1)",
// "huber (delta=2.5)".
std::string loss_describe(LossKind k, double label_smoothing = 0, double delta = 1, FocalParams focal = {});
using kernels::loss_base;
using kernels::loss_from_logits;
bool loss_fuses_with(LossKind k, kernels::Activation last);
bool loss_wants_one_hot(LossKind k);

// Keras's label_smoothing, which its categorical and binary cross-entropies take (in [0, 1]);
// refused for the other losses, naming the loss.
void check_label_smoothing(LossKind k, double smoothing);
// Keras's Huber(delta=...): > 0 and finite, and only for Huber (delta 1, Keras's default, for any loss).
void check_huber_delta(LossKind k, double delta);
// The focal cross-entropies' settings: gamma >= 0, alpha in [0, 1]; other than Keras's defaults
// (alpha 0.25, gamma 2, no balancing) only for those losses, and balancing only for the binary one.
void check_focal(LossKind k, const FocalParams& f);
using kernels::loss_is_focal;

// A compiled loss as files and the command line give it: the kind, its label_smoothing and Huber's delta.
struct LossSpec {
  LossKind kind;
  double label_smoothing = 0;
  double delta = 1;
  FocalParams focal;                                                    // the focal cross-entropies'
  LossSpec(LossKind k, double s = 0, double d = 1, FocalParams f = {})  // NOLINT: a LossKind is a LossSpec
      : kind(k), label_smoothing(s), delta(d), focal(f) {}
};

// Sum over the rows of per-sample losses; writes scale * d(sum)/d(pred) into grad when given.
// row_weight (nullable): per-sample weights (class weights), one per row.
double loss_sum(LossKind k, bool fused, const Tensor& pred, const Tensor& target, float scale, Tensor* grad,
                const float* row_weight = nullptr, float smoothing = 0.f, float delta = 1.f, FocalParams focal = {});

// Keras's class_weight: "balanced" (n / (classes * count_c), as scikit-learn) or a JSON file
// {"0": 1.0, "3": 2.5} (classes not named weigh 1). labels: class indices.
std::vector<double> class_weights(const std::string& spec, const std::vector<float>& labels, int64_t classes);

}  // namespace dpt
