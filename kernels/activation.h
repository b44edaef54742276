// Activations on raw arrays laid out as (rows, cols); softmax normalises each row.
#pragma once
#include <cstdint>
#include "kernels/activation_math.h"

namespace dpt::kernels {

// y may alias x.
template <typename T>
void activation_forward_cpu(Activation a, const T* x, T* y, int64_t rows, int64_t cols);
// dx from dy and the forward output y, or for a.needs_input() the forward input x (x and y are read
// only for the kind that needs them; either may be null where the other is the one). dx may alias dy.
template <typename T>
struct NotDeduced {
  using type = T;
};
template <typename T>
void activation_backward_cpu(Activation a, const typename NotDeduced<T>::type* x, const typename NotDeduced<T>::type* y,
                             const T* dy, T* dx, int64_t rows, int64_t cols);

void activation_forward_cuda(Activation a, const float* x, float* y, int64_t rows, int64_t cols, void* stream);
void activation_backward_cuda(Activation a, const float* x, const float* y, const float* dy, float* dx, int64_t rows,
                              int64_t cols, void* stream);

}  // namespace dpt::kernels
