// Scaling benchmark: steady-state training throughput of a preset on synthetic data of its input
// shape, for several replica counts (weak scaling: a fixed batch per replica; strong scaling: a
// fixed global batch), with the time spent reducing gradients.
#pragma once
#include <string>
#include <vector>
#include "core/device.h"
#include "core/presets.h"
#include "parallel/trainer.h"

namespace dpt {

struct BenchRow {
  int replicas = 1;
  int64_t global_batch = 0;
  double samples_per_sec = 0;  // from the median step
  double step_ms = 0;          // median step time
  double allreduce_ms = 0;     // mean per step, replica-averaged time in gradient/weight collectives
  int64_t bytes_reduced = 0;   // per replica per step
  // Against the first row; efficiency = speedup / (compute used / the first row's), where compute
  // is GPUs for GPU replicas and threads for CPU replicas (which share the --threads).
  double speedup = 1, efficiency = 1;
};

struct BenchConfig {
  int64_t batch = 128;      // per replica (weak) or global (strong)
  bool weak = true;
  int steps = 20, warmup = 3, threads = 1;
  ParallelOptions parallel;
  uint64_t seed = 1337;
};

// All-reduce bandwidth the way nccl-tests reports it: algbw = bytes / time, busbw = algbw * 2(n-1)/n
// (the bytes each link carries in a ring all-reduce), through the communicator training uses
// (NCCL for GPUs, shared memory for CPU replicas). Needs at least 2 devices.
struct AllReduceRow {
  int replicas = 0;
  int64_t bytes = 0;
  double ms = 0;         // median over iterations
  double algbw_gbs = 0, busbw_gbs = 0;
};
AllReduceRow run_allreduce_bench(const std::vector<Device>& devices, int64_t bytes, int iters, int warmup);

// One row per device set (e.g. {cpu:0}, {cpu:0, cpu:1}); speedup/efficiency against the first.
std::vector<BenchRow> run_scaling_bench(const Preset& preset, const std::vector<std::vector<Device>>& device_sets,
                                        const BenchConfig& cfg);

}  // namespace dpt
