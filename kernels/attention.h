// Keras's masks on attention scores: blocks of (t, s) scores, one per sample and head (h heads a
// sample). Score (i, j) is masked where the causal mask keeps query step i from a later step j (j >
// i: Keras's lower-triangular mask, also for t != s), where the query's mask drops step i, or where
// the value's (or key's) mask drops step j: Keras's attention mask, query_mask[:, :, None] &
// value_mask[:, None, :] (& key_mask) & causal. Masked scores are set to `value`: -1e9 before the
// softmax (Keras's large negative for float32, which the softmax turns into exactly 0; a row masked
// throughout, a dropped query step, becomes uniform, as under Keras), 0 in the softmax's gradient (a
// masked score is a constant). The masks are (n, t) and (n, s) floats, 1 kept, 0 dropped; nullable.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

struct AttentionMask {
  int64_t n = 0, heads = 1, t = 0, s = 0;
  bool causal = false;
  const float* query = nullptr;
  const float* value = nullptr;
  const float* key = nullptr;
  bool any() const { return causal || query || value || key; }
};

DPT_HD bool attention_masked(const AttentionMask& m, int64_t b, int64_t i, int64_t j) {
  return (m.causal && j > i) || (m.query && m.query[b * m.t + i] == 0.f) || (m.value && m.value[b * m.s + j] == 0.f) ||
         (m.key && m.key[b * m.s + j] == 0.f);
}

void attention_fill_cpu(const AttentionMask& m, float* scores, float value);
void attention_fill_cuda(const AttentionMask& m, float* scores, float value, void* stream);

// Keras's Attention(use_scale=True): y[e] = x[e] s[0] for n values (s: the scale, on x's device;
// y may be x); and prod[e] = a[e] b[e], whose sum (a column sum of one column) is the scale's
// gradient.
void scale_by_cpu(const float* x, float* y, int64_t n, const float* s);
void scale_by_cuda(const float* x, float* y, int64_t n, const float* s, void* stream);
void multiply_cpu(const float* a, const float* b, float* prod, int64_t n);
void multiply_cuda(const float* a, const float* b, float* prod, int64_t n, void* stream);

// Keras's concatenation scores (Bahdanau's) for n samples of t query steps and s key steps of d
// features: S[b,i,j] = c sum_f w[f] tanh(a (q[b,i,f] + k[b,j,f])). Attention(score_mode="concat")
// has the scalar c (its concat_score_weight) and, with use_scale, the scalar a (its scale);
// AdditiveAttention has, with use_scale, the vector w (its scale, d values). Each is nullable (1).
struct ConcatScores {
  int64_t n = 0, t = 0, s = 0, d = 0;
  const float* q = nullptr;  // (n, t, d)
  const float* k = nullptr;  // (n, s, d)
  const float* a = nullptr;
  const float* w = nullptr;
  const float* c = nullptr;
};

DPT_HD float concat_sum(const ConcatScores& m, int64_t b, int64_t i, int64_t j, int64_t f) {  // q + k
  return m.q[(b * m.t + i) * m.d + f] + m.k[(b * m.s + j) * m.d + f];
}
DPT_HD float concat_tanh(const ConcatScores& m, int64_t b, int64_t i, int64_t j, int64_t f) {
  const float sum = concat_sum(m, b, i, j, f);
  return tanhf(m.a ? m.a[0] * sum : sum);
}
// Score (i, j) of sample b, its features in order.
DPT_HD float concat_score(const ConcatScores& m, int64_t b, int64_t i, int64_t j) {
  float sum = 0.f;
  for (int64_t f = 0; f < m.d; ++f) sum += (m.w ? m.w[f] : 1.f) * concat_tanh(m, b, i, j, f);
  return (m.c ? m.c[0] : 1.f) * sum;
}
// d S(i, j) / d q(i, f) = d S(i, j) / d k(j, f) = c w[f] a (1 - tanh^2), from tanh th.
DPT_HD float concat_input_slope(const ConcatScores& m, int64_t f, float th) {
  return (m.c ? m.c[0] : 1.f) * (m.w ? m.w[f] : 1.f) * (m.a ? m.a[0] : 1.f) * (1.f - th * th);
}
// A feature's weight gradients from its sums over the samples, sw = sum dS tanh and
// sa = sum dS (1 - tanh^2)(q + k): dw[f] += c sw; its shares of dc (w[f] sw) and da (c w[f] sa).
DPT_HD void concat_weight_shares(const ConcatScores& m, int64_t f, double sw, double sa, float* dw, double* dc,
                                 double* da) {
  const double c = m.c ? m.c[0] : 1.0, wf = m.w ? m.w[f] : 1.0;
  if (dw) dw[f] += float(c * sw);
  *dc += wf * sw;
  *da += c * wf * sa;
}

// scores (n, t, s) written.
void concat_scores_cpu(const ConcatScores& m, float* scores);
void concat_scores_cuda(const ConcatScores& m, float* scores, void* stream);
// From dS (n, t, s): dq (n, t, d) written (nullable); dk (n, s, d) written, or added to where add_dk
// (nullable); and where the weights have gradients (dw, da, dc each nullable) their sums added:
// dw[f] += c sum dS tanh, dc += sum dS w[f] tanh, da += c sum dS w[f] (1 - tanh^2)(q + k). work:
// 2 n d floats (the per-sample sums before they are added across samples, in a fixed order).
struct ConcatGrads {
  float* dq = nullptr;
  float* dk = nullptr;
  bool add_dk = false;
  float* da = nullptr;
  float* dw = nullptr;
  float* dc = nullptr;
};
void concat_scores_backward_cpu(const ConcatScores& m, const float* ds, const ConcatGrads& g, float* work);
void concat_scores_backward_cuda(const ConcatScores& m, const float* ds, const ConcatGrads& g, float* work,
                                 void* stream);

}  // namespace dpt::kernels
