// libFuzzer target: the synthetic data spec (--data synthetic:H,W,C:CLASSES:N); the input is what
// follows "synthetic:". It must end in the data or in dpt::Error; anything else (std::bad_alloc
// included: a size beyond memory must be refused with a message first) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include "core/data/spec.h"
#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dpt::fuzz::limit_host_memory();
  const std::string rest(reinterpret_cast<const char*>(data), size);
  try {
    dpt::DataSplits s = dpt::load_data_spec("synthetic:" + rest, 1);
  } catch (const dpt::Error&) {
  }
  return 0;
}
