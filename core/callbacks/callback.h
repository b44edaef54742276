// Callbacks with Keras's hooks. They run once per step on the host, never once per replica.
// Logs are a fixed list of named values set up at train begin (updating them never allocates).
#pragma once
#include <cstdint>
#include <string>
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

struct TrainInfo {
  int64_t epochs = 0;
  int64_t steps_per_epoch = 0;
  int64_t samples = 0;
  int verbose = 1;
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(const TrainInfo&) {}
  virtual void on_epoch_begin(int64_t epoch) {}
  virtual void on_batch_end(int64_t step, const Logs& logs) {}
  virtual void on_epoch_end(int64_t epoch, const Logs& logs) {}
  virtual void on_train_end() {}
};

}  // namespace dpt
