// Helpers shared by the libFuzzer targets (scripts/fuzz.sh).
#pragma once
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include "core/tensor.h"

namespace dpt::fuzz {

// Sizes beyond 64 MiB are refused with dptrain's message (as sizes beyond the machine's memory are),
// well inside libFuzzer's -malloc_limit_mb; once per process.
inline void limit_host_memory() {
  static const bool limited = (set_host_memory_limit(int64_t(64) << 20), true);
  (void)limited;
}

// A file pair in one input: split at its first "\n--\n" (has_second false where there is none).
struct Pair {
  std::string first, second;
  bool has_second = false;
};
inline Pair split_pair(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t cut = in.find("\n--\n");
  if (cut == std::string::npos) return {in, "", false};
  return {in.substr(0, cut), in.substr(cut + 4), true};
}

// Writes bytes to path (a trap where it cannot: that is the machine's fault, not a finding).
inline void write_file(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

// This process's scratch path for name: /tmp/dpt_fuzz_<pid>_<name>.
inline std::string temp_path(const std::string& name) {
  return "/tmp/dpt_fuzz_" + std::to_string(getpid()) + "_" + name;
}

}  // namespace dpt::fuzz
