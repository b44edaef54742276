// Conv2D as im2col + one cuBLAS GEMM on the GPU (see conv2d_gemm.h): the patch-matrix kernels, the
// three passes, and their timing at plan creation.
#include <algorithm>
#include <climits>
#include <cstdint>
#include "kernels/conv2d_gemm.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/cuda_resources.h"
#include "kernels/gemm.h"

namespace dpt::kernels {

namespace {

// The geometry in the kernels' index type: 32-bit whenever every index fits (64-bit division is
// emulated on the GPU).
template <typename I>
struct Geom {
  I n, h, w, c, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow;
};
template <typename I>
Geom<I> geom(const Conv2dGeom& g) {
  return {I(g.n),  I(g.h),  I(g.w),  I(g.c),       I(g.kh),       I(g.kw), I(g.sh),
          I(g.sw), I(g.dh), I(g.dw), I(g.pad_top), I(g.pad_left), I(g.oh), I(g.ow)};
}
// 32-bit indices when the patch matrix and the image, plus a grid-stride step past either, fit.
bool fits_int32(const Conv2dGeom& g) {
  const int64_t most = std::max<int64_t>(g.n * g.oh * g.ow * g.patch(), g.n * g.h * g.w * g.c);
  return most + 32 * kMaxGridBlocks * kBlockThreads < INT32_MAX && !cuda_wide_indices_forced();
}

}  // namespace

// One warp per patch row m = (s, oy, ox): lane l writes k = l, l + 32, ... (coalesced), reading
// x[s, oy*sh - pad_top + ky*dh, ox*sw - pad_left + kx*dw, ci] for k = (ky, kx, ci), or 0 outside the
// image. A lane keeps its (ky, kx, ci) by steps of 32 rather than dividing for each element.
template <typename I>
__global__ void im2col_kernel(Geom<I> g, const float* __restrict__ x, float* __restrict__ col) {
  const I lane = I(threadIdx.x) & 31, K = g.kh * g.kw * g.c, M = g.n * g.oh * g.ow;
  const I warps = (I(gridDim.x) * I(blockDim.x)) >> 5;
  const I ci0 = lane % g.c, kx0 = (lane / g.c) % g.kw, ky0 = lane / (g.c * g.kw);
  for (I m = (I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x)) >> 5; m < M; m += warps) {
    const I ox = m % g.ow, q = m / g.ow, oy = q % g.oh, s = q / g.oh;
    const I y0 = oy * g.sh - g.pad_top, x0 = ox * g.sw - g.pad_left;
    const float* xs = x + s * g.h * g.w * g.c;
    float* dst = col + m * K;
    I ci = ci0, kx = kx0, ky = ky0;
    for (I k = lane; k < K; k += 32) {
      const I iy = y0 + ky * g.dh, ix = x0 + kx * g.dw;
      dst[k] = (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) ? xs[(iy * g.w + ix) * g.c + ci] : 0.f;
      for (ci += 32; ci >= g.c; ci -= g.c)
        if (++kx == g.kw) {
          kx = 0;
          ++ky;
        }
    }
  }
}

// One thread per dx element (s, iy, ix, ci): the sum of the patch gradients that read it, in the
// CPU's order (outputs oy, then ox, ascending: ky, then kx, descending), from 0. No atomics.
template <typename I, bool kUnitStride>
__global__ void col2im_kernel(Geom<I> g, const float* __restrict__ dcol, float* __restrict__ dx) {
  const I K = g.kh * g.kw * g.c;
  DPT_GRID_STRIDE_AS(I, j, g.n * g.h * g.w * g.c) {
    const I ci = j % g.c, q = j / g.c, ix = q % g.w, q2 = q / g.w, iy = q2 % g.h, s = q2 / g.h;
    float acc = 0.f;
    for (I ky = g.kh - 1; ky >= 0; --ky) {
      const I ty = iy + g.pad_top - ky * g.dh;
      if (ty < 0 || (!kUnitStride && ty % g.sh != 0)) continue;
      const I oy = kUnitStride ? ty : ty / g.sh;
      if (oy >= g.oh) continue;
      for (I kx = g.kw - 1; kx >= 0; --kx) {
        const I tx = ix + g.pad_left - kx * g.dw;
        if (tx < 0 || (!kUnitStride && tx % g.sw != 0)) continue;
        const I ox = kUnitStride ? tx : tx / g.sw;
        if (ox >= g.ow) continue;
        acc += dcol[((s * g.oh + oy) * g.ow + ox) * K + (ky * g.kw + kx) * g.c + ci];
      }
    }
    dx[j] = acc;
  }
}

size_t conv_gemm_col_bytes(const Conv2dGeom& g) { return size_t(g.n * g.oh * g.ow * g.patch()) * sizeof(float); }

void im2col_nhwc_cuda(const Conv2dGeom& g, const float* x, float* col, void* stream) {
  const int64_t rows = g.n * g.oh * g.ow;
  if (rows * g.patch() == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  if (fits_int32(g))
    im2col_kernel<int><<<grid_blocks(rows * 32), kBlockThreads, 0, s>>>(geom<int>(g), x, col);
  else
    im2col_kernel<int64_t><<<grid_blocks(rows * 32), kBlockThreads, 0, s>>>(geom<int64_t>(g), x, col);
  DPT_CUDA_LAUNCH_CHECK();
}

void col2im_nhwc_cuda(const Conv2dGeom& g, const float* dcol, float* dx, void* stream) {
  const int64_t total = g.n * g.h * g.w * g.c;
  if (total == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  const unsigned blocks = grid_blocks(total);
  const bool unit = g.sh == 1 && g.sw == 1;
  if (fits_int32(g)) {
    if (unit)
      col2im_kernel<int, true><<<blocks, kBlockThreads, 0, s>>>(geom<int>(g), dcol, dx);
    else
      col2im_kernel<int, false><<<blocks, kBlockThreads, 0, s>>>(geom<int>(g), dcol, dx);
  } else {
    if (unit)
      col2im_kernel<int64_t, true><<<blocks, kBlockThreads, 0, s>>>(geom<int64_t>(g), dcol, dx);
    else
      col2im_kernel<int64_t, false><<<blocks, kBlockThreads, 0, s>>>(geom<int64_t>(g), dcol, dx);
  }
  DPT_CUDA_LAUNCH_CHECK();
}

// Row-major GEMMs (gemm.h): M = n*oh*ow patch rows, K = kh*kw*in, N = out.
void conv2d_gemm_forward_cuda(CudaResources& r, const Conv2dGeom& g, const float* x, const float* kernel, float* col,
                              float* y) {
  im2col_nhwc_cuda(g, x, col, r.stream());
  gemm_cuda(r, false, false, g.n * g.oh * g.ow, g.oc, g.patch(), 1.f, col, kernel, 0.f, y);
}

void conv2d_gemm_backward_filter_cuda(CudaResources& r, const Conv2dGeom& g, const float* x, const float* dy,
                                      float* col, bool col_ready, float* dkernel) {
  if (!col_ready) im2col_nhwc_cuda(g, x, col, r.stream());
  gemm_cuda(r, true, false, g.patch(), g.oc, g.n * g.oh * g.ow, 1.f, col, dy, 1.f, dkernel);
}

void conv2d_gemm_backward_data_cuda(CudaResources& r, const Conv2dGeom& g, const float* dy, const float* kernel,
                                    float* col, float* dx) {
  gemm_cuda(r, false, true, g.n * g.oh * g.ow, g.patch(), g.oc, 1.f, dy, kernel, 0.f, col);
  col2im_nhwc_cuda(g, col, dx, r.stream());
}

ConvGemmTimes time_conv_gemm(CudaResources& r, const Conv2dGeom& g, bool needs_dx, size_t max_col_bytes) {
  ConvGemmTimes t;
  const size_t col_bytes = conv_gemm_col_bytes(g);
  if (g.n == 0 || col_bytes == 0 || col_bytes > max_col_bytes) return t;
  const int64_t M = g.n * g.oh * g.ow, K = g.patch();
  const int d = r.device();
  // The route keeps its patch matrix if chosen; timing it takes that much again with the operands.
  // Not where that would take more than half of the free memory (the model's own buffers come first).
  const size_t operands = size_t(g.n * g.h * g.w * g.c + M * g.oc + 2 * K * g.oc) * sizeof(float);
  size_t free_b = 0, total_b = 0;
  DPT_CUDA_CHECK(cudaSetDevice(d));
  DPT_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  if (2 * col_bytes + operands > free_b / 2) return t;
  // Scratch operands: the times do not depend on the values (FP32 FMA runs at one speed).
  DeviceBuffer x(d, size_t(g.n * g.h * g.w * g.c) * sizeof(float)), col(d, col_bytes),
      y(d, size_t(M * g.oc) * sizeof(float)), kernel(d, size_t(K * g.oc) * sizeof(float)),
      dkernel(d, size_t(K * g.oc) * sizeof(float));
  DPT_CUDA_CHECK(cudaMemsetAsync(x.data(), 0, x.bytes(), r.stream()));
  DPT_CUDA_CHECK(cudaMemsetAsync(y.data(), 0, y.bytes(), r.stream()));
  DPT_CUDA_CHECK(cudaMemsetAsync(kernel.data(), 0, kernel.bytes(), r.stream()));
  DPT_CUDA_CHECK(cudaMemsetAsync(dkernel.data(), 0, dkernel.bytes(), r.stream()));
  const double n = double(g.n);
  t.im2col_ms = time_on_stream(r, [&] { im2col_nhwc_cuda(g, x.floats(), col.floats(), r.stream()); }) / n;
  t.pass[kConvForward] = {true, time_on_stream(r, [&] {
                                  gemm_cuda(r, false, false, M, g.oc, K, 1.f, col.floats(), kernel.floats(), 0.f,
                                            y.floats());
                                }) / n};
  t.pass[kConvBackwardFilter] = {true, time_on_stream(r, [&] {
                                         gemm_cuda(r, true, false, K, g.oc, M, 1.f, col.floats(), y.floats(), 1.f,
                                                   dkernel.floats());
                                       }) / n};
  if (needs_dx) {
    t.pass[kConvBackwardData] = {true, time_on_stream(r, [&] {
                                         gemm_cuda(r, false, true, M, K, g.oc, 1.f, y.floats(), kernel.floats(), 0.f,
                                                   col.floats());
                                       }) / n};
    t.col2im_ms = time_on_stream(r, [&] { col2im_nhwc_cuda(g, col.floats(), x.floats(), r.stream()); }) / n;
  }
  return t;
}

}  // namespace dpt::kernels
