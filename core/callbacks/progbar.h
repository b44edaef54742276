// Keras-style progress output. On a terminal (verbose 1): a live bar
// "45/45 [==============================] - 1s 12ms/step - loss: 0.1234 - accuracy: 0.9876 ...";
// otherwise (or verbose 2): one plain line per epoch. verbose 0: silent.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>
#include "core/callbacks/callback.h"

namespace dpt {

class ProgressBar : public Callback {
 public:
  explicit ProgressBar(FILE* out = stdout, bool force_tty = false);
  void on_train_begin(const TrainInfo& info) override;
  void on_epoch_begin(int64_t epoch) override;
  void on_batch_end(int64_t step, const Logs& logs) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;

 private:
  using Clock = std::chrono::steady_clock;
  void draw(int64_t step, const Logs& logs, bool final);
  FILE* out_;
  bool tty_;
  TrainInfo info_;
  int64_t epoch_ = 0;
  Clock::time_point start_, last_draw_;
};

std::string format_logs(const Logs& logs);    // " - loss: 0.1234 - accuracy: 0.9876"
std::string format_duration(double seconds);  // "1s"

}  // namespace dpt
