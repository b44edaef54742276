// CUDA pooling in NHWC with TensorFlow's padding (the geometry of pooling_cpu.cpp). Own kernels
// rather than cuDNN's: cuDNN pads symmetrically, so it cannot express TF's 'same' padding when
// the total is odd (the extra row/column goes bottom/right), and its max-pool gradient does not
// promise the CPU's tie rule (the first maximum in scan order). Backward gathers: each input cell
// sums the outputs whose windows cover it in the CPU's order, so no atomics are needed.
#include <algorithm>
#include <climits>
#include <cstdint>
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/pooling.h"

namespace dpt::kernels {

namespace {

// The geometry in the kernels' index type: 32-bit whenever every index fits (64-bit division and
// remainder are emulated on the GPU, several times the cost of the memory traffic here).
template <typename I>
struct Geom {
  I n, h, w, c, ph, pw, sh, sw, pad_top, pad_left, oh, ow;
};
template <typename I>
Geom<I> geom(const Pool2dGeom& g) {
  return {I(g.n),  I(g.h),  I(g.w),       I(g.c),        I(g.ph), I(g.pw),
          I(g.sh), I(g.sw), I(g.pad_top), I(g.pad_left), I(g.oh), I(g.ow)};
}
// 32-bit indices when n elements, plus one grid-stride step past them, stay below 2^31.
bool fits_int32(int64_t n) { return n + kMaxGridBlocks * kBlockThreads < INT32_MAX && !cuda_wide_indices_forced(); }

// The window of output (oy, ox), clipped to the input.
template <typename I>
__device__ void pool_window(const Geom<I>& g, I oy, I ox, I& y0, I& y1, I& x0, I& x1) {
  const I ys = oy * g.sh - g.pad_top, xs = ox * g.sw - g.pad_left;
  y0 = ys > 0 ? ys : 0;
  y1 = ys + g.ph < g.h ? ys + g.ph : g.h;
  x0 = xs > 0 ? xs : 0;
  x1 = xs + g.pw < g.w ? xs + g.pw : g.w;
}

// The outputs along one axis whose windows cover input coordinate i: [lo, hi).
template <typename I>
__device__ void covering(I i, I pad, I k, I s, I out, I& lo, I& hi) {
  const I p = i + pad;  // window o covers p when o*s <= p < o*s + k
  lo = p - k + 1 <= 0 ? 0 : (p - k + 1 + s - 1) / s;
  hi = p / s + 1;
  if (hi > out) hi = out;
}

// Output offset o -> (sample s, row oy, column ox, channel c).
template <typename I>
__device__ void output_coords(const Geom<I>& g, I o, I& c, I& ox, I& oy, I& s) {
  c = o % g.c;
  o /= g.c;
  ox = o % g.ow;
  o /= g.ow;
  oy = o % g.oh;
  s = o / g.oh;
}

}  // namespace

template <typename I>
__global__ void max_pool_forward_kernel(Geom<I> g, const float* __restrict__ x, float* __restrict__ y,
                                        int32_t* __restrict__ argmax) {
  DPT_GRID_STRIDE_AS(I, o, g.n * g.oh * g.ow * g.c) {
    I c, ox, oy, s;
    output_coords(g, o, c, ox, oy, s);
    I y0, y1, x0, x1;
    pool_window(g, oy, ox, y0, y1, x0, x1);
    const float* xs = x + int64_t(s) * (g.h * g.w * g.c);
    I best_at = (y0 * g.w + x0) * g.c + c;
    float best = __ldg(xs + best_at);
    for (I iy = y0; iy < y1; ++iy)
      for (I ix = x0; ix < x1; ++ix) {
        const I at = (iy * g.w + ix) * g.c + c;
        const float v = __ldg(xs + at);
        if (v > best) {  // strict: the first maximum in scan order wins ties
          best = v;
          best_at = at;
        }
      }
    y[o] = best;
    if (argmax) argmax[o] = int32_t(best_at);
  }
}

template <typename I>
__global__ void max_pool_backward_kernel(Geom<I> g, const int32_t* __restrict__ argmax, const float* __restrict__ dy,
                                         float* __restrict__ dx) {
  const I in_sample = g.h * g.w * g.c;
  DPT_GRID_STRIDE_AS(I, i, g.n * in_sample) {
    const I s = i / in_sample, at = i - s * in_sample;
    const I c = at % g.c, ix = (at / g.c) % g.w, iy = at / (g.c * g.w);
    I oy0, oy1, ox0, ox1;
    covering(iy, g.pad_top, g.ph, g.sh, g.oh, oy0, oy1);
    covering(ix, g.pad_left, g.pw, g.sw, g.ow, ox0, ox1);
    const I base = s * g.oh * g.ow * g.c;
    float sum = 0.f;
    for (I oy = oy0; oy < oy1; ++oy)
      for (I ox = ox0; ox < ox1; ++ox) {
        const I o = base + (oy * g.ow + ox) * g.c + c;
        if (__ldg(argmax + o) == int32_t(at)) sum += __ldg(dy + o);
      }
    dx[i] = sum;
  }
}

template <typename I>
__global__ void avg_pool_forward_kernel(Geom<I> g, const float* __restrict__ x, float* __restrict__ y) {
  DPT_GRID_STRIDE_AS(I, o, g.n * g.oh * g.ow * g.c) {
    I c, ox, oy, s;
    output_coords(g, o, c, ox, oy, s);
    I y0, y1, x0, x1;
    pool_window(g, oy, ox, y0, y1, x0, x1);
    const float* xs = x + int64_t(s) * (g.h * g.w * g.c);
    float sum = 0.f;
    for (I iy = y0; iy < y1; ++iy)
      for (I ix = x0; ix < x1; ++ix) sum += __ldg(xs + (iy * g.w + ix) * g.c + c);
    y[o] = sum * (1.f / float((y1 - y0) * (x1 - x0)));
  }
}

template <typename I>
__global__ void avg_pool_backward_kernel(Geom<I> g, const float* __restrict__ dy, float* __restrict__ dx) {
  const I in_sample = g.h * g.w * g.c;
  DPT_GRID_STRIDE_AS(I, i, g.n * in_sample) {
    const I s = i / in_sample, at = i - s * in_sample;
    const I c = at % g.c, ix = (at / g.c) % g.w, iy = at / (g.c * g.w);
    I oy0, oy1, ox0, ox1;
    covering(iy, g.pad_top, g.ph, g.sh, g.oh, oy0, oy1);
    covering(ix, g.pad_left, g.pw, g.sw, g.ow, ox0, ox1);
    float sum = 0.f;
    for (I oy = oy0; oy < oy1; ++oy)
      for (I ox = ox0; ox < ox1; ++ox) {
        I y0, y1, x0, x1;
        pool_window(g, oy, ox, y0, y1, x0, x1);
        sum += __ldg(dy + ((s * g.oh + oy) * g.ow + ox) * g.c + c) * (1.f / float((y1 - y0) * (x1 - x0)));
      }
    dx[i] = sum;
  }
}

template <typename I>
__global__ void global_avg_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y, I n, I hw, I c) {
  DPT_GRID_STRIDE_AS(I, o, n * c) {
    const I s = o / c, k = o - s * c;
    double sum = 0.0;  // the CPU's order and precision (pooling_cpu.cpp)
    for (I p = 0; p < hw; ++p) sum += double(__ldg(x + (s * hw + p) * c + k));
    y[o] = float(sum / double(hw));
  }
}

template <typename I>
__global__ void global_avg_pool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, I n, I hw, I c) {
  DPT_GRID_STRIDE_AS(I, i, n * hw * c) {
    const I k = i % c, s = i / (hw * c);
    dx[i] = __ldg(dy + s * c + k) / float(hw);
  }
}

// One thread per (sample, channel): neighbouring threads read and write neighbouring channels.
__global__ void global_max_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n,
                                               int64_t hw, int64_t c) {
  DPT_GRID_STRIDE(o, n * c) {
    const int64_t s = o / c, k = o - s * c;
    float m = x[s * hw * c + k];
    for (int64_t p = 1; p < hw; ++p) m = fmaxf(m, x[(s * hw + p) * c + k]);
    y[o] = m;
  }
}

__global__ void global_max_pool_backward_kernel(const float* __restrict__ x, const float* __restrict__ y,
                                                const float* __restrict__ dy, float* __restrict__ dx, int64_t n,
                                                int64_t hw, int64_t c) {
  DPT_GRID_STRIDE(o, n * c) {
    const int64_t s = o / c, k = o - s * c;
    const float m = y[o];
    int64_t ties = 0;
    for (int64_t p = 0; p < hw; ++p) ties += x[(s * hw + p) * c + k] == m;
    const float share = dy[o] / float(ties);
    for (int64_t p = 0; p < hw; ++p) {
      const int64_t i = (s * hw + p) * c + k;
      dx[i] = x[i] == m ? share : 0.f;
    }
  }
}

// Launches kernel<int> when every index of `total` elements fits 32 bits, kernel<int64_t> otherwise.
#define DPT_POOL_LAUNCH(kernel, total, stream, g, ...)                                            \
  do {                                                                                            \
    const int64_t n_ = (total);                                                                   \
    if (n_ == 0) break;                                                                           \
    const auto st_ = static_cast<cudaStream_t>(stream);                                           \
    if (fits_int32(std::max<int64_t>(n_, (g).n * (g).h * (g).w * (g).c)))                         \
      kernel<int><<<grid_blocks(n_), kBlockThreads, 0, st_>>>(geom<int>(g), __VA_ARGS__);         \
    else                                                                                          \
      kernel<int64_t><<<grid_blocks(n_), kBlockThreads, 0, st_>>>(geom<int64_t>(g), __VA_ARGS__); \
    DPT_CUDA_LAUNCH_CHECK();                                                                      \
  } while (0)

void max_pool_forward_cuda(const Pool2dGeom& g, const float* x, float* y, int32_t* argmax, void* stream) {
  DPT_CHECK(g.h * g.w * g.c <= INT32_MAX, "max pooling: a sample of " << g.h * g.w * g.c << " values is too large");
  DPT_POOL_LAUNCH(max_pool_forward_kernel, g.n * g.oh * g.ow * g.c, stream, g, x, y, argmax);
}

void max_pool_backward_cuda(const Pool2dGeom& g, const int32_t* argmax, const float* dy, float* dx, void* stream) {
  DPT_POOL_LAUNCH(max_pool_backward_kernel, g.n * g.h * g.w * g.c, stream, g, argmax, dy, dx);
}

void avg_pool_forward_cuda(const Pool2dGeom& g, const float* x, float* y, void* stream) {
  DPT_POOL_LAUNCH(avg_pool_forward_kernel, g.n * g.oh * g.ow * g.c, stream, g, x, y);
}

void avg_pool_backward_cuda(const Pool2dGeom& g, const float* dy, float* dx, void* stream) {
  DPT_POOL_LAUNCH(avg_pool_backward_kernel, g.n * g.h * g.w * g.c, stream, g, dy, dx);
}

void global_avg_pool_forward_cuda(const float* x, float* y, int64_t n, int64_t hw, int64_t c, void* stream) {
  if (n * c == 0) return;
  if (fits_int32(n * hw * c))
    global_avg_pool_forward_kernel<int>
        <<<grid_blocks(n * c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, int(n), int(hw), int(c));
  else
    global_avg_pool_forward_kernel<int64_t>
        <<<grid_blocks(n * c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n, hw, c);
  DPT_CUDA_LAUNCH_CHECK();
}

void global_avg_pool_backward_cuda(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c, void* stream) {
  if (n * hw * c == 0) return;
  if (fits_int32(n * hw * c))
    global_avg_pool_backward_kernel<int>
        <<<grid_blocks(n * hw * c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(dy, dx, int(n), int(hw),
                                                                                           int(c));
  else
    global_avg_pool_backward_kernel<int64_t>
        <<<grid_blocks(n * hw * c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(dy, dx, n, hw, c);
  DPT_CUDA_LAUNCH_CHECK();
}

void global_max_pool_forward_cuda(const float* x, float* y, int64_t n, int64_t hw, int64_t c, void* stream) {
  if (n * c == 0) return;
  global_max_pool_forward_kernel<<<grid_blocks(n * c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n,
                                                                                                              hw, c);
  DPT_CUDA_LAUNCH_CHECK();
}

void global_max_pool_backward_cuda(const float* x, const float* y, const float* dy, float* dx, int64_t n, int64_t hw,
                                   int64_t c, void* stream) {
  if (n * c == 0) return;
  global_max_pool_backward_kernel<<<grid_blocks(n * c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, y, dy, dx, n, hw, c);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
