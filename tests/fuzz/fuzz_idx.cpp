// libFuzzer target: an MNIST IDX pair (--data mnist:DIR). The input is split at its first "\n--\n":
// the image file before, the label file after. It must end in the data or in dpt::Error; anything
// else is a finding. See scripts/fuzz.sh.
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include "core/data/spec.h"
#include "core/error.h"
#include "core/tensor.h"

namespace {
void write_file(const std::filesystem::path& p, const std::string& s) {
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) __builtin_trap();
  if (!s.empty()) std::fwrite(s.data(), 1, s.size(), f);
  std::fclose(f);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Sizes beyond this are refused with dptrain's message (as sizes beyond the machine's memory are).
  static const bool limited = (dpt::set_host_memory_limit(int64_t(64) << 20), true);
  (void)limited;
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t cut = in.find("\n--\n");
  const std::string img = in.substr(0, cut), lab = cut == std::string::npos ? std::string() : in.substr(cut + 4);
  static const std::filesystem::path dir = "/tmp/dpt_fuzz_idx_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  write_file(dir / "train-images-idx3-ubyte", img);
  write_file(dir / "train-labels-idx1-ubyte", lab);
  try {
    dpt::DataSplits s = dpt::load_data_spec("mnist:" + dir.string(), 1);
  } catch (const dpt::Error&) {
  }
  return 0;
}
