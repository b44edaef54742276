// `dptrain train`: fit a preset model on a data spec with Keras's semantics and progress output.
#include <cstdio>
#include <memory>
#include "apps/options.h"
#include "core/callbacks/progbar.h"
#include "core/error.h"
#include "core/io/hdf5_weights.h"
#include "core/losses.h"
#include "kernels/gemm.h"
#include "parallel/devices.h"
#include "parallel/trainer.h"

namespace dpt::app {

namespace {

struct TrainOptions {
  ModelOptions m;
  int64_t epochs = 0;  // 0: the preset's
  std::string optimizer;
  double lr = 0, momentum = -1;
  bool nesterov = false, no_shuffle = false;
  int64_t steps_per_epoch = 0;
  std::string save_weights, history, csv_log;
  int verbose = 1;
};

OptimizerConfig optimizer_config(const TrainOptions& o, const Preset& p) {
  OptimizerConfig c = p.optimizer;
  if (!o.optimizer.empty() && o.optimizer != c.name) {
    c = OptimizerConfig{};  // another optimizer: Keras's defaults for it
    c.name = o.optimizer;
  }
  if (o.lr > 0) c.learning_rate = o.lr;
  if (o.momentum >= 0) c.momentum = o.momentum;
  c.nesterov = o.nesterov;
  return c;
}

void run_train(const TrainOptions& o) {
  const Preset p = model_preset(o.m.model, o.m.seed);
  check_writable(o.save_weights, "weights");
  check_writable(o.history, "history");
  check_writable(o.csv_log, "CSV log");
  const int threads = resolved_threads(o.m.threads);
  kernels::set_cpu_threads(threads);
  LoadedData d = load_data(o.m, p);
  auto model = build_model(o.m, p);
  auto opt = make_optimizer(optimizer_config(o, p));
  const LossKind loss = loss_from_name(o.m.loss);
  const ParallelSetup par = parallel_setup(o.m);
  Trainer trainer(*model, par.devices, loss, *opt, threads, par.options);

  FitOptions fo;
  fo.epochs = o.epochs > 0 ? o.epochs : p.epochs;
  fo.batch_size = o.m.batch_size > 0 ? o.m.batch_size : p.batch_size;
  fo.shuffle = !o.no_shuffle;
  fo.steps_per_epoch = o.steps_per_epoch;
  fo.seed = o.m.seed;
  fo.verbose = o.verbose;
  if (o.verbose > 0) {
    std::printf("dptrain: model %s (%lld params) | %s\n", p.name.c_str(), (long long)model->num_params(),
                par.describe(threads, fo.batch_size).c_str());
    std::printf("data: %s | train %lld samples", d.description.c_str(), (long long)d.train.size());
    if (d.heldout) std::printf(", %s %lld samples", d.heldout_name.c_str(), (long long)d.heldout->size());
    std::printf("\noptimizer: %s | loss: %s\n", opt->describe().c_str(), loss_name(loss).c_str());
    std::fflush(stdout);
  }
  ProgressBar bar;
  std::unique_ptr<CSVLogger> csv;
  std::vector<Callback*> cbs{&bar};
  if (!o.csv_log.empty()) {
    csv = std::make_unique<CSVLogger>(o.csv_log);
    cbs.push_back(csv.get());
  }
  const History h = trainer.fit(d.train, d.heldout ? &*d.heldout : nullptr, fo, cbs);
  if (!o.history.empty()) h.save_json(o.history);
  if (!o.save_weights.empty()) {
    save_weights(*model, o.save_weights);
    if (o.verbose > 0) std::printf("saved weights to %s\n", o.save_weights.c_str());
  }
}

}  // namespace

void setup_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "train a model (default: digits-cnn on the embedded digits data)");
  add_model_options(*cmd, o->m, true);
  add_parallel_options(*cmd, o->m);
  cmd->add_option("--epochs", o->epochs, "epochs (default: the preset's)")->check(kPositive);
  cmd->add_option("--optimizer", o->optimizer, "sgd | rmsprop | adam (default: the preset's)")
      ->check(CLI::IsMember({"sgd", "rmsprop", "adam"}));
  cmd->add_option("--lr", o->lr, "learning rate (default: the preset's, else Keras's)")->check(kPositive);
  cmd->add_option("--momentum", o->momentum, "momentum for sgd/rmsprop")->check(kNonNegative);
  cmd->add_flag("--nesterov", o->nesterov, "Nesterov momentum (sgd)");
  cmd->add_flag("--no-shuffle", o->no_shuffle, "keep the sample order every epoch");
  cmd->add_option("--steps-per-epoch", o->steps_per_epoch, "steps per epoch (default: all batches)")->check(kPositive);
  cmd->add_option("--weights", o->m.weights, "start from these weights (.h5, Keras save_weights layout)");
  cmd->add_option("--save-weights", o->save_weights, "write the final weights (Keras save_weights HDF5 layout)");
  cmd->add_option("--history", o->history, "write the History as JSON");
  cmd->add_option("--csv-log", o->csv_log, "write per-epoch logs as CSV (Keras's CSVLogger columns)");
  cmd->add_option("--verbose", o->verbose, "0 silent, 1 progress bar (one line per epoch off a terminal), 2 one line per epoch")
      ->check(CLI::IsMember({0, 1, 2}))
      ->capture_default_str();
  cmd->callback([o] { run_train(*o); });
}

}  // namespace dpt::app
