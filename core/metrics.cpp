// Accuracy selection and dispatch, and the metric a model is compiled with.
#include "core/metrics.h"
#include "core/error.h"
#include "kernels/loss.h"

namespace dpt {

AccuracyKind accuracy_for(LossKind loss, int64_t width) {
  if (width == 1) return AccuracyKind::binary;
  if (loss == LossKind::sparse_categorical_crossentropy) return AccuracyKind::sparse_categorical;
  return AccuracyKind::categorical;
}

double accuracy_sum(AccuracyKind k, const Tensor& pred, const Tensor& target) {
  const int64_t rows = pred.dim(0), cols = rows ? pred.numel() / rows : 0;
  return kernels::accuracy_sum_cpu<float>(k, pred.data(), target.data(), rows, cols);
}

const char* const kMetricNames =
    "accuracy (or acc), categorical_accuracy, sparse_categorical_accuracy, binary_accuracy, or none";

bool metric_request(const std::string& id, MetricRequest* out) {
  // Keras's compile() strings log under the name given; its classes log under their default names.
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
  };
  if (id == "none") {
    *out = MetricRequest{};
    return true;
  }
  for (const Known& k : known)
    if (id == k.id) {
      *out = MetricRequest{k.name, k.kind};
      return true;
    }
  return false;
}

MetricRequest default_metric(LossKind loss) {
  if (loss == LossKind::mean_squared_error) return {};
  return {"accuracy", "accuracy"};
}

Metric resolve_metric(const MetricRequest& req, LossKind loss, int64_t width) {
  Metric m;
  if (req.name.empty()) return m;
  m.name = req.name;
  const bool sparse = loss == LossKind::sparse_categorical_crossentropy;
  if (req.kind == "accuracy") {
    m.kind = accuracy_for(loss, width);
    return m;
  }
  // The targets follow the loss: class indices for the sparse loss, else one column per output.
  if (req.kind == "sparse_categorical_accuracy") {
    DPT_CHECK(sparse, "metric '" << req.name << "' compares class indices, but loss " << loss_name(loss)
                                 << " trains on one column per output; use --metrics accuracy");
    m.kind = AccuracyKind::sparse_categorical;
    return m;
  }
  DPT_CHECK(req.kind == "categorical_accuracy" || req.kind == "binary_accuracy",
            "unknown metric kind '" << req.kind << "'");
  DPT_CHECK(!sparse, "metric '" << req.name << "' compares one column per output, but loss " << loss_name(loss)
                                << " trains on class indices; use --metrics accuracy");
  m.kind = req.kind == "binary_accuracy" ? AccuracyKind::binary : AccuracyKind::categorical;
  return m;
}

}  // namespace dpt
