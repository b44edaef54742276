// ParallelModel: a thin Keras-shaped front over the Trainer.
#include "parallel/parallel_model.h"
#include "core/error.h"
#include "parallel/devices.h"

namespace dpt {

ParallelModel::ParallelModel(Sequential& template_model, std::vector<Device> devices, int threads)
    : template_(template_model), devices_(std::move(devices)), threads_(threads) {
  DPT_CHECK(!devices_.empty(), "ParallelModel needs at least one device");
}

void ParallelModel::compile(LossKind loss, const Optimizer& optimizer, ParallelOptions options) {
  trainer_ = std::make_unique<Trainer>(template_, devices_, loss, optimizer, threads_, options);
}

Trainer& ParallelModel::trainer() {
  DPT_CHECK(trainer_, "call compile() before fit/evaluate/predict, as in Keras");
  return *trainer_;
}

History ParallelModel::fit(const Dataset& x, const Dataset* validation, const FitOptions& opt,
                           const std::vector<Callback*>& callbacks) {
  return trainer().fit(x, validation, opt, callbacks);
}

EvalResult ParallelModel::evaluate(const Dataset& data, int64_t batch_size) {
  return trainer().evaluate(data, batch_size);
}

std::vector<float> ParallelModel::predict(const Dataset& data, int64_t batch_size) {
  return trainer().predict(data, batch_size);
}

ParallelModel multi_gpu_model(Sequential& model, int gpus) {
  DPT_CHECK(gpus >= 1, "multi_gpu_model needs gpus >= 1, got " << gpus);
  return ParallelModel(model, select_devices(std::to_string(gpus), 0), 1);
}

}  // namespace dpt
