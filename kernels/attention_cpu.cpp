// The causal mask on attention scores on the CPU (attention.h).
#include "kernels/attention.h"

namespace dpt::kernels {

void causal_fill_cpu(float* scores, int64_t blocks, int64_t t, int64_t s) {
#pragma omp parallel for schedule(static) if (blocks * t * s > 65536)
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = i + 1; j < s; ++j) scores[(b * t + i) * s + j] = -1e9f;
}

}  // namespace dpt::kernels
