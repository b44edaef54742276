// LayerNormalization, RMSNormalization and GroupNormalization over rows (layernorm_math.h's
// RowLayout: a sample's normalized values, or a group of its channels at every position).
// Formulas in layernorm_math.h. centered: the row's mean is taken out (Layer- and
// GroupNormalization); else RMSNormalization. gamma and beta hold one value per channel, or are
// null (1 and 0).
#pragma once
#include <cstdint>
#include "kernels/layernorm_math.h"

namespace dpt::kernels {

class CudaResources;

// y = (x - mean) * rstd * gamma + beta; each row's mean and rstd are kept for backward.
template <typename T>
void rownorm_forward_cpu(bool centered, double eps, const RowLayout& L, const T* x, const T* gamma, const T* beta, T* y,
                         T* mean, T* rstd);
// dx (null: not wanted) is overwritten; dgamma += the sum of dy * xhat and dbeta += the sum of dy
// over every sample and position (each null when the layer has no such weight), summed in double in
// `sums` (2 * L.channels() doubles of scratch).
template <typename T>
void rownorm_backward_cpu(bool centered, const RowLayout& L, const T* x, const T* dy, const T* gamma, const T* mean,
                          const T* rstd, T* dx, T* dgamma, T* dbeta, double* sums);

// CUDA: a row per 32 threads (rows up to 1024 long) or per 256, its sums in double through a fixed
// tree in shared memory; dgamma and dbeta through the deterministic column reductions (scratch
// reserved with cuda_reduce_scratch_bytes(2 * L.channels())). No atomics: the same bits every run.
void rownorm_forward_cuda(bool centered, double eps, const RowLayout& L, const float* x, const float* gamma,
                          const float* beta, float* y, float* mean, float* rstd, void* stream);
void rownorm_backward_cuda(bool centered, const RowLayout& L, const float* x, const float* dy, const float* gamma,
                           const float* mean, const float* rstd, float* dx, float* dgamma, float* dbeta,
                           CudaResources& r);

}  // namespace dpt::kernels
