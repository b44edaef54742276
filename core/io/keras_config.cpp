// Keras config -> Sequential.
#include "core/io/keras_config.h"
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include "core/error.h"
#include "core/io/hdf5_util.h"
#include "core/io/hdf5_weights.h"
#include "core/layers/activation.h"
#include "core/layers/batch_norm.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/pooling.h"

namespace dpt {

using json = nlohmann::json;

namespace {

struct LayerCtx {
  std::string source, cls, name;
  const json& cfg;
  template <typename T>
  T get(const char* key, T fallback) const {
    return cfg.contains(key) && !cfg[key].is_null() ? cfg[key].get<T>() : fallback;
  }
  [[noreturn]] void unsupported(const std::string& what) const {
    DPT_FAIL(source << ": layer '" << name << "' (" << cls << "): " << what << " is not supported");
  }
};

// (a, b) from an int or a list of two ints.
std::pair<int64_t, int64_t> pair_of(const LayerCtx& c, const char* key, std::pair<int64_t, int64_t> fallback) {
  if (!c.cfg.contains(key) || c.cfg[key].is_null()) return fallback;
  const json& v = c.cfg[key];
  if (v.is_number_integer()) return {v.get<int64_t>(), v.get<int64_t>()};
  if (v.is_array() && v.size() == 2) return {v[0].get<int64_t>(), v[1].get<int64_t>()};
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

Activation activation_of(const LayerCtx& c) {
  const json& a = c.cfg.contains("activation") ? c.cfg["activation"] : json("linear");
  std::string name = a.is_string() ? a.get<std::string>() : a.is_null() ? "linear" : "";
  if (name.empty() && a.is_object() && a.contains("class_name")) name = a["class_name"].get<std::string>();
  try {
    return activation_from_name(name);
  } catch (const Error&) {
    c.unsupported("activation '" + name + "' (supported: linear, relu, sigmoid, tanh, softmax)");
  }
}

std::unique_ptr<Layer> make_layer(const LayerCtx& c) {
  if (c.cls == "Dense") return std::make_unique<Dense>(c.get<int64_t>("units", 0), activation_of(c), c.get<bool>("use_bias", true));
  if (c.cls == "Conv2D" || c.cls == "Convolution2D") {
    channels_last(c);
    if (pair_of(c, "dilation_rate", {1, 1}) != std::pair<int64_t, int64_t>{1, 1}) c.unsupported("dilation_rate other than 1");
    if (c.get<int64_t>("groups", 1) != 1) c.unsupported("groups other than 1");
    Conv2DConfig k;
    k.filters = c.get<int64_t>("filters", 0);
    std::tie(k.kh, k.kw) = pair_of(c, "kernel_size", {0, 0});
    std::tie(k.sh, k.sw) = pair_of(c, "strides", {1, 1});
    k.same = same_padding(c);
    k.activation = activation_of(c);
    k.use_bias = c.get<bool>("use_bias", true);
    return std::make_unique<Conv2D>(k);
  }
  if (c.cls == "MaxPooling2D" || c.cls == "AveragePooling2D" || c.cls == "MaxPool2D" || c.cls == "AvgPool2D") {
    channels_last(c);
    Pool2DConfig p;
    std::tie(p.ph, p.pw) = pair_of(c, "pool_size", {2, 2});
    std::tie(p.sh, p.sw) = pair_of(c, "strides", {p.ph, p.pw});
    p.same = same_padding(c);
    return std::make_unique<Pool2D>(c.cls.rfind("Max", 0) == 0, p);
  }
  if (c.cls == "GlobalAveragePooling2D" || c.cls == "GlobalAvgPool2D") {
    channels_last(c);
    if (c.get<bool>("keepdims", false)) c.unsupported("keepdims=True");
    return std::make_unique<GlobalAveragePooling2D>();
  }
  if (c.cls == "Flatten") {
    channels_last(c);
    return std::make_unique<Flatten>();
  }
  if (c.cls == "Dropout") {
    if (c.cfg.contains("noise_shape") && !c.cfg["noise_shape"].is_null()) c.unsupported("noise_shape");
    return std::make_unique<Dropout>(c.get<double>("rate", 0.0));
  }
  if (c.cls == "Activation") return std::make_unique<ActivationLayer>(activation_of(c));
  if (c.cls == "BatchNormalization") {
    const json& ax = c.cfg.contains("axis") ? c.cfg["axis"] : json(-1);
    const int64_t axis = ax.is_array() ? (ax.size() == 1 ? ax[0].get<int64_t>() : 0) : ax.get<int64_t>();
    if (axis == 0 || (ax.is_array() && ax.size() != 1)) c.unsupported("axis=" + ax.dump() + " (the last axis only)");
    if (!c.get<bool>("center", true) || !c.get<bool>("scale", true)) c.unsupported("center=False or scale=False");
    BatchNormConfig b;
    b.momentum = c.get<double>("momentum", 0.99);
    b.epsilon = c.get<double>("epsilon", 1e-3);
    auto l = std::make_unique<BatchNormalization>(b);
    return l;
  }
  DPT_FAIL(c.source << ": layer '" << c.name << "' (" << c.cls << ") is not supported (supported: Dense, Conv2D, "
                    << "MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Flatten, Dropout, Activation, "
                    << "BatchNormalization)");
}

Shape shape_from(const json& dims) {  // [null, d1, d2, ...] -> (d1, d2, ...)
  Shape s;
  for (size_t i = 1; i < dims.size(); ++i) s.push_back(dims[i].get<int64_t>());
  return s;
}

}  // namespace

std::unique_ptr<Sequential> model_from_keras_json(const std::string& text, uint64_t seed, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  DPT_CHECK(!j.is_discarded() && j.is_object(), source << " is not a Keras model config (not a JSON object)");
  const std::string cls = j.value("class_name", "");
  DPT_CHECK(cls == "Sequential", source << ": only Sequential models are supported, this is a '" << cls << "'");
  const json& cfg = j["config"];
  const json& layers = cfg.is_array() ? cfg : cfg["layers"];  // Keras 2 older form: config is the list
  const std::string name = cfg.is_object() ? cfg.value("name", "sequential") : "sequential";
  auto model = std::make_unique<Sequential>(name);
  Shape input;
  for (const json& l : layers) {
    const std::string lcls = l.value("class_name", "");
    const json& lc = l["config"];
    const std::string lname = lc.value("name", "");
    if (lcls == "InputLayer") {  // Keras 3 (batch_shape) and Keras 2 (batch_input_shape)
      for (const char* k : {"batch_shape", "batch_input_shape"})
        if (lc.contains(k)) input = shape_from(lc[k]);
      continue;
    }
    if (input.empty() && lc.contains("batch_input_shape")) input = shape_from(lc["batch_input_shape"]);
    auto layer = make_layer(LayerCtx{source, lcls, lname, lc});
    if (!lname.empty()) layer->set_name(lname);
    model->add(std::move(layer));
  }
  if (input.empty() && j.contains("build_config") && j["build_config"].contains("input_shape"))
    input = shape_from(j["build_config"]["input_shape"]);
  DPT_CHECK(!input.empty(), source << ": the config gives no input shape (no InputLayer, batch_input_shape or build_config)");
  DPT_CHECK(!model->layers().empty(), source << ": the model has no layers");
  model->build(input, seed);
  return model;
}

std::string read_model_config(const std::string& path) {
  h5::quiet_errors();
  DPT_CHECK(H5Fis_hdf5(path.c_str()) > 0, "'" << path << "' is not an HDF5 file (or is truncated)");
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  DPT_CHECK(f.valid(), "cannot open '" << path << "'");
  if (H5Aexists(f.get(), "model_config") <= 0) return "";
  h5::Id a(H5Aopen(f.get(), "model_config", H5P_DEFAULT), H5Aclose);
  h5::Id t(H5Aget_type(a.get()), H5Tclose);
  std::string out;
  if (H5Tis_variable_str(t.get()) > 0) {
    char* p = nullptr;
    h5::Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(t.get()));  // ASCII or UTF-8, as the file has it
    DPT_CHECK(H5Aread(a.get(), mem.get(), &p) >= 0 && p, "reading model_config of '" << path << "' failed");
    out = p;
    H5free_memory(p);
  } else {
    out.assign(H5Tget_size(t.get()), '\0');
    DPT_CHECK(H5Aread(a.get(), t.get(), out.data()) >= 0, "reading model_config of '" << path << "' failed");
    out = out.substr(0, out.find('\0'));
  }
  return out;
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
