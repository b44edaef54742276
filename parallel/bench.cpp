// Times Trainer::train_step on one fixed synthetic batch after warm-up, fed as fit feeds it.
#include "parallel/bench.h"
#include <algorithm>
#include <chrono>
#include <numeric>
#include "core/data/readers.h"
#include "core/error.h"
#include "core/losses.h"
#include "kernels/cuda_backend.h"
#include "parallel/communicator.h"
#include "parallel/replica_pool.h"

namespace dpt {

static BenchRow bench_one(const Preset& preset, const std::vector<Device>& devices, const BenchConfig& cfg) {
  const int N = int(devices.size());
  const int64_t B = cfg.weak ? cfg.batch * N : cfg.batch;
  auto model = preset.make();
  if (!model->built()) model->build(preset.input, cfg.seed);
  auto opt = make_optimizer(preset.optimizer);
  const LossKind loss = loss_from_name(preset.loss);
  Trainer trainer(*model, devices, loss, *opt, cfg.threads, cfg.parallel);
  // Class indices as one-hot rows (as the sparse losses take them, indices); one output (binary
  // cross-entropy): 0 or 1 targets.
  Dataset data = make_synthetic(model->input_shape(), std::max<int64_t>(preset.classes, 2), B, cfg.seed,
                                model->input_index_limit());
  if (model->num_inputs() > 1) data.inputs = model->input_shapes();  // packed rows, one part an input
  if (preset.classes > 1 && loss_wants_one_hot(loss)) data.to_one_hot();
  trainer.prepare(B, data);
  DPT_CHECK(B >= N, "a global batch of " << B << " cannot be split over " << N << " replicas");
  std::vector<int64_t> idx(static_cast<size_t>(B));
  std::iota(idx.begin(), idx.end(), 0);
  trainer.load_batch(data, idx.data(), B);
  std::vector<double> ms;
  double comm = 0;
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < cfg.warmup + cfg.steps; ++i) {
    // As fit's input pipeline: the next batch is loaded into the spare buffers (untimed here, on
    // fit's prefetch thread there) and, on GPUs, its upload is queued to overlap this step.
    trainer.load_next(data, idx.data(), B);
    if (i == cfg.warmup && devices[0].is_cuda()) kernels::cuda_profiler_range(true);  // the timed steps only
    const auto a = Clock::now();
    trainer.train_step(B, 0, i, nullptr);
    const auto b = Clock::now();
    trainer.next_batch();
    if (i < cfg.warmup) continue;
    ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    comm += trainer.last_step().comm_ms;
  }
  if (devices[0].is_cuda()) kernels::cuda_profiler_range(false);
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

AllReduceRow run_allreduce_bench(const std::vector<Device>& devices, int64_t bytes, int iters, int warmup) {
  const int N = int(devices.size());
  DPT_CHECK(N >= 2, "an all-reduce benchmark needs at least 2 replicas");
  DPT_CHECK(iters >= 1 && bytes >= 4, "all-reduce benchmark: iterations and bytes must be positive");
  const bool gpu = devices[0].is_cuda();
  const int64_t n = bytes / 4;
  std::vector<std::unique_ptr<kernels::CudaResources, kernels::CudaResourcesDeleter>> res;
  std::vector<kernels::CudaResources*> streams;
  std::vector<int> index;
  std::vector<Tensor> bufs;
  for (const Device& d : devices) {
    if (gpu) {
      res.emplace_back(kernels::cuda_resources_create(d.index, false));
      streams.push_back(res.back().get());
      index.push_back(d.index);
    }
    bufs.emplace_back(Shape{n}, d);
  }
  std::unique_ptr<Communicator> comm;
  if (gpu)
    comm = make_nccl_communicator(index, streams);
  else
    comm = std::make_unique<HostCommunicator>(N);
  std::vector<double> ms;
  int count = 0;
  auto work = [&](int r) {
    if (gpu) kernels::cuda_set_device(index[size_t(r)]);
    for (int i = 0; i < count; ++i) {
      comm->all_reduce_sum(r, bufs[size_t(r)].data(), n);
      comm->join(r);
    }
    if (gpu) kernels::cuda_stream_sync(*streams[size_t(r)]);
  };
  {
    ReplicaPool pool(N, nullptr, [&] { comm->abort(); });
    count = warmup;
    pool.run(work);
    count = 1;
    using Clock = std::chrono::steady_clock;
    for (int i = 0; i < iters; ++i) {  // one all-reduce per dispatch: each timed to completion
      const auto a = Clock::now();
      pool.run(work);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
    }
  }
  std::sort(ms.begin(), ms.end());
  AllReduceRow row;
  row.replicas = N;
  row.bytes = n * 4;
  row.ms = ms[ms.size() / 2];
  row.algbw_gbs = double(row.bytes) / (row.ms / 1000.0) / 1e9;
  row.busbw_gbs = row.algbw_gbs * 2.0 * (N - 1) / N;
  return row;
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
