// CUDA pooling in NHWC with TensorFlow's padding (the geometry of pooling_cpu.cpp). Own kernels
// rather than cuDNN's: cuDNN pads symmetrically, so it cannot express TF's 'same' padding when
// the total is odd (the extra row/column goes bottom/right), and its max-pool gradient does not
// promise the CPU's tie rule (the first maximum in scan order). Backward gathers: each input cell
// sums the outputs whose windows cover it in the CPU's order, so no atomics are needed.
#include <climits>
#include "kernels/cuda_check.h"
#include "kernels/pooling.h"

namespace dpt::kernels {

namespace {

unsigned blocks(int64_t n) {
  const int64_t b = (n + 255) / 256;
  return unsigned(b < 16384 ? (b > 0 ? b : 1) : 16384);
}

// The window of output (oy, ox), clipped to the input.
__device__ void pool_window(const Pool2dGeom& g, int64_t oy, int64_t ox, int64_t& y0, int64_t& y1, int64_t& x0,
                            int64_t& x1) {
  const int64_t ys = oy * g.sh - g.pad_top, xs = ox * g.sw - g.pad_left;
  y0 = ys > 0 ? ys : 0;
  y1 = ys + g.ph < g.h ? ys + g.ph : g.h;
  x0 = xs > 0 ? xs : 0;
  x1 = xs + g.pw < g.w ? xs + g.pw : g.w;
}

// The outputs along one axis whose windows cover input coordinate i: [lo, hi).
__device__ void covering(int64_t i, int64_t pad, int64_t k, int64_t s, int64_t out, int64_t& lo, int64_t& hi) {
  const int64_t p = i + pad;  // window o covers p when o*s <= p < o*s + k
  lo = p - k + 1 <= 0 ? 0 : (p - k + 1 + s - 1) / s;
  hi = p / s + 1;
  if (hi > out) hi = out;
}

}  // namespace

#define DPT_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__global__ void max_pool_forward_kernel(Pool2dGeom g, const float* x, float* y, int32_t* argmax) {
  DPT_GRID_STRIDE(o, g.n * g.oh * g.ow * g.c) {
    const int64_t c = o % g.c, ox = (o / g.c) % g.ow, oy = (o / (g.c * g.ow)) % g.oh, s = o / (g.c * g.ow * g.oh);
    int64_t y0, y1, x0, x1;
    pool_window(g, oy, ox, y0, y1, x0, x1);
    const float* xs = x + s * g.h * g.w * g.c;
    int64_t best_at = (y0 * g.w + x0) * g.c + c;
    float best = xs[best_at];
    for (int64_t iy = y0; iy < y1; ++iy)
      for (int64_t ix = x0; ix < x1; ++ix) {
        const int64_t at = (iy * g.w + ix) * g.c + c;
        if (xs[at] > best) {  // strict: the first maximum in scan order wins ties
          best = xs[at];
          best_at = at;
        }
      }
    y[o] = best;
    if (argmax) argmax[o] = int32_t(best_at);
  }
}

__global__ void max_pool_backward_kernel(Pool2dGeom g, const int32_t* argmax, const float* dy, float* dx) {
  DPT_GRID_STRIDE(i, g.n * g.h * g.w * g.c) {
    const int64_t in_sample = g.h * g.w * g.c, s = i / in_sample, at = i % in_sample;
    const int64_t c = at % g.c, ix = (at / g.c) % g.w, iy = at / (g.c * g.w);
    int64_t oy0, oy1, ox0, ox1;
    covering(iy, g.pad_top, g.ph, g.sh, g.oh, oy0, oy1);
    covering(ix, g.pad_left, g.pw, g.sw, g.ow, ox0, ox1);
    const int64_t base = s * g.oh * g.ow * g.c;
    float sum = 0.f;
    for (int64_t oy = oy0; oy < oy1; ++oy)
      for (int64_t ox = ox0; ox < ox1; ++ox) {
        const int64_t o = base + (oy * g.ow + ox) * g.c + c;
        if (argmax[o] == int32_t(at)) sum += dy[o];
      }
    dx[i] = sum;
  }
}

__global__ void avg_pool_forward_kernel(Pool2dGeom g, const float* x, float* y) {
  DPT_GRID_STRIDE(o, g.n * g.oh * g.ow * g.c) {
    const int64_t c = o % g.c, ox = (o / g.c) % g.ow, oy = (o / (g.c * g.ow)) % g.oh, s = o / (g.c * g.ow * g.oh);
    int64_t y0, y1, x0, x1;
    pool_window(g, oy, ox, y0, y1, x0, x1);
    const float* xs = x + s * g.h * g.w * g.c;
    float sum = 0.f;
    for (int64_t iy = y0; iy < y1; ++iy)
      for (int64_t ix = x0; ix < x1; ++ix) sum += xs[(iy * g.w + ix) * g.c + c];
    y[o] = sum * (1.f / float((y1 - y0) * (x1 - x0)));
  }
}

__global__ void avg_pool_backward_kernel(Pool2dGeom g, const float* dy, float* dx) {
  DPT_GRID_STRIDE(i, g.n * g.h * g.w * g.c) {
    const int64_t in_sample = g.h * g.w * g.c, s = i / in_sample, at = i % in_sample;
    const int64_t c = at % g.c, ix = (at / g.c) % g.w, iy = at / (g.c * g.w);
    int64_t oy0, oy1, ox0, ox1;
    covering(iy, g.pad_top, g.ph, g.sh, g.oh, oy0, oy1);
    covering(ix, g.pad_left, g.pw, g.sw, g.ow, ox0, ox1);
    float sum = 0.f;
    for (int64_t oy = oy0; oy < oy1; ++oy)
      for (int64_t ox = ox0; ox < ox1; ++ox) {
        int64_t y0, y1, x0, x1;
        pool_window(g, oy, ox, y0, y1, x0, x1);
        sum += dy[((s * g.oh + oy) * g.ow + ox) * g.c + c] * (1.f / float((y1 - y0) * (x1 - x0)));
      }
    dx[i] = sum;
  }
}

__global__ void global_avg_pool_forward_kernel(const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
  DPT_GRID_STRIDE(o, n * c) {
    const int64_t s = o / c, k = o % c;
    float sum = 0.f;
    for (int64_t p = 0; p < hw; ++p) sum += x[(s * hw + p) * c + k];
    y[o] = sum / float(hw);
  }
}

__global__ void global_avg_pool_backward_kernel(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c) {
  DPT_GRID_STRIDE(i, n * hw * c) {
    const int64_t k = i % c, s = i / (hw * c);
    dx[i] = dy[s * c + k] / float(hw);
  }
}

void max_pool_forward_cuda(const Pool2dGeom& g, const float* x, float* y, int32_t* argmax, void* stream) {
  const int64_t n = g.n * g.oh * g.ow * g.c;
  if (n == 0) return;
  DPT_CHECK(g.h * g.w * g.c <= INT32_MAX, "max pooling: a sample of " << g.h * g.w * g.c << " values is too large");
  max_pool_forward_kernel<<<blocks(n), 256, 0, static_cast<cudaStream_t>(stream)>>>(g, x, y, argmax);
  DPT_CUDA_LAUNCH_CHECK();
}

void max_pool_backward_cuda(const Pool2dGeom& g, const int32_t* argmax, const float* dy, float* dx, void* stream) {
  const int64_t n = g.n * g.h * g.w * g.c;
  if (n == 0) return;
  max_pool_backward_kernel<<<blocks(n), 256, 0, static_cast<cudaStream_t>(stream)>>>(g, argmax, dy, dx);
  DPT_CUDA_LAUNCH_CHECK();
}

void avg_pool_forward_cuda(const Pool2dGeom& g, const float* x, float* y, void* stream) {
  const int64_t n = g.n * g.oh * g.ow * g.c;
  if (n == 0) return;
  avg_pool_forward_kernel<<<blocks(n), 256, 0, static_cast<cudaStream_t>(stream)>>>(g, x, y);
  DPT_CUDA_LAUNCH_CHECK();
}

void avg_pool_backward_cuda(const Pool2dGeom& g, const float* dy, float* dx, void* stream) {
  const int64_t n = g.n * g.h * g.w * g.c;
  if (n == 0) return;
  avg_pool_backward_kernel<<<blocks(n), 256, 0, static_cast<cudaStream_t>(stream)>>>(g, dy, dx);
  DPT_CUDA_LAUNCH_CHECK();
}

void global_avg_pool_forward_cuda(const float* x, float* y, int64_t n, int64_t hw, int64_t c, void* stream) {
  if (n * c == 0) return;
  global_avg_pool_forward_kernel<<<blocks(n * c), 256, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n, hw, c);
  DPT_CUDA_LAUNCH_CHECK();
}

void global_avg_pool_backward_cuda(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c, void* stream) {
  if (n * hw * c == 0) return;
  global_avg_pool_backward_kernel<<<blocks(n * hw * c), 256, 0, static_cast<cudaStream_t>(stream)>>>(dy, dx, n, hw, c);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
