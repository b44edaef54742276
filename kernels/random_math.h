// Counter-based randomness: a draw is a pure function of its key (seed, epoch, step, index), so
// the same sample gets the same dropout mask however the batch is split across replicas.
#pragma once
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

DPT_HD uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits (exact in float).
DPT_HD float uniform_at(uint64_t seed, uint64_t a, uint64_t b, uint64_t index) {
  const uint64_t h = mix64(seed ^ mix64(a ^ mix64(b ^ mix64(index))));
  return float(h >> 40) * (1.0f / 16777216.0f);
}

// Inverted dropout: kept elements are scaled by 1/(1-rate) so inference needs no change.
template <typename T>
DPT_HD T dropout_value(T x, float u, float rate) {
  return u < rate ? T(0) : x * T(1.0 / (1.0 - double(rate)));
}

}  // namespace dpt::kernels
