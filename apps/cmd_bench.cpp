// `dptrain bench`: steady-state training samples/s on synthetic data; table and JSON.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include "apps/options.h"
#include "core/error.h"
#include "kernels/gemm.h"
#include "parallel/bench.h"
#include "parallel/devices.h"

namespace dpt::app {

namespace {

struct BenchOptions {
  std::string model = "cifar10-cnn";
  int64_t batch_size = 128;
  int steps = 20, warmup = 3, threads = 0;
  uint64_t seed = 1337;
  std::string json;
};

void run_bench(const BenchOptions& o) {
  const Preset& p = find_preset(o.model);
  check_writable(o.json, "JSON results");
  const int threads = resolved_threads(o.threads);
  kernels::set_cpu_threads(threads);
  const auto devices = select_devices("", 1);
  const BenchResult r = run_train_bench(p, devices, o.batch_size, o.steps, o.warmup, threads, o.seed);
  std::printf("model %s | device cpu | threads %d | %d steps after %d warm-up\n", p.name.c_str(), threads, o.steps, o.warmup);
  std::printf("%8s %12s %12s %10s\n", "replicas", "global_batch", "samples/s", "ms/step");
  std::printf("%8d %12lld %12.1f %10.2f\n", r.replicas, (long long)r.global_batch, r.samples_per_sec, r.step_ms);
  if (!o.json.empty()) {
    nlohmann::ordered_json j;
    j["model"] = p.name;
    j["device"] = "cpu";
    j["threads"] = threads;
    j["results"] = nlohmann::ordered_json::array(
        {{{"replicas", r.replicas}, {"global_batch", r.global_batch}, {"samples_per_sec", r.samples_per_sec},
          {"step_ms", r.step_ms}}});
    std::ofstream f(o.json);
    f << j.dump(2) << "\n";
    DPT_CHECK(f, "writing '" << o.json << "' failed");
  }
}

}  // namespace

void setup_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "training throughput on synthetic data of the model's input shape");
  cmd->add_option("--model", o->model, "model preset")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "global batch size")->check(kPositive)->capture_default_str();
  cmd->add_option("--steps", o->steps, "timed steps")->check(kPositive)->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed warm-up steps")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (default: all cores)")->check(kPositive);
  cmd->add_option("--seed", o->seed, "seed")->capture_default_str();
  cmd->add_option("--json", o->json, "also write the results as JSON");
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace dpt::app
