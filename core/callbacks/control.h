// Callbacks that monitor and steer training, with Keras's names, defaults and semantics:
// EarlyStopping, ReduceLROnPlateau, LearningRateScheduler and ModelCheckpoint.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "core/callbacks/callback.h"

namespace dpt {

enum class MonitorMode { auto_, min, max };
MonitorMode monitor_mode_from_name(const std::string& name);  // auto | min | max

// Tracks "is this value better than the best so far" as Keras does ('auto': max for accuracy-like
// names, else min); throws at train begin, listing the logs, when the monitored name is unknown.
class Monitor {
 public:
  Monitor(std::string name, MonitorMode mode, double min_delta);
  void reset();  // best back to +/-inf; the name is checked again
  void check_name(const std::vector<std::string>& available, const char* who);
  // Checks the name against the first logs seen (when train begin could not: no log names given).
  void check_once(const std::vector<std::string>& available, const char* who);
  bool improves(double value, double reference) const;  // beyond min_delta
  double read(const Logs& logs) const;
  const std::string& name() const { return name_; }
  double best = 0;

 private:
  std::string name_;
  bool max_;
  double min_delta_;
  bool checked_ = false;
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(std::string monitor = "val_loss", double min_delta = 0, int64_t patience = 0,
                         MonitorMode mode = MonitorMode::auto_, bool restore_best_weights = false);
  void on_train_begin(const TrainInfo& info) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  void on_train_end() override;
  int64_t stopped_epoch() const { return stopped_epoch_; }  // 0: did not stop (as Keras)
  int64_t best_epoch() const { return best_epoch_; }
  std::string state_key() const override { return "EarlyStopping"; }
  CallbackState save_state() const override;  // wait, best, best_epoch (and the best weights)
  void restore_state(const CallbackState& s) override;

 private:
  Monitor monitor_;
  int64_t patience_;
  bool restore_;
  TrainInfo info_;
  int64_t wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
  std::vector<float> best_weights_;
  bool restored_ = false;
};

class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(std::string monitor = "val_loss", double factor = 0.1, int64_t patience = 10,
                             MonitorMode mode = MonitorMode::auto_, double min_delta = 1e-4, int64_t cooldown = 0,
                             double min_lr = 0);
  void on_train_begin(const TrainInfo& info) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  const std::vector<int64_t>& reductions() const { return reduced_at_; }  // epochs (0-based) where lr dropped
  std::string state_key() const override { return "ReduceLROnPlateau"; }
  CallbackState save_state() const override;  // wait, cooldown_counter, best
  void restore_state(const CallbackState& s) override;

 private:
  Monitor monitor_;
  double factor_, min_lr_;
  int64_t patience_, cooldown_;
  TrainInfo info_;
  int64_t wait_ = 0, cooldown_counter_ = 0;
  std::vector<int64_t> reduced_at_;
  bool restored_ = false;
};

// lr for each epoch from the schedule (epoch, current lr), set at the start of the epoch.
class LearningRateScheduler : public Callback {
 public:
  using Schedule = std::function<double(int64_t epoch, double lr)>;
  explicit LearningRateScheduler(Schedule schedule);
  // "step:EVERY:GAMMA" (lr0 * gamma^floor(epoch/every)), "exp:GAMMA" (lr0 * gamma^epoch),
  // "cosine" (lr0 * (1 + cos(pi * epoch / epochs)) / 2).
  static std::unique_ptr<LearningRateScheduler> from_spec(const std::string& spec);
  void on_train_begin(const TrainInfo& info) override;
  void on_epoch_begin(int64_t epoch) override;
  // from_spec's schedules start from the rate they first see (lr0): a resumed run keeps that one.
  std::string state_key() const override { return base_ ? "LearningRateScheduler" : ""; }
  CallbackState save_state() const override;  // initial_learning_rate
  void restore_state(const CallbackState& s) override;

 private:
  Schedule schedule_;
  TrainInfo info_;
  std::shared_ptr<double> base_;  // from_spec's lr0 (< 0 until the first epoch); null for others
};

// Stops training at the first batch whose loss is NaN or Inf (Keras's TerminateOnNaN). Without
// it, a non-finite loss is an error naming the epoch and step.
class TerminateOnNaN : public Callback {
 public:
  void on_train_begin(const TrainInfo& info) override { info_ = info; }
  void on_batch_end(int64_t step, const Logs& logs) override;
  bool terminated() const { return terminated_; }

 private:
  TrainInfo info_;
  bool terminated_ = false;
};

// Goyal et al.'s warmup: from base_lr, linearly per step to target_lr over warmup_epochs, then
// target_lr (later callbacks, e.g. a schedule, take over from there).
class LearningRateWarmup : public Callback {
 public:
  LearningRateWarmup(double base_lr, double target_lr, double warmup_epochs);
  void on_train_begin(const TrainInfo& info) override;
  void on_epoch_begin(int64_t epoch) override { epoch_ = epoch; }
  void on_batch_begin(int64_t step) override;
  double lr_at(int64_t global_step) const;  // the rate for a step (0-based)

 private:
  double base_, target_, epochs_;
  TrainInfo info_;
  int64_t epoch_ = 0;
};

// Large-batch scaling of the learning rate by the replica count: linear (lr * N), sqrt
// (lr * sqrt(N)) or none.
double scaled_learning_rate(double lr, const std::string& rule, int replicas);

// Saves the model (or its weights) each epoch, or only when the monitored value improves. The
// path may hold Keras-style fields: {epoch}, {epoch:02d}, {val_loss:.2f}, any log name.
class ModelCheckpoint : public Callback {
 public:
  ModelCheckpoint(std::string filepath, std::string monitor = "val_loss", MonitorMode mode = MonitorMode::auto_,
                  bool save_best_only = false, bool save_weights_only = false);
  void on_train_begin(const TrainInfo& info) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  const std::vector<std::string>& saved() const { return saved_; }
  std::string state_key() const override { return best_only_ ? "ModelCheckpoint" : ""; }
  CallbackState save_state() const override;  // best
  void restore_state(const CallbackState& s) override;

 private:
  std::string filepath_;
  Monitor monitor_;
  bool best_only_, weights_only_;
  TrainInfo info_;
  std::vector<std::string> saved_;
  bool restored_ = false;
};

// "ckpt_{epoch:04d}_{val_loss:.2f}.h5" with epoch 1-based, as Keras fills it.
std::string format_checkpoint_path(const std::string& pattern, int64_t epoch, const Logs& logs);

}  // namespace dpt
