// Bilinear upsampling by an integer factor, with half-pixel centres (TensorFlow's resize with
// half_pixel_centers, as Keras 2's UpSampling2D(interpolation='bilinear'); JAX's image.resize
// 'linear', as Keras 3's): along one axis, output o of an input of `in` samples upsampled s times
// reads (o + 0.5) / s - 0.5, between samples lo and hi = lo + 1 (both clamped to the ends) with
// weights 1 - f and f. Shared by the CPU loops and the CUDA kernels.
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

struct LinearTap {
  int64_t lo, hi;
  double f;  // hi's weight; lo's is 1 - f
};

DPT_HD LinearTap linear_tap(int64_t o, int64_t s, int64_t in) {
  const double src = (double(o) + 0.5) / double(s) - 0.5, fl = floor(src);
  int64_t lo = int64_t(fl), hi = lo + 1;
  lo = lo < 0 ? 0 : (lo > in - 1 ? in - 1 : lo);
  hi = hi < 0 ? 0 : (hi > in - 1 ? in - 1 : hi);
  return {lo, hi, src - fl};
}

// The weight output o gives input sample i (0 unless i is one of its two taps).
DPT_HD double linear_weight(int64_t o, int64_t i, int64_t s, int64_t in) {
  const LinearTap t = linear_tap(o, s, in);
  return (t.lo == i ? 1.0 - t.f : 0.0) + (t.hi == i ? t.f : 0.0);
}

// The outputs whose taps can reach input sample i: [first, last], within [0, in * s - 1].
DPT_HD void linear_reach(int64_t i, int64_t s, int64_t in, int64_t* first, int64_t* last) {
  const int64_t a = (i - 1) * s - 1, b = (i + 2) * s;
  *first = a < 0 ? 0 : a;
  *last = b > in * s - 1 ? in * s - 1 : b;
}

}  // namespace dpt::kernels
