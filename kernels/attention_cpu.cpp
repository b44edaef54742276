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
  const float c = m.c ? m.c[0] : 1.f;
#pragma omp parallel for schedule(static) if (rows * m.s * m.d > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / m.t, i = r % m.t;
    for (int64_t j = 0; j < m.s; ++j) {
      float sum = 0.f;
      for (int64_t f = 0; f < m.d; ++f) sum += (m.w ? m.w[f] : 1.f) * concat_tanh(m, b, i, j, f);
      scores[r * m.s + j] = c * sum;
    }
  }
}

void concat_scores_backward_cpu(const ConcatScores& m, const float* ds, const ConcatGrads& g, float* work) {
  const float a = m.a ? m.a[0] : 1.f, c = m.c ? m.c[0] : 1.f;
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
          const float th = concat_tanh(m, b, i, j, f), slope = 1.f - th * th;
          const float gin = dsij * c * (m.w ? m.w[f] : 1.f) * a * slope;  // d/d(q + k)
          if (dq) dq[i * m.d + f] += gin;
          if (dk) dk[j * m.d + f] += gin;
          if (weights) {
            pw[b * m.d + f] += dsij * th;
            pa[b * m.d + f] += dsij * slope * (m.q[(b * m.t + i) * m.d + f] + m.k[(b * m.s + j) * m.d + f]);
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
    const double wf = m.w ? m.w[f] : 1.0;
    if (g.dw) g.dw[f] += float(c * sw);
    dc += wf * sw;
    da += c * wf * sa;
  }
  if (g.dc) g.dc[0] += float(dc);
  if (g.da) g.da[0] += float(da);
}

}  // namespace dpt::kernels
