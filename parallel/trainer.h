// The one training loop. A Trainer owns N replicas of a template model (one per device), splits
// each global batch with Keras's get_slice, sums the replicas' gradients (each replica's loss is
// its per-sample losses over the global batch size, so the sum equals one device on the whole
// batch) and applies the same optimizer update on every replica. One device is the N = 1 case.
// After fit the template holds the merged weights: that is the model users save.
#pragma once
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

struct FitOptions {
  int64_t epochs = 1;
  int64_t batch_size = 32;
  bool shuffle = true;
  int64_t steps_per_epoch = 0;  // 0: ceil(samples / batch) (the last partial batch is used)
  uint64_t seed = 0;
  int verbose = 1;
};

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
};

class Trainer {
 public:
  Trainer(Sequential& model, std::vector<Device> devices, LossKind loss, const Optimizer& optimizer, int threads);
  ~Trainer();

  History fit(const Dataset& train, const Dataset* val, const FitOptions& opt, const std::vector<Callback*>& callbacks);
  EvalResult evaluate(const Dataset& data, int64_t batch_size);
  // Outputs for every sample, in order: (N, output width).
  std::vector<float> predict(const Dataset& data, int64_t batch_size);

  // One training step on a global batch already in the trainer's batch buffers (used by fit and
  // the benchmark). Returns the summed per-sample loss; adds to *correct.
  double train_step(int64_t rows, int64_t epoch, int64_t step, double* correct);
  void prepare(int64_t global_batch, const Dataset& like);
  // Fills the batch buffers with rows idx[0..n) of data.
  void load_batch(const Dataset& data, const int64_t* idx, int64_t n);

  // Copies replica 0's weights into the template model.
  void sync_template();
  int replicas() const { return int(replicas_.size()); }
  LossKind loss() const { return loss_; }
  AccuracyKind accuracy_kind() const { return acc_; }
  const Optimizer& optimizer() const;

 private:
  struct Replica;
  Dataset targets_for(const Dataset& d) const;
  EvalResult evaluate_targets(const Dataset& data, int64_t batch_size);
  void check_data(const Dataset& d, const char* what) const;

  Sequential& template_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  LossKind loss_;
  AccuracyKind acc_;
  bool fused_;
  int threads_;
  int64_t batch_cap_ = 0;
  Tensor x_buf_, y_buf_;
  int64_t y_dim_ = 0;
  uint64_t seed_ = 0;
};

}  // namespace dpt
