// model.save('m.h5') layout: config JSON, training config, weights, optimizer weights, dptrain state.
#include "core/io/keras_model.h"
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>
#include "core/error.h"
#include "core/io/hdf5_util.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_archive.h"
#include "core/io/keras_config.h"
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

namespace dpt {

using json = nlohmann::ordered_json;

namespace {

// A float setting as the shortest decimal that reads back as it (0.3f as 0.3, as Keras's config has
// it, not 0.30000001192092896).
double shortest(float v) {
  for (int digits = 1; digits < 9; ++digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", digits, double(v));
    if (std::strtof(buf, nullptr) == v) return std::strtod(buf, nullptr);
  }
  return double(v);
}

// Whether a convolution's config has `spatial` (the depthwise and separable ones: 1 for their 1-D forms).
template <typename Config, typename = void>
struct has_spatial : std::false_type {};
template <typename Config>
struct has_spatial<Config, std::void_t<decltype(Config::spatial)>> : std::true_type {};

// What Keras's convolutions share, as Keras writes it.
template <typename Config>
void conv_options_json(const Config& g, json* c) {
  if constexpr (has_spatial<Config>::value) {
    if (g.spatial == 1) {  // DepthwiseConv1D, SeparableConv1D
      (*c)["kernel_size"] = json::array({g.kw});
      (*c)["strides"] = json::array({g.sw});
      (*c)["dilation_rate"] = json::array({g.dw});
    }
  }
  if (!c->contains("kernel_size")) {
    (*c)["kernel_size"] = {g.kh, g.kw};
    (*c)["strides"] = {g.sh, g.sw};
    (*c)["dilation_rate"] = {g.dh, g.dw};
  }
  (*c)["padding"] = g.same ? "same" : "valid";
  (*c)["data_format"] = "channels_last";
  (*c)["activation"] = activation_name(g.activation);
  (*c)["use_bias"] = g.use_bias;
}

// One value as a number, several as a list (Rescaling's and Normalization's settings, as Keras
// writes them).
json values_json(const std::vector<double>& v) {
  if (v.size() == 1) return v[0];
  return json(v);
}

json keras3_object(const char* module, const json& obj);

json layer_config(const Layer& l) {
  json c = {{"name", l.name()}, {"trainable", true}, {"dtype", "float32"}};
  const std::string cls = l.class_name();
  if (auto* ce = dynamic_cast<const CategoryEncoding*>(&l)) {
    c["num_tokens"] = ce->num_tokens();
    c["output_mode"] = CategoryEncoding::mode_name(ce->mode());
    c["sparse"] = false;
  } else if (auto* e = dynamic_cast<const EinsumDense*>(&l)) {  // before Dense, which it derives from
    json shape = json::array();
    for (int64_t v : e->partial_output_shape()) shape.push_back(v < 0 ? json(nullptr) : json(v));
    c["output_shape"] = shape;
    c["equation"] = e->equation();
    c["activation"] = activation_name(e->output_activation());
    c["bias_axes"] = e->bias_axes().empty() ? json(nullptr) : json(e->bias_axes());
  } else if (auto* d = dynamic_cast<const Dense*>(&l)) {
    c["units"] = d->units();
    c["activation"] = activation_name(d->output_activation());
    c["use_bias"] = d->use_bias();
  } else if (auto* k1 = dynamic_cast<const Conv1D*>(&l)) {  // before Conv2D, which it derives from
    const auto& g = k1->config();
    c["filters"] = g.filters;
    c["kernel_size"] = json::array({g.kw});
    c["strides"] = json::array({g.sw});
    c["padding"] = k1->causal() ? "causal" : g.same ? "same" : "valid";
    c["data_format"] = "channels_last";
    c["dilation_rate"] = json::array({g.dw});
    c["groups"] = 1;
    c["activation"] = activation_name(g.activation);
    c["use_bias"] = g.use_bias;
  } else if (auto* t1 = dynamic_cast<const Conv1DTranspose*>(&l)) {  // before Conv2DTranspose
    const auto& g = t1->config();
    c["filters"] = g.filters;
    c["kernel_size"] = json::array({g.kw});
    c["strides"] = json::array({g.sw});
    c["padding"] = g.same ? "same" : "valid";
    c["output_padding"] = nullptr;
    c["data_format"] = "channels_last";
    c["dilation_rate"] = json::array({g.dw});
    c["activation"] = activation_name(g.activation);
    c["use_bias"] = g.use_bias;
  } else if (auto* t = dynamic_cast<const Conv2DTranspose*>(&l)) {  // before Conv2D, which it derives from
    c["filters"] = t->config().filters;
    conv_options_json(t->config(), &c);
    c["output_padding"] = nullptr;
  } else if (auto* k = dynamic_cast<const Conv2D*>(&l)) {
    c["filters"] = k->config().filters;
    conv_options_json(k->config(), &c);
    c["groups"] = 1;
  } else if (auto* dw = dynamic_cast<const DepthwiseConv2D*>(&l)) {
    c["depth_multiplier"] = dw->config().depth_multiplier;
    conv_options_json(dw->config(), &c);
  } else if (auto* sep = dynamic_cast<const SeparableConv2D*>(&l)) {
    c["filters"] = sep->config().filters;
    c["depth_multiplier"] = sep->config().depth_multiplier;
    conv_options_json(sep->config(), &c);
  } else if (auto* pad = dynamic_cast<const Padding2D*>(&l)) {  // the 1-D layers as Keras 2 and 3 both read them
    const auto& g = pad->config();
    if (pad->spatial() == 1) {
      c[pad->crop() ? "cropping" : "padding"] = json::array({g.left, g.right});
    } else {
      c[pad->crop() ? "cropping" : "padding"] = {{g.top, g.bottom}, {g.left, g.right}};
      c["data_format"] = "channels_last";
    }
  } else if (auto* up = dynamic_cast<const UpSampling2D*>(&l)) {
    if (up->spatial() == 1) {
      c["size"] = up->cols();
    } else {
      c["size"] = {up->rows(), up->cols()};
      c["data_format"] = "channels_last";
      c["interpolation"] = up->bilinear() ? "bilinear" : "nearest";
    }
  } else if (auto* p = dynamic_cast<const Pool2D*>(&l)) {
    const auto& g = p->config();
    c["pool_size"] = p->spatial() == 1 ? json::array({g.pw}) : json::array({g.ph, g.pw});
    c["strides"] = p->spatial() == 1 ? json::array({g.sw}) : json::array({g.sh, g.sw});
    c["padding"] = g.same ? "same" : "valid";
    c["data_format"] = "channels_last";
  } else if (auto* gap = dynamic_cast<const GlobalPooling2D*>(&l)) {
    c["data_format"] = "channels_last";
    c["keepdims"] = gap->keepdims();
  } else if (cls == "Flatten") {
    c["data_format"] = "channels_last";
  } else if (auto* r = dynamic_cast<const Reshape*>(&l)) {
    c["target_shape"] = json::array();
    for (int64_t d : r->target()) c["target_shape"].push_back(d);
  } else if (auto* ar = dynamic_cast<const ActivityRegularization*>(&l)) {  // before Identity
    c["l1"] = ar->l1();
    c["l2"] = ar->l2();
  } else if (cls == "Identity") {
  } else if (auto* un = dynamic_cast<const UnitNormalization*>(&l)) {
    c["axis"] = un->axis_is_list() ? json(un->axis()) : json(un->axis()[0]);
  } else if (auto* rv = dynamic_cast<const RepeatVector*>(&l)) {
    c["n"] = rv->n();
  } else if (auto* pm = dynamic_cast<const Permute*>(&l)) {
    c["dims"] = pm->dims();
  } else if (auto* pr = dynamic_cast<const PReLU*>(&l)) {
    c["shared_axes"] = pr->shared_axes().empty() ? json(nullptr) : json(pr->shared_axes());
  } else if (auto* rf = dynamic_cast<const RandomFlip*>(&l)) {
    c["mode"] = rf->mode();
    c["seed"] = nullptr;
    c["data_format"] = "channels_last";
  } else if (auto* ra = dynamic_cast<const RandomAffine*>(&l)) {
    auto factor = [](const AugmentFactor& f) {
      return f.given.empty() ? json(nullptr) : f.given.size() == 1 ? json(f.given[0]) : json(f.given);
    };
    if (ra->kind() == kernels::WarpKind::rotation) {
      c["factor"] = factor(ra->height_factor());
    } else if (ra->kind() == kernels::WarpKind::shear) {
      // Keras 3.15 writes a number f as (-f, f) but refuses a negative value when it reads the pair
      // back: a symmetric pair is written as the number, which reads to the same range.
      auto shear = [&](const AugmentFactor& f) {
        return f.given.size() == 2 && f.given[1] >= 0 && f.given[0] == -f.given[1] ? json(f.given[1]) : factor(f);
      };
      c["x_factor"] = shear(ra->width_factor());
      c["y_factor"] = shear(ra->height_factor());
    } else {
      c["height_factor"] = factor(ra->height_factor());
      c["width_factor"] = factor(ra->width_factor());
    }
    c["fill_mode"] = ra->fill_mode();
    c["interpolation"] = ra->interpolation();
    c["seed"] = nullptr;  // dptrain draws from --seed
    c["fill_value"] = ra->fill_value();
    c["data_format"] = "channels_last";
  } else if (auto* rs = dynamic_cast<const Resizing*>(&l)) {
    const ResizeConfig& r = rs->config();
    c["height"] = r.height;
    c["width"] = r.width;
    c["data_format"] = "channels_last";
    if (r.random_crop) c["seed"] = nullptr;  // dptrain draws from --seed
    if (!r.center_crop && !r.random_crop) {  // CenterCrop's and RandomCrop's config is their height and width
      c["interpolation"] = r.interpolation;
      c["crop_to_aspect_ratio"] = r.crop_to_aspect_ratio;
      c["pad_to_aspect_ratio"] = r.pad_to_aspect_ratio;
      c["fill_mode"] = "constant";
      c["fill_value"] = r.fill_value;
      c["antialias"] = r.antialias;
    }
  } else if (auto* rg = dynamic_cast<const RandomGrayscale*>(&l)) {
    c["factor"] = rg->factor();
    c["seed"] = nullptr;
    c["data_format"] = "channels_last";
  } else if (auto* rc = dynamic_cast<const RandomContrast*>(&l)) {
    c["factor"] = rc->factor().given.size() == 1 ? json(rc->factor().given[0]) : json(rc->factor().given);
    c["value_range"] = {rc->value_lo(), rc->value_hi()};
    c["seed"] = nullptr;
  } else if (auto* gn = dynamic_cast<const GaussianNoise*>(&l)) {
    c[gn->multiplies() ? "rate" : "stddev"] = gn->value();
    c["seed"] = nullptr;                                            // dptrain draws from --seed
  } else if (auto* sd = dynamic_cast<const SpatialDropout*>(&l)) {  // before Dropout, which it derives from
    c.erase("trainable");  // Keras 3's SpatialDropout constructors take no 'trainable'
    c["rate"] = sd->rate();
    if (sd->spatial() == 2) c["data_format"] = "channels_last";
  } else if (auto* dr = dynamic_cast<const Dropout*>(&l)) {  // and AlphaDropout
    c["rate"] = dr->rate();
    if (cls == "AlphaDropout") c["seed"] = nullptr;
    if (!dr->noise_shape().empty()) {
      c["noise_shape"] = json::array({nullptr});
      for (int64_t d : dr->noise_shape()) c["noise_shape"].push_back(d == 0 ? json(nullptr) : json(d));
    }
  } else if (auto* rs = dynamic_cast<const Rescaling*>(&l)) {
    c["scale"] = values_json(rs->scale());
    c["offset"] = values_json(rs->offset());
  } else if (auto* nm = dynamic_cast<const Normalization*>(&l)) {
    c["axis"] = nm->axis() == Normalization::kNoAxis ? json(nullptr) : json::array({nm->axis()});
    c["invert"] = nm->invert();
    c["mean"] = nm->mean().empty() ? json(nullptr) : values_json(nm->mean());
    c["variance"] = nm->variance().empty() ? json(nullptr) : values_json(nm->variance());
  } else if (cls == "Activation") {
    c["activation"] = activation_name(l.output_activation());
  } else if (cls == "LeakyReLU") {  // Keras 3's names for the settings
    c["negative_slope"] = shortest(l.output_activation().alpha);
  } else if (cls == "ELU") {
    c["alpha"] = shortest(l.output_activation().alpha);
  } else if (cls == "ReLU") {
    c["max_value"] = shortest(l.output_activation().alpha);
    c["negative_slope"] = 0.0;
    c["threshold"] = 0.0;
  } else if (cls == "Add" || cls == "Subtract" || cls == "Multiply" || cls == "Average" || cls == "Maximum" ||
             cls == "Minimum") {
  } else if (auto* cat = dynamic_cast<const Concatenate*>(&l)) {
    c["axis"] = cat->axis();
  } else if (auto* gqa = dynamic_cast<const MultiHeadAttention*>(&l); gqa && gqa->config().grouped) {
    const AttentionConfig& a = gqa->config();  // (use_causal_mask: in its call)
    c["head_dim"] = a.key_dim;
    c["num_query_heads"] = a.num_heads;
    c["num_key_value_heads"] = a.kv_heads;
    c["dropout"] = a.dropout;
    c["use_bias"] = a.use_bias;
    c["sliding_window"] = nullptr;
    c["use_gate"] = false;
    c["seed"] = nullptr;                                                 // dptrain draws from --seed
  } else if (auto* mha = dynamic_cast<const MultiHeadAttention*>(&l)) {  // (use_causal_mask: in its call)
    const AttentionConfig& a = mha->config();
    c["num_heads"] = a.num_heads;
    c["key_dim"] = a.key_dim;
    c["value_dim"] = mha->value_dim();
    c["dropout"] = a.dropout;
    c["use_bias"] = a.use_bias;
    c["output_shape"] = a.output_dim ? json::array({a.output_dim}) : json(nullptr);
    c["attention_axes"] = json::array({1});
    c["seed"] = nullptr;  // dptrain draws from --seed
  } else if (auto* at = dynamic_cast<const ScoreAttention*>(&l)) {  // (use_causal_mask: in its call)
    c["use_scale"] = at->config().use_scale;
    if (at->config().score != ScoreAttentionConfig::additive)
      c["score_mode"] = at->config().score == ScoreAttentionConfig::concat ? "concat" : "dot";
    c["dropout"] = at->config().dropout;
    c["seed"] = nullptr;
  } else if (auto* dot = dynamic_cast<const Dot*>(&l)) {
    c["axes"] = dot->axes_is_pair() ? json(dot->axes()) : json(dot->axes()[0]);
    c["normalize"] = dot->normalize();
  } else if (auto* r = dynamic_cast<const Recurrent*>(&l)) {  // LSTM, GRU, SimpleRNN
    c["units"] = r->config().units;
    c["activation"] = activation_name(r->config().activation);
    if (cls != "SimpleRNN") c["recurrent_activation"] = activation_name(r->config().recurrent_activation);
    c["use_bias"] = r->config().use_bias;
    if (cls == "LSTM") c["unit_forget_bias"] = r->config().unit_forget_bias;
    c["dropout"] = r->config().dropout;
    c["recurrent_dropout"] = r->config().recurrent_dropout;
    if (cls != "SimpleRNN" && r->config().implementation == 1) c["implementation"] = 1;
    c["return_sequences"] = r->config().return_sequences;
    c["return_state"] = false;
    c["go_backwards"] = r->config().go_backwards;
    c["stateful"] = false;
    c["unroll"] = false;
    if (cls == "GRU") c["reset_after"] = r->config().reset_after;
    c["zero_output_for_mask"] = r->config().zero_output_for_mask;
  } else if (auto* bi = dynamic_cast<const Bidirectional*>(&l)) {
    // Keras 3's form: both layers' configs, as serialized objects (its loaders want their module).
    c["merge_mode"] = merge_mode_name(bi->merge_mode());
    c["layer"] = keras3_object("keras.layers", layer_config(bi->forward_layer()));
    c["backward_layer"] = keras3_object("keras.layers", layer_config(bi->backward_layer()));
  } else if (auto* td = dynamic_cast<const TimeDistributed*>(&l)) {  // the same form
    c["layer"] = keras3_object("keras.layers", layer_config(td->layer()));
  } else if (auto* e = dynamic_cast<const Embedding*>(&l)) {
    c["input_dim"] = e->input_dim();
    c["output_dim"] = e->output_dim();
    c["mask_zero"] = e->mask_zero();
  } else if (auto* mk = dynamic_cast<const Masking*>(&l)) {
    c["mask_value"] = mk->mask_value();
  } else if (auto* b = dynamic_cast<const BatchNormalization*>(&l)) {
    c["axis"] = -1;
    c["momentum"] = b->config().momentum;
    c["epsilon"] = b->config().epsilon;
    c["center"] = true;
    c["scale"] = true;
  } else if (auto* ln = dynamic_cast<const LayerNormalization*>(&l)) {
    if (ln->config().groups != 0) {  // GroupNormalization: one axis, as an int
      c["groups"] = ln->config().groups;
      c["axis"] = ln->config().axis[0];
    } else {
      c["axis"] = ln->config().axis;  // as given (Keras writes the list its build made)
    }
    c["epsilon"] = ln->config().epsilon;
    if (!ln->config().rms) {
      c["center"] = ln->config().center;
      c["scale"] = ln->config().scale;
    }
  } else {
    DPT_FAIL("layer '" << l.name() << "' (" << cls << ") has no Keras config writer");
  }
  auto regularizer_json = [](const Regularizer& r) {  // as Keras 3 serializes one
    json rc = json::object();
    if (r.cls != "L2") rc["l1"] = r.l1;
    if (r.cls != "L1") rc["l2"] = r.l2;
    return keras3_object("keras.regularizers", {{"class_name", r.cls}, {"config", rc}});
  };
  // (ActivityRegularization's is its l1 and l2, as Keras writes it.)
  if (const auto& a = l.activity_regularizer(); a && !dynamic_cast<const ActivityRegularization*>(&l))
    c["activity_regularizer"] = regularizer_json(*a);
  for (const auto& [weight, o] : l.weight_options()) {
    if (const auto& r = o.regularizer) c[weight_argument(weight, "regularizer")] = regularizer_json(*r);
    // An initializer or constraint as the file gave it; a Keras 2 object in Keras 3's form. Keras
    // 3.15's input_axes and output_axes (VarianceScaling's) at their default None are left out:
    // Keras before 3.15 and tf-keras 2 take no such arguments.
    auto given = [](const std::string& written, const char* module) {
      json v = json::parse(written);
      if (v.is_object() && v.contains("config") && v["config"].is_object())
        for (const char* axes : {"input_axes", "output_axes"})
          if (v["config"].contains(axes) && v["config"][axes].is_null()) v["config"].erase(axes);
      return v.is_object() && !v.contains("module") ? keras3_object(module, v) : v;
    };
    if (o.initializer) c[weight_argument(weight, "initializer")] = given(o.initializer->written, "keras.initializers");
    if (o.constraint) c[weight_argument(weight, "constraint")] = given(o.constraint->written, "keras.constraints");
  }
  return {{"class_name", cls}, {"config", c}};
}

// A Keras schedule as Keras 3 serializes it (in .h5 and .keras files alike): its get_config() keys
// in Keras's order, steps as integers where they are whole (as a user gives them).
json schedule_json(const LearningRateSchedule& s) {
  auto steps = [](double v) { return v == std::floor(v) && std::fabs(v) < 1e15 ? json(int64_t(v)) : json(v); };
  json c = json::object();
  const std::string& cls = s.class_name;
  const std::string name = s.name.empty() ? s.default_name() : s.name;
  if (cls == "PiecewiseConstantDecay") {
    json b = json::array(), v = json::array();
    for (double x : s.boundaries) b.push_back(steps(x));
    for (double x : s.values) v.push_back(x);
    c = {{"boundaries", b}, {"values", v}, {"name", name}};
  } else if (cls == "ExponentialDecay" || cls == "InverseTimeDecay") {
    c = {{"initial_learning_rate", s.initial_learning_rate},
         {"decay_steps", steps(s.decay_steps)},
         {"decay_rate", s.decay_rate},
         {"staircase", s.staircase},
         {"name", name}};
  } else if (cls == "PolynomialDecay") {
    c = {{"initial_learning_rate", s.initial_learning_rate},
         {"decay_steps", steps(s.decay_steps)},
         {"end_learning_rate", s.end_learning_rate},
         {"power", s.power},
         {"cycle", s.cycle},
         {"name", name}};
  } else if (cls == "CosineDecay") {
    c = {{"initial_learning_rate", s.initial_learning_rate},
         {"decay_steps", steps(s.decay_steps)},
         {"alpha", s.alpha},
         {"name", name},
         {"warmup_target", s.warmup_target ? json(*s.warmup_target) : json(nullptr)},
         {"warmup_steps", steps(s.warmup_steps)}};
  } else {
    c = {{"initial_learning_rate", s.initial_learning_rate},
         {"first_decay_steps", steps(s.decay_steps)},
         {"t_mul", s.t_mul},
         {"m_mul", s.m_mul},
         {"alpha", s.alpha},
         {"name", name}};
  }
  return {{"module", "keras.optimizers.schedules"}, {"class_name", cls}, {"config", c}, {"registered_name", nullptr}};
}

json optimizer_config(const Optimizer& o) {
  json c = json::object();
  for (auto& [k, v] : o.config()) {
    if (k == "learning_rate" && o.schedule())
      c[k] = schedule_json(*o.schedule());
    else if (k == "nesterov" || k == "centered" || k == "amsgrad" || k == "use_ema")
      c[k] = v != 0.0;
    else if (k == "gradient_accumulation_steps" || k == "ema_overwrite_frequency")  // Keras requires ints
      c[k] = int64_t(v);
    else
      c[k] = v;
  }
  return {{"class_name", o.class_name()}, {"config", c}};
}

void write_int_attr(hid_t obj, const char* name, int64_t v) {
  h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Id a(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  DPT_CHECK(a.valid() && H5Awrite(a.get(), H5T_NATIVE_INT64, &v) >= 0, "writing attribute '" << name << "' failed");
}

void write_double_attr(hid_t obj, const char* name, double v) {
  h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Id a(H5Acreate2(obj, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  DPT_CHECK(a.valid() && H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &v) >= 0, "writing attribute '" << name << "' failed");
}

// Every numeric attribute of a group, as doubles, in name order.
herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}
std::vector<std::pair<std::string, double>> read_double_attrs(hid_t obj, const std::string& path) {
  std::vector<std::string> names;
  hsize_t at = 0;
  DPT_CHECK(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &at, collect_attr_name, &names) >= 0,
            "'" << path << "': cannot read the callbacks' state");
  std::vector<std::pair<std::string, double>> out;
  for (const auto& name : names) {
    h5::Id a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
    double v = 0;
    DPT_CHECK(a.valid() && H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) >= 0,
              "'" << path << "': cannot read callback state '" << name << "'");
    out.emplace_back(name, v);
  }
  return out;
}

int64_t read_int_attr(hid_t obj, const char* name, const std::string& path) {
  DPT_CHECK(H5Aexists(obj, name) > 0, "'" << path << "': dptrain state has no '" << name << "' (damaged checkpoint?)");
  h5::Id a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  int64_t v = 0;
  DPT_CHECK(H5Aread(a.get(), H5T_NATIVE_INT64, &v) >= 0, "'" << path << "': reading '" << name << "' failed");
  return v;
}

// How optimizer_weights name their arrays. Each layout names the iteration counter, (Keras 3 only)
// the learning rate, and one array per trainable weight and slot:
//   keras3:   <opt>/iteration, <opt>/learning_rate, <opt>/<model>_<layer>_<weight>_<slot>
//             (Keras 3's model.save; <opt> is the optimizer's name, e.g. adam, rm_sprop, adam_1)
//   tf_keras: iteration:0, <Class>/<slot>/<layer>/<weight>:0   (tf.keras 2.11+ and tf-keras)
//   tf_v2:    <Class>/iter:0, <Class>/<layer>/<weight>/<slot>:0 (tf.keras < 2.11; dptrain's files
//             before it wrote Keras 3's layout)
// Keras restores optimizer state by position; dptrain reads by name, which does not depend on the
// order each Keras version builds its slots in.
enum class OptLayout { keras3, tf_keras, tf_v2 };

const char* layout_name(OptLayout l) {
  return l == OptLayout::keras3 ? "Keras 3" : l == OptLayout::tf_keras ? "tf.keras 2.11+" : "tf.keras 2 (OptimizerV2)";
}

// The slot's name in `layout`; dptrain's own slot names are Keras 3's.
std::string slot_name(const std::string& cls, const std::string& keras3, OptLayout layout) {
  if (layout == OptLayout::keras3) return keras3;
  if (cls == "SGD") return layout == OptLayout::tf_keras ? "m" : "momentum";
  if (cls == "Adam" || cls == "AdamW" || cls == "Nadam" || cls == "Adamax" || cls == "Lion") {
    if (keras3 == "momentum") return "m";
    if (keras3 == "velocity") return "v";
    if (keras3 == "velocity_hat") return "vhat";
    if (keras3 == "norm") return layout == OptLayout::tf_keras ? "u" : "v";  // Adamax's infinity norm
  }
  if (layout == OptLayout::tf_keras) return keras3;  // RMSprop, Adagrad, Adadelta: Keras 3's names
  if (cls == "Adadelta") return keras3 == "accumulated_grad" ? "accum_grad" : "accum_var";
  return keras3 == "velocity" ? "rms" : keras3 == "average_gradient" ? "mg" : keras3;
}

// Keras 3's default name for an optimizer of this class (its snake case: RMSprop -> rm_sprop).
std::string keras3_optimizer_name(const std::string& cls) {
  std::string out;  // an underscore before a capital that follows a lower-case letter or starts a word
  for (size_t i = 0; i < cls.size(); ++i) {
    const bool upper = std::isupper(static_cast<unsigned char>(cls[i])) != 0;
    const bool after_lower = i > 0 && std::islower(static_cast<unsigned char>(cls[i - 1]));
    const bool starts_word = i > 0 && i + 1 < cls.size() && std::islower(static_cast<unsigned char>(cls[i + 1]));
    if (upper && (after_lower || starts_word)) out += '_';
    out += char(std::tolower(static_cast<unsigned char>(cls[i])));
  }
  return out;
}

// The name Keras 3's .h5 gives a scalar it keeps beside the slots (Nadam's u_product): a variable
// made without a name, outside the optimizer's scope.
const char* kExtraScalarName = "variable";

struct OptArray {
  std::string name;  // without the <opt>/ prefix in the Keras 3 layout
  float* data;
  Shape shape;
  std::string former;  // the name dptrain wrote before, where it differs (read where `name` is absent)
};

// A weight's variable name in Keras 3, where it differs from Keras 2's (which dptrain keeps):
// DepthwiseConv2D's (and DepthwiseConv1D's) depthwise_kernel is Keras 3's "kernel".
std::string keras3_weight_name(const WeightRef& w) {
  if (w.spec.name == "depthwise_kernel" &&
      (w.layer->class_name() == "DepthwiseConv2D" || w.layer->class_name() == "DepthwiseConv1D"))
    return "kernel";
  std::string scope = w.spec.keras3_path;  // LSTM: lstm_cell_kernel; Bidirectional: forward_lstm_lstm_cell_kernel
  std::replace(scope.begin(), scope.end(), '/', '_');
  return scope.empty() ? w.spec.name : scope + "_" + w.spec.name;
}

// Every slot array of `opt` for `model`'s trainable weights, in Keras 3's order: its optimizers
// build slots with one add_optimizer_variables call per group, and a call naming several slots
// interleaves them per weight (Adam: momentum and velocity of each weight, then every velocity_hat;
// RMSprop: every velocity, then every momentum, then every average_gradient).
// Keras 3 names a slot after its variable's path: "<model>/<layer>/<weight>" in a Sequential model,
// "<layer>/<weight>" in a Functional one (`functional`: the file's model was Functional).
std::vector<OptArray> slot_arrays(const Sequential& model, Optimizer& opt, OptLayout layout, bool functional = false) {
  const std::string cls = opt.class_name();
  auto slots = opt.slots();
  const auto groups = opt.slot_groups();
  std::vector<OptArray> out;
  for (auto& group : groups)
    for (auto& w : model.weights()) {
      if (!w.spec.trainable) continue;
      for (size_t s : group) {
        const std::string slot = slot_name(cls, slots[s].first, layout);
        std::string name, former;
        if (layout == OptLayout::keras3) {
          const std::string base = (functional ? "" : model.name() + "_") + w.layer->name() + "_";
          name = base + keras3_weight_name(w) + "_" + slot;
          if (keras3_weight_name(w) != w.spec.name) former = base + w.spec.name + "_" + slot;
        } else {  // tf.keras names a sublayer's weight in its path: lstm/lstm_cell/kernel
          const std::string var =
              w.layer->name() + "/" + (w.spec.scope.empty() ? "" : w.spec.scope + "/") + w.spec.name;
          name =
              layout == OptLayout::tf_keras ? cls + "/" + slot + "/" + var + ":0" : cls + "/" + var + "/" + slot + ":0";
        }
        out.push_back({name, slots[s].second->data() + w.offset, w.spec.shape, former});
      }
    }
  return out;
}

void write_scalar(hid_t group, const std::string& name, hid_t file_type, hid_t mem_type, const void* value,
                  const std::string& path) {
  h5::create_parents(group, name, path);
  h5::Id dcpl = h5::untimed_dataset_create();
  h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Id ds(H5Dcreate2(group, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
  DPT_CHECK(ds.valid() && H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) >= 0,
            "writing '" << name << "' to '" << path << "' failed (disk full?)");
}

// Keras 3's layout, in Keras 3's order: keras.models.load_model restores the iteration count and
// the learning rate from it without a warning.
void write_optimizer_weights(hid_t f, const Sequential& model, Optimizer& opt, const std::string& path) {
  h5::Id ow = h5::create_group(f, "optimizer_weights", path);
  const std::string prefix = keras3_optimizer_name(opt.class_name()) + "/";
  std::vector<std::string> names{prefix + "iteration"};
  const int64_t it = opt.iterations();
  write_scalar(ow.get(), names[0], H5T_STD_I64LE, H5T_NATIVE_INT64, &it, path);
  if (!opt.schedule()) {  // a schedule is no variable in Keras 3
    names.push_back(prefix + "learning_rate");
    const float lr = float(opt.learning_rate());
    write_scalar(ow.get(), names[1], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &lr, path);
  }
  for (auto& a : slot_arrays(model, opt, OptLayout::keras3, !model.is_chain())) {
    names.push_back(prefix + a.name);
    write_dataset(ow.get(), names.back(), a.shape, a.data, path);
  }
  for (float v : opt.extra_scalars()) {
    DPT_CHECK(names.back() != kExtraScalarName, "an optimizer with two extra scalars has no Keras 3 names");
    names.push_back(kExtraScalarName);
    write_scalar(ow.get(), names.back(), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &v, path);
  }
  write_string_list(ow.get(), "weight_names", names);
}

// A .keras archive's optimizer/vars: the same variables, numbered in the same order.
void write_numbered_optimizer(hid_t f, const Sequential& model, Optimizer& opt, const std::string& path) {
  h5::Id vars = h5::create_group(f, "optimizer/vars", path);
  const int64_t it = opt.iterations();
  write_scalar(vars.get(), "0", H5T_STD_I64LE, H5T_NATIVE_INT64, &it, path);
  int n = 1;
  if (!opt.schedule()) {  // a schedule is no variable in Keras 3
    const float lr = float(opt.learning_rate());
    write_scalar(vars.get(), std::to_string(n++).c_str(), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &lr, path);
  }
  for (auto& a : slot_arrays(model, opt, OptLayout::keras3, !model.is_chain()))
    write_dataset(vars.get(), std::to_string(n++), a.shape, a.data, path);
  for (float v : opt.extra_scalars())
    write_scalar(vars.get(), std::to_string(n++), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &v, path);
}

// Keras 3's serialized form of a built-in object ({module, class_name, config, registered_name}),
// which its .keras loader requires.
json keras3_object(const char* module, const json& obj) {
  return {
      {"module", module}, {"class_name", obj["class_name"]}, {"config", obj["config"]}, {"registered_name", nullptr}};
}

// The loss as compile() takes it: Keras's name, or where from_logits, label_smoothing or Huber's delta
// is set the loss object, as Keras 3 writes it (`archive`: a .keras archive's form, with module and
// registered_name). Keras 3.15's Huber leaves its delta out of get_config; its from_config takes it.
json loss_json(const LossSpec& spec, bool archive) {
  const LossKind loss = spec.kind;
  const FocalParams d;
  const bool focal_default = spec.focal.alpha == d.alpha && spec.focal.gamma == d.gamma && !spec.focal.balance;
  if (!loss_from_logits(loss) && spec.label_smoothing == 0 && spec.delta == 1 && focal_default) return loss_name(loss);
  const LossKind base = loss_base(loss);
  if (base == LossKind::huber) {
    const json obj = {
        {"class_name", "Huber"},
        {"config", {{"name", "huber_loss"}, {"reduction", "sum_over_batch_size"}, {"delta", spec.delta}}}};
    return archive ? keras3_object("keras.losses", obj) : obj;
  }
  json c = {{"name", loss_name(loss)}, {"reduction", "sum_over_batch_size"}, {"from_logits", loss_from_logits(loss)}};
  if (base == LossKind::sparse_categorical_crossentropy) {
    c["ignore_class"] = nullptr;
  } else {
    c["label_smoothing"] = spec.label_smoothing;
    c["axis"] = -1;
  }
  if (base == LossKind::binary_focal_crossentropy) c["apply_class_balancing"] = spec.focal.balance;
  if (loss_is_focal(base)) {
    c["alpha"] = spec.focal.alpha;
    c["gamma"] = spec.focal.gamma;
  }
  const char* cls = base == LossKind::categorical_crossentropy          ? "CategoricalCrossentropy"
                    : base == LossKind::sparse_categorical_crossentropy ? "SparseCategoricalCrossentropy"
                    : base == LossKind::binary_focal_crossentropy       ? "BinaryFocalCrossentropy"
                    : base == LossKind::categorical_focal_crossentropy  ? "CategoricalFocalCrossentropy"
                                                                        : "BinaryCrossentropy";
  const json obj = {{"class_name", cls}, {"config", c}};
  return archive ? keras3_object("keras.losses", obj) : obj;
}

// A metric as compile_config lists it: the compile() string where that string asks for the same
// metric under the same name, else the metric object Keras 3 serializes (class and arguments).
json metric_json(const MetricRequest& r, bool archive) {
  if (r.kind == "accuracy" || r.is_plain_string()) return r.name;
  json c = {{"name", r.name}, {"dtype", "float32"}};
  if (r.kind == "precision" || r.kind == "recall") {  // Keras's None: its default threshold 0.5
    c["thresholds"] = r.threshold == 0.5 ? json(nullptr) : json(r.threshold);
    c["top_k"] = nullptr;
    c["class_id"] = r.class_id < 0 ? json(nullptr) : json(r.class_id);
  } else if (r.kind == "r2_score") {
    c["class_aggregation"] = r.class_aggregation;
    c["num_regressors"] = r.num_regressors;
    const json obj = {{"class_name", "R2Score"}, {"config", c}};
    return archive ? keras3_object("keras.metrics", obj) : obj;
  } else if (r.kind == "f1_score" || r.kind == "fbeta_score") {
    c["average"] = r.average;
    if (r.kind == "fbeta_score") c["beta"] = r.beta;
    c["threshold"] = r.fbeta_threshold < 0 ? json(nullptr) : json(r.fbeta_threshold);
    const json obj = {{"class_name", metric_class_name(r.kind)}, {"config", c}};
    return archive ? keras3_object("keras.metrics", obj) : obj;
  } else if (r.kind == "auc") {
    c.update({{"num_thresholds", r.num_thresholds},
              {"curve", r.curve},
              {"summation_method", r.summation_method},
              {"multi_label", r.multi_label},
              {"num_labels", r.num_labels > 0 ? json(r.num_labels) : json(nullptr)},
              {"label_weights", r.label_weights.empty() ? json(nullptr) : json(r.label_weights)},
              {"from_logits", r.from_logits}});
    const json obj = {{"class_name", "AUC"}, {"config", c}};
    return archive ? keras3_object("keras.metrics", obj) : obj;
  }
  if (metric_takes(r.kind, "k")) c["k"] = r.k;
  if (metric_takes(r.kind, "threshold")) c["threshold"] = r.threshold;  // BinaryAccuracy's
  if (metric_takes(r.kind, "from_logits")) c["from_logits"] = r.from_logits;
  if (metric_takes(r.kind, "label_smoothing")) c["label_smoothing"] = r.label_smoothing;
  if (r.kind == "sparse_categorical_crossentropy") c["ignore_class"] = nullptr;
  if (r.kind == "categorical_crossentropy" || r.kind == "sparse_categorical_crossentropy") c["axis"] = -1;
  const json obj = {{"class_name", metric_class_name(r.kind)}, {"config", c}};
  return archive ? keras3_object("keras.metrics", obj) : obj;
}

// compile(metrics=...) (weighted false) or compile(weighted_metrics=...): the requests of that kind.
json metrics_json(const MetricRequests& metrics, bool archive, bool weighted) {
  json out = json::array();
  for (const MetricRequest& r : metrics)
    if (r.weighted == weighted) out.push_back(metric_json(r, archive));
  return out.empty() ? json(nullptr) : out;
}

// A graph model as Keras 3 writes a Functional one: its InputLayer, then each layer with the node
// it is called on, {"args": [tensor or list of tensors], "kwargs": {}}, each tensor naming the
// layer that made it (keras_history); `archive`: the .keras form (with module and
// registered_name), else model.save .h5's.
json functional_config(const Sequential& model, bool archive) {
  auto batch_shape = [](const Shape& s) {
    json shape = json::array({nullptr});
    for (int64_t d : s) shape.push_back(d);
    return shape;
  };
  auto entry = [&](json obj, const std::string& name, json nodes) {
    json e = archive ? keras3_object("keras.layers", obj)
                     : json{{"class_name", obj["class_name"]}, {"config", obj["config"]}};
    e["name"] = name;
    e["inbound_nodes"] = std::move(nodes);
    return e;
  };
  auto tensor = [&](int k) {
    const json s =
        batch_shape(k < 0 ? model.input_shapes()[size_t(-1 - k)] : model.layers()[size_t(k)]->output_shape());
    const std::string from = k < 0 ? model.input_names()[size_t(-1 - k)] : model.layers()[size_t(k)]->name();
    return json{{"class_name", "__keras_tensor__"},
                {"config", {{"shape", s}, {"dtype", "float32"}, {"keras_history", {from, 0, 0}}}}};
  };
  json layers = json::array(), inputs = json::array();
  for (size_t k = 0; k < model.num_inputs(); ++k) {
    const std::string& name = model.input_names()[k];
    layers.push_back(entry({{"class_name", "InputLayer"},
                            {"config",
                             {{"batch_shape", batch_shape(model.input_shapes()[k])},
                              {"dtype", "float32"},
                              {"sparse", false},
                              {"name", name}}}},
                           name, json::array()));
    inputs.push_back({name, 0, 0});
  }
  for (size_t i = 0; i < model.layers().size(); ++i) {
    const auto& reads = model.inputs()[i];
    json args = json::array(), kwargs = json::object();
    if (auto* mha = dynamic_cast<const MultiHeadAttention*>(model.layers()[i].get())) {
      for (int k : reads) args.push_back(tensor(k));  // (query, value, key)
      if (mha->config().causal) kwargs["use_causal_mask"] = true;
    } else if (reads.size() == 1) {
      args.push_back(tensor(reads[0]));
    } else {
      json list = json::array();  // a merge layer's (and Attention's) one list
      for (int k : reads) list.push_back(tensor(k));
      args.push_back(list);
      if (auto* at = dynamic_cast<const ScoreAttention*>(model.layers()[i].get()); at && at->config().causal)
        kwargs["use_causal_mask"] = true;
    }
    layers.push_back(entry(layer_config(*model.layers()[i]), model.layers()[i]->name(),
                           json::array({{{"args", args}, {"kwargs", kwargs}}})));
  }
  json c = {{"name", model.name()},
            {"trainable", true},
            {"layers", layers},
            {"input_layers", model.num_inputs() == 1 ? inputs[0] : inputs},  // Keras 3: one tensor, or a list
            {"output_layers", {model.layers().back()->name(), 0, 0}}};
  if (archive)
    return {{"module", "keras.src.models.functional"},
            {"class_name", "Functional"},
            {"config", c},
            {"registered_name", "Functional"},
            {"build_config", {{"input_shape", nullptr}}}};
  return {{"class_name", "Functional"}, {"config", c}};
}

// model.save('m.keras'): config.json (the Sequential model in Keras 3's serialized form, with
// build_config and compile_config), metadata.json, and model.weights.h5 (Keras 3's weights layout,
// with the optimizer's variables numbered in optimizer/vars).
void save_keras_archive(const Sequential& model, const std::string& path, const LossSpec& loss,
                        const MetricRequests& metrics, const Optimizer* optimizer) {
  json shape = json::array({nullptr});
  for (int64_t d : model.input_shape()) shape.push_back(d);
  json layers = json::array();
  layers.push_back(
      {{"module", "keras.layers"},
       {"class_name", "InputLayer"},
       {"config", {{"batch_shape", shape}, {"dtype", "float32"}, {"sparse", false}, {"name", "input_layer"}}},
       {"registered_name", nullptr}});
  for (auto& l : model.layers()) layers.push_back(keras3_object("keras.layers", layer_config(*l)));
  json compile = {{"optimizer", nullptr},
                  {"loss", loss_json(loss, true)},
                  {"loss_weights", nullptr},
                  {"metrics", metrics_json(metrics, true, false)},
                  {"weighted_metrics", metrics_json(metrics, true, true)},
                  {"run_eagerly", false},
                  {"steps_per_execution", 1},
                  {"jit_compile", false}};
  if (optimizer) compile["optimizer"] = keras3_object("keras.optimizers", optimizer_config(*optimizer));
  json config = {{"module", "keras"},
                 {"class_name", "Sequential"},
                 {"config", {{"name", model.name()}, {"trainable", true}, {"dtype", "float32"}, {"layers", layers}}},
                 {"registered_name", nullptr},
                 {"build_config", {{"input_shape", shape}}},
                 {"compile_config", compile}};
  if (!model.is_chain()) {
    config = functional_config(model, true);
    config["compile_config"] = compile;
  }
  KerasArchive a;
  a.config = config.dump();
  a.metadata = json({{"keras_version", "3.15.1"}}).dump();  // the Keras whose loader tests read these files
  a.weights = h5_image(
      [&](hid_t f) {
        write_keras3_weights(f, model, path);
        if (optimizer) write_numbered_optimizer(f, model, const_cast<Optimizer&>(*optimizer), path);
      },
      path + "/model.weights.h5");
  write_file_atomically(path, "the model", keras_archive_bytes(a));
}

}  // namespace

std::string model_to_keras_json(const Sequential& model) {
  json layers = json::array();
  Shape batch = model.input_shape();
  json shape = json::array({nullptr});
  for (int64_t d : batch) shape.push_back(d);
  layers.push_back(
      {{"class_name", "InputLayer"},
       {"config", {{"batch_input_shape", shape}, {"dtype", "float32"}, {"sparse", false}, {"name", "input_layer"}}}});
  for (auto& l : model.layers()) layers.push_back(layer_config(*l));
  if (!model.is_chain()) return functional_config(model, false).dump();
  json j = {{"class_name", "Sequential"},
            {"config", {{"name", model.name()}, {"trainable", true}, {"dtype", "float32"}, {"layers", layers}}}};
  return j.dump();
}

void save_weights_as_keras(const Sequential& model, const std::string& path, const Optimizer* optimizer) {
  if (!keras3_weights_path(path) || !optimizer) return save_weights(model, path);
  write_h5_atomically(path, "weights", [&](hid_t f) {
    write_keras3_weights(f, model, path);
    write_numbered_optimizer(f, model, const_cast<Optimizer&>(*optimizer), path);
  });
}

void save_model(const Sequential& model, const std::string& path, const LossSpec& loss, const MetricRequests& metrics,
                const Optimizer* optimizer, const TrainingState* state) {
  if (path.size() >= 6 && path.compare(path.size() - 6, 6, ".keras") == 0) {
    DPT_CHECK(!state, "cannot save '" << path << "': checkpoints with resume state are .h5 files");
    save_keras_archive(model, path, loss, metrics, optimizer);
    return;
  }
  write_h5_atomically(path, "the model", [&](hid_t f) {
    write_vlen_attr(f, "keras_version", "2.15.0");
    write_vlen_attr(f, "backend", "tensorflow");
    write_vlen_attr(f, "model_config", model_to_keras_json(model));
    json training = {{"loss", loss_json(loss, false)},
                     {"metrics", metrics_json(metrics, false, false)},
                     {"weighted_metrics", metrics_json(metrics, false, true)},
                     {"loss_weights", nullptr}};
    if (optimizer) training["optimizer_config"] = optimizer_config(*optimizer);
    write_vlen_attr(f, "training_config", training.dump());
    {
      h5::Id mw = h5::create_group(f, "model_weights", path);
      write_weights_group(mw.get(), model, path);
    }
    if (optimizer) write_optimizer_weights(f, model, const_cast<Optimizer&>(*optimizer), path);
    if (state) {
      h5::Id d = h5::create_group(f, "dptrain", path);
      write_int_attr(d.get(), "format_version", 1);
      write_int_attr(d.get(), "epoch", state->epoch);
      write_int_attr(d.get(), "step", state->step);
      write_int_attr(d.get(), "seed", int64_t(state->seed));
      write_int_attr(d.get(), "batch_size", state->batch_size);
      write_int_attr(d.get(), "iterations", optimizer ? optimizer->iterations() : 0);
      if (optimizer) {
        write_vlen_attr(d.get(), "optimizer", optimizer->describe());
        write_double_attr(d.get(), "learning_rate", optimizer->learning_rate());  // in full (Keras's is float32)
      }
      if (!state->callbacks.empty()) {
        h5::Id cbs = h5::create_group(d.get(), "callbacks", path);
        for (const auto& [key, cs] : state->callbacks) {
          h5::Id g = h5::create_group(cbs.get(), key, path);
          for (const auto& [name, v] : cs.numbers) write_double_attr(g.get(), name.c_str(), v);
          if (!cs.weights.empty())
            write_dataset(g.get(), "weights", Shape{int64_t(cs.weights.size())}, cs.weights.data(), path);
        }
      }
    }
  });
}

bool read_training_state(const std::string& path, TrainingState* state) {
  h5::quiet_errors();
  if (is_keras_archive(path)) return false;  // Keras's own file: no dptrain group
  DPT_CHECK(H5Fis_hdf5(path.c_str()) > 0, "'" << path << "' is not an HDF5 file (or is truncated)");
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  DPT_CHECK(f.valid(), "cannot open '" << path << "'");
  if (H5Lexists(f.get(), "dptrain", H5P_DEFAULT) <= 0) return false;
  h5::Id d(H5Gopen2(f.get(), "dptrain", H5P_DEFAULT), H5Gclose);
  state->epoch = read_int_attr(d.get(), "epoch", path);
  state->step = read_int_attr(d.get(), "step", path);
  state->seed = uint64_t(read_int_attr(d.get(), "seed", path));
  state->batch_size = read_int_attr(d.get(), "batch_size", path);
  state->learning_rate = -1;
  if (H5Aexists(d.get(), "learning_rate") > 0) {
    h5::Id a(H5Aopen(d.get(), "learning_rate", H5P_DEFAULT), H5Aclose);
    DPT_CHECK(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &state->learning_rate) >= 0,
              "'" << path << "': reading the saved learning rate failed");
  }
  state->callbacks.clear();
  if (H5Lexists(d.get(), "callbacks", H5P_DEFAULT) > 0) {  // absent in checkpoints before 2026-11
    h5::Id cbs(H5Gopen2(d.get(), "callbacks", H5P_DEFAULT), H5Gclose);
    hsize_t n = 0;
    DPT_CHECK(cbs.valid() && H5Gget_num_objs(cbs.get(), &n) >= 0, "'" << path << "': cannot read the callbacks' state");
    for (hsize_t i = 0; i < n; ++i) {
      char key[256] = {0};
      H5Lget_name_by_idx(cbs.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, key, sizeof key - 1, H5P_DEFAULT);
      h5::Id g(H5Gopen2(cbs.get(), key, H5P_DEFAULT), H5Gclose);
      DPT_CHECK(g.valid(), "'" << path << "': cannot read the state of " << key);
      CallbackState cs;
      cs.numbers = read_double_attrs(g.get(), path);
      if (H5Lexists(g.get(), "weights", H5P_DEFAULT) > 0) {
        h5::Id ds(H5Dopen2(g.get(), "weights", H5P_DEFAULT), H5Dclose);
        const auto dims = h5::dataset_dims(ds.get());
        DPT_CHECK(ds.valid() && dims.size() == 1, "'" << path << "': the weights of " << key << " are damaged");
        cs.weights.resize(size_t(dims[0]));
        DPT_CHECK(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, cs.weights.data()) >= 0,
                  "'" << path << "': reading the weights of " << key << " failed");
      }
      state->callbacks.emplace_back(key, std::move(cs));
    }
  }
  return true;
}

bool has_optimizer_weights(const std::string& path) {
  h5::quiet_errors();
  if (is_keras_archive(path)) {
    h5::Id f = open_h5_image(read_keras_archive(path)->weights, path + "/model.weights.h5");
    H5G_info_t info{};
    h5::Id v(H5Gopen2(f.get(), "optimizer/vars", H5P_DEFAULT), H5Gclose);
    if (H5Lexists(f.get(), "optimizer", H5P_DEFAULT) <= 0 || !v.valid() || H5Gget_info(v.get(), &info) < 0 ||
        info.nlinks == 0)
      return false;
    // A model compiled but never trained: Keras saves its optimizer unbuilt (the counter at 0 and the
    // learning rate, no slots), which holds no state to continue.
    const OptimizerState st = read_optimizer_state_info(path);
    return st.arrays > 0 || st.iterations > 0;
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) return false;
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  return f.valid() && H5Lexists(f.get(), "optimizer_weights", H5P_DEFAULT) > 0;
}

namespace {

// The names in optimizer_weights, and the layout and iteration counter they show.
struct OptNames {
  OptLayout layout = OptLayout::keras3;
  std::string iteration;  // the counter's name
  std::string prefix;     // Keras 3's "<opt>/" before every name ("" in the other layouts)
  std::string lr;         // the saved learning rate's name ("" where there is none)
  // A .keras archive's optimizer/vars: Keras 3's variables numbered in its order (0 the counter,
  // 1 the learning rate unless a schedule set it, then the slot arrays), not named.
  bool numbered = false;
  std::vector<std::string> names;
  std::set<std::string> present;
  // Scalars Keras 3 keeps after the slot arrays (Nadam's u_product, which dptrain computes from the
  // iteration count instead of reading).
  size_t extras = 0;
  // Arrays that are not the iteration counter, the learning rate or an extra scalar.
  size_t slot_count() const { return names.size() - 1 - (!lr.empty() ? 1 : 0) - extras; }
  // The dataset of slot array i, named `name` in Keras 3's layout.
  std::string slot(size_t i, const std::string& name) const {
    return numbered ? std::to_string(i + (lr.empty() ? 1 : 2)) : prefix + name;
  }
};

OptNames read_opt_names(hid_t ow, const std::string& path) {
  DPT_CHECK(H5Aexists(ow, "weight_names") > 0 || H5Aexists(ow, "weight_names0") > 0,
            "'" << path << "': optimizer_weights has no weight_names");
  OptNames o;
  o.names = read_string_list(ow, "weight_names", path);
  o.present = std::set<std::string>(o.names.begin(), o.names.end());
  for (const auto& n : o.names) {
    const auto slash = n.find('/');
    if (n == "iteration:0") {
      o.layout = OptLayout::tf_keras;
    } else if (slash != std::string::npos && n.compare(slash, std::string::npos, "/iter:0") == 0) {
      o.layout = OptLayout::tf_v2;
    } else if (slash != std::string::npos && n.compare(slash, std::string::npos, "/iteration") == 0) {
      o.layout = OptLayout::keras3;
      o.prefix = n.substr(0, slash + 1);
    } else {
      continue;
    }
    o.iteration = n;
    break;
  }
  DPT_CHECK(!o.iteration.empty(), "'" << path
                                      << "': optimizer_weights names no iteration counter (iteration, iter:0): "
                                         "a layout dptrain does not know (first array: '"
                                      << (o.names.empty() ? std::string() : o.names[0]) << "')");
  if (o.layout == OptLayout::keras3 && o.present.count(o.prefix + "learning_rate")) o.lr = o.prefix + "learning_rate";
  if (o.layout == OptLayout::keras3)  // scalars beside the counter and the rate (JAX names Nadam's
    for (const auto& n : o.names) {   // "variable", TensorFlow "<opt>/variable_1")
      if (n == o.iteration || n == o.lr) continue;
      h5::Id ds(H5Dopen2(ow, n.c_str(), H5P_DEFAULT), H5Dclose);
      o.extras += ds.valid() && h5::dataset_dims(ds.get()).empty();
    }
  return o;
}

// A .keras archive's optimizer/vars: "0", "1", ...; "1" is the learning rate when it is a scalar
// (slot arrays have a model weight's shape, never a scalar's).
OptNames numbered_names(hid_t vars, const std::string& path) {
  H5G_info_t info{};
  DPT_CHECK(H5Gget_info(vars, &info) >= 0, "'" << path << "': cannot read optimizer/vars");
  OptNames o;
  o.numbered = true;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    o.names.push_back(std::to_string(i));
    DPT_CHECK(H5Lexists(vars, o.names.back().c_str(), H5P_DEFAULT) > 0,
              "'" << path << "': optimizer/vars is not numbered 0.." << info.nlinks - 1 << " (no '" << i << "')");
  }
  o.present = std::set<std::string>(o.names.begin(), o.names.end());
  DPT_CHECK(!o.names.empty(), "'" << path << "': optimizer/vars is empty");
  o.iteration = "0";
  if (o.names.size() > 1) {
    h5::Id ds(H5Dopen2(vars, "1", H5P_DEFAULT), H5Dclose);
    if (ds.valid() && h5::dataset_dims(ds.get()).empty()) o.lr = "1";
  }
  const size_t first_slot = o.lr.empty() ? 1 : 2;  // scalars after the slot arrays are extras
  for (size_t i = o.names.size(); i > first_slot; --i) {
    h5::Id ds(H5Dopen2(vars, o.names[i - 1].c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.valid() || !h5::dataset_dims(ds.get()).empty()) break;
    ++o.extras;
  }
  return o;
}

int64_t read_iterations(hid_t ow, const OptNames& o, const std::string& path) {
  int64_t iterations = 0;
  h5::Id ds(H5Dopen2(ow, o.iteration.c_str(), H5P_DEFAULT), H5Dclose);
  DPT_CHECK(ds.valid() && h5::dataset_dims(ds.get()).empty() &&
                H5Dread(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &iterations) >= 0,
            "'" << path << "': cannot read the iteration counter '" << o.iteration << "'");
  DPT_CHECK(iterations >= 0, "'" << path << "': the iteration counter '" << o.iteration << "' is " << iterations);
  return iterations;
}

// Keras 3's saved learning rate; < 0 in the other layouts and where Keras used a schedule.
double read_saved_learning_rate(hid_t ow, const OptNames& o, const std::string& path) {
  const std::string& name = o.lr;
  if (name.empty()) return -1;
  float lr = 0;
  h5::Id ds(H5Dopen2(ow, name.c_str(), H5P_DEFAULT), H5Dclose);
  DPT_CHECK(ds.valid() && h5::dataset_dims(ds.get()).empty() &&
                H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &lr) >= 0,
            "'" << path << "': cannot read the learning rate '" << name << "'");
  DPT_CHECK(std::isfinite(lr) && lr > 0, "'" << path << "': the saved learning rate is " << lr);
  return lr;
}

// optimizer_weights, or the numbered optimizer/vars (`numbered`) of a .keras archive's weights (held
// in memory) or a Keras 3 .weights.h5 file.
h5::Id open_optimizer_weights(const std::string& path, h5::Id* file, bool* numbered) {
  h5::quiet_errors();
  if (is_keras_archive(path))
    *file = open_h5_image(read_keras_archive(path)->weights, path + "/model.weights.h5");
  else
    *file = h5::Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  DPT_CHECK(file->valid(), "cannot open '" << path << "'");
  *numbered = H5Lexists(file->get(), "optimizer_weights", H5P_DEFAULT) <= 0 &&
              H5Lexists(file->get(), "optimizer", H5P_DEFAULT) > 0 &&
              H5Lexists(file->get(), "optimizer/vars", H5P_DEFAULT) > 0;
  if (*numbered) {
    h5::Id v(H5Gopen2(file->get(), "optimizer/vars", H5P_DEFAULT), H5Gclose);
    DPT_CHECK(v.valid(), "'" << path << "': cannot open optimizer/vars");
    return v;
  }
  DPT_CHECK(H5Lexists(file->get(), "optimizer_weights", H5P_DEFAULT) > 0, "'" << path << "' has no optimizer_weights");
  h5::Id ow(H5Gopen2(file->get(), "optimizer_weights", H5P_DEFAULT), H5Gclose);
  DPT_CHECK(ow.valid(), "'" << path << "': cannot open optimizer_weights");
  return ow;
}

// Everything but the slot arrays (`arrays` is the file's count of them).
OptimizerState summarise(hid_t ow, const OptNames& o, const std::string& path) {
  OptimizerState st;
  st.layout = o.numbered ? "Keras 3, numbered" : layout_name(o.layout);
  if (o.layout == OptLayout::keras3)
    st.name = o.prefix.substr(0, o.prefix.size() - 1);
  else if (o.layout == OptLayout::tf_v2)
    st.name = o.iteration.substr(0, o.iteration.find('/'));
  st.iterations = read_iterations(ow, o, path);
  st.arrays = int64_t(o.slot_count());
  st.learning_rate = read_saved_learning_rate(ow, o, path);
  return st;
}

}  // namespace

OptimizerState read_optimizer_state_info(const std::string& path) {
  h5::Id f;
  bool numbered = false;
  h5::Id ow = open_optimizer_weights(path, &f, &numbered);
  return summarise(ow.get(), numbered ? numbered_names(ow.get(), path) : read_opt_names(ow.get(), path), path);
}

OptimizerState load_optimizer_state(const std::string& path, const Sequential& model, Optimizer& opt) {
  h5::Id f;
  bool numbered = false;
  h5::Id ow = open_optimizer_weights(path, &f, &numbered);
  const OptNames o = numbered ? numbered_names(ow.get(), path) : read_opt_names(ow.get(), path);
  const OptLayout layout = o.layout;
  const std::string& iteration = o.iteration;
  OptimizerState st = summarise(ow.get(), o, path);  // reads and checks the counter and the learning rate
  // Slot names alone do not tell the optimizers apart (Adam's momentum and velocity are RMSprop's
  // velocity and momentum): the class is the one training_config names, and the file holds as many
  // slot arrays as this optimizer has (tf.keras 2.11+ SGD also keeps unused ones at momentum 0).
  KerasCompileConfig compiled;
  if (read_compile_config(path, &compiled) && !compiled.file_optimizer.empty())
    DPT_CHECK(compiled.file_optimizer == opt.class_name(), "'" << path << "' holds the state of optimizer "
                                                               << compiled.file_optimizer << ", not "
                                                               << opt.class_name());
  if (layout == OptLayout::tf_v2)
    DPT_CHECK(iteration == opt.class_name() + "/iter:0", "'" << path << "' holds the state of another optimizer ('"
                                                             << iteration << "'; " << opt.class_name() << " expected)");
  const std::set<std::string>& present = o.present;
  // dptrain builds a Functional file's model as a Sequential; Keras named its slots as Functional's.
  const json file_model = json::parse(read_model_config(path), nullptr, false);
  const bool functional = file_model.is_object() && file_model.contains("class_name") &&
                          (file_model["class_name"] == "Functional" || file_model["class_name"] == "Model");
  auto arrays = slot_arrays(model, opt, layout, functional);
  // Scalars beside the counter and the rate are Nadam's extras, or the slots of the model's scalar
  // weights (Attention's scale): as many as the model has are taken as its slots.
  size_t file_slots = o.slot_count();
  const size_t scalar_slots =
      size_t(std::count_if(arrays.begin(), arrays.end(), [](const auto& a) { return a.shape.empty(); }));
  if (file_slots < arrays.size()) file_slots += std::min({o.extras, scalar_slots, arrays.size() - file_slots});
  const bool unused_sgd_slots = layout == OptLayout::tf_keras && opt.class_name() == "SGD" && arrays.empty();
  DPT_CHECK(file_slots == arrays.size() || unused_sgd_slots,
            "'" << path << "' holds " << file_slots << " optimizer slot arrays; " << opt.describe() << " has "
                << arrays.size() << " for this model (another optimizer setting, e.g. momentum, amsgrad or "
                << "centered?)");
  // Read everything first: a file that does not match leaves the optimizer as it was.
  std::vector<std::vector<float>> values(arrays.size());
  for (size_t i = 0; i < arrays.size(); ++i) {
    std::string name = o.slot(i, arrays[i].name);
    if (!present.count(name) && !arrays[i].former.empty() && present.count(o.slot(i, arrays[i].former)))
      name = o.slot(i, arrays[i].former);  // dptrain's own files before it wrote Keras 3's variable name
    const std::string shown = o.numbered ? "optimizer/vars/" + name + " (" + arrays[i].name + ")" : name;
    DPT_CHECK(present.count(name), "'" << path << "' has no optimizer weight '" << shown << "': it holds the state of "
                                       << "another optimizer or model (" << opt.describe() << " expected)");
    h5::Id ds(H5Dopen2(ow.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    DPT_CHECK(ds.valid(), "'" << path << "': cannot open optimizer weight '" << shown << "'");
    auto dims = h5::dataset_dims(ds.get());
    const Shape shape(dims.begin(), dims.end());
    DPT_CHECK(shape == arrays[i].shape, "'" << path << "': optimizer weight '" << shown << "' has shape "
                                            << shape_str(shape) << ", the model's weight "
                                            << shape_str(arrays[i].shape));
    values[i].resize(size_t(shape_numel(shape)));
    DPT_CHECK(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values[i].data()) >= 0,
              "'" << path << "': reading optimizer weight '" << shown << "' failed");
  }
  for (size_t i = 0; i < arrays.size(); ++i) std::copy(values[i].begin(), values[i].end(), arrays[i].data);
  opt.set_iterations(st.iterations);
  st.arrays = int64_t(arrays.size());
  return st;
}

}  // namespace dpt
