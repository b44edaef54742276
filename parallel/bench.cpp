// Times train_step on one fixed synthetic batch after warm-up; reports median and mean step time.
#include "parallel/bench.h"
#include <algorithm>
#include <chrono>
#include <numeric>
#include "core/data/readers.h"
#include "core/error.h"
#include "core/losses.h"
#include "parallel/trainer.h"

namespace dpt {

BenchResult run_train_bench(const Preset& preset, const std::vector<Device>& devices, int64_t global_batch,
                            int steps, int warmup, int threads, uint64_t seed) {
  DPT_CHECK(steps >= 1, "bench needs --steps >= 1, got " << steps);
  DPT_CHECK(warmup >= 0, "bench needs --warmup >= 0, got " << warmup);
  DPT_CHECK(global_batch >= 1, "batch size must be >= 1, got " << global_batch);
  auto model = preset.make();
  model->build(preset.input, seed);
  auto opt = make_optimizer(preset.optimizer);
  Trainer trainer(*model, devices, LossKind::categorical_crossentropy, *opt, threads);
  Dataset data = make_synthetic(preset.input, preset.classes, global_batch, seed);
  data.to_one_hot();
  trainer.prepare(global_batch, data);
  std::vector<int64_t> idx(static_cast<size_t>(global_batch));
  std::iota(idx.begin(), idx.end(), 0);
  trainer.load_batch(data, idx.data(), global_batch);
  for (int i = 0; i < warmup; ++i) trainer.train_step(global_batch, 0, i, nullptr);
  std::vector<double> ms;
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) {
    const auto a = Clock::now();
    trainer.train_step(global_batch, 0, warmup + i, nullptr);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
  BenchResult r;
  r.replicas = int(devices.size());
  r.global_batch = global_batch;
  r.samples_per_sec = double(global_batch) * steps / total_s;
  r.step_ms_mean = 1000.0 * total_s / steps;
  std::sort(ms.begin(), ms.end());
  r.step_ms = ms[ms.size() / 2];
  return r;
}

}  // namespace dpt
