// Options and helpers shared by the dptrain subcommands.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include "core/data/dataset.h"
#include "core/presets.h"
#include "parallel/trainer.h"

namespace dpt::app {

struct ModelOptions {
  std::string model = "digits-cnn";
  std::string data;  // empty: the preset's default
  uint64_t seed = 1337;
  int threads = 0;   // 0: all cores
  int64_t batch_size = 0;  // 0: the preset's default
  std::string loss;        // empty: a Keras model file's training_config, else categorical_crossentropy
  bool from_logits = false;  // --from-logits: the cross-entropy takes the outputs as logits
  double label_smoothing = -1;  // --label-smoothing (< 0: a Keras model file's, else 0)
  double huber_delta = -1;      // --huber-delta (< 0: a Keras model file's, else 1)
  double focal_gamma = -1, focal_alpha = -1;  // --focal-gamma, --focal-alpha (< 0: a Keras model file's, else Keras's)
  bool class_balancing = false;               // --apply-class-balancing
  std::string metrics;     // empty: a Keras model file's training_config, else default_metrics(loss)
  std::string weighted_metrics;  // empty: a Keras model file's weighted_metrics, else none
  double validation_split = -1;  // < 0: 0.2 when the data has no test split
  std::string weights;           // initial weights (.h5)
  bool by_name = false;          // load --weights by layer name (legacy .h5)
  // Data parallelism
  std::string gpus;              // --gpus N|LIST|all
  int replicas = 0;              // --replicas N (CPU replicas)
  std::string strategy = "allreduce";
  bool sync_batchnorm = false;
  int64_t check_replicas = 0;
  bool tf32 = false;             // --tf32
  bool deterministic = false;    // --deterministic
};

void add_model_options(CLI::App& cmd, ModelOptions& o, bool with_data);
// --gpus, --replicas, --strategy, --sync-batchnorm, --check-replicas
void add_parallel_options(CLI::App& cmd, ModelOptions& o);
struct ParallelSetup {
  std::vector<Device> devices;
  ParallelOptions options;
  std::string describe(int threads, int64_t global_batch) const;  // "3 CPU replicas (...), ..."
};
ParallelSetup parallel_setup(const ModelOptions& o);
int resolved_threads(int threads);
// The training data and held-out data the options select (test split, or the validation split).
struct LoadedData {
  Dataset train;
  std::optional<Dataset> heldout;
  std::string heldout_name;  // "validation" or "test"
  std::string description;
};
LoadedData load_data(const ModelOptions& o, const Preset& p);
// A Keras model file that holds weights too: model.save's .h5 or .keras.
bool holds_whole_model(const std::string& model);
// A path naming a Keras 3 .keras archive.
bool keras_archive_path(const std::string& path);
// The preset named by --model, or for a Keras model file (FILE.h5 or FILE.keras from model.save,
// FILE.json from model.to_json) a preset built from it with Keras's fit defaults (rmsprop, batch
// 32, 1 epoch).
Preset model_preset(const std::string& model, uint64_t seed);
// The loss and the optimizer's defaults, compiled as keras.models.load_model compiles a model.save()
// file: its training_config's loss (unless --loss) and optimizer class and hyperparameters (which
// --optimizer/--lr/--momentum then override); for presets, --loss or categorical_crossentropy and
// the preset's optimizer. Fails naming the option to give where the file's loss or optimizer is
// one dptrain does not have (the optimizer only when !optimizer_given). The optimizer's state
// (slots, iterations) is not taken from the file.
struct Compiled {
  std::string loss;
  bool from_logits = false;  // Keras's from_logits=True (the file's loss object, or --from-logits)
  double label_smoothing = 0;  // Keras's label_smoothing (the file's loss object, or --label-smoothing)
  double huber_delta = 1;      // Keras's Huber(delta=...) (the file's loss object, or --huber-delta)
  OptimizerConfig optimizer;
  std::string from;                  // the file whose training_config was used ("" for none)
  bool optimizer_from_file = false;  // `optimizer` is the file's (its class and hyperparameters)
  std::vector<std::string> ignored;  // what it sets that dptrain does not apply (decay, clipnorm, ...)
  MetricRequests metrics;            // --metrics, else the file's, else default_metrics(loss); then the
                                     // weighted ones: --weighted-metrics, else the file's
  FocalParams focal;                 // the focal cross-entropies' (the file's loss object, or --focal-*)
};
Compiled compiled_defaults(const ModelOptions& o, const Preset& p, bool optimizer_given);
// Builds the preset's model (and loads --weights if given).
std::unique_ptr<Sequential> build_model(const ModelOptions& o, const Preset& p);
// Fails early (before any training) when `path` cannot be written.
void check_writable(const std::string& path, const char* what);

// Thrown to end the program with a given exit status (after an interrupted, checkpointed run).
struct ExitRequest {
  int code;
};

// CLI11 validators with clear messages.
extern const CLI::Validator kPositive;
extern const CLI::Validator kNonNegative;
extern const CLI::Validator kUnitInterval;  // [0, 1]
extern const CLI::Validator kFraction;  // [0, 1)

void setup_train(CLI::App& app);
void setup_eval(CLI::App& app);
void setup_info(CLI::App& app);
void setup_bench(CLI::App& app);

}  // namespace dpt::app
