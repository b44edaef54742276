// libFuzzer target: a .npy file pair read as a dataset, as --data npy:X.npy,Y.npy reads it. The
// input is split at its first "\n--\n": samples before, labels after (no separator: samples only).
// It must end in the data or in dpt::Error; anything else is a finding. See scripts/fuzz.sh.
#include <cstdio>
#include "core/data/spec.h"
#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dpt::fuzz::limit_host_memory();
  const dpt::fuzz::Pair in = dpt::fuzz::split_pair(data, size);
  const std::string xf = dpt::fuzz::temp_path("x.npy"), yf = in.has_second ? dpt::fuzz::temp_path("y.npy") : "";
  dpt::fuzz::write_file(xf, in.first);
  if (in.has_second) dpt::fuzz::write_file(yf, in.second);
  try {
    dpt::DataSplits d = dpt::load_data_spec("npy:" + xf + (yf.empty() ? "" : "," + yf), 1);
  } catch (const dpt::Error&) {
  }
  std::remove(xf.c_str());
  if (!yf.empty()) std::remove(yf.c_str());
  return 0;
}
