// CPU loop helper shared by the elementwise kernels: f(i) for i in [0, n), vectorised, and split
// across the calling thread's OpenMP team when n is large enough to pay for it.
#pragma once
#include <cstdint>

namespace dpt::kernels {

template <typename F>
inline void parallel_elementwise(int64_t n, F f) {
  if (n < 65536) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace dpt::kernels
