// Keras's masks on attention scores on the CPU (attention.h).
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

}  // namespace dpt::kernels
