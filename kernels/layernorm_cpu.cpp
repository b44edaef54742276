// LayerNormalization, RMSNormalization and GroupNormalization on the CPU: rows in parallel, each
// row's sums in double.
#include <algorithm>
#include "kernels/layernorm.h"

namespace dpt::kernels {

namespace {
// One row a sample-position, its elements the channels in order (LayerNormalization and
// RMSNormalization over the last axis): offset(r, e) = r * len + e, channel(r, e) = e.
bool contiguous(const RowLayout& L) { return L.groups == 1 && L.positions == 1; }
}  // namespace

template <typename T>
void rownorm_forward_cpu(bool centered, double eps, const RowLayout& L, const T* x, const T* gamma, const T* beta, T* y,
                         T* mean, T* rstd) {
  const int64_t D = L.len();
  if (contiguous(L)) {  // LayerNormalization over the last axis: the same sums, in vector lanes
#pragma omp parallel for schedule(static) if (L.rows * D >= 65536)
    for (int64_t r = 0; r < L.rows; ++r) {
      const T* xr = x + r * D;
      T* yr = y + r * D;
      double m = 0.0;
      if (centered) {
#pragma omp simd reduction(+ : m)
        for (int64_t e = 0; e < D; ++e) m += double(xr[e]);
        m /= double(D);
      }
      double q = 0.0;
#pragma omp simd reduction(+ : q)
      for (int64_t e = 0; e < D; ++e) {
        const double d = double(xr[e]) - m;
        q += d * d;
      }
      const T mr = T(m), rs = T(rownorm_rstd(q / double(D), eps));
      mean[r] = mr;
      rstd[r] = rs;
#pragma omp simd
      for (int64_t e = 0; e < D; ++e)
        yr[e] = rownorm_out(xr[e], mr, rs, gamma ? gamma[e] : T(1), beta ? beta[e] : T(0));
    }
    return;
  }
#pragma omp parallel for schedule(static) if (L.rows * D >= 65536)
  for (int64_t r = 0; r < L.rows; ++r) {
    double m = 0.0;
    if (centered) {
      for (int64_t e = 0; e < D; ++e) m += double(x[L.offset(r, e)]);
      m /= double(D);
    }
    double q = 0.0;
    for (int64_t e = 0; e < D; ++e) {
      const double d = double(x[L.offset(r, e)]) - m;
      q += d * d;
    }
    const T mr = T(m), rs = T(rownorm_rstd(q / double(D), eps));
    mean[r] = mr;
    rstd[r] = rs;
    for (int64_t e = 0; e < D; ++e) {
      const int64_t c = L.channel(r, e), i = L.offset(r, e);
      y[i] = rownorm_out(x[i], mr, rs, gamma ? gamma[c] : T(1), beta ? beta[c] : T(0));
    }
  }
}

template <typename T>
void rownorm_backward_cpu(bool centered, const RowLayout& L, const T* x, const T* dy, const T* gamma, const T* mean,
                          const T* rstd, T* dx, T* dgamma, T* dbeta, double* sums) {
  const int64_t D = L.len(), C = L.channels();
  if (dx && contiguous(L)) {  // as below, in vector lanes
#pragma omp parallel for schedule(static) if (L.rows * D >= 65536)
    for (int64_t r = 0; r < L.rows; ++r) {
      const T *xr = x + r * D, *dyr = dy + r * D;
      T* dxr = dx + r * D;
      const T mr = mean[r], rs = rstd[r];
      double a = 0.0, b = 0.0;
#pragma omp simd reduction(+ : a, b)
      for (int64_t e = 0; e < D; ++e) {
        const T g = dyr[e] * (gamma ? gamma[e] : T(1));
        a += double(g);
        b += double(g) * double(rownorm_xhat(xr[e], mr, rs));
      }
      const double mean_g = centered ? a / double(D) : 0.0, mean_gx = b / double(D);
#pragma omp simd
      for (int64_t e = 0; e < D; ++e)
        dxr[e] = rownorm_dx(dyr[e] * (gamma ? gamma[e] : T(1)), rownorm_xhat(xr[e], mr, rs), mean_g, mean_gx, rs);
    }
  } else if (dx) {
#pragma omp parallel for schedule(static) if (L.rows * D >= 65536)
    for (int64_t r = 0; r < L.rows; ++r) {
      double a = 0.0, b = 0.0;
      for (int64_t e = 0; e < D; ++e) {
        const int64_t i = L.offset(r, e);
        const T g = dy[i] * (gamma ? gamma[L.channel(r, e)] : T(1));
        a += double(g);
        b += double(g) * double(rownorm_xhat(x[i], mean[r], rstd[r]));
      }
      const double mean_g = centered ? a / double(D) : 0.0, mean_gx = b / double(D);
      for (int64_t e = 0; e < D; ++e) {
        const int64_t i = L.offset(r, e);
        dx[i] = rownorm_dx(dy[i] * (gamma ? gamma[L.channel(r, e)] : T(1)), rownorm_xhat(x[i], mean[r], rstd[r]),
                           mean_g, mean_gx, rstd[r]);
      }
    }
  }
  if (!dgamma && !dbeta) return;
  // Per channel, over every sample and position (pr), in order.
  double *sdy = sums, *sdyx = sums + C;
  std::fill(sums, sums + 2 * C, 0.0);
  const int64_t prs = L.rows / L.groups * L.positions;
  if (contiguous(L)) {  // row pr is sample-position pr: the channels in vector lanes, pr in order
    for (int64_t pr = 0; pr < prs; ++pr) {
      const T *xr = x + pr * C, *dyr = dy + pr * C;
      const T mr = mean[pr], rs = rstd[pr];
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        sdy[c] += double(dyr[c]);
        sdyx[c] += double(dyr[c]) * double(rownorm_xhat(xr[c], mr, rs));
      }
    }
  } else
    for (int64_t pr = 0; pr < prs; ++pr)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t r = L.row_of(pr, c), i = pr * C + c;
        sdy[c] += double(dy[i]);
        sdyx[c] += double(dy[i]) * double(rownorm_xhat(x[i], mean[r], rstd[r]));
      }
  for (int64_t c = 0; c < C; ++c) {
    if (dgamma) dgamma[c] += T(sdyx[c]);
    if (dbeta) dbeta[c] += T(sdy[c]);
  }
}

template void rownorm_forward_cpu<float>(bool, double, const RowLayout&, const float*, const float*, const float*,
                                         float*, float*, float*);
template void rownorm_forward_cpu<double>(bool, double, const RowLayout&, const double*, const double*, const double*,
                                          double*, double*, double*);
template void rownorm_backward_cpu<float>(bool, const RowLayout&, const float*, const float*, const float*,
                                          const float*, const float*, float*, float*, float*, double*);
template void rownorm_backward_cpu<double>(bool, const RowLayout&, const double*, const double*, const double*,
                                           const double*, const double*, double*, double*, double*, double*);

}  // namespace dpt::kernels
