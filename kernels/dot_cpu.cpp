// Dot's contraction on the CPU (dot.h), in parallel over samples.
#include "kernels/dot.h"

namespace dpt::kernels {

template <typename T>
void contract_cpu(const T* a, const T* b, T* c, int64_t batch, const Contraction& d) {
#pragma omp parallel for schedule(static) if (batch * d.I * d.J * d.T > 65536)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < d.I; ++i)
      for (int64_t j = 0; j < d.J; ++j) c[n * d.sc + i * d.ci + j * d.cj] = contract_one(a, b, d, n, i, j);
}

template void contract_cpu<float>(const float*, const float*, float*, int64_t, const Contraction&);
template void contract_cpu<double>(const double*, const double*, double*, int64_t, const Contraction&);

}  // namespace dpt::kernels
