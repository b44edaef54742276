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

// A recurrent layer's mask (Keras's DropoutRNNCell): mask (rows, cols) of 0 or 1/(1-rate), element
// (r, c) kept as dropout keeps it (the same draw for the same key, row and column).
template <typename T>
void dropout_mask_cpu(T* mask, int64_t rows, int64_t cols, float rate, const DropoutKey& key);
void dropout_mask_cuda(float* mask, int64_t rows, int64_t cols, float rate, const DropoutKey& key, void* stream);

// out[e] = (accumulate ? out[e] : 0) + in[e] * mask[e % period] for e < count: a mask repeated
// along the leading axis (one mask for every step of a time-major sequence). Without accumulate,
// in may be out.
template <typename T>
void apply_mask_cpu(int64_t count, const T* in, const T* mask, int64_t period, T* out, bool accumulate);
void apply_mask_cuda(int64_t count, const float* in, const float* mask, int64_t period, float* out, bool accumulate,
                     void* stream);

}  // namespace dpt::kernels
