// Padding, cropping and nearest upsampling on CUDA: one thread per element written, 64-bit indices.
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/pad2d.h"
#include "kernels/resize_math.h"

namespace dpt::kernels {

__global__ void embed2d_kernel(Window2d g, const float* __restrict__ small, float* __restrict__ large) {
  DPT_GRID_STRIDE(e, g.n * g.H * g.W * g.c) {
    const int64_t k = e % g.c, pix = e / g.c, x = pix % g.W - g.left, row = pix / g.W, y = row % g.H - g.top,
                  s = row / g.H;
    large[e] = y < 0 || y >= g.h || x < 0 || x >= g.w ? 0.f : small[((s * g.h + y) * g.w + x) * g.c + k];
  }
}

__global__ void extract2d_kernel(Window2d g, const float* __restrict__ large, float* __restrict__ small) {
  DPT_GRID_STRIDE(e, g.n * g.h * g.w * g.c) {
    const int64_t k = e % g.c, pix = e / g.c, x = pix % g.w, row = pix / g.w, y = row % g.h, s = row / g.h;
    small[e] = large[((s * g.H + y + g.top) * g.W + x + g.left) * g.c + k];
  }
}

__global__ void upsample2d_forward_kernel(Upsample2d g, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t H = g.h * g.sh, W = g.w * g.sw;
  DPT_GRID_STRIDE(e, g.n * H * W * g.c) {
    const int64_t k = e % g.c, pix = e / g.c, j = pix % W, row = pix / W, i = row % H, s = row / H;
    y[e] = x[((s * g.h + i / g.sh) * g.w + j / g.sw) * g.c + k];
  }
}

// One thread per input element: it adds its block's gradients in scan order, as the CPU does.
__global__ void upsample2d_backward_kernel(Upsample2d g, const float* __restrict__ dy, float* __restrict__ dx) {
  const int64_t H = g.h * g.sh, W = g.w * g.sw;
  DPT_GRID_STRIDE(e, g.n * g.h * g.w * g.c) {
    const int64_t k = e % g.c, pix = e / g.c, j = pix % g.w, row = pix / g.w, i = row % g.h, s = row / g.h;
    float sum = 0.f;
    for (int64_t a = 0; a < g.sh; ++a)
      for (int64_t b = 0; b < g.sw; ++b) sum += dy[((s * H + i * g.sh + a) * W + j * g.sw + b) * g.c + k];
    dx[e] = sum;
  }
}

// Bilinear (resize_math.h): one thread per output element (forward) and per input element
// (backward: the outputs that reach it, rows then columns ascending, as the CPU adds them).
__global__ void bilinear_forward_kernel(Upsample2d g, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t H = g.h * g.sh, W = g.w * g.sw;
  DPT_GRID_STRIDE(e, g.n * H * W * g.c) {
    const int64_t k = e % g.c, pix = e / g.c, j = pix % W, row = pix / W, i = row % H, s = row / H;
    const LinearTap ty = linear_tap(i, g.sh, g.h), tx = linear_tap(j, g.sw, g.w);
    const float* xs = x + s * g.h * g.w * g.c + k;
    y[e] = float((1 - ty.f) * (1 - tx.f)) * xs[(ty.lo * g.w + tx.lo) * g.c] +
           float((1 - ty.f) * tx.f) * xs[(ty.lo * g.w + tx.hi) * g.c] +
           float(ty.f * (1 - tx.f)) * xs[(ty.hi * g.w + tx.lo) * g.c] +
           float(ty.f * tx.f) * xs[(ty.hi * g.w + tx.hi) * g.c];
  }
}

__global__ void bilinear_backward_kernel(Upsample2d g, const float* __restrict__ dy, float* __restrict__ dx) {
  const int64_t H = g.h * g.sh, W = g.w * g.sw;
  DPT_GRID_STRIDE(e, g.n * g.h * g.w * g.c) {
    const int64_t k = e % g.c, pix = e / g.c, j = pix % g.w, row = pix / g.w, i = row % g.h, s = row / g.h;
    int64_t oy0, oy1, ox0, ox1;
    linear_reach(i, g.sh, g.h, &oy0, &oy1);
    linear_reach(j, g.sw, g.w, &ox0, &ox1);
    float sum = 0.f;
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      const float wy = float(linear_weight(oy, i, g.sh, g.h));
      if (wy == 0.f) continue;
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const float wx = float(linear_weight(ox, j, g.sw, g.w));
        if (wx != 0.f) sum += wy * wx * dy[((s * H + oy) * W + ox) * g.c + k];
      }
    }
    dx[e] = sum;
  }
}

void upsample2d_forward_cuda(const Upsample2d& g, const float* x, float* y, void* stream) {
  const int64_t total = g.n * g.h * g.sh * g.w * g.sw * g.c;
  if (total == 0) return;
  if (g.bilinear) {
    bilinear_forward_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, x, y);
    DPT_CUDA_LAUNCH_CHECK();
    return;
  }
  upsample2d_forward_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, x, y);
  DPT_CUDA_LAUNCH_CHECK();
}

void upsample2d_backward_cuda(const Upsample2d& g, const float* dy, float* dx, void* stream) {
  const int64_t total = g.n * g.h * g.w * g.c;
  if (total == 0) return;
  if (g.bilinear) {
    bilinear_backward_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, dy, dx);
    DPT_CUDA_LAUNCH_CHECK();
    return;
  }
  upsample2d_backward_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, dy, dx);
  DPT_CUDA_LAUNCH_CHECK();
}

void embed2d_cuda(const Window2d& g, const float* small, float* large, void* stream) {
  const int64_t total = g.n * g.H * g.W * g.c;
  if (total == 0) return;
  embed2d_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, small, large);
  DPT_CUDA_LAUNCH_CHECK();
}

void extract2d_cuda(const Window2d& g, const float* large, float* small, void* stream) {
  const int64_t total = g.n * g.h * g.w * g.c;
  if (total == 0) return;
  extract2d_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, large, small);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
