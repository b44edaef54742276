// Layout changes on the GPU around cuDNN's convolutions (see reorder.h): per-sample transposes with
// an optional bias + activation epilogue, Keras kernel <-> cuDNN filter, NHWC zero-padding and crop.
#include <algorithm>
#include <cstdint>
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/reorder.h"

namespace dpt::kernels {

// filter[o][r][s][i] = kernel[r][s][i][o]  (rsc = kh * kw * in)
__global__ void kernel_to_krsc_kernel(const float* kernel, float* filter, int64_t rsc, int64_t oc) {
  DPT_GRID_STRIDE(j, rsc * oc) {
    const int64_t o = j / rsc, q = j % rsc;
    filter[j] = kernel[q * oc + o];
  }
}

// dkernel[r][s][i][o] += dfilter[o][r][s][i]
__global__ void krsc_grad_add_kernel(const float* dfilter, float* dkernel, int64_t rsc, int64_t oc) {
  DPT_GRID_STRIDE(j, rsc * oc) {
    const int64_t q = j / oc, o = j % oc;
    dkernel[j] += dfilter[o * rsc + q];
  }
}

// filter[o][i][r][s] = kernel[r][s][i][o]  (rs = kh * kw)
__global__ void kernel_to_kcrs_kernel(const float* kernel, float* filter, int64_t rs, int64_t c, int64_t oc) {
  DPT_GRID_STRIDE(j, rs * c * oc) {
    const int64_t o = j / (c * rs), i = (j / rs) % c, q = j % rs;
    filter[j] = kernel[(q * c + i) * oc + o];
  }
}

// dkernel[r][s][i][o] += dfilter[o][i][r][s]
__global__ void kcrs_grad_add_kernel(const float* dfilter, float* dkernel, int64_t rs, int64_t c, int64_t oc) {
  DPT_GRID_STRIDE(j, rs * c * oc) {
    const int64_t o = j % oc, i = (j / oc) % c, q = j / (oc * c);
    dkernel[j] += dfilter[(o * c + i) * rs + q];
  }
}

// xpad (n, hp, wp, c) = x placed at (top, left), zeros around.
__global__ void pad_kernel(const float* x, float* xpad, int64_t n, int64_t h, int64_t w, int64_t c, int64_t hp,
                           int64_t wp, int64_t top, int64_t left) {
  DPT_GRID_STRIDE(j, n * hp * wp * c) {
    const int64_t k = j % c, xx = (j / c) % wp - left, yy = (j / (c * wp)) % hp - top, s = j / (c * wp * hp);
    xpad[j] = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? x[((s * h + yy) * w + xx) * c + k] : 0.f;
  }
}

// dx (n, h, w, c) = the window of dxpad at (top, left).
__global__ void crop_kernel(const float* dxpad, float* dx, int64_t n, int64_t h, int64_t w, int64_t c, int64_t hp,
                            int64_t wp, int64_t top, int64_t left) {
  DPT_GRID_STRIDE(j, n * h * w * c) {
    const int64_t k = j % c, xx = (j / c) % w, yy = (j / (c * w)) % h, s = j / (c * w * h);
    dx[j] = dxpad[((s * hp + yy + top) * wp + xx + left) * c + k];
  }
}

// Transposes. Both sides a tile or more: through a 32x32 shared-memory tile (reads and writes
// coalesced). A side under a tile (an RGB input's 3 channels, a layer of 6 filters) would leave
// most of each tile idle: then one thread per element, walking the other side, so that the long
// side's accesses stay coalesced and the short side's come in runs.
constexpr int kTile = 32, kTileRows = 8;
__device__ __forceinline__ float transpose_value(float v, int r, Activation act, const float* bias) {
  return activation_fwd(act, bias ? v + bias[r] : v);
}

__global__ void transpose_kernel(const float* __restrict__ src, float* __restrict__ dst, int64_t n, int rows, int cols,
                                 Activation act, const float* __restrict__ bias) {
  __shared__ float tile[kTile][kTile + 1];
  const int c0 = int(blockIdx.x) * kTile, r0 = int(blockIdx.y) * kTile;
  const int64_t per = int64_t(rows) * cols;
  for (int64_t s = blockIdx.z; s < n; s += gridDim.z) {
    const float* sp = src + s * per;
    float* dp = dst + s * per;
    for (int j = int(threadIdx.y); j < kTile; j += kTileRows) {
      const int r = r0 + j, c = c0 + int(threadIdx.x);
      if (r < rows && c < cols) tile[j][threadIdx.x] = sp[int64_t(r) * cols + c];
    }
    __syncthreads();
    for (int j = int(threadIdx.y); j < kTile; j += kTileRows) {
      const int c = c0 + j, r = r0 + int(threadIdx.x);
      if (r < rows && c < cols) dp[int64_t(c) * rows + r] = transpose_value(tile[threadIdx.x][j], r, act, bias);
    }
    __syncthreads();
  }
}

// Few columns: thread i reads src element i of its sample (coalesced) and writes it to dst's
// row i % cols, in `cols` runs a warp. Few rows: thread i writes dst element i (coalesced) and
// reads it from src in `rows` runs. Per sample rows * cols < 2^31 (32-bit index arithmetic).
__global__ void transpose_small_kernel(const float* __restrict__ src, float* __restrict__ dst, int64_t n, int rows,
                                       int cols, bool by_source, Activation act, const float* __restrict__ bias) {
  const int per = rows * cols;
  const int i = int(blockIdx.x) * int(blockDim.x) + int(threadIdx.x);
  if (i >= per) return;
  int r, c;
  if (by_source) {
    r = i / cols;
    c = i - r * cols;
  } else {
    c = i / rows;
    r = i - c * rows;
  }
  const int from = r * cols + c, to = c * rows + r;
  for (int64_t s = blockIdx.z; s < n; s += gridDim.z)
    dst[s * per + to] = transpose_value(src[s * per + from], r, act, bias);
}

void transpose_cuda(const float* src, float* dst, int64_t n, int64_t rows, int64_t cols, void* stream,
                    const float* bias, Activation act) {
  if (n * rows * cols == 0) return;
  DPT_CHECK(act != Activation::softmax && !act.needs_input(),
            "transpose_cuda: " << (act.needs_input() ? "an activation whose gradient needs its input" : "softmax")
                               << " is not an elementwise epilogue");
  const auto s = static_cast<cudaStream_t>(stream);
  const unsigned samples = unsigned(std::min<int64_t>(n, 65535));
  if (rows < kTile || cols < kTile) {
    DPT_CHECK(rows * cols < INT32_MAX, "transpose of a (" << rows << ", " << cols << ") sample is too large");
    const dim3 grid(unsigned((rows * cols + kBlockThreads - 1) / kBlockThreads), 1, samples);
    transpose_small_kernel<<<grid, kBlockThreads, 0, s>>>(src, dst, n, int(rows), int(cols), cols < kTile, act, bias);
  } else {
    DPT_CHECK(rows < INT32_MAX && cols < INT32_MAX && (rows + kTile - 1) / kTile <= 65535,
              "transpose of a (" << rows << ", " << cols << ") sample is too large");
    const dim3 grid(unsigned((cols + kTile - 1) / kTile), unsigned((rows + kTile - 1) / kTile), samples);
    transpose_kernel<<<grid, dim3(kTile, kTileRows), 0, s>>>(src, dst, n, int(rows), int(cols), act, bias);
  }
  DPT_CUDA_LAUNCH_CHECK();
}

void filter_from_kernel_cuda(FilterLayout layout, const float* kernel, float* filter, int64_t rs, int64_t c, int64_t oc,
                             void* stream) {
  const int64_t total = rs * c * oc;
  if (total == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  if (layout == FilterLayout::krsc)
    kernel_to_krsc_kernel<<<grid_blocks(total), kBlockThreads, 0, s>>>(kernel, filter, rs * c, oc);
  else
    kernel_to_kcrs_kernel<<<grid_blocks(total), kBlockThreads, 0, s>>>(kernel, filter, rs, c, oc);
  DPT_CUDA_LAUNCH_CHECK();
}

void kernel_grad_add_cuda(FilterLayout layout, const float* dfilter, float* dkernel, int64_t rs, int64_t c, int64_t oc,
                          void* stream) {
  const int64_t total = rs * c * oc;
  if (total == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  if (layout == FilterLayout::krsc)
    krsc_grad_add_kernel<<<grid_blocks(total), kBlockThreads, 0, s>>>(dfilter, dkernel, rs * c, oc);
  else
    kcrs_grad_add_kernel<<<grid_blocks(total), kBlockThreads, 0, s>>>(dfilter, dkernel, rs, c, oc);
  DPT_CUDA_LAUNCH_CHECK();
}

void pad_nhwc_cuda(const float* x, float* xpad, int64_t n, int64_t h, int64_t w, int64_t c, int64_t hp, int64_t wp,
                   int64_t top, int64_t left, void* stream) {
  const int64_t total = n * hp * wp * c;
  if (total == 0) return;
  pad_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, xpad, n, h, w, c, hp, wp,
                                                                                          top, left);
  DPT_CUDA_LAUNCH_CHECK();
}

void crop_nhwc_cuda(const float* dxpad, float* dx, int64_t n, int64_t h, int64_t w, int64_t c, int64_t hp, int64_t wp,
                    int64_t top, int64_t left, void* stream) {
  const int64_t total = n * h * w * c;
  if (total == 0) return;
  crop_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(dxpad, dx, n, h, w, c, hp,
                                                                                           wp, top, left);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
