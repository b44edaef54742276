// CPU batch normalisation (channels last).
#include "kernels/batchnorm.h"
#include <cmath>

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
  for (int64_t c = 0; c < C; ++c) {
    const double m = count > 0 ? sum[c] / count : 0.0;
    double v = count > 0 ? sumsq[c] / count - m * m : 0.0;
    if (v < 0) v = 0;
    mean[c] = T(m);
    var[c] = T(v);
    invstd[c] = T(1.0 / std::sqrt(v + eps));
  }
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
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (double(x[r * C + c]) - mean[c]) * invstd[c];
      dx[r * C + c] = T(double(gamma[c]) * invstd[c] / count *
                        (count * dy[r * C + c] - sum_dy[c] - xhat * sum_dy_xhat[c]));
    }
}

template <typename T>
void bn_update_moving_cpu(T* moving_mean, T* moving_var, const T* mean, const T* var, T momentum, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    moving_mean[c] = moving_mean[c] * momentum + mean[c] * (T(1) - momentum);
    moving_var[c] = moving_var[c] * momentum + var[c] * (T(1) - momentum);
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
