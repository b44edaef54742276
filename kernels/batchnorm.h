// BatchNormalization over the last axis of (rows, C) data (rows = N*H*W), split into sums and
// applies so that replicas can all-reduce the sums (synchronised batch norm).
#pragma once
#include <cstdint>

namespace dpt::kernels {

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

}  // namespace dpt::kernels
