// Keras 3's image augmentation layers on NHWC images (n, h, w, c), in training (at inference they
// are the identity, but for RandomCrop's resize). Each sample draws its own transform from counter-based uniforms keyed
// by its global index (random_math.h), so a sample is augmented alike however the batch is split.
//
// RandomRotation, RandomZoom, RandomTranslation and RandomShear: an affine map from output to input
// pixel coordinates, as Keras's _compute_affine_matrix and its zoom, translation and shear matrices
// build it:
// output pixel (i, j) (row, column) reads the input at x = a0 j + a1 i + a2, y = b0 j + b1 i + b2,
// through bilinear or nearest interpolation, with points outside the image taken by the fill mode
// as JAX's map_coordinates takes them (Keras's JAX backend): reflect (d c b a | a b c d | d c b a),
// wrap, nearest (the edge), or constant (fill_value). A linear map of the input: its gradient is its
// transpose, each tap's weight times dy added back into dx.
//
// RandomContrast: (x - mean) f + mean per sample and channel (mean over the image, in double), f
// drawn in [1 - lower, 1 + upper], clipped to value_range; its gradient f dy where the value was
// within the range, plus (1 - f) times the mean of those dy over the image. RandomBrightness: x +
// delta per sample, clipped the same way.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/dropout.h"
#include "kernels/hd.h"
#include "kernels/random_math.h"

namespace dpt::kernels {

enum class WarpKind : int { rotation, zoom, translation, shear };
enum class FillMode : int { reflect, wrap, constant, nearest };

struct Warp2d {
  int64_t n = 0, h = 0, w = 0, c = 0;
  WarpKind kind = WarpKind::rotation;
  // rotation: the factor's range (lower, upper) in turns, as height's; zoom and translation: the
  // height's and width's ranges (zoom: -0.2 is 20% in, translation: fractions of the size); shear:
  // y_factor's and x_factor's (the slope added to y per column, to x per row; the sign drawn apart).
  float h_lo = 0, h_hi = 0, w_lo = 0, w_hi = 0;
  bool width_from_height = false;  // RandomZoom without width_factor: one zoom for both axes
  FillMode fill = FillMode::reflect;
  bool bilinear = true;
  float fill_value = 0;
};

struct AffineMap {
  float a0 = 1, a1 = 0, a2 = 0, b0 = 0, b1 = 1, b2 = 0;
};

// The sample's map from its two uniforms (Keras draws the height's, then the width's). The
// rotation's cosf and sinf may round their last bit apart on the CPU and a GPU.
DPT_HD AffineMap warp_map(const Warp2d& g, uint32_t key) {
  const float u0 = uniform_in_row(key, 0u), u1 = uniform_in_row(key, 1u);
  AffineMap m;
  if (g.kind == WarpKind::rotation) {
    const float deg = fmaf(u0, g.h_hi - g.h_lo, g.h_lo) * 360.0f;
    const float rad = deg * 0.017453292519943295f;
    const float cs = cosf(rad), sn = sinf(rad);
    const float cx = 0.5f * float(g.w - 1), cy = 0.5f * float(g.h - 1);
    m.a0 = cs;
    m.a1 = -sn;
    m.a2 = fmaf(cy, sn, fmaf(-cx, cs, cx));
    m.b0 = sn;
    m.b1 = cs;
    m.b2 = fmaf(-cy, cs, fmaf(-cx, sn, cy));
  } else if (g.kind == WarpKind::zoom) {
    const float zy = fmaf(u0, g.h_hi - g.h_lo, 1.0f + g.h_lo);
    const float zx = g.width_from_height ? zy : fmaf(u1, g.w_hi - g.w_lo, 1.0f + g.w_lo);
    m.a0 = zx;
    m.a2 = 0.5f * float(g.w - 1) * (1.0f - zx);
    m.b1 = zy;
    m.b2 = 0.5f * float(g.h - 1) * (1.0f - zy);
  } else if (g.kind == WarpKind::shear) {  // Keras's: a sign drawn first, then y's, then x's
    const float sign = u0 > 0.5f ? -1.0f : 1.0f, u2 = uniform_in_row(key, 2u);
    m.a1 = fmaf(u2, g.w_hi - g.w_lo, g.w_lo) * sign;
    m.b0 = fmaf(u1, g.h_hi - g.h_lo, g.h_lo) * sign;
  } else {
    const float ty = fmaf(u0, g.h_hi - g.h_lo, g.h_lo) * float(g.h);
    const float tx = fmaf(u1, g.w_hi - g.w_lo, g.w_lo) * float(g.w);
    m.a2 = -tx;
    m.b2 = -ty;
  }
  return m;
}

// An index along an axis of `size` moved inside by the fill mode (JAX's index fixers); *valid false
// where constant fill leaves it outside.
DPT_HD int64_t fix_index(int64_t i, int64_t size, FillMode mode, bool* valid) {
  *valid = true;
  switch (mode) {
    case FillMode::nearest: return i < 0 ? 0 : i >= size ? size - 1 : i;
    case FillMode::wrap: return ((i % size) + size) % size;
    case FillMode::constant: *valid = i >= 0 && i < size; return i;
    case FillMode::reflect: {  // floor((mirror(2 i + 1, 2 size + 1) - 1) / 2), mirror(k, m) = |(k + s) mod 2s - s|, s =
                               // m - 1
      const int64_t s = 2 * size, k = 2 * i + 1;
      int64_t r = (k + s) % (2 * s);
      if (r < 0) r += 2 * s;
      const int64_t mirrored = r - s < 0 ? s - r : r - s;  // odd k: >= 1
      return (mirrored - 1) / 2;
    }
  }
  return i;
}

// The taps of output pixel (i, j): up to 4 input pixels (offsets of their first channel in the
// sample) and weights; `outside` is the weight constant fill gives fill_value.
struct WarpTaps {
  int64_t at[4];
  float weight[4];
  int count = 0;
  float outside = 0;
};

DPT_HD WarpTaps warp_taps(const Warp2d& g, const AffineMap& m, int64_t i, int64_t j) {
  // explicit fmas: no multiply-add left for a compiler to fuse on one device and not the other
  const float x = fmaf(m.a0, float(j), fmaf(m.a1, float(i), m.a2));
  const float y = fmaf(m.b0, float(j), fmaf(m.b1, float(i), m.b2));
  WarpTaps t;
  if (!g.bilinear) {  // order 0: the nearest pixel (numpy's round: halves to even)
    const int64_t yi = int64_t(rintf(y)), xi = int64_t(rintf(x));
    bool vy = true, vx = true;
    const int64_t fy = fix_index(yi, g.h, g.fill, &vy), fx = fix_index(xi, g.w, g.fill, &vx);
    if (vy && vx) {
      t.at[0] = (fy * g.w + fx) * g.c;
      t.weight[0] = 1.0f;
      t.count = 1;
    } else {
      t.outside = 1.0f;
    }
    return t;
  }
  const float y0f = floorf(y), x0f = floorf(x);
  const float wy1 = y - y0f, wx1 = x - x0f;
  const int64_t y0 = int64_t(y0f), x0 = int64_t(x0f);
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const float w = (dy ? wy1 : 1.0f - wy1) * (dx ? wx1 : 1.0f - wx1);
      bool vy = true, vx = true;
      const int64_t fy = fix_index(y0 + dy, g.h, g.fill, &vy), fx = fix_index(x0 + dx, g.w, g.fill, &vx);
      if (vy && vx) {
        t.at[t.count] = (fy * g.w + fx) * g.c;
        t.weight[t.count] = w;
        ++t.count;
      } else {
        t.outside += w;
      }
    }
  return t;
}

// Keras's Resizing to (oh, ow): output pixel (i, j) samples the source box (the input, or
// crop_to_aspect_ratio's centred crop of it, or pad_to_aspect_ratio's padded frame around it, whose
// pixels beyond the input hold fill_value) as jax.image.resize does without antialiasing: bilinear
// at (i + 0.5) box / out - 0.5 on each axis, the triangle's weights over the box's pixels
// renormalised to sum to 1 at the edges; nearest at floor((i + 0.5) box / out). An axis of the same
// size is copied. Linear in the input: its gradient is its transpose.
struct Resize2d {
  int64_t n = 0, h = 0, w = 0, c = 0, oh = 0, ow = 0;
  int64_t top = 0, left = 0, bh = 0, bw = 0;  // the box: rows [top, top + bh), columns [left, left + bw) of the input
  bool bilinear = true;
  float fill_value = 0;
};

// One axis: the taps of output position o in a box of `box` pixels (positions in the box).
DPT_HD int resize_axis(int64_t o, int64_t out, int64_t box, bool bilinear, int64_t at[2], float weight[2]) {
  if (out == box) {
    at[0] = o;
    weight[0] = 1.0f;
    return 1;
  }
  if (!bilinear) {
    int64_t k = int64_t(floorf((float(o) + 0.5f) * float(box) / float(out)));
    at[0] = k < box ? k : box - 1;
    weight[0] = 1.0f;
    return 1;
  }
  const float inv = float(1.0 / (double(out) / double(box)));
  const float s = fmaf(float(o) + 0.5f, inv, -0.5f);
  const float f0 = floorf(s);
  const int64_t k0 = int64_t(f0);
  int count = 0;
  float total = 0;
  for (int d = 0; d < 2; ++d) {
    const int64_t k = k0 + d;
    const float wt = d ? s - f0 : 1.0f - (s - f0);
    if (k < 0 || k >= box || wt <= 0.0f) continue;
    at[count] = k;
    weight[count] = wt;
    total += wt;
    ++count;
  }
  for (int q = 0; q < count; ++q) weight[q] /= total;
  return count;
}

DPT_HD WarpTaps resize_taps(const Resize2d& g, int64_t i, int64_t j) {
  int64_t ys[2], xs[2];
  float wy[2], wx[2];
  const int cy = resize_axis(i, g.oh, g.bh, g.bilinear, ys, wy), cx = resize_axis(j, g.ow, g.bw, g.bilinear, xs, wx);
  WarpTaps t;
  for (int a = 0; a < cy; ++a)
    for (int b = 0; b < cx; ++b) {
      const int64_t r = g.top + ys[a], col = g.left + xs[b];
      const float wt = wy[a] * wx[b];
      if (r < 0 || r >= g.h || col < 0 || col >= g.w) {  // pad_to_aspect_ratio's frame
        t.outside += wt;
        continue;
      }
      t.at[t.count] = (r * g.w + col) * g.c;
      t.weight[t.count] = wt;
      ++t.count;
    }
  return t;
}

void resize_cpu(const Resize2d& g, const float* x, float* y);
void resize_backward_cpu(const Resize2d& g, const float* dy, float* dx);
void resize_cuda(const Resize2d& g, const float* x, float* y, void* stream);
void resize_backward_cuda(const Resize2d& g, const float* dy, float* dx, void* stream);

// Where each sample's taps come from: a per-sample state (the warp's drawn map; nothing for a
// resize), then the taps of an output pixel. The loops below serve both.
struct WarpTapper {
  Warp2d g;
  DropoutKey key;
  DPT_HD AffineMap sample(int64_t s) const {
    return warp_map(g, row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + s)));
  }
  DPT_HD WarpTaps at(const AffineMap& m, int64_t i, int64_t j) const { return warp_taps(g, m, i, j); }
  DPT_HD float fill() const { return g.fill_value; }
};
struct ResizeTapper {
  Resize2d g;
  DPT_HD int sample(int64_t) const { return 0; }
  DPT_HD WarpTaps at(int, int64_t i, int64_t j) const { return resize_taps(g, i, j); }
  DPT_HD float fill() const { return g.fill_value; }
};

// Keras's RandomCrop in training, on an image at least (oh, ow): each sample's (oh, ow) window at
// an offset drawn in [0, h - oh] x [0, w - ow] (Keras draws the rows', then the columns'; one offset
// a batch, dptrain one a sample). The window's first pixel is the sample's state.
DPT_HD int64_t crop_offset(const Resize2d& g, uint32_t key) {
  const int64_t dh = g.h - g.oh, dw = g.w - g.ow;
  int64_t top = int64_t(uniform_in_row(key, 0u) * float(dh + 1)),
          left = int64_t(uniform_in_row(key, 1u) * float(dw + 1));
  top = top > dh ? dh : top;
  left = left > dw ? dw : left;
  return top * g.w + left;
}
struct CropTapper {
  Resize2d g;
  DropoutKey key;
  DPT_HD int64_t sample(int64_t s) const {
    return crop_offset(g, row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + s)));
  }
  DPT_HD WarpTaps at(int64_t origin, int64_t i, int64_t j) const {
    WarpTaps t;
    t.at[0] = (origin + i * g.w + j) * g.c;
    t.weight[0] = 1.0f;
    t.count = 1;
    return t;
  }
  DPT_HD float fill() const { return 0.0f; }
};

void random_crop_cpu(const Resize2d& g, const DropoutKey& key, const float* x, float* y);
void random_crop_backward_cpu(const Resize2d& g, const DropoutKey& key, const float* dy, float* dx);
void random_crop_cuda(const Resize2d& g, const DropoutKey& key, const float* x, float* y, void* stream);
void random_crop_backward_cuda(const Resize2d& g, const DropoutKey& key, const float* dy, float* dx, void* stream);

// Keras 3's RandomGrayscale on RGB images (c == 3; one channel is left as it is): each sample, where
// its uniform draw is below `factor`, becomes its luma 0.2989 R + 0.5870 G + 0.1140 B (as
// tf.image.rgb_to_grayscale weighs them) in all three channels. The gradient of a grey pixel: each
// channel's weight times the sum of the three dy.
struct Grayscale2d {
  int64_t n = 0, pixels = 0, c = 3;
  float factor = 0.5f;
};
DPT_HD bool grayscale_drawn(const Grayscale2d& g, uint32_t key) { return uniform_in_row(key, 0u) < g.factor; }
DPT_HD float grayscale_weight(int k) { return k == 0 ? 0.2989f : k == 1 ? 0.5870f : 0.1140f; }
// One pixel's three values (x) into out: forward (dy null) the luma, backward the gradient.
DPT_HD void grayscale_pixel(const float* x, const float* dy, float* out) {
  if (!dy) {
    const float v = fmaf(x[2], 0.1140f, fmaf(x[1], 0.5870f, x[0] * 0.2989f));
    out[0] = out[1] = out[2] = v;
    return;
  }
  const float sum = dy[0] + dy[1] + dy[2];
  for (int k = 0; k < 3; ++k) out[k] = grayscale_weight(k) * sum;
}

// dy null: forward from x, else backward from dy (x unused); out must not alias the input.
void random_grayscale_cpu(const Grayscale2d& g, const DropoutKey& key, const float* x, const float* dy, float* out);
void random_grayscale_cuda(const Grayscale2d& g, const DropoutKey& key, const float* x, const float* dy, float* out,
                           void* stream);

// y must not alias x; dx is overwritten.
void random_warp_cpu(const Warp2d& g, const DropoutKey& key, const float* x, float* y);
void random_warp_backward_cpu(const Warp2d& g, const DropoutKey& key, const float* dy, float* dx);
void random_warp_cuda(const Warp2d& g, const DropoutKey& key, const float* x, float* y, void* stream);
void random_warp_backward_cuda(const Warp2d& g, const DropoutKey& key, const float* dy, float* dx, void* stream);

struct Contrast2d {
  int64_t n = 0, h = 0, w = 0, c = 0;
  float lower = 0, upper = 0;          // the factor drawn in [1 - lower, 1 + upper]
  float value_lo = 0, value_hi = 255;  // Keras's value_range: the output clipped to it
  // RandomBrightness instead: x + delta, delta drawn in [lower, upper] times the value range's width,
  // clipped; its gradient dy where the value was within the range (no mean).
  bool brightness = false;
};

// The sample's draw: contrast's factor, or brightness's delta.
DPT_HD float contrast_factor(const Contrast2d& g, uint32_t key) {
  const float u = uniform_in_row(key, 0u);
  if (g.brightness) return fmaf(u, g.upper - g.lower, g.lower) * (g.value_hi - g.value_lo);
  return fmaf(u, g.upper + g.lower, 1.0f - g.lower);
}

// The value before the clip: brightness's x + delta, contrast's (x - mean) f + mean (f: the draw).
DPT_HD float tone_value(const Contrast2d& g, float x, float mean, float f) {
  return g.brightness ? x + f : fmaf(x - mean, f, mean);
}

// One sample and channel (`x` at its first pixel, pixels c apart): the mean over the image in double.
template <typename T>
DPT_HD double contrast_mean(const T* x, int64_t pixels, int64_t c) {
  double s = 0;
  for (int64_t p = 0; p < pixels; ++p) s += double(x[p * c]);
  return s / double(pixels);
}

// One sample and channel (x at its first value, values c apart; f the sample's draw): forward (dy
// null) writes the clipped values to out; backward writes dx there.
DPT_HD void tone_channel(const Contrast2d& g, float f, const float* x, const float* dy, float* out) {
  const int64_t pixels = g.h * g.w, c = g.c;
  const float mean = g.brightness ? 0.0f : float(contrast_mean(x, pixels, c));
  if (!dy) {
    for (int64_t p = 0; p < pixels; ++p) {
      const float v = tone_value(g, x[p * c], mean, f);
      out[p * c] = v < g.value_lo ? g.value_lo : v > g.value_hi ? g.value_hi : v;
    }
    return;
  }
  double kept = 0;  // the dy that passed the clip, summed over the image (contrast's mean takes a share)
  for (int64_t p = 0; p < pixels; ++p) {
    const float v = tone_value(g, x[p * c], mean, f);
    if (v >= g.value_lo && v <= g.value_hi) kept += double(dy[p * c]);
  }
  const float spread = g.brightness ? 0.0f : float((1.0 - double(f)) * kept / double(pixels));
  const float slope = g.brightness ? 1.0f : f;
  for (int64_t p = 0; p < pixels; ++p) {
    const float v = tone_value(g, x[p * c], mean, f);
    out[p * c] = (v >= g.value_lo && v <= g.value_hi ? slope * dy[p * c] : 0.0f) + spread;
  }
}

void random_contrast_cpu(const Contrast2d& g, const DropoutKey& key, const float* x, float* y);
void random_contrast_backward_cpu(const Contrast2d& g, const DropoutKey& key, const float* x, const float* dy,
                                  float* dx);
void random_contrast_cuda(const Contrast2d& g, const DropoutKey& key, const float* x, float* y, void* stream);
void random_contrast_backward_cuda(const Contrast2d& g, const DropoutKey& key, const float* x, const float* dy,
                                   float* dx, void* stream);

}  // namespace dpt::kernels
