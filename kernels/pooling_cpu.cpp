// CPU pooling loops (NHWC: the channel loop is innermost and contiguous).
#include <algorithm>
#include <vector>
#include "kernels/pooling.h"

namespace dpt::kernels {

namespace {
struct Window {
  int64_t y0, y1, x0, x1;  // clipped to the input
};
inline Window window(const Pool2dGeom& g, int64_t oy, int64_t ox) {
  int64_t y0 = oy * g.sh - g.pad_top, x0 = ox * g.sw - g.pad_left;
  return {std::max<int64_t>(y0, 0), std::min(y0 + g.ph, g.h), std::max<int64_t>(x0, 0), std::min(x0 + g.pw, g.w)};
}
}  // namespace

template <typename T>
void max_pool_forward_cpu(const Pool2dGeom& g, const T* x, T* y, int32_t* argmax) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < g.n; ++s) {
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const T* xs = x + s * g.h * g.w * g.c;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t o = ((s * g.oh + oy) * g.ow + ox) * g.c;
        T* yo = y + o;
        const Window wd = window(g, oy, ox);
        const int64_t first = (wd.y0 * g.w + wd.x0) * g.c;
        std::copy(xs + first, xs + first + g.c, yo);
        if (argmax)
          for (int64_t c = 0; c < g.c; ++c) argmax[o + c] = int32_t(first + c);
        for (int64_t iy = wd.y0; iy < wd.y1; ++iy)
          for (int64_t ix = wd.x0; ix < wd.x1; ++ix) {
            const int64_t base = (iy * g.w + ix) * g.c;
            const T* xi = xs + base;
            if (argmax) {
              int32_t* am = argmax + o;
              const int32_t b32 = int32_t(base);
#pragma omp simd
              for (int64_t c = 0; c < g.c; ++c) {
                const bool gt = xi[c] > yo[c];  // strict: the first maximum in scan order wins ties
                yo[c] = gt ? xi[c] : yo[c];
                am[c] = gt ? b32 + int32_t(c) : am[c];
              }
            } else {
              for (int64_t c = 0; c < g.c; ++c) yo[c] = std::max(yo[c], xi[c]);
            }
          }
      }
    }
  }
}

template <typename T>
void max_pool_backward_cpu(const Pool2dGeom& g, const int32_t* argmax, const T* dy, T* dx) {
  const int64_t in_sample = g.h * g.w * g.c, out_sample = g.oh * g.ow * g.c;
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < g.n; ++s) {
    T* dxs = dx + s * in_sample;
    std::fill(dxs, dxs + in_sample, T(0));
    const int32_t* am = argmax + s * out_sample;
    const T* dys = dy + s * out_sample;
    for (int64_t o = 0; o < out_sample; ++o) dxs[am[o]] += dys[o];
  }
}

template <typename T>
void avg_pool_forward_cpu(const Pool2dGeom& g, const T* x, T* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < g.n; ++s) {
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const T* xs = x + s * g.h * g.w * g.c;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T* yo = y + ((s * g.oh + oy) * g.ow + ox) * g.c;
        std::fill(yo, yo + g.c, T(0));
        Window wd = window(g, oy, ox);
        for (int64_t iy = wd.y0; iy < wd.y1; ++iy)
          for (int64_t ix = wd.x0; ix < wd.x1; ++ix) {
            const T* xi = xs + (iy * g.w + ix) * g.c;
            for (int64_t c = 0; c < g.c; ++c) yo[c] += xi[c];
          }
        const T inv = T(1) / T((wd.y1 - wd.y0) * (wd.x1 - wd.x0));
        for (int64_t c = 0; c < g.c; ++c) yo[c] *= inv;
      }
    }
  }
}

template <typename T>
void avg_pool_backward_cpu(const Pool2dGeom& g, const T* dy, T* dx) {
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < g.n; ++s) {
    T* dxs = dx + s * g.h * g.w * g.c;
    std::fill(dxs, dxs + g.h * g.w * g.c, T(0));
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T* dyo = dy + ((s * g.oh + oy) * g.ow + ox) * g.c;
        Window wd = window(g, oy, ox);
        const T inv = T(1) / T((wd.y1 - wd.y0) * (wd.x1 - wd.x0));
        for (int64_t iy = wd.y0; iy < wd.y1; ++iy)
          for (int64_t ix = wd.x0; ix < wd.x1; ++ix) {
            T* d = dxs + (iy * g.w + ix) * g.c;
            for (int64_t c = 0; c < g.c; ++c) d[c] += dyo[c] * inv;
          }
      }
  }
}

// Summed in double, in position order, as the CUDA kernel does: the same value on both, and
// float32's rounding kept out of a mean over many positions (Keras's XLA reduction is as close).
template <typename T>
void global_avg_pool_forward_cpu(const T* x, T* y, int64_t n, int64_t hw, int64_t c) {
  thread_local std::vector<double> acc;
  acc.resize(size_t(c));
  for (int64_t s = 0; s < n; ++s) {
    std::fill(acc.begin(), acc.end(), 0.0);
    double* a = acc.data();
    for (int64_t p = 0; p < hw; ++p) {
      const T* xp = x + (s * hw + p) * c;
      for (int64_t k = 0; k < c; ++k) a[k] += double(xp[k]);
    }
    for (int64_t k = 0; k < c; ++k) y[s * c + k] = T(a[k] / double(hw));
  }
}

template <typename T>
void global_avg_pool_backward_cpu(const T* dy, T* dx, int64_t n, int64_t hw, int64_t c) {
  for (int64_t s = 0; s < n; ++s)
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) dx[(s * hw + p) * c + k] = dy[s * c + k] / T(hw);
}

template <typename T>
void global_max_pool_forward_cpu(const T* x, T* y, int64_t n, int64_t hw, int64_t c) {
  for (int64_t s = 0; s < n; ++s) {
    T* ys = y + s * c;
    std::copy(x + s * hw * c, x + s * hw * c + c, ys);
    for (int64_t p = 1; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) ys[k] = std::max(ys[k], x[(s * hw + p) * c + k]);
  }
}

template <typename T>
void global_max_pool_backward_cpu(const T* x, const T* y, const T* dy, T* dx, int64_t n, int64_t hw, int64_t c) {
  std::vector<int64_t> ties(static_cast<size_t>(c));
  for (int64_t s = 0; s < n; ++s) {
    const T* ys = y + s * c;
    std::fill(ties.begin(), ties.end(), 0);
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) ties[size_t(k)] += x[(s * hw + p) * c + k] == ys[k];
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) {
        const int64_t i = (s * hw + p) * c + k;
        dx[i] = x[i] == ys[k] ? dy[s * c + k] / T(ties[size_t(k)]) : T(0);
      }
  }
}

#define DPT_INSTANTIATE(T)                                                                 \
  template void max_pool_forward_cpu<T>(const Pool2dGeom&, const T*, T*, int32_t*);        \
  template void max_pool_backward_cpu<T>(const Pool2dGeom&, const int32_t*, const T*, T*); \
  template void avg_pool_forward_cpu<T>(const Pool2dGeom&, const T*, T*);                  \
  template void avg_pool_backward_cpu<T>(const Pool2dGeom&, const T*, T*);                 \
  template void global_avg_pool_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t);   \
  template void global_avg_pool_backward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t);  \
  template void global_max_pool_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t);   \
  template void global_max_pool_backward_cpu<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t);
DPT_INSTANTIATE(float)
DPT_INSTANTIATE(double)
#undef DPT_INSTANTIATE

}  // namespace dpt::kernels
