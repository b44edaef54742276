// Sequential models from Keras configs: model.to_json() files and the model_config attribute of a
// model.save('m.h5') file, as written by Keras 2.x (the older `config` list and the
// {name, layers} form) and Keras 3. Layer names come from the config, so weights load by order or
// by name. Anything unsupported is an error naming the layer and the option.
#pragma once
#include <memory>
#include <string>
#include <vector>
#include "core/metrics.h"
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"

namespace dpt {

// Builds (unbuilt weights initialised from seed) the model a Keras JSON config describes.
std::unique_ptr<Sequential> model_from_keras_json(const std::string& json, uint64_t seed, const std::string& source);
// FILE.json (model.to_json()) or FILE.h5 (model.save: config and weights).
std::unique_ptr<Sequential> load_keras_model(const std::string& path, uint64_t seed);
// The model_config JSON of a full-model .h5 file ("" when it has none).
std::string read_model_config(const std::string& h5_path);

// The Keras layer argument holding a weight's regularizer or initializer (what: "regularizer",
// "initializer"): "kernel_regularizer" for "kernel", "recurrent_initializer" for
// "recurrent_kernel", ... (params()'s names).
std::string weight_argument(const std::string& weight, const std::string& what);

// What Keras's load_model (compile=True) takes from a model.save() file's training_config: the
// loss, the metric and the optimizer's class and hyperparameters. Settings Keras would apply that
// dptrain has not (a custom learning-rate schedule, metrics dptrain does not compute,
// weighted metrics) are listed in `ignored` for the caller to report.
struct KerasCompileConfig {
  std::string loss;            // dptrain's name for it; "" when dptrain has no such loss
  std::string file_loss;       // as the file names it ("" when it names none)
  bool from_logits = false;    // the loss object's from_logits=True
  double label_smoothing = 0;  // the loss object's label_smoothing
  double delta = 1;            // the Huber object's delta (Keras 3.15 leaves it out of its own files)
  FocalParams focal;           // the focal cross-entropies' alpha, gamma, apply_class_balancing
  OptimizerConfig optimizer;   // name "" when dptrain has no such optimizer
  std::string file_optimizer;  // the file's class name ("" when it has no optimizer_config)
  MetricRequests metrics;      // the metrics it names that dptrain computes, in order (none when none)
  std::vector<std::string> ignored;
};
// False (out untouched) for a .json path or an .h5 file without training_config.
bool read_compile_config(const std::string& path, KerasCompileConfig* out);
// The same from training_config's JSON text (legacy) or a .keras archive's compile_config (not
// legacy: its metric strings log under the names given, where Keras 3's legacy loader logs 'mae' as
// mean_absolute_error); `where` starts error messages.
KerasCompileConfig compile_config_from_json(const std::string& text, const std::string& where, bool legacy = true);

// The command line's --lr-decay: "CLASS:key=value,key=value" with Keras's class and argument names,
// lists in brackets (boundaries=[100,200]), true/false and None; initial_learning_rate may be left
// out (< 0: the optimizer's learning rate).
LearningRateSchedule parse_schedule_spec(const std::string& spec);

}  // namespace dpt
