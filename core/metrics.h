// The metric dptrain computes beside the loss, under the name compile(metrics=[...]) gives it in
// Keras 3: an accuracy ('accuracy' resolved as Keras resolves it from the shapes) or a regression
// error (mean_absolute_error, mean_squared_error).
#pragma once
#include <string>
#include <vector>
#include "core/losses.h"

namespace dpt {

// As Keras 3 resolves 'accuracy' from the shapes: a 1-wide output -> binary; class-index targets (the
// sparse loss) -> sparse_categorical; else categorical (binary_crossentropy on several outputs too,
// where tf.keras 2 chose binary: ask for binary_accuracy by name).
MetricKind accuracy_for(LossKind loss, int64_t output_width);
// Sum over rows of the per-sample metric.
double metric_sum(MetricKind k, const Tensor& pred, const Tensor& target);

// One metric a model is compiled to report (a model reports none, one or several, in order).
struct Metric {
  std::string name;  // the logged name ("accuracy", "acc", "mean_absolute_error", ...)
  MetricKind kind = MetricKind::categorical;
};

// A metric asked for by its Keras identifier, before the loss and output width are known.
struct MetricRequest {
  std::string name;  // as logged
  std::string kind;  // "accuracy" (follow the shapes), "categorical_accuracy", "sparse_categorical_accuracy",
                     // "binary_accuracy", "mean_absolute_error", "mean_squared_error"
};
using MetricRequests = std::vector<MetricRequest>;

// The identifiers dptrain computes, for messages.
extern const char* const kMetricNames;
// A Keras metric identifier (a compile() string or a Keras 3 class name) as a request. False for
// one dptrain does not compute.
bool metric_request(const std::string& id, MetricRequest* out);
// --metrics: identifiers separated by commas ("accuracy,mae"), or "none". Fails naming an unknown one.
MetricRequests parse_metrics(const std::string& list);
// Keras's default when compile() names no metric is none; dptrain's command line reports accuracy
// for the cross-entropy losses (its presets are classifiers) and nothing for mean_squared_error.
MetricRequests default_metrics(LossKind loss);
// Resolves a request against the loss (which decides the targets' form) and the output width;
// fails where the named metric cannot read those targets.
Metric resolve_metric(const MetricRequest& req, LossKind loss, int64_t output_width);
// "accuracy, mean_absolute_error", or "none", for messages.
std::string metric_list(const std::vector<std::string>& names);
// Every request resolved; a name logged twice fails.
std::vector<Metric> resolve_metrics(const MetricRequests& reqs, LossKind loss, int64_t output_width);

}  // namespace dpt
