// The training loop's outer part, as Keras's fit/evaluate/predict: epochs, shuffled batches with
// the next one loaded while the current one trains, callbacks and logs, stop requests, resuming
// mid-epoch; evaluation and prediction over replica slices.
#include "parallel/trainer.h"
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include "kernels/random_math.h"
#include "parallel/prefetcher.h"
#include "parallel/slicing.h"
#include "parallel/trainer_replica.h"

namespace dpt {

namespace {
// The rows of the largest batch over `data`: a batch size past the data takes all of it in one
// batch, as in Keras (a batch size under 1 is passed on, for prepare's error).
int64_t batch_rows(int64_t batch_size, const Dataset& data) {
  return batch_size < 1 ? batch_size : std::max<int64_t>(1, std::min(batch_size, data.size()));
}
}  // namespace

History Trainer::fit(const Dataset& train_in, const Dataset* val_in, const FitOptions& opt,
                     const std::vector<Callback*>& user_callbacks) {
  check_refusals(true);
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
  prepare(batch_rows(opt.batch_size, train), train);
  if (replicas() > 1) {  // every replica starts from replica 0's weights (as multi_gpu_model's replicas share them)
    auto bcast = [&](int r) {
      Replica& rep = *replicas_[size_t(r)];
      rep.enter();
      comm_->broadcast(r, rep.model->params(), template_.num_params(), 0);
      comm_->join(r);
      if (rep.cuda) kernels::cuda_stream_sync(*rep.cuda);
    };
    on_replicas(bcast);
  }
  use_w_ = !opt.class_weight.empty();
  w_src_ = &train_w_;
  DPT_CHECK(!use_w_ || steps_ == 1, "class weights weigh a sample by its class, but model '"
                                        << template_.name() << "' outputs " << steps_
                                        << " steps a sample (Keras: class_weight is not supported for 3+ "
                                           "dimensional targets)");
  if (!train.weight.empty()) {  // Keras's sample_weight
    DPT_CHECK(!use_w_,
              "You cannot `class_weight` and `sample_weight` at the same time (as in Keras): the training "
              "data has sample weights; drop --class-weight or the data's weights");
    check_weighable("the training data's sample weights");
    train_w_ = train.weight;
    use_w_ = true;
  } else if (use_w_) {  // each sample's class weight, from its label
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
  // Keras's order: loss, the metrics, then their val_ forms.
  const size_t K = metrics_.size();
  logs.add("loss");
  for (const Metric& m : metrics_) logs.add(m.name);
  const size_t val_log = logs.names.size();
  if (val) {
    logs.add("val_loss");
    for (const Metric& m : metrics_) logs.add("val_" + m.name);
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
    double loss_total = 0;
    std::vector<double> metric_sums(size_t(slots()), 0.0);
    int64_t seen = 0, cursor = 0;
    double metric_seen = 0;  // what the metric sums are out of: samples, or kept steps under a mask
    auto take = [&]() {  // the next batch: [start, start + rows) of perm (--steps-per-epoch wraps around)
      if (cursor >= n) cursor = 0;
      const int64_t start = cursor, rows = std::min(B, n - cursor);
      cursor += rows;
      return std::make_pair(start, rows);
    };
    const int64_t first_step = epoch == opt.initial_epoch ? opt.initial_step : 0;
    for (int64_t step = 0; step < first_step; ++step) take();  // resume: the same batches as the interrupted run
    std::pair<int64_t, int64_t> batch{0, 0}, next = take();
    load_into(cur_, train, perm.data() + next.first, next.second);
    auto load_next_batch = [&] { load_next(train, perm.data() + next.first, next.second); };
    for (int64_t step = first_step; step < steps; ++step) {
      batch = next;
      const int64_t rows = batch.second;
      for (auto* c : cbs) c->on_batch_begin(step);  // may set the learning rate for this step
      if (step + 1 < steps) {  // the input pipeline prepares the next batch while this one trains
        next = take();
        prefetch_->start(load_next_batch);
      }
      double l = 0;
      try {
        l = train_step(rows, epoch, step, K ? &metric_sums : nullptr);
      } catch (...) {
        prefetch_->wait();
        throw;
      }
      prefetch_->wait();
      if (step + 1 < steps) next_batch();
      loss_total += l;
      seen += rows;
      metric_seen += last_metric_weight();
      logs.set(0, loss_total / double(seen));
      for (size_t k = 0; k < K; ++k)  // every step: nothing allocated
        logs.set(1 + k, metric_value(metrics_[k], metric_sums.data() + metric_slot_[k], metric_seen));
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
      logs.set(val_log, r.loss);
      for (size_t k = 0; k < K; ++k) logs.set(val_log + 1 + k, r.metrics[k]);
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
  // Keras's finalize_variable_values (use_ema: the moving average becomes the weights), but not in a
  // run stopped to be resumed: its checkpoint must hold the weights training goes on from.
  if (!was_stopped_) finalize_optimizer();
  sync_template();
  use_w_ = false;  // class weights apply to training only (Keras's val_loss is unweighted)
  w_src_ = &train_w_;
  for (auto* c : cbs) c->on_train_end();
  return history;
}

void Trainer::check_weighable(const char* what) const {
  DPT_CHECK(steps_ == 1 && mask_layer_ < 0,
            what << " weigh each sample's loss, but model '" << template_.name() << "' outputs "
                 << shape_str(template_.output_shape()) << " a sample" << (mask_layer_ >= 0 ? " under a mask" : "")
                 << "; dptrain weighs samples whose output is one row (batch, columns)");
}

void Trainer::check_refusals(bool fitting) const {
  for (const auto& l : template_.layers())
    for (const Layer::Refusal& r : l->training_refusals())
      DPT_CHECK(!fitting && !r.in_loss,
                "layer '" << l->name() << "' (" << l->class_name() << ") has " << r.what << ", which dptrain does not "
                          << (r.in_loss ? "add to the loss" : "apply in training") << " as Keras does; take it out of "
                          << "the model to " << (fitting ? "train" : "evaluate") << " it with dptrain");
}

EvalResult Trainer::evaluate(const Dataset& data_in, int64_t batch_size) {
  check_data(data_in, "evaluation");
  check_refusals(false);
  return evaluate_targets(targets_for(data_in), batch_size);
}

EvalResult Trainer::evaluate_targets(const Dataset& data, int64_t batch_size) {
  prepare(batch_rows(batch_size, data), data);
  // Keras's evaluate weighs the loss (not the compiled metrics) by the data's sample weights; fit's
  // weights come back after (validation runs between epochs, with no batch loading).
  struct Restore {
    Trainer& t;
    bool use;
    const std::vector<float>* src;
    ~Restore() {
      t.use_w_ = use;
      t.w_src_ = src;
    }
  } restore{*this, use_w_, w_src_};
  use_w_ = !data.weight.empty();
  w_src_ = &data.weight;
  if (use_w_) check_weighable("the evaluated data's sample weights");
  const int64_t n = data.size();
  const int N = replicas();
  std::vector<int64_t> idx(size_t(std::min(batch_size, n)));
  double loss_total = 0, metric_seen = 0;
  std::vector<double> metric_sums(size_t(slots()), 0.0);
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t rows = std::min(batch_size, n - start);
    std::iota(idx.begin(), idx.begin() + rows, start);
    load_batch(data, idx.data(), rows);
    const int64_t kept = kept_rows(rows);  // under Keras's mask at the output: as train_step
    auto work = [&](int r) {
      Replica& rep = *replicas_[size_t(r)];
      rep.enter();
      rep.clear_sums(size_t(slots()));
      const Slice s = batch_slice(rows, N, r);
      if (s.count == 0) return;
      Tensor x = slice_for(rep, x_buf_[cur_], rep.x[cur_], s.offset, s.count);
      Tensor y = slice_for(rep, y_buf_[cur_], rep.y[cur_], s.offset, s.count);
      const float* w = use_w_ ? slice_for(rep, w_buf_[cur_], rep.w[cur_], s.offset, s.count).data() : nullptr;
      Tensor out = rep.model->forward(rep.ctx, x, false);
      replica_loss(rep, out, y, 1.f, nullptr, use_w_ ? w : mask_weights(rep), true);
      finish_rows(rep, s.count);
      rep.activity = rep.model->activity_penalty();  // Keras's evaluate adds it to each batch's loss
    };
    on_replicas(work);
    const double per = mask_layer_ < 0 ? 1.0 : kept > 0 ? double(rows) / double(kept) : 0.0;
    for (auto& rep : replicas_) {  // rank order
      loss_total += rep->loss * per + rep->activity;
      for (size_t k = 0; k < metric_sums.size(); ++k) metric_sums[k] += rep->metric_sums[k];
    }
    metric_seen += mask_layer_ < 0 ? double(rows) : double(kept);
  }
  double penalty = 0;  // Keras's evaluate adds the regularizers' penalty to every batch's loss
  if (penalized()) {
    Replica& rep = *replicas_[0];
    rep.enter();
    replica_penalty(rep, false);
    if (rep.cuda) kernels::cuda_stream_sync(*rep.cuda);
    penalty = penalty_sum(rep);
  }
  EvalResult r{loss_total / double(n) + penalty, {}};
  r.metrics = metric_values(metric_sums, metric_seen);
  return r;
}

std::vector<float> Trainer::predict(const Dataset& data, int64_t batch_size) {
  check_input_shapes(data, "");
  template_.check_inputs(data.x.data(), int64_t(data.x.size()), "the data");
  const int64_t width = shape_numel(template_.output_shape());
  prepare(batch_rows(batch_size, data), data);
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
      rep.enter();
      const Slice s = batch_slice(rows, N, r);
      if (s.count == 0) return;
      Tensor o = rep.model->forward(rep.ctx, slice_for(rep, x_buf_[cur_], rep.x[cur_], s.offset, s.count), false);
      copy_floats(out.data() + (start + s.offset) * width, Device::cpu(), o.data(), rep.ctx.device, o.numel(),
                  rep.ctx.cuda);
      if (rep.cuda) kernels::cuda_stream_sync(*rep.cuda);
    };
    on_replicas(work);
  }
  return out;
}

}  // namespace dpt
