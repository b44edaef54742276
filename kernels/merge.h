// The arithmetic of Keras's merge layers and of a model's branches: y += x over n values (a
// branch's gradient joining another's, Add's inputs), y = s y + t x and y *= x (Subtract, Average,
// Multiply), and copies of a block of columns between
// row-major (rows, cols) arrays (Concatenate along the last axis, and its gradient back). The
// broadcast forms read a smaller input through a BroadcastMap (Keras's merge layers broadcast, as
// squeeze-and-excite's Multiply of (1, 1, C) with (H, W, C) does) and sum a gradient back onto it.
#pragma once
#include <cstdint>
#include "kernels/broadcast_math.h"
#include "kernels/hd.h"

namespace dpt::kernels {

template <typename T>
void add_into_cpu(T* y, const T* x, int64_t n);
// y = s * y + t * x over n values (Subtract, Average); y *= x (Multiply).
template <typename T>
void axpby_cpu(T* y, T s, const T* x, T t, int64_t n);
template <typename T>
void multiply_into_cpu(T* y, const T* x, int64_t n);
// dst[r, dst_off + c] = src[r, src_off + c] for c < cols; src and dst have src_cols / dst_cols
// columns.
template <typename T>
void copy_columns_cpu(const T* src, int64_t src_cols, int64_t src_off, T* dst, int64_t dst_cols, int64_t dst_off,
                      int64_t rows, int64_t cols);
// Over the n elements of y, x read through map: y = s * y + t * x (s == 0: y is written, not read);
// y *= x.
template <typename T>
void broadcast_axpby_cpu(T* y, T s, const T* x, T t, const BroadcastMap& map, int64_t n);
template <typename T>
void broadcast_multiply_into_cpu(T* y, const T* x, const BroadcastMap& map, int64_t n);
// small[j] = s * (the sum of large over the elements that read small[j]), for the m elements of small.
template <typename T>
void broadcast_sum_cpu(T* small, T s, const T* large, const BroadcastMap& map, int64_t m);

// Maximum and Minimum of `count` same-sized inputs: the winner of an element is the first input
// holding the extremum (TensorFlow's gradient for ties, as Keras's TensorFlow backend gives it).
// Forward y = the extremum; backward dx = dy where input k wins, else 0.
constexpr int kMaxExtremumInputs = 16;
struct ExtremumInputs {
  const float* x[kMaxExtremumInputs];
  int count;
  bool is_max;
};
// The input that wins element i: the first holding the extremum.
template <typename T>
DPT_HD int extremum_winner(const T* const* xs, int count, bool is_max, int64_t i) {
  int win = 0;
  T best = xs[0][i];
  for (int k = 1; k < count; ++k) {
    const T v = xs[k][i];
    if (is_max ? v > best : v < best) {
      best = v;
      win = k;
    }
  }
  return win;
}
template <typename T>
void extremum_forward_cpu(const T* const* xs, int count, bool is_max, T* y, int64_t n);
template <typename T>
void extremum_backward_cpu(const T* const* xs, int count, bool is_max, const T* dy, int k, T* dx, int64_t n);
void extremum_forward_cuda(const ExtremumInputs& in, float* y, int64_t n, void* stream);
void extremum_backward_cuda(const ExtremumInputs& in, const float* dy, int k, float* dx, int64_t n, void* stream);

void add_into_cuda(float* y, const float* x, int64_t n, void* stream);
void axpby_cuda(float* y, float s, const float* x, float t, int64_t n, void* stream);
void multiply_into_cuda(float* y, const float* x, int64_t n, void* stream);
void copy_columns_cuda(const float* src, int64_t src_cols, int64_t src_off, float* dst, int64_t dst_cols,
                       int64_t dst_off, int64_t rows, int64_t cols, void* stream);
void broadcast_axpby_cuda(float* y, float s, const float* x, float t, const BroadcastMap& map, int64_t n, void* stream);
void broadcast_multiply_into_cuda(float* y, const float* x, const BroadcastMap& map, int64_t n, void* stream);
void broadcast_sum_cuda(float* small, float s, const float* large, const BroadcastMap& map, int64_t m, void* stream);

}  // namespace dpt::kernels
