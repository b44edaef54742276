// Keras config -> Sequential.
#include "core/io/keras_config.h"
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>
#include "core/error.h"
#include "core/io/hdf5_util.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_archive.h"
#include "core/layers/activation.h"
#include "core/layers/attention.h"
#include "core/layers/augment.h"
#include "core/layers/batch_norm.h"
#include "core/layers/bidirectional.h"
#include "core/layers/conv1d.h"
#include "core/layers/conv2d.h"
#include "core/layers/conv2d_transpose.h"
#include "core/layers/dense.h"
#include "core/layers/depthwise_conv2d.h"
#include "core/layers/dot.h"
#include "core/layers/dropout.h"
#include "core/layers/embedding.h"
#include "core/layers/flatten.h"
#include "core/layers/layer_norm.h"
#include "core/layers/masking.h"
#include "core/layers/merge.h"
#include "core/layers/padding.h"
#include "core/layers/pooling.h"
#include "core/layers/prelu.h"
#include "core/layers/preprocessing.h"
#include "core/layers/recurrent.h"
#include "core/layers/reshaping.h"
#include "core/layers/separable_conv2d.h"
#include "core/layers/time_distributed.h"
#include "core/layers/unit_normalization.h"
#include "core/strings.h"

namespace dpt {

using json = nlohmann::json;

namespace {

// A JSON value's kind in Keras's words, for messages.
std::string kind_of(const json& v) {
  if (v.is_number_integer()) return "the integer " + v.dump();
  if (v.is_number()) return "the number " + v.dump();
  if (v.is_string()) return "the string " + v.dump();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_null()) return "None";
  if (v.is_array()) return "a list";
  return "a dict";
}

// v as T, or an error naming where it is and what was expected.
template <typename T>
T as(const json& v, const std::string& where) {
  if constexpr (std::is_same_v<T, bool>) {
    DPT_CHECK(v.is_boolean(), where << " must be True or False, got " << kind_of(v));
  } else if constexpr (std::is_same_v<T, std::string>) {
    DPT_CHECK(v.is_string(), where << " must be a string, got " << kind_of(v));
  } else if constexpr (std::is_integral_v<T>) {
    DPT_CHECK(v.is_number_integer(), where << " must be a whole number, got " << kind_of(v));
    DPT_CHECK(!v.is_number_unsigned() || v.get<uint64_t>() <= uint64_t(INT64_MAX), where << " " << v.dump() << " is too large");
  } else {
    DPT_CHECK(v.is_number(), where << " must be a number, got " << kind_of(v));
  }
  return v.get<T>();
}

// obj[key] as T; fallback when obj is not a dict or has no (or a null) key.
template <typename T>
T value_or(const json& obj, const char* key, T fallback, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return fallback;
  return as<T>(obj[key], where + " '" + key + "'");
}

struct LayerCtx {
  std::string source, cls, name;  // name: as messages give it
  const json& cfg;
  std::string own_name = "";  // a wrapped layer's own name (its `name` is "wrapper' > 'own")
  const json* node = nullptr;  // a Functional model's inbound node (the call, with its arguments)
  std::string where() const { return source + ": layer '" + name + "' (" + cls + "):"; }
  template <typename T>
  T get(const char* key, T fallback) const {
    return value_or<T>(cfg, key, fallback, where());
  }
  [[noreturn]] void unsupported(const std::string& what) const {
    DPT_FAIL(source << ": layer '" << name << "' (" << cls << "): " << what << " is not supported");
  }
};

// (a, b) from an int or a list of two ints.
std::pair<int64_t, int64_t> pair_of(const LayerCtx& c, const char* key, std::pair<int64_t, int64_t> fallback) {
  if (!c.cfg.contains(key) || c.cfg[key].is_null()) return fallback;
  const json& v = c.cfg[key];
  const std::string where = c.where() + " '" + key + "'";
  if (v.is_number_integer()) return {as<int64_t>(v, where), as<int64_t>(v, where)};
  if (v.is_array() && v.size() == 2) return {as<int64_t>(v[0], where + "[0]"), as<int64_t>(v[1], where + "[1]")};
  c.unsupported(std::string(key) + "=" + v.dump());
}

// A list of whole numbers (Permute's dims, PReLU's shared_axes); an int is a list of one.
std::vector<int> ints_of(const LayerCtx& c, const char* key) {
  std::vector<int> out;
  if (!c.cfg.contains(key) || c.cfg[key].is_null()) return out;
  const json& v = c.cfg[key];
  const std::string where = c.where() + " '" + key + "'";
  if (v.is_number_integer()) return {int(as<int64_t>(v, where))};
  DPT_CHECK(v.is_array() && v.size() <= Shape::kMaxRank, where << " must be a list of axes, got " << v.dump());
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t a = as<int64_t>(v[i], where + "[" + std::to_string(i) + "]");
    DPT_CHECK(a >= 1 && a <= int64_t(Shape::kMaxRank),
              where << " " << v.dump() << " names axis " << a << " (a sample's axes are counted from 1)");
    out.push_back(int(a));
  }
  return out;
}

// A 1-D layer's size: an int or a list of one.
int64_t single_of(const LayerCtx& c, const char* key, int64_t fallback) {
  if (!c.cfg.contains(key) || c.cfg[key].is_null()) return fallback;
  const json& v = c.cfg[key];
  const std::string where = c.where() + " '" + key + "'";
  if (v.is_number_integer()) return as<int64_t>(v, where);
  if (v.is_array() && v.size() == 1) return as<int64_t>(v[0], where + "[0]");
  c.unsupported(std::string(key) + "=" + v.dump());
}

bool same_padding(const LayerCtx& c) {
  const std::string p = c.get<std::string>("padding", "valid");
  if (p != "valid" && p != "same") c.unsupported("padding='" + p + "'");
  return p == "same";
}

void channels_last(const LayerCtx& c) {
  const std::string f = c.get<std::string>("data_format", "channels_last");
  if (f != "channels_last") c.unsupported("data_format='" + f + "' (dptrain is channels_last)");
}

// ZeroPadding2D's padding, Cropping2D's cropping: n (all four sides), (rows, cols) (each on both
// sides) or ((top, bottom), (left, right)).
Padding2DConfig padding_of(const LayerCtx& c, const char* key) {
  const std::string where = c.where() + " '" + key + "'";
  const json& v = c.cfg.contains(key) ? c.cfg[key] : json(c.cls == "ZeroPadding2D" ? 1 : 0);
  auto side = [&](const json& e) { return as<int64_t>(e, where); };
  Padding2DConfig p;
  if (v.is_number()) {
    p.top = p.bottom = p.left = p.right = side(v);
  } else if (v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number()) {
    p.top = p.bottom = side(v[0]);
    p.left = p.right = side(v[1]);
  } else if (v.is_array() && v.size() == 2 && v[0].is_array() && v[0].size() == 2 && v[1].is_array() &&
             v[1].size() == 2) {
    p.top = side(v[0][0]);
    p.bottom = side(v[0][1]);
    p.left = side(v[1][0]);
    p.right = side(v[1][1]);
  } else {
    DPT_FAIL(where << " must be an int, (rows, cols) or ((top, bottom), (left, right)), got " << v.dump());
  }
  DPT_CHECK(p.top >= 0 && p.bottom >= 0 && p.left >= 0 && p.right >= 0,
            where << " must not be negative, got " << v.dump());
  return p;
}

// The activation under `key` ("activation", or a recurrent layer's "recurrent_activation"):
// a name, None (linear) or a serialized function; `fallback` where the key is missing.
Activation activation_of(const LayerCtx& c, const char* key = "activation", const char* fallback = "linear") {
  const json& a = c.cfg.contains(key) ? c.cfg[key] : json(fallback);
  std::string name = a.is_string() ? a.get<std::string>() : a.is_null() ? "linear" : "";
  if (name.empty() && a.is_object() && a.contains("class_name"))
    name = as<std::string>(a["class_name"], c.where() + " '" + key + "' class_name");
  if (name.empty()) c.unsupported(std::string(key) + "=" + a.dump());
  try {
    return activation_from_name(name);
  } catch (const Error&) {
    c.unsupported(std::string(key) + " '" + name + "' (supported: " + kActivationNames + ")");
  }
}

// What Keras's convolutions share (channels_last): kernel_size, strides, dilation_rate, padding,
// activation and use_bias, into any of dptrain's convolution configs.
template <typename Config>
Config conv_options(const LayerCtx& c) {
  channels_last(c);
  Config k;
  std::tie(k.kh, k.kw) = pair_of(c, "kernel_size", {0, 0});
  std::tie(k.sh, k.sw) = pair_of(c, "strides", {1, 1});
  std::tie(k.dh, k.dw) = pair_of(c, "dilation_rate", {1, 1});
  k.same = same_padding(c);
  k.activation = activation_of(c);
  k.use_bias = c.get<bool>("use_bias", true);
  return k;
}

// Rescaling's scale and offset, Normalization's mean and variance: a number, or values along the
// last axis (a list, nested lists whose other axes are 1, or Keras 3's serialized numpy array).
// Empty for a missing or null key.
std::vector<double> values_of(const LayerCtx& c, const char* key) {
  if (!c.cfg.contains(key) || c.cfg[key].is_null()) return {};
  const std::string where = c.where() + " '" + key + "'";
  const json* v = &c.cfg[key];
  if (v->is_object() && v->contains("config") && (*v)["config"].is_object() && (*v)["config"].contains("value"))
    v = &(*v)["config"]["value"];  // {"class_name": "__numpy__", "config": {"value": ...}}
  while (v->is_array() && v->size() == 1 && (*v)[0].is_array()) v = &(*v)[0];
  std::vector<double> out;
  if (v->is_number()) {
    out.push_back(as<double>(*v, where));
  } else if (v->is_array() && !v->empty()) {
    for (size_t i = 0; i < v->size(); ++i) out.push_back(as<double>((*v)[i], where + "[" + std::to_string(i) + "]"));
  } else {
    DPT_FAIL(where << " must be a number or a list of numbers along the last axis, got " << v->dump());
  }
  return out;
}

std::unique_ptr<Layer> make_preprocessing(const LayerCtx& c) {
  if (c.cls == "Rescaling") {
    std::vector<double> scale = values_of(c, "scale"), offset = values_of(c, "offset");
    DPT_CHECK(!scale.empty(), c.where() << " 'scale' is missing");
    if (offset.empty()) offset = {0.0};
    return std::make_unique<Rescaling>(scale, offset);
  }
  // Normalization: axis -1 / the last (Keras writes a list of one) or None.
  const json ax = c.cfg.contains("axis") ? c.cfg["axis"] : json(-1);
  int64_t axis = Normalization::kNoAxis;  // None (Keras 3 writes it as [])
  if (ax.is_array() && ax.size() == 1)
    axis = as<int64_t>(ax[0], c.where() + " 'axis'[0]");
  else if (ax.is_number_integer())
    axis = as<int64_t>(ax, c.where() + " 'axis'");
  else if (!ax.is_null() && !(ax.is_array() && ax.empty()))
    c.unsupported("axis=" + ax.dump() + " (the last axis, or None)");
  if (axis == 0 && !ax.is_null() && !(ax.is_array() && ax.empty())) c.unsupported("axis=0 (the batch)");
  return std::make_unique<Normalization>(axis, values_of(c, "mean"), values_of(c, "variance"),
                                         c.get<bool>("invert", false));
}

bool is_recurrent(const std::string& cls) { return cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN"; }

std::unique_ptr<Recurrent> make_recurrent(const LayerCtx& c) {
  RecurrentConfig k;
  k.units = c.get<int64_t>("units", 0);
  k.return_sequences = c.get<bool>("return_sequences", false);
  k.go_backwards = c.get<bool>("go_backwards", false);
  k.use_bias = c.get<bool>("use_bias", true);
  k.activation = activation_of(c, "activation", "tanh");
  if (c.cls != "SimpleRNN") k.recurrent_activation = activation_of(c, "recurrent_activation", "sigmoid");
  for (const auto& [key, a] : {std::pair<const char*, Activation>{"activation", k.activation},
                               std::pair<const char*, Activation>{"recurrent_activation", k.recurrent_activation}})
    if (a.needs_input() || a == Activation::softmax)
      c.unsupported(std::string(key) + "='" + activation_name(a) + "' (" + c.cls +
                    " runs activations whose slope their output gives: not softmax, gelu, silu, mish or "
                    "hard_silu)");
  if (c.get<bool>("return_state", false)) c.unsupported("return_state=True (one output per layer)");
  if (c.get<bool>("stateful", false)) c.unsupported("stateful=True");
  if (c.get<bool>("time_major", false)) c.unsupported("time_major=True");
  k.zero_output_for_mask = c.get<bool>("zero_output_for_mask", false);
  k.dropout = c.get<double>("dropout", 0.0);
  k.recurrent_dropout = c.get<double>("recurrent_dropout", 0.0);
  for (const auto& [key, v] : {std::pair<const char*, double>{"dropout", k.dropout},
                               std::pair<const char*, double>{"recurrent_dropout", k.recurrent_dropout}})
    DPT_CHECK(v >= 0 && v < 1, c.where() << " " << key << "=" << c.cfg[key].dump() << " is not in [0, 1)");
  if (c.cls != "SimpleRNN") {  // Keras's cells: 1 draws a dropout mask per gate (tf-keras writes it)
    k.implementation = int(c.get<int64_t>("implementation", 2));
    DPT_CHECK(k.implementation == 1 || k.implementation == 2,
              c.where() << " implementation=" << c.cfg["implementation"].dump() << " is not 1 or 2");
  }
  if (c.cls == "LSTM") {
    k.unit_forget_bias = c.get<bool>("unit_forget_bias", true);
    return std::make_unique<LSTM>(k);
  }
  if (c.cls == "SimpleRNN") return std::make_unique<SimpleRNN>(k);
  k.reset_after = c.get<bool>("reset_after", true);
  return std::make_unique<GRU>(k);
}

// A Keras object as a layer argument gives it (an initializer, a regularizer, a constraint): a
// name, or {class_name, config} (with Keras 3's module and registered_name beside them). `what`
// names its kind in messages ("an initializer").
struct KerasObject {
  std::string name;
  json config = json::object();
};
KerasObject keras_object(const json& v, const std::string& where, const char* what) {
  KerasObject o;
  if (v.is_string()) {
    o.name = v.get<std::string>();
    return o;
  }
  DPT_CHECK(v.is_object() && v.contains("class_name") && v["class_name"].is_string(),
            where << " must be " << what << "'s name or a {class_name, config} dict, got " << v.dump());
  o.name = v["class_name"].get<std::string>();
  if (v.contains("config") && !v["config"].is_null()) {
    o.config = v["config"];
    DPT_CHECK(o.config.is_object(), where << " config must be a dict, got " << o.config.dump());
  }
  return o;
}

// config[key] as a number; fallback where it is missing or None. `owner`: "<where> MaxNorm's".
double config_number(const json& config, const char* key, double fallback, const std::string& owner) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  DPT_CHECK(config[key].is_number(), owner << " " << key << " must be a number, got " << config[key].dump());
  return config[key].get<double>();
}

// The start of Keras's regularizer, constraint and initializer arguments ("kernel" as in
// kernel_regularizer), and the weight (params()'s name) each is for.
constexpr std::pair<const char*, const char*> kWeightArgs[] = {{"kernel", "kernel"},
                                                               {"bias", "bias"},
                                                               {"recurrent", "recurrent_kernel"},
                                                               {"depthwise", "depthwise_kernel"},
                                                               {"pointwise", "pointwise_kernel"},
                                                               {"embeddings", "embeddings"},
                                                               {"gamma", "gamma"},
                                                               {"beta", "beta"},
                                                               {"moving_mean", "moving_mean"},
                                                               {"moving_variance", "moving_variance"},
                                                               {"alpha", "alpha"}};

// Keras's initializer classes and the snake_case names its initializers.get takes, with their
// other names (Keras 3's aliases: normal, uniform, zero, one, and the *Initializer classes).
struct InitializerName {
  const char* cls;
  const char* name;
  const char* alias;
};
constexpr InitializerName kInitializers[] = {{"GlorotUniform", "glorot_uniform", ""},
                                             {"GlorotNormal", "glorot_normal", ""},
                                             {"HeNormal", "he_normal", ""},
                                             {"HeUniform", "he_uniform", ""},
                                             {"LecunNormal", "lecun_normal", ""},
                                             {"LecunUniform", "lecun_uniform", ""},
                                             {"VarianceScaling", "variance_scaling", ""},
                                             {"RandomNormal", "random_normal", "normal"},
                                             {"TruncatedNormal", "truncated_normal", ""},
                                             {"RandomUniform", "random_uniform", "uniform"},
                                             {"Zeros", "zeros", "zero"},
                                             {"Ones", "ones", "one"},
                                             {"Constant", "constant", ""},
                                             {"Orthogonal", "orthogonal", "OrthogonalInitializer"},
                                             {"Identity", "identity", "IdentityInitializer"}};

// A serialized Keras initializer: a name (the class's defaults) or {class_name, config}.
Initializer initializer_from_json(const json& v, const std::string& where) {
  const KerasObject o = keras_object(v, where, "an initializer");
  const std::string& given = o.name;
  const json& cfg = o.config;
  std::string cls;
  for (const InitializerName& n : kInitializers)
    if (given == n.cls || given == n.name || (*n.alias && given == n.alias)) cls = n.cls;
  if (cls.empty()) {
    std::string names;
    for (const InitializerName& n : kInitializers) names += std::string(names.empty() ? "" : ", ") + n.name;
    DPT_FAIL(where << " initializer '" << given << "' is not supported (supported: " << names << ")");
  }
  auto num = [&](const char* key, double fallback) {
    return config_number(cfg, key, fallback, where + " " + cls + "'s");
  };
  auto axes = [&](const char* key) {
    std::vector<int64_t> out;
    if (!cfg.contains(key) || cfg[key].is_null()) return out;
    const json& a = cfg[key];
    for (const json& e : a.is_array() ? a : json::array({a})) {
      DPT_CHECK(e.is_number_integer(),
                where << " " << cls << "'s " << key << " must be a list of axes, got " << a.dump());
      out.push_back(e.get<int64_t>());
    }
    return out;
  };
  Initializer i;
  i.written = v.dump();
  using I = Initializer;
  auto scaling = [&](double scale, I::Mode mode, I::Distribution d) {
    i.kind = I::variance_scaling;
    i.scale = scale;
    i.mode = mode;
    i.distribution = d;
    i.input_axes = axes("input_axes");
    i.output_axes = axes("output_axes");
    DPT_CHECK(i.input_axes.empty() == i.output_axes.empty(),
              where << " " << cls << " takes input_axes and output_axes together");
  };
  if (cls == "GlorotUniform") {
    scaling(1, I::fan_avg, I::uniform_values);
  } else if (cls == "GlorotNormal") {
    scaling(1, I::fan_avg, I::truncated);
  } else if (cls == "HeNormal") {
    scaling(2, I::fan_in, I::truncated);
  } else if (cls == "HeUniform") {
    scaling(2, I::fan_in, I::uniform_values);
  } else if (cls == "LecunNormal") {
    scaling(1, I::fan_in, I::truncated);
  } else if (cls == "LecunUniform") {
    scaling(1, I::fan_in, I::uniform_values);
  } else if (cls == "VarianceScaling") {
    const double scale = num("scale", 1.0);
    DPT_CHECK(scale > 0, where << " VarianceScaling's scale must be > 0, got " << scale);
    const std::string mode = value_or<std::string>(cfg, "mode", "fan_in", where + " VarianceScaling's");
    const std::string dist =
        value_or<std::string>(cfg, "distribution", "truncated_normal", where + " VarianceScaling's");
    DPT_CHECK(mode == "fan_in" || mode == "fan_out" || mode == "fan_avg",
              where << " VarianceScaling's mode must be 'fan_in', 'fan_out' or 'fan_avg', got '" << mode << "'");
    DPT_CHECK(dist == "truncated_normal" || dist == "normal" || dist == "untruncated_normal" || dist == "uniform",
              where << " VarianceScaling's distribution must be 'truncated_normal', 'untruncated_normal' or "
                       "'uniform', got '"
                    << dist << "'");
    scaling(scale,
            mode == "fan_in"    ? I::fan_in
            : mode == "fan_out" ? I::fan_out
                                : I::fan_avg,
            dist == "uniform"              ? I::uniform_values
            : dist == "untruncated_normal" ? I::untruncated
                                           : I::truncated);
  } else if (cls == "RandomNormal" || cls == "TruncatedNormal") {
    i.kind = cls == "RandomNormal" ? I::normal : I::truncated_normal;
    i.a = num("mean", 0.0);
    i.b = num("stddev", 0.05);
    DPT_CHECK(i.b >= 0, where << " " << cls << "'s stddev must be >= 0, got " << i.b);
  } else if (cls == "RandomUniform") {
    i.kind = I::uniform;
    i.a = num("minval", -0.05);
    i.b = num("maxval", 0.05);
    DPT_CHECK(i.a <= i.b, where << " RandomUniform's minval " << i.a << " is above its maxval " << i.b);
  } else if (cls == "Zeros" || cls == "Ones" || cls == "Constant") {
    i.kind = I::constant;
    i.a = cls == "Ones" ? 1.0 : cls == "Zeros" ? 0.0 : num("value", 0.0);
  } else {  // Orthogonal, Identity
    i.kind = cls == "Orthogonal" ? I::orthogonal : I::identity;
    i.a = num("gain", 1.0);
  }
  return i;
}

// A serialized Keras regularizer: a name Keras's regularizers.get takes ("l1", "l2", "l1l2", or a
// class name: the class's defaults, L1 and L2 0.01, L1L2 none) or {class_name, config}. False for
// a class other than L1, L2 and L1L2 (*cls names it).
bool regularizer_from_json(const json& v, const std::string& where, Regularizer* r, std::string* cls) {
  const KerasObject o = keras_object(v, where, "a regularizer");
  const std::string& name = o.name;
  *cls = name;
  if (name == "l1" || name == "L1")
    *r = {"L1", 0.01, 0.0};
  else if (name == "l2" || name == "L2")
    *r = {"L2", 0.0, 0.01};
  else if (name == "l1l2" || name == "L1L2")
    *r = {"L1L2", 0.0, 0.0};
  else
    return false;
  for (const char* key : {"l1", "l2"}) {
    if (!o.config.contains(key)) continue;
    const json& x = o.config[key];
    double val = 0;  // Keras's L1L2 takes None as 0
    if (!x.is_null()) {
      DPT_CHECK(x.is_number() && x.get<double>() >= 0, where << " " << r->cls << "'s " << key
                                                             << " must be a non-negative number (as Keras's), got "
                                                             << x.dump());
      val = x.get<double>();
    }
    DPT_CHECK(key[1] == '2' || r->cls != "L2", where << " L2 takes no l1 (got " << x.dump() << ")");
    DPT_CHECK(key[1] == '1' || r->cls != "L1", where << " L1 takes no l2 (got " << x.dump() << ")");
    (key[1] == '1' ? r->l1 : r->l2) = val;
  }
  return true;
}

// A serialized Keras constraint: a name (the class's defaults) or {class_name, config}. False for
// a class other than MaxNorm, MinMaxNorm, NonNeg and UnitNorm.
bool constraint_from_json(const json& v, const std::string& where, Constraint* out) {
  const KerasObject o = keras_object(v, where, "a constraint");
  const std::string& name = o.name;
  const json& cfg = o.config;
  using kernels::ConstraintKind;
  Constraint k;
  std::string cls;
  if (name == "MaxNorm" || name == "max_norm" || name == "maxnorm") {
    k.kind = ConstraintKind::max_norm;
    cls = "MaxNorm";
  } else if (name == "MinMaxNorm" || name == "min_max_norm") {
    k.kind = ConstraintKind::min_max_norm;
    k.max_value = 1;
    cls = "MinMaxNorm";
  } else if (name == "NonNeg" || name == "non_neg" || name == "nonneg") {
    k.kind = ConstraintKind::non_neg;
    cls = "NonNeg";
  } else if (name == "UnitNorm" || name == "unit_norm" || name == "unitnorm") {
    k.kind = ConstraintKind::unit_norm;
    cls = "UnitNorm";
  } else {
    return false;
  }
  auto num = [&](const char* key, double fallback) {
    return config_number(cfg, key, fallback, where + " " + cls + "'s");
  };
  k.min_value = num("min_value", k.min_value);
  k.max_value = num("max_value", k.max_value);
  k.rate = num("rate", k.rate);
  DPT_CHECK(k.min_value >= 0 && k.max_value >= k.min_value,
            where << " " << cls << "'s norms must satisfy 0 <= min_value <= max_value, got min_value " << k.min_value
                  << " and max_value " << k.max_value);
  if (cfg.contains("axis")) {
    const json& a = cfg["axis"];
    k.axis.clear();
    k.all_axes = a.is_null();
    for (const json& e : a.is_array() ? a : a.is_null() ? json::array() : json::array({a})) {
      DPT_CHECK(e.is_number_integer(),
                where << " " << cls << "'s axis must be an axis, a list of them or None, got " << a.dump());
      k.axis.push_back(e.get<int64_t>());
    }
    DPT_CHECK(k.all_axes || !k.axis.empty(), where << " " << cls << "'s axis must name an axis, got []");
  }
  k.written = v.dump();
  *out = k;
  return true;
}

// The layer's weight initializers, regularizers and constraints (kernel_initializer, ...) and its
// activity regularizer onto it; a regularizer or constraint class dptrain has not, or a wrapped
// layer's activity regularizer, as what fit refuses (the model still loads for evaluate and predict).
void read_weight_settings(const LayerCtx& c, Layer& layer, bool wrapped = false) {
  for (const auto& [arg, weight] : kWeightArgs) {
    const std::string reg_key = std::string(arg) + "_regularizer", con_key = std::string(arg) + "_constraint";
    const std::string init_key = std::string(arg) + "_initializer";
    if (c.cfg.contains(init_key) && !c.cfg[init_key].is_null())
      layer.set_initializer(weight, initializer_from_json(c.cfg[init_key], c.where() + " '" + init_key + "'"));
    if (c.cfg.contains(reg_key) && !c.cfg[reg_key].is_null()) {
      Regularizer r;
      std::string cls;
      if (regularizer_from_json(c.cfg[reg_key], c.where() + " '" + reg_key + "'", &r, &cls))
        layer.set_regularizer(weight, r);
      else
        layer.refuse_training(reg_key + " " + cls + " (dptrain has L1, L2 and L1L2)", true);
    }
    if (c.cfg.contains(con_key) && !c.cfg[con_key].is_null()) {
      const json& v = c.cfg[con_key];
      Constraint k;
      if (constraint_from_json(v, c.where() + " '" + con_key + "'", &k)) {
        layer.set_constraint(weight, k);
        continue;
      }
      const std::string cls = v.is_string() ? v.get<std::string>()
                              : v.is_object() && v.contains("class_name") && v["class_name"].is_string()
                                  ? v["class_name"].get<std::string>()
                                  : v.dump();
      layer.refuse_training(con_key + " " + cls + " (dptrain has MaxNorm, MinMaxNorm, NonNeg and UnitNorm)", false);
    }
  }
  if (c.cfg.contains("activity_regularizer") && !c.cfg["activity_regularizer"].is_null()) {
    Regularizer r;
    std::string cls;
    if (wrapped)  // a wrapper's own activity_regularizer is read; its layer's, inside it, is not
      layer.refuse_training("an activity_regularizer on a wrapped layer", true);
    else if (regularizer_from_json(c.cfg["activity_regularizer"], c.where() + " 'activity_regularizer'", &r, &cls))
      layer.set_activity_regularizer(r);
    else
      layer.refuse_training("activity_regularizer " + cls + " (dptrain has L1, L2 and L1L2)", true);
  }
}

// A wrapper's layer (c.cfg[key], a {class_name, config} dict): its context, named in messages as
// "layer 'wrapper' > 'wrapped'".
LayerCtx wrapped_ctx(const LayerCtx& c, const char* key) {
  DPT_CHECK(c.cfg.contains(key), c.where() << " has no '" << key << "' to wrap");
  const json& l = c.cfg[key];
  const std::string at = c.where() + " '" + key + "'";
  DPT_CHECK(l.is_object() && l.contains("config") && l["config"].is_object(),
            at << " is not a {class_name, config} dict");
  const std::string cls = value_or<std::string>(l, "class_name", "", at + "'s");
  const std::string name = value_or<std::string>(l["config"], "name", "", at + " (" + cls + "):");
  return LayerCtx{c.source, cls, c.name + "' > '" + name, l["config"], name};
}

// A Bidirectional's wrapped layer or backward_layer: a recurrent layer, named as its config says.
std::unique_ptr<Recurrent> wrapped_recurrent(const LayerCtx& c, const char* key) {
  const LayerCtx w = wrapped_ctx(c, key);
  if (!is_recurrent(w.cls))
    c.unsupported("wrapping a " + (w.cls.empty() ? std::string("layer without a class_name") : w.cls) +
                  " (Bidirectional wraps LSTM, GRU or SimpleRNN)");
  auto r = make_recurrent(w);
  read_weight_settings(w, *r, true);
  if (!w.own_name.empty()) r->set_name(w.own_name);
  return r;
}

// A 1-D convolution's settings (Conv1D, Conv1DTranspose) as the one-row Conv2DConfig; `causal`
// (null: 'causal' refused) is set where padding is 'causal'.
// The 1-D convolutions' window as a one-row image's (kh, sh, dh 1): padding valid or same, or with
// `causal` given (Conv1D) also causal.
template <typename Config>
Config conv1d_window(const LayerCtx& c, bool* causal = nullptr) {
  channels_last(c);
  Config k;
  k.kh = k.sh = k.dh = 1;
  k.kw = single_of(c, "kernel_size", 0);
  k.sw = single_of(c, "strides", 1);
  k.dw = single_of(c, "dilation_rate", 1);
  const std::string p = c.get<std::string>("padding", "valid");
  if (p != "valid" && p != "same" && !(causal && p == "causal")) c.unsupported("padding='" + p + "'");
  k.same = p == "same";
  if (causal) *causal = p == "causal";
  k.activation = activation_of(c);
  k.use_bias = c.get<bool>("use_bias", true);
  return k;
}

Conv2DConfig conv1d_options(const LayerCtx& c, bool* causal) {
  Conv2DConfig k = conv1d_window<Conv2DConfig>(c, causal);
  k.filters = c.get<int64_t>("filters", 0);
  return k;
}

// A call's keyword arguments: Keras 3's node {"args": [...], "kwargs": {...}}; Keras 2's node, a
// list of [layer, node, tensor, kwargs] entries, keeps them with its first tensor. Empty: none.
json call_kwargs(const json* node) {
  if (!node) return json::object();
  if (node->is_object())
    return node->contains("kwargs") && (*node)["kwargs"].is_object() ? (*node)["kwargs"] : json::object();
  if (node->is_array() && !node->empty() && (*node)[0].is_array() && (*node)[0].size() >= 4 &&
      (*node)[0][3].is_object())
    return (*node)[0][3];
  return json::object();
}

// A tensor in a call's arguments (Keras 3's __keras_tensor__, Keras 2's [layer, node, tensor]).
bool is_tensor_arg(const json& v) {
  return (v.is_object() && v.value("class_name", "") == "__keras_tensor__") ||
         (v.is_array() && v.size() >= 3 && v[0].is_string() && v[1].is_number_integer());
}

// MultiHeadAttention(num_heads, key_dim, value_dim, dropout, use_bias, output_shape) on sequences,
// or Keras 3's GroupQueryAttention (its class GroupedQueryAttention)(head_dim, num_query_heads, num_key_value_heads,
// dropout, use_bias), and the call's use_causal_mask.
std::unique_ptr<Layer> make_attention(const LayerCtx& c) {
  AttentionConfig a;
  a.grouped = c.cls == "GroupQueryAttention" || c.cls == "GroupedQueryAttention";
  if (a.grouped) {
    a.num_heads = c.get<int64_t>("num_query_heads", 0);
    a.kv_heads = c.get<int64_t>("num_key_value_heads", 0);
    a.key_dim = c.get<int64_t>("head_dim", 0);
  } else {
    a.num_heads = c.get<int64_t>("num_heads", 0);
    a.key_dim = c.get<int64_t>("key_dim", 0);
  }
  if (c.cfg.contains("value_dim") && !c.cfg["value_dim"].is_null()) a.value_dim = c.get<int64_t>("value_dim", 0);
  a.dropout = c.get<double>("dropout", 0.0);
  a.use_bias = c.get<bool>("use_bias", true);
  if (c.cfg.contains("output_shape") && !c.cfg["output_shape"].is_null()) {
    const json& o = c.cfg["output_shape"];
    const std::string where = c.where() + " 'output_shape'";
    if (o.is_number_integer())
      a.output_dim = as<int64_t>(o, where);
    else if (o.is_array() && o.size() == 1)
      a.output_dim = as<int64_t>(o[0], where + "[0]");
    else
      c.unsupported("output_shape=" + o.dump() + " (one axis: an int or a list of one)");
  }
  if (c.cfg.contains("attention_axes") && !c.cfg["attention_axes"].is_null()) {
    const json& ax = c.cfg["attention_axes"];  // on (batch, steps, features) tensors: the steps, 1 or -2
    const bool steps = (ax.is_number_integer() && (ax == 1 || ax == -2)) ||
                       (ax.is_array() && ax.size() == 1 && ax[0].is_number_integer() && (ax[0] == 1 || ax[0] == -2));
    if (!steps) c.unsupported("attention_axes=" + ax.dump() + " (the steps of (batch, steps, features) tensors: [1])");
  }
  if (c.cfg.contains("sliding_window") && !c.cfg["sliding_window"].is_null())
    c.unsupported("sliding_window=" + c.cfg["sliding_window"].dump());
  if (c.get<bool>("use_gate", false)) c.unsupported("use_gate=True");
  const json kw = call_kwargs(c.node);
  for (const char* k : {"attention_mask", "query_mask", "value_mask", "key_mask"})
    if (kw.contains(k) && !kw[k].is_null()) c.unsupported(std::string("its call's ") + k);
  if (kw.contains("return_attention_scores") && kw["return_attention_scores"] == true)
    c.unsupported("return_attention_scores=True (a second output)");
  a.causal = kw.contains("use_causal_mask") && kw["use_causal_mask"] == true;
  return std::make_unique<MultiHeadAttention>(a);
}

std::unique_ptr<Layer> make_layer(const LayerCtx& c);

std::unique_ptr<Layer> make_layer_only(const LayerCtx& c) {
  if (c.cls == "Rescaling" || c.cls == "Normalization") return make_preprocessing(c);
  if (is_recurrent(c.cls)) return make_recurrent(c);
  if (c.cls == "TimeDistributed") {
    const LayerCtx w = wrapped_ctx(c, "layer");
    if (w.cls == "InputLayer" || w.cls == "TimeDistributed" || w.cls == "Bidirectional")
      c.unsupported("wrapping a " + w.cls);
    auto inner = make_layer_only(w);
    read_weight_settings(w, *inner, true);
    if (!w.own_name.empty()) inner->set_name(w.own_name);
    return std::make_unique<TimeDistributed>(std::move(inner));
  }
  if (c.cls == "Bidirectional") {
    DPT_CHECK(c.cfg.contains("layer"), c.where() << " has no 'layer' to wrap");
    const json& mm = c.cfg.contains("merge_mode") ? c.cfg["merge_mode"] : json("concat");
    if (mm.is_null()) c.unsupported("merge_mode=None (two outputs; dptrain's layers have one)");
    const std::string mode = as<std::string>(mm, c.where() + " 'merge_mode'");
    if (mode != "concat" && mode != "sum" && mode != "ave" && mode != "mul")
      DPT_FAIL(c.where() << " merge_mode '" << mode << "' is not one of 'concat', 'sum', 'ave', 'mul'");
    auto forward = wrapped_recurrent(c, "layer");
    auto backward = c.cfg.contains("backward_layer") && !c.cfg["backward_layer"].is_null()
                        ? wrapped_recurrent(c, "backward_layer")
                        : nullptr;
    // Keras 3 writes the forward layer's name as it names it ("forward_lstm") and keeps a given
    // backward layer's; Keras 2 (tf-keras) writes the wrapped layer's own ("lstm") and prefixes
    // both, the backward one with "backward_". The names reach the optimizer's slot names.
    if (backward && !forward->name().empty() && forward->name().rfind("forward_", 0) != 0)
      backward->set_name("backward_" + backward->name());
    return std::make_unique<Bidirectional>(std::move(forward), merge_mode_from_name(mode), std::move(backward));
  }
  if (c.cls == "Embedding") {
    if (c.get<int64_t>("lora_rank", 0) != 0) c.unsupported("lora_rank (LoRA)");
    return std::make_unique<Embedding>(c.get<int64_t>("input_dim", 0), c.get<int64_t>("output_dim", 0),
                                       c.get<bool>("mask_zero", false));
  }
  if (c.cls == "Masking") return std::make_unique<Masking>(c.get<double>("mask_value", 0.0));
  if (c.cls == "CategoryEncoding") {
    const std::string mode = c.get<std::string>("output_mode", "multi_hot");
    if (c.get<bool>("sparse", false)) c.unsupported("sparse=True");
    DPT_CHECK(mode == "one_hot" || mode == "multi_hot" || mode == "count",
              c.where() << " has output_mode='" << mode << "'; Keras's are 'one_hot', 'multi_hot' and 'count'");
    return std::make_unique<CategoryEncoding>(c.get<int64_t>("num_tokens", 0),
                                              mode == "one_hot"     ? CategoryEncoding::one_hot
                                              : mode == "multi_hot" ? CategoryEncoding::multi_hot
                                                                    : CategoryEncoding::count);
  }
  if (c.cls == "EinsumDense") {
    if (c.get<int64_t>("lora_rank", 0) != 0) c.unsupported("lora_rank (LoRA)");
    if (c.cfg.contains("quantization_config") && !c.cfg["quantization_config"].is_null())
      c.unsupported("quantization_config (a quantized kernel)");
    DPT_CHECK(c.cfg.contains("output_shape"), c.where() << " has no 'output_shape'");
    const json& o = c.cfg["output_shape"];
    const std::string where = c.where() + " 'output_shape'";
    std::vector<int64_t> shape;  // -1: None
    if (o.is_array()) {
      for (size_t k = 0; k < o.size(); ++k)
        shape.push_back(o[k].is_null() ? -1 : as<int64_t>(o[k], where + "[" + std::to_string(k) + "]"));
    } else {
      shape.push_back(as<int64_t>(o, where));
    }
    const json& b = c.cfg.contains("bias_axes") ? c.cfg["bias_axes"] : json(nullptr);
    const std::string bias = b.is_null() ? "" : as<std::string>(b, c.where() + " 'bias_axes'");
    return std::make_unique<EinsumDense>(c.get<std::string>("equation", ""), shape, bias, activation_of(c));
  }
  if (c.cls == "Dense") return std::make_unique<Dense>(c.get<int64_t>("units", 0), activation_of(c), c.get<bool>("use_bias", true));
  if (c.cls == "Conv2D" || c.cls == "Convolution2D") {
    auto k = conv_options<Conv2DConfig>(c);
    if (c.get<int64_t>("groups", 1) != 1) c.unsupported("groups other than 1");
    k.filters = c.get<int64_t>("filters", 0);
    return std::make_unique<Conv2D>(k);
  }
  if (c.cls == "Conv1D" || c.cls == "Convolution1D") {
    bool causal = false;
    const Conv2DConfig k = conv1d_options(c, &causal);
    if (c.get<int64_t>("groups", 1) != 1) c.unsupported("groups other than 1");
    return std::make_unique<Conv1D>(k, causal);
  }
  if (c.cls == "MaxPooling1D" || c.cls == "AveragePooling1D" || c.cls == "MaxPool1D" || c.cls == "AvgPool1D") {
    channels_last(c);
    Pool2DConfig p;
    p.pw = single_of(c, "pool_size", 2);
    p.sw = single_of(c, "strides", p.pw);
    p.same = same_padding(c);
    return std::make_unique<Pool2D>(c.cls.rfind("Max", 0) == 0, p, 1);
  }
  if (c.cls == "GlobalAveragePooling1D" || c.cls == "GlobalAvgPool1D" || c.cls == "GlobalMaxPooling1D" ||
      c.cls == "GlobalMaxPool1D") {
    channels_last(c);
    return std::make_unique<GlobalPooling2D>(c.cls.find("Max") != std::string::npos, c.get<bool>("keepdims", false), 1);
  }
  if (c.cls == "Conv1DTranspose" || c.cls == "Convolution1DTranspose") {
    const Conv2DConfig k = conv1d_options(c, nullptr);
    if (c.cfg.contains("output_padding") && !c.cfg["output_padding"].is_null())
      c.unsupported("output_padding=" + c.cfg["output_padding"].dump() + " (None only)");
    return std::make_unique<Conv1DTranspose>(k);
  }
  if (c.cls == "Conv2DTranspose" || c.cls == "Convolution2DTranspose") {
    auto k = conv_options<Conv2DConfig>(c);
    if (c.cfg.contains("output_padding") && !c.cfg["output_padding"].is_null())
      c.unsupported("output_padding=" + c.cfg["output_padding"].dump() + " (None only)");
    if (c.get<int64_t>("groups", 1) != 1) c.unsupported("groups other than 1");
    k.filters = c.get<int64_t>("filters", 0);
    return std::make_unique<Conv2DTranspose>(k);
  }
  if (c.cls == "DepthwiseConv2D") {
    auto k = conv_options<DepthwiseConv2DConfig>(c);
    k.depth_multiplier = c.get<int64_t>("depth_multiplier", 1);
    return std::make_unique<DepthwiseConv2D>(k);
  }
  if (c.cls == "DepthwiseConv1D") {
    auto k = conv1d_window<DepthwiseConv2DConfig>(c);
    k.spatial = 1;
    k.depth_multiplier = c.get<int64_t>("depth_multiplier", 1);
    return std::make_unique<DepthwiseConv2D>(k);
  }
  if (c.cls == "SeparableConv1D" || c.cls == "SeparableConvolution1D") {
    auto k = conv1d_window<SeparableConv2DConfig>(c);
    k.spatial = 1;
    k.filters = c.get<int64_t>("filters", 0);
    k.depth_multiplier = c.get<int64_t>("depth_multiplier", 1);
    return std::make_unique<SeparableConv2D>(k);
  }
  if (c.cls == "SeparableConv2D" || c.cls == "SeparableConvolution2D") {
    auto k = conv_options<SeparableConv2DConfig>(c);
    k.filters = c.get<int64_t>("filters", 0);
    k.depth_multiplier = c.get<int64_t>("depth_multiplier", 1);
    return std::make_unique<SeparableConv2D>(k);
  }
  if (c.cls == "UpSampling2D") {
    channels_last(c);
    const std::string how = c.get<std::string>("interpolation", "nearest");
    if (how != "nearest" && how != "bilinear") c.unsupported("interpolation='" + how + "' (nearest or bilinear)");
    const auto [rows, cols] = pair_of(c, "size", {2, 2});
    return std::make_unique<UpSampling2D>(rows, cols, 2, how == "bilinear");
  }
  if (c.cls == "ZeroPadding1D" || c.cls == "Cropping1D") {  // an int (both ends) or (left, right)
    channels_last(c);
    const bool crop = c.cls == "Cropping1D";
    const char* key = crop ? "cropping" : "padding";
    const std::string where = c.where() + " '" + key + "'";
    const json v = c.cfg.contains(key) ? c.cfg[key] : json(1);
    Padding2DConfig p;
    if (v.is_number_integer()) {
      p.left = p.right = as<int64_t>(v, where);
    } else if (v.is_array() && v.size() == 2) {
      p.left = as<int64_t>(v[0], where + "[0]");
      p.right = as<int64_t>(v[1], where + "[1]");
    } else {
      DPT_FAIL(where << " must be an int or (left, right), got " << v.dump());
    }
    DPT_CHECK(p.left >= 0 && p.right >= 0, where << " must not be negative, got " << v.dump());
    return std::make_unique<Padding2D>(crop, p, 1);
  }
  if (c.cls == "UpSampling1D") return std::make_unique<UpSampling2D>(1, single_of(c, "size", 2), 1);
  if (c.cls == "ZeroPadding2D" || c.cls == "Cropping2D") {
    channels_last(c);
    const bool crop = c.cls == "Cropping2D";
    return std::make_unique<Padding2D>(crop, padding_of(c, crop ? "cropping" : "padding"));
  }
  if (c.cls == "MaxPooling2D" || c.cls == "AveragePooling2D" || c.cls == "MaxPool2D" || c.cls == "AvgPool2D") {
    channels_last(c);
    Pool2DConfig p;
    std::tie(p.ph, p.pw) = pair_of(c, "pool_size", {2, 2});
    std::tie(p.sh, p.sw) = pair_of(c, "strides", {p.ph, p.pw});
    p.same = same_padding(c);
    return std::make_unique<Pool2D>(c.cls.rfind("Max", 0) == 0, p);
  }
  if (c.cls == "GlobalAveragePooling2D" || c.cls == "GlobalAvgPool2D" || c.cls == "GlobalMaxPooling2D" ||
      c.cls == "GlobalMaxPool2D") {
    channels_last(c);
    return std::make_unique<GlobalPooling2D>(c.cls.find("Max") != std::string::npos, c.get<bool>("keepdims", false));
  }
  if (c.cls == "Flatten") {
    channels_last(c);
    return std::make_unique<Flatten>();
  }
  if (c.cls == "Reshape") {
    DPT_CHECK(c.cfg.contains("target_shape") && c.cfg["target_shape"].is_array(),
              c.where() << " 'target_shape' must be a list of dimensions");
    Shape target;
    const json& t = c.cfg["target_shape"];
    DPT_CHECK(t.size() <= Shape::kMaxRank, c.where()
                                               << " 'target_shape' has more than " << Shape::kMaxRank << " dimensions");
    for (size_t i = 0; i < t.size(); ++i)
      target.push_back(as<int64_t>(t[i], c.where() + " 'target_shape'[" + std::to_string(i) + "]"));
    return std::make_unique<Reshape>(target);
  }
  if (c.cls == "Dropout" || c.cls == "AlphaDropout") {
    Shape noise;  // (None, d1, ...): 0 for None
    if (c.cfg.contains("noise_shape") && !c.cfg["noise_shape"].is_null()) {
      const json& n = c.cfg["noise_shape"];
      const std::string where = c.where() + " 'noise_shape'";
      DPT_CHECK(n.is_array() && n.size() >= 2 && n.size() <= Shape::kMaxRank + 1,
                where << " must be a list (None, d1, ...), got " << n.dump());
      if (!n[0].is_null()) c.unsupported("noise_shape with a batch entry other than None (masks are per sample)");
      for (size_t i = 1; i < n.size(); ++i)
        noise.push_back(n[i].is_null() ? 0 : as<int64_t>(n[i], where + "[" + std::to_string(i) + "]"));
    }
    const double rate = c.get<double>("rate", 0.0);
    DPT_CHECK(rate >= 0 && rate < 1, c.where() << " 'rate' must be in [0, 1), got " << rate);
    if (c.cls == "AlphaDropout") return std::make_unique<AlphaDropout>(rate, noise);
    return std::make_unique<Dropout>(rate, noise);
  }
  if (c.cls == "RandomFlip") {
    channels_last(c);
    const std::string mode = c.get<std::string>("mode", "horizontal_and_vertical");
    DPT_CHECK(mode == "horizontal" || mode == "vertical" || mode == "horizontal_and_vertical",
              c.where() << " mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got '" << mode << "'");
    return std::make_unique<RandomFlip>(mode);
  }
  if (c.cls == "CenterCrop" || c.cls == "RandomCrop") {  // (RandomCrop's seed: dptrain draws from --seed)
    channels_last(c);
    ResizeConfig r;
    r.height = c.get<int64_t>("height", 0);
    r.width = c.get<int64_t>("width", 0);
    r.center_crop = c.cls == "CenterCrop";
    r.random_crop = !r.center_crop;
    return std::make_unique<Resizing>(r);
  }
  if (c.cls == "RandomGrayscale") {
    channels_last(c);
    return std::make_unique<RandomGrayscale>(c.get<double>("factor", 0.5));
  }
  if (c.cls == "Resizing") {
    channels_last(c);
    ResizeConfig r;
    r.height = c.get<int64_t>("height", 0);
    r.width = c.get<int64_t>("width", 0);
    r.interpolation = c.get<std::string>("interpolation", "bilinear");
    r.crop_to_aspect_ratio = c.get<bool>("crop_to_aspect_ratio", false);
    r.pad_to_aspect_ratio = c.get<bool>("pad_to_aspect_ratio", false);
    r.antialias = c.get<bool>("antialias", false);
    r.fill_value = c.get<double>("fill_value", 0.0);
    const std::string fill = c.get<std::string>("fill_mode", "constant");
    if (fill != "constant") c.unsupported("fill_mode='" + fill + "' (Keras pads with fill_value: 'constant')");
    return std::make_unique<Resizing>(r);
  }
  if (c.cls == "RandomRotation" || c.cls == "RandomZoom" || c.cls == "RandomTranslation" || c.cls == "RandomShear" ||
      c.cls == "RandomContrast" || c.cls == "RandomBrightness") {
    channels_last(c);
    // A factor: a number or a pair (lower, upper); None (RandomZoom's width_factor) as none given.
    auto factor = [&](const char* key, bool optional, double floor) {
      const json v = c.cfg.contains(key) ? c.cfg[key] : json(nullptr);
      std::vector<double> given;
      if (v.is_array()) {
        for (size_t i = 0; i < v.size(); ++i)
          given.push_back(as<double>(v[i], c.where() + " '" + key + "'[" + std::to_string(i) + "]"));
        DPT_CHECK(given.size() == 2, c.where() << " '" << key << "' must be a number or a pair, got " << v.dump());
      } else if (!v.is_null()) {
        given.push_back(as<double>(v, c.where() + " '" + key + "'"));
      } else {
        DPT_CHECK(optional, c.where() << " has no '" << key << "'");
      }
      return augment_factor(given, floor, 1.0, c.where() + " '" + key + "'");
    };
    if (c.cls == "RandomContrast" || c.cls == "RandomBrightness") {
      const bool brightness = c.cls == "RandomBrightness";
      const json vr = c.cfg.contains("value_range") ? c.cfg["value_range"] : json::array({0, 255});
      DPT_CHECK(vr.is_array() && vr.size() == 2, c.where()
                                                     << " 'value_range' must be a pair (low, high), got " << vr.dump());
      double lo = as<double>(vr[0], c.where() + " 'value_range'[0]");
      double hi = as<double>(vr[1], c.where() + " 'value_range'[1]");
      if (brightness && lo > hi) std::swap(lo, hi);  // Keras sorts RandomBrightness's
      return std::make_unique<RandomContrast>(factor("factor", false, brightness ? -1.0 : 0.0), lo, hi, brightness);
    }
    const std::string fill = c.get<std::string>("fill_mode", "reflect");
    const std::string interp = c.get<std::string>("interpolation", "bilinear");
    DPT_CHECK(fill == "reflect" || fill == "wrap" || fill == "constant" || fill == "nearest",
              c.where() << " fill_mode must be 'reflect', 'wrap', 'constant' or 'nearest', got '" << fill << "'");
    DPT_CHECK(interp == "bilinear" || interp == "nearest",
              c.where() << " interpolation must be 'bilinear' or 'nearest', got '" << interp << "'");
    const double fill_value = c.get<double>("fill_value", 0.0);
    if (c.cls == "RandomRotation")
      return std::make_unique<RandomAffine>(kernels::WarpKind::rotation, factor("factor", false, -1.0), AugmentFactor{},
                                            fill, interp, fill_value);
    if (c.cls == "RandomShear") {  // factors default 0; Keras writes a number f back as (-f, f)
      auto shear = [&](const char* key) {
        return c.cfg.contains(key) && !c.cfg[key].is_null() ? factor(key, false, -1.0)
                                                            : augment_factor({0.0}, -1.0, 1.0, key);
      };
      return std::make_unique<RandomAffine>(kernels::WarpKind::shear, shear("y_factor"), shear("x_factor"), fill,
                                            interp, fill_value);
    }
    const bool zoom = c.cls == "RandomZoom";
    return std::make_unique<RandomAffine>(zoom ? kernels::WarpKind::zoom : kernels::WarpKind::translation,
                                          factor("height_factor", false, -1.0), factor("width_factor", zoom, -1.0),
                                          fill, interp, fill_value);
  }
  if (c.cls == "GaussianNoise" || c.cls == "GaussianDropout") {
    const bool multiplies = c.cls == "GaussianDropout";
    const double v = c.get<double>(multiplies ? "rate" : "stddev", 0.0);
    DPT_CHECK(v >= 0 && (!multiplies || v < 1),
              c.where() << (multiplies ? " 'rate' must be in [0, 1), got " : " 'stddev' must be >= 0, got ") << v);
    return std::make_unique<GaussianNoise>(v, multiplies);
  }
  if (c.cls == "SpatialDropout1D" || c.cls == "SpatialDropout2D") {
    if (c.cls == "SpatialDropout2D") channels_last(c);
    return std::make_unique<SpatialDropout>(c.get<double>("rate", 0.0), c.cls == "SpatialDropout1D" ? 1 : 2);
  }
  if (c.cls == "Activation") return std::make_unique<ActivationLayer>(activation_of(c));
  if (c.cls == "Identity") return std::make_unique<Identity>();
  if (c.cls == "UnitNormalization") {
    const json ax = c.cfg.contains("axis") && !c.cfg["axis"].is_null() ? c.cfg["axis"] : json(-1);
    const std::string where = c.where() + " 'axis'";
    std::vector<int> axes;
    if (ax.is_number_integer()) {
      axes.push_back(int(as<int64_t>(ax, where)));
    } else {
      DPT_CHECK(ax.is_array() && !ax.empty() && ax.size() <= Shape::kMaxRank,
                where << " must be an axis or a list of axes, got " << ax.dump());
      for (size_t i = 0; i < ax.size(); ++i)
        axes.push_back(int(as<int64_t>(ax[i], where + "[" + std::to_string(i) + "]")));
    }
    for (int a : axes) DPT_CHECK(a != 0, where << " " << ax.dump() << " names the batch axis 0");
    return std::make_unique<UnitNormalization>(axes, ax.is_array());
  }
  if (c.cls == "ActivityRegularization") {
    const double l1 = c.get<double>("l1", 0.0), l2 = c.get<double>("l2", 0.0);
    DPT_CHECK(l1 >= 0 && l2 >= 0, c.where() << " l1 and l2 must be >= 0, got l1=" << l1 << ", l2=" << l2);
    return std::make_unique<ActivityRegularization>(l1, l2);
  }
  if (c.cls == "RepeatVector") {
    const int64_t n = c.get<int64_t>("n", 0);
    DPT_CHECK(n >= 1, c.where() << " 'n' must be >= 1, got " << n);
    return std::make_unique<RepeatVector>(n);
  }
  if (c.cls == "Permute") {
    const std::vector<int> dims = ints_of(c, "dims");
    DPT_CHECK(is_permutation_of_axes(dims),
              c.where() << " 'dims' must be a permutation of 1.." << dims.size() << ", got "
                        << (c.cfg.contains("dims") ? c.cfg["dims"].dump() : std::string("none")));
    return std::make_unique<Permute>(dims);
  }
  if (c.cls == "PReLU") return std::make_unique<PReLU>(ints_of(c, "shared_axes"));
  // Keras's activation layer classes, where their settings are one of the activations (dptrain
  // writes them back as Activation layers where the setting is the activation's default).
  if (c.cls == "ReLU") {
    const bool capped = c.cfg.contains("max_value") && !c.cfg["max_value"].is_null();
    const double max_value = c.get<double>("max_value", 0), slope = c.get<double>("negative_slope", 0);
    if (c.get<double>("threshold", 0) != 0) c.unsupported("threshold other than 0");
    if (capped && slope != 0) c.unsupported("max_value with a negative_slope");
    DPT_CHECK(slope >= 0 && (!capped || max_value > 0),
              c.where() << " 'negative_slope' must be >= 0 and 'max_value' > 0 (or None)");
    if (slope > 0) return std::make_unique<ActivationLayer>(Activation(Activation::leaky_relu, float(slope)));
    if (max_value > 0) return std::make_unique<ActivationLayer>(Activation(Activation::relu6, float(max_value)));
    return std::make_unique<ActivationLayer>(Activation::relu);
  }
  if (c.cls == "LeakyReLU") {  // Keras 3 names the slope negative_slope, Keras 2 alpha; both default to 0.3
    const double slope = c.get<double>("negative_slope", c.get<double>("alpha", 0.3));
    DPT_CHECK(slope >= 0, c.where() << " 'negative_slope' must be >= 0, got " << slope);
    return std::make_unique<ActivationLayer>(Activation(Activation::leaky_relu, float(slope)));
  }
  if (c.cls == "ELU") {
    const double alpha = c.get<double>("alpha", 1.0);
    if (alpha < 0) c.unsupported("alpha < 0");
    return std::make_unique<ActivationLayer>(Activation(Activation::elu, float(alpha)));
  }
  if (c.cls == "Softmax") {
    const json& ax = c.cfg.contains("axis") ? c.cfg["axis"] : json(-1);
    if (!(ax.is_number_integer() && ax.get<int64_t>() == -1))
      c.unsupported("axis=" + ax.dump() + " (the last axis only)");
    return std::make_unique<ActivationLayer>(Activation::softmax);
  }
  if (c.cls == "Add") return std::make_unique<Add>();
  if (c.cls == "Subtract") return std::make_unique<ElementwiseMerge>(ElementwiseMerge::subtract);
  if (c.cls == "Multiply") return std::make_unique<ElementwiseMerge>(ElementwiseMerge::multiply);
  if (c.cls == "Average") return std::make_unique<ElementwiseMerge>(ElementwiseMerge::average);
  if (c.cls == "Maximum" || c.cls == "Minimum") return std::make_unique<Extremum>(c.cls == "Maximum");
  if (c.cls == "Concatenate") return std::make_unique<Concatenate>(c.get<int64_t>("axis", -1));
  if (c.cls == "MultiHeadAttention" || c.cls == "GroupQueryAttention" || c.cls == "GroupedQueryAttention")
    return make_attention(c);
  if (c.cls == "Attention" || c.cls == "AdditiveAttention") {
    ScoreAttentionConfig a;
    if (c.cls == "AdditiveAttention") {
      a.score = ScoreAttentionConfig::additive;
    } else {
      const std::string mode = c.get<std::string>("score_mode", "dot");
      DPT_CHECK(mode == "dot" || mode == "concat",
                c.where() << " has score_mode='" << mode << "'; Keras's are 'dot' and 'concat'");
      if (mode == "concat") a.score = ScoreAttentionConfig::concat;
    }
    a.use_scale = c.get<bool>("use_scale", c.cls == "AdditiveAttention");  // Keras's defaults
    a.dropout = c.get<double>("dropout", 0.0);
    const json kw = call_kwargs(c.node);
    if (kw.contains("return_attention_scores") && kw["return_attention_scores"] == true)
      c.unsupported("return_attention_scores=True (a second output)");
    a.causal = (kw.contains("use_causal_mask") && kw["use_causal_mask"] == true) || c.get<bool>("causal", false);
    return std::make_unique<ScoreAttention>(a);
  }
  if (c.cls == "Dot") {
    DPT_CHECK(c.cfg.contains("axes"), c.where() << " has no 'axes'");
    const json& ax = c.cfg["axes"];
    std::vector<int64_t> axes;
    if (ax.is_array()) {
      DPT_CHECK(ax.size() == 2, c.where() << " 'axes' must be one axis or a pair, got " << ax.dump());
      for (size_t i = 0; i < 2; ++i)
        axes.push_back(as<int64_t>(ax[i], c.where() + " 'axes'[" + std::to_string(i) + "]"));
    } else {
      axes.push_back(as<int64_t>(ax, c.where() + " 'axes'"));
    }
    return std::make_unique<Dot>(axes, c.get<bool>("normalize", false), ax.is_array());
  }
  if (c.cls == "BatchNormalization") {
    const json& ax = c.cfg.contains("axis") ? c.cfg["axis"] : json(-1);
    const int64_t axis = ax.is_array() ? (ax.size() == 1 ? as<int64_t>(ax[0], c.where() + " 'axis'[0]") : 0)
                                       : as<int64_t>(ax, c.where() + " 'axis'");
    if (axis == 0 || (ax.is_array() && ax.size() != 1)) c.unsupported("axis=" + ax.dump() + " (the last axis only)");
    if (!c.get<bool>("center", true) || !c.get<bool>("scale", true)) c.unsupported("center=False or scale=False");
    BatchNormConfig b;
    b.momentum = c.get<double>("momentum", 0.99);
    b.epsilon = c.get<double>("epsilon", 1e-3);
    auto l = std::make_unique<BatchNormalization>(b);
    return l;
  }
  if (c.cls == "LayerNormalization" || c.cls == "RMSNormalization" || c.cls == "GroupNormalization") {
    LayerNormConfig n;
    n.rms = c.cls == "RMSNormalization";
    if (c.cls == "GroupNormalization") {
      n.groups = c.get<int64_t>("groups", 32);
      DPT_CHECK(n.groups >= 1 || n.groups == -1, c.where() << " 'groups' must be >= 1 or -1, got " << n.groups);
    }
    const json ax = c.cfg.contains("axis") ? c.cfg["axis"] : json(-1);
    n.axis.clear();
    if (ax.is_array()) {
      for (size_t i = 0; i < ax.size(); ++i)
        n.axis.push_back(as<int64_t>(ax[i], c.where() + " 'axis'[" + std::to_string(i) + "]"));
      DPT_CHECK(!n.axis.empty(), c.where() << " 'axis' must name at least one axis, got []");
    } else {
      n.axis.push_back(as<int64_t>(ax, c.where() + " 'axis'"));
    }
    n.epsilon = c.get<double>("epsilon", n.rms ? 1e-6 : 1e-3);
    DPT_CHECK(n.epsilon > 0, c.where() << " 'epsilon' must be > 0, got " << n.epsilon);
    if (!n.rms) {
      n.center = c.get<bool>("center", true);
      n.scale = c.get<bool>("scale", true);
      if (c.get<bool>("rms_scaling", false))
        c.unsupported(
            "rms_scaling=True (deprecated by Keras, which divides by the standard deviation there without "
            "taking out the mean; RMSNormalization is the layer for RMS scaling)");
    }
    return std::make_unique<LayerNormalization>(n);
  }
  DPT_FAIL(c.source
           << ": layer '" << c.name << "' (" << c.cls
           << ") is not supported (supported: Dense, EinsumDense, Embedding, CategoryEncoding, Masking, LSTM, GRU, "
              "SimpleRNN, Bidirectional, "
              "TimeDistributed, "
              "Conv1D, Conv2D, "
              "Conv2DTranspose, Conv1DTranspose, "
           << "DepthwiseConv2D, SeparableConv2D, DepthwiseConv1D, SeparableConv1D, ZeroPadding2D, Cropping2D, "
              "UpSampling2D, ZeroPadding1D, Cropping1D, "
              "UpSampling1D, MaxPooling2D, AveragePooling2D, "
              "GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D, "
              "GlobalMaxPooling1D, Flatten, Reshape, Permute, RepeatVector, Identity, ActivityRegularization, "
              "Dropout, SpatialDropout1D, SpatialDropout2D, GaussianNoise, GaussianDropout, AlphaDropout, RandomFlip, "
              "RandomRotation, RandomZoom, RandomTranslation, RandomShear, RandomContrast, RandomBrightness, "
              "RandomGrayscale, Resizing, CenterCrop, RandomCrop, "
              "UnitNormalization, Activation "
           << "(and ReLU, LeakyReLU, ELU, Softmax), PReLU, BatchNormalization, LayerNormalization, RMSNormalization, "
              "GroupNormalization, "
           << "Rescaling, Normalization, "
           << "Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, MultiHeadAttention, "
              "GroupQueryAttention, "
              "Attention, AdditiveAttention)");
}

std::unique_ptr<Layer> make_layer(const LayerCtx& c) {
  auto layer = make_layer_only(c);
  read_weight_settings(c, *layer);
  return layer;
}

// [null, d1, d2, ...] -> (d1, d2, ...), each a whole number >= 1.
Shape shape_from(const json& dims, const std::string& where) {
  DPT_CHECK(dims.is_array() && dims.size() >= 2,
            where << " must be a list [None, d1, ...] (batch, then the sample's dimensions), got " << dims.dump());
  Shape s;
  DPT_CHECK(dims.size() - 1 <= Shape::kMaxRank, where << " " << dims.dump() << " has more than " << Shape::kMaxRank << " sample dimensions");
  for (size_t i = 1; i < dims.size(); ++i) {
    const int64_t d = as<int64_t>(dims[i], where + "[" + std::to_string(i) + "]");
    DPT_CHECK(d >= 1, where << " " << dims.dump() << " has a dimension below 1 (" << d << ")");
    s.push_back(d);
  }
  return s;
}

// A Functional layer entry's name: its own "name", else its config's.
std::string entry_name(const json& l, const std::string& at) {
  if (l.contains("name") && !l["name"].is_null()) return as<std::string>(l["name"], at + "'s 'name'");
  return value_or<std::string>(l["config"], "name", "", at + "'s config");
}

// The layers an inbound node reads from: Keras 2 lists [layer, node, tensor(, kwargs)] entries;
// Keras 3 writes {"args": [...], "kwargs": {...}} with each tensor a __keras_tensor__ whose
// keras_history starts with the layer (tensors may sit in nested lists, as Add's one list).
void node_sources(const json& v, bool keras3, const std::string& where, std::vector<std::string>* out) {
  if (keras3) {
    if (v.is_object() && v.contains("class_name") && v["class_name"] == "__keras_tensor__") {
      const json* h = v.contains("config") && v["config"].is_object() && v["config"].contains("keras_history")
                          ? &v["config"]["keras_history"]
                          : nullptr;
      DPT_CHECK(h && h->is_array() && !h->empty(), where << " has a tensor without a keras_history");
      out->push_back(as<std::string>((*h)[0], where + " keras_history[0]"));
    } else if (v.is_array() || v.is_object()) {
      for (const json& e : v) node_sources(e, true, where, out);
    }
    return;
  }
  DPT_CHECK(v.is_array(), where << " must be a list of inbound tensors, got " << kind_of(v));
  for (const json& t : v) {
    DPT_CHECK(t.is_array() && !t.empty(), where << " has an inbound tensor that is not a [layer, node, tensor] list");
    out->push_back(as<std::string>(t[0], where + " inbound layer"));
  }
}

// MultiHeadAttention's inputs in its order, query, value, key (where given), from its call:
// Keras 3 passes them as args or by name; Keras 2 the query as the node's tensor, the value and key
// in its kwargs.
std::vector<std::string> attention_sources(const json& node, const std::string& where) {
  const bool keras3 = node.is_object();
  std::vector<std::string> out;
  auto name_of = [&](const json& t) {
    if (!keras3) return as<std::string>(t[0], where + " inbound layer");
    std::vector<std::string> one;
    node_sources(t, true, where, &one);
    DPT_CHECK(one.size() == 1, where << " passes an attention layer something other than one tensor an argument");
    return one[0];
  };
  const json kw = call_kwargs(&node);
  std::vector<const json*> given(3, nullptr);  // query, value, key
  const json args = keras3 && node.contains("args") && node["args"].is_array() ? node["args"] : json::array();
  if (keras3) {
    for (size_t k = 0; k < args.size() && k < 3; ++k) given[k] = &args[k];
  } else {
    DPT_CHECK(node.is_array() && !node.empty() && node[0].is_array(), where << " has no inbound tensor");
    given[0] = &node[0];
  }
  const char* names[] = {"query", "value", "key"};
  for (size_t k = 0; k < 3; ++k)
    if (kw.contains(names[k]) && is_tensor_arg(kw[names[k]])) given[k] = &kw[names[k]];
  DPT_CHECK(given[0] && given[1], where << " calls an attention layer without a query and a value");
  for (size_t k = 0; k < 3; ++k)
    if (given[k]) out.push_back(name_of(*given[k]));
  return out;
}

// The layer names of input_layers / output_layers: Keras 3 writes one tensor as [name, node,
// tensor], several (and Keras 2 any number) as a list of them.
std::vector<std::string> endpoints(const json& cfg, const char* key, const std::string& source,
                                   const std::string& model) {
  DPT_CHECK(cfg.contains(key) && cfg[key].is_array() && !cfg[key].empty(),
            source << ": the Functional model '" << model << "' has no '" << key << "' list");
  const json& v = cfg[key];
  if (v[0].is_string()) return {v[0].get<std::string>()};
  std::vector<std::string> names;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string at = source + ": '" + key + "'[" + std::to_string(i) + "]";
    DPT_CHECK(v[i].is_array() && !v[i].empty(), at << " is not a [layer, node, tensor] list");
    names.push_back(as<std::string>(v[i][0], at + "[0]"));
  }
  return names;
}

// A Functional model (Keras 3 and tf.keras "Functional", Keras 2's "Model"): its layers in an
// order where each comes after the layers it reads (Keras lists them so; another listing is
// sorted, keeping Keras's order where it can), each with the names of the layers it reads. Its
// inputs (InputLayers, in input_layers' order), one output, every layer called once and on the way
// to the output; anything else is an error saying why.
struct GraphEntry {
  const json* layer;
  std::string name, cls;
  std::vector<std::string> from;
  std::vector<std::string> mask_from;  // Keras 3: the tensors its call takes as masks (mask=, query_mask=, ...)
};

// The operations Keras 3 writes into a Functional config to compute the masks it passes on
// explicitly (an Embedding's mask_zero as NotEqual(ids, 0), Masking's Any(NotEqual(x, v)), a merge's
// LogicalOr or LogicalAnd of its inputs' masks, Attention's ConvertToTensor of its query's): dptrain derives the same
// masks itself from its layers, and takes these only where they feed masks.
bool is_mask_op(const std::string& cls) {
  for (const char* op : {"NotEqual", "Equal", "LogicalOr", "LogicalAnd", "LogicalNot", "Any", "All", "ConvertToTensor"})
    if (cls == op) return true;
  return false;
}
bool is_mask_kwarg(const std::string& key) {
  return key == "mask" || key == "query_mask" || key == "value_mask" || key == "key_mask";
}

std::vector<GraphEntry> functional_graph(const json& cfg, const std::string& source, const std::string& model,
                                         std::vector<std::string>* inputs) {
  const json& layers = cfg["layers"];
  const std::string why = source + ": the Functional model '" + model + "' ";
  const std::string tail =
      "; dptrain builds Functional models whose layers are each called once, from their inputs "
      "to one output";
  std::map<std::string, size_t> index;
  std::vector<GraphEntry> all(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& l = layers[i];
    const std::string at = source + ": layer " + std::to_string(i);
    DPT_CHECK(l.is_object() && l.contains("config") && l["config"].is_object(),
              at << " is not a {class_name, config} dict");
    GraphEntry& e = all[i];
    e.layer = &l;
    e.name = entry_name(l, at);
    DPT_CHECK(index.emplace(e.name, i).second, source << ": two layers are named '" << e.name << "'");
    e.cls = value_or<std::string>(l, "class_name", "", at + "'s");
    const std::string where = source + ": layer '" + e.name + "' (" + e.cls + ")";
    const json nodes = l.contains("inbound_nodes") ? l["inbound_nodes"] : json::array();
    DPT_CHECK(nodes.is_array(), where << ": 'inbound_nodes' must be a list, got " << kind_of(nodes));
    if (nodes.empty()) {
      DPT_CHECK(e.cls == "InputLayer", why << "calls layer '" << e.name << "' (" << e.cls << ") on nothing" << tail);
      continue;
    }
    DPT_CHECK(nodes.size() == 1, why << "calls layer '" << e.name << "' (" << e.cls << ") " << nodes.size()
                                     << " times (a shared layer)" << tail);
    const json& node = nodes[0];
    if (node.is_object() && node.contains("kwargs") && node["kwargs"].is_object()) {  // Keras 3: masks apart
      json data = node;
      for (auto it = node["kwargs"].begin(); it != node["kwargs"].end(); ++it)
        if (is_mask_kwarg(it.key())) {
          node_sources(it.value(), true, where + ": " + it.key(), &e.mask_from);
          data["kwargs"].erase(it.key());
        }
      node_sources(data, true, where + ": inbound node", &e.from);
    } else {
      node_sources(node, node.is_object(), where + ": inbound node", &e.from);
    }
    if (e.cls == "MultiHeadAttention" || e.cls == "GroupQueryAttention" || e.cls == "GroupedQueryAttention")
      e.from = attention_sources(node, where + ": inbound node");
  }
  // Keras 3's mask operations: taken where they feed masks alone (and other mask operations), then
  // left out of the graph.
  {
    std::map<std::string, const GraphEntry*> by_name;
    for (const GraphEntry& e : all) by_name[e.name] = &e;
    for (const GraphEntry& e : all) {
      if (is_mask_op(e.cls)) continue;
      for (const std::string& f : e.from)
        DPT_CHECK(!by_name.count(f) || !is_mask_op(by_name[f]->cls),
                  source << ": layer '" << e.name << "' (" << e.cls << ") reads '" << f << "' (" << by_name[f]->cls
                         << "), an operation dptrain takes only as one computing a Keras mask");
      for (const std::string& f : e.mask_from)
        DPT_CHECK(by_name.count(f) && is_mask_op(by_name[f]->cls),
                  source << ": layer '" << e.name << "' (" << e.cls << ") is given the mask '" << f
                         << "', which no Keras mask operation (NotEqual, LogicalOr, ...) computes; dptrain derives "
                            "the masks of its layers (an Embedding's mask_zero, Masking) and takes no other");
    }
    all.erase(std::remove_if(all.begin(), all.end(), [](const GraphEntry& e) { return is_mask_op(e.cls); }), all.end());
    index.clear();
    for (size_t i = 0; i < all.size(); ++i) index[all[i].name] = i;
  }
  for (const GraphEntry& e : all)
    for (const std::string& f : e.from)
      DPT_CHECK(index.count(f),
                source << ": layer '" << e.name << "' reads from '" << f << "', which is not among the layers");
  *inputs = endpoints(cfg, "input_layers", source, model);
  const std::vector<std::string> outs = endpoints(cfg, "output_layers", source, model);
  DPT_CHECK(outs.size() == 1, source << ": the Functional model '" << model << "' has " << outs.size()
                                     << " outputs; dptrain trains models with one output");
  const std::string out = outs[0];
  for (const std::string& in : *inputs) {
    DPT_CHECK(index.count(in), source << ": the input layer '" << in << "' is not among the layers");
    DPT_CHECK(all[index[in]].cls == "InputLayer",
              why << "has the input '" << in << "' (" << all[index[in]].cls << "), not an InputLayer" << tail);
    DPT_CHECK(std::count(inputs->begin(), inputs->end(), in) == 1,
              why << "lists the input '" << in << "' twice" << tail);
  }
  DPT_CHECK(index.count(out), source << ": the output layer '" << out << "' is not among the layers");
  for (const GraphEntry& e : all)
    DPT_CHECK(e.cls != "InputLayer" || std::count(inputs->begin(), inputs->end(), e.name) == 1,
              why << "has an InputLayer '" << e.name << "' that is not among its inputs" << tail);
  // The order: repeatedly the first listed layer whose inputs are all placed.
  std::vector<GraphEntry> order;
  std::vector<bool> placed(all.size(), false);
  while (order.size() < all.size()) {
    size_t pick = all.size();
    for (size_t i = 0; i < all.size() && pick == all.size(); ++i)
      if (!placed[i] &&
          std::all_of(all[i].from.begin(), all[i].from.end(), [&](const std::string& f) { return placed[index[f]]; }))
        pick = i;
    if (pick == all.size()) {
      size_t first = 0;
      while (placed[first]) ++first;
      DPT_FAIL(why << "has layers that form a loop through '" << all[first].name << "'" << tail);
    }
    placed[pick] = true;
    order.push_back(all[pick]);
  }
  // Every layer on the way to the output: walk back from it.
  std::vector<bool> leads(all.size(), false);
  std::vector<size_t> todo{index[out]};
  leads[index[out]] = true;
  while (!todo.empty()) {
    const size_t i = todo.back();
    todo.pop_back();
    for (const std::string& f : all[i].from)
      if (!leads[index[f]]) {
        leads[index[f]] = true;
        todo.push_back(index[f]);
      }
  }
  for (size_t i = 0; i < all.size(); ++i) {
    DPT_CHECK(leads[i] || all[i].cls != "InputLayer", why << "has the input '" << all[i].name
                                                          << "', which no layer on the way to its output '" << out
                                                          << "' reads" << tail);
    DPT_CHECK(leads[i], why << "has layer '" << all[i].name << "' off the way to its output '" << out << "'" << tail);
  }
  return order;
}

std::unique_ptr<Sequential> from_json(const json& j, uint64_t seed, const std::string& source) {
  DPT_CHECK(j.is_object(), source << " is not a Keras model config (not a JSON object)");
  const std::string cls = value_or<std::string>(j, "class_name", "", source + ": the model's");
  const bool functional = cls == "Functional" || cls == "Model";
  DPT_CHECK(cls == "Sequential" || functional,
            source << ": only Sequential and Functional models are supported, this is a '" << cls << "'");
  DPT_CHECK(j.contains("config") && (j["config"].is_object() || j["config"].is_array()),
            source << ": the model has no 'config' dict (or list of layers)");
  const json& cfg = j["config"];
  // Keras 2 older form: config is the list of layers.
  DPT_CHECK(cfg.is_array() || (cfg.contains("layers") && cfg["layers"].is_array()),
            source << ": the model's config has no list of 'layers'");
  const std::string name =
      value_or<std::string>(cfg, "name", functional ? "functional" : "sequential", source + ": the model's");
  std::vector<const json*> layers;
  std::vector<GraphEntry> graph;
  std::vector<std::string> input_names;  // a Functional model's, in input_layers' order
  if (functional) {
    DPT_CHECK(cfg.is_object(), source << ": the Functional model's config must be a dict");
    graph = functional_graph(cfg, source, name, &input_names);
    for (const GraphEntry& e : graph) layers.push_back(e.layer);
  } else {
    for (const json& l : cfg.is_array() ? cfg : cfg["layers"]) layers.push_back(&l);
  }
  auto model = std::make_unique<Sequential>(name);
  Shape input;
  std::vector<Shape> inputs(std::max<size_t>(input_names.size(), 1));
  // A Functional model's layer name -> its index in the model (-1 - k: its input k).
  std::map<std::string, int> node;
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& l = *layers[i];
    const std::string at = source + ": layer " + std::to_string(i);
    DPT_CHECK(l.is_object() && l.contains("config") && l["config"].is_object(),
              at << " is not a {class_name, config} dict");
    const std::string lcls = value_or<std::string>(l, "class_name", "", at + "'s");
    const json& lc = l["config"];
    const std::string lname = value_or<std::string>(lc, "name", "", at + " (" + lcls + "):");
    const std::string where = source + ": layer '" + lname + "' (" + lcls + "):";
    if (lcls == "InputLayer") {  // Keras 3 (batch_shape) and Keras 2 (batch_input_shape)
      Shape shape;
      for (const char* k : {"batch_shape", "batch_input_shape"})
        if (lc.contains(k)) shape = shape_from(lc[k], where + " '" + k + "'");
      size_t which = 0;
      if (functional) {
        which = size_t(std::find(input_names.begin(), input_names.end(), graph[i].name) - input_names.begin());
        node[graph[i].name] = -1 - int(which);
      }
      inputs[which] = shape;
      if (which == 0) input = shape;
      continue;
    }
    if (input.empty() && lc.contains("batch_input_shape"))
      input = shape_from(lc["batch_input_shape"], where + " 'batch_input_shape'");
    std::unique_ptr<Layer> layer;
    try {
      LayerCtx ctx{source, lcls, lname, lc};
      if (functional && l.contains("inbound_nodes") && l["inbound_nodes"].is_array() && !l["inbound_nodes"].empty())
        ctx.node = &l["inbound_nodes"][0];
      layer = make_layer(ctx);
    } catch (const Error& e) {  // the layer's own checks (units >= 1, ...): say which layer
      if (std::string(e.what()).rfind(source, 0) == 0) throw;
      DPT_FAIL(where << " " << e.what());
    }
    if (!lname.empty()) layer->set_name(lname);
    std::vector<int> reads;
    if (functional) {
      for (const std::string& f : graph[i].from) reads.push_back(node.at(f));
      const bool merge = dynamic_cast<MergeLayer*>(layer.get()) != nullptr;
      DPT_CHECK(merge || reads.size() == 1,
                where << " is called on " << reads.size()
                      << " tensors; of dptrain's layers only the merge layers (Add, "
                         "Subtract, Multiply, Average, Maximum, Minimum, Concatenate, "
                         "Dot), MultiHeadAttention, GroupQueryAttention, Attention and AdditiveAttention take "
                         "several");
      DPT_CHECK(!merge || reads.size() >= 2,
                where << " is called on " << reads.size() << " tensor; it merges 2 or more");
      node[graph[i].name] = int(model->layers().size());
    }
    model->add(std::move(layer), reads);
  }
  if (input.empty() && j.contains("build_config") && j["build_config"].is_object() &&
      j["build_config"].contains("input_shape"))
    input = shape_from(j["build_config"]["input_shape"], source + ": build_config 'input_shape'");
  DPT_CHECK(!input.empty(), source << ": the config gives no input shape (no InputLayer, batch_input_shape or build_config)");
  DPT_CHECK(!model->layers().empty(), source << ": the model has no layers");
  if (input_names.size() > 1) {
    for (size_t k = 0; k < inputs.size(); ++k)
      DPT_CHECK(!inputs[k].empty(), source << ": the input '" << input_names[k] << "' has no shape (batch_shape)");
    model->build_inputs(inputs, seed, input_names);
  } else {
    model->build_inputs({input}, seed, input_names);
  }
  // A mask Keras 3's config passes a layer explicitly is one dptrain derives too.
  for (const GraphEntry& e : graph) {
    if (e.mask_from.empty()) continue;
    for (const auto& l : model->layers())
      if (l->name() == e.name && !dynamic_cast<const MergeLayer*>(l.get()))
        DPT_CHECK(l->mask_source(), source << ": layer '" << e.name << "' (" << e.cls << ") is given the mask '"
                                           << e.mask_from[0]
                                           << "', but no mask of dptrain's layers (an Embedding's mask_zero, "
                                              "Masking) reaches it");
  }
  return model;
}

}  // namespace

std::string weight_argument(const std::string& weight, const std::string& what) {
  for (const auto& [arg, w] : kWeightArgs)
    if (weight == w) return std::string(arg) + "_" + what;
  DPT_FAIL("no Keras " << what << " argument for a weight named '" << weight << "'");
}

std::unique_ptr<Sequential> model_from_keras_json(const std::string& text, uint64_t seed, const std::string& source) {
  const json j = json::parse(text, nullptr, false);
  DPT_CHECK(!j.is_discarded(), source << " is not a Keras model config (not valid JSON)");
  return from_json(j, seed, source);
}

// A root string attribute of an HDF5 file ("" when absent).
static std::string read_root_string_attr(const std::string& path, const char* name) {
  h5::quiet_errors();
  DPT_CHECK(H5Fis_hdf5(path.c_str()) > 0, "'" << path << "' is not an HDF5 file (or is truncated)");
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  DPT_CHECK(f.valid(), "cannot open '" << path << "'");
  if (H5Aexists(f.get(), name) <= 0) return "";
  h5::Id a(H5Aopen(f.get(), name, H5P_DEFAULT), H5Aclose);
  h5::Id t(H5Aget_type(a.get()), H5Tclose);
  std::string out;
  if (H5Tis_variable_str(t.get()) > 0) {
    char* p = nullptr;
    h5::Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(t.get()));  // ASCII or UTF-8, as the file has it
    DPT_CHECK(H5Aread(a.get(), mem.get(), &p) >= 0 && p, "reading " << name << " of '" << path << "' failed");
    out = p;
    H5free_memory(p);
  } else {
    out.assign(H5Tget_size(t.get()), '\0');
    DPT_CHECK(H5Aread(a.get(), t.get(), out.data()) >= 0, "reading " << name << " of '" << path << "' failed");
    out = out.substr(0, out.find('\0'));
  }
  return out;
}

std::string read_model_config(const std::string& path) {
  if (is_keras_archive(path)) return read_keras_archive(path)->config;
  return read_root_string_attr(path, "model_config");
}

namespace {

// How training_config names a loss: a compile() string, a Keras 3 loss object's class name, else
// its JSON.
std::string loss_identifier(const json& loss) {
  if (loss.is_string()) return loss.get<std::string>();
  if (loss.is_object() && loss.contains("class_name") && loss["class_name"].is_string())
    return loss["class_name"].get<std::string>();
  return loss.dump();
}

// Keras's loss identifiers to dptrain's names ("" for a loss dptrain does not have).
std::string dpt_loss_name(const std::string& n) {
  LossKind k;
  return loss_kind_from_id(n, &k) ? loss_name(k) : "";
}

double number(const json& j, const std::string& what) {
  DPT_CHECK(j.is_number(), what << " must be a number, got " << j.dump());
  return j.get<double>();  // finite: the JSON parser refuses numbers past double's range
}

// A hyperparameter the optimizer could not train with (as --lr > 0 and --momentum >= 0 are required
// on the command line; Keras requires SGD's momentum in [0, 1]).
void check_range(double v, double lo, double hi, bool lo_open, const std::string& what) {
  DPT_CHECK((lo_open ? v > lo : v >= lo) && v <= hi,
            what << " must be in " << (lo_open ? "(" : "[") << lo << ", " << hi << "], got " << v);
}

// The arguments of each schedule's get_config(), in Keras's order, and those Keras requires.
std::vector<std::string> schedule_keys(const std::string& cls) {
  if (cls == "ExponentialDecay" || cls == "InverseTimeDecay")
    return {"initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"};
  if (cls == "PiecewiseConstantDecay") return {"boundaries", "values", "name"};
  if (cls == "PolynomialDecay")
    return {"initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle", "name"};
  if (cls == "CosineDecay")
    return {"initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target", "warmup_steps"};
  return {"initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha", "name"};
}

std::vector<std::string> schedule_required(const std::string& cls) {
  if (cls == "PiecewiseConstantDecay") return {"boundaries", "values"};
  if (cls == "CosineDecayRestarts") return {"initial_learning_rate", "first_decay_steps"};
  if (cls == "ExponentialDecay" || cls == "InverseTimeDecay")
    return {"initial_learning_rate", "decay_steps", "decay_rate"};
  return {"initial_learning_rate", "decay_steps"};
}

// A serialized Keras schedule ({class_name, config}, with Keras 3's module and registered_name or
// without). `cli`: --lr-decay's, where initial_learning_rate may be left to the optimizer and an
// unknown argument is an error (in a file it is listed in `ignored`).
LearningRateSchedule schedule_from_json(const json& obj, const std::string& what, bool cli,
                                        std::vector<std::string>* ignored) {
  LearningRateSchedule s;
  s.class_name = obj.value("class_name", std::string());
  DPT_CHECK(is_schedule_class(s.class_name),
            what << ": unknown learning-rate schedule '" << s.class_name << "' (Keras's: " << kScheduleClasses << ")");
  const json cfg = obj.contains("config") && obj["config"].is_object() ? obj["config"] : json::object();
  const std::vector<std::string> keys = schedule_keys(s.class_name);
  std::string key_list;
  for (const auto& k : keys) key_list += (key_list.empty() ? "" : ", ") + k;
  const std::string at = what + " " + s.class_name;
  for (auto it = cfg.begin(); it != cfg.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const std::string where = at + "." + k;
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      DPT_CHECK(!cli, at << " has no argument '" << k << "' (Keras's: " << key_list << ")");
      ignored->push_back(s.class_name + "'s " + k);
      continue;
    }
    if (k == "name") {
      if (!v.is_null()) s.name = as<std::string>(v, where);
    } else if (k == "staircase" || k == "cycle") {
      (k == "staircase" ? s.staircase : s.cycle) = as<bool>(v, where);
    } else if (k == "warmup_target") {
      if (!v.is_null()) s.warmup_target = number(v, where);
    } else if (k == "boundaries" || k == "values") {
      DPT_CHECK(v.is_array(), where << " must be a list of numbers, got " << kind_of(v));
      auto& list = k == "boundaries" ? s.boundaries : s.values;
      for (const json& x : v) list.push_back(number(x, where + "[" + std::to_string(list.size()) + "]"));
    } else {
      const double x = number(v, where);
      if (k == "initial_learning_rate") s.initial_learning_rate = x;
      if (k == "decay_steps" || k == "first_decay_steps") s.decay_steps = x;
      if (k == "decay_rate") s.decay_rate = x;
      if (k == "end_learning_rate") s.end_learning_rate = x;
      if (k == "power") s.power = x;
      if (k == "alpha") s.alpha = x;
      if (k == "warmup_steps") s.warmup_steps = x;
      if (k == "t_mul") s.t_mul = x;
      if (k == "m_mul") s.m_mul = x;
    }
  }
  for (const auto& k : schedule_required(s.class_name))
    DPT_CHECK((cli && k == "initial_learning_rate") || (cfg.contains(k) && !cfg[k].is_null()),
              at << " has no " << k << " (Keras requires it)");
  LearningRateSchedule checked = s;  // --lr-decay's rate may come from the optimizer
  if (checked.initial_learning_rate < 0 && cli) checked.initial_learning_rate = 1;
  try {
    checked.check();
  } catch (const Error& e) {
    DPT_FAIL(what << ": " << e.what());
  }
  return s;
}

// The metrics of compile(metrics=...) as Keras writes them: a list, a dict per output, or (tf.keras)
// a list per output; each one a string or a serialized metric object.
void metric_leaves(const json& m, std::vector<const json*>* out) {
  if (m.is_array()) {
    for (const json& e : m) metric_leaves(e, out);
  } else if (m.is_object() && !m.contains("class_name")) {
    for (auto it = m.begin(); it != m.end(); ++it) metric_leaves(it.value(), out);
  } else if (!m.is_null()) {
    out->push_back(&m);
  }
}

// A metric's identifier, and the name an object logs under (its config's; "" for a string, which
// logs as Keras names it); tf.keras's MeanMetricWrapper names its function in config.fn.
std::pair<std::string, std::string> metric_identity(const json& m) {
  if (m.is_string()) return {m.get<std::string>(), ""};
  if (!m.is_object() || !m.contains("class_name") || !m["class_name"].is_string()) return {m.dump(), ""};
  std::string id = m["class_name"].get<std::string>(), name;
  const json cfg = m.contains("config") && m["config"].is_object() ? m["config"] : json::object();
  if (cfg.contains("name") && cfg["name"].is_string()) name = cfg["name"].get<std::string>();
  if (id == "MeanMetricWrapper" && cfg.contains("fn") && cfg["fn"].is_string()) id = cfg["fn"].get<std::string>();
  return {id, name};
}

// The metrics of one list (weighted: compile(weighted_metrics=...)), in order, a second of one name
// ignored. legacy: a model.save .h5 file's training_config. Keras 3's load_model passes its strings
// other than accuracy's through metrics.deserialize, so 'mae' comes back as the function and logs as
// mean_absolute_error; a .keras archive's compile_config goes to compile() as written ('mae').
void compile_metric_list(const json& list, bool weighted, KerasCompileConfig& c, bool legacy,
                         const std::string& where) {
  const std::string what = weighted ? "the weighted metric '" : "the metric '";
  std::vector<const json*> leaves;
  metric_leaves(list, &leaves);
  for (const json* m : leaves) {
    const auto [id, object_name] = metric_identity(*m);
    const std::string shown = object_name.empty() ? id : object_name;  // as the file spells it
    MetricRequest req;
    if (!metric_request(id, &req)) {
      c.ignored.push_back(what + shown + "'");
      continue;
    }
    req.weighted = weighted;
    if (!object_name.empty()) req.name = object_name;  // tf.keras's kind is the function 'accuracy' chose
    if (legacy && m->is_string() && req.kind != "accuracy") req.name = metric_default_name(req.kind);
    if (m->is_object() && m->contains("config") && (*m)["config"].is_object()) {  // the class's arguments
      for (const auto& [key, value] : (*m)["config"].items()) {
        if (key == "name" || key == "dtype" || key == "fn" || value.is_null()) continue;
        if (metric_takes(req.kind, key)) {
          DPT_CHECK(value.is_number() || value.is_boolean() || value.is_string() ||
                        (key == "label_weights" && value.is_array()),
                    where << " metrics: " << req.name << "'s " << key << " must be a number, got " << value.dump()
                          << (key == "thresholds" ? " (dptrain takes one threshold)" : ""));
          set_metric_argument(req, key,
                              value.is_boolean()  ? (value.get<bool>() ? "true" : "false")
                              : value.is_string() ? value.get<std::string>()
                                                  : value.dump(),
                              where + " metrics");
        } else if (!(key == "axis" && value == json(-1)) && !(key == "from_sorted_ids" && value == json(false))) {
          c.ignored.push_back(what + shown + "''s " + key + "=" + value.dump());
        }
      }
    }
    bool twice = false;  // within the list (a weighted one may share an unweighted one's name)
    for (const MetricRequest& r : c.metrics) twice = twice || (r.name == req.name && r.weighted == weighted);
    if (twice)
      c.ignored.push_back(what + shown + "' (a second '" + req.name + "')");
    else
      c.metrics.push_back(req);
  }
}

void compile_metrics(const json& tc, KerasCompileConfig& c, bool legacy, const std::string& where) {
  if (tc.contains("metrics")) compile_metric_list(tc["metrics"], false, c, legacy, where);
  if (tc.contains("weighted_metrics")) compile_metric_list(tc["weighted_metrics"], true, c, legacy, where);
}

KerasCompileConfig compile_config(const json& tc, const std::string& where, bool legacy) {
  DPT_CHECK(tc.is_object(), where << " is not a JSON object");
  KerasCompileConfig c;
  if (tc.contains("loss") && !tc["loss"].is_null()) {
    // One output: the loss, or a list holding it (compile(loss=[...])).
    const json& l = tc["loss"].is_array() && tc["loss"].size() == 1 ? tc["loss"][0] : tc["loss"];
    c.file_loss = loss_identifier(l);
    c.loss = dpt_loss_name(c.file_loss);
    if (l.is_object() && l.contains("config") && l["config"].is_object()) {  // a loss object's settings
      const json& lc = l["config"];
      const std::string at = where + " loss " + c.file_loss;
      if (lc.contains("from_logits") && !lc["from_logits"].is_null())
        c.from_logits = as<bool>(lc["from_logits"], at + ".from_logits");
      const bool focal = c.loss == "binary_focal_crossentropy" || c.loss == "categorical_focal_crossentropy";
      const bool crossentropy = c.loss == "categorical_crossentropy" || c.loss == "sparse_categorical_crossentropy" ||
                                c.loss == "binary_crossentropy" || focal;
      DPT_CHECK(!c.from_logits || c.loss.empty() || crossentropy,
                at << " sets from_logits, which Keras has only for its cross-entropies");
      if (lc.contains("label_smoothing") && !lc["label_smoothing"].is_null()) {
        c.label_smoothing = number(lc["label_smoothing"], at + ".label_smoothing");
        check_range(c.label_smoothing, 0, 1, false, at + ".label_smoothing");
      }
      if (c.loss == "huber" && lc.contains("delta") && !lc["delta"].is_null()) {
        c.delta = number(lc["delta"], at + ".delta");
        DPT_CHECK(c.delta > 0 && std::isfinite(c.delta),
                  at << ".delta is " << lc["delta"].dump() << ": it must be > 0");
      }
      if (focal) {  // Keras's defaults where not given
        if (lc.contains("alpha") && !lc["alpha"].is_null()) {
          c.focal.alpha = float(number(lc["alpha"], at + ".alpha"));
          check_range(c.focal.alpha, 0, 1, false, at + ".alpha");
        }
        if (lc.contains("gamma") && !lc["gamma"].is_null()) {
          c.focal.gamma = float(number(lc["gamma"], at + ".gamma"));
          DPT_CHECK(c.focal.gamma >= 0 && std::isfinite(c.focal.gamma),
                    at << ".gamma is " << lc["gamma"].dump() << ": it must be >= 0");
        }
        if (lc.contains("apply_class_balancing") && !lc["apply_class_balancing"].is_null())
          c.focal.balance = as<bool>(lc["apply_class_balancing"], at + ".apply_class_balancing");
      }
      if (lc.contains("ignore_class") && !lc["ignore_class"].is_null())
        c.ignored.push_back("the loss's ignore_class=" + lc["ignore_class"].dump());
      if (lc.contains("reduction") && lc["reduction"].is_string()) {
        const std::string r = lc["reduction"].get<std::string>();
        if (r != "sum_over_batch_size" && r != "auto") c.ignored.push_back("the loss's reduction='" + r + "'");
      }
    }
  }
  compile_metrics(tc, c, legacy, where);
  // model.save .h5 files name it optimizer_config; a .keras archive's compile_config, optimizer.
  const char* okey = tc.contains("optimizer_config") ? "optimizer_config" : "optimizer";
  if (tc.contains(okey) && tc[okey].is_string()) {  // tf.keras's .keras: compile()'s string, Keras's defaults
    std::string id = tc[okey].get<std::string>();
    std::transform(id.begin(), id.end(), id.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    c.file_optimizer = tc[okey].get<std::string>();
    c.optimizer.name = "";  // unless dptrain has it
    for (const auto& [cls, name] : kOptimizerClasses)
      if (id == name) {
        c.optimizer.name = name;
        c.file_optimizer = cls;
      }
  } else if (tc.contains(okey) && tc[okey].is_object()) {
    const json& oc = tc[okey];
    std::string cls = oc.value("class_name", "");
    if (cls.rfind("Custom>", 0) == 0) cls = cls.substr(7);  // tf.keras 2.11+ marks its built-ins so
    c.file_optimizer = cls;
    const json cfg = oc.contains("config") && oc["config"].is_object() ? oc["config"] : json::object();
    OptimizerConfig& o = c.optimizer;
    o.name = "";
    for (const auto& [k, name] : kOptimizerClasses)
      if (cls == k) o.name = name;
    struct Number {
      const char* key;
      double* field;
      double hi;  // the range is [0, hi]
    };
    const Number numbers[] = {{"momentum", &o.momentum, 1.0},
                              {"rho", &o.rho, 1.0},
                              {"beta_1", &o.beta_1, 1.0},
                              {"beta_2", &o.beta_2, 1.0},
                              {"epsilon", &o.epsilon, HUGE_VAL},
                              {"initial_accumulator_value", &o.initial_accumulator_value, HUGE_VAL},
                              {"weight_decay", &o.weight_decay, HUGE_VAL},
                              {"clipnorm", &o.clipnorm, HUGE_VAL},
                              {"clipvalue", &o.clipvalue, HUGE_VAL},
                              {"global_clipnorm", &o.global_clipnorm, HUGE_VAL},
                              {"ema_momentum", &o.ema_momentum, 1.0}};
    double decay = 0;
    const std::pair<const char*, bool*> flags[] = {
        {"nesterov", &o.nesterov}, {"centered", &o.centered}, {"amsgrad", &o.amsgrad}, {"use_ema", &o.use_ema}};
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
      const std::string k = it.key(), what = where + " " + cls + "." + k;
      const json& v = it.value();
      if (k == "learning_rate" || k == "lr") {
        if (v.is_object() && is_schedule_class(v.value("class_name", std::string()))) {  // one of Keras's schedules
          o.schedule = schedule_from_json(v, what, false, &c.ignored);
          o.learning_rate = o.schedule->class_name == "PiecewiseConstantDecay" ? o.schedule->values[0]
                                                                               : o.schedule->initial_learning_rate;
        } else if (v.is_object()) {  // another schedule: Keras would follow it, dptrain starts from its rate
          const json sc = v.value("config", json::object());
          DPT_CHECK(sc.contains("initial_learning_rate"), what << " is a schedule without initial_learning_rate");
          o.learning_rate = number(sc["initial_learning_rate"], what + ".initial_learning_rate");
          check_range(o.learning_rate, 0, HUGE_VAL, true, what + ".initial_learning_rate");
          c.ignored.push_back("the learning-rate schedule " + v.value("class_name", std::string("?")) +
                              " (its initial_learning_rate is used throughout)");
        } else {
          o.learning_rate = number(v, what);
          check_range(o.learning_rate, 0, HUGE_VAL, true, what);
        }
        continue;
      }
      for (const auto& n : numbers)
        if (k == n.key && !v.is_null()) {  // null: Keras's None (not set)
          *n.field = number(v, what);
          check_range(*n.field, 0, n.hi, false, what);
        }
      for (auto& [name, field] : flags)
        if (k == name && v.is_boolean()) *field = v.get<bool>();
      for (auto [key, field, least] : {std::tuple{"gradient_accumulation_steps", &o.gradient_accumulation_steps, 2},
                                       std::tuple{"ema_overwrite_frequency", &o.ema_overwrite_frequency, 1}})
        if (k == key && !v.is_null()) {
          const double n = number(v, what);
          DPT_CHECK(n >= least && n == std::floor(n) && n < 1e9,
                    what << " must be an integer >= " << least << " (as in Keras), got " << v.dump());
          *field = int64_t(n);
        }
      if (k == "decay" && !v.is_null()) {  // Keras 2's decay of the learning rate
        decay = number(v, what);
        check_range(decay, 0, HUGE_VAL, false, what);
      }
    }
    // Keras 2 divided the rate by 1 + decay * iterations: Keras's InverseTimeDecay(lr, 1, decay).
    if (decay > 0 && !o.schedule) {
      LearningRateSchedule inverse;
      inverse.class_name = "InverseTimeDecay";
      inverse.initial_learning_rate = o.learning_rate;  // < 0: the optimizer's default, set when it is made
      inverse.decay_steps = 1;
      inverse.decay_rate = decay;
      o.schedule = inverse;
    } else if (decay > 0) {
      std::ostringstream s;
      s << "decay=" << decay << " beside a schedule";  // 6 significant digits: decay=1e-06
      c.ignored.push_back(s.str());
    }
  }
  return c;
}

}  // namespace

bool read_compile_config(const std::string& path, KerasCompileConfig* out) {
  const bool is_h5 = path.size() > 3 && path.substr(path.size() - 3) == ".h5";
  if (is_keras_archive(path)) {  // config.json's compile_config (null or absent when not compiled)
    const json j = json::parse(read_keras_archive(path)->config, nullptr, false);
    if (!j.is_object() || !j.contains("compile_config") || !j["compile_config"].is_object()) return false;
    *out = compile_config_from_json(j["compile_config"].dump(), "'" + path + "' compile_config", false);
    return true;
  }
  if (!is_h5) return false;
  const std::string text = read_root_string_attr(path, "training_config");
  if (text.empty()) return false;
  *out = compile_config_from_json(text, "'" + path + "' training_config");
  return true;
}

LearningRateSchedule parse_schedule_spec(const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string cls = spec.substr(0, colon), what = "--lr-decay " + spec;
  DPT_CHECK(is_schedule_class(cls),
            "--lr-decay: unknown schedule '" << cls << "' (Keras's: " << kScheduleClasses << "; or none)");
  json cfg = json::object();
  std::vector<std::string> args{""};  // split at the commas outside brackets
  int depth = 0;
  for (size_t i = colon == std::string::npos ? spec.size() : colon + 1; i < spec.size(); ++i) {
    const char ch = spec[i];
    depth += ch == '[' ? 1 : ch == ']' ? -1 : 0;
    if (ch == ',' && depth == 0)
      args.emplace_back();
    else
      args.back() += ch;
  }
  DPT_CHECK(depth == 0, what << ": a list's brackets do not match (lists are [a,b,...])");
  auto scalar = [&](const std::string& text, const std::string& key) -> json {
    if (text == "true" || text == "True") return true;
    if (text == "false" || text == "False") return false;
    if (text == "none" || text == "None" || text == "null") return nullptr;
    if (key == "name") return text;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    DPT_CHECK(!text.empty() && end == text.c_str() + text.size() && std::isfinite(v),
              what << ": " << key << "=" << text << " is not a number");
    if (v == std::floor(v) && std::fabs(v) < 1e15 && text.find_first_of(".eE") == std::string::npos) return int64_t(v);
    return v;
  };
  for (const std::string& arg : args) {
    if (arg.empty() && colon == std::string::npos) continue;
    const size_t eq = arg.find('=');
    DPT_CHECK(eq != std::string::npos && eq > 0,
              what << ": '" << arg << "' is not key=value (e.g. ExponentialDecay:decay_steps=1000,decay_rate=0.9)");
    const std::string key = arg.substr(0, eq), text = arg.substr(eq + 1);
    DPT_CHECK(!cfg.contains(key), what << ": " << key << " is given twice");
    if (!text.empty() && text.front() == '[') {
      DPT_CHECK(text.back() == ']', what << ": " << key << "=" << text << " is not a list ([a,b,...])");
      json list = json::array();
      for (const std::string& item : split(text.substr(1, text.size() - 2), ','))
        if (!item.empty() || text.size() > 2) list.push_back(scalar(item, key));
      cfg[key] = list;
    } else {
      cfg[key] = scalar(text, key);
    }
  }
  return schedule_from_json({{"class_name", cls}, {"config", cfg}}, what, true, nullptr);
}

KerasCompileConfig compile_config_from_json(const std::string& text, const std::string& where, bool legacy) {
  try {
    return compile_config(json::parse(text), where, legacy);
  } catch (const json::exception& e) {
    DPT_FAIL(where << " is not what Keras writes: " << e.what());
  }
}

std::unique_ptr<Sequential> load_keras_model(const std::string& path, uint64_t seed) {
  DPT_CHECK(std::filesystem::exists(path), "cannot load model: '" << path << "' does not exist");
  const bool is_json = path.size() > 5 && path.substr(path.size() - 5) == ".json";
  if (is_json) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return model_from_keras_json(ss.str(), seed, "'" + path + "'");
  }
  const std::string cfg = read_model_config(path);
  DPT_CHECK(!cfg.empty(), "'" << path << "' has no model_config: it holds weights only; give a preset or a JSON "
                                 "config with --model and this file with --weights");
  auto m = model_from_keras_json(cfg, seed, "'" + path + "'");
  load_weights(*m, path);
  return m;
}

}  // namespace dpt
