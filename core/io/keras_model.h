// Full-model files in Keras's model.save('m.h5') layout: model_config (a Sequential config Keras 3's
// load_model accepts), training_config, model_weights (the legacy weights layout) and
// optimizer_weights (named as tf.keras names them: Adam/iter:0, Adam/dense/kernel/m:0, ...), plus a
// `dptrain` group with what exact resumption needs. dptrain's randomness is counter-based (keyed by
// seed, epoch, step and sample index), so the seed and the position are the whole RNG state.
#pragma once
#include <string>
#include "core/losses.h"
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"

namespace dpt {

struct TrainingState {
  int64_t epoch = 0;        // epochs completed
  int64_t step = 0;         // steps completed within epoch `epoch` (0 at an epoch boundary)
  uint64_t seed = 0;
  int64_t batch_size = 0;
};

std::string model_to_keras_json(const Sequential& model);
// Written to a temporary file in the same folder, flushed, renamed (never a torn file).
void save_model(const Sequential& model, const std::string& path, LossKind loss, const Optimizer* optimizer,
                const TrainingState* state);
// Reads the dptrain group; false when the file has none (a Keras-written file).
bool read_training_state(const std::string& path, TrainingState* state);
// Restores slots and iterations from optimizer_weights (same optimizer class and model required).
void load_optimizer_state(const std::string& path, const Sequential& model, Optimizer& optimizer);

}  // namespace dpt
