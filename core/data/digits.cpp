// Embeds core/data/digits.bin (1797 records of 64 pixels + 1 label) into the binary with .incbin.
#include "core/data/digits.h"
#include "core/error.h"

__asm__(
    ".section .rodata\n"
    ".global dpt_digits_begin\n"
    ".balign 16\n"
    "dpt_digits_begin:\n"
    ".incbin \"" DPT_DIGITS_BIN "\"\n"
    ".global dpt_digits_end\n"
    "dpt_digits_end:\n"
    ".previous\n");
extern "C" const unsigned char dpt_digits_begin[];
extern "C" const unsigned char dpt_digits_end[];

namespace dpt {

Dataset load_digits() {
  constexpr int64_t kSamples = 1797, kRecord = 65;
  DPT_CHECK(dpt_digits_end - dpt_digits_begin == kSamples * kRecord, "embedded digits data is damaged");
  Dataset d;
  d.sample_shape = {8, 8, 1};
  d.num_classes = 10;
  d.x.resize(kSamples * 64);
  d.y.resize(kSamples);
  for (int64_t i = 0; i < kSamples; ++i) {
    const unsigned char* r = dpt_digits_begin + i * kRecord;
    for (int p = 0; p < 64; ++p) d.x[size_t(i * 64 + p)] = float(r[p]) / 16.f;
    d.y[size_t(i)] = float(r[64]);
  }
  return d;
}

}  // namespace dpt
