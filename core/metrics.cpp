// The metrics a model is compiled with: Keras identifiers and class arguments, and their resolution against
// the loss.
#include "core/metrics.h"
#include <cmath>
#include <utility>
#include "core/error.h"
#include "core/strings.h"

namespace dpt {

MetricKind accuracy_for(LossKind loss, int64_t width) {
  if (width == 1) return MetricKind::binary;
  if (loss_base(loss) == LossKind::sparse_categorical_crossentropy) return MetricKind::sparse_categorical;
  return MetricKind::categorical;
}

namespace {

// Keras 3's metrics by the function's name (what a compile() string logs as in a .h5 file), with
// their class, the name the class logs under, other identifiers compile() takes, the class's
// arguments dptrain applies, and the formula.
struct MetricInfo {
  const char* kind;
  const char* class_name;
  const char* default_name;
  const char* aliases[2];      // Keras 3's
  const char* old_aliases[2];  // tf.keras's, which Keras 3 no longer takes (files only hold them)
  const char* args;            // besides name and dtype
  MetricKind formula;
  LossKind loss;  // formula loss: whose
};
const MetricInfo kMetrics[] = {
    {"categorical_accuracy", "CategoricalAccuracy", "categorical_accuracy", {}, {}, "", MetricKind::categorical, {}},
    {"sparse_categorical_accuracy",
     "SparseCategoricalAccuracy",
     "sparse_categorical_accuracy",
     {},
     {},
     "",
     MetricKind::sparse_categorical,
     {}},
    {"binary_accuracy", "BinaryAccuracy", "binary_accuracy", {}, {}, "threshold", MetricKind::binary, {}},
    {"top_k_categorical_accuracy",
     "TopKCategoricalAccuracy",
     "top_k_categorical_accuracy",
     {},
     {},
     "k",
     MetricKind::top_k_categorical,
     {}},
    {"sparse_top_k_categorical_accuracy",
     "SparseTopKCategoricalAccuracy",
     "sparse_top_k_categorical_accuracy",
     {},
     {},
     "k",
     MetricKind::sparse_top_k_categorical,
     {}},
    {"mean_absolute_error",
     "MeanAbsoluteError",
     "mean_absolute_error",
     {"mae"},
     {},
     "",
     MetricKind::mean_absolute_error,
     {}},
    {"mean_squared_error",
     "MeanSquaredError",
     "mean_squared_error",
     {"mse"},
     {},
     "",
     MetricKind::mean_squared_error,
     {}},
    {"root_mean_squared_error",
     "RootMeanSquaredError",
     "root_mean_squared_error",
     {},
     {},
     "",
     MetricKind::root_mean_squared_error,
     {}},
    {"mean_absolute_percentage_error",
     "MeanAbsolutePercentageError",
     "mean_absolute_percentage_error",
     {"mape"},
     {},
     "",
     MetricKind::loss,
     LossKind::mean_absolute_percentage_error},
    {"mean_squared_logarithmic_error",
     "MeanSquaredLogarithmicError",
     "mean_squared_logarithmic_error",
     {"msle"},
     {},
     "",
     MetricKind::loss,
     LossKind::mean_squared_logarithmic_error},
    // Keras 3 takes 'log_cosh_error' (its class, logged as logcosh); tf.keras's files say 'logcosh'.
    {"log_cosh_error", "LogCoshError", "logcosh", {}, {"logcosh"}, "", MetricKind::loss, LossKind::log_cosh},
    {"cosine_similarity", "CosineSimilarity", "cosine_similarity", {}, {}, "", MetricKind::cosine_similarity, {}},
    {"categorical_crossentropy",
     "CategoricalCrossentropy",
     "categorical_crossentropy",
     {},
     {},
     "from_logits,label_smoothing",
     MetricKind::loss,
     LossKind::categorical_crossentropy},
    {"sparse_categorical_crossentropy",
     "SparseCategoricalCrossentropy",
     "sparse_categorical_crossentropy",
     {},
     {},
     "from_logits",
     MetricKind::loss,
     LossKind::sparse_categorical_crossentropy},
    {"binary_crossentropy",
     "BinaryCrossentropy",
     "binary_crossentropy",
     {"bce"},
     {},
     "from_logits,label_smoothing",
     MetricKind::loss,
     LossKind::binary_crossentropy},
    {"kl_divergence",
     "KLDivergence",
     "kl_divergence",
     {},
     {"kld", "kullback_leibler_divergence"},
     "",
     MetricKind::loss,
     LossKind::kl_divergence},
    {"poisson", "Poisson", "poisson", {}, {}, "", MetricKind::loss, LossKind::poisson},
    {"hinge", "Hinge", "hinge", {}, {}, "", MetricKind::loss, LossKind::hinge},
    {"squared_hinge", "SquaredHinge", "squared_hinge", {}, {}, "", MetricKind::loss, LossKind::squared_hinge},
    {"categorical_hinge",
     "CategoricalHinge",
     "categorical_hinge",
     {},
     {},
     "",
     MetricKind::loss,
     LossKind::categorical_hinge},
    // Keras's confusion metrics, on the outputs flattened (one label per column), one threshold.
    {"precision", "Precision", "precision", {}, {}, "thresholds,class_id,top_k", MetricKind::precision, {}},
    {"recall", "Recall", "recall", {}, {}, "thresholds,class_id,top_k", MetricKind::recall, {}},
    {"auc",
     "AUC",
     "auc",
     {},
     {},
     "num_thresholds,curve,summation_method,from_logits,multi_label,num_labels,label_weights",
     MetricKind::auc,
     {}},
    {"f1_score", "F1Score", "f1_score", {}, {}, "average,threshold", MetricKind::fbeta, {}},
    {"fbeta_score", "FBetaScore", "fbeta_score", {}, {}, "average,beta,threshold", MetricKind::fbeta, {}},
    {"r2_score", "R2Score", "r2_score", {}, {}, "class_aggregation,num_regressors", MetricKind::r2, {}},
};

const MetricInfo* info_of(const std::string& kind) {
  for (const MetricInfo& m : kMetrics)
    if (kind == m.kind) return &m;
  return nullptr;
}

bool takes(const MetricInfo* m, const std::string& arg) {
  if (!m) return false;
  for (const std::string& a : split(m->args, ','))
    if (a == arg) return true;
  return false;
}

}  // namespace

const char* const kMetricNames =
    "accuracy (or acc), categorical_accuracy, sparse_categorical_accuracy, binary_accuracy, "
    "top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, mean_absolute_error (or mae), "
    "mean_squared_error (or mse), root_mean_squared_error, mean_absolute_percentage_error (or mape), "
    "mean_squared_logarithmic_error (or msle), log_cosh_error, cosine_similarity, categorical_crossentropy, "
    "sparse_categorical_crossentropy, binary_crossentropy, kl_divergence, poisson, hinge, squared_hinge, "
    "categorical_hinge, precision, recall, auc, f1_score, fbeta_score, r2_score (or their Keras classes), or none";

bool metric_request(const std::string& id, MetricRequest* out) {
  // Keras 3's compile() strings log under the name given ('acc' as acc, 'mae' as mae: Keras 3.15's
  // fit and evaluate, checked); its classes under their default names.
  if (id == "accuracy" || id == "acc") {
    *out = MetricRequest{id, "accuracy"};
    return true;
  }
  for (const MetricInfo& m : kMetrics) {
    bool as_string = id == m.kind;
    for (const char* a : m.aliases) as_string = as_string || (a && id == a);
    for (const char* a : m.old_aliases) as_string = as_string || (a && id == a);
    if (as_string || id == m.class_name) {
      *out = MetricRequest{as_string ? id : m.default_name, m.kind};
      return true;
    }
  }
  return false;
}

MetricRequest::MetricRequest(const char* id) {
  DPT_CHECK(metric_request(id, this), "unknown metric '" << id << "'; dptrain computes " << kMetricNames);
}

bool MetricRequest::is_plain_string() const {
  MetricRequest plain;
  if (const MetricInfo* m = info_of(kind))
    for (const char* a : m->old_aliases)
      if (a && name == a) return false;  // Keras 3 would not take the string
  return metric_request(name, &plain) && plain.kind == kind && plain.name == name && k == plain.k &&
         threshold == plain.threshold && from_logits == plain.from_logits && label_smoothing == plain.label_smoothing &&
         class_id == plain.class_id && num_thresholds == plain.num_thresholds && curve == plain.curve &&
         summation_method == plain.summation_method && beta == plain.beta && average == plain.average &&
         fbeta_threshold == plain.fbeta_threshold && class_aggregation == plain.class_aggregation &&
         num_regressors == plain.num_regressors && multi_label == plain.multi_label && num_labels == plain.num_labels &&
         label_weights == plain.label_weights;
}

bool metric_takes(const std::string& kind, const std::string& arg) { return takes(info_of(kind), arg); }

std::string metric_class_name(const std::string& kind) {
  const MetricInfo* m = info_of(kind);
  return m ? m->class_name : "";
}

std::string metric_default_name(const std::string& kind) {
  const MetricInfo* m = info_of(kind);
  return m ? m->default_name : kind;
}

void set_metric_argument(MetricRequest& r, const std::string& key, const std::string& value, const std::string& where) {
  const MetricInfo* m = info_of(r.kind);
  if (key == "name") {
    DPT_CHECK(m, where << ": '" << r.name << "' takes no arguments (Keras resolves it from the loss); "
                       << "name the accuracy you want, for example categorical_accuracy:name=" << value);
    DPT_CHECK(!value.empty(), where << ": a metric's name cannot be empty");
    r.name = value;
    return;
  }
  DPT_CHECK(takes(m, key),
            where << ": metric '" << r.name << "' has no argument '" << key << "'"
                  << (m && *m->args ? std::string(" (Keras's ") + m->class_name + " takes name, " + m->args + ")"
                                    : std::string(" (it takes only name)")));
  const std::string at = where + ": " + r.name + "'s " + key;
  if (key == "curve") {
    DPT_CHECK(value == "ROC" || value == "PR", at << " must be ROC or PR, got '" << value << "'");
    r.curve = value;
    return;
  }
  if (key == "summation_method") {
    DPT_CHECK(value == "interpolation" || value == "minoring" || value == "majoring",
              at << " must be interpolation, minoring or majoring, got '" << value << "'");
    r.summation_method = value;
    return;
  }
  if (key == "class_aggregation") {
    DPT_CHECK(value == "uniform_average" || value == "variance_weighted_average",
              at << " is " << value << ": dptrain logs one figure per metric; give uniform_average or "
                 << "variance_weighted_average");
    r.class_aggregation = value;
    return;
  }
  if (key == "average") {
    DPT_CHECK(value == "micro" || value == "macro" || value == "weighted",
              at << " is " << value << ": dptrain logs one figure per metric; give micro, macro or weighted (" << r.name
                 << ":average=macro)");
    r.average = value;
    return;
  }
  if (key == "top_k") {  // only its default
    DPT_CHECK(value == "None" || value == "null",
              at << " is " << value << ": dptrain has " << r.name << " with top_k=None only");
    return;
  }
  if (key == "from_logits" || key == "multi_label") {
    DPT_CHECK(value == "true" || value == "True" || value == "false" || value == "False",
              at << " must be true or false, got '" << value << "'");
    (key == "from_logits" ? r.from_logits : r.multi_label) = value == "true" || value == "True";
    return;
  }
  if (key == "label_weights") {  // a list: [1, 0.5, 2] (commas inside brackets stay with it)
    std::string list = value;
    DPT_CHECK(list.size() >= 2 && list.front() == '[' && list.back() == ']',
              at << " must be a list of weights, one per label, as [1,0.5,2]; got '" << value << "'");
    list = list.substr(1, list.size() - 2);
    r.label_weights.clear();
    for (std::string item : split(list, ',')) {
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      size_t pos = 0;
      double v = std::nan("");
      try {
        v = std::stod(item, &pos);
      } catch (...) {
        pos = 0;
      }
      DPT_CHECK(!item.empty() && pos == item.size() && std::isfinite(v) && v >= 0,
                at << " must hold numbers >= 0, got '" << item << "' in '" << value << "'");
      r.label_weights.push_back(v);
    }
    DPT_CHECK(!r.label_weights.empty(), at << " is an empty list");
    return;
  }
  double v = 0;
  size_t pos = 0;
  try {
    v = std::stod(value, &pos);
  } catch (...) {
    pos = 0;
  }
  DPT_CHECK(!value.empty() && pos == value.size() && std::isfinite(v),
            at << " must be a number, got '" << value << "'");
  if (key == "k" || key == "class_id" || key == "num_thresholds" || key == "num_regressors" || key == "num_labels") {
    const int least = key == "k" || key == "num_labels" ? 1 : key == "num_thresholds" ? 2 : 0;
    DPT_CHECK(v >= least && v == std::floor(v) && v <= 1e6,
              at << " must be a whole number >= " << least << ", got '" << value << "'");
    (key == "k"                ? r.k
     : key == "class_id"       ? r.class_id
     : key == "num_thresholds" ? r.num_thresholds
     : key == "num_labels"     ? r.num_labels
                               : r.num_regressors) = int(v);
  } else if (key == "threshold" && (r.kind == "f1_score" || r.kind == "fbeta_score")) {
    DPT_CHECK(v > 0 && v <= 1, at << " must be in (0, 1], got '" << value << "'");
    r.fbeta_threshold = v;
  } else if (key == "beta") {
    DPT_CHECK(v > 0, at << " must be above 0, got '" << value << "'");
    r.beta = v;
  } else if (key == "threshold" || key == "thresholds") {
    r.threshold = v;
  } else {
    DPT_CHECK(v >= 0 && v <= 1, at << " must be in [0, 1], got '" << value << "'");
    r.label_smoothing = v;
  }
}

MetricRequests parse_metrics(const std::string& list, bool weighted) {
  MetricRequests out;
  if (list == "none") return out;
  const std::string option = weighted ? "--weighted-metrics" : "--metrics";
  std::vector<std::string> tokens;  // split at the commas outside brackets (label_weights=[1,2])
  int depth = 0;
  tokens.emplace_back();
  for (char ch : list) {
    depth += ch == '[' ? 1 : ch == ']' ? -1 : 0;
    if (ch == ',' && depth == 0)
      tokens.emplace_back();
    else
      tokens.back() += ch;
  }
  for (const std::string& token : tokens) {
    const size_t colon = token.find(':'), eq = token.find('=');
    if (eq != std::string::npos && colon == std::string::npos) {  // the previous metric's next argument
      DPT_CHECK(!out.empty(), option << ": '" << token << "' is an argument with no metric before it");
      set_metric_argument(out.back(), token.substr(0, eq), token.substr(eq + 1), option);
      continue;
    }
    const std::string id = token.substr(0, colon);
    MetricRequest r;
    DPT_CHECK(metric_request(id, &r),
              "unknown metric '" << id << "' for " << option << "; dptrain computes " << kMetricNames);
    r.weighted = weighted;
    if (colon != std::string::npos) {
      const std::string arg = token.substr(colon + 1);
      const size_t e = arg.find('=');
      DPT_CHECK(
          e != std::string::npos && e > 0,
          option << ": '" << token << "' should be METRIC:argument=value (for example top_k_categorical_accuracy:k=3)");
      set_metric_argument(r, arg.substr(0, e), arg.substr(e + 1), option);
    }
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
  const auto logged = [&](const std::string& name) {
    for (const Metric& m : out)
      if (m.name == name) return true;
    return false;
  };
  for (const bool weighted : {false, true})  // Keras logs the metrics, then the weighted metrics
    for (const MetricRequest& r : reqs) {
      if (r.weighted != weighted) continue;
      Metric m = resolve_metric(r, loss, width);
      if (weighted && logged(m.name)) m.name = "weighted_" + m.name;
      DPT_CHECK(!logged(m.name), (weighted ? "weighted metric '" : "metric '") << m.name << "' is asked for twice");
      out.push_back(m);
    }
  return out;
}

Metric resolve_metric(const MetricRequest& req, LossKind loss, int64_t width) {
  Metric m;
  m.name = req.name;
  m.request = req;
  m.weighted = req.weighted;
  if (req.kind == "accuracy") {
    m.kind = accuracy_for(loss, width);
    return m;
  }
  const MetricInfo* info = info_of(req.kind);
  DPT_CHECK(info, "unknown metric kind '" << req.kind << "'");
  m.kind = info->formula;
  m.k = req.k;
  m.threshold = float(req.threshold);
  m.smoothing = float(req.label_smoothing);
  m.class_id = req.class_id;
  m.bins = req.num_thresholds;
  m.curve = req.curve == "PR" ? 1 : 0;
  m.summation = req.summation_method == "minoring" ? 1 : req.summation_method == "majoring" ? 2 : 0;
  m.logits = m.kind == MetricKind::auc && req.from_logits;
  if (m.kind == MetricKind::auc) {
    DPT_CHECK(req.label_weights.empty() || req.multi_label,
              "metric '" << req.name << "' has label_weights without multi_label=True; dptrain applies an AUC's "
                         << "label_weights to the average of its labels' AUCs (multi_label=True) only");
    m.multi_label = req.multi_label;
  }
  if (m.multi_label) {  // a curve per column: 2 x num_thresholds counts per column
    DPT_CHECK(req.num_labels == 0 || req.num_labels == width,
              "metric '" << req.name << "' has num_labels=" << req.num_labels << ", but the model has " << width
                         << " output columns");
    DPT_CHECK(req.label_weights.empty() || int64_t(req.label_weights.size()) == width,
              "metric '" << req.name << "' has " << req.label_weights.size() << " label_weights, but the model has "
                         << width << " output columns (labels)");
    DPT_CHECK(2 * int64_t(req.num_thresholds) * width <= 65536,
              "metric '" << req.name << "' with multi_label=True counts 2 x " << req.num_thresholds << " thresholds x "
                         << width << " labels = " << 2 * int64_t(req.num_thresholds) * width
                         << " sums a sample; dptrain keeps at most 65536: give fewer num_thresholds");
    m.width = int(width);
  }
  if (m.kind == MetricKind::r2) {
    DPT_CHECK(width <= 100000, "metric '" << req.name << "' sums per column, and the model has " << width);
    m.width = int(width);
    m.average = req.class_aggregation == "uniform_average" ? 1 : 2;
    m.regressors = req.num_regressors;
  }
  if (m.kind == MetricKind::fbeta) {
    DPT_CHECK(req.average != "None", "metric '"
                                         << req.name << "' has average=None, a figure per class; dptrain logs one "
                                         << "figure per metric: give average=micro, macro or weighted (" << req.name
                                         << ":average=macro)");
    DPT_CHECK(width <= 100000, "metric '" << req.name << "' counts per column, and the model has " << width);
    m.width = int(width);
    m.beta = float(req.beta);
    m.average = req.average == "micro" ? 0 : req.average == "macro" ? 1 : 2;
    m.threshold = float(req.fbeta_threshold);
  }
  if (m.kind == MetricKind::loss) m.loss = req.from_logits ? loss_from_name(loss_name(info->loss), true) : info->loss;
  // The targets follow the loss: class indices for the sparse loss, else one column per output.
  const bool sparse = loss_base(loss) == LossKind::sparse_categorical_crossentropy;
  static const std::pair<const char*, const char*> twins[] = {
      {"top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"},
      {"categorical_crossentropy", "sparse_categorical_crossentropy"}};
  std::string use = "accuracy";
  for (const auto& [columns, indices] : twins)
    use = req.kind == columns ? indices : req.kind == indices ? columns : use;
  DPT_CHECK(req.class_id < width, "metric '" << req.name << "' reads class_id " << req.class_id
                                             << ", but the model has " << width << " output columns");
  const char* option = req.weighted ? "--weighted-metrics" : "--metrics";
  if (kernels::metric_sparse(m))
    DPT_CHECK(sparse, "metric '" << req.name << "' compares class indices, but loss " << loss_name(loss)
                                 << " trains on one column per output; use " << option << " " << use);
  else
    DPT_CHECK(!sparse, "metric '" << req.name << "' compares one column per output, but loss " << loss_name(loss)
                                  << " trains on class indices; use " << option << " " << use);
  return m;
}

}  // namespace dpt
