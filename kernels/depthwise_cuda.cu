// Depthwise convolution on CUDA: direct kernels, one thread per output (forward) and per input
// element (dx, gathering from the outputs whose windows reach it, in a fixed order: no atomics);
// each tap's kernel gradient and the bias gradient are deterministic column reductions of
// (N*oh*ow, oc) products. 64-bit indices throughout.
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/cuda_reduce.cuh"
#include "kernels/depthwise.h"

namespace dpt::kernels {

__global__ void depthwise_forward_kernel(Conv2dGeom g, const float* __restrict__ x, const float* __restrict__ kernel,
                                         const float* __restrict__ bias, float* __restrict__ y) {
  const int64_t dm = g.oc / g.c;
  DPT_GRID_STRIDE(e, g.n * g.oh * g.ow * g.oc) {
    const int64_t k = e % g.oc, pix = e / g.oc, q = pix % g.ow, row = pix / g.ow, o = row % g.oh, s = row / g.oh;
    const int64_t c = k / dm;
    float sum = bias ? bias[k] : 0.f;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = o * g.sh + i * g.dh - g.pad_top;
      if (ih < 0 || ih >= g.h) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t iw = q * g.sw + j * g.dw - g.pad_left;
        if (iw < 0 || iw >= g.w) continue;
        sum += x[((s * g.h + ih) * g.w + iw) * g.c + c] * kernel[(i * g.kw + j) * g.oc + k];
      }
    }
    y[e] = sum;
  }
}

__global__ void depthwise_backward_data_kernel(Conv2dGeom g, const float* __restrict__ kernel,
                                               const float* __restrict__ dy, float* __restrict__ dx) {
  const int64_t dm = g.oc / g.c;
  DPT_GRID_STRIDE(e, g.n * g.h * g.w * g.c) {
    const int64_t c = e % g.c, pix = e / g.c, iw = pix % g.w, row = pix / g.w, ih = row % g.h, s = row / g.h;
    float sum = 0.f;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t t = ih + g.pad_top - i * g.dh;  // o * sh
      if (t < 0 || t % g.sh != 0 || t / g.sh >= g.oh) continue;
      const int64_t o = t / g.sh;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t u = iw + g.pad_left - j * g.dw;
        if (u < 0 || u % g.sw != 0 || u / g.sw >= g.ow) continue;
        const int64_t q = u / g.sw;
        const float* dyo = dy + ((s * g.oh + o) * g.ow + q) * g.oc + c * dm;
        const float* kk = kernel + (i * g.kw + j) * g.oc + c * dm;
        for (int64_t m = 0; m < dm; ++m) sum += dyo[m] * kk[m];
      }
    }
    dx[e] = sum;
  }
}

// One tap's kernel gradient: row (s, o, q), column k: x at the tap's input position times dy.
struct LoadTapProduct {
  Conv2dGeom g;
  int64_t i, j, dm;
  const float* x;
  const float* dy;
  __device__ void operator()(int64_t r, int64_t k, double* v) const {
    const int64_t q = r % g.ow, row = r / g.ow, o = row % g.oh, s = row / g.oh;
    const int64_t ih = o * g.sh + i * g.dh - g.pad_top, iw = q * g.sw + j * g.dw - g.pad_left;
    v[0] = ih < 0 || ih >= g.h || iw < 0 || iw >= g.w
               ? 0.0
               : double(x[((s * g.h + ih) * g.w + iw) * g.c + k / dm]) * double(dy[r * g.oc + k]);
  }
};
struct LoadColumn {
  const float* dy;
  int64_t cols;
  __device__ void operator()(int64_t r, int64_t c, double* v) const { v[0] = dy[r * cols + c]; }
};
struct AddTo {
  float* out;
  __device__ void operator()(int, int64_t c, double s) const { out[c] += float(s); }
};

void depthwise_forward_cuda(const Conv2dGeom& g, const float* x, const float* kernel, const float* bias, float* y,
                            void* stream) {
  const int64_t total = g.n * g.oh * g.ow * g.oc;
  if (total == 0) return;
  depthwise_forward_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, x, kernel,
                                                                                                        bias, y);
  DPT_CUDA_LAUNCH_CHECK();
}

void depthwise_backward_cuda(const Conv2dGeom& g, const float* x, const float* kernel, const float* dy, float* dx,
                             float* dkernel, float* dbias, CudaResources& r) {
  const int64_t rows = g.n * g.oh * g.ow;
  if (rows == 0) return;
  for (int64_t t = 0; t < g.kh * g.kw; ++t)
    column_reduce_cuda<1>(r, LoadTapProduct{g, t / g.kw, t % g.kw, g.oc / g.c, x, dy}, AddTo{dkernel + t * g.oc}, rows,
                          g.oc);
  if (dbias) column_reduce_cuda<1>(r, LoadColumn{dy, g.oc}, AddTo{dbias}, rows, g.oc);
  if (!dx) return;
  const int64_t total = g.n * g.h * g.w * g.c;
  depthwise_backward_data_kernel<<<grid_blocks(total), kBlockThreads, 0, r.stream()>>>(g, kernel, dy, dx);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
