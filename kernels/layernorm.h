// LayerNormalization and RMSNormalization over (rows, D) data: D is the product of the normalized
// (trailing) axes, a row one sample (or one position of it). Formulas in layernorm_math.h.
// centered: LayerNormalization (the row's mean is taken out); else RMSNormalization. gamma and
// beta hold one value per element of a row, or are null (1 and 0).
#pragma once
#include <cstdint>

namespace dpt::kernels {

class CudaResources;

// y = (x - mean) * rstd * gamma + beta; each row's mean and rstd are kept for backward.
template <typename T>
void rownorm_forward_cpu(bool centered, double eps, const T* x, int64_t rows, int64_t D, const T* gamma, const T* beta,
                         T* y, T* mean, T* rstd);
// dx (null: not wanted) is overwritten; dgamma += sum_r dy * xhat and dbeta += sum_r dy (each null
// when the layer has no such weight), summed in double in `sums` (2 * D doubles of scratch).
template <typename T>
void rownorm_backward_cpu(bool centered, const T* x, const T* dy, int64_t rows, int64_t D, const T* gamma,
                          const T* mean, const T* rstd, T* dx, T* dgamma, T* dbeta, double* sums);

// CUDA: a row per 32 threads (D <= 1024) or per 256, its sums in double through a fixed tree in
// shared memory; dgamma and dbeta through the deterministic column reductions (scratch reserved
// with cuda_reduce_scratch_bytes(2 * D)). No atomics: the same bits on every run.
void rownorm_forward_cuda(bool centered, double eps, const float* x, int64_t rows, int64_t D, const float* gamma,
                          const float* beta, float* y, float* mean, float* rstd, void* stream);
void rownorm_backward_cuda(bool centered, const float* x, const float* dy, int64_t rows, int64_t D, const float* gamma,
                           const float* mean, const float* rstd, float* dx, float* dgamma, float* dbeta,
                           CudaResources& r);

}  // namespace dpt::kernels
