// Padding, cropping and nearest upsampling on the CPU, a row of the output at a time.
#include <algorithm>
#include "kernels/pad2d.h"
#include "kernels/resize_math.h"

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

namespace {

// Bilinear: each output row from its two input rows, each output column from its two columns.
template <typename T>
void bilinear_forward_cpu(const Upsample2d& g, const T* x, T* y) {
  const int64_t H = g.h * g.sh, W = g.w * g.sw;
#pragma omp parallel for schedule(static) if (g.n * H * W * g.c > 262144)
  for (int64_t r = 0; r < g.n * H; ++r) {
    const int64_t s = r / H;
    const LinearTap ty = linear_tap(r % H, g.sh, g.h);
    for (int64_t j = 0; j < W; ++j) {
      const LinearTap tx = linear_tap(j, g.sw, g.w);
      const T* p[4] = {x + ((s * g.h + ty.lo) * g.w + tx.lo) * g.c, x + ((s * g.h + ty.lo) * g.w + tx.hi) * g.c,
                       x + ((s * g.h + ty.hi) * g.w + tx.lo) * g.c, x + ((s * g.h + ty.hi) * g.w + tx.hi) * g.c};
      const T w[4] = {T((1 - ty.f) * (1 - tx.f)), T((1 - ty.f) * tx.f), T(ty.f * (1 - tx.f)), T(ty.f * tx.f)};
      T* yo = y + (r * W + j) * g.c;
      for (int64_t k = 0; k < g.c; ++k) yo[k] = w[0] * p[0][k] + w[1] * p[1][k] + w[2] * p[2][k] + w[3] * p[3][k];
    }
  }
}

// Each input gathers the outputs that reach it, rows then columns ascending (as the CUDA kernel).
template <typename T>
void bilinear_backward_cpu(const Upsample2d& g, const T* dy, T* dx) {
  const int64_t H = g.h * g.sh, W = g.w * g.sw;
#pragma omp parallel for schedule(static) if (g.n * g.h * g.w * g.c * 16 > 262144)
  for (int64_t r = 0; r < g.n * g.h; ++r) {
    const int64_t s = r / g.h, i = r % g.h;
    int64_t oy0, oy1;
    linear_reach(i, g.sh, g.h, &oy0, &oy1);
    for (int64_t j = 0; j < g.w; ++j) {
      int64_t ox0, ox1;
      linear_reach(j, g.sw, g.w, &ox0, &ox1);
      T* dxo = dx + (r * g.w + j) * g.c;
      for (int64_t k = 0; k < g.c; ++k) {
        T sum = 0;
        for (int64_t oy = oy0; oy <= oy1; ++oy) {
          const T wy = T(linear_weight(oy, i, g.sh, g.h));
          if (wy == T(0)) continue;
          for (int64_t ox = ox0; ox <= ox1; ++ox) {
            const T wx = T(linear_weight(ox, j, g.sw, g.w));
            if (wx != T(0)) sum += wy * wx * dy[((s * H + oy) * W + ox) * g.c + k];
          }
        }
        dxo[k] = sum;
      }
    }
  }
}

}  // namespace

template <typename T>
void upsample2d_forward_cpu(const Upsample2d& g, const T* x, T* y) {
  if (g.bilinear) return bilinear_forward_cpu(g, x, y);
  const int64_t rows = g.n * g.h * g.sh, W = g.w * g.sw;
#pragma omp parallel for schedule(static) if (rows * W * g.c > 262144)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t s = r / (g.h * g.sh), i = r % (g.h * g.sh) / g.sh;
    const T* xr = x + (s * g.h + i) * g.w * g.c;
    T* yr = y + r * W * g.c;
    for (int64_t j = 0; j < W; ++j) std::copy(xr + j / g.sw * g.c, xr + (j / g.sw + 1) * g.c, yr + j * g.c);
  }
}

template <typename T>
void upsample2d_backward_cpu(const Upsample2d& g, const T* dy, T* dx) {
  if (g.bilinear) return bilinear_backward_cpu(g, dy, dx);
  const int64_t rows = g.n * g.h, W = g.w * g.sw;
#pragma omp parallel for schedule(static) if (rows * g.sh * W * g.c > 262144)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t s = r / g.h, i = r % g.h;
    T* dxr = dx + r * g.w * g.c;
    std::fill(dxr, dxr + g.w * g.c, T(0));
    for (int64_t a = 0; a < g.sh; ++a) {
      const T* dyr = dy + ((s * g.h + i) * g.sh + a) * W * g.c;
      for (int64_t j = 0; j < W; ++j)
        for (int64_t k = 0; k < g.c; ++k) dxr[j / g.sw * g.c + k] += dyr[j * g.c + k];
    }
  }
}

template void upsample2d_forward_cpu<float>(const Upsample2d&, const float*, float*);
template void upsample2d_forward_cpu<double>(const Upsample2d&, const double*, double*);
template void upsample2d_backward_cpu<float>(const Upsample2d&, const float*, float*);
template void upsample2d_backward_cpu<double>(const Upsample2d&, const double*, double*);
template void embed2d_cpu<float>(const Window2d&, const float*, float*);
template void embed2d_cpu<double>(const Window2d&, const double*, double*);
template void extract2d_cpu<float>(const Window2d&, const float*, float*);
template void extract2d_cpu<double>(const Window2d&, const double*, double*);

}  // namespace dpt::kernels
