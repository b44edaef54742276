// Keras's masks on attention scores: blocks of (t, s) scores, one per sample and head (h heads a
// sample). Score (i, j) is masked where the causal mask keeps query step i from a later step j (j >
// i: Keras's lower-triangular mask, also for t != s), where the query's mask drops step i, or where
// the value's (or key's) mask drops step j: Keras's attention mask, query_mask[:, :, None] &
// value_mask[:, None, :] (& key_mask) & causal. Masked scores are set to `value`: -1e9 before the
// softmax (Keras's large negative for float32, which the softmax turns into exactly 0; a row masked
// throughout, a dropped query step, becomes uniform, as under Keras), 0 in the softmax's gradient (a
// masked score is a constant). The masks are (n, t) and (n, s) floats, 1 kept, 0 dropped; nullable.
#pragma once
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

}  // namespace dpt::kernels
