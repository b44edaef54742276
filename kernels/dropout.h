// Dropout on (rows, cols): element (r, c) is kept when
// uniform_in_row(row_key(seed, epoch, step, row_offset + r), c) >= rate, so a sample's mask depends
// on its global index, never on how the batch was split. Backward applies the same mask to dy.
// With Keras's noise_shape, column c draws column noise->source(c) of a smaller per-sample mask
// (noise_shape (None, 1, 1, 1): one draw a sample, as EfficientNet's stochastic depth).
#pragma once
#include <cstdint>
#include "kernels/broadcast_math.h"
#include "kernels/random_math.h"

namespace dpt::kernels {

struct DropoutKey {
  uint64_t seed;
  int64_t epoch, step, row_offset;
};

template <typename T>
void dropout_cpu(const T* x, T* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                 const BroadcastMap* noise = nullptr);

void dropout_cuda(const float* x, float* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                  const BroadcastMap* noise, void* stream);

// Keras's AlphaDropout (alpha_dropout_value) on the draws dropout would take (the same keys, noise
// map and rule); grad: the backward, dy to dx.
void alpha_dropout_cpu(const float* x, float* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                       const BroadcastMap* noise, bool grad);
void alpha_dropout_cuda(const float* x, float* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                        const BroadcastMap* noise, bool grad, void* stream);

// Keras's GaussianNoise (multiply false: y = x + stddev z) and GaussianDropout (multiply: y = x (1 +
// stddev z)), z drawn per element as dropout's masks are (normal_in_row, keyed by the row's global
// index). GaussianDropout's backward is the same call on dy.
void gaussian_noise_cpu(const float* x, float* y, int64_t rows, int64_t cols, float stddev, bool multiply,
                        const DropoutKey& key);
void gaussian_noise_cuda(const float* x, float* y, int64_t rows, int64_t cols, float stddev, bool multiply,
                         const DropoutKey& key, void* stream);

// Keras 3's RandomFlip on NHWC images (n, h, w, c): a sample drawn to flip (flip_drawn) is reversed
// along the width (horizontal) and/or the height (vertical), both with its one draw, as Keras 3
// flips; y must not alias x. The gradient is the same move of dy (a flip is its own inverse).
struct Flip2d {
  int64_t n = 0, h = 0, w = 0, c = 0;
  bool horizontal = true, vertical = false;
};
// Where output pixel (i, j) of a sample reads its input (the pixel's offset in the sample), flipped or not.
DPT_HD int64_t flip_source(const Flip2d& g, bool flip, int64_t i, int64_t j) {
  const int64_t si = flip && g.vertical ? g.h - 1 - i : i, sj = flip && g.horizontal ? g.w - 1 - j : j;
  return (si * g.w + sj) * g.c;
}
void random_flip_cpu(const Flip2d& g, const DropoutKey& key, const float* x, float* y);
void random_flip_cuda(const Flip2d& g, const DropoutKey& key, const float* x, float* y, void* stream);

// A recurrent layer's mask (Keras's DropoutRNNCell): mask (rows, cols) of 0 or 1/(1-rate), element
// (r, c) kept as dropout keeps it (the same draw for the same key, row and column).
template <typename T>
void dropout_mask_cpu(T* mask, int64_t rows, int64_t cols, float rate, const DropoutKey& key);
void dropout_mask_cuda(float* mask, int64_t rows, int64_t cols, float rate, const DropoutKey& key, void* stream);

// Masks of a period each, repeated along the leading axis (one mask for every step of a time-major
// sequence), for e < count and g < copies:
// apply_masks: out[g out_stride + e] = in[e] * masks[g period + e % period], the input's copy under
// each mask; in may be the last copy (each element is read before its copies are written).
// masked_sum: out[e] = (accumulate ? out[e] : 0) + the sum over g, in order, of
// parts[g count + e] * masks[g period + e % period]: gradients back through the masks.
template <typename T>
void apply_masks_cpu(int64_t count, const T* in, const T* masks, int64_t period, int copies, T* out,
                     int64_t out_stride);
template <typename T>
void masked_sum_cpu(int64_t count, const T* parts, const T* masks, int64_t period, int copies, T* out, bool accumulate);
void apply_masks_cuda(int64_t count, const float* in, const float* masks, int64_t period, int copies, float* out,
                      int64_t out_stride, void* stream);
void masked_sum_cuda(int64_t count, const float* parts, const float* masks, int64_t period, int copies, float* out,
                     bool accumulate, void* stream);

}  // namespace dpt::kernels
