// LayerNormalization and RMSNormalization on the CPU: rows in parallel, each row's sums in double.
#include <algorithm>
#include "kernels/layernorm.h"
#include "kernels/layernorm_math.h"

namespace dpt::kernels {

template <typename T>
void rownorm_forward_cpu(bool centered, double eps, const T* x, int64_t rows, int64_t D, const T* gamma, const T* beta,
                         T* y, T* mean, T* rstd) {
#pragma omp parallel for schedule(static) if (rows * D >= 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    double m = 0.0;
    if (centered) {
      for (int64_t j = 0; j < D; ++j) m += double(xr[j]);
      m /= double(D);
    }
    double q = 0.0;
    for (int64_t j = 0; j < D; ++j) {
      const double d = double(xr[j]) - m;
      q += d * d;
    }
    const T mr = T(m), rs = T(rownorm_rstd(q / double(D), eps));
    mean[r] = mr;
    rstd[r] = rs;
    T* yr = y + r * D;
    for (int64_t j = 0; j < D; ++j) yr[j] = rownorm_out(xr[j], mr, rs, gamma ? gamma[j] : T(1), beta ? beta[j] : T(0));
  }
}

template <typename T>
void rownorm_backward_cpu(bool centered, const T* x, const T* dy, int64_t rows, int64_t D, const T* gamma,
                          const T* mean, const T* rstd, T* dx, T* dgamma, T* dbeta, double* sums) {
  if (dx) {
#pragma omp parallel for schedule(static) if (rows * D >= 65536)
    for (int64_t r = 0; r < rows; ++r) {
      const T *xr = x + r * D, *dyr = dy + r * D;
      double a = 0.0, b = 0.0;
      for (int64_t j = 0; j < D; ++j) {
        const T g = dyr[j] * (gamma ? gamma[j] : T(1));
        a += double(g);
        b += double(g) * double(rownorm_xhat(xr[j], mean[r], rstd[r]));
      }
      const double mean_g = centered ? a / double(D) : 0.0, mean_gx = b / double(D);
      T* dxr = dx + r * D;
      for (int64_t j = 0; j < D; ++j)
        dxr[j] = rownorm_dx(dyr[j] * (gamma ? gamma[j] : T(1)), rownorm_xhat(xr[j], mean[r], rstd[r]), mean_g, mean_gx,
                            rstd[r]);
    }
  }
  if (!dgamma && !dbeta) return;
  double *sdy = sums, *sdyx = sums + D;
  std::fill(sums, sums + 2 * D, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T *xr = x + r * D, *dyr = dy + r * D;
    for (int64_t j = 0; j < D; ++j) {
      sdy[j] += double(dyr[j]);
      sdyx[j] += double(dyr[j]) * double(rownorm_xhat(xr[j], mean[r], rstd[r]));
    }
  }
  for (int64_t j = 0; j < D; ++j) {
    if (dgamma) dgamma[j] += T(sdyx[j]);
    if (dbeta) dbeta[j] += T(sdy[j]);
  }
}

template void rownorm_forward_cpu<float>(bool, double, const float*, int64_t, int64_t, const float*, const float*,
                                         float*, float*, float*);
template void rownorm_forward_cpu<double>(bool, double, const double*, int64_t, int64_t, const double*, const double*,
                                          double*, double*, double*);
template void rownorm_backward_cpu<float>(bool, const float*, const float*, int64_t, int64_t, const float*,
                                          const float*, const float*, float*, float*, float*, double*);
template void rownorm_backward_cpu<double>(bool, const double*, const double*, int64_t, int64_t, const double*,
                                           const double*, const double*, double*, double*, double*, double*);

}  // namespace dpt::kernels
