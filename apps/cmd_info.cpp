// `dptrain summary`, `dptrain models`, `dptrain devices`.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include "apps/options.h"
#include "core/io/inspect.h"
#include "parallel/devices.h"

namespace dpt::app {

void setup_info(CLI::App& app) {
  auto model = std::make_shared<std::string>(kDefaultPreset);
  CLI::App* s = app.add_subcommand("summary", "Keras's model.summary() table for a preset");
  s->add_option("--model", *model, "model preset, or a Keras FILE.h5 / FILE.keras / FILE.json")->capture_default_str();
  s->callback([model] {
    const Preset p = model_preset(*model, 0);
    auto m = p.make();
    if (!m->built()) m->build(p.input, 0);
    std::printf("%s", m->summary().c_str());
  });

  CLI::App* m = app.add_subcommand("models", "list the model presets");
  m->callback([] {
    for (auto& p : presets()) {
      std::string shape = shape_str(p.input);
      std::printf("%-12s input %-12s %s%s\n", p.name.c_str(), shape.c_str(), p.description.c_str(),
                  p.name == kDefaultPreset ? " (default)" : "");
    }
  });

  auto file = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* in = app.add_subcommand(
      "inspect", "what a weights/model .h5 file or .keras archive holds: format, Keras version, layers");
  in->add_option("file", *file, "the .h5 or .keras file")->required();
  in->add_flag("--json", *json, "print JSON");
  in->callback([file, json] {
    const FileInfo info = inspect_file(*file);
    std::printf("%s\n", (*json ? inspect_json(info, *file) : inspect_text(info, *file)).c_str());
  });

  CLI::App* d = app.add_subcommand("devices", "list the visible GPUs (or say why there are none)");
  d->callback([] {
    std::string why;
    const auto gpus = visible_gpus(&why);
    if (gpus.empty()) {
      std::printf("no GPU available: %s\nCPU replicas are available (--replicas N)\n", why.c_str());
      return;
    }
    const char* env = std::getenv("CUDA_VISIBLE_DEVICES");
    std::printf("%zu visible GPU%s (%s)\n", gpus.size(), gpus.size() == 1 ? "" : "s",
                env ? ("CUDA_VISIBLE_DEVICES=" + std::string(env)).c_str() : "CUDA_VISIBLE_DEVICES is unset");
    for (auto& g : gpus)
      std::printf("cuda:%d  %s  %.1f GiB  compute capability %d.%d\n", g.index, g.name.c_str(),
                  double(g.memory_bytes) / (1 << 30), g.cc_major, g.cc_minor);
    if (gpus.size() > 1) {  // peer access matrix: can row's GPU read column's memory directly
      std::printf("peer access (row reads column):\n%8s", "");
      for (auto& b : gpus) std::printf(" %8s", ("cuda:" + std::to_string(b.index)).c_str());  // over its column
      std::printf("\n");
      for (auto& a : gpus) {
        std::printf("cuda:%-3d", a.index);
        for (auto& b : gpus) std::printf(" %8s", a.index == b.index ? "-" : gpu_peer_access(a.index, b.index) ? "yes" : "no");
        std::printf("\n");
      }
    }
  });
}

}  // namespace dpt::app
