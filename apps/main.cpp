// dptrain: the command line. Each subcommand lives in its own file; errors end here as one line
// on stderr: exit 2 for a malformed command line, 1 for anything that failed while running.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <string>
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
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* s : app.get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + s->get_name();
      known = known || s->get_name() == argv[1];
    }
    if (!known) {
      std::fprintf(stderr, "dptrain: error: unknown subcommand '%s' (available: %s)\n", argv[1], names.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "dptrain: error: %s (see 'dptrain %s--help')\n", e.what(),
                 argc > 1 && argv[1][0] != '-' ? (std::string(argv[1]) + " ").c_str() : "");
    return 2;
  } catch (const dpt::app::ExitRequest& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dptrain: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
