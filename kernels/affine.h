// Rescaling and Normalization over (rows, cols) arrays, cols the last axis: the formulas of
// affine_math.h with a and b per column (step 1) or one value for all (step 0).
#pragma once
#include <cstdint>
#include "kernels/affine_math.h"

namespace dpt::kernels {

template <typename T>
void affine_forward_cpu(AffineForm f, const T* x, T* y, int64_t rows, int64_t cols, const T* a, int64_t a_step,
                        const T* b, int64_t b_step);
template <typename T>
void affine_backward_cpu(AffineForm f, const T* dy, T* dx, int64_t rows, int64_t cols, const T* a, int64_t a_step);

void affine_forward_cuda(AffineForm f, const float* x, float* y, int64_t rows, int64_t cols, const float* a,
                         int64_t a_step, const float* b, int64_t b_step, void* stream);
void affine_backward_cuda(AffineForm f, const float* dy, float* dx, int64_t rows, int64_t cols, const float* a,
                          int64_t a_step, void* stream);

}  // namespace dpt::kernels
