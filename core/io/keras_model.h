// Full-model files in Keras's model.save('m.h5') layout: model_config (a Sequential config Keras 3's
// load_model accepts), training_config, model_weights (the legacy weights layout) and
// optimizer_weights (as Keras 3 names them: adam/iteration, adam/learning_rate,
// adam/<model>_dense_kernel_momentum, ...), plus a
// `dptrain` group with what exact resumption needs. dptrain's randomness is counter-based (keyed by
// seed, epoch, step and sample index), so the seed and the position are the whole RNG state.
#pragma once
#include <string>
#include <utility>
#include <vector>
#include "core/callbacks/callback.h"
#include "core/losses.h"
#include "core/metrics.h"
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"

namespace dpt {

struct TrainingState {
  int64_t epoch = 0;        // epochs completed
  int64_t step = 0;         // steps completed within epoch `epoch` (0 at an epoch boundary)
  uint64_t seed = 0;
  int64_t batch_size = 0;
  double learning_rate = -1;  // read: the rate in use when saved (written from the optimizer); < 0 if absent
  // The callbacks' state (early stopping's patience counter, the plateau rule's best value, ...),
  // by Callback::state_key().
  std::vector<std::pair<std::string, CallbackState>> callbacks;
};

std::string model_to_keras_json(const Sequential& model);
// Written to a temporary file in the same folder, flushed, renamed (never a torn file).
// training_config holds the loss (a loss object where from_logits, label_smoothing or delta is set), the
// metrics (the compile() string where one gives the same metric under the same name, else Keras 3's
// serialized metric object; none: null) and the optimizer.
// A path ending in .keras gets Keras 3's archive instead (config.json with compile_config,
// metadata.json, model.weights.h5 with the optimizer's numbered variables); it takes no `state`.
void save_model(const Sequential& model, const std::string& path, const LossSpec& loss, const MetricRequests& metrics,
                const Optimizer* optimizer, const TrainingState* state);
// Weights as Keras's save_weights writes them: the legacy layout (save_weights), or for a path
// ending in .weights.h5 Keras 3's layout with the optimizer's variables numbered in optimizer/vars
// (when `optimizer` is given), which Keras 3's load_weights restores without a warning.
void save_weights_as_keras(const Sequential& model, const std::string& path, const Optimizer* optimizer);
// Reads the dptrain group; false when the file has none (a Keras-written file).
bool read_training_state(const std::string& path, TrainingState* state);
// True when `path` is an HDF5 file with an optimizer_weights group, or a .keras archive whose
// weights hold optimizer/vars.
bool has_optimizer_weights(const std::string& path);
// What load_optimizer_state found.
struct OptimizerState {
  std::string layout;  // "Keras 3", "tf.keras 2.11+" or "tf.keras 2 (OptimizerV2)"
  std::string name;    // the optimizer as the names give it (Keras 3: adam, rm_sprop, ...; OptimizerV2: its
                       // class); "" where they do not (tf.keras 2.11+)
  int64_t iterations = 0;
  int64_t arrays = 0;         // slot arrays restored
  double learning_rate = -1;  // the saved learning rate (Keras 3 files), else < 0
};
// What optimizer_weights hold, read without a model (`dptrain inspect`): layout, name, iteration
// count, slot arrays (`arrays`) and saved learning rate. Throws where there are none or the layout
// is unknown.
OptimizerState read_optimizer_state_info(const std::string& path);
// Restores the slots and the iteration count from optimizer_weights, written by dptrain or by
// Keras 3, tf.keras 2.11+ or older tf.keras (same optimizer class and slots, and same model,
// required). Arrays are matched by name and shape. On any mismatch it throws and leaves `optimizer`
// untouched. It does not set the learning rate: the caller decides whether the saved one applies.
OptimizerState load_optimizer_state(const std::string& path, const Sequential& model, Optimizer& optimizer);

}  // namespace dpt
