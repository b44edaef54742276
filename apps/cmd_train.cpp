// `dptrain train`: fit a preset model on a data spec with Keras's semantics and progress output.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include "apps/options.h"
#include "core/callbacks/control.h"
#include "core/callbacks/progbar.h"
#include "core/error.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_config.h"
#include "core/io/keras_model.h"
#include "core/losses.h"
#include "core/strings.h"
#include "kernels/gemm.h"
#include "parallel/checkpoint.h"
#include "parallel/devices.h"
#include "parallel/trainer.h"

namespace dpt::app {

namespace {

struct TrainOptions {
  ModelOptions m;
  int64_t epochs = 0;  // 0: the preset's
  std::string optimizer;
  double lr = 0, momentum = -1;
  double weight_decay = -1, clipnorm = -1, clipvalue = -1, global_clipnorm = -1;  // < 0: not given
  int64_t gradient_accumulation_steps = -1;                                       // < 0: not given
  bool use_ema = false;
  double ema_momentum = -1;              // < 0: not given
  int64_t ema_overwrite_frequency = -1;  // < 0: not given
  bool nesterov = false, no_shuffle = false;
  int64_t steps_per_epoch = 0;
  std::string save_weights, history, csv_log, save_model;
  std::string checkpoint_dir;
  int64_t checkpoint_every = 0, keep = 0;
  bool resume = false;
  int verbose = 1;
  // Training control (Keras callbacks)
  int64_t early_stopping = -1;  // patience; < 0: off
  double min_delta = 0;         // EarlyStopping's min_delta
  std::string monitor = "val_loss";
  bool restore_best = false;
  std::string reduce_lr;  // FACTOR:PATIENCE[:min_lr=X,cooldown=N,min_delta=X]
  std::string lr_schedule;
  std::string lr_decay;  // a Keras schedule as the optimizer's learning rate, or none
  std::string save_best;
  std::string class_weight;  // balanced | FILE.json
  std::string scale_lr = "none";
  double warmup_epochs = 0;
};

// SIGINT/SIGTERM ask the run to stop after the current step (the handler only sets flags).
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}

// --reduce-lr-on-plateau FACTOR:PATIENCE[:key=value,...], with ReduceLROnPlateau's other arguments
// by Keras's names and defaults.
struct PlateauSpec {
  double factor = 0.1;
  long long patience = 10;
  double min_lr = 0, min_delta = 1e-4;
  long long cooldown = 0;
};
PlateauSpec plateau_spec(const std::string& spec) {
  PlateauSpec s;
  const std::string usage =
      "--reduce-lr-on-plateau takes FACTOR:PATIENCE[:min_lr=X,cooldown=N,min_delta=X], e.g. "
      "0.5:3 or 0.2:5:min_lr=1e-6; got '" +
      spec + "'";
  const size_t second = spec.find(':', spec.find(':') + 1);
  const std::string head = spec.substr(0, second);
  char extra = 0;
  DPT_CHECK(std::sscanf(head.c_str(), "%lf:%lld%c", &s.factor, &s.patience, &extra) == 2, usage);
  if (second == std::string::npos) return s;
  for (const std::string& arg : split(spec.substr(second + 1), ',')) {
    const size_t eq = arg.find('=');
    DPT_CHECK(eq != std::string::npos, usage);
    const std::string key = arg.substr(0, eq), text = arg.substr(eq + 1);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    DPT_CHECK(!text.empty() && end == text.c_str() + text.size() && std::isfinite(v),
              "--reduce-lr-on-plateau: " << key << "=" << text << " is not a number");
    if (key == "min_lr")
      s.min_lr = v;
    else if (key == "min_delta")
      s.min_delta = v;
    else if (key == "cooldown" && v == std::floor(v) && std::fabs(v) < 1e9)
      s.cooldown = static_cast<long long>(v);
    else
      DPT_FAIL((key == "cooldown" ? "--reduce-lr-on-plateau: cooldown must be a whole number of epochs, got " + text
                                  : "--reduce-lr-on-plateau has no argument '" + key +
                                        "' (ReduceLROnPlateau's: min_lr, cooldown, min_delta)"));
  }
  return s;
}

OptimizerConfig optimizer_config(const TrainOptions& o, const Preset& p) {
  OptimizerConfig c = p.optimizer;
  if (!o.optimizer.empty() && o.optimizer != c.name) {
    c = OptimizerConfig{};  // another optimizer: Keras's defaults for it
    c.name = o.optimizer;
  }
  if (o.lr > 0) {  // a constant rate, in place of a file's schedule (unless --lr-decay gives one)
    c.learning_rate = o.lr;
    c.schedule.reset();
  }
  if (o.lr_decay == "none") {  // the schedule's initial rate, held
    c.schedule.reset();
  } else if (!o.lr_decay.empty()) {
    LearningRateSchedule s = parse_schedule_spec(o.lr_decay);
    DPT_CHECK(o.lr <= 0 || s.class_name != "PiecewiseConstantDecay",
              "--lr " << o.lr << " and --lr-decay " << o.lr_decay
                      << ": PiecewiseConstantDecay's values are the learning rates; leave out --lr");
    DPT_CHECK(o.lr <= 0 || s.initial_learning_rate < 0, "--lr "
                                                            << o.lr << " and --lr-decay " << o.lr_decay
                                                            << " both give the initial learning rate; give it once");
    c.schedule = s;
  }
  if (o.momentum >= 0) c.momentum = o.momentum;
  if (o.nesterov)
    c.nesterov = true;  // the flag adds Nesterov momentum; without it the file's or preset's setting stays
  if (o.weight_decay >= 0) c.weight_decay = o.weight_decay;
  if (o.gradient_accumulation_steps >= 0) c.gradient_accumulation_steps = o.gradient_accumulation_steps;
  if (o.use_ema || o.ema_momentum >= 0 || o.ema_overwrite_frequency >= 0) c.use_ema = true;
  if (o.ema_momentum >= 0) c.ema_momentum = o.ema_momentum;
  if (o.ema_overwrite_frequency >= 0) c.ema_overwrite_frequency = o.ema_overwrite_frequency;
  // Keras applies one clipping: a clipping option given replaces the file's or preset's.
  if (o.clipnorm >= 0 || o.clipvalue >= 0 || o.global_clipnorm >= 0) {
    c.clipnorm = std::max(o.clipnorm, 0.0);
    c.clipvalue = std::max(o.clipvalue, 0.0);
    c.global_clipnorm = std::max(o.global_clipnorm, 0.0);
  }
  return c;
}

void run_train(const TrainOptions& o) {
  DPT_CHECK(!o.resume || !o.checkpoint_dir.empty(), "--resume needs --checkpoint-dir DIR (where the checkpoints are)");
  std::optional<CheckpointFile> resume_from;
  ModelOptions mo = o.m;
  if (o.resume) {
    resume_from = newest_checkpoint(o.checkpoint_dir);
    DPT_CHECK(resume_from, "--resume: no complete checkpoint (ckpt_*.h5) in '" << o.checkpoint_dir << "'");
    mo.seed = resume_from->state.seed;  // the run's randomness continues from its own seed
    mo.weights = resume_from->path;
  }
  Preset p = model_preset(mo.model, mo.seed);
  const Compiled compiled = compiled_defaults(mo, p, !o.optimizer.empty());
  p.optimizer = compiled.optimizer;
  check_writable(o.save_weights, "weights");
  DPT_CHECK(!keras_archive_path(o.save_weights),
            "cannot write weights '" << o.save_weights << "': a .keras archive holds a whole model; give --save-model "
                                     << o.save_weights << ", or a .weights.h5 path for Keras 3's weights layout");
  check_writable(o.save_model, "model");
  check_writable(o.history, "history");
  check_writable(o.csv_log, "CSV log");
  const int threads = resolved_threads(o.m.threads);
  kernels::set_cpu_threads(threads);
  LoadedData d = load_data(mo, p);
  auto model = build_model(mo, p);
  auto opt = make_optimizer(optimizer_config(o, p));
  if (resume_from) {
    opt->build(model->num_trainable(), Device::cpu());
    load_optimizer_state(resume_from->path, *model, *opt);
  }
  // A Keras model file's optimizer state, as keras.models.load_model restores it: the optimizer
  // continues where the file's training stopped (its moments, iteration count and learning rate).
  // Another optimizer, or state that does not match, starts fresh, with a warning as Keras gives.
  std::string state_note = "the optimizer starts with fresh state";
  bool file_state = false;
  if (!resume_from && compiled.optimizer_from_file && (o.optimizer.empty() || o.optimizer == p.optimizer.name) &&
      has_optimizer_weights(compiled.from)) {
    opt->build(model->num_trainable(), Device::cpu());
    try {
      const OptimizerState st = load_optimizer_state(compiled.from, *model, *opt);
      if (st.learning_rate > 0 && o.lr <= 0 && !opt->schedule()) opt->set_learning_rate(st.learning_rate);
      file_state = true;
      std::ostringstream note;
      note << "the optimizer continues from the file's state: iteration " << st.iterations << ", " << st.arrays
           << " slot arrays (" << st.layout << " layout)";
      state_note = note.str();
    } catch (const Error& e) {
      std::fprintf(stderr,
                   "dptrain: warning: %s's optimizer state was not restored (%s); the optimizer starts with fresh "
                   "state, as Keras does\n",
                   compiled.from.c_str(), e.what());
    }
  } else if (!resume_from && !compiled.from.empty() && has_optimizer_weights(compiled.from)) {
    state_note = "the file's optimizer state is for another optimizer: this one starts with fresh state";
  }
  const LossKind loss = loss_from_name(compiled.loss, compiled.from_logits);
  if (loss_from_logits(loss)) {  // as Keras warns: the loss would take probabilities as logits
    const kernels::Activation last = model->layers().back()->output_activation();
    if (last == kernels::Activation::softmax || last == kernels::Activation::sigmoid)
      std::fprintf(stderr,
                   "dptrain: warning: %s received from_logits=True, but the model's output comes from a %s "
                   "activation and thus does not represent logits. Was this intended?\n",
                   loss_name(loss).c_str(), last == kernels::Activation::softmax ? "softmax" : "sigmoid");
  }
  const ParallelSetup par = parallel_setup(o.m);
  Trainer trainer(*model, par.devices, loss, *opt, threads, par.options);
  trainer.set_metrics(compiled.metrics);
  trainer.set_label_smoothing(compiled.label_smoothing);
  trainer.set_huber_delta(compiled.huber_delta);
  trainer.set_focal(compiled.focal);

  if (resume_from || file_state) trainer.set_optimizer_state(*opt);

  FitOptions fo;
  fo.epochs = o.epochs > 0 ? o.epochs : p.epochs;
  fo.batch_size = o.m.batch_size > 0 ? o.m.batch_size : p.batch_size;
  fo.shuffle = !o.no_shuffle;
  fo.steps_per_epoch = o.steps_per_epoch;
  fo.seed = mo.seed;
  fo.verbose = o.verbose;
  if (resume_from) {
    DPT_CHECK(resume_from->state.batch_size == fo.batch_size,
              "--resume: the checkpoint was trained with batch size " << resume_from->state.batch_size << ", not "
                                                                      << fo.batch_size << "; give --batch-size "
                                                                      << resume_from->state.batch_size);
    DPT_CHECK(
        resume_from->state.epoch < fo.epochs || (resume_from->state.epoch == fo.epochs && resume_from->state.step == 0),
        "--resume: the checkpoint is at epoch " << resume_from->state.epoch << ", past --epochs " << fo.epochs);
    fo.initial_epoch = resume_from->state.epoch;
    fo.initial_step = resume_from->state.step;
  }
  if (o.verbose > 0) {
    std::printf("dptrain: model %s (%lld params) | %s\n", p.name.c_str(), (long long)model->num_params(),
                par.describe(threads, fo.batch_size).c_str());
    std::printf("data: %s | train %lld samples", d.description.c_str(), (long long)d.train.size());
    if (d.heldout) std::printf(", %s %lld samples", d.heldout_name.c_str(), (long long)d.heldout->size());
    std::printf("\noptimizer: %s | loss: %s | metrics: %s\n", opt->describe().c_str(),
                loss_describe(loss, trainer.label_smoothing(), trainer.huber_delta(), trainer.focal()).c_str(),
                metric_list(trainer.metric_names()).c_str());
    if (!compiled.from.empty())
      std::printf("compiled from %s's %s, as keras.models.load_model does (%s)\n", compiled.from.c_str(),
                  keras_archive_path(compiled.from) ? "compile_config" : "training_config", state_note.c_str());
    std::fflush(stdout);
  }
  for (const auto& what : compiled.ignored)
    std::fprintf(stderr, "dptrain: warning: %s's %s sets %s, which dptrain does not apply\n", compiled.from.c_str(),
                 keras_archive_path(compiled.from) ? "compile_config" : "training_config", what.c_str());
  if (resume_from && o.verbose > 0)
    std::printf("resuming from %s: epoch %lld, step %lld (seed %llu)\n", resume_from->path.c_str(),
                (long long)fo.initial_epoch, (long long)fo.initial_step, (unsigned long long)fo.seed);
  ProgressBar bar;
  std::unique_ptr<CSVLogger> csv;
  std::vector<Callback*> cbs{&bar};
  const TrainingState base{0, 0, fo.seed, fo.batch_size, -1, {}};
  Checkpointer checkpoints(trainer, *model, o.checkpoint_dir.empty() ? "." : o.checkpoint_dir,
                           o.checkpoint_dir.empty() ? 0 : std::max<int64_t>(o.checkpoint_every, 1), o.keep, base);
  cbs.push_back(&checkpoints);
  std::vector<std::unique_ptr<Callback>> control;
  DPT_CHECK(o.min_delta == 0 || o.early_stopping >= 0,
            "--min-delta is early stopping's; give --early-stopping PATIENCE (the plateau rule takes "
            "--reduce-lr-on-plateau FACTOR:PATIENCE:min_delta=X)");
  if (o.early_stopping >= 0)
    control.push_back(
        std::make_unique<EarlyStopping>(o.monitor, o.min_delta, o.early_stopping, MonitorMode::auto_, o.restore_best));
  if (opt->schedule()) {  // Keras: "its learning rate is not settable"
    const std::pair<bool, const char*> setters[] = {{!o.reduce_lr.empty(), "--reduce-lr-on-plateau"},
                                                    {!o.lr_schedule.empty(), "--lr-schedule"},
                                                    {o.warmup_epochs > 0, "--warmup-epochs"},
                                                    {o.scale_lr != "none", "--scale-lr"}};
    for (const auto& [given, flag] : setters)
      DPT_CHECK(!given, flag << " sets the learning rate, but the optimizer's learning rate is the schedule "
                             << opt->schedule()->describe()
                             << ", which is not settable (as in Keras); give a constant rate (--lr X, or --lr-decay "
                                "none for the schedule's initial rate), or leave out "
                             << flag);
  }
  if (!o.reduce_lr.empty()) {
    const PlateauSpec s = plateau_spec(o.reduce_lr);
    control.push_back(std::make_unique<ReduceLROnPlateau>(o.monitor, s.factor, s.patience, MonitorMode::auto_,
                                                          s.min_delta, s.cooldown, s.min_lr));
    fo.log_learning_rate = true;
  }
  if (!o.lr_schedule.empty()) {
    control.push_back(LearningRateScheduler::from_spec(o.lr_schedule));
    fo.log_learning_rate = true;
  }
  const double base_lr = opt->learning_rate();
  const double target_lr = scaled_learning_rate(base_lr, o.scale_lr, trainer.replicas());
  // A resumed run goes on with the rate in use when it was saved (scaled, warmed up, reduced on a
  // plateau); checkpoints from before dptrain saved it start from the scaled rate. A schedule's rate
  // follows from the iteration count alone.
  if (!opt->schedule())
    trainer.set_learning_rate(resume_from && resume_from->state.learning_rate > 0 ? resume_from->state.learning_rate
                                                                                  : target_lr);
  if (o.warmup_epochs > 0) {
    control.push_back(std::make_unique<LearningRateWarmup>(base_lr, target_lr, o.warmup_epochs));
    fo.log_learning_rate = true;
  }
  if (o.scale_lr != "none") fo.log_learning_rate = true;
  if (!o.save_best.empty()) {
    check_writable(o.save_best, "best model");
    control.push_back(std::make_unique<ModelCheckpoint>(o.save_best, o.monitor, MonitorMode::auto_, true, false));
  }
  for (auto it = control.rbegin(); it != control.rend(); ++it) cbs.insert(cbs.begin(), it->get());  // before the bar
  std::vector<Callback*> stateful;
  for (auto& cb : control) stateful.push_back(cb.get());
  checkpoints.keep_state_of(stateful);
  if (resume_from)  // the callbacks go on where the checkpoint left them (patience counters, best values)
    for (auto& cb : control)
      for (const auto& [key, state] : resume_from->state.callbacks)
        if (key == cb->state_key()) cb->restore_state(state);
  if (!o.class_weight.empty()) {
    DPT_CHECK(d.train.y_is_index || d.train.y_dim > 1, "--class-weight needs class labels");
    std::vector<float> labels(size_t(d.train.size()));
    for (int64_t i = 0; i < d.train.size(); ++i) {
      const float* row = d.train.y.data() + i * d.train.y_dim;
      labels[size_t(i)] = d.train.y_is_index ? row[0] : float(std::max_element(row, row + d.train.y_dim) - row);
    }
    fo.class_weight = class_weights(o.class_weight, labels, std::max<int64_t>(d.train.num_classes, p.classes));
  }
  fo.stop = &g_stop;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  if (!o.csv_log.empty()) {
    csv = std::make_unique<CSVLogger>(o.csv_log);
    cbs.push_back(csv.get());
  }
  const History h = trainer.fit(d.train, d.heldout ? &*d.heldout : nullptr, fo, cbs);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!o.history.empty()) h.save_json(o.history);
  if (trainer.was_stopped()) {
    const std::string path = checkpoints.save(trainer.stopped_epoch(), trainer.stopped_step());
    const int sig = g_signal.load();
    std::fprintf(stderr,
                 "dptrain: stopped by %s after epoch %lld, step %lld; checkpoint written to %s (continue with --resume "
                 "--checkpoint-dir %s)\n",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)trainer.stopped_epoch(), (long long)trainer.stopped_step(),
                 path.c_str(), o.checkpoint_dir.empty() ? "." : o.checkpoint_dir.c_str());
    throw ExitRequest{128 + (sig ? sig : SIGINT)};
  }
  if (!o.save_weights.empty()) {
    save_weights_as_keras(*model, o.save_weights, &trainer.optimizer());
    if (o.verbose > 0) std::printf("saved weights to %s\n", o.save_weights.c_str());
  }
  if (!o.save_model.empty()) {
    TrainingState done = base;
    done.epoch = fo.epochs;
    // A .keras archive is Keras's own file: it carries no resume state (checkpoints do).
    save_model(*model, o.save_model, trainer.loss_spec(), trainer.metric_requests(), &trainer.optimizer(),
               keras_archive_path(o.save_model) ? nullptr : &done);
    if (o.verbose > 0) std::printf("saved model to %s\n", o.save_model.c_str());
  }
}

}  // namespace

void setup_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "train a model (default: digits-cnn on the embedded digits data)");
  add_model_options(*cmd, o->m, true);
  add_parallel_options(*cmd, o->m);
  cmd->add_option("--epochs", o->epochs, "epochs (default: the preset's)")->check(kPositive);
  std::vector<std::string> optimizers;
  for (const auto& [cls, name] : kOptimizerClasses) optimizers.push_back(name);
  cmd->add_option("--optimizer", o->optimizer,
                  "sgd | rmsprop | adam | adamw | adagrad | adamax | nadam | adadelta | lion (default: the preset's)")
      ->check(CLI::IsMember(optimizers));
  cmd->add_option("--lr", o->lr, "learning rate (default: the preset's, else Keras's)")->check(kPositive);
  cmd->add_option("--momentum", o->momentum, "momentum for sgd/rmsprop")->check(kNonNegative);
  cmd->add_flag("--nesterov", o->nesterov, "Nesterov momentum (sgd)");
  cmd->add_option("--weight-decay", o->weight_decay,
                  "decoupled weight decay, w -= w * X * lr before each step (Keras's weight_decay; adamw: 0.004)")
      ->check(kNonNegative);
  cmd->add_option("--clipnorm", o->clipnorm, "clip each weight's gradient to this L2 norm (Keras's clipnorm)")
      ->check(kPositive);
  cmd->add_option("--clipvalue", o->clipvalue, "clip every gradient element to [-X, X] (Keras's clipvalue)")
      ->check(kPositive);
  cmd->add_option("--gradient-accumulation-steps", o->gradient_accumulation_steps,
                  "update every N steps from the N batches' averaged gradients (Keras's gradient_accumulation_steps)")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 30));
  cmd->add_flag("--use-ema", o->use_ema,
                "keep a moving average of the weights, which replaces them at the end of training (Keras's use_ema)");
  cmd->add_option("--ema-momentum", o->ema_momentum, "the moving average's momentum (default 0.99; implies --use-ema)")
      ->check(kUnitInterval);
  cmd->add_option("--ema-overwrite-frequency", o->ema_overwrite_frequency,
                  "also replace the weights with their moving average every N steps (implies --use-ema)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_option("--global-clipnorm", o->global_clipnorm,
                  "clip all gradients together to this L2 norm (Keras's global_clipnorm)")
      ->check(kPositive);
  cmd->add_flag("--no-shuffle", o->no_shuffle, "keep the sample order every epoch");
  cmd->add_option("--steps-per-epoch", o->steps_per_epoch, "steps per epoch (default: all batches)")->check(kPositive);
  cmd->add_option("--weights", o->m.weights, "start from these weights (.h5, Keras save_weights layout)");
  cmd->add_option("--save-weights", o->save_weights, "write the final weights (Keras save_weights HDF5 layout)");
  cmd->add_option("--save-model", o->save_model, "write the whole model (Keras model.save .h5 layout, with optimizer "
                                                 "state and what --resume needs)");
  cmd->add_option("--checkpoint-dir", o->checkpoint_dir, "write checkpoints DIR/ckpt_{epoch:04d}.h5");
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "epochs between checkpoints (default 1)")->check(kPositive);
  cmd->add_option("--keep", o->keep, "keep only the newest K checkpoints (default: all)")->check(kPositive);
  cmd->add_flag("--resume", o->resume, "continue from the newest complete checkpoint in --checkpoint-dir");
  cmd->add_option("--early-stopping", o->early_stopping, "stop when --monitor has not improved for PATIENCE epochs")
      ->check(kNonNegative);
  cmd->add_option("--min-delta", o->min_delta,
                  "with --early-stopping: the least change of --monitor that counts as an improvement (Keras's "
                  "min_delta, default 0)")
      ->check(kNonNegative);
  cmd->add_option("--monitor", o->monitor, "the log early stopping, the plateau rule and --save-best watch")
      ->capture_default_str();
  cmd->add_flag("--restore-best-weights", o->restore_best, "with --early-stopping: end with the best epoch's weights");
  cmd->add_option("--reduce-lr-on-plateau", o->reduce_lr,
                  "FACTOR:PATIENCE[:min_lr=X,cooldown=N,min_delta=X]: multiply the learning rate by FACTOR when "
                  "--monitor has not improved for PATIENCE epochs (Keras's ReduceLROnPlateau; min_delta 1e-4)");
  cmd->add_option("--lr-schedule", o->lr_schedule, "step:EVERY:GAMMA | exp:GAMMA | cosine (per epoch)");
  cmd->add_option("--lr-decay", o->lr_decay,
                  "a Keras schedule as the learning rate, computed every step: CLASS:key=value,... (ExponentialDecay, "
                  "PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts; "
                  "initial_learning_rate defaults to --lr), or none (a file's schedule replaced by its initial rate)");
  cmd->add_option("--save-best", o->save_best, "save the model whenever --monitor improves (path may hold {epoch}, "
                                               "{val_loss:.2f}, ...)");
  cmd->add_option("--class-weight", o->class_weight,
                  "balanced, or a JSON file {\"0\": 1.0, \"1\": 3.5}: weigh each "
                  "sample's loss (and weighted metrics) by its class, as Keras's class_weight");
  cmd->add_option("--scale-lr", o->scale_lr, "large batches: scale the learning rate by the replica count (linear) "
                                             "or its square root (sqrt)")
      ->check(CLI::IsMember({"linear", "sqrt", "none"}))
      ->capture_default_str();
  cmd->add_option("--warmup-epochs", o->warmup_epochs, "ramp the learning rate per step from the unscaled to the "
                                                       "scaled value over N epochs (Goyal et al. 2017)")
      ->check(kNonNegative);
  cmd->add_option("--history", o->history, "write the History as JSON");
  cmd->add_option("--csv-log", o->csv_log, "write per-epoch logs as CSV (Keras's CSVLogger columns)");
  cmd->add_option("--verbose", o->verbose, "0 silent, 1 progress bar (one line per epoch off a terminal), 2 one line per epoch")
      ->check(CLI::IsMember({0, 1, 2}))
      ->capture_default_str();
  cmd->callback([o] { run_train(*o); });
}

}  // namespace dpt::app
