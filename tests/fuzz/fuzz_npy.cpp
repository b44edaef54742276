// libFuzzer target: a .npy file pair read as a dataset, as --data npy:X.npy,Y.npy reads it. The input is split
// at its first "\n--\n": samples before, labels after (no separator: samples only). It must end in
// the data or in dpt::Error; anything else is a finding. See scripts/fuzz.sh.
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include "core/data/spec.h"
#include "core/error.h"
#include "core/tensor.h"

namespace {
std::string write_temp(const std::string& stem, const char* data, size_t size) {
  const std::string path = "/tmp/dpt_fuzz_" + std::to_string(getpid()) + "_" + stem + ".npy";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Sizes beyond this are refused with dptrain's message (as sizes beyond the machine's memory are).
  static const bool limited = (dpt::set_host_memory_limit(int64_t(64) << 20), true);
  (void)limited;
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t cut = in.find("\n--\n");
  const std::string xs = in.substr(0, cut), ys = cut == std::string::npos ? std::string() : in.substr(cut + 4);
  const std::string xf = write_temp("x", xs.data(), xs.size());
  const std::string yf = cut == std::string::npos ? std::string() : write_temp("y", ys.data(), ys.size());
  try {
    dpt::DataSplits d = dpt::load_data_spec("npy:" + xf + (yf.empty() ? "" : "," + yf), 1);
  } catch (const dpt::Error&) {
  }
  std::remove(xf.c_str());
  if (!yf.empty()) std::remove(yf.c_str());
  return 0;
}
