// libFuzzer target: a Keras model config (JSON text, as in an .h5 file's model_config attribute or a
// --model .json file) turned into a built Sequential. Every input must end either in a model or in
// dpt::Error, the error type whose message the command line prints; anything else (a JSON library
// exception, std::bad_alloc, a sanitizer report) is a finding. See scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>
#include "core/error.h"
#include "core/io/keras_config.h"
#include "core/sequential.h"
#include "core/tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Sizes beyond this are refused with dptrain's message (as sizes beyond the machine's memory are).
  static const bool limited = (dpt::set_host_memory_limit(int64_t(64) << 20), true);
  (void)limited;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto model = dpt::model_from_keras_json(text, 1, "fuzz input");
  } catch (const dpt::Error&) {
  }
  return 0;
}
