// `dptrain evaluate` and `dptrain predict`: a preset model with weights from an .h5 file.
#include <cstdio>
#include <memory>
#include "apps/options.h"
#include "core/data/npy.h"
#include "core/error.h"
#include "core/losses.h"
#include "kernels/gemm.h"
#include "parallel/devices.h"
#include "parallel/trainer.h"

namespace dpt::app {

namespace {

struct EvalOptions {
  ModelOptions m;
  std::string output;
  int64_t show = 10;
};

void require_weights(const EvalOptions& o, const char* cmd) {
  DPT_CHECK(!o.m.weights.empty() || holds_whole_model(o.m.model),
            cmd << " needs trained weights: --weights FILE.h5, or --model FILE.h5 (or FILE.keras) holding a whole "
                   "model");
}

void run_evaluate(const EvalOptions& o) {
  require_weights(o, "evaluate");
  const Preset p = model_preset(o.m.model, o.m.seed);
  const Compiled compiled = compiled_defaults(o.m, p, true);  // the loss and metric Keras's evaluate() would use
  const int threads = resolved_threads(o.m.threads);
  kernels::set_cpu_threads(threads);
  auto model = build_model(o.m, p);
  LoadedData d = load_data(o.m, p);
  const Dataset& data = d.heldout ? *d.heldout : d.train;
  auto opt = make_optimizer(p.optimizer);
  const ParallelSetup par = parallel_setup(o.m);
  Trainer trainer(*model, par.devices, loss_from_name(compiled.loss, compiled.from_logits), *opt, threads, par.options);
  trainer.set_metrics(compiled.metrics);
  trainer.set_label_smoothing(compiled.label_smoothing);
  trainer.set_huber_delta(compiled.huber_delta);
  trainer.set_focal(compiled.focal);
  const EvalResult r = trainer.evaluate(data, o.m.batch_size > 0 ? o.m.batch_size : p.batch_size);
  std::printf("evaluated %s on %lld %ssamples of %s\nloss: %.4f", p.name.c_str(), (long long)data.size(),
              d.heldout ? (d.heldout_name + " ").c_str() : "", d.description.c_str(), r.loss);
  for (size_t k = 0; k < r.metrics.size(); ++k)
    std::printf(" - %s: %.4f", trainer.metrics()[k].name.c_str(), r.metrics[k]);
  std::printf("\n");
}

void run_predict(const EvalOptions& o) {
  require_weights(o, "predict");
  const Preset p = model_preset(o.m.model, o.m.seed);
  if (!o.output.empty()) check_writable(o.output, "predictions");
  const int threads = resolved_threads(o.m.threads);
  kernels::set_cpu_threads(threads);
  auto model = build_model(o.m, p);
  ModelOptions all = o.m;
  all.validation_split = 0;  // predict every sample of the data
  LoadedData d = load_data(all, p);
  auto opt = make_optimizer(p.optimizer);
  const ParallelSetup par = parallel_setup(o.m);
  Trainer trainer(*model, par.devices, LossKind::categorical_crossentropy, *opt, threads, par.options);
  const std::vector<float> out = trainer.predict(d.train, o.m.batch_size > 0 ? o.m.batch_size : p.batch_size);
  const int64_t width = shape_numel(model->output_shape()), n = d.train.size();
  if (!o.output.empty()) {
    Shape shape = model->output_shape();  // Keras's predict shape: (samples, the output's shape)
    shape.insert_front(n);
    write_npy(o.output, shape, out.data());
    std::printf("wrote predictions %s to %s\n", shape_str(shape).c_str(), o.output.c_str());
  }
  for (int64_t i = 0; i < std::min(o.show, n); ++i) {
    const float* row = out.data() + i * width;
    const int64_t cls = std::max_element(row, row + width) - row;
    std::printf("sample %lld: class %lld (p=%.4f)\n", (long long)i, (long long)cls, row[cls]);
  }
}

void add_eval_options(CLI::App* cmd, EvalOptions& o) {
  add_model_options(*cmd, o.m, true);
  add_parallel_options(*cmd, o.m);
  cmd->add_option("--weights", o.m.weights, "weights file (.h5: Keras legacy or Keras 3 layout; optional with --model FILE.h5)");
}

}  // namespace

void setup_eval(CLI::App& app) {
  auto e = std::make_shared<EvalOptions>();
  CLI::App* ev = app.add_subcommand("evaluate", "loss and metrics of saved weights on the held-out data");
  add_eval_options(ev, *e);
  ev->callback([e] { run_evaluate(*e); });

  auto p = std::make_shared<EvalOptions>();
  CLI::App* pr = app.add_subcommand("predict", "predictions of saved weights for every sample of the data");
  add_eval_options(pr, *p);
  pr->add_option("--output", p->output, "write the predictions as .npy (float32, (samples, outputs))");
  pr->add_option("--show", p->show, "print the predicted class of the first N samples")->check(kNonNegative);
  pr->callback([p] { run_predict(*p); });
}

}  // namespace dpt::app
