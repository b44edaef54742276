// The metrics dptrain computes beside the loss, under the names compile(metrics=[...]) gives them in
// Keras 3: the accuracies ('accuracy' resolved as Keras resolves it from the shapes; top-k), the
// regression errors, the cosine similarity, and the metrics that are a loss's formula (the
// cross-entropies, kl_divergence, poisson, the hinges, msle, mape, logcosh).
#pragma once
#include <string>
#include <vector>
#include "core/losses.h"

namespace dpt {

// As Keras 3 resolves 'accuracy' from the shapes: a 1-wide output -> binary; class-index targets (the
// sparse loss) -> sparse_categorical; else categorical (binary_crossentropy on several outputs too,
// where tf.keras 2 chose binary: ask for binary_accuracy by name).
MetricKind accuracy_for(LossKind loss, int64_t output_width);

// A metric asked for by its Keras identifier, before the loss and output width are known, with its
// Keras class's settings.
struct MetricRequest {
  std::string name;  // as logged
  std::string kind;  // the Keras function's name ("top_k_categorical_accuracy"), or "accuracy" (follow the shapes)
  int k = 5;         // TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy
  double threshold = 0.5;      // BinaryAccuracy's threshold; Precision's and Recall's thresholds
  bool from_logits = false;    // the cross-entropy metrics, AUC
  double label_smoothing = 0;  // CategoricalCrossentropy, BinaryCrossentropy
  int class_id = -1;           // Precision, Recall (-1: None, every column)
  int num_thresholds = 200;    // AUC
  std::string curve = "ROC";   // AUC: ROC or PR
  std::string summation_method = "interpolation";  // AUC: interpolation, minoring or majoring
  bool multi_label = false;                        // AUC: a curve per column, their areas averaged
  int num_labels = 0;                              // AUC: Keras's num_labels (0: None, the output's)
  std::vector<double> label_weights;               // AUC (multi_label): the labels' weights in the average
  double beta = 1;                                 // FBetaScore
  std::string average = "None";                    // FBetaScore, F1Score: micro, macro or weighted
  double fbeta_threshold = -1;                     // FBetaScore, F1Score (< 0: None, each row's largest)
  std::string class_aggregation = "uniform_average";  // R2Score: or variance_weighted_average
  int num_regressors = 0;                             // R2Score
  bool weighted = false;  // one of compile(weighted_metrics=...): weighed by the sample weights
  MetricRequest() = default;
  MetricRequest(std::string n, std::string kd) : name(std::move(n)), kind(std::move(kd)) {}
  // A Keras identifier as compile() takes it ("mae"); fails for one dptrain does not compute.
  MetricRequest(const char* id);  // NOLINT: an identifier is a request
  // Whether compile() given the string `name` asks for this same metric (so a file can hold the string).
  bool is_plain_string() const;
};
using MetricRequests = std::vector<MetricRequest>;

// One metric a model is compiled to report (a model reports none, one or several, in order): its
// formula, and the request it came from (which files save).
struct Metric : kernels::MetricFormula {
  std::string name;  // the logged name ("accuracy", "acc", "mean_absolute_error", ...)
  MetricRequest request;
};

using kernels::metric_result;
using kernels::metric_value;
// metric_value of a compiled metric, with its request's label weights (a multi-label AUC's).
inline double metric_value(const Metric& m, const double* sums, double seen) {
  return kernels::metric_value(m, sums, seen,
                               m.request.label_weights.empty() ? nullptr : m.request.label_weights.data());
}

// The identifiers dptrain computes, for messages.
extern const char* const kMetricNames;
// A Keras metric identifier (a compile() string, an alias or a Keras 3 class name) as a request
// with the class's defaults and default name. False for one dptrain does not compute.
bool metric_request(const std::string& id, MetricRequest* out);
// The Keras class of a request's kind ("TopKCategoricalAccuracy"); "" for "accuracy".
std::string metric_class_name(const std::string& kind);
// The name Keras's class logs under by default ("logcosh" for log_cosh_error).
std::string metric_default_name(const std::string& kind);
// Whether dptrain applies the argument `arg` of the metric kind's class (k, threshold, from_logits,
// label_smoothing, thresholds, class_id, num_thresholds, curve, summation_method, and multi_label and
// top_k at their defaults; name and dtype aside).
bool metric_takes(const std::string& kind, const std::string& arg);
// Sets one of a metric class's settings by Keras's argument name (k, threshold, from_logits,
// label_smoothing, name) from its text; fails naming the metric where the class has no such
// argument or the value is not one. `where` starts the message.
void set_metric_argument(MetricRequest& r, const std::string& key, const std::string& value, const std::string& where);
// --metrics: identifiers separated by commas ("accuracy,mae"), each with its class's arguments after a
// colon ("top_k_categorical_accuracy:k=3,name=top3,mae"), or "none". Fails naming an unknown one.
// weighted: --weighted-metrics, Keras's weighted_metrics (each request marked weighted).
MetricRequests parse_metrics(const std::string& list, bool weighted = false);
// Keras's default when compile() names no metric is none; dptrain's command line reports accuracy
// for the cross-entropy losses (its presets are classifiers) and nothing for the others.
MetricRequests default_metrics(LossKind loss);
// Resolves a request against the loss (which decides the targets' form) and the output width;
// fails where the named metric cannot read those targets.
Metric resolve_metric(const MetricRequest& req, LossKind loss, int64_t output_width);
// "accuracy, mean_absolute_error", or "none", for messages.
std::string metric_list(const std::vector<std::string>& names);
// Every request resolved; a name logged twice fails. A weighted metric whose name an earlier metric
// logs under logs as "weighted_" + its name, as Keras's CompileMetrics names it.
std::vector<Metric> resolve_metrics(const MetricRequests& reqs, LossKind loss, int64_t output_width);

}  // namespace dpt
