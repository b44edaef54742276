// Sequential models from Keras configs: model.to_json() files and the model_config attribute of a
// model.save('m.h5') file, as written by Keras 2.x (the older `config` list and the
// {name, layers} form) and Keras 3. Layer names come from the config, so weights load by order or
// by name. Anything unsupported is an error naming the layer and the option.
#pragma once
#include <memory>
#include <string>
#include "core/sequential.h"

namespace dpt {

// Builds (unbuilt weights initialised from seed) the model a Keras JSON config describes.
std::unique_ptr<Sequential> model_from_keras_json(const std::string& json, uint64_t seed, const std::string& source);
// FILE.json (model.to_json()) or FILE.h5 (model.save: config and weights).
std::unique_ptr<Sequential> load_keras_model(const std::string& path, uint64_t seed);
// The model_config JSON of a full-model .h5 file ("" when it has none).
std::string read_model_config(const std::string& h5_path);

}  // namespace dpt
