// One formula per channel of the last axis, for Keras's preprocessing layers that a model holds:
// Rescaling (y = x * scale + offset) and Normalization (y = (x - mean) / max(sqrt(variance), eps),
// or its inverse, y = mean + x * max(sqrt(variance), eps)), eps being Keras's backend.epsilon().
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

enum class AffineForm : int { scale_offset, normalize, denormalize };

constexpr float kKerasEpsilon = 1e-7f;

// Normalization's divisor from a variance.
template <typename T>
DPT_HD T normalization_divisor(T variance) {
  const T d = sqrt(variance);
  return d > T(kKerasEpsilon) ? d : T(kKerasEpsilon);
}

// y from x; a: scale (Rescaling) or variance (Normalization); b: offset or mean.
template <typename T>
DPT_HD T affine_fwd(AffineForm f, T x, T a, T b) {
  switch (f) {
    case AffineForm::scale_offset: return x * a + b;
    case AffineForm::normalize: return (x - b) / normalization_divisor(a);
    default: return b + x * normalization_divisor(a);
  }
}

// dx from dy (the formula is linear in x).
template <typename T>
DPT_HD T affine_bwd(AffineForm f, T dy, T a) {
  switch (f) {
    case AffineForm::scale_offset: return dy * a;
    case AffineForm::normalize: return dy / normalization_divisor(a);
    default: return dy * normalization_divisor(a);
  }
}

}  // namespace dpt::kernels
