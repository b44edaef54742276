// Times Trainer::train_step on one fixed synthetic batch after warm-up.
#include "parallel/bench.h"
#include <algorithm>
#include <chrono>
#include <numeric>
#include "core/data/readers.h"
#include "core/error.h"
#include "core/losses.h"

namespace dpt {

static BenchRow bench_one(const Preset& preset, const std::vector<Device>& devices, const BenchConfig& cfg) {
  const int N = int(devices.size());
  const int64_t B = cfg.weak ? cfg.batch * N : cfg.batch;
  auto model = preset.make();
  model->build(preset.input, cfg.seed);
  auto opt = make_optimizer(preset.optimizer);
  Trainer trainer(*model, devices, LossKind::categorical_crossentropy, *opt, cfg.threads, cfg.parallel);
  Dataset data = make_synthetic(preset.input, preset.classes, B, cfg.seed);
  data.to_one_hot();
  trainer.prepare(B, data);
  std::vector<int64_t> idx(static_cast<size_t>(B));
  std::iota(idx.begin(), idx.end(), 0);
  trainer.load_batch(data, idx.data(), B);
  for (int i = 0; i < cfg.warmup; ++i) trainer.train_step(B, 0, i, nullptr);
  std::vector<double> ms;
  double comm = 0;
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < cfg.steps; ++i) {
    const auto a = Clock::now();
    trainer.train_step(B, 0, cfg.warmup + i, nullptr);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
    comm += trainer.last_step().comm_ms;
  }
  std::sort(ms.begin(), ms.end());
  BenchRow r;
  r.replicas = N;
  r.global_batch = B;
  r.step_ms = ms[ms.size() / 2];
  r.samples_per_sec = double(B) / (r.step_ms / 1000.0);
  r.allreduce_ms = comm / cfg.steps;
  r.bytes_reduced = trainer.last_step().bytes_reduced;
  return r;
}

std::vector<BenchRow> run_scaling_bench(const Preset& preset, const std::vector<std::vector<Device>>& device_sets,
                                        const BenchConfig& cfg) {
  DPT_CHECK(cfg.steps >= 1, "bench needs --steps >= 1, got " << cfg.steps);
  DPT_CHECK(cfg.warmup >= 0, "bench needs --warmup >= 0, got " << cfg.warmup);
  DPT_CHECK(cfg.batch >= 1, "batch size must be >= 1, got " << cfg.batch);
  // Compute used by a row: GPUs count devices; CPU replicas share the threads (at least one each).
  auto units = [&](const std::vector<Device>& d) {
    const int n = int(d.size());
    return d[0].is_cpu() ? double(n * std::max(1, cfg.threads / n)) : double(n);
  };
  std::vector<BenchRow> rows;
  for (auto& devices : device_sets) {
    BenchRow r = bench_one(preset, devices, cfg);
    if (!rows.empty()) {
      r.speedup = r.samples_per_sec / rows[0].samples_per_sec;
      r.efficiency = r.speedup / (units(devices) / units(device_sets[0]));
    }
    rows.push_back(r);
  }
  return rows;
}

}  // namespace dpt
