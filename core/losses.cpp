// Loss names and dispatch to kernels/loss.
#include "core/losses.h"
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include "core/error.h"
#include "kernels/loss.h"

namespace dpt {

namespace {

// Keras's loss identifiers: the function's name, its class, its aliases.
struct LossId {
  LossKind kind;
  const char* name;
  const char* class_name;
  const char* aliases[3];
};
const LossId kLosses[] = {
    {LossKind::categorical_crossentropy, "categorical_crossentropy", "CategoricalCrossentropy", {}},
    {LossKind::sparse_categorical_crossentropy, "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", {}},
    {LossKind::binary_crossentropy, "binary_crossentropy", "BinaryCrossentropy", {"bce"}},
    {LossKind::mean_squared_error, "mean_squared_error", "MeanSquaredError", {"mse"}},
    {LossKind::mean_absolute_error, "mean_absolute_error", "MeanAbsoluteError", {"mae"}},
    {LossKind::huber, "huber", "Huber", {"huber_loss"}},
    {LossKind::log_cosh, "log_cosh", "LogCosh", {"logcosh"}},
    {LossKind::mean_squared_logarithmic_error,
     "mean_squared_logarithmic_error",
     "MeanSquaredLogarithmicError",
     {"msle"}},
    {LossKind::kl_divergence, "kl_divergence", "KLDivergence", {"kld", "kullback_leibler_divergence"}},
    {LossKind::poisson, "poisson", "Poisson", {}},
    {LossKind::mean_absolute_percentage_error,
     "mean_absolute_percentage_error",
     "MeanAbsolutePercentageError",
     {"mape"}},
    {LossKind::hinge, "hinge", "Hinge", {}},
    {LossKind::squared_hinge, "squared_hinge", "SquaredHinge", {}},
    {LossKind::categorical_hinge, "categorical_hinge", "CategoricalHinge", {}},
    {LossKind::cosine_similarity, "cosine_similarity", "CosineSimilarity", {}},
    {LossKind::binary_focal_crossentropy, "binary_focal_crossentropy", "BinaryFocalCrossentropy", {}},
    {LossKind::categorical_focal_crossentropy, "categorical_focal_crossentropy", "CategoricalFocalCrossentropy", {}},
};

}  // namespace

bool loss_kind_from_id(const std::string& id, LossKind* out) {
  for (const LossId& l : kLosses) {
    bool hit = id == l.name || id == l.class_name;
    for (const char* a : l.aliases) hit = hit || (a && id == a);
    if (hit) {
      *out = l.kind;
      return true;
    }
  }
  return false;
}

LossKind loss_from_name(const std::string& n, bool from_logits) {
  LossKind k = LossKind::mean_squared_error;
  DPT_CHECK(loss_kind_from_id(n, &k), "unknown loss '" << n << "' (supported: " << kLossNames << ")");
  if (from_logits) {
    DPT_CHECK(k == LossKind::categorical_crossentropy || k == LossKind::sparse_categorical_crossentropy ||
                  k == LossKind::binary_crossentropy || loss_is_focal(k),
              "from_logits applies to the cross-entropies (as in Keras), not to " << n);
    k = k == LossKind::categorical_crossentropy          ? LossKind::categorical_crossentropy_from_logits
        : k == LossKind::sparse_categorical_crossentropy ? LossKind::sparse_categorical_crossentropy_from_logits
        : k == LossKind::binary_focal_crossentropy       ? LossKind::binary_focal_crossentropy_from_logits
        : k == LossKind::categorical_focal_crossentropy  ? LossKind::categorical_focal_crossentropy_from_logits
                                                         : LossKind::binary_crossentropy_from_logits;
  }
  return k;
}

const char* const kLossNames =
    "categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error (mse), "
    "mean_absolute_error (mae), huber, log_cosh, mean_squared_logarithmic_error (msle), kl_divergence (kld), "
    "poisson, mean_absolute_percentage_error (mape), hinge, squared_hinge, categorical_hinge, cosine_similarity, "
    "binary_focal_crossentropy, categorical_focal_crossentropy";

std::string loss_name(LossKind k) {
  const LossKind base = kernels::loss_base(k);
  for (const LossId& l : kLosses)
    if (l.kind == base) return l.name;
  DPT_FAIL("loss kind " << int(k) << " has no name");
}

std::string loss_class_name(LossKind k) {
  const LossKind base = kernels::loss_base(k);
  for (const LossId& l : kLosses)
    if (l.kind == base) return l.class_name;
  DPT_FAIL("loss kind " << int(k) << " has no class");
}

bool loss_is_regression(LossKind k) {
  const LossKind base = kernels::loss_base(k);
  return base != LossKind::categorical_crossentropy && base != LossKind::sparse_categorical_crossentropy &&
         base != LossKind::binary_crossentropy && base != LossKind::kl_divergence && !loss_is_focal(base);
}

std::string loss_describe(LossKind k, double label_smoothing, double delta, FocalParams focal) {
  std::ostringstream os;
  os << loss_name(k);
  std::string sep = " (";
  if (kernels::loss_from_logits(k)) os << std::exchange(sep, ", ") << "from_logits=True";
  if (label_smoothing != 0) os << std::exchange(sep, ", ") << "label_smoothing=" << label_smoothing;
  if (delta != 1) os << std::exchange(sep, ", ") << "delta=" << delta;
  if (loss_is_focal(k)) {
    const FocalParams d;
    if (focal.balance) os << std::exchange(sep, ", ") << "apply_class_balancing=True";
    if (focal.alpha != d.alpha) os << std::exchange(sep, ", ") << "alpha=" << focal.alpha;
    if (focal.gamma != d.gamma) os << std::exchange(sep, ", ") << "gamma=" << focal.gamma;
  }
  if (sep != " (") os << ")";
  return os.str();
}

bool loss_fuses_with(LossKind k, kernels::Activation last) {
  return ((k == LossKind::categorical_crossentropy || k == LossKind::sparse_categorical_crossentropy) &&
          last == kernels::Activation::softmax) ||
         (k == LossKind::binary_crossentropy && last == kernels::Activation::sigmoid);
}

bool loss_wants_one_hot(LossKind k) {
  return kernels::loss_base(k) == LossKind::categorical_crossentropy ||
         kernels::loss_base(k) == LossKind::categorical_focal_crossentropy;
}

void check_label_smoothing(LossKind k, double s) {
  const LossKind base = kernels::loss_base(k);
  DPT_CHECK(
      s == 0 || base == LossKind::categorical_crossentropy || base == LossKind::binary_crossentropy || loss_is_focal(k),
      "label_smoothing applies to the categorical and binary cross-entropies (as in Keras), not to " << loss_name(k));
  DPT_CHECK(s >= 0 && s <= 1, "label_smoothing must be in [0, 1], got " << s);
}

void check_huber_delta(LossKind k, double delta) {
  DPT_CHECK(delta == 1 || k == LossKind::huber,
            "delta applies to the huber loss (Keras's Huber(delta=...)), not to " << loss_name(k));
  DPT_CHECK(delta > 0 && std::isfinite(delta), "huber's delta must be a number > 0, got " << delta);
}

void check_focal(LossKind k, const FocalParams& f) {
  const FocalParams d;
  DPT_CHECK(loss_is_focal(k) || (f.alpha == d.alpha && f.gamma == d.gamma && !f.balance),
            "alpha, gamma and apply_class_balancing apply to the focal cross-entropies (as in Keras), not to "
                << loss_name(k));
  DPT_CHECK(!f.balance || kernels::loss_base(k) == LossKind::binary_focal_crossentropy,
            "apply_class_balancing is BinaryFocalCrossentropy's (as in Keras), not " << loss_name(k) << "'s");
  DPT_CHECK(std::isfinite(f.gamma) && f.gamma >= 0, "the focal gamma must be a number >= 0, got " << f.gamma);
  DPT_CHECK(std::isfinite(f.alpha) && f.alpha >= 0 && f.alpha <= 1,
            "the focal alpha must be in [0, 1], got " << f.alpha);
}

double loss_sum(LossKind k, bool fused, const Tensor& pred, const Tensor& target, float scale, Tensor* grad,
                const float* row_weight, float smoothing, float delta, FocalParams focal) {
  const int64_t rows = pred.dim(0), cols = rows ? pred.numel() / rows : 0;
  const int64_t tcols = rows ? target.numel() / rows : 0;
  const int64_t want = kernels::loss_base(k) == LossKind::sparse_categorical_crossentropy ? 1 : cols;
  DPT_CHECK(target.dim(0) == rows && tcols == want,
            loss_name(k) << " expects targets of shape (batch, " << want << ") for predictions of shape "
                         << shape_str(pred.shape()) << ", got " << shape_str(target.shape()));
  return kernels::loss_cpu<float>(k, fused, pred.data(), target.data(), rows, cols, scale,
                                  grad ? grad->data() : nullptr, row_weight, smoothing, delta, focal);
}

std::vector<double> class_weights(const std::string& spec, const std::vector<float>& labels, int64_t classes) {
  DPT_CHECK(classes >= 1, "class weights need class labels");
  std::vector<double> w(size_t(classes), 1.0);
  if (spec == "balanced") {
    std::vector<int64_t> count(size_t(classes), 0);
    for (float y : labels) count[size_t(y)]++;
    for (int64_t c = 0; c < classes; ++c)
      w[size_t(c)] = count[size_t(c)] ? double(labels.size()) / (double(classes) * double(count[size_t(c)])) : 1.0;
    return w;
  }
  std::ifstream f(spec);
  DPT_CHECK(f, "--class-weight takes 'balanced' or a JSON file; cannot open '" << spec << "'");
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  DPT_CHECK(!j.is_discarded() && j.is_object(), "'" << spec << "' is not a JSON object like {\"0\": 1.0, \"1\": 3.5}");
  for (auto& [key, value] : j.items()) {
    size_t pos = 0;
    long long c = -1;
    try {
      c = std::stoll(key, &pos);
    } catch (...) {
      pos = 0;
    }
    DPT_CHECK(pos == key.size() && c >= 0 && c < classes,
              "'" << spec << "' weighs class '" << key << "', but the classes are 0.." << classes - 1);
    DPT_CHECK(value.is_number() && value.get<double>() >= 0,
              "'" << spec << "': the weight of class " << key << " must be a number >= 0");
    w[size_t(c)] = value.get<double>();
  }
  return w;
}

}  // namespace dpt
