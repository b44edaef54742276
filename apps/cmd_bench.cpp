// `dptrain bench`: training throughput on synthetic data for one or more replica counts
// (weak or strong scaling), as a table and as JSON.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include "apps/options.h"
#include "core/error.h"
#include "kernels/gemm.h"
#include "parallel/bench.h"
#include "parallel/devices.h"

namespace dpt::app {

namespace {

struct BenchOptions {
  std::string model = "cifar10-cnn";
  std::string replicas, gpus;  // lists of counts: "1,2,4"
  int64_t per_replica = 0, global = 0, batch = 0;
  int steps = 20, warmup = 5, threads = 0;
  std::string strategy = "allreduce";
  uint64_t seed = 1337;
  std::string json;
  bool tf32 = false, deterministic = false;
  int64_t allreduce_mib = 64;
};

std::vector<int> counts(const std::string& list, const char* flag) {
  std::vector<int> out;
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int v = 0;
    try {
      v = std::stoi(part);
    } catch (...) {
      DPT_FAIL(flag << " takes a list of counts like 1,2,4; got '" << list << "'");
    }
    DPT_CHECK(v >= 1, flag << " counts must be >= 1, got " << v);
    out.push_back(v);
  }
  return out;
}

void run_bench(const BenchOptions& o) {
  const Preset& p = find_preset(o.model);
  check_writable(o.json, "JSON results");
  DPT_CHECK(o.replicas.empty() || o.gpus.empty(), "give either --replicas or --gpus, not both");
  const int given = (o.per_replica > 0) + (o.global > 0) + (o.batch > 0);
  DPT_CHECK(given <= 1, "give one of --batch-size-per-replica, --global-batch-size and --batch-size");
  const int threads = resolved_threads(o.threads);
  kernels::set_cpu_threads(threads);
  std::vector<std::vector<Device>> sets;
  std::string device = "cpu";
  if (!o.gpus.empty()) {
    std::string why;
    const auto vis = visible_gpus(&why);
    DPT_CHECK(!vis.empty(), "--gpus " << o.gpus << " asked for GPUs, but " << why);
    device = vis[0].name;
    for (int c : counts(o.gpus, "--gpus")) {
      if (c > int(vis.size())) {
        std::printf("note: skipping %d GPUs: only %zu visible\n", c, vis.size());
        continue;
      }
      sets.push_back(select_devices(std::to_string(c), 0));
    }
  } else {
    for (int c : counts(o.replicas.empty() ? "1" : o.replicas, "--replicas")) sets.push_back(select_devices("", c));
  }
  DPT_CHECK(!sets.empty(), "nothing to run");
  BenchConfig cfg;
  cfg.weak = o.global == 0 && o.batch == 0;
  cfg.batch = o.per_replica > 0 ? o.per_replica : o.global > 0 ? o.global : o.batch > 0 ? o.batch : 128;
  cfg.steps = o.steps;
  cfg.warmup = o.warmup;
  cfg.threads = threads;
  cfg.seed = o.seed;
  cfg.parallel.tf32 = o.tf32;
  cfg.parallel.deterministic = o.deterministic;
  std::vector<std::string> strategies;
  std::stringstream ss(o.strategy);
  for (std::string part; std::getline(ss, part, ',');) {
    strategy_from_name(part);  // validates
    strategies.push_back(part);
  }
  std::printf("model %s | device %s | %d threads in all | %s scaling, %s batch %lld | median of %d steps after %d "
              "warm-up\n",
              p.name.c_str(), device.c_str(), threads, cfg.weak ? "weak" : "strong", cfg.weak ? "per-replica" : "global",
              (long long)cfg.batch, o.steps, o.warmup);
  std::printf("%9s %8s %12s %12s %8s %10s %9s %12s %14s\n", "strategy", "replicas", "global_batch", "samples/s",
              "speedup", "efficiency", "ms/step", "reduce ms", "bytes reduced");
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const std::string& st : strategies) {
    cfg.parallel.strategy = strategy_from_name(st);
    for (auto& r : run_scaling_bench(p, sets, cfg)) {
      std::printf("%9s %8d %12lld %12.1f %8.2f %10.2f %9.2f %12.3f %14lld\n", st.c_str(), r.replicas,
                  (long long)r.global_batch, r.samples_per_sec, r.speedup, r.efficiency, r.step_ms, r.allreduce_ms,
                  (long long)r.bytes_reduced);
      std::fflush(stdout);
      nlohmann::ordered_json row = {{"replicas", r.replicas},        {"global_batch", r.global_batch},
                                    {"samples_per_sec", r.samples_per_sec}, {"step_ms", r.step_ms},
                                    {"allreduce_ms", r.allreduce_ms},  {"bytes_reduced", r.bytes_reduced},
                                    {"speedup", r.speedup},            {"efficiency", r.efficiency}};
      if (strategies.size() > 1) row["strategy"] = st;
      results.push_back(row);
    }
  }
  // All-reduce bandwidth for each multi-replica set: at the model's gradient size and at a large
  // size (nccl-tests' convention: busbw = algbw * 2(n-1)/n).
  nlohmann::ordered_json ar = nlohmann::ordered_json::array();
  bool header = false;
  int64_t grad_bytes = 0;
  {
    auto m = p.make();
    m->build(p.input, o.seed);
    grad_bytes = m->num_trainable() * 4;
  }
  for (auto& devices : sets) {
    if (devices.size() < 2) continue;
    if (!header) {
      std::printf("all-reduce (float32 sum, %s; busbw = algbw * 2(n-1)/n as nccl-tests):\n",
                  devices[0].is_cuda() ? "NCCL" : "host shared memory");
      std::printf("%8s %14s %10s %12s %12s\n", "replicas", "bytes", "ms", "algbw GB/s", "busbw GB/s");
      header = true;
    }
    for (int64_t bytes : {grad_bytes, o.allreduce_mib << 20}) {
      const AllReduceRow r = run_allreduce_bench(devices, bytes, std::max(o.steps, 5), 3);
      std::printf("%8d %14lld %10.3f %12.2f %12.2f\n", r.replicas, (long long)r.bytes, r.ms, r.algbw_gbs, r.busbw_gbs);
      std::fflush(stdout);
      ar.push_back({{"replicas", r.replicas}, {"bytes", r.bytes}, {"ms", r.ms}, {"algbw_gbs", r.algbw_gbs},
                    {"busbw_gbs", r.busbw_gbs}});
    }
  }
  if (!o.json.empty()) {
    nlohmann::ordered_json j;
    j["allreduce"] = ar;
    j["model"] = p.name;
    j["device"] = device;
    j["threads"] = threads;
    j["strategy"] = o.strategy;
    j["scaling"] = cfg.weak ? "weak" : "strong";
    j["results"] = results;
    std::ofstream f(o.json);
    f << j.dump(2) << "\n";
    f.close();
    DPT_CHECK(f, "writing '" << o.json << "' failed");
  }
}

}  // namespace

void setup_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "training throughput and scaling on synthetic data of the model's input shape");
  cmd->add_option("--model", o->model, "model preset")->capture_default_str();
  cmd->add_option("--replicas", o->replicas, "CPU replica counts to run, e.g. 1,2 (default 1)");
  cmd->add_option("--gpus", o->gpus, "GPU counts to run, e.g. 1,2,4,8 (counts above those visible are skipped)");
  cmd->add_option("--batch-size-per-replica", o->per_replica, "weak scaling: this batch on every replica (default 128)")
      ->check(kPositive);
  cmd->add_option("--global-batch-size", o->global, "strong scaling: this global batch split over the replicas")
      ->check(kPositive);
  cmd->add_option("--batch-size", o->batch, "same as --global-batch-size")->check(kPositive);
  cmd->add_option("--steps", o->steps, "timed steps")->check(kPositive)->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed warm-up steps")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads in all, split over the replicas (default: all cores)")
      ->check(kPositive);
  cmd->add_option("--strategy", o->strategy, "allreduce | ps | allreduce,ps (compare both)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed")->capture_default_str();
  cmd->add_option("--json", o->json, "also write the results as JSON");
  cmd->add_flag("--tf32", o->tf32, "GPUs: allow TF32 tensor cores (FP32 math by default)");
  cmd->add_flag("--deterministic", o->deterministic, "GPUs: bit-reproducible convolution algorithms only (slower)");
  cmd->add_option("--allreduce-mib", o->allreduce_mib, "size of the large all-reduce bandwidth test (MiB)")
      ->check(kPositive)
      ->capture_default_str();
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace dpt::app
