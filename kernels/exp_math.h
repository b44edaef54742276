// exp for float in a branch-free form that the CPU loops vectorise and CUDA kernels run as it is:
// glibc's expf is one call per element (its vector versions, libmvec, are declared only under
// -ffast-math, which dptrain does not use: it would reorder sums). The recurrent cells' sigmoid and
// tanh (recurrent_math.h) and the CPU's float softmax (activation_cpu.cpp) use it.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "kernels/hd.h"

namespace dpt::kernels {

// exp(x) for float, within 1.1 ulp of the exact value over every float of [-87.34, 88] (against
// double's exp, 1.02 at worst where the compiler fuses multiply-adds (-march=x86-64-v3), 0.99
// where it does not; tests/kernels/test_exp_math.cpp). x = k ln2 + r with |r| <= ln2 / 2
// (ln2 split in two parts so that k ln2 is exact), e^r by a degree-7 polynomial (Cephes's expf
// coefficients), times 2^k made in the exponent bits. Below ln(2^-126) = -87.34 (where exp leaves
// float's normal range: the library gives a subnormal, at most 1.2e-38) it is 0, so a masked
// score's exp(-1e9) is exactly 0; above 88 it is exp(88) (never inf); a NaN stays NaN.
DPT_HD float poly_expf(float x) {
  const float lowest = -87.3365478515625f;
  const float xc = x > lowest ? (x < 88.f ? x : 88.f) : lowest;  // NaN: lowest (no int overflow below)
  const float k = std::floor(xc * 1.44269504088896341f + 0.5f);
  const float r = (xc - k * 0.693359375f) + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (int32_t(k) + 127) << 23;
  float scale;
#if defined(__CUDA_ARCH__)
  scale = __int_as_float(bits);
#else
  std::memcpy(&scale, &bits, sizeof scale);
#endif
  return x >= lowest ? p * scale : (x < lowest ? 0.f : x);
}

}  // namespace dpt::kernels
