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

}  // namespace dpt::kernels
