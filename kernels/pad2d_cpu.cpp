// Padding and cropping on the CPU: one row of w*c values at a time.
#include <algorithm>
#include "kernels/pad2d.h"

namespace dpt::kernels {

template <typename T>
void embed2d_cpu(const Window2d& g, const T* small, T* large) {
  const int64_t rows = g.n * g.H, row = g.w * g.c;
#pragma omp parallel for schedule(static) if (rows * g.W * g.c > 262144)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t s = r / g.H, y = r % g.H - g.top;
    T* out = large + r * g.W * g.c;
    if (y < 0 || y >= g.h) {
      std::fill(out, out + g.W * g.c, T(0));
      continue;
    }
    std::fill(out, out + g.left * g.c, T(0));
    std::copy(small + (s * g.h + y) * row, small + (s * g.h + y + 1) * row, out + g.left * g.c);
    std::fill(out + (g.left + g.w) * g.c, out + g.W * g.c, T(0));
  }
}

template <typename T>
void extract2d_cpu(const Window2d& g, const T* large, T* small) {
  const int64_t rows = g.n * g.h, row = g.w * g.c;
#pragma omp parallel for schedule(static) if (rows * row > 262144)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t s = r / g.h, y = r % g.h + g.top;
    const T* in = large + ((s * g.H + y) * g.W + g.left) * g.c;
    std::copy(in, in + row, small + r * row);
  }
}

template void embed2d_cpu<float>(const Window2d&, const float*, float*);
template void embed2d_cpu<double>(const Window2d&, const double*, double*);
template void extract2d_cpu<float>(const Window2d&, const float*, float*);
template void extract2d_cpu<double>(const Window2d&, const double*, double*);

}  // namespace dpt::kernels
