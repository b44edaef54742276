// The metric a model is compiled with: Keras identifiers, resolution against the loss, and dispatch.
#include "core/metrics.h"
#include <utility>
#include "core/error.h"
#include "core/strings.h"
#include "kernels/loss.h"

namespace dpt {

MetricKind accuracy_for(LossKind loss, int64_t width) {
  if (width == 1) return MetricKind::binary;
  if (loss_base(loss) == LossKind::sparse_categorical_crossentropy) return MetricKind::sparse_categorical;
  return MetricKind::categorical;
}

double metric_sum(MetricKind k, const Tensor& pred, const Tensor& target) {
  const int64_t rows = pred.dim(0), cols = rows ? pred.numel() / rows : 0;
  return kernels::metric_sum_cpu<float>(k, pred.data(), target.data(), rows, cols);
}

const char* const kMetricNames =
    "accuracy (or acc), categorical_accuracy, sparse_categorical_accuracy, binary_accuracy, mean_absolute_error "
    "(or mae), mean_squared_error (or mse), or none";

bool metric_request(const std::string& id, MetricRequest* out) {
  // Keras 3's compile() strings log under the name given ('acc' as acc, 'mae' as mae: Keras 3.15's
  // fit and evaluate, checked); its classes under their default names.
  struct Known {
    const char* id;
    const char* name;
    const char* kind;
  };
  static const Known known[] = {
      {"accuracy", "accuracy", "accuracy"},
      {"acc", "acc", "accuracy"},
      {"categorical_accuracy", "categorical_accuracy", "categorical_accuracy"},
      {"CategoricalAccuracy", "categorical_accuracy", "categorical_accuracy"},
      {"sparse_categorical_accuracy", "sparse_categorical_accuracy", "sparse_categorical_accuracy"},
      {"SparseCategoricalAccuracy", "sparse_categorical_accuracy", "sparse_categorical_accuracy"},
      {"binary_accuracy", "binary_accuracy", "binary_accuracy"},
      {"BinaryAccuracy", "binary_accuracy", "binary_accuracy"},
      {"mae", "mae", "mean_absolute_error"},
      {"mean_absolute_error", "mean_absolute_error", "mean_absolute_error"},
      {"MeanAbsoluteError", "mean_absolute_error", "mean_absolute_error"},
      {"mse", "mse", "mean_squared_error"},
      {"mean_squared_error", "mean_squared_error", "mean_squared_error"},
      {"MeanSquaredError", "mean_squared_error", "mean_squared_error"},
  };
  for (const Known& k : known)
    if (id == k.id) {
      *out = MetricRequest{k.name, k.kind};
      return true;
    }
  return false;
}

MetricRequests parse_metrics(const std::string& list) {
  MetricRequests out;
  if (list == "none") return out;
  for (const std::string& id : split(list, ',')) {
    MetricRequest r;
    DPT_CHECK(metric_request(id, &r), "unknown metric '" << id << "' for --metrics; dptrain computes " << kMetricNames);
    out.push_back(r);
  }
  return out;
}

std::string metric_list(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

MetricRequests default_metrics(LossKind loss) {
  if (loss_is_regression(loss)) return {};
  return {{"accuracy", "accuracy"}};
}

std::vector<Metric> resolve_metrics(const MetricRequests& reqs, LossKind loss, int64_t width) {
  std::vector<Metric> out;
  for (const MetricRequest& r : reqs) {
    for (const Metric& m : out) DPT_CHECK(m.name != r.name, "metric '" << r.name << "' is asked for twice");
    out.push_back(resolve_metric(r, loss, width));
  }
  return out;
}

Metric resolve_metric(const MetricRequest& req, LossKind loss, int64_t width) {
  Metric m;
  m.name = req.name;
  const bool sparse = loss_base(loss) == LossKind::sparse_categorical_crossentropy;
  if (req.kind == "accuracy") {
    m.kind = accuracy_for(loss, width);
    return m;
  }
  // The targets follow the loss: class indices for the sparse loss, else one column per output.
  if (req.kind == "sparse_categorical_accuracy") {
    DPT_CHECK(sparse, "metric '" << req.name << "' compares class indices, but loss " << loss_name(loss)
                                 << " trains on one column per output; use --metrics accuracy");
    m.kind = MetricKind::sparse_categorical;
    return m;
  }
  static const std::pair<const char*, MetricKind> by_column[] = {
      {"categorical_accuracy", MetricKind::categorical},
      {"binary_accuracy", MetricKind::binary},
      {"mean_absolute_error", MetricKind::mean_absolute_error},
      {"mean_squared_error", MetricKind::mean_squared_error}};
  for (const auto& [kind, k] : by_column)
    if (req.kind == kind) {
      DPT_CHECK(!sparse, "metric '" << req.name << "' compares one column per output, but loss " << loss_name(loss)
                                    << " trains on class indices; use --metrics accuracy");
      m.kind = k;
      return m;
    }
  DPT_FAIL("unknown metric kind '" << req.kind << "'");
}

}  // namespace dpt
