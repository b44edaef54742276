// Model presets: Keras-style Sequential models with their input shape and training defaults.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"

namespace dpt {

struct Preset {
  std::string name;
  std::string description;
  Shape input;
  int64_t classes;
  std::string default_data;   // data spec used when --data is not given
  OptimizerConfig optimizer;  // defaults for --optimizer/--lr/--momentum
  int64_t epochs;
  int64_t batch_size;
  std::function<std::unique_ptr<Sequential>()> make;  // unbuilt model
  std::string loss = "categorical_crossentropy";      // the default --loss
};

const std::vector<Preset>& presets();
const Preset& find_preset(const std::string& name);  // throws listing the presets
extern const char* const kDefaultPreset;

}  // namespace dpt
