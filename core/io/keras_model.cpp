// model.save('m.h5') layout: config JSON, training config, weights, optimizer weights, dptrain state.
#include "core/io/keras_model.h"
#include <nlohmann/json.hpp>
#include "core/error.h"
#include "core/io/hdf5_util.h"
#include "core/io/hdf5_weights.h"
#include "core/layers/batch_norm.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/dropout.h"
#include "core/layers/pooling.h"

namespace dpt {

using json = nlohmann::ordered_json;

namespace {

json layer_config(const Layer& l) {
  json c = {{"name", l.name()}, {"trainable", true}, {"dtype", "float32"}};
  const std::string cls = l.class_name();
  if (auto* d = dynamic_cast<const Dense*>(&l)) {
    c["units"] = d->units();
    c["activation"] = activation_name(d->output_activation());
    c["use_bias"] = d->use_bias();
  } else if (auto* k = dynamic_cast<const Conv2D*>(&l)) {
    const auto& g = k->config();
    c["filters"] = g.filters;
    c["kernel_size"] = {g.kh, g.kw};
    c["strides"] = {g.sh, g.sw};
    c["padding"] = g.same ? "same" : "valid";
    c["data_format"] = "channels_last";
    c["dilation_rate"] = {1, 1};
    c["groups"] = 1;
    c["activation"] = activation_name(g.activation);
    c["use_bias"] = g.use_bias;
  } else if (auto* p = dynamic_cast<const Pool2D*>(&l)) {
    const auto& g = p->config();
    c["pool_size"] = {g.ph, g.pw};
    c["strides"] = {g.sh, g.sw};
    c["padding"] = g.same ? "same" : "valid";
    c["data_format"] = "channels_last";
  } else if (cls == "GlobalAveragePooling2D") {
    c["data_format"] = "channels_last";
    c["keepdims"] = false;
  } else if (cls == "Flatten") {
    c["data_format"] = "channels_last";
  } else if (auto* dr = dynamic_cast<const Dropout*>(&l)) {
    c["rate"] = dr->rate();
  } else if (cls == "Activation") {
    c["activation"] = activation_name(l.output_activation());
  } else if (auto* b = dynamic_cast<const BatchNormalization*>(&l)) {
    c["axis"] = -1;
    c["momentum"] = b->config().momentum;
    c["epsilon"] = b->config().epsilon;
    c["center"] = true;
    c["scale"] = true;
  } else {
    DPT_FAIL("layer '" << l.name() << "' (" << cls << ") has no Keras config writer");
  }
  return {{"class_name", cls}, {"config", c}};
}

json optimizer_config(const Optimizer& o) {
  json c = json::object();
  for (auto& [k, v] : o.config()) {
    if (k == "nesterov" || k == "centered" || k == "amsgrad")
      c[k] = v != 0.0;
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

int64_t read_int_attr(hid_t obj, const char* name, const std::string& path) {
  DPT_CHECK(H5Aexists(obj, name) > 0, "'" << path << "': dptrain state has no '" << name << "' (damaged checkpoint?)");
  h5::Id a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  int64_t v = 0;
  DPT_CHECK(H5Aread(a.get(), H5T_NATIVE_INT64, &v) >= 0, "'" << path << "': reading '" << name << "' failed");
  return v;
}

// tf.keras order: iterations, then every trainable weight's first slot, then every one's second, ...
std::vector<std::pair<std::string, std::pair<const float*, Shape>>> optimizer_arrays(const Sequential& model,
                                                                                    Optimizer& opt, float* iter) {
  std::vector<std::pair<std::string, std::pair<const float*, Shape>>> out;
  const std::string cls = opt.class_name();
  out.push_back({cls + "/iter:0", {iter, Shape{}}});
  auto slots = opt.slots();
  for (size_t s = 0; s < slots.size(); ++s)
    for (auto& w : model.weights()) {
      if (!w.spec.trainable) continue;
      const std::string name = cls + "/" + w.layer->name() + "/" + w.spec.name + "/" + opt.tf_slot_name(s) + ":0";
      out.push_back({name, {slots[s].second->data() + w.offset, w.spec.shape}});
    }
  return out;
}

}  // namespace

std::string model_to_keras_json(const Sequential& model) {
  json layers = json::array();
  Shape batch = model.input_shape();
  json shape = json::array({nullptr});
  for (int64_t d : batch) shape.push_back(d);
  layers.push_back({{"class_name", "InputLayer"},
                    {"config", {{"batch_shape", shape}, {"dtype", "float32"}, {"sparse", false}, {"name", "input_layer"}}}});
  for (auto& l : model.layers()) layers.push_back(layer_config(*l));
  json j = {{"class_name", "Sequential"},
            {"config", {{"name", model.name()}, {"trainable", true}, {"dtype", "float32"}, {"layers", layers}}}};
  return j.dump();
}

void save_model(const Sequential& model, const std::string& path, LossKind loss, const Optimizer* optimizer,
                const TrainingState* state) {
  write_h5_atomically(path, "the model", [&](hid_t f) {
    write_vlen_attr(f, "keras_version", "2.15.0");
    write_vlen_attr(f, "backend", "tensorflow");
    write_vlen_attr(f, "model_config", model_to_keras_json(model));
    json training = {{"loss", loss_name(loss)}, {"metrics", json::array({"accuracy"})}, {"weighted_metrics", nullptr},
                     {"loss_weights", nullptr}};
    if (optimizer) training["optimizer_config"] = optimizer_config(*optimizer);
    write_vlen_attr(f, "training_config", training.dump());
    {
      h5::Id mw(H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      DPT_CHECK(mw.valid(), "writing model_weights to '" << path << "' failed");
      write_weights_group(mw.get(), model, path);
    }
    if (optimizer) {
      h5::Id ow(H5Gcreate2(f, "optimizer_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      float iter = float(optimizer->iterations());
      auto arrays = optimizer_arrays(model, const_cast<Optimizer&>(*optimizer), &iter);
      std::vector<std::string> names;
      for (auto& [name, arr] : arrays) {
        names.push_back(name);
        if (arr.first == &iter) {  // tf.keras keeps the step count as int64
          h5::Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
          H5Pset_create_intermediate_group(lcpl.get(), 1);
          h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
          h5::Id ds(H5Dcreate2(ow.get(), name.c_str(), H5T_STD_I64LE, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                    H5Dclose);
          const int64_t it = optimizer->iterations();
          DPT_CHECK(ds.valid() && H5Dwrite(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &it) >= 0,
                    "writing '" << name << "' to '" << path << "' failed");
          continue;
        }
        write_dataset(ow.get(), name, arr.second, arr.first, path);
      }
      write_string_list(ow.get(), "weight_names", names);
    }
    if (state) {
      h5::Id d(H5Gcreate2(f, "dptrain", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      write_int_attr(d.get(), "format_version", 1);
      write_int_attr(d.get(), "epoch", state->epoch);
      write_int_attr(d.get(), "step", state->step);
      write_int_attr(d.get(), "seed", int64_t(state->seed));
      write_int_attr(d.get(), "batch_size", state->batch_size);
      write_int_attr(d.get(), "iterations", optimizer ? optimizer->iterations() : 0);
      if (optimizer) write_vlen_attr(d.get(), "optimizer", optimizer->describe());
    }
  });
}

bool read_training_state(const std::string& path, TrainingState* state) {
  h5::quiet_errors();
  DPT_CHECK(H5Fis_hdf5(path.c_str()) > 0, "'" << path << "' is not an HDF5 file (or is truncated)");
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  DPT_CHECK(f.valid(), "cannot open '" << path << "'");
  if (H5Lexists(f.get(), "dptrain", H5P_DEFAULT) <= 0) return false;
  h5::Id d(H5Gopen2(f.get(), "dptrain", H5P_DEFAULT), H5Gclose);
  state->epoch = read_int_attr(d.get(), "epoch", path);
  state->step = read_int_attr(d.get(), "step", path);
  state->seed = uint64_t(read_int_attr(d.get(), "seed", path));
  state->batch_size = read_int_attr(d.get(), "batch_size", path);
  return true;
}

void load_optimizer_state(const std::string& path, const Sequential& model, Optimizer& opt) {
  h5::quiet_errors();
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  DPT_CHECK(f.valid(), "cannot open '" << path << "'");
  DPT_CHECK(H5Lexists(f.get(), "optimizer_weights", H5P_DEFAULT) > 0, "'" << path << "' has no optimizer_weights");
  h5::Id ow(H5Gopen2(f.get(), "optimizer_weights", H5P_DEFAULT), H5Gclose);
  float iter = 0;
  int64_t iterations = 0;
  auto arrays = optimizer_arrays(model, opt, &iter);
  for (auto& [name, arr] : arrays) {
    if (arr.first == &iter) {
      h5::Id ds(H5Dopen2(ow.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
      DPT_CHECK(ds.valid() && H5Dread(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &iterations) >= 0,
                "'" << path << "' has no readable '" << name << "': it was saved with another optimizer ("
                    << opt.class_name() << " expected)");
      continue;
    }
    DPT_CHECK(H5Lexists(ow.get(), name.c_str(), H5P_DEFAULT) > 0 || name.find('/') == std::string::npos,
              "'" << path << "' has no optimizer weight '" << name << "': it was saved with another optimizer ("
                  << opt.class_name() << " expected) or model");
    h5::Id ds(H5Dopen2(ow.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    DPT_CHECK(ds.valid(), "'" << path << "': cannot open optimizer weight '" << name << "'");
    DPT_CHECK(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, const_cast<float*>(arr.first)) >= 0,
              "'" << path << "': reading optimizer weight '" << name << "' failed");
  }
  opt.set_iterations(iterations);
}

}  // namespace dpt
