// Keras 3's image augmentation, RandomCrop and Resizing on CUDA (augment.h): forward one thread an
// output value; the backward passes one thread a sample and channel through the CPU's loops (the
// same order, no atomics: the same sums on every run); RandomGrayscale one thread a pixel both ways.
#include "kernels/augment.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"

namespace dpt::kernels {

__device__ uint32_t sample_key_of(const DropoutKey& key, int64_t s) {
  return row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + s));
}

// One thread an output value.
template <typename Tapper>
__global__ void taps_forward_kernel(Tapper t, int64_t n, int64_t in_per, int64_t oh, int64_t ow, int64_t c,
                                    const float* __restrict__ x, float* __restrict__ y) {
  const int64_t out_per = oh * ow * c, total = n * out_per;
  DPT_GRID_STRIDE(e, total) {
    const int64_t k = e % c, p = (e / c) % (oh * ow), s = e / out_per;
    const WarpTaps tp = t.at(t.sample(s), p / ow, p % ow);
    float v = tp.outside * t.fill();
    for (int q = 0; q < tp.count; ++q) v += tp.weight[q] * x[s * in_per + tp.at[q] + k];
    y[e] = v;
  }
}

// One thread a sample and channel, its output pixels in the CPU's order.
template <typename Tapper>
__global__ void taps_backward_kernel(Tapper t, int64_t n, int64_t in_per, int64_t oh, int64_t ow, int64_t c,
                                     const float* __restrict__ dy, float* __restrict__ dx) {
  const int64_t out_per = oh * ow * c;
  DPT_GRID_STRIDE(sk, n * c) {
    const int64_t s = sk / c, k = sk % c;
    const auto state = t.sample(s);
    float* dxs = dx + s * in_per + k;
    const float* dys = dy + s * out_per + k;
    for (int64_t p = 0; p < in_per / c; ++p) dxs[p * c] = 0.f;
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const WarpTaps tp = t.at(state, i, j);
        const float d = dys[(i * ow + j) * c];
        for (int q = 0; q < tp.count; ++q) dxs[tp.at[q]] += tp.weight[q] * d;
      }
  }
}

template <typename Tapper>
static void taps_forward(const Tapper& t, int64_t n, int64_t in_per, int64_t oh, int64_t ow, int64_t c, const float* x,
                         float* y, void* stream) {
  const int64_t total = n * oh * ow * c;
  if (total == 0) return;
  taps_forward_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(t, n, in_per, oh, ow,
                                                                                                   c, x, y);
  DPT_CUDA_LAUNCH_CHECK();
}

template <typename Tapper>
static void taps_backward(const Tapper& t, int64_t n, int64_t in_per, int64_t oh, int64_t ow, int64_t c,
                          const float* dy, float* dx, void* stream) {
  if (n * in_per == 0) return;
  taps_backward_kernel<<<grid_blocks(n * c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(t, n, in_per, oh,
                                                                                                    ow, c, dy, dx);
  DPT_CUDA_LAUNCH_CHECK();
}

// One thread a sample and channel through tone_channel (dy null: forward).
__global__ void random_contrast_kernel(Contrast2d g, DropoutKey key, const float* __restrict__ x,
                                       const float* __restrict__ dy, float* __restrict__ out) {
  const int64_t per = g.h * g.w * g.c;
  DPT_GRID_STRIDE(sk, g.n * g.c) {
    const int64_t s = sk / g.c, k = sk % g.c;
    const float f = contrast_factor(g, sample_key_of(key, s));
    tone_channel(g, f, x + s * per + k, dy ? dy + s * per + k : nullptr, out + s * per + k);
  }
}

// One thread a pixel (all of a sample's channels).
__global__ void random_grayscale_kernel(Grayscale2d g, DropoutKey key, const float* __restrict__ x,
                                        const float* __restrict__ dy, float* __restrict__ out) {
  const float* in = dy ? dy : x;
  DPT_GRID_STRIDE(e, g.n * g.pixels) {
    const int64_t s = e / g.pixels, at = e * g.c;
    if (g.c == 3 && grayscale_drawn(g, sample_key_of(key, s))) {
      grayscale_pixel(in + at, dy ? in + at : nullptr, out + at);
    } else {
      for (int64_t k = 0; k < g.c; ++k) out[at + k] = in[at + k];
    }
  }
}

void random_crop_cuda(const Resize2d& g, const DropoutKey& key, const float* x, float* y, void* stream) {
  taps_forward(CropTapper{g, key}, g.n, g.h * g.w * g.c, g.oh, g.ow, g.c, x, y, stream);
}
void random_crop_backward_cuda(const Resize2d& g, const DropoutKey& key, const float* dy, float* dx, void* stream) {
  taps_backward(CropTapper{g, key}, g.n, g.h * g.w * g.c, g.oh, g.ow, g.c, dy, dx, stream);
}

void random_grayscale_cuda(const Grayscale2d& g, const DropoutKey& key, const float* x, const float* dy, float* out,
                           void* stream) {
  if (g.n * g.pixels == 0) return;
  random_grayscale_kernel<<<grid_blocks(g.n * g.pixels), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      g, key, x, dy, out);
  DPT_CUDA_LAUNCH_CHECK();
}

void random_warp_cuda(const Warp2d& g, const DropoutKey& key, const float* x, float* y, void* stream) {
  taps_forward(WarpTapper{g, key}, g.n, g.h * g.w * g.c, g.h, g.w, g.c, x, y, stream);
}
void random_warp_backward_cuda(const Warp2d& g, const DropoutKey& key, const float* dy, float* dx, void* stream) {
  taps_backward(WarpTapper{g, key}, g.n, g.h * g.w * g.c, g.h, g.w, g.c, dy, dx, stream);
}
void resize_cuda(const Resize2d& g, const float* x, float* y, void* stream) {
  taps_forward(ResizeTapper{g}, g.n, g.h * g.w * g.c, g.oh, g.ow, g.c, x, y, stream);
}
void resize_backward_cuda(const Resize2d& g, const float* dy, float* dx, void* stream) {
  taps_backward(ResizeTapper{g}, g.n, g.h * g.w * g.c, g.oh, g.ow, g.c, dy, dx, stream);
}

void random_contrast_cuda(const Contrast2d& g, const DropoutKey& key, const float* x, float* y, void* stream) {
  if (g.n * g.h * g.w * g.c == 0) return;
  random_contrast_kernel<<<grid_blocks(g.n * g.c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, key, x,
                                                                                                          nullptr, y);
  DPT_CUDA_LAUNCH_CHECK();
}

void random_contrast_backward_cuda(const Contrast2d& g, const DropoutKey& key, const float* x, const float* dy,
                                   float* dx, void* stream) {
  if (g.n * g.h * g.w * g.c == 0) return;
  random_contrast_kernel<<<grid_blocks(g.n * g.c), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, key, x, dy,
                                                                                                          dx);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
