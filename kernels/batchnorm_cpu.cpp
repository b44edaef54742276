// CPU batch normalisation (channels last).
#include "kernels/batchnorm.h"
#include <cmath>
#include "kernels/batchnorm_math.h"

namespace dpt::kernels {

template <typename T>
void bn_sums_cpu(const T* x, int64_t rows, int64_t C, double* sum, double* sumsq) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double v = xr[c];
      sum[c] += v;
      sumsq[c] += v * v;
    }
  }
}

template <typename T>
void bn_stats_from_sums(const double* sum, const double* sumsq, double count, int64_t C, double eps, T* mean,
                        T* var, T* invstd) {
  for (int64_t c = 0; c < C; ++c) bn_stat(sum[c], sumsq[c], count, eps, mean + c, var + c, invstd + c);
}

template <typename T>
void bn_apply_cpu(const T* x, int64_t rows, int64_t C, const T* mean, const T* invstd, const T* gamma,
                  const T* beta, T* y) {
#pragma omp parallel for schedule(static) if (rows * C > 65536)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) y[r * C + c] = gamma[c] * (x[r * C + c] - mean[c]) * invstd[c] + beta[c];
}

template <typename T>
void bn_backward_sums_cpu(const T* x, const T* dy, int64_t rows, int64_t C, const T* mean, const T* invstd,
                          double* sum_dy, double* sum_dy_xhat) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double g = dy[r * C + c];
      sum_dy[c] += g;
      sum_dy_xhat[c] += g * (double(x[r * C + c]) - mean[c]) * invstd[c];
    }
}

template <typename T>
void bn_backward_apply_cpu(const T* x, const T* dy, int64_t rows, int64_t C, const T* mean, const T* invstd,
                           const T* gamma, const double* sum_dy, const double* sum_dy_xhat, double count, T* dx) {
#pragma omp parallel for schedule(static) if (rows * C > 65536)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c)
      dx[r * C + c] = bn_dx(x[r * C + c], dy[r * C + c], mean[c], invstd[c], gamma[c], sum_dy[c], sum_dy_xhat[c], count);
}

template <typename T>
void bn_update_moving_cpu(T* moving_mean, T* moving_var, const T* mean, const T* var, T momentum, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    moving_mean[c] = bn_moving(moving_mean[c], mean[c], momentum);
    moving_var[c] = bn_moving(moving_var[c], var[c], momentum);
  }
}

#define DPT_INSTANTIATE(T)                                                                                  \
  template void bn_sums_cpu<T>(const T*, int64_t, int64_t, double*, double*);                               \
  template void bn_stats_from_sums<T>(const double*, const double*, double, int64_t, double, T*, T*, T*);   \
  template void bn_apply_cpu<T>(const T*, int64_t, int64_t, const T*, const T*, const T*, const T*, T*);    \
  template void bn_backward_sums_cpu<T>(const T*, const T*, int64_t, int64_t, const T*, const T*, double*,  \
                                        double*);                                                           \
  template void bn_backward_apply_cpu<T>(const T*, const T*, int64_t, int64_t, const T*, const T*, const T*, \
                                         const double*, const double*, double, T*);                         \
  template void bn_update_moving_cpu<T>(T*, T*, const T*, const T*, T, int64_t);
DPT_INSTANTIATE(float)
DPT_INSTANTIATE(double)
#undef DPT_INSTANTIATE

}  // namespace dpt::kernels
