// Walks a weights/model file read-only: legacy layouts through layer_names/weight_names, Keras 3
// through layers/<key>/vars.
#include "core/io/inspect.h"
#include <nlohmann/json.hpp>
#include <sstream>
#include "core/io/hdf5_util.h"
#include "core/io/keras_archive.h"
#include "core/io/keras_config.h"

namespace dpt {

namespace {

std::string dtype_of(hid_t ds) {
  h5::Id t(H5Dget_type(ds), H5Tclose);
  const size_t size = H5Tget_size(t.get());
  switch (H5Tget_class(t.get())) {
    case H5T_FLOAT: return "float" + std::to_string(8 * size);
    case H5T_INTEGER: return (H5Tget_sign(t.get()) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(8 * size);
    default: return "other";
  }
}

FileWeight weight_at(hid_t group, const std::string& name) {
  h5::Id ds(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  DPT_CHECK(ds.valid(), "dataset '" << name << "' is listed but missing (corrupt file?)");
  auto dims = h5::dataset_dims(ds.get());
  return {name, Shape(dims.begin(), dims.end()), dtype_of(ds.get())};
}

std::string string_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return "";
  h5::Id a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  h5::Id t(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(t.get()) != H5T_STRING) return "";
  if (H5Tis_variable_str(t.get()) > 0) {
    char* p = nullptr;
    h5::Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(t.get()));  // ASCII or UTF-8, as the file has it
    if (H5Aread(a.get(), mem.get(), &p) < 0 || !p) return "";
    std::string s(p);
    H5free_memory(p);
    return s;
  }
  std::string s(H5Tget_size(t.get()), '\0');
  H5Aread(a.get(), t.get(), s.data());
  return s.substr(0, s.find('\0'));
}

std::vector<std::string> children(hid_t group) {
  H5G_info_t info{};
  H5Gget_info(group, &info);
  std::vector<std::string> out;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[1024] = {};
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
    out.emplace_back(name);
  }
  return out;
}

std::vector<std::string> names_attr(hid_t obj, const char* name) {
  std::vector<std::string> out;
  if (H5Aexists(obj, name) <= 0) return out;
  h5::Id a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  h5::Id t(H5Aget_type(a.get()), H5Tclose);
  h5::Id sp(H5Aget_space(a.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(sp.get());
  if (H5Tget_class(t.get()) != H5T_STRING || n <= 0) return out;
  if (H5Tis_variable_str(t.get()) > 0) {
    std::vector<char*> p(size_t(n), nullptr);
    h5::Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(t.get()));  // ASCII or UTF-8, as the file has it
    H5Aread(a.get(), mem.get(), p.data());
    for (char* c : p) out.emplace_back(c ? c : "");
    H5Dvlen_reclaim(mem.get(), sp.get(), H5P_DEFAULT, p.data());
  } else {
    const size_t len = H5Tget_size(t.get());
    std::vector<char> buf(len * size_t(n));
    H5Aread(a.get(), t.get(), buf.data());
    for (hssize_t i = 0; i < n; ++i) out.emplace_back(buf.data() + i * len, strnlen(buf.data() + i * len, len));
  }
  return out;
}

int64_t count_datasets(hid_t group) {
  int64_t n = 0;
  for (auto& c : children(group)) {
    H5O_info_t oi{};
    if (H5Oget_info_by_name(group, c.c_str(), &oi, H5P_DEFAULT) < 0) continue;
    if (oi.type == H5O_TYPE_DATASET) {
      ++n;
    } else if (oi.type == H5O_TYPE_GROUP) {
      h5::Id g(H5Gopen2(group, c.c_str(), H5P_DEFAULT), H5Gclose);
      n += count_datasets(g.get());
    }
  }
  return n;
}

void read_legacy(hid_t root, FileInfo& info) {
  std::vector<std::string> names = names_attr(root, "layer_names");
  for (int k = 0; names.empty() && H5Aexists(root, ("layer_names" + std::to_string(k)).c_str()) > 0; ++k) {
    auto part = names_attr(root, ("layer_names" + std::to_string(k)).c_str());
    names.insert(names.end(), part.begin(), part.end());
  }
  for (auto& name : names) {
    FileLayer fl{name, {}};
    h5::Id g(H5Gopen2(root, name.c_str(), H5P_DEFAULT), H5Gclose);
    if (g.valid())
      for (auto& w : names_attr(g.get(), "weight_names")) fl.weights.push_back(weight_at(g.get(), w));
    info.layers.push_back(fl);
  }
}

// The loss and optimizer training_config compiles to; errors are reported, not thrown (inspect
// describes damaged files too).
void read_compile(const std::string& path, FileInfo& info) {
  try {
    KerasCompileConfig c;
    if (!read_compile_config(path, &c)) return;
    info.loss = !c.loss.empty()
                    ? loss_describe(loss_from_name(c.loss, c.from_logits), c.label_smoothing, c.delta, c.focal)
                : c.file_loss.empty() ? ""
                                      : c.file_loss + " (not in dptrain)";
    if (!c.optimizer.name.empty())
      info.optimizer = make_optimizer(c.optimizer)->describe();
    else if (!c.file_optimizer.empty())
      info.optimizer = c.file_optimizer + " (not in dptrain)";
    for (const MetricRequest& m : c.metrics) (m.weighted ? info.weighted_metrics : info.metrics).push_back(m.name);
    info.ignored = c.ignored;
  } catch (const Error& e) {
    info.compile_error = e.what();
  }
}

void read_optimizer_state(const std::string& path, FileInfo& info) {
  try {
    info.optimizer_state = read_optimizer_state_info(path);
    info.has_optimizer_state = true;
  } catch (const Error& e) {
    info.optimizer_state_error = e.what();
  }
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

int64_t FileLayer::params() const {
  int64_t n = 0;
  for (auto& w : weights) n += shape_numel(w.shape);
  return n;
}

int64_t FileInfo::params() const {
  int64_t n = 0;
  for (auto& l : layers) n += l.params();
  return n;
}

FileInfo inspect_file(const std::string& path) {
  FileInfo info;
  info.format = weights_format(path);  // also checks the file exists and is HDF5 (or a .keras archive)
  const bool archive = info.format == WeightsFormat::keras3_archive;
  h5::Id f;
  if (archive) {  // config.json and metadata.json, then model.weights.h5 (Keras 3's weights layout)
    const auto a = read_keras_archive(path);
    const auto meta = nlohmann::json::parse(a->metadata, nullptr, false);
    if (meta.is_object() && meta.contains("keras_version") && meta["keras_version"].is_string())
      info.keras_version = meta["keras_version"].get<std::string>();
    const auto cfg = nlohmann::json::parse(a->config, nullptr, false);
    if (cfg.is_object() && cfg.contains("class_name") && cfg["class_name"].is_string())
      info.model_class = cfg["class_name"].get<std::string>();
    info.training_config = cfg.is_object() && cfg.contains("compile_config") && cfg["compile_config"].is_object();
    f = open_h5_image(a->weights, path + "/model.weights.h5");
  } else {
    f = h5::Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  }
  hid_t root = f.get();
  if (!archive) {
    info.keras_version = string_attr(root, "keras_version");
    info.backend = string_attr(root, "backend");
  }
  switch (info.format) {
    case WeightsFormat::legacy_weights: read_legacy(root, info); break;
    case WeightsFormat::legacy_model: {
      const std::string cfg = string_attr(root, "model_config");
      if (!cfg.empty()) {
        auto j = nlohmann::json::parse(cfg, nullptr, false);
        if (j.is_object() && j.contains("class_name")) info.model_class = j["class_name"].get<std::string>();
      }
      info.training_config = H5Aexists(root, "training_config") > 0;
      h5::Id mw(H5Gopen2(root, "model_weights", H5P_DEFAULT), H5Gclose);
      if (info.keras_version.empty()) info.keras_version = string_attr(mw.get(), "keras_version");
      if (info.backend.empty()) info.backend = string_attr(mw.get(), "backend");
      read_legacy(mw.get(), info);
      if (H5Lexists(root, "optimizer_weights", H5P_DEFAULT) > 0) {
        h5::Id ow(H5Gopen2(root, "optimizer_weights", H5P_DEFAULT), H5Gclose);
        info.optimizer_weights = count_datasets(ow.get());
      }
      f.reset();
      if (info.training_config) read_compile(path, info);
      if (info.optimizer_weights > 0) read_optimizer_state(path, info);
      info.has_state = read_training_state(path, &info.state);
      break;
    }
    case WeightsFormat::keras3_weights:
    case WeightsFormat::keras3_archive: {
      h5::Id layers(H5Gopen2(root, "layers", H5P_DEFAULT), H5Gclose);
      for (auto& key : children(layers.get())) {
        FileLayer fl{key, {}};
        const std::string vars = key + "/vars";
        if (H5Lexists(layers.get(), vars.c_str(), H5P_DEFAULT) > 0) {
          h5::Id v(H5Gopen2(layers.get(), vars.c_str(), H5P_DEFAULT), H5Gclose);
          const auto n = children(v.get()).size();
          for (size_t i = 0; i < n; ++i) fl.weights.push_back(weight_at(v.get(), std::to_string(i)));
        }
        info.layers.push_back(fl);
      }
      if (H5Lexists(root, "optimizer", H5P_DEFAULT) > 0) {
        h5::Id o(H5Gopen2(root, "optimizer", H5P_DEFAULT), H5Gclose);
        info.optimizer_weights = count_datasets(o.get());
      }
      f.reset();
      if (archive && info.training_config) read_compile(path, info);
      if (info.optimizer_weights > 0) read_optimizer_state(path, info);
      break;
    }
    default: break;
  }
  return info;
}

std::string inspect_text(const FileInfo& info, const std::string& path) {
  std::ostringstream os;
  os << path << ": " << (info.has_state ? "dptrain checkpoint (" + format_name(info.format) + " + resume state)"
                                         : format_name(info.format))
     << "\n";
  if (!info.keras_version.empty()) os << "keras_version: " << info.keras_version << "\n";
  if (!info.backend.empty()) os << "backend: " << info.backend << "\n";
  // A .keras archive keeps it in config.json as compile_config; model.save .h5 files as training_config.
  const std::string tc = info.format == WeightsFormat::keras3_archive ? "compile_config" : "training_config";
  if (!info.model_class.empty())
    os << "model: " << info.model_class << (info.training_config ? " (with " + tc + ")" : "") << "\n";
  if (info.format == WeightsFormat::keras3_weights || info.format == WeightsFormat::keras3_archive)
    os << "(Keras 3 files store layers by class-derived keys, listed here in name order)\n";
  for (auto& l : info.layers) {
    os << "  " << l.name << ": " << l.params() << " params\n";
    for (auto& w : l.weights) os << "    " << w.name << "  " << shape_str(w.shape) << "  " << w.dtype << "\n";
  }
  os << "total params: " << info.params() << "\n";
  if (!info.compile_error.empty()) {
    os << tc << ": cannot be compiled: " << info.compile_error << "\n";
  } else if (info.training_config) {
    os << tc << ": loss " << (info.loss.empty() ? "none" : info.loss) << " | optimizer "
       << (info.optimizer.empty() ? "none" : info.optimizer) << " | metrics " << metric_list(info.metrics)
       << (info.weighted_metrics.empty() ? "" : " | weighted metrics " + metric_list(info.weighted_metrics)) << "\n";
    for (auto& i : info.ignored) os << "  not applied by dptrain: " << i << "\n";
  }
  os << "optimizer state: " << (info.optimizer_weights ? std::to_string(info.optimizer_weights) + " arrays" : "none");
  if (info.has_optimizer_state) {
    const auto& o = info.optimizer_state;
    os << " (" << o.layout << " layout" << (o.name.empty() ? "" : ", " + o.name) << "): iteration " << o.iterations;
    if (o.learning_rate > 0) os << ", learning rate " << num(o.learning_rate);
    os << ", " << o.arrays << " slot arrays";
  } else if (!info.optimizer_state_error.empty()) {
    os << " (unreadable: " << info.optimizer_state_error << ")";
  }
  os << "\n";
  if (info.has_state) {
    os << "resume state: " << info.state.epoch << " epochs done, " << info.state.step << " steps into the next, seed "
       << info.state.seed << ", batch size " << info.state.batch_size;
    if (info.state.learning_rate > 0) os << ", learning rate " << num(info.state.learning_rate);
    os << "\n";
    for (const auto& [key, cs] : info.state.callbacks) {
      os << "  " << key << ":";
      const char* sep = " ";
      for (const auto& [name, v] : cs.numbers) {
        os << sep << name << " " << num(v);
        sep = ", ";
      }
      if (!cs.weights.empty()) os << sep << "best weights (" << cs.weights.size() << " values)";
      os << "\n";
    }
  }
  return os.str();
}

std::string inspect_json(const FileInfo& info, const std::string& path) {
  nlohmann::ordered_json j;
  j["file"] = path;
  j["format"] = info.has_state ? "dptrain checkpoint" : format_name(info.format);
  j["keras_version"] = info.keras_version;
  j["backend"] = info.backend;
  if (!info.model_class.empty()) j["model_class"] = info.model_class;
  j["training_config"] = info.training_config;
  j["layers"] = nlohmann::ordered_json::array();
  for (auto& l : info.layers) {
    nlohmann::ordered_json jl{{"name", l.name}, {"params", l.params()}, {"weights", nlohmann::ordered_json::array()}};
    for (auto& w : l.weights)
      jl["weights"].push_back({{"name", w.name}, {"shape", std::vector<int64_t>(w.shape.begin(), w.shape.end())},
                               {"dtype", w.dtype}});
    j["layers"].push_back(jl);
  }
  j["params"] = info.params();
  if (info.training_config) {
    if (!info.compile_error.empty()) {
      j["compile_error"] = info.compile_error;
    } else {
      j["loss"] = info.loss;
      j["optimizer"] = info.optimizer;
      j["metrics"] = info.metrics;
      j["weighted_metrics"] = info.weighted_metrics;
      j["not_applied"] = info.ignored;
    }
  }
  j["optimizer_weights"] = info.optimizer_weights;
  if (info.has_optimizer_state) {
    const auto& o = info.optimizer_state;
    nlohmann::ordered_json jo{
        {"layout", o.layout}, {"name", o.name}, {"iterations", o.iterations}, {"slot_arrays", o.arrays}};
    if (o.learning_rate > 0) jo["learning_rate"] = o.learning_rate;
    j["optimizer_state"] = jo;
  } else if (!info.optimizer_state_error.empty()) {
    j["optimizer_state_error"] = info.optimizer_state_error;
  }
  if (info.has_state) {
    nlohmann::ordered_json r{{"epoch", info.state.epoch},
                             {"step", info.state.step},
                             {"seed", info.state.seed},
                             {"batch_size", info.state.batch_size}};
    if (info.state.learning_rate > 0) r["learning_rate"] = info.state.learning_rate;
    nlohmann::ordered_json cbs = nlohmann::ordered_json::object();
    for (const auto& [key, cs] : info.state.callbacks) {
      nlohmann::ordered_json c = nlohmann::ordered_json::object();
      for (const auto& [name, v] : cs.numbers) c[name] = v;
      if (!cs.weights.empty()) c["best_weights"] = cs.weights.size();
      cbs[key] = c;
    }
    r["callbacks"] = cbs;
    j["resume_state"] = r;
  }
  return j.dump(2);
}

}  // namespace dpt
