// The one training loop. A Trainer owns N replicas of a template model (one per device, each
// driven by its own host thread), splits each global batch with Keras's get_slice, and sums the
// replicas' gradients through a Communicator, bucket by bucket in reverse layer order as backward
// produces them. Each replica's loss is its per-sample losses over the *global* batch size, so
// the sum equals one device on the whole batch. Every replica then applies the same update
// (allreduce), or replica 0 alone updates and broadcasts the weights (parameter server).
// After fit the template holds the merged weights: that is the model users save.
#pragma once
#include <atomic>
#include <memory>
#include <vector>
#include "core/callbacks/callback.h"
#include "core/callbacks/history.h"
#include "core/data/dataset.h"
#include "core/losses.h"
#include "core/metrics.h"
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"

namespace dpt {

class Communicator;
class Prefetcher;
class ReplicaPool;

enum class Strategy { allreduce, parameter_server };
Strategy strategy_from_name(const std::string& name);  // "allreduce" | "ps"
std::string strategy_name(Strategy s);

struct ParallelOptions {
  Strategy strategy = Strategy::allreduce;
  bool sync_batchnorm = false;   // all-reduce BatchNormalization's batch sums (N replicas == 1 device)
  int64_t check_every = 0;       // compare replica weight checksums every N steps (0: never)
  int64_t bucket_bytes = 1 << 20;  // gradient all-reduce bucket size
  bool tf32 = false;             // GPUs: allow TF32 tensor cores in cuBLAS/cuDNN (--tf32)
  bool deterministic = false;    // GPUs: bit-reproducible cuDNN algorithms only (--deterministic)
};

struct FitOptions {
  int64_t epochs = 1;           // as Keras: the epoch to train up to (with initial_epoch, the final index)
  int64_t initial_epoch = 0;    // Keras's initial_epoch: epochs already done (resume)
  int64_t initial_step = 0;     // steps already done within initial_epoch (resume after an interrupt)
  const std::atomic<bool>* stop = nullptr;  // checked after every step (SIGINT/SIGTERM)
  bool log_learning_rate = false;  // add "learning_rate" to the logs (when schedules may change it)
  std::vector<double> class_weight;  // Keras's class_weight, one per class (empty: none)
  int64_t batch_size = 32;
  bool shuffle = true;
  int64_t steps_per_epoch = 0;  // 0: ceil(samples / batch) (the last partial batch is used)
  uint64_t seed = 0;
  int verbose = 1;
};

struct EvalResult {
  double loss = 0;
  std::vector<double> metrics;  // each metric's value, in the trainer's order
};

struct StepStats {
  double comm_ms = 0;          // mean over replicas of the time spent in gradient/weight collectives
  int64_t bytes_reduced = 0;   // bytes each replica sent into gradient/weight collectives
};

class Trainer : public TrainContext {
 public:
  Trainer(Sequential& model, std::vector<Device> devices, LossKind loss, const Optimizer& optimizer, int threads,
          ParallelOptions options = {});
  ~Trainer();

  History fit(const Dataset& train, const Dataset* val, const FitOptions& opt, const std::vector<Callback*>& callbacks);
  EvalResult evaluate(const Dataset& data, int64_t batch_size);
  // Outputs for every sample, in order: (N, output width).
  std::vector<float> predict(const Dataset& data, int64_t batch_size);

  // One training step on a global batch already in the batch buffers (fit and the benchmark).
  // Returns the summed per-sample loss; adds each metric slot's per-sample values to (*metric_sums)[s]
  // when given (sized to the metrics' slots, Trainer::slots()).
  double train_step(int64_t rows, int64_t epoch, int64_t step, std::vector<double>* metric_sums);
  // What the last step's metric sums are out of: its samples, or, where Keras's mask reaches the
  // output, its kept steps (Keras's metrics average over the kept steps of the whole epoch).
  double last_metric_weight() const { return metric_weight_; }
  // Sizes every replica (and its device buffers) for global batches of up to `global_batch` rows
  // of data shaped like `like`. fit, evaluate and predict pass min(batch size, samples): a batch
  // size past the data takes all of it in one batch, as in Keras.
  void prepare(int64_t global_batch, const Dataset& like);
  // About what one replica holds for `rows` rows of its slice: weights, gradients, optimizer slots,
  // and per row two input slots, the labels, every layer's output, the buffers layers keep
  // (attention's probabilities), the layers' shared scratch and two gradient buffers.
  int64_t replica_bytes(int64_t rows, int64_t y_dim) const;
  // Rows idx[0..n) of data into the current batch buffers (fit loads the next batch into the
  // spare buffers on its prefetch thread while the current one trains).
  void load_batch(const Dataset& data, const int64_t* idx, int64_t n);
  // The same into the spare buffers, and for GPU replicas each one's slice straight on to its GPU
  // on its upload stream, overlapping the step in flight; next_batch() then makes them current.
  // fit runs load_next on its prefetch thread; the benchmark times steps the same way.
  void load_next(const Dataset& data, const int64_t* idx, int64_t n);
  void next_batch() { cur_ = 1 - cur_; }
  const StepStats& last_step() const { return last_; }
  // Where the last fit stopped: epochs completed and steps into the next (after a stop request).
  int64_t stopped_epoch() const { return stopped_epoch_; }
  int64_t stopped_step() const { return stopped_step_; }
  bool was_stopped() const { return was_stopped_; }
  // Every replica's optimizer takes this state (resuming).
  void set_optimizer_state(const Optimizer& state);
  bool on_gpus() const { return gpu_; }

  // TrainContext, for callbacks.
  double learning_rate() const override;
  void set_learning_rate(double lr) override;
  void stop_training() override { stop_requested_ = true; }
  std::vector<float> get_weights() override;
  void set_weights(const std::vector<float>& w) override;
  void save_template(const std::string& path, bool weights_only) override;

  // The template gets the replicas' weights. Without --sync-batchnorm each replica normalises with
  // its own slice, and the moving statistics this gives are averaged across replicas every step
  // (in Keras the replicas share the template's variables), so all replicas stay identical.
  void sync_template();
  // The optimizer's end of training on every replica (Optimizer::finalize); under ps the server's
  // weights then go to the workers.
  void finalize_optimizer();
  // Throws naming the replicas whose weights differ from replica 0's.
  void check_replicas(int64_t epoch, int64_t step) const;
  int replicas() const { return int(replicas_.size()); }
  Sequential& replica_model(int r);  // for tests
  LossKind loss() const { return loss_; }
  // Keras's label_smoothing of the categorical and binary cross-entropies (checked as Keras does).
  void set_label_smoothing(double s);
  double label_smoothing() const { return label_smoothing_; }
  // Keras's Huber(delta=...) (checked: huber only, > 0).
  void set_huber_delta(double delta);
  double huber_delta() const { return huber_delta_; }
  // Keras's focal cross-entropies' alpha, gamma and apply_class_balancing (checked: check_focal).
  void set_focal(const FocalParams& f);
  const FocalParams& focal() const { return focal_; }
  // The loss with its settings, as files save it.
  LossSpec loss_spec() const { return {loss_, label_smoothing_, huber_delta_, focal_}; }
  // The metrics fit logs and evaluate reports (Keras's compile(metrics=...)), in order; by default
  // default_metrics(loss). Fails where one cannot read the loss's targets.
  void set_metrics(const MetricRequests& requests);
  const std::vector<Metric>& metrics() const { return metrics_; }
  std::vector<std::string> metric_names() const;
  MetricRequests metric_requests() const;  // as asked for, with their arguments (what files save)
  // Replica 0's optimizer state, on the host (copied from the GPU for GPU replicas).
  const Optimizer& optimizer() const;

 private:
  struct Replica;
  void load_into(int slot, const Dataset& data, const int64_t* idx, int64_t n);
  // Waits for any upload from host slot `slot` that no step consumed.
  void drain_uploads(int slot);
  // This replica's slice of the current batch buffer, on its device (a GPU replica's slice is
  // copied on its stream).
  Tensor slice_for(Replica& rep, const Tensor& all, Tensor& dev, int64_t offset, int64_t count);
  // Loss (and metrics) of a replica's outputs, into sums the caller cleared (Replica::clear_sums); on a
  // GPU the per-row values land on the host at finish_rows, after the step's last kernel.
  void replica_loss(Replica& rep, const Tensor& out, const Tensor& y, float scale, Tensor* grad, const float* w,
                    bool want_metrics);
  void finish_rows(Replica& rep, int64_t count);
  void scale_floats(Replica& rep, float* p, int64_t n, float s);
  // Keras's weight regularizers (kernel_regularizer, ...): on the replica's weights, each chunk's
  // penalty and, with grads, their slopes added to the gradients (GPU: enqueued on its stream);
  // penalty_sum then adds the chunks' penalties in order (GPU: after the stream is synchronised).
  void replica_penalty(Replica& rep, bool grads);
  double penalty_sum(Replica& rep) const;
  bool penalized() const { return !penalty_chunks_.empty(); }
  // What the model's layers ask of training that dptrain does not do (Layer::training_refusals):
  // fit refuses every such model, evaluate those whose loss it changes.
  void check_refusals(bool fitting) const;
  Dataset targets_for(const Dataset& d) const;
  // The data's inputs against the model's: their number and each one's sample shape (whose: "training ",
  // "validation ", or "" for predict's, starting the error).
  void check_input_shapes(const Dataset& d, const std::string& whose) const;
  void check_data(const Dataset& d, const char* what) const;
  EvalResult evaluate_targets(const Dataset& data, int64_t batch_size);
  template <typename F>
  void on_replicas(F& f);

  Sequential& template_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<ReplicaPool> pool_;
  LossKind loss_;
  double label_smoothing_ = 0;
  double huber_delta_ = 1;
  FocalParams focal_;
  std::vector<Metric> metrics_;
  // Each metric's first slot among the replicas' sums (metric_slots: 1 for most, more for Keras's
  // confusion metrics); metric_slot_.back(): every slot.
  std::vector<int64_t> metric_slot_{0};
  int64_t slots() const { return metric_slot_.back(); }
  // The metrics' values from their slots' sums over `seen` samples (or kept steps).
  std::vector<double> metric_values(const std::vector<double>& sums, double seen) const;
  std::vector<kernels::PenaltyChunk> penalty_chunks_;
  std::vector<kernels::ConstraintPlan> constraints_;  // Keras's weight constraints, after every update
  void replica_constraints(Replica& rep);
  bool fused_;
  // Keras's losses and metrics reduce over the output's last axis and average over the rest: an
  // output of several steps ((steps, classes): a Dense after return_sequences) counts as its
  // samples x steps rows, each weighing 1/steps of its sample (1: one row a sample).
  int64_t steps_ = 1;
  // Keras's mask at the output (Sequential::output_mask_layer, -1: none): each step's row weighs
  // by it, the loss is the kept rows' sum over their count in the global batch (counted on the
  // host from the input), a batch's loss weighs by its samples and the metrics by the kept rows.
  int mask_layer_ = -1;
  double metric_weight_ = 0;
  // The kept rows of the `rows` samples in the current batch buffer (0 without a mask).
  int64_t kept_rows(int64_t rows) const;
  // A replica's row weights: its mask layer's mask (null without one).
  const float* mask_weights(Replica& rep) const;
  int threads_;
  ParallelOptions popt_;
  int64_t batch_cap_ = 0;
  size_t opt_slots_ = 0;  // optimizer slots per weight
  bool gpu_ = false;
  // Double-buffered host batches (pinned for GPU replicas): slot cur_ trains, the other loads.
  Tensor x_buf_[2], y_buf_[2], w_buf_[2];
  int cur_ = 0;
  // GPU replicas: slot s already sits (or is being uploaded) in their device slot s.
  bool uploaded_[2] = {false, false};
  std::unique_ptr<Prefetcher> prefetch_;
  mutable std::unique_ptr<Optimizer> host_opt_;
  std::vector<float> train_w_;  // per-sample weights of the training set (class weights or the data's own)
  // The batches' sample weights come from (*w_src_)[sample] where use_w_ (else 1): the training set's
  // in fit, the evaluated data's own (Keras's sample_weight) in evaluate.
  bool use_w_ = false;
  const std::vector<float>* w_src_ = &train_w_;
  // Samples are weighed where the loss has one row a sample and no mask at the output.
  void check_weighable(const char* what) const;
  int64_t y_dim_ = 0;
  uint64_t seed_ = 0;
  int64_t steps_done_ = 0;
  StepStats last_;
  int64_t stopped_epoch_ = 0, stopped_step_ = 0;
  bool was_stopped_ = false;
  bool stop_requested_ = false;  // by a callback (EarlyStopping, TerminateOnNaN)
};

}  // namespace dpt
