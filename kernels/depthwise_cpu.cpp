// Depthwise convolution on the CPU: direct loops, channels innermost (contiguous in NHWC and in
// Keras's kernel), parallel over output rows (forward), samples (dx) and taps (dkernel).
#include <algorithm>
#include "kernels/depthwise.h"
#include "kernels/elementwise.h"

namespace dpt::kernels {

template <typename T>
void depthwise_forward_cpu(const Conv2dGeom& g, const T* x, const T* kernel, const T* bias, T* y) {
  const int64_t dm = g.oc / g.c, rows = g.n * g.oh;
#pragma omp parallel for schedule(static) if (rows * g.ow * g.oc * g.kh * g.kw > 65536)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t s = row / g.oh, o = row % g.oh;
    for (int64_t q = 0; q < g.ow; ++q) {
      T* yo = y + (row * g.ow + q) * g.oc;
      for (int64_t k = 0; k < g.oc; ++k) yo[k] = bias ? bias[k] : T(0);
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t ih = o * g.sh + i * g.dh - g.pad_top;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t iw = q * g.sw + j * g.dw - g.pad_left;
          if (iw < 0 || iw >= g.w) continue;
          const T* xi = x + ((s * g.h + ih) * g.w + iw) * g.c;
          const T* kk = kernel + (i * g.kw + j) * g.oc;
          for (int64_t c = 0; c < g.c; ++c)
            for (int64_t m = 0; m < dm; ++m) yo[c * dm + m] += xi[c] * kk[c * dm + m];
        }
      }
    }
  }
}

template <typename T>
void depthwise_backward_cpu(const Conv2dGeom& g, const T* x, const T* kernel, const T* dy, T* dx, T* dkernel,
                            T* dbias) {
  const int64_t dm = g.oc / g.c, taps = g.kh * g.kw;
  const bool big = g.n * g.oh * g.ow * g.oc * taps > 65536;
  // dkernel: each tap sums over every sample and output position.
#pragma omp parallel for schedule(static) if (big)
  for (int64_t t = 0; t < taps; ++t) {
    const int64_t i = t / g.kw, j = t % g.kw;
    T* dk = dkernel + t * g.oc;
    for (int64_t s = 0; s < g.n; ++s)
      for (int64_t o = 0; o < g.oh; ++o) {
        const int64_t ih = o * g.sh + i * g.dh - g.pad_top;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t q = 0; q < g.ow; ++q) {
          const int64_t iw = q * g.sw + j * g.dw - g.pad_left;
          if (iw < 0 || iw >= g.w) continue;
          const T* xi = x + ((s * g.h + ih) * g.w + iw) * g.c;
          const T* dyo = dy + ((s * g.oh + o) * g.ow + q) * g.oc;
          for (int64_t c = 0; c < g.c; ++c)
            for (int64_t m = 0; m < dm; ++m) dk[c * dm + m] += xi[c] * dyo[c * dm + m];
        }
      }
  }
  if (dbias) bias_grad_cpu(dy, dbias, g.n * g.oh * g.ow, g.oc);
  if (!dx) return;
    // dx: each sample scatters its outputs' gradients back through the taps, in a fixed order.
#pragma omp parallel for schedule(static) if (big)
  for (int64_t s = 0; s < g.n; ++s) {
    T* dxs = dx + s * g.h * g.w * g.c;
    std::fill(dxs, dxs + g.h * g.w * g.c, T(0));
    for (int64_t o = 0; o < g.oh; ++o)
      for (int64_t q = 0; q < g.ow; ++q) {
        const T* dyo = dy + ((s * g.oh + o) * g.ow + q) * g.oc;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = o * g.sh + i * g.dh - g.pad_top;
          if (ih < 0 || ih >= g.h) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t iw = q * g.sw + j * g.dw - g.pad_left;
            if (iw < 0 || iw >= g.w) continue;
            T* dxi = dxs + (ih * g.w + iw) * g.c;
            const T* kk = kernel + (i * g.kw + j) * g.oc;
            for (int64_t c = 0; c < g.c; ++c) {
              T sum = 0;
              for (int64_t m = 0; m < dm; ++m) sum += dyo[c * dm + m] * kk[c * dm + m];
              dxi[c] += sum;
            }
          }
        }
      }
  }
}

template void depthwise_forward_cpu<float>(const Conv2dGeom&, const float*, const float*, const float*, float*);
template void depthwise_forward_cpu<double>(const Conv2dGeom&, const double*, const double*, const double*, double*);
template void depthwise_backward_cpu<float>(const Conv2dGeom&, const float*, const float*, const float*, float*, float*,
                                            float*);
template void depthwise_backward_cpu<double>(const Conv2dGeom&, const double*, const double*, const double*, double*,
                                             double*, double*);

}  // namespace dpt::kernels
