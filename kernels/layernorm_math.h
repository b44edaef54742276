// LayerNormalization's, RMSNormalization's and GroupNormalization's formulas for one row (the values
// one mean and variance are taken over), shared by the CPU loops and the CUDA kernels. A row's statistics are summed in
// double: the mean and Keras's biased variance sum (x - mean)^2 / D (LayerNormalization), or a mean of 0 and sum x^2 /
// D (RMSNormalization); rstd = 1 / sqrt(var + eps); y = (x - mean) * rstd * gamma + beta.
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

// Where a row's elements lie: row r = (sample r / groups, group r % groups) holds, of the sample's
// (positions, groups * cg) values, the cg channels of its group at every position: element e is
// position e / cg, channel (r % groups) * cg + e % cg. LayerNormalization and RMSNormalization:
// one position and one group (a row is a contiguous run of cg values); GroupNormalization: an
// image's positions and groups of channels. gamma and beta are per channel.
struct RowLayout {
  int64_t rows = 0;  // samples * groups
  int64_t positions = 1, groups = 1, cg = 1;
  DPT_HD int64_t len() const { return positions * cg; }
  DPT_HD int64_t channels() const { return groups * cg; }
  DPT_HD int64_t channel(int64_t r, int64_t e) const { return (r % groups) * cg + e % cg; }
  DPT_HD int64_t offset(int64_t r, int64_t e) const {
    return ((r / groups) * positions + e / cg) * channels() + channel(r, e);
  }
  // The row holding element (sample-position pr, channel c), pr = sample * positions + position.
  DPT_HD int64_t row_of(int64_t pr, int64_t c) const { return (pr / positions) * groups + c / cg; }
};

DPT_HD double rownorm_rstd(double var, double eps) { return 1.0 / sqrt(var + eps); }

// The normalized value (the same float on every device: backward recomputes it from mean and rstd).
template <typename T>
DPT_HD T rownorm_xhat(T x, T mean, T rstd) {
  return (x - mean) * rstd;
}

template <typename T>
DPT_HD T rownorm_out(T x, T mean, T rstd, T gamma, T beta) {
  return rownorm_xhat(x, mean, rstd) * gamma + beta;
}

// One element of the input gradient from g = dy * gamma, the row's mean of g (0 for RMS, whose
// mean is not taken out) and its mean of g * xhat: rstd * (g - mean_g - xhat * mean_gxhat).
template <typename T>
DPT_HD T rownorm_dx(T g, T xhat, double mean_g, double mean_gxhat, T rstd) {
  return T(double(rstd) * (double(g) - mean_g - double(xhat) * mean_gxhat));
}

}  // namespace dpt::kernels
