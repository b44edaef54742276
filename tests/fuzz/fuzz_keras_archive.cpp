// libFuzzer target: a .keras file's bytes read as a Keras 3 archive (the zip's end record, central
// directory, local headers and members, stored or deflated, CRC-checked). It must end in the
// archive's members or in dpt::Error; anything else is a finding. The members' HDF5 is HDF5's to
// parse and is not fuzzed here. See scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>
#include "core/error.h"
#include "core/io/keras_archive.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dpt::fuzz::limit_host_memory();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const dpt::KerasArchive a = dpt::parse_keras_archive(bytes, "fuzz input");
  } catch (const dpt::Error&) {
  }
  return 0;
}
