// Shared option handling: data selection, model building, validators.
#include "apps/options.h"
#include <unistd.h>
#include <filesystem>
#include <thread>
#include "core/data/spec.h"
#include "core/error.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_config.h"
#include "parallel/devices.h"

namespace fs = std::filesystem;

namespace dpt::app {

static CLI::Validator number_check(const std::string& desc, bool (*ok)(double), const std::string& rule) {
  return CLI::Validator(
      [ok, rule](std::string& s) -> std::string {
        double v = 0;
        size_t pos = 0;
        try {
          v = std::stod(s, &pos);
        } catch (...) {
          return "'" + s + "' is not a number";
        }
        if (pos != s.size()) return "'" + s + "' is not a number";
        return ok(v) ? std::string() : "must be " + rule + ", got " + s;
      },
      desc);
}

const CLI::Validator kPositive = number_check("> 0", [](double v) { return v > 0; }, "> 0");
const CLI::Validator kNonNegative = number_check(">= 0", [](double v) { return v >= 0; }, ">= 0");
const CLI::Validator kUnitInterval = number_check(
    "in [0, 1]", [](double v) { return v >= 0 && v <= 1; }, "in [0, 1]");
const CLI::Validator kFraction = number_check("in [0, 1)", [](double v) { return v >= 0 && v < 1; }, "in [0, 1)");

void add_model_options(CLI::App& cmd, ModelOptions& o, bool with_data) {
  cmd.add_option("--model", o.model,
                 "model preset (see `dptrain models`), or a Keras model: FILE.h5 or FILE.keras "
                 "(model.save) or FILE.json (model.to_json)")
      ->capture_default_str();
  if (with_data) {
    cmd.add_option("--data", o.data, std::string("data spec: ") + kDataSpecHelp + " (default: the preset's)");
    cmd.add_option("--validation-split", o.validation_split,
                   "fraction of the data held out at its end, as Keras's validation_split (default 0.2 unless the "
                   "data has a test split)")
        ->check(kFraction);
    cmd.add_option("--loss", o.loss,
                   std::string(kLossNames) +
                       " (Keras's names; default: a Keras model file's compiled loss, else categorical_crossentropy)");
    cmd.add_flag("--from-logits", o.from_logits,
                 "the cross-entropy takes the model's outputs as logits (Keras's from_logits=True; default: a Keras "
                 "model file's loss)");
    cmd.add_option("--label-smoothing", o.label_smoothing,
                   "the categorical or binary cross-entropy's targets smoothed towards uniform: y (1 - X) + X / "
                   "classes (binary: X / 2), as Keras's label_smoothing (default: a Keras model file's loss, else 0)")
        ->check(kUnitInterval);
    cmd.add_option("--huber-delta", o.huber_delta,
                   "the huber loss's delta: half e^2 where |e| <= X, else X (|e| - X / 2), as Keras's Huber(delta=X) "
                   "(default: a Keras model file's loss, else 1)")
        ->check(kPositive);
    cmd.add_option("--focal-gamma", o.focal_gamma,
                   "the focal cross-entropies' gamma: each term weighed by (1 - p_t)^X, as Keras's "
                   "BinaryFocalCrossentropy(gamma=X) and CategoricalFocalCrossentropy (default: a Keras model file's "
                   "loss, else 2)")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--focal-alpha", o.focal_alpha,
                   "the focal cross-entropies' alpha, in [0, 1] (the binary one's with --apply-class-balancing) "
                   "(default: a Keras model file's loss, else 0.25)")
        ->check(kUnitInterval);
    cmd.add_flag("--apply-class-balancing", o.class_balancing,
                 "binary_focal_crossentropy weighs positives by alpha and negatives by 1 - alpha (Keras's "
                 "apply_class_balancing=True; default: a Keras model file's loss)");
    cmd.add_option("--metrics", o.metrics,
                   std::string("the metrics reported beside the loss, separated by commas, each with its Keras "
                               "class's arguments after a colon (top_k_categorical_accuracy:k=3,name=top3): ") +
                       kMetricNames +
                       " (default: a Keras model file's compiled metrics, else accuracy beside a cross-entropy or "
                       "kl_divergence, none beside the other losses)");
    cmd.add_option("--weighted-metrics", o.weighted_metrics,
                   "metrics as --metrics, each sample counted by its weight (the data's sample weights, or "
                   "--class-weight), as Keras's compile(weighted_metrics=...); one named as a --metrics one logs as "
                   "weighted_NAME (default: a Keras model file's weighted_metrics, else none)");
  }
  cmd.add_option("--batch-size", o.batch_size, "global batch size (default: the preset's)")->check(kPositive);
  cmd.add_option("--seed", o.seed, "seed for initial weights, shuffling and dropout")->capture_default_str();
  cmd.add_option("--threads", o.threads, "CPU threads (default: all cores)")->check(kPositive);
  cmd.add_flag("--by-name", o.by_name, "load --weights by layer name instead of layer order (legacy .h5 files)");
}

void add_parallel_options(CLI::App& cmd, ModelOptions& o) {
  cmd.add_option("--gpus", o.gpus, "GPUs: N (the first N), a list like 0,2, or all (among CUDA_VISIBLE_DEVICES)");
  cmd.add_option("--replicas", o.replicas, "N CPU replicas, one thread each with threads/N CPU threads (default 1)")
      ->check(kPositive);
  cmd.add_option("--strategy", o.strategy, "allreduce (every replica updates) | ps (parameter server: replica 0 "
                                           "updates and broadcasts)")
      ->check(CLI::IsMember({"allreduce", "ps"}))
      ->capture_default_str();
  cmd.add_flag("--sync-batchnorm", o.sync_batchnorm, "share BatchNormalization batch statistics across replicas");
  cmd.add_option("--check-replicas", o.check_replicas, "compare the replicas' weight checksums every N steps")
      ->check(kNonNegative);
  cmd.add_flag("--tf32", o.tf32, "GPUs: allow TF32 tensor cores in cuBLAS/cuDNN (faster; FP32 math by default)");
  cmd.add_flag("--deterministic", o.deterministic,
               "GPUs: only convolution algorithms that repeat bit for bit (as Keras's enable_op_determinism; "
               "slower: by default the fastest measured ones are used, some of which add with atomics)");
}

ParallelSetup parallel_setup(const ModelOptions& o) {
  ParallelSetup p;
  p.devices = select_devices(o.gpus, o.replicas);
  p.options.strategy = strategy_from_name(o.strategy);
  p.options.sync_batchnorm = o.sync_batchnorm;
  p.options.check_every = o.check_replicas;
  p.options.tf32 = o.tf32;
  p.options.deterministic = o.deterministic;
  return p;
}

std::string ParallelSetup::describe(int threads, int64_t global_batch) const {
  const int64_t n = int64_t(devices.size());
  std::string devs;
  for (auto& d : devices) devs += (devs.empty() ? "" : ", ") + d.str();
  std::string s = std::to_string(n) + (devices[0].is_cpu() ? " CPU" : " GPU") + (n == 1 ? " replica (" : " replicas (") +
                  devs + ")";
  if (devices[0].is_cpu()) {
    const int t = std::max(1, threads / int(n));
    s += ", " + std::to_string(t) + (t == 1 ? " thread" : " threads") + (n > 1 ? " each" : "");
  }
  s += " | global batch " + std::to_string(global_batch);
  if (n > 1) {
    const int64_t step = global_batch / n;
    s += " = " + std::to_string(step) + " per replica" +
         (global_batch % n ? " (the last takes " + std::to_string(global_batch - (n - 1) * step) + ")" : "") +
         " | strategy " + strategy_name(options.strategy) + (options.sync_batchnorm ? ", synchronised batch norm" : "");
  }
  return s;
}

int resolved_threads(int threads) {
  const unsigned hc = std::thread::hardware_concurrency();
  const int cores = hc ? int(hc) : 1;
  if (threads <= 0) return cores;
  // Compute threads past the cores only take turns; far past them, thread start-up alone stalls the
  // run (--threads 100000 once sat silent for minutes).
  const int most = std::max(64, 8 * cores);
  DPT_CHECK(threads <= most, "--threads " << threads << ": at most " << most << " on this machine (" << cores
                                          << " hardware threads); threads past the cores only take turns");
  return threads;
}

LoadedData load_data(const ModelOptions& o, const Preset& p) {
  DPT_CHECK(!o.data.empty() || !p.default_data.empty(),
            "--model " << o.model << " is a model file: give the data with --data SPEC (" << kDataSpecHelp << ")");
  const std::string spec = o.data.empty() ? p.default_data : o.data;
  DataSplits s = load_data_spec(spec, o.seed);
  LoadedData d;
  d.description = s.description;
  d.train = std::move(s.train);
  if (o.validation_split > 0 || (o.validation_split < 0 && !s.test)) {
    Dataset val;
    split_validation(d.train, o.validation_split < 0 ? 0.2 : o.validation_split, &val);
    d.heldout = std::move(val);
    d.heldout_name = "validation";
  } else if (s.test && o.validation_split != 0) {
    d.heldout = std::move(s.test);
    d.heldout_name = "test";
  }
  return d;
}

static bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool keras_archive_path(const std::string& path) { return ends_with(path, ".keras"); }
bool holds_whole_model(const std::string& model) { return ends_with(model, ".h5") || keras_archive_path(model); }

Preset model_preset(const std::string& model, uint64_t seed) {
  if (!holds_whole_model(model) && !ends_with(model, ".json")) return find_preset(model);
  auto probe = load_keras_model(model, seed);
  Preset p;
  p.name = probe->name();
  p.description = "Keras model from " + model;
  p.input = probe->input_shape();
  p.classes = shape_numel(probe->output_shape());
  p.optimizer.name = "rmsprop";  // Keras's compile() default
  p.epochs = 1;                  // Keras's fit() defaults
  p.batch_size = 32;
  p.make = [model, seed] { return load_keras_model(model, seed); };
  return p;
}

Compiled compiled_defaults(const ModelOptions& o, const Preset& p, bool optimizer_given) {
  Compiled c{o.loss.empty() ? p.loss : o.loss,
             o.from_logits,
             std::max(o.label_smoothing, 0.0),
             o.huber_delta > 0 ? o.huber_delta : 1.0,
             p.optimizer,
             "",
             false,
             {},
             {},
             {}};
  auto focal_options = [&](FocalParams f) {  // the options over f
    if (o.focal_gamma >= 0) f.gamma = float(o.focal_gamma);
    if (o.focal_alpha >= 0) f.alpha = float(o.focal_alpha);
    if (o.class_balancing) f.balance = true;
    return f;
  };
  c.focal = focal_options(FocalParams());
  if (!o.metrics.empty()) c.metrics = parse_metrics(o.metrics);
  const MetricRequests weighted =
      o.weighted_metrics.empty() ? MetricRequests() : parse_metrics(o.weighted_metrics, true);
  KerasCompileConfig k;
  if (!read_compile_config(o.model, &k)) {
    if (o.metrics.empty()) c.metrics = default_metrics(loss_from_name(c.loss, c.from_logits));
    c.metrics.insert(c.metrics.end(), weighted.begin(), weighted.end());
    resolve_metrics(c.metrics, loss_from_name(c.loss, c.from_logits), p.classes);  // fails before any work
    return c;
  }
  c.from = o.model;
  if (o.loss.empty() && !k.file_loss.empty()) {
    DPT_CHECK(!k.loss.empty(), "'" << o.model << "' was compiled with loss '" << k.file_loss
                                   << "', which dptrain does not have; give --loss (" << kLossNames << ")");
    c.loss = k.loss;
    c.from_logits = k.from_logits || o.from_logits;  // --loss replaces the file's loss object
    if (o.label_smoothing < 0) c.label_smoothing = k.label_smoothing;
    if (o.huber_delta < 0) c.huber_delta = k.delta;
    c.focal = focal_options(k.focal);
  }
  if (!k.file_optimizer.empty()) {
    if (!k.optimizer.name.empty()) {
      c.optimizer = k.optimizer;
      c.optimizer_from_file = true;
    } else
      DPT_CHECK(optimizer_given, "'" << o.model << "' was compiled with optimizer " << k.file_optimizer
                                     << ", which dptrain does not have; give --optimizer (" << kOptimizerNames << ")");
  }
  for (auto& what : k.ignored)  // --metrics replaces the file's metrics, --weighted-metrics its weighted ones
    if ((o.metrics.empty() || what.rfind("the metric ", 0) != 0) &&
        (o.weighted_metrics.empty() || what.rfind("the weighted metric ", 0) != 0))
      c.ignored.push_back(what);
  // Keras compiles the file's metrics and weighted metrics (none where it has none); the options
  // replace each list.
  MetricRequests both;
  for (const MetricRequest& r : o.metrics.empty() ? k.metrics : c.metrics)
    if (!r.weighted) both.push_back(r);
  for (const MetricRequest& r : o.weighted_metrics.empty() ? k.metrics : weighted)
    if (r.weighted) both.push_back(r);
  c.metrics = both;
  resolve_metrics(c.metrics, loss_from_name(c.loss, c.from_logits), p.classes);
  return c;
}

std::unique_ptr<Sequential> build_model(const ModelOptions& o, const Preset& p) {
  auto m = p.make();
  if (!m->built()) m->build(p.input, o.seed);
  if (!o.weights.empty()) {
    LoadOptions lo;
    lo.by_name = o.by_name;
    load_weights(*m, o.weights, lo);
  }
  return m;
}

void check_writable(const std::string& path, const char* what) {
  if (path.empty()) return;
  const fs::path dir = fs::absolute(path).parent_path();
  DPT_CHECK(fs::is_directory(dir), "cannot write " << what << " '" << path << "': folder '" << dir.string() << "' does not exist");
  DPT_CHECK(access(dir.c_str(), W_OK) == 0, "cannot write " << what << " '" << path << "': folder '" << dir.string() << "' is not writable");
  DPT_CHECK(!fs::is_directory(path), "cannot write " << what << " '" << path << "': it is a folder");
}

}  // namespace dpt::app
