// libFuzzer target: a Keras training_config (JSON text, as in an .h5 file's training_config
// attribute) turned into dptrain's compile settings: the loss, the optimizer with its
// hyperparameters (a learning-rate schedule among them), and what dptrain does not apply. Every input must end either
// in a KerasCompileConfig or in dpt::Error, the error type whose message the command line prints; anything else (a JSON
// library exception, a sanitizer report) is a finding. See scripts/fuzz.sh.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include "core/error.h"
#include "core/io/keras_config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dpt::fuzz::limit_host_memory();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const dpt::KerasCompileConfig c = dpt::compile_config_from_json(text, "fuzz input");
    // What it accepts is usable: a named optimizer has a positive, finite learning rate (or
    // Keras's default, < 0) and finite hyperparameters.
    const auto& o = c.optimizer;
    if (!o.name.empty()) {
      const double lr = o.learning_rate;
      if (!(lr < 0 || (std::isfinite(lr) && lr > 0))) __builtin_trap();
      for (double v : {o.momentum, o.rho, o.beta_1, o.beta_2, o.epsilon, o.initial_accumulator_value, o.weight_decay,
                       o.clipnorm, o.clipvalue, o.global_clipnorm})
        if (!std::isfinite(v)) __builtin_trap();
      if (o.gradient_accumulation_steps != 0 && o.gradient_accumulation_steps < 2) __builtin_trap();
      // A schedule read is one of Keras's, with arguments its checks accept.
      if (o.schedule) {
        dpt::LearningRateSchedule s = *o.schedule;
        if (s.initial_learning_rate < 0) s.initial_learning_rate = 0.01;  // Keras 2's decay on the default rate
        try {
          s.check();
        } catch (const dpt::Error&) {
          __builtin_trap();
        }
      }
    }
  } catch (const dpt::Error&) {
  }
  return 0;
}
