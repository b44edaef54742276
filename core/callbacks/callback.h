// Callbacks with Keras's hooks. They run once per step on the host, never once per replica.
// Logs are a fixed list of named values set up at train begin (updating them never allocates).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dpt {

struct Logs {
  std::vector<std::string> names;  // "loss", "accuracy", then "val_loss", "val_accuracy"
  std::vector<double> values;
  std::vector<bool> present;
  void add(const std::string& name) {
    names.push_back(name);
    values.push_back(0);
    present.push_back(false);
  }
  void set(size_t i, double v) {
    values[i] = v;
    present[i] = true;
  }
  void clear() { present.assign(present.size(), false); }
};

// What a callback may do to the run (Keras's self.model.stop_training, optimizer.learning_rate,
// get_weights/set_weights). Implemented by the trainer; the weights are the merged template's.
class TrainContext {
 public:
  virtual ~TrainContext() = default;
  virtual double learning_rate() const = 0;
  virtual void set_learning_rate(double lr) = 0;  // every replica, from the next step on
  virtual void stop_training() = 0;               // after the current epoch
  virtual std::vector<float> get_weights() = 0;   // the merged weights (all of them)
  virtual void set_weights(const std::vector<float>& w) = 0;  // into the template and every replica
  virtual void save_template(const std::string& path, bool weights_only) = 0;
};

struct TrainInfo {
  int64_t epochs = 0;
  int64_t steps_per_epoch = 0;
  int64_t samples = 0;
  int verbose = 1;
  int64_t initial_epoch = 0;
  TrainContext* context = nullptr;
  std::vector<std::string> log_names;  // what on_epoch_end's logs will hold
};

// Finds a log by name; -1 when absent.
inline int log_index(const Logs& logs, const std::string& name) {
  for (size_t i = 0; i < logs.names.size(); ++i)
    if (logs.names[i] == name) return int(i);
  return -1;
}

// What a callback carries across a checkpoint so that a resumed run goes on exactly as an
// uninterrupted one would (Keras keeps none of it in its files): named numbers (a patience
// counter, the best value so far) and, where needed, a weights vector (the best epoch's weights).
struct CallbackState {
  std::vector<std::pair<std::string, double>> numbers;
  std::vector<float> weights;
  bool has(const std::string& name) const {
    for (auto& [n, v] : numbers)
      if (n == name) return true;
    return false;
  }
  double get(const std::string& name) const {
    for (auto& [n, v] : numbers)
      if (n == name) return v;
    return 0;
  }
};

class Callback {
 public:
  virtual ~Callback() = default;
  // Its name in checkpoints; "" for a callback with nothing a resumed run needs.
  virtual std::string state_key() const { return ""; }
  virtual CallbackState save_state() const { return {}; }
  // Called before fit with what a checkpoint saved: the next on_train_begin keeps it rather than
  // starting afresh.
  virtual void restore_state(const CallbackState&) {}
  virtual void on_train_begin(const TrainInfo&) {}
  virtual void on_epoch_begin(int64_t epoch) {}
  virtual void on_batch_begin(int64_t step) {}
  virtual void on_batch_end(int64_t step, const Logs& logs) {}
  virtual void on_epoch_end(int64_t epoch, const Logs& logs) {}
  virtual void on_train_end() {}
};

}  // namespace dpt
