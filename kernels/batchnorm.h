// BatchNormalization over the last axis of (rows, C) data (rows = N*H*W), split into sums and
// applies so that replicas can all-reduce the sums (synchronised batch norm).
#pragma once
#include <cstdint>

namespace dpt::kernels {

class CudaResources;

// sum[c] += sum_r x[r,c]; sumsq[c] += sum_r x[r,c]^2 (double accumulators).
template <typename T>
void bn_sums_cpu(const T* x, int64_t rows, int64_t C, double* sum, double* sumsq);
// mean, biased variance and 1/sqrt(var + eps) from sums over `count` rows.
template <typename T>
void bn_stats_from_sums(const double* sum, const double* sumsq, double count, int64_t C, double eps, T* mean,
                        T* var, T* invstd);
// y = gamma * (x - mean) * invstd + beta
template <typename T>
void bn_apply_cpu(const T* x, int64_t rows, int64_t C, const T* mean, const T* invstd, const T* gamma,
                  const T* beta, T* y);
// sum_dy[c] += sum_r dy; sum_dy_xhat[c] += sum_r dy * xhat
template <typename T>
void bn_backward_sums_cpu(const T* x, const T* dy, int64_t rows, int64_t C, const T* mean, const T* invstd,
                          double* sum_dy, double* sum_dy_xhat);
// dx = gamma * invstd / count * (count * dy - sum_dy - xhat * sum_dy_xhat)
template <typename T>
void bn_backward_apply_cpu(const T* x, const T* dy, int64_t rows, int64_t C, const T* mean, const T* invstd,
                           const T* gamma, const double* sum_dy, const double* sum_dy_xhat, double count, T* dx);
// moving = moving * momentum + batch * (1 - momentum)  (Keras's update, biased batch variance)
template <typename T>
void bn_update_moving_cpu(T* moving_mean, T* moving_var, const T* mean, const T* var, T momentum, int64_t C);

// CUDA (float data; double sums through a deterministic two-pass reduction in r's scratch, which
// prepare reserves with cuda_reduce_scratch_bytes(2 * C)). Counts stay on the device, so a
// synchronised batch norm all-reduces them with the sums and nothing waits for the host.
// sums[0..C) = sum x, sums[C..2C) = sum x^2, sums[2C] = rows (overwritten).
void bn_sums_cuda(const float* x, int64_t rows, int64_t C, double* sums, CudaResources& r);
// mean, var, invstd from sums (count = sums[2C]).
void bn_stats_cuda(const double* sums, int64_t C, double eps, float* mean, float* var, float* invstd, void* stream);
// invstd = 1/sqrt(var + eps) (inference, from the moving variance).
void bn_invstd_cuda(const float* var, int64_t C, double eps, float* invstd, void* stream);
void bn_apply_cuda(const float* x, int64_t rows, int64_t C, const float* mean, const float* invstd, const float* gamma,
                   const float* beta, float* y, void* stream);
// Moving statistics updated where *count > 0.
void bn_update_moving_cuda(float* moving_mean, float* moving_var, const float* mean, const float* var, float momentum,
                           int64_t C, const double* count, void* stream);
// sums[0..C) = sum dy, sums[C..2C) = sum dy * xhat (overwritten); dbeta += sum dy, dgamma += sum dy * xhat.
void bn_backward_sums_cuda(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                           const float* invstd, double* sums, float* dgamma, float* dbeta, CudaResources& r);
void bn_backward_apply_cuda(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                            const float* invstd, const float* gamma, const double* sums, const double* count,
                            float* dx, void* stream);

}  // namespace dpt::kernels
