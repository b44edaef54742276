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
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dpt::fuzz::limit_host_memory();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto model = dpt::model_from_keras_json(text, 1, "fuzz input");
  } catch (const dpt::Error&) {
  }
  return 0;
}
