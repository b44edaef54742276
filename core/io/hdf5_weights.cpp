// Keras legacy HDF5 weights: writing (fixed-length name arrays) and reading (fixed or variable
// length strings, empty float64 weight_names for weightless layers).
#include "core/io/hdf5_weights.h"
#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include "core/io/hdf5_util.h"
#include "core/io/keras_archive.h"

namespace fs = std::filesystem;

namespace dpt {

namespace {

constexpr const char* kKerasVersion = "2.15.0";  // the layout version readers check (>= 2: no Keras 1 conversion)

void write_fixed_string_array(hid_t obj, const char* name, const std::vector<std::string>& values, const std::string& file) {
  if (values.empty()) {  // what h5py writes for np.array([]): float64 of shape (0,)
    hsize_t zero = 0;
    h5::Id space(H5Screate_simple(1, &zero, nullptr), H5Sclose);
    h5::Id a(H5Acreate2(obj, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    DPT_CHECK(a.valid(), "writing attribute '" << name << "' to '" << file << "' failed");
    return;
  }
  size_t len = 1;
  for (auto& v : values) len = std::max(len, v.size());
  std::vector<char> buf(len * values.size(), '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * len, values[i].data(), values[i].size());
  h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), len);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  hsize_t n = values.size();
  h5::Id space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  h5::Id a(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  DPT_CHECK(a.valid() && H5Awrite(a.get(), type.get(), buf.data()) >= 0,
            "writing attribute '" << name << "' to '" << file << "' failed");
}

void write_vlen_string_attr(hid_t obj, const char* name, const std::string& value, const std::string& file) {
  h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Id a(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const char* p = value.c_str();
  DPT_CHECK(a.valid() && H5Awrite(a.get(), type.get(), &p) >= 0, "writing attribute '" << name << "' to '" << file << "' failed");
}

// Reads a string-array attribute in any encoding real files use; an empty numeric array gives {}.
std::vector<std::string> read_string_array(hid_t obj, const char* name, const std::string& file) {
  DPT_CHECK(H5Aexists(obj, name) > 0, "'" << file << "' has no '" << name << "' attribute: not a Keras weights file");
  h5::Id a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  h5::Id type(H5Aget_type(a.get()), H5Tclose);
  h5::Id space(H5Aget_space(a.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<std::string> out;
  if (H5Tget_class(type.get()) != H5T_STRING) {
    DPT_CHECK(n == 0, "attribute '" << name << "' in '" << file << "' is not a list of names");
    return out;
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    std::vector<char*> ptrs(size_t(n), nullptr);
    h5::Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));  // ASCII or UTF-8, as the file has it
    DPT_CHECK(H5Aread(a.get(), mem.get(), ptrs.data()) >= 0, "reading '" << name << "' from '" << file << "' failed");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = H5Tget_size(type.get());
    std::vector<char> buf(len * size_t(n));
    DPT_CHECK(H5Aread(a.get(), type.get(), buf.data()) >= 0, "reading '" << name << "' from '" << file << "' failed");
    for (hssize_t i = 0; i < n; ++i) out.emplace_back(strnlen(buf.data() + i * len, len) ? std::string(buf.data() + i * len, strnlen(buf.data() + i * len, len)) : "");
  }
  return out;
}

// Keras splits very long attributes into name0, name1, ...: read either form.
std::vector<std::string> read_names(hid_t obj, const std::string& name, const std::string& file) {
  if (H5Aexists(obj, name.c_str()) > 0) return read_string_array(obj, name.c_str(), file);
  std::vector<std::string> all;
  for (int k = 0; H5Aexists(obj, (name + std::to_string(k)).c_str()) > 0; ++k) {
    auto part = read_string_array(obj, (name + std::to_string(k)).c_str(), file);
    all.insert(all.end(), part.begin(), part.end());
  }
  DPT_CHECK(!all.empty() || H5Aexists(obj, (name + "0").c_str()) > 0,
            "'" << file << "' has no '" << name << "' attribute: not a Keras legacy weights file");
  return all;
}

}  // namespace

void write_h5_atomically(const std::string& path, const char* what, const std::function<void(hid_t)>& write) {
  h5::quiet_errors();
  const fs::path target = fs::absolute(path);
  const fs::path dir = target.parent_path();
  DPT_CHECK(fs::is_directory(dir), "cannot save " << what << " to '" << path << "': folder '" << dir.string() << "' does not exist");
  const std::string tmp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(getpid()))).string();
  try {
    h5::Id fcpl = h5::untimed_file_create();
    h5::Id f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
    DPT_CHECK(f.valid(), "cannot save " << what << " to '" << path << "': folder '" << dir.string() << "' is not writable");
    write(f.get());
    DPT_CHECK(H5Fflush(f.get(), H5F_SCOPE_GLOBAL) >= 0, "flushing '" << tmp << "' failed (disk full?)");
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);  // never leave a torn file behind; the previous file is untouched
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    DPT_FAIL("cannot save " << what << " to '" << path << "': " << ec.message());
  }
}

void write_vlen_attr(hid_t obj, const char* name, const std::string& value) {
  write_vlen_string_attr(obj, name, value, "");
}

void write_weights_group(hid_t root, const Sequential& model, const std::string& path) {
  std::vector<std::string> names;
  for (auto& l : model.layers()) names.push_back(l->name());
  write_fixed_string_array(root, "layer_names", names, path);
  write_vlen_string_attr(root, "backend", "tensorflow", path);
  write_vlen_string_attr(root, "keras_version", kKerasVersion, path);
  for (auto& l : model.layers()) {
    h5::Id g = h5::create_group(root, l->name(), path);
    std::vector<std::string> wnames;
    for (auto& w : model.weights()) {
      if (w.layer != l.get()) continue;
      wnames.push_back(w.keras_name());
      write_dataset(g.get(), w.keras_name(), w.spec.shape, w.data, path, w.spec.integer);
    }
    write_fixed_string_array(g.get(), "weight_names", wnames, path);
  }
}

void write_dataset(hid_t group, const std::string& name, const Shape& shape, const float* data, const std::string& path,
                   bool integer) {
  h5::create_parents(group, name, path);
  h5::Id dcpl = h5::untimed_dataset_create();
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  h5::Id space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  h5::Id ds(H5Dcreate2(group, name.c_str(), integer ? H5T_STD_I32LE : H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                       dcpl.get(), H5P_DEFAULT),
            H5Dclose);
  // HDF5 converts the floats (whole numbers here) to the file's int32.
  DPT_CHECK(ds.valid() && H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
            "writing '" << name << "' to '" << path << "' failed (disk full?)");
}

void write_string_list(hid_t obj, const char* name, const std::vector<std::string>& values) {
  write_fixed_string_array(obj, name, values, "");
}

std::vector<std::string> read_string_list(hid_t obj, const std::string& name, const std::string& path) {
  return read_names(obj, name, path);
}

static bool has_link(hid_t loc, const std::string& name) { return H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0; }

// Whether every link of a/b/c exists (H5Lexists wants each parent there first).
static bool has_path(hid_t loc, const std::string& path) {
  for (size_t end = path.find('/');; end = path.find('/', end + 1)) {
    if (!has_link(loc, path.substr(0, end))) return false;
    if (end == std::string::npos) return true;
  }
}

// "forward_layer/cell" -> {"forward_layer", "cell"}; "" -> {}.
static std::vector<std::string> split_scope(const std::string& scope) {
  std::vector<std::string> parts;
  for (size_t at = 0; at < scope.size();) {
    size_t end = scope.find('/', at);
    if (end == std::string::npos) end = scope.size();
    parts.push_back(scope.substr(at, end - at));
    at = end + 1;
  }
  return parts;
}

// The Keras 3 group holding a weight: layers/<key>/vars, or inside its sublayers.
static std::string keras3_group(const std::string& key, const ParamSpec& spec) {
  return "layers/" + key + (spec.keras3_group.empty() ? "" : "/" + spec.keras3_group) + "/vars";
}

// Keras 3's keys: each layer class's snake-case name, counted per class in model order (conv2d,
// conv2d_1, ...), whatever the layers are named.
static std::vector<std::string> keras3_keys(const Sequential& model) {
  std::map<std::string, int> counts;
  std::vector<std::string> keys;
  for (auto& l : model.layers()) {
    int& k = counts[l->default_name()];
    keys.push_back(k == 0 ? l->default_name() : l->default_name() + "_" + std::to_string(k));
    ++k;
  }
  return keys;
}

void write_keras3_weights(hid_t root, const Sequential& model, const std::string& path) {
  const std::vector<std::string> keys = keras3_keys(model);
  h5::create_group(root, "layers", path);
  if (!model.is_chain())  // a Functional model's InputLayers, as Keras's: input_layer, input_layer_1, ...
    for (size_t k = 0; k < model.num_inputs(); ++k)
      h5::create_group(root, "layers/input_layer" + (k ? "_" + std::to_string(k) : std::string()) + "/vars", path);
  for (size_t i = 0; i < keys.size(); ++i) {
    // Every object on the way to a weight has its vars group, as Keras 3 writes them: an LSTM's own
    // (empty) and its cell's; a Bidirectional's, its forward_layer's and that one's cell's.
    const std::string base = "layers/" + keys[i];
    h5::create_group(root, base + "/vars", path);
    std::map<std::string, int> counts;  // weights written per group
    for (auto& w : model.weights()) {
      if (w.layer != model.layers()[i].get()) continue;
      std::string at = base;
      for (const std::string& part : split_scope(w.spec.keras3_group)) {
        at += "/" + part;
        if (!has_path(root, at + "/vars")) h5::create_group(root, at + "/vars", path);
      }
      h5::Id vars(H5Gopen2(root, (at + "/vars").c_str(), H5P_DEFAULT), H5Gclose);
      write_dataset(vars.get(), std::to_string(counts[at]++), w.spec.shape, w.data, path, w.spec.integer);
    }
  }
  h5::create_group(root, "vars", path);
}

bool keras3_weights_path(const std::string& path) {
  return path.size() >= 11 && path.compare(path.size() - 11, 11, ".weights.h5") == 0;
}

void save_weights(const Sequential& model, const std::string& path) {
  write_h5_atomically(path, "weights", [&](hid_t f) {
    if (keras3_weights_path(path))
      write_keras3_weights(f, model, path);
    else
      write_weights_group(f, model, path);
  });
}

namespace {

h5::Id open_readable(const std::string& path) {
  h5::quiet_errors();
  DPT_CHECK(fs::exists(path), "cannot load weights: '" << path << "' does not exist");
  if (is_keras_archive(path)) return open_h5_image(read_keras_archive(path)->weights, path + "/model.weights.h5");
  DPT_CHECK(H5Fis_hdf5(path.c_str()) > 0, "cannot load weights: '" << path << "' is not an HDF5 file (or is truncated)");
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  DPT_CHECK(f.valid(), "cannot open '" << path << "' (corrupt or truncated?)");
  return f;
}

WeightsFormat detect(hid_t root) {
  if (H5Aexists(root, "layer_names") > 0 || H5Aexists(root, "layer_names0") > 0) return WeightsFormat::legacy_weights;
  if (has_link(root, "model_weights")) return WeightsFormat::legacy_model;
  if (has_link(root, "layers") && has_link(root, "vars")) return WeightsFormat::keras3_weights;
  return WeightsFormat::unknown;
}

// Reads dataset `name` under `group` into ref, checking its shape.
void read_weight(hid_t group, const std::string& name, const WeightRef& ref, const std::string& path,
                 const std::string& where) {
  h5::Id ds(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  DPT_CHECK(ds.valid(), "'" << path << "': weight '" << name << "' of " << where << " is missing");
  auto dims = h5::dataset_dims(ds.get());
  Shape shape(dims.begin(), dims.end());
  DPT_CHECK(shape == ref.spec.shape, "cannot load '" << path << "': " << where << " weight '" << name << "' has shape "
                                                     << shape_str(shape) << " but layer '" << ref.layer->name()
                                                     << "' expects " << shape_str(ref.spec.shape) << " for "
                                                     << ref.spec.name);
  DPT_CHECK(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ref.data) >= 0,
            "reading '" << name << "' from '" << path << "' failed: the file is corrupt or truncated");
}

std::vector<const WeightRef*> refs_of(const Sequential& model, const Layer* layer) {
  std::vector<const WeightRef*> r;
  for (auto& w : model.weights())
    if (w.layer == layer) r.push_back(&w);
  return r;
}

void load_layer_group(const Sequential& model, Layer* layer, hid_t root, const std::string& fname,
                      const std::vector<std::string>& wnames, const std::string& path) {
  auto refs = refs_of(model, layer);
  DPT_CHECK(refs.size() == wnames.size(), "cannot load '" << path << "': layer '" << fname << "' has " << wnames.size()
                                                          << " weights in the file but layer '" << layer->name() << "' ("
                                                          << layer->class_name() << ") has " << refs.size());
  h5::Id g(H5Gopen2(root, fname.c_str(), H5P_DEFAULT), H5Gclose);
  for (size_t k = 0; k < refs.size(); ++k) read_weight(g.get(), wnames[k], *refs[k], path, "layer '" + fname + "'");
}

void load_legacy(Sequential& model, hid_t root, const std::string& path, bool by_name) {
  // File layers with weights, in order, each with its weight names.
  std::vector<std::pair<std::string, std::vector<std::string>>> file_layers;
  for (auto& name : read_names(root, "layer_names", path)) {
    h5::Id g(H5Gopen2(root, name.c_str(), H5P_DEFAULT), H5Gclose);
    DPT_CHECK(g.valid(), "'" << path << "' lists layer '" << name << "' but has no group for it (corrupt file?)");
    auto wn = read_names(g.get(), "weight_names", path);
    if (!wn.empty()) file_layers.push_back({name, wn});
  }
  std::vector<Layer*> ours;
  for (auto& l : model.layers())
    if (!l->params().empty()) ours.push_back(l.get());
  if (by_name) {
    for (Layer* l : ours)
      for (auto& [fname, wnames] : file_layers)
        if (fname == l->name()) load_layer_group(model, l, root, fname, wnames, path);
    return;
  }
  DPT_CHECK(ours.size() == file_layers.size(), "cannot load '" << path << "': it holds weights for " << file_layers.size()
                                                               << " layers but the model has " << ours.size()
                                                               << " layers with weights");
  for (size_t i = 0; i < ours.size(); ++i)
    load_layer_group(model, ours[i], root, file_layers[i].first, file_layers[i].second, path);
}

// Whether the group at `name` holds a dataset anywhere below it.
herr_t find_dataset(hid_t, const char*, const H5O_info_t* info, void* found) {
  if (info->type == H5O_TYPE_DATASET) *static_cast<bool*>(found) = true;
  return *static_cast<bool*>(found) ? 1 : 0;
}
bool holds_weights(hid_t loc, const std::string& name) {
  h5::Id g(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose);
  bool found = false;
  return g.valid() && H5Ovisit2(g.get(), H5_INDEX_NAME, H5_ITER_INC, find_dataset, &found, H5O_INFO_BASIC) >= 0 &&
         found;
}

// Keras 3: layers/<key>/vars/<0..n-1> (or a sublayer's vars below it: an LSTM's cell/vars), key =
// class snake name + per-class counter in model order.
void load_keras3(Sequential& model, hid_t root, const std::string& path) {
  const std::vector<std::string> keys = keras3_keys(model);
  int with_weights = 0;
  for (size_t li = 0; li < keys.size(); ++li) {
    const auto& l = model.layers()[li];
    auto refs = refs_of(model, l.get());
    if (refs.empty()) continue;
    ++with_weights;
    std::map<std::string, std::vector<const WeightRef*>> groups;  // each vars group's weights, in order
    for (const WeightRef* r : refs) groups[keras3_group(keys[li], r->spec)].push_back(r);
    for (auto& [vars, in_group] : groups) {
      DPT_CHECK(has_path(root, vars), "cannot load '" << path << "': it has no weights for layer '" << l->name()
                                                      << "' (" << l->class_name() << ", expected group " << vars
                                                      << ")");
      h5::Id g(H5Gopen2(root, vars.c_str(), H5P_DEFAULT), H5Gclose);
      H5G_info_t info{};
      H5Gget_info(g.get(), &info);
      DPT_CHECK(info.nlinks == in_group.size(),
                "cannot load '" << path << "': " << vars << " holds " << info.nlinks << " weights but layer '"
                                << l->name() << "' (" << l->class_name() << ") has " << in_group.size() << " there");
      for (size_t i = 0; i < in_group.size(); ++i) read_weight(g.get(), std::to_string(i), *in_group[i], path, vars);
    }
  }
  // Every layer of the file with weights must have been used.
  h5::Id layers(H5Gopen2(root, "layers", H5P_DEFAULT), H5Gclose);
  H5G_info_t info{};
  H5Gget_info(layers.get(), &info);
  int file_with_weights = 0;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[512] = {};
    H5Lget_name_by_idx(layers.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
    if (holds_weights(layers.get(), name)) ++file_with_weights;
  }
  DPT_CHECK(file_with_weights == with_weights, "cannot load '" << path << "': it holds weights for " << file_with_weights
                                                               << " layers but the model has " << with_weights
                                                               << " layers with weights");
}

}  // namespace

WeightsFormat weights_format(const std::string& path) {
  h5::Id f = open_readable(path);
  const WeightsFormat fmt = detect(f.get());
  return fmt == WeightsFormat::keras3_weights && is_keras_archive(path) ? WeightsFormat::keras3_archive : fmt;
}

std::string format_name(WeightsFormat f) {
  switch (f) {
    case WeightsFormat::legacy_weights: return "Keras legacy weights (save_weights .h5)";
    case WeightsFormat::legacy_model: return "Keras legacy full model (model.save .h5)";
    case WeightsFormat::keras3_weights: return "Keras 3 weights (.weights.h5)";
    case WeightsFormat::keras3_archive: return "Keras 3 model archive (.keras)";
    default: return "unknown";
  }
}

void load_weights(Sequential& model, const std::string& path, LoadOptions options) {
  h5::Id f = open_readable(path);
  const WeightsFormat fmt = detect(f.get());
  switch (fmt) {
    case WeightsFormat::legacy_weights: load_legacy(model, f.get(), path, options.by_name); return;
    case WeightsFormat::legacy_model: {
      h5::Id mw(H5Gopen2(f.get(), "model_weights", H5P_DEFAULT), H5Gclose);
      load_legacy(model, mw.get(), path, options.by_name);
      return;
    }
    case WeightsFormat::keras3_weights:
      DPT_CHECK(!options.by_name, "'" << path << "' is a Keras 3 "
                                      << (is_keras_archive(path) ? ".keras" : ".weights.h5")
                                      << " file, which Keras loads by structure: --by-name applies to legacy .h5 "
                                         "files only");
      load_keras3(model, f.get(), path);
      return;
    default:
      DPT_FAIL("cannot load weights from '" << path << "': it is HDF5 but neither a Keras weights file (no "
                                               "layer_names attribute, model_weights group or layers/ group)");
  }
}

}  // namespace dpt
