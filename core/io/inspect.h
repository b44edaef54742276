// What an HDF5 weights/model file holds, for `dptrain inspect`: its format, Keras version and
// backend, and its layers in order with weight names, shapes, dtypes and parameter counts.
#pragma once
#include <string>
#include <vector>
#include "core/io/hdf5_weights.h"
#include "core/io/keras_model.h"

namespace dpt {

struct FileWeight {
  std::string name;
  Shape shape;
  std::string dtype;  // float32, float64, ...
};

struct FileLayer {
  std::string name;
  std::vector<FileWeight> weights;
  int64_t params() const;
};

struct FileInfo {
  WeightsFormat format = WeightsFormat::unknown;
  std::string keras_version, backend;
  std::string model_class;          // from model_config, when present
  bool training_config = false;
  // From training_config: the loss and the optimizer as dptrain would compile them (Keras's names;
  // a class dptrain lacks is named with "(not in dptrain)"), what dptrain would ignore, and the
  // reason where training_config cannot be compiled.
  std::string loss, optimizer, compile_error;
  std::vector<std::string> metrics;           // their logged names
  std::vector<std::string> weighted_metrics;  // compile(weighted_metrics=...)'s
  std::vector<std::string> ignored;
  int64_t optimizer_weights = 0;    // arrays of optimizer state in the file
  bool has_optimizer_state = false;  // optimizer_state below is valid (legacy full-model files)
  OptimizerState optimizer_state;
  std::string optimizer_state_error;  // why optimizer_weights could not be read, where it could not
  std::vector<FileLayer> layers;
  bool has_state = false;           // a dptrain checkpoint: the resume state below is valid
  TrainingState state;
  int64_t params() const;
};

FileInfo inspect_file(const std::string& path);
std::string inspect_text(const FileInfo& info, const std::string& path);
std::string inspect_json(const FileInfo& info, const std::string& path);

}  // namespace dpt
