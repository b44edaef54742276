// Loss names and dispatch to kernels/loss.
#include "core/losses.h"
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include "core/error.h"
#include "kernels/loss.h"

namespace dpt {

LossKind loss_from_name(const std::string& n, bool from_logits) {
  LossKind k;
  if (n == "categorical_crossentropy")
    k = from_logits ? LossKind::categorical_crossentropy_from_logits : LossKind::categorical_crossentropy;
  else if (n == "sparse_categorical_crossentropy")
    k = from_logits ? LossKind::sparse_categorical_crossentropy_from_logits : LossKind::sparse_categorical_crossentropy;
  else if (n == "binary_crossentropy")
    k = from_logits ? LossKind::binary_crossentropy_from_logits : LossKind::binary_crossentropy;
  else if (n == "mean_squared_error" || n == "mse")
    k = LossKind::mean_squared_error;
  else if (n == "mean_absolute_error" || n == "mae")
    k = LossKind::mean_absolute_error;
  else if (n == "huber")
    k = LossKind::huber;
  else if (n == "log_cosh" || n == "logcosh")
    k = LossKind::log_cosh;
  else if (n == "mean_squared_logarithmic_error" || n == "msle")
    k = LossKind::mean_squared_logarithmic_error;
  else if (n == "kl_divergence" || n == "kld" || n == "kullback_leibler_divergence")
    k = LossKind::kl_divergence;
  else if (n == "poisson")
    k = LossKind::poisson;
  else
    DPT_FAIL("unknown loss '" << n << "' (supported: " << kLossNames << ")");
  DPT_CHECK(!from_logits || kernels::loss_from_logits(k),
            "from_logits applies to the cross-entropies (as in Keras), not to " << n);
  return k;
}

const char* const kLossNames =
    "categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error (mse), "
    "mean_absolute_error (mae), huber, log_cosh, mean_squared_logarithmic_error (msle), kl_divergence (kld), "
    "poisson";

std::string loss_name(LossKind k) {
  switch (kernels::loss_base(k)) {
    case LossKind::categorical_crossentropy: return "categorical_crossentropy";
    case LossKind::sparse_categorical_crossentropy: return "sparse_categorical_crossentropy";
    case LossKind::binary_crossentropy: return "binary_crossentropy";
    case LossKind::mean_absolute_error: return "mean_absolute_error";
    case LossKind::huber: return "huber";
    case LossKind::log_cosh: return "log_cosh";
    case LossKind::mean_squared_logarithmic_error: return "mean_squared_logarithmic_error";
    case LossKind::kl_divergence: return "kl_divergence";
    case LossKind::poisson: return "poisson";
    default: return "mean_squared_error";
  }
}

bool loss_is_regression(LossKind k) {
  return k == LossKind::mean_squared_error || k == LossKind::mean_absolute_error || k == LossKind::huber ||
         k == LossKind::log_cosh || k == LossKind::mean_squared_logarithmic_error || k == LossKind::poisson;
}

std::string loss_describe(LossKind k, double label_smoothing) {
  std::ostringstream os;
  os << loss_name(k);
  if (kernels::loss_from_logits(k) || label_smoothing != 0) {
    os << " (";
    if (kernels::loss_from_logits(k)) os << "from_logits=True" << (label_smoothing != 0 ? ", " : "");
    if (label_smoothing != 0) os << "label_smoothing=" << label_smoothing;
    os << ")";
  }
  return os.str();
}

bool loss_fuses_with(LossKind k, kernels::Activation last) {
  return ((k == LossKind::categorical_crossentropy || k == LossKind::sparse_categorical_crossentropy) &&
          last == kernels::Activation::softmax) ||
         (k == LossKind::binary_crossentropy && last == kernels::Activation::sigmoid);
}

bool loss_wants_one_hot(LossKind k) { return kernels::loss_base(k) == LossKind::categorical_crossentropy; }

void check_label_smoothing(LossKind k, double s) {
  const LossKind base = kernels::loss_base(k);
  DPT_CHECK(
      s == 0 || base == LossKind::categorical_crossentropy || base == LossKind::binary_crossentropy,
      "label_smoothing applies to the categorical and binary cross-entropies (as in Keras), not to " << loss_name(k));
  DPT_CHECK(s >= 0 && s <= 1, "label_smoothing must be in [0, 1], got " << s);
}

double loss_sum(LossKind k, bool fused, const Tensor& pred, const Tensor& target, float scale, Tensor* grad,
                const float* row_weight, float smoothing) {
  const int64_t rows = pred.dim(0), cols = rows ? pred.numel() / rows : 0;
  const int64_t tcols = rows ? target.numel() / rows : 0;
  const int64_t want = kernels::loss_base(k) == LossKind::sparse_categorical_crossentropy ? 1 : cols;
  DPT_CHECK(target.dim(0) == rows && tcols == want,
            loss_name(k) << " expects targets of shape (batch, " << want << ") for predictions of shape "
                         << shape_str(pred.shape()) << ", got " << shape_str(target.shape()));
  return kernels::loss_cpu<float>(k, fused, pred.data(), target.data(), rows, cols, scale,
                                  grad ? grad->data() : nullptr, row_weight, smoothing);
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
