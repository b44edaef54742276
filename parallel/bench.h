// Training-throughput benchmark: steady-state steps on synthetic data of the model's input shape.
#pragma once
#include <string>
#include <vector>
#include "core/device.h"
#include "core/presets.h"

namespace dpt {

struct BenchResult {
  int replicas = 1;
  int64_t global_batch = 0;
  double samples_per_sec = 0;
  double step_ms = 0;       // median step time
  double step_ms_mean = 0;
};

BenchResult run_train_bench(const Preset& preset, const std::vector<Device>& devices, int64_t global_batch,
                            int steps, int warmup, int threads, uint64_t seed);

}  // namespace dpt
