// Padding and cropping on CUDA: one thread per element written, 64-bit indices.
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/pad2d.h"

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
