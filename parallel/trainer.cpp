// The training loop: batches, slices, per-replica forward/backward, gradient sum, updates, logs.
#include "parallel/trainer.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include "core/error.h"
#include "kernels/gemm.h"
#include "kernels/random_math.h"
#include "parallel/slicing.h"

namespace dpt {

struct Trainer::Replica {
  std::unique_ptr<Sequential> model;
  std::unique_ptr<Optimizer> opt;
  Context ctx;
};

Trainer::Trainer(Sequential& model, std::vector<Device> devices, LossKind loss, const Optimizer& optimizer, int threads)
    : template_(model), loss_(loss), threads_(std::max(threads, 1)) {
  DPT_CHECK(model.built(), "model '" << model.name() << "' must be built before training");
  DPT_CHECK(!devices.empty(), "no devices to train on");
  for (const Device& d : devices) {
    DPT_CHECK(d.is_cpu(), "training on " << d.str() << " needs the CUDA layer backend, which this build does not have yet; "
                                                    "train on CPU replicas (--replicas N) instead");
    auto r = std::make_unique<Replica>();
    r->model = model.clone();
    r->opt = optimizer.clone();
    r->opt->build(model.num_trainable(), d);
    r->ctx.device = d;
    r->ctx.threads = std::max(1, threads_ / int(devices.size()));
    replicas_.push_back(std::move(r));
  }
  fused_ = loss_fuses_with(loss, model.layers().back()->output_activation());
  for (auto& r : replicas_) r->model->set_fused_output_grad(fused_);
  acc_ = accuracy_for(loss, shape_numel(model.output_shape()));
}

Trainer::~Trainer() = default;

const Optimizer& Trainer::optimizer() const { return *replicas_[0]->opt; }

void Trainer::check_data(const Dataset& d, const char* what) const {
  DPT_CHECK(d.sample_shape == template_.input_shape(),
            what << " samples have shape " << shape_str(d.sample_shape) << " but model '" << template_.name()
                 << "' expects inputs of shape " << shape_str(template_.input_shape()));
  const int64_t width = shape_numel(template_.output_shape());
  if (d.y_is_index && width > 1)
    DPT_CHECK(d.num_classes <= width, what << " labels span " << d.num_classes << " classes but model '"
                                           << template_.name() << "' outputs " << width);
  if (!d.y_is_index)
    DPT_CHECK(d.y_dim == width, what << " targets have " << d.y_dim << " columns but model '" << template_.name()
                                     << "' outputs " << width);
}

Dataset Trainer::targets_for(const Dataset& d) const {
  const int64_t width = shape_numel(template_.output_shape());
  Dataset t = d.slice(0, d.size());
  if (loss_ == LossKind::sparse_categorical_crossentropy) {
    if (!t.y_is_index) {  // one-hot rows -> class indices
      std::vector<float> idx(size_t(t.size()));
      for (int64_t i = 0; i < t.size(); ++i) {
        const float* row = t.y.data() + i * t.y_dim;
        idx[size_t(i)] = float(std::max_element(row, row + t.y_dim) - row);
      }
      t.y.swap(idx);
      t.y_dim = 1;
      t.y_is_index = true;
    }
  } else if (t.y_is_index && width > 1) {
    t.num_classes = width;
    t.to_one_hot();
  }
  return t;
}

void Trainer::prepare(int64_t global_batch, const Dataset& like) {
  DPT_CHECK(global_batch >= 1, "batch size must be >= 1, got " << global_batch);
  const int64_t N = replicas();
  const int64_t biggest_slice = global_batch - (N - 1) * (global_batch / N);
  for (auto& r : replicas_) r->model->prepare(std::max<int64_t>(biggest_slice, 1));
  if (global_batch > batch_cap_ || like.y_dim != y_dim_) {
    batch_cap_ = std::max(global_batch, batch_cap_);
    Shape xs = template_.input_shape();
    xs.insert_front(batch_cap_);
    x_buf_ = Tensor(xs);
    y_buf_ = Tensor({batch_cap_, like.y_dim});
    y_dim_ = like.y_dim;
  }
}

void Trainer::load_batch(const Dataset& data, const int64_t* idx, int64_t n) {
  const int64_t s = data.sample_numel();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(x_buf_.data() + i * s, data.x.data() + idx[i] * s, sizeof(float) * size_t(s));
    if (!data.y.empty())
      std::memcpy(y_buf_.data() + i * y_dim_, data.y.data() + idx[i] * y_dim_, sizeof(float) * size_t(y_dim_));
  }
}

double Trainer::train_step(int64_t rows, int64_t epoch, int64_t step, double* correct) {
  const int64_t N = replicas();
  double total = 0;
  for (int64_t r = 0; r < N; ++r) {
    Replica& rep = *replicas_[size_t(r)];
    kernels::set_cpu_threads(rep.ctx.threads);
    rep.model->zero_grads();
    const Slice s = batch_slice(rows, N, r);
    if (s.count == 0) continue;  // an empty slice does no work this step
    rep.ctx.key = {seed_, epoch, step, s.offset};
    Tensor x = x_buf_.rows(s.offset, s.count), y = y_buf_.rows(s.offset, s.count);
    Tensor out = rep.model->forward(rep.ctx, x, true);
    Tensor g = rep.model->output_grad(s.count);
    total += loss_sum(loss_, fused_, out, y, 1.f / float(rows), &g);
    if (correct) *correct += accuracy_sum(acc_, out, y);
    rep.model->backward(rep.ctx, x);
  }
  if (N > 1) {  // host sum of the gradient arenas (the communicator of the data-parallel issue replaces this)
    float* g0 = replicas_[0]->model->grads();
    const int64_t n = template_.num_trainable();
    for (int64_t r = 1; r < N; ++r) {
      const float* gr = replicas_[size_t(r)]->model->grads();
      for (int64_t i = 0; i < n; ++i) g0[i] += gr[i];
    }
    for (int64_t r = 1; r < N; ++r) std::memcpy(replicas_[size_t(r)]->model->grads(), g0, sizeof(float) * size_t(n));
  }
  for (auto& rep : replicas_) rep->opt->apply(rep->ctx, rep->model->params(), rep->model->grads());
  return total;
}

History Trainer::fit(const Dataset& train_in, const Dataset* val_in, const FitOptions& opt,
                     const std::vector<Callback*>& user_callbacks) {
  DPT_CHECK(opt.epochs >= 1, "epochs must be >= 1, got " << opt.epochs);
  DPT_CHECK(opt.batch_size >= 1, "batch size must be >= 1, got " << opt.batch_size);
  DPT_CHECK(opt.steps_per_epoch >= 0, "steps per epoch must be >= 0, got " << opt.steps_per_epoch);
  check_data(train_in, "training");
  if (val_in) check_data(*val_in, "validation");
  const Dataset train = targets_for(train_in);
  std::optional<Dataset> val;
  if (val_in) val = targets_for(*val_in);
  seed_ = opt.seed;
  prepare(opt.batch_size, train);

  const int64_t n = train.size(), B = opt.batch_size;
  const int64_t steps = opt.steps_per_epoch > 0 ? opt.steps_per_epoch : (n + B - 1) / B;
  Logs logs;
  logs.add("loss");
  logs.add("accuracy");
  if (val) {
    logs.add("val_loss");
    logs.add("val_accuracy");
  }
  History history;
  std::vector<Callback*> cbs = user_callbacks;
  cbs.push_back(&history);
  TrainInfo info{opt.epochs, steps, n, opt.verbose};
  for (auto* c : cbs) c->on_train_begin(info);

  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t epoch = 0; epoch < opt.epochs; ++epoch) {
    std::iota(perm.begin(), perm.end(), 0);
    if (opt.shuffle) {
      std::mt19937_64 rng(kernels::mix64(opt.seed ^ kernels::mix64(uint64_t(epoch) + 1)));
      std::shuffle(perm.begin(), perm.end(), rng);
    }
    logs.clear();
    for (auto* c : cbs) c->on_epoch_begin(epoch);
    double loss_total = 0, correct = 0;
    int64_t seen = 0, cursor = 0;
    for (int64_t step = 0; step < steps; ++step) {
      if (cursor >= n) cursor = 0;  // --steps-per-epoch beyond the data wraps around
      const int64_t rows = std::min(B, n - cursor);
      load_batch(train, perm.data() + cursor, rows);
      cursor += rows;
      const double l = train_step(rows, epoch, step, &correct);
      DPT_CHECK(std::isfinite(l), "loss became " << (std::isnan(l) ? "NaN" : "Inf") << " at epoch " << epoch + 1
                                                 << ", step " << step + 1
                                                 << "; training stopped (try a lower learning rate or check the data "
                                                    "for extreme values)");
      loss_total += l;
      seen += rows;
      logs.set(0, loss_total / double(seen));
      logs.set(1, correct / double(seen));
      for (auto* c : cbs) c->on_batch_end(step, logs);
    }
    if (val) {
      const EvalResult r = evaluate_targets(*val, B);
      logs.set(2, r.loss);
      logs.set(3, r.accuracy);
    }
    for (auto* c : cbs) c->on_epoch_end(epoch, logs);
  }
  sync_template();
  for (auto* c : cbs) c->on_train_end();
  return history;
}

EvalResult Trainer::evaluate(const Dataset& data_in, int64_t batch_size) {
  check_data(data_in, "evaluation");
  return evaluate_targets(targets_for(data_in), batch_size);
}

EvalResult Trainer::evaluate_targets(const Dataset& data, int64_t batch_size) {
  prepare(batch_size, data);
  const int64_t n = data.size(), N = replicas();
  std::vector<int64_t> idx(size_t(std::min(batch_size, n)));
  double loss_total = 0, correct = 0;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t rows = std::min(batch_size, n - start);
    std::iota(idx.begin(), idx.begin() + rows, start);
    load_batch(data, idx.data(), rows);
    for (int64_t r = 0; r < N; ++r) {
      Replica& rep = *replicas_[size_t(r)];
      kernels::set_cpu_threads(rep.ctx.threads);
      const Slice s = batch_slice(rows, N, r);
      if (s.count == 0) continue;
      Tensor x = x_buf_.rows(s.offset, s.count), y = y_buf_.rows(s.offset, s.count);
      Tensor out = rep.model->forward(rep.ctx, x, false);
      loss_total += loss_sum(loss_, fused_, out, y, 1.f, nullptr);
      correct += accuracy_sum(acc_, out, y);
    }
  }
  return {loss_total / double(n), correct / double(n)};
}

std::vector<float> Trainer::predict(const Dataset& data, int64_t batch_size) {
  DPT_CHECK(data.sample_shape == template_.input_shape(),
            "samples have shape " << shape_str(data.sample_shape) << " but model '" << template_.name()
                                  << "' expects inputs of shape " << shape_str(template_.input_shape()));
  const int64_t width = shape_numel(template_.output_shape());
  prepare(batch_size, data);
  const int64_t n = data.size(), N = replicas();
  std::vector<float> out(size_t(n * width));
  std::vector<int64_t> idx(size_t(std::min(batch_size, n)));
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t rows = std::min(batch_size, n - start);
    std::iota(idx.begin(), idx.begin() + rows, start);
    load_batch(data, idx.data(), rows);
    for (int64_t r = 0; r < N; ++r) {
      Replica& rep = *replicas_[size_t(r)];
      kernels::set_cpu_threads(rep.ctx.threads);
      const Slice s = batch_slice(rows, N, r);
      if (s.count == 0) continue;
      Tensor o = rep.model->forward(rep.ctx, x_buf_.rows(s.offset, s.count), false);
      std::memcpy(out.data() + (start + s.offset) * width, o.data(), sizeof(float) * size_t(o.numel()));
    }
  }
  return out;
}

void Trainer::sync_template() { template_.copy_params_from(*replicas_[0]->model); }

}  // namespace dpt
