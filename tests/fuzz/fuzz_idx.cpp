// libFuzzer target: an MNIST IDX pair (--data mnist:DIR). The input is split at its first "\n--\n":
// the image file before, the label file after. It must end in the data or in dpt::Error; anything
// else is a finding. See scripts/fuzz.sh.
#include <filesystem>
#include "core/data/spec.h"
#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dpt::fuzz::limit_host_memory();
  const dpt::fuzz::Pair in = dpt::fuzz::split_pair(data, size);
  static const std::string dir = dpt::fuzz::temp_path("idx");
  std::filesystem::create_directories(dir);
  dpt::fuzz::write_file(dir + "/train-images-idx3-ubyte", in.first);
  dpt::fuzz::write_file(dir + "/train-labels-idx1-ubyte", in.second);
  try {
    dpt::DataSplits s = dpt::load_data_spec("mnist:" + dir, 1);
  } catch (const dpt::Error&) {
  }
  return 0;
}
