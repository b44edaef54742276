// The training loop: batches, slices, per-replica forward/backward on replica threads, bucketed
// gradient collectives, updates, logs.
#include "parallel/trainer.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include "core/error.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_model.h"
#include "kernels/gemm.h"
#include "kernels/random_math.h"
#include "parallel/communicator.h"
#include "parallel/replica_pool.h"
#include "parallel/slicing.h"

namespace dpt {

Strategy strategy_from_name(const std::string& n) {
  if (n == "allreduce") return Strategy::allreduce;
  if (n == "ps") return Strategy::parameter_server;
  DPT_FAIL("unknown strategy '" << n << "' (supported: allreduce, ps)");
}

std::string strategy_name(Strategy s) { return s == Strategy::allreduce ? "allreduce" : "ps"; }

namespace {

using Clock = std::chrono::steady_clock;

// Gathers the gradient ranges backward reports (they arrive in reverse layer order, each ending
// where the pending bucket begins) and reduces a bucket once it is big enough.
class BucketReducer : public GradReadyHook {
 public:
  void setup(Communicator* comm, int rank, float* grads, int64_t bucket_elems, bool to_root) {
    comm_ = comm;
    rank_ = rank;
    grads_ = grads;
    bucket_ = std::max<int64_t>(bucket_elems, 1);
    to_root_ = to_root;
  }
  void begin_step() {
    lo_ = hi_ = -1;
    seconds_ = 0;
    bytes_ = 0;
  }
  void ready(int64_t begin, int64_t end) override {
    if (hi_ < 0) hi_ = end;
    DPT_CHECK(end == (lo_ < 0 ? hi_ : lo_), "gradient ranges must arrive in reverse arena order");
    lo_ = begin;
    if (hi_ - lo_ >= bucket_) flush();
  }
  void flush() {
    if (lo_ < 0 || hi_ <= lo_) return;
    const auto t = Clock::now();
    if (to_root_)
      comm_->reduce_sum(rank_, grads_ + lo_, hi_ - lo_, 0);
    else
      comm_->all_reduce_sum(rank_, grads_ + lo_, hi_ - lo_);
    seconds_ += std::chrono::duration<double>(Clock::now() - t).count();
    bytes_ += (hi_ - lo_) * int64_t(sizeof(float));
    hi_ = lo_;
  }
  double seconds_ = 0;
  int64_t bytes_ = 0;

 private:
  Communicator* comm_ = nullptr;
  int rank_ = 0;
  float* grads_ = nullptr;
  int64_t bucket_ = 1;
  bool to_root_ = false;
  int64_t lo_ = -1, hi_ = -1;
};

class CommBatchSync : public BatchSync {
 public:
  CommBatchSync(Communicator* comm, int rank) : comm_(comm), rank_(rank) {}
  void sum(double* data, int64_t n) override { comm_->all_reduce_sum(rank_, data, n); }

 private:
  Communicator* comm_;
  int rank_;
};

uint64_t checksum(const float* p, int64_t n) {  // FNV-1a over the bits
  uint64_t h = 1469598103934665603ULL;
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  for (int64_t i = 0; i < n * int64_t(sizeof(float)); ++i) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

}  // namespace

struct Trainer::Replica {
  std::unique_ptr<Sequential> model;
  std::unique_ptr<Optimizer> opt;
  Context ctx;
  BucketReducer reducer;
  std::unique_ptr<CommBatchSync> sync;
  double loss = 0, correct = 0;
};

Trainer::Trainer(Sequential& model, std::vector<Device> devices, LossKind loss, const Optimizer& optimizer, int threads,
                 ParallelOptions options)
    : template_(model), loss_(loss), threads_(std::max(threads, 1)), popt_(options) {
  DPT_CHECK(model.built(), "model '" << model.name() << "' must be built before training");
  DPT_CHECK(!devices.empty(), "no devices to train on");
  DPT_CHECK(popt_.check_every >= 0, "--check-replicas must be >= 0, got " << popt_.check_every);
  const int N = int(devices.size());
  comm_ = std::make_unique<HostCommunicator>(N);
  for (int r = 0; r < N; ++r) {
    const Device& d = devices[size_t(r)];
    DPT_CHECK(d.is_cpu(), "training on " << d.str() << " needs the CUDA layer backend, which this build does not have yet; "
                                                    "train on CPU replicas (--replicas N) instead");
    auto rep = std::make_unique<Replica>();
    rep->model = model.clone();
    rep->opt = optimizer.clone();
    rep->opt->build(model.num_trainable(), d);
    rep->ctx.device = d;
    rep->ctx.threads = std::max(1, threads_ / N);
    rep->reducer.setup(comm_.get(), r, rep->model->grads(), popt_.bucket_bytes / int64_t(sizeof(float)),
                       popt_.strategy == Strategy::parameter_server);
    if (popt_.sync_batchnorm && N > 1) {
      rep->sync = std::make_unique<CommBatchSync>(comm_.get(), r);
      rep->ctx.batch_sync = rep->sync.get();
    }
    replicas_.push_back(std::move(rep));
  }
  if (N > 1) {
    pool_ = std::make_unique<ReplicaPool>(
        N, [this](int r) { kernels::set_cpu_threads(replicas_[size_t(r)]->ctx.threads); },
        [this] { comm_->abort(); });
  }
  fused_ = loss_fuses_with(loss, model.layers().back()->output_activation());
  for (auto& r : replicas_) r->model->set_fused_output_grad(fused_);
  acc_ = accuracy_for(loss, shape_numel(model.output_shape()));
}

Trainer::~Trainer() = default;

const Optimizer& Trainer::optimizer() const { return *replicas_[0]->opt; }
Sequential& Trainer::replica_model(int r) { return *replicas_.at(size_t(r))->model; }

template <typename F>
void Trainer::on_replicas(F& f) {
  if (pool_) {
    pool_->run(f);
  } else {
    kernels::set_cpu_threads(replicas_[0]->ctx.threads);
    f(0);
  }
}

void Trainer::check_data(const Dataset& d, const char* what) const {
  DPT_CHECK(d.has_labels(), what << " data has no labels: give them (for .npy data: npy:XFILE,YFILE)");
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
  if (int64_t(w_buf_.size()) < batch_cap_) w_buf_.assign(size_t(batch_cap_), 1.f);
}

void Trainer::load_batch(const Dataset& data, const int64_t* idx, int64_t n) {
  const int64_t s = data.sample_numel();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(x_buf_.data() + i * s, data.x.data() + idx[i] * s, sizeof(float) * size_t(s));
    if (!data.y.empty())
      std::memcpy(y_buf_.data() + i * y_dim_, data.y.data() + idx[i] * y_dim_, sizeof(float) * size_t(y_dim_));
    if (use_w_) w_buf_[size_t(i)] = train_w_[size_t(idx[i])];
  }
}

double Trainer::train_step(int64_t rows, int64_t epoch, int64_t step, double* correct) {
  const int N = replicas();
  const int64_t T = template_.num_trainable();
  const bool ps = popt_.strategy == Strategy::parameter_server;
  // Per-replica batch statistics give per-replica moving statistics; they are merged every step,
  // so replicas stay identical (a checkpoint at any step then resumes exactly).
  const bool merge_stats = N > 1 && !popt_.sync_batchnorm && template_.num_params() > T;
  auto work = [&](int r) {
    Replica& rep = *replicas_[size_t(r)];
    Sequential& m = *rep.model;
    const Slice s = batch_slice(rows, N, r);
    rep.loss = rep.correct = 0;
    rep.reducer.begin_step();
    m.zero_grads();
    GradReadyHook* hook = N > 1 ? &rep.reducer : nullptr;
    // A replica with an empty slice does no work, but still joins the collectives (and, with
    // synchronised batch norm, runs its zero rows through the model to join the statistics sums).
    if (s.count > 0 || rep.ctx.batch_sync) {
      rep.ctx.key = {seed_, epoch, step, s.offset};
      Tensor x = x_buf_.rows(s.offset, s.count), y = y_buf_.rows(s.offset, s.count);
      Tensor out = m.forward(rep.ctx, x, true);
      Tensor g = m.output_grad(s.count);
      if (s.count > 0) {
        rep.loss = loss_sum(loss_, fused_, out, y, 1.f / float(rows), &g, use_w_ ? w_buf_.data() + s.offset : nullptr);
        rep.correct = correct ? accuracy_sum(acc_, out, y) : 0;
      }
      m.backward(rep.ctx, x, hook);
    } else if (hook) {
      m.emit_grad_ranges(hook);
    }
    if (hook) rep.reducer.flush();
    if (merge_stats) {  // moving statistics: every replica takes the average (rank-order sum / N)
      const int64_t P = m.num_params();
      comm_->all_reduce_sum(r, m.params() + T, P - T);
      const float inv = 1.f / float(N);
      for (int64_t i = T; i < P; ++i) m.params()[i] *= inv;
    }
    if (!ps || r == 0) rep.opt->apply(rep.ctx, m.params(), m.grads());
    if (ps && N > 1) {  // the server's updated weights go back to every worker
      const auto t = Clock::now();
      comm_->broadcast(r, m.params(), T, 0);
      rep.reducer.seconds_ += std::chrono::duration<double>(Clock::now() - t).count();
      rep.reducer.bytes_ += T * int64_t(sizeof(float));
    }
  };
  on_replicas(work);
  double total = 0, comm_s = 0;
  for (auto& rep : replicas_) {  // rank order: the same sum whatever the thread timing
    total += rep->loss;
    if (correct) *correct += rep->correct;
    comm_s += rep->reducer.seconds_;
  }
  last_.comm_ms = 1000.0 * comm_s / N;
  last_.bytes_reduced = replicas_[0]->reducer.bytes_;
  ++steps_done_;
  if (popt_.check_every > 0 && steps_done_ % popt_.check_every == 0) check_replicas(epoch, step);
  return total;
}

double Trainer::learning_rate() const { return replicas_[0]->opt->learning_rate(); }

void Trainer::set_learning_rate(double lr) {
  DPT_CHECK(lr > 0 && std::isfinite(lr), "learning rate must be > 0, got " << lr);
  for (auto& rep : replicas_) rep->opt->set_learning_rate(lr);
}

std::vector<float> Trainer::get_weights() {
  sync_template();
  return std::vector<float>(template_.params(), template_.params() + template_.num_params());
}

void Trainer::set_weights(const std::vector<float>& w) {
  DPT_CHECK(int64_t(w.size()) == template_.num_params(), "set_weights: " << w.size() << " values for "
                                                                        << template_.num_params() << " weights");
  std::copy(w.begin(), w.end(), template_.params());
  for (auto& rep : replicas_) rep->model->copy_params_from(template_);
}

void Trainer::save_template(const std::string& path, bool weights_only) {
  sync_template();
  if (weights_only)
    save_weights(template_, path);
  else
    save_model(template_, path, loss_, replicas_[0]->opt.get(), nullptr);
}

void Trainer::set_optimizer_state(const Optimizer& state) {
  for (auto& rep : replicas_) rep->opt->copy_state_from(state);
}

void Trainer::check_replicas(int64_t epoch, int64_t step) const {
  const int64_t n = template_.num_params();  // trainable weights and merged moving statistics
  const uint64_t ref = checksum(replicas_[0]->model->params(), n);
  std::string bad;
  for (size_t r = 1; r < replicas_.size(); ++r)
    if (checksum(replicas_[r]->model->params(), n) != ref) bad += (bad.empty() ? "" : ", ") + std::to_string(r);
  DPT_CHECK(bad.empty(), "replica weights diverged at epoch " << epoch + 1 << ", step " << step + 1 << ": replica(s) "
                                                              << bad << " differ from replica 0; training stopped");
}

History Trainer::fit(const Dataset& train_in, const Dataset* val_in, const FitOptions& opt,
                     const std::vector<Callback*>& user_callbacks) {
  DPT_CHECK(opt.epochs >= 1, "epochs must be >= 1, got " << opt.epochs);
  DPT_CHECK(opt.batch_size >= 1, "batch size must be >= 1, got " << opt.batch_size);
  DPT_CHECK(opt.steps_per_epoch >= 0, "steps per epoch must be >= 0, got " << opt.steps_per_epoch);
  DPT_CHECK(opt.initial_epoch >= 0 && opt.initial_epoch <= opt.epochs,
            "initial epoch " << opt.initial_epoch << " is past the last epoch " << opt.epochs);
  check_data(train_in, "training");
  if (val_in) check_data(*val_in, "validation");
  const Dataset train = targets_for(train_in);
  std::optional<Dataset> val;
  if (val_in) val = targets_for(*val_in);
  seed_ = opt.seed;
  prepare(opt.batch_size, train);
  use_w_ = !opt.class_weight.empty();
  if (use_w_) {  // each sample's class weight, from its label
    train_w_.resize(size_t(train.size()));
    for (int64_t i = 0; i < train.size(); ++i) {
      const float* row = train.y.data() + i * train.y_dim;
      const int64_t cls = train.y_is_index ? int64_t(row[0]) : int64_t(std::max_element(row, row + train.y_dim) - row);
      DPT_CHECK(cls < int64_t(opt.class_weight.size()), "class weights cover " << opt.class_weight.size()
                                                                               << " classes, but a label is " << cls);
      train_w_[size_t(i)] = float(opt.class_weight[size_t(cls)]);
    }
  }

  const int64_t n = train.size(), B = opt.batch_size;
  const int64_t steps = opt.steps_per_epoch > 0 ? opt.steps_per_epoch : (n + B - 1) / B;
  Logs logs;
  logs.add("loss");
  logs.add("accuracy");
  if (val) {
    logs.add("val_loss");
    logs.add("val_accuracy");
  }
  const size_t lr_log = logs.names.size();
  if (opt.log_learning_rate) logs.add("learning_rate");
  History history;
  std::vector<Callback*> cbs = user_callbacks;
  cbs.push_back(&history);
  stop_requested_ = false;
  TrainInfo info{opt.epochs, steps, n, opt.verbose, opt.initial_epoch, this, logs.names};
  for (auto* c : cbs) c->on_train_begin(info);

  std::vector<int64_t> perm(static_cast<size_t>(n));
  was_stopped_ = false;
  bool nan_stop = false;
  stopped_epoch_ = opt.epochs;
  stopped_step_ = 0;
  for (int64_t epoch = opt.initial_epoch; epoch < opt.epochs && !was_stopped_; ++epoch) {
    std::iota(perm.begin(), perm.end(), 0);
    if (opt.shuffle) {
      std::mt19937_64 rng(kernels::mix64(opt.seed ^ kernels::mix64(uint64_t(epoch) + 1)));
      std::shuffle(perm.begin(), perm.end(), rng);
    }
    logs.clear();
    for (auto* c : cbs) c->on_epoch_begin(epoch);
    double loss_total = 0, correct = 0;
    int64_t seen = 0, cursor = 0;
    const int64_t first_step = epoch == opt.initial_epoch ? opt.initial_step : 0;
    for (int64_t step = 0; step < first_step; ++step) {  // resume: the same batches as the interrupted run
      if (cursor >= n) cursor = 0;
      cursor += std::min(B, n - cursor);
    }
    for (int64_t step = first_step; step < steps; ++step) {
      if (cursor >= n) cursor = 0;  // --steps-per-epoch beyond the data wraps around
      const int64_t rows = std::min(B, n - cursor);
      for (auto* c : cbs) c->on_batch_begin(step);  // may set the learning rate for this step
      load_batch(train, perm.data() + cursor, rows);
      cursor += rows;
      const double l = train_step(rows, epoch, step, &correct);
      loss_total += l;
      seen += rows;
      logs.set(0, loss_total / double(seen));
      logs.set(1, correct / double(seen));
      if (opt.log_learning_rate) logs.set(lr_log, learning_rate());
      for (auto* c : cbs) c->on_batch_end(step, logs);
      if (!std::isfinite(l)) {
        nan_stop = stop_requested_;  // TerminateOnNaN stopped the run; otherwise it is an error
        DPT_CHECK(nan_stop, "loss became " << (std::isnan(l) ? "NaN" : "Inf") << " at epoch " << epoch + 1 << ", step "
                                           << step + 1
                                           << "; training stopped (try a lower learning rate or check the data "
                                              "for extreme values)");
        break;
      }
      if (stop_requested_) break;  // Keras checks stop_training after every batch
      if (opt.stop && opt.stop->load() && step + 1 < steps) {  // finish this step, then stop
        was_stopped_ = true;
        stopped_epoch_ = epoch;
        stopped_step_ = step + 1;
        break;
      }
    }
    if (was_stopped_ || nan_stop) break;
    if (val) {
      const EvalResult r = evaluate_targets(*val, B);
      logs.set(2, r.loss);
      logs.set(3, r.accuracy);
    }
    if (opt.log_learning_rate) logs.set(lr_log, learning_rate());
    for (auto* c : cbs) c->on_epoch_end(epoch, logs);
    if (stop_requested_) break;  // a callback stopped training (Keras's model.stop_training)
    if (opt.stop && opt.stop->load() && epoch + 1 < opt.epochs) {  // stopped at an epoch boundary
      was_stopped_ = true;
      stopped_epoch_ = epoch + 1;
      stopped_step_ = 0;
    }
  }
  sync_template();
  use_w_ = false;  // class weights apply to training only (Keras's val_loss is unweighted)
  for (auto* c : cbs) c->on_train_end();
  return history;
}

EvalResult Trainer::evaluate(const Dataset& data_in, int64_t batch_size) {
  check_data(data_in, "evaluation");
  return evaluate_targets(targets_for(data_in), batch_size);
}

EvalResult Trainer::evaluate_targets(const Dataset& data, int64_t batch_size) {
  prepare(batch_size, data);
  const int64_t n = data.size();
  const int N = replicas();
  std::vector<int64_t> idx(size_t(std::min(batch_size, n)));
  double loss_total = 0, correct = 0;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t rows = std::min(batch_size, n - start);
    std::iota(idx.begin(), idx.begin() + rows, start);
    load_batch(data, idx.data(), rows);
    auto work = [&](int r) {
      Replica& rep = *replicas_[size_t(r)];
      rep.loss = rep.correct = 0;
      const Slice s = batch_slice(rows, N, r);
      if (s.count == 0) return;
      Tensor x = x_buf_.rows(s.offset, s.count), y = y_buf_.rows(s.offset, s.count);
      Tensor out = rep.model->forward(rep.ctx, x, false);
      rep.loss = loss_sum(loss_, fused_, out, y, 1.f, nullptr);
      rep.correct = accuracy_sum(acc_, out, y);
    };
    on_replicas(work);
    for (auto& rep : replicas_) {
      loss_total += rep->loss;
      correct += rep->correct;
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
  const int64_t n = data.size();
  const int N = replicas();
  std::vector<float> out(size_t(n * width));
  std::vector<int64_t> idx(size_t(std::min(batch_size, n)));
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t rows = std::min(batch_size, n - start);
    std::iota(idx.begin(), idx.begin() + rows, start);
    load_batch(data, idx.data(), rows);
    auto work = [&](int r) {  // outputs land in order: replica r writes rows [offset, offset+count)
      Replica& rep = *replicas_[size_t(r)];
      const Slice s = batch_slice(rows, N, r);
      if (s.count == 0) return;
      Tensor o = rep.model->forward(rep.ctx, x_buf_.rows(s.offset, s.count), false);
      std::memcpy(out.data() + (start + s.offset) * width, o.data(), sizeof(float) * size_t(o.numel()));
    };
    on_replicas(work);
  }
  return out;
}

void Trainer::sync_template() {
  // Replicas are identical (weights by construction, moving statistics merged every step).
  template_.copy_params_from(*replicas_[0]->model);
}

}  // namespace dpt
