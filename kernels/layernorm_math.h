// LayerNormalization's and RMSNormalization's formulas for one row (a sample's normalized axes),
// shared by the CPU loops and the CUDA kernels. A row's statistics are summed in double: the mean
// and Keras's biased variance sum (x - mean)^2 / D (LayerNormalization), or a mean of 0 and
// sum x^2 / D (RMSNormalization); rstd = 1 / sqrt(var + eps); y = (x - mean) * rstd * gamma + beta.
#pragma once
#include <cmath>
#include "kernels/hd.h"

namespace dpt::kernels {

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
