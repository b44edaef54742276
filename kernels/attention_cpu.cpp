// Keras's masks on attention scores on the CPU (attention.h).
#include <algorithm>
#include "kernels/attention.h"

namespace dpt::kernels {

void attention_fill_cpu(const AttentionMask& m, float* scores, float value) {
  const int64_t rows = m.n * m.heads * m.t;
#pragma omp parallel for schedule(static) if (rows * m.s > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / (m.heads * m.t), i = r % m.t;
    for (int64_t j = 0; j < m.s; ++j)
      if (attention_masked(m, b, i, j)) scores[r * m.s + j] = value;
  }
}

void scale_by_cpu(const float* x, float* y, int64_t n, const float* s) {
  const float v = s[0];
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t e = 0; e < n; ++e) y[e] = x[e] * v;
}

void multiply_cpu(const float* a, const float* b, float* prod, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t e = 0; e < n; ++e) prod[e] = a[e] * b[e];
}

void concat_scores_cpu(const ConcatScores& m, float* scores) {
  const int64_t rows = m.n * m.t;
#pragma omp parallel for schedule(static) if (rows * m.s * m.d > 65536)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < m.s; ++j) scores[r * m.s + j] = concat_score(m, r / m.t, r % m.t, j);
}

void concat_scores_backward_cpu(const ConcatScores& m, const float* ds, const ConcatGrads& g, float* work) {
  const bool weights = g.da || g.dw || g.dc;
  float* pw = work;              // (n, d): sum over (i, j) of dS tanh
  float* pa = work + m.n * m.d;  // (n, d): sum over (i, j) of dS (1 - tanh^2)(q + k)
  // Each sample's gradients are its own: the samples in parallel, in a fixed order within each.
#pragma omp parallel for schedule(static) if (m.n * m.t * m.s * m.d > 65536)
  for (int64_t b = 0; b < m.n; ++b) {
    float* dq = g.dq ? g.dq + b * m.t * m.d : nullptr;
    float* dk = g.dk ? g.dk + b * m.s * m.d : nullptr;
    if (dq) std::fill(dq, dq + m.t * m.d, 0.f);
    if (dk && !g.add_dk) std::fill(dk, dk + m.s * m.d, 0.f);
    if (weights) {
      std::fill(pw + b * m.d, pw + (b + 1) * m.d, 0.f);
      std::fill(pa + b * m.d, pa + (b + 1) * m.d, 0.f);
    }
    for (int64_t i = 0; i < m.t; ++i)
      for (int64_t j = 0; j < m.s; ++j) {
        const float dsij = ds[(b * m.t + i) * m.s + j];
        if (dsij == 0.f) continue;  // a masked score's
        for (int64_t f = 0; f < m.d; ++f) {
          const float th = concat_tanh(m, b, i, j, f), gin = dsij * concat_input_slope(m, f, th);
          if (dq) dq[i * m.d + f] += gin;
          if (dk) dk[j * m.d + f] += gin;
          if (weights) {
            pw[b * m.d + f] += dsij * th;
            pa[b * m.d + f] += dsij * (1.f - th * th) * concat_sum(m, b, i, j, f);
          }
        }
      }
  }
  if (!weights) return;
  double dc = 0, da = 0;
  for (int64_t f = 0; f < m.d; ++f) {
    double sw = 0, sa = 0;
    for (int64_t b = 0; b < m.n; ++b) {
      sw += pw[b * m.d + f];
      sa += pa[b * m.d + f];
    }
    concat_weight_shares(m, f, sw, sa, g.dw, &dc, &da);
  }
  if (g.dc) g.dc[0] += float(dc);
  if (g.da) g.da[0] += float(da);
}

}  // namespace dpt::kernels
