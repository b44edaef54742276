// CPU Conv2D: NHWC im2col (patch order ky, kx, ci = Keras's kernel order) + OpenBLAS GEMM,
// processed in chunks of samples so the patch matrix fits the workspace.
#include "kernels/conv2d.h"
#include <algorithm>
#include <cstring>
#include <omp.h>
#include "kernels/elementwise.h"
#include "kernels/gemm.h"

namespace dpt::kernels {

void conv_out_size(int64_t in, int64_t k, int64_t s, bool same, int64_t* out, int64_t* pad_before) {
  if (same) {
    *out = in / s + (in % s != 0);  // ceil(in / s), without overflow for any sizes
    // (out - 1) * s <= in - 1: the padding needed, max((out - 1) * s + k - in, 0), without overflow.
    int64_t total = std::max<int64_t>((*out - 1) * s - in + k, 0);
    *pad_before = total / 2;
  } else {
    *out = in >= k ? (in - k) / s + 1 : 0;
    *pad_before = 0;
  }
}

int64_t conv2d_min_workspace(const Conv2dGeom& g) {
  return g.is_pointwise() ? 0 : g.out_pixels() * (2 * g.patch() + 1) + (g.patch() + 1) * g.oc;
}

template <typename T>
void im2col_nhwc_cpu(const Conv2dGeom& g, const T* x, int64_t samples, T* col, int64_t ld) {
  const int64_t K = g.patch();
  const bool ones = ld > K;
  const int64_t rowlen = g.kw * g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < samples; ++s) {
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const T* xs = x + s * g.h * g.w * g.c;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T* dst = col + ((s * g.oh + oy) * g.ow + ox) * ld;
        if (ones) dst[K] = T(1);
        const int64_t x0 = ox * g.sw - g.pad_left;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
          T* d = dst + ky * rowlen;
          if (iy < 0 || iy >= g.h) {
            std::fill(d, d + rowlen, T(0));
            continue;
          }
          if (g.dw == 1 && x0 >= 0 && x0 + g.kw <= g.w) {  // whole kernel row inside: one contiguous copy
            const T* src = xs + (iy * g.w + x0) * g.c;
            if (rowlen <= 32) {
              for (int64_t k = 0; k < rowlen; ++k) d[k] = src[k];
            } else {
              std::memcpy(d, src, sizeof(T) * rowlen);
            }
            continue;
          }
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t ix = x0 + kx * g.dw;
            if (ix < 0 || ix >= g.w)
              std::fill(d + kx * g.c, d + (kx + 1) * g.c, T(0));
            else
              std::memcpy(d + kx * g.c, xs + (iy * g.w + ix) * g.c, sizeof(T) * g.c);
          }
        }
      }
    }
  }
}

template <typename T>
void col2im_nhwc_cpu(const Conv2dGeom& g, const T* col, int64_t samples, T* dx) {
  const int64_t K = g.patch();
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < samples; ++s) {
    T* dxs = dx + s * g.h * g.w * g.c;
    std::fill(dxs, dxs + g.h * g.w * g.c, T(0));
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T* src = col + ((s * g.oh + oy) * g.ow + ox) * K;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t ix = ox * g.sw - g.pad_left + kx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            const T* v = src + (ky * g.kw + kx) * g.c;
            T* d = dxs + (iy * g.w + ix) * g.c;
            for (int64_t ci = 0; ci < g.c; ++ci) d[ci] += v[ci];
          }
        }
      }
    }
  }
}

// Convolutions are parallel over samples: each OpenMP thread takes chunks of samples and runs
// im2col and a single-threaded GEMM on them (the OpenMP build of OpenBLAS runs single-threaded
// inside a parallel region). Skinny GEMMs (few filters, small patches) scale far better this way
// than through BLAS's own threading. Backward sums per-thread weight-gradient partials in thread
// order, so a run is deterministic for a given thread count.
namespace {

constexpr int64_t kChunkElems = int64_t(1) << 18;  // scratch elements one thread works on at a time

struct Plan {
  int threads;
  int64_t chunk;  // samples per chunk
};

// per_sample: scratch elements one sample needs; fixed: per-thread scratch independent of samples.
Plan plan(int64_t n, int64_t per_sample, int64_t fixed, int64_t work_elems) {
  int t = std::max(1, std::min<int>(omp_get_max_threads(), int(n)));
  while (t > 1 && work_elems / t < per_sample + fixed) --t;
  if (per_sample == 0) return {t, n};
  // The largest chunk that fits, then evened out so every thread gets the same number of samples.
  // Chunks of about a megabyte of patches stay in cache between im2col, the GEMM's packing and
  // col2im (measured here: 8-10% faster than whole-batch patch matrices, at 1 and 2 threads).
  const int64_t fit = std::max<int64_t>(1, std::min((work_elems / t - fixed) / per_sample, kChunkElems / per_sample));
  const int64_t rounds = (n + t * fit - 1) / (t * fit);
  return {t, (n + t * rounds - 1) / (t * rounds)};
}

}  // namespace

template <typename T>
void conv2d_forward_cpu(const Conv2dGeom& g, const T* x, const T* kernel, const T* bias, T* y, T* work,
                        int64_t work_elems) {
  const int64_t P = g.out_pixels(), K = g.patch(), in_s = g.h * g.w * g.c;
  if (g.n == 0) return;
  if (g.is_pointwise()) {
    if (bias) bias_fill_cpu(y, bias, g.n * P, g.oc);
    gemm_cpu<T>(false, false, g.n * P, g.oc, K, T(1), x, kernel, bias ? T(1) : T(0), y);
    return;
  }
  const bool fold = bias && bias == kernel + K * g.oc;  // [kernel; bias] is one matrix
  const int64_t ld = fold ? K + 1 : K;
  const Plan pl = plan(g.n, P * ld, 0, work_elems);
#pragma omp parallel num_threads(pl.threads)
  {
    const int tid = omp_get_thread_num();
    T* col = work + int64_t(tid) * (work_elems / pl.threads);
    for (int64_t s0 = tid * pl.chunk; s0 < g.n; s0 += int64_t(pl.threads) * pl.chunk) {
      const int64_t ns = std::min(pl.chunk, g.n - s0);
      T* ys = y + s0 * P * g.oc;
      im2col_nhwc_cpu(g, x + s0 * in_s, ns, col, ld);
      if (bias && !fold) bias_fill_cpu(ys, bias, ns * P, g.oc);
      gemm_cpu<T>(false, false, ns * P, g.oc, ld, T(1), col, kernel, bias && !fold ? T(1) : T(0), ys);
    }
  }
}

// dx = the patch gradients dy . kernel^T summed back into the image, chunk by chunk.
template <typename T>
void conv2d_backward_data_cpu(const Conv2dGeom& g, const T* kernel, const T* dy, T* dx, T* work, int64_t work_elems) {
  const int64_t P = g.out_pixels(), K = g.patch(), in_s = g.h * g.w * g.c;
  if (g.is_pointwise()) {
    gemm_cpu<T>(false, true, g.n * P, K, g.oc, T(1), dy, kernel, T(0), dx);
    return;
  }
  const Plan pl = plan(g.n, P * K, 0, work_elems);
#pragma omp parallel num_threads(pl.threads)
  {
    const int tid = omp_get_thread_num();
    T* dcol = work + int64_t(tid) * (work_elems / pl.threads);
    for (int64_t s0 = tid * pl.chunk; s0 < g.n; s0 += int64_t(pl.threads) * pl.chunk) {
      const int64_t ns = std::min(pl.chunk, g.n - s0);
      gemm_cpu<T>(false, true, ns * P, K, g.oc, T(1), dy + s0 * P * g.oc, kernel, T(0), dcol);
      col2im_nhwc_cpu(g, dcol, ns, dx + s0 * in_s);
    }
  }
}

template <typename T>
void conv2d_backward_cpu(const Conv2dGeom& g, const T* x, const T* kernel, const T* dy, T* dx, T* dkernel,
                         T* dbias, T* work, int64_t work_elems) {
  const int64_t P = g.out_pixels(), K = g.patch(), in_s = g.h * g.w * g.c;
  if (g.n == 0) return;
  if (!dkernel) {  // backward-data alone (a transposed convolution's forward): x is not read
    if (dbias) bias_grad_cpu(dy, dbias, g.n * P, g.oc);
    if (dx) conv2d_backward_data_cpu(g, kernel, dy, dx, work, work_elems);
    return;
  }
  if (g.is_pointwise()) {
    if (dbias) bias_grad_cpu(dy, dbias, g.n * P, g.oc);
    gemm_cpu<T>(true, false, K, g.oc, g.n * P, T(1), x, dy, T(1), dkernel);
    if (dx) gemm_cpu<T>(false, true, g.n * P, K, g.oc, T(1), dy, kernel, T(0), dx);
    return;
  }
  const bool fold = dbias && dbias == dkernel + K * g.oc;  // one GEMM gives [dkernel; dbias]
  const int64_t ld = fold ? K + 1 : K;
  const int64_t partial = K * g.oc + g.oc;  // one thread's dkernel and dbias, adjacent
  const Plan pl = plan(g.n, P * ld + (dx ? P * K : 0), partial, work_elems);
  const int64_t per_thread = work_elems / pl.threads;
#pragma omp parallel num_threads(pl.threads)
  {
    const int tid = omp_get_thread_num();
    T* base = work + int64_t(tid) * per_thread;
    T* pk = base;                // partial dkernel (K, oc)
    T* pb = base + K * g.oc;     // partial dbias (oc)
    T* col = base + partial;
    T* dcol = col + pl.chunk * P * ld;
    std::fill(pk, pk + partial, T(0));
    for (int64_t s0 = tid * pl.chunk; s0 < g.n; s0 += int64_t(pl.threads) * pl.chunk) {
      const int64_t ns = std::min(pl.chunk, g.n - s0);
      const T* dys = dy + s0 * P * g.oc;
      im2col_nhwc_cpu(g, x + s0 * in_s, ns, col, ld);
      gemm_cpu<T>(true, false, ld, g.oc, ns * P, T(1), col, dys, T(1), pk);
      if (dbias && !fold) bias_grad_cpu(dys, pb, ns * P, g.oc);
      if (dx) {
        gemm_cpu<T>(false, true, ns * P, K, g.oc, T(1), dys, kernel, T(0), dcol);
        col2im_nhwc_cpu(g, dcol, ns, dx + s0 * in_s);
      }
    }
  }
  // Reduce the partials in thread order (deterministic for a given thread count).
  for (int t = 0; t < pl.threads; ++t) {
    const T* pk = work + int64_t(t) * per_thread;
    for (int64_t i = 0; i < K * g.oc; ++i) dkernel[i] += pk[i];
    if (dbias)
      for (int64_t i = 0; i < g.oc; ++i) dbias[i] += pk[K * g.oc + i];
  }
}

#define DPT_INSTANTIATE(T)                                                                               \
  template void im2col_nhwc_cpu<T>(const Conv2dGeom&, const T*, int64_t, T*, int64_t);                   \
  template void col2im_nhwc_cpu<T>(const Conv2dGeom&, const T*, int64_t, T*);                            \
  template void conv2d_forward_cpu<T>(const Conv2dGeom&, const T*, const T*, const T*, T*, T*, int64_t); \
  template void conv2d_backward_cpu<T>(const Conv2dGeom&, const T*, const T*, const T*, T*, T*, T*, T*, int64_t);
DPT_INSTANTIATE(float)
DPT_INSTANTIATE(double)
#undef DPT_INSTANTIATE

}  // namespace dpt::kernels
