// Counter-based randomness: a draw is a pure function of its key (seed, epoch, step, index), so
// the same sample gets the same dropout mask however the batch is split across replicas.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

DPT_HD uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// 32-bit finaliser (murmur3's fmix32): vectorises with AVX2, for per-element draws.
DPT_HD uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

// Key of one row of draws: a function of (seed, epoch, step) and the row's global index only.
DPT_HD uint32_t row_key(uint64_t seed, uint64_t epoch, uint64_t step, uint64_t global_row) {
  return uint32_t(mix64(seed ^ mix64(epoch ^ mix64(step ^ mix64(global_row)))));
}

// Uniform in [0, 1) for column `col` of a row keyed by row_key (24 random bits).
DPT_HD float uniform_in_row(uint32_t key, uint32_t col) {
  // via int32 (exact: < 2^24) so the conversion vectorises (AVX2 has no unsigned convert)
  return float(int32_t(fmix32(key ^ (col * 0x9e3779b9u)) >> 8)) * (1.0f / 16777216.0f);
}

// A standard normal draw for column `col` of a row keyed by row_key: Box-Muller on the row's
// uniforms 2 col and 2 col + 1 (the first taken as 1 - u, in (0, 1], so its log is finite). In float:
// the CPU's and the GPU's logf, sqrtf and cosf may round their last bit apart.
DPT_HD float normal_in_row(uint32_t key, uint32_t col) {
  const float u1 = 1.0f - uniform_in_row(key, 2u * col), u2 = uniform_in_row(key, 2u * col + 1u);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

// Keras 3's RandomFlip: whether sample `row` (its global index) of a step is flipped, one uniform
// draw a sample, flipped where it is <= 0.5 (Keras's less_equal(uniform, 0.5)).
DPT_HD bool flip_drawn(uint64_t seed, uint64_t epoch, uint64_t step, uint64_t global_row) {
  return uniform_in_row(row_key(seed, epoch, step, global_row), 0u) <= 0.5f;
}

// Keras's GaussianNoise (x + stddev z) and GaussianDropout (x (1 + stddev z), stddev
// sqrt(rate / (1 - rate))), z normal_in_row; the multiplicative one's gradient is dy times the same
// factor, the additive one's dy itself.
DPT_HD float gaussian_noise_value(float x, float z, float stddev, bool multiply) {
  return multiply ? x * (1.0f + stddev * z) : x + stddev * z;
}

// Keras's AlphaDropout: with SELU's alpha_p = -alpha scale, a kept element (u >= rate, as
// dropout keeps) becomes a x + b and a dropped one a alpha_p + b, a = ((1 - rate)(1 + rate alpha_p^2))^-1/2
// and b = -a alpha_p rate (so SELU's mean and variance are kept); the gradient is a dy where kept,
// else 0.
struct AlphaDropoutForm {
  float a = 1, b = 0, alpha_p = 0;
};
inline AlphaDropoutForm alpha_dropout_form(double rate) {
  const double alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
  const double a = 1.0 / std::sqrt((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p));
  return {float(a), float(-a * alpha_p * rate), float(alpha_p)};
}
DPT_HD float alpha_dropout_value(float x, float u, float rate, const AlphaDropoutForm& f, bool grad) {
  const bool keep = u >= rate;
  if (grad) return keep ? f.a * x : 0.0f;
  return f.a * (keep ? x : f.alpha_p) + f.b;
}

// Inverted dropout: kept elements are scaled by scale = 1/(1-rate) so inference needs no change.
// Written as a multiply by the 0-or-scale mask (as Keras applies it), so the loop vectorises.
template <typename T>
DPT_HD T dropout_value(T x, float u, float rate, T scale) {
  const T mask = u >= rate ? scale : T(0);
  return x * mask;
}

// masked_sum's element (kernels/dropout.h), in the same steps on every device: the gates' parts
// through their masks, added in gate order.
template <typename T>
DPT_HD T masked_sum_value(T acc, const T* parts, int64_t part_stride, const T* masks, int64_t mask_stride, int copies,
                          bool accumulate) {
  T s = accumulate ? acc + parts[0] * masks[0] : parts[0] * masks[0];
  for (int g = 1; g < copies; ++g) s = s + parts[g * part_stride] * masks[g * mask_stride];
  return s;
}

}  // namespace dpt::kernels
