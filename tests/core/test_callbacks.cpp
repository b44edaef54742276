// Callbacks on scripted loss sequences (Keras 3's semantics, traced by hand).
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include "core/callbacks/control.h"
#include "core/callbacks/progbar.h"

using namespace dpt;
using Catch::Contains;

namespace {

struct FakeContext : TrainContext {
  double lr = 0.1;
  bool stopped = false;
  std::vector<float> weights{0.f};
  std::vector<std::string> saved;
  double learning_rate() const override { return lr; }
  void set_learning_rate(double v) override { lr = v; }
  void stop_training() override { stopped = true; }
  std::vector<float> get_weights() override { return weights; }
  void set_weights(const std::vector<float>& w) override { weights = w; }
  void save_template(const std::string& path, bool) override { saved.push_back(path); }
};

Logs make_logs() {
  Logs l;
  for (const char* n : {"loss", "accuracy", "val_loss", "val_accuracy"}) l.add(n);
  return l;
}

// Runs epochs with the given val_loss (and val_accuracy = 1 - val_loss); weights[0] = epoch.
template <typename CB>
int64_t run(CB& cb, FakeContext& ctx, const std::vector<double>& val_loss) {
  TrainInfo info;
  info.epochs = int64_t(val_loss.size());
  info.context = &ctx;
  info.verbose = 0;
  cb.on_train_begin(info);
  Logs logs = make_logs();
  int64_t e = 0;
  for (; e < int64_t(val_loss.size()) && !ctx.stopped; ++e) {
    cb.on_epoch_begin(e);
    ctx.weights = {float(e)};
    logs.set(0, 1.0);
    logs.set(1, 0.5);
    logs.set(2, val_loss[size_t(e)]);
    logs.set(3, 1.0 - val_loss[size_t(e)]);
    cb.on_epoch_end(e, logs);
  }
  cb.on_train_end();
  return e;  // epochs run
}

}  // namespace

TEST_CASE("EarlyStopping stops at the right epoch and restores the best weights", "[callbacks]") {
  FakeContext ctx;
  EarlyStopping es("val_loss", 0, 2, MonitorMode::auto_, true);
  // best 0.8 at epoch 1; epochs 2 and 3 do not improve: wait reaches 2 at epoch 3.
  CHECK(run(es, ctx, {1.0, 0.8, 0.9, 0.85, 0.7, 0.6}) == 4);
  CHECK(es.stopped_epoch() == 3);
  CHECK(es.best_epoch() == 1);
  CHECK(ctx.weights == std::vector<float>{1.f});  // the end of epoch 1
  // min_delta: 0.95 -> 0.9 is not an improvement of at least 0.1.
  FakeContext c2;
  EarlyStopping md("val_loss", 0.1, 1);
  CHECK(run(md, c2, {1.0, 0.95, 0.9, 0.5}) == 2);
  CHECK(md.stopped_epoch() == 1);
  // 'auto' is 'max' for accuracy; patience 0 stops at the first non-improvement (never at epoch 0).
  FakeContext c3;
  EarlyStopping acc("val_accuracy", 0, 0);
  CHECK(run(acc, c3, {0.5, 0.4, 0.45, 0.3}) == 3);  // val_accuracy 0.5, 0.6, 0.55: stops at epoch 2
  FakeContext c4;
  EarlyStopping never("val_loss", 0, 1);
  CHECK(run(never, c4, {1.0, 0.9, 0.8, 0.7}) == 4);
  CHECK(never.stopped_epoch() == 0);
}

TEST_CASE("ReduceLROnPlateau lowers the rate after patience, respects cooldown and min_lr", "[callbacks]") {
  FakeContext ctx;
  ReduceLROnPlateau r("val_loss", 0.5, 1, MonitorMode::auto_, 1e-4, 2, 0.02);
  run(r, ctx, {1, 1, 1, 1, 1, 1, 1, 1});
  // Epoch 0 sets the best; 1 reduces (cooldown 2); 2 is in cooldown; 3 reduces; 5 would reduce
  // 0.025 -> max(0.0125, 0.02) = 0.02; 7 finds lr == min_lr and stops reducing.
  CHECK(r.reductions() == std::vector<int64_t>{1, 3, 5});
  CHECK(ctx.lr == Catch::Detail::Approx(0.02));
  FakeContext c2;
  ReduceLROnPlateau improving("val_loss", 0.1, 2);
  run(improving, c2, {1, 0.9, 0.8, 0.7});
  CHECK(improving.reductions().empty());
  CHECK(c2.lr == 0.1);
  CHECK_THROWS_WITH(ReduceLROnPlateau("val_loss", 1.5), "ReduceLROnPlateau factor must be in (0, 1), got 1.5");
  CHECK_THROWS_WITH(ReduceLROnPlateau("val_loss", 0.5, -1), "ReduceLROnPlateau patience must be >= 0, got -1");
  CHECK_THROWS_WITH(EarlyStopping("val_loss", 0, -3), "EarlyStopping patience must be >= 0, got -3");
}

TEST_CASE("an unknown monitor is an error listing the available logs", "[callbacks]") {
  FakeContext ctx;
  EarlyStopping es("val_los");
  CHECK_THROWS_WITH(run(es, ctx, {1.0}),
                    "EarlyStopping monitors 'val_los', which this run does not log (available: loss, accuracy, "
                    "val_loss, val_accuracy)");
  CHECK_THROWS_WITH(monitor_mode_from_name("up"), "unknown mode 'up' (supported: auto, min, max)");
}

TEST_CASE("learning-rate schedules: step, exponential, cosine", "[callbacks][schedule]") {
  auto curve = [](const std::string& spec, int epochs) {
    FakeContext ctx;
    auto s = LearningRateScheduler::from_spec(spec);
    std::vector<double> lrs;
    TrainInfo info;
    info.epochs = epochs;
    info.context = &ctx;
    s->on_train_begin(info);
    for (int e = 0; e < epochs; ++e) {
      s->on_epoch_begin(e);
      lrs.push_back(ctx.lr);
    }
    return lrs;
  };
  const auto step = curve("step:2:0.5", 5);
  CHECK(step == std::vector<double>{0.1, 0.1, 0.05, 0.05, 0.025});
  const auto ex = curve("exp:0.9", 3);
  CHECK(ex[2] == Catch::Detail::Approx(0.1 * 0.81));
  const auto cs = curve("cosine", 4);
  CHECK(cs[0] == Catch::Detail::Approx(0.1));
  CHECK(cs[2] == Catch::Detail::Approx(0.05));
  CHECK(cs[3] == Catch::Detail::Approx(0.1 * (1 + std::cos(M_PI * 0.75)) / 2));
  CHECK_THROWS_WITH(LearningRateScheduler::from_spec("linear"),
                    "unknown --lr-schedule 'linear' (expected step:EVERY:GAMMA, exp:GAMMA or cosine)");
}

TEST_CASE("ModelCheckpoint fills Keras's filename fields and saves only improvements", "[callbacks][checkpoint]") {
  Logs logs = make_logs();
  logs.set(2, 0.12345);
  CHECK(format_checkpoint_path("m_{epoch:02d}_{val_loss:.2f}.h5", 4, logs) == "m_05_0.12.h5");
  CHECK(format_checkpoint_path("my_model_{epoch}.h5", 9, logs) == "my_model_10.h5");
  CHECK_THROWS_WITH(format_checkpoint_path("{nope}.h5", 0, logs), Contains("names {nope}, which this run does not log"));
  FakeContext ctx;
  ModelCheckpoint best("best_{epoch}.h5", "val_loss", MonitorMode::auto_, true);
  run(best, ctx, {0.9, 1.0, 0.7, 0.8, 0.6});
  CHECK(ctx.saved == std::vector<std::string>{"best_1.h5", "best_3.h5", "best_5.h5"});
}

TEST_CASE("large-batch rules: linear/sqrt scaling and per-step linear warmup", "[callbacks][warmup]") {
  CHECK(scaled_learning_rate(0.1, "linear", 4) == Catch::Detail::Approx(0.4));
  CHECK(scaled_learning_rate(0.1, "sqrt", 4) == Catch::Detail::Approx(0.2));
  CHECK(scaled_learning_rate(0.1, "none", 4) == 0.1);
  CHECK_THROWS_WITH(scaled_learning_rate(0.1, "cubic", 4), "unknown --scale-lr 'cubic' (supported: linear, sqrt, none)");
  // From 0.1 to 0.4 over 2 epochs of 4 steps: +0.0375 per step, then 0.4 from step 8 on.
  FakeContext ctx;
  LearningRateWarmup w(0.1, 0.4, 2);
  TrainInfo info;
  info.steps_per_epoch = 4;
  info.context = &ctx;
  w.on_train_begin(info);
  std::vector<double> seen;
  for (int e = 0; e < 3; ++e) {
    w.on_epoch_begin(e);
    for (int s = 0; s < 4; ++s) {
      w.on_batch_begin(s);
      seen.push_back(ctx.lr);
    }
  }
  for (int t = 0; t < 12; ++t)
    CHECK(seen[size_t(t)] == Catch::Detail::Approx(t < 8 ? 0.1 + 0.0375 * t : 0.4));
  ctx.lr = 0.01;  // after warmup, other callbacks own the rate
  w.on_epoch_begin(5);
  w.on_batch_begin(0);
  CHECK(ctx.lr == 0.01);
  CHECK_THROWS_WITH(LearningRateWarmup(0.1, 0.2, -1), "--warmup-epochs must be >= 0, got -1");
}

TEST_CASE("TerminateOnNaN stops at the first non-finite loss", "[callbacks]") {
  FakeContext ctx;
  TerminateOnNaN t;
  TrainInfo info;
  info.context = &ctx;
  t.on_train_begin(info);
  Logs logs = make_logs();
  logs.set(0, 1.5);
  t.on_batch_end(0, logs);
  CHECK_FALSE(ctx.stopped);
  logs.set(0, std::nan(""));
  t.on_batch_end(1, logs);
  CHECK(ctx.stopped);
  CHECK(t.terminated());
}

// verbose=1 on a terminal: Keras's Progbar, redrawn in place (\r ... \x1b[K): the epoch header, an
// ETA while the epoch runs, then the final bar with the time per step and the validation logs;
// values below 1e-3 in Keras's %.4e.
TEST_CASE("ProgressBar draws Keras's bar on a terminal", "[callbacks][progbar]") {
  FILE* f = std::tmpfile();
  REQUIRE(f);
  ProgressBar bar(f, true);
  TrainInfo info;
  info.epochs = 2;
  info.steps_per_epoch = 3;
  info.verbose = 1;
  bar.on_train_begin(info);
  Logs logs;
  logs.add("loss");
  logs.add("val_loss");
  bar.on_epoch_begin(0);
  logs.set(0, 0.5);
  bar.on_batch_end(0, logs);  // within 50 ms of the epoch's start: not drawn
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  logs.set(0, 0.25);
  bar.on_batch_end(0, logs);  // drawn: 1 of 3
  bar.on_batch_end(1, logs);  // within 50 ms of the last draw: not drawn
  logs.set(0, 0.0005);
  bar.on_batch_end(2, logs);  // the last step is always drawn
  logs.set(1, 0.125);
  bar.on_epoch_end(0, logs);
  std::fflush(f);
  std::rewind(f);
  std::string out;
  for (int c; (c = std::fgetc(f)) != EOF;) out += char(c);
  std::fclose(f);
  INFO(out);
  // (Whether the calls inside 50 ms were skipped depends on the machine's timing: not checked.)
  CHECK(out.rfind("Epoch 1/2\n\r", 0) == 0);
  CHECK(out.find("\r1/3 [==========>...................] - ETA: 0s - loss: 0.2500\x1b[K\r") != std::string::npos);
  const std::string full = "[==============================] - 0s ";
  const size_t last = out.rfind("\r3/3 " + full);
  REQUIRE(last != std::string::npos);
  CHECK(out.find("ms/step - loss: 5.0000e-04 - val_loss: 0.1250\x1b[K\n", last) != std::string::npos);
}
