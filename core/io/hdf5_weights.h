// Weights files in Keras's legacy save_weights HDF5 layout: root attributes layer_names, backend,
// keras_version; one group per layer with a weight_names attribute; datasets at
// <layer>/<weight name>, e.g. dense/dense/kernel:0. A path ending in .weights.h5 gets Keras 3's
// layout instead (layers/<key>/vars/<i>), which is what Keras 3's load_weights reads from such a
// name. Files are written to a temporary file in the same folder and renamed, so a failed save
// never leaves a torn file or loses the previous one.
#pragma once
#include <hdf5.h>
#include <functional>
#include <string>
#include <vector>
#include "core/sequential.h"

namespace dpt {

void save_weights(const Sequential& model, const std::string& path);
// A path ending in .weights.h5: Keras 3's weights layout.
bool keras3_weights_path(const std::string& path);

// Reads, in whatever layout the file has: Keras's legacy save_weights file, a legacy full-model
// file (its model_weights group), or a Keras 3 .weights.h5 file (layers/<key>/vars/<i>, where the
// key is the layer class's snake-case name counted per class in model order: conv2d, conv2d_1, ...).
// Legacy files load by topological order (layers without weights skipped, as Keras does), or with
// by_name by matching layer names (layers with no match keep their weights, as Keras does).
struct LoadOptions {
  bool by_name = false;
};
void load_weights(Sequential& model, const std::string& path, LoadOptions options = {});

// Building blocks shared with the full-model writer.
// Creates `path` through a temporary file in the same folder, flushed then renamed.
void write_h5_atomically(const std::string& path, const char* what, const std::function<void(hid_t)>& write);
// layer_names/backend/keras_version attributes and one group per layer (the legacy layout).
void write_weights_group(hid_t group, const Sequential& model, const std::string& path);
// Keras 3's layout: layers/<key>/vars/<i> for every layer (empty vars for layers without weights)
// and an empty vars group for the model's own.
void write_keras3_weights(hid_t root, const Sequential& model, const std::string& path);
// integer: stored as int32 (the floats hold whole numbers).
void write_dataset(hid_t group, const std::string& name, const Shape& shape, const float* data, const std::string& path,
                   bool integer = false);
void write_vlen_attr(hid_t obj, const char* name, const std::string& value);
void write_string_list(hid_t obj, const char* name, const std::vector<std::string>& values);  // fixed-length
// A list of names (weight_names, layer_names) in any encoding Keras writes, split into name0, name1, ...
// as Keras does for long lists or not; an empty numeric array gives {}.
std::vector<std::string> read_string_list(hid_t obj, const std::string& name, const std::string& path);

// keras3_archive: a .keras zip (model.save('m.keras')), whose model.weights.h5 is keras3_weights.
enum class WeightsFormat { legacy_weights, legacy_model, keras3_weights, keras3_archive, unknown };
WeightsFormat weights_format(const std::string& path);
std::string format_name(WeightsFormat f);

}  // namespace dpt
