// dptrain: the command line. Each subcommand lives in its own file; errors end here as one line.
#include <CLI/CLI.hpp>
#include <cstdio>
#include "apps/options.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"dptrain: data-parallel training of Keras-style models (CPU replicas; CUDA/NCCL backend)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dptrain 0.1.0");
  dpt::app::setup_train(app);
  dpt::app::setup_eval(app);
  dpt::app::setup_info(app);
  dpt::app::setup_bench(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dpt::Error& e) {
    std::fprintf(stderr, "dptrain: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dptrain: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
