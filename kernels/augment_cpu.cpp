// Keras 3's image augmentation, RandomCrop and Resizing on the CPU (augment.h), in parallel over samples.
#include <algorithm>
#include "kernels/augment.h"

namespace dpt::kernels {

static uint32_t sample_key(const DropoutKey& key, int64_t s) {
  return row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + s));
}

// n samples of (h, w, c) in, (oh, ow, c) out, each output value its taps' weighted sum.
template <typename Tapper>
static void taps_forward(const Tapper& t, int64_t n, int64_t in_per, int64_t oh, int64_t ow, int64_t c, const float* x,
                         float* y) {
  const int64_t out_per = oh * ow * c;
#pragma omp parallel for schedule(static) if (n * out_per > 65536)
  for (int64_t s = 0; s < n; ++s) {
    const auto state = t.sample(s);
    const float* xs = x + s * in_per;
    float* ys = y + s * out_per;
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const WarpTaps tp = t.at(state, i, j);
        float* out = ys + (i * ow + j) * c;
        for (int64_t k = 0; k < c; ++k) {
          float v = tp.outside * t.fill();
          for (int q = 0; q < tp.count; ++q) v += tp.weight[q] * xs[tp.at[q] + k];
          out[k] = v;
        }
      }
  }
}

// The transpose: each tap's weight times dy added back into dx (overwritten), a sample at a time
// in output order.
template <typename Tapper>
static void taps_backward(const Tapper& t, int64_t n, int64_t in_per, int64_t oh, int64_t ow, int64_t c,
                          const float* dy, float* dx) {
  const int64_t out_per = oh * ow * c;
#pragma omp parallel for schedule(static) if (n * out_per > 65536)
  for (int64_t s = 0; s < n; ++s) {  // a sample's taps land in its own dx: no races
    const auto state = t.sample(s);
    float* dxs = dx + s * in_per;
    const float* dys = dy + s * out_per;
    std::fill(dxs, dxs + in_per, 0.f);
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const WarpTaps tp = t.at(state, i, j);
        const float* d = dys + (i * ow + j) * c;
        for (int q = 0; q < tp.count; ++q)
          for (int64_t k = 0; k < c; ++k) dxs[tp.at[q] + k] += tp.weight[q] * d[k];
      }
  }
}

void random_warp_cpu(const Warp2d& g, const DropoutKey& key, const float* x, float* y) {
  taps_forward(WarpTapper{g, key}, g.n, g.h * g.w * g.c, g.h, g.w, g.c, x, y);
}
void random_warp_backward_cpu(const Warp2d& g, const DropoutKey& key, const float* dy, float* dx) {
  taps_backward(WarpTapper{g, key}, g.n, g.h * g.w * g.c, g.h, g.w, g.c, dy, dx);
}
void resize_cpu(const Resize2d& g, const float* x, float* y) {
  taps_forward(ResizeTapper{g}, g.n, g.h * g.w * g.c, g.oh, g.ow, g.c, x, y);
}
void resize_backward_cpu(const Resize2d& g, const float* dy, float* dx) {
  taps_backward(ResizeTapper{g}, g.n, g.h * g.w * g.c, g.oh, g.ow, g.c, dy, dx);
}

void random_crop_cpu(const Resize2d& g, const DropoutKey& key, const float* x, float* y) {
  taps_forward(CropTapper{g, key}, g.n, g.h * g.w * g.c, g.oh, g.ow, g.c, x, y);
}
void random_crop_backward_cpu(const Resize2d& g, const DropoutKey& key, const float* dy, float* dx) {
  taps_backward(CropTapper{g, key}, g.n, g.h * g.w * g.c, g.oh, g.ow, g.c, dy, dx);
}

void random_grayscale_cpu(const Grayscale2d& g, const DropoutKey& key, const float* x, const float* dy, float* out) {
  const int64_t per = g.pixels * g.c;
  const float* in = dy ? dy : x;
#pragma omp parallel for schedule(static) if (g.n * per > 65536)
  for (int64_t s = 0; s < g.n; ++s) {
    const float* src = in + s * per;
    float* dst = out + s * per;
    if (g.c != 3 || !grayscale_drawn(g, sample_key(key, s))) {
      std::copy(src, src + per, dst);
      continue;
    }
    for (int64_t p = 0; p < g.pixels; ++p) grayscale_pixel(src + p * 3, dy ? src + p * 3 : nullptr, dst + p * 3);
  }
}

// Each sample and channel through tone_channel; dy null: forward.
static void tone(const Contrast2d& g, const DropoutKey& key, const float* x, const float* dy, float* out) {
  const int64_t per = g.h * g.w * g.c;
#pragma omp parallel for schedule(static) if (g.n * per > 65536)
  for (int64_t s = 0; s < g.n; ++s) {
    const float f = contrast_factor(g, sample_key(key, s));
    for (int64_t k = 0; k < g.c; ++k)
      tone_channel(g, f, x + s * per + k, dy ? dy + s * per + k : nullptr, out + s * per + k);
  }
}

void random_contrast_cpu(const Contrast2d& g, const DropoutKey& key, const float* x, float* y) {
  tone(g, key, x, nullptr, y);
}

void random_contrast_backward_cpu(const Contrast2d& g, const DropoutKey& key, const float* x, const float* dy,
                                  float* dx) {
  tone(g, key, x, dy, dx);
}

}  // namespace dpt::kernels
