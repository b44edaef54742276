// Activations on raw arrays laid out as (rows, cols); softmax normalises each row.
#pragma once
#include <cstdint>
#include "kernels/activation_math.h"

namespace dpt::kernels {

// y may alias x.
template <typename T>
void activation_forward_cpu(Activation a, const T* x, T* y, int64_t rows, int64_t cols);
// dx from the forward output y and dy; dx may alias dy.
template <typename T>
void activation_backward_cpu(Activation a, const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);

void activation_forward_cuda(Activation a, const float* x, float* y, int64_t rows, int64_t cols, void* stream);
void activation_backward_cuda(Activation a, const float* y, const float* dy, float* dx, int64_t rows,
                              int64_t cols, void* stream);

}  // namespace dpt::kernels
