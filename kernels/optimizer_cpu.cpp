// CPU optimizer loops: each element through the shared formula in optimizer_math.h.
#include "kernels/optimizer.h"

namespace dpt::kernels {

template <typename T>
void sgd_update_cpu(T* w, const T* g, T* v, int64_t n, T lr, T momentum, bool nesterov) {
  T dummy = 0;
#pragma omp parallel for schedule(static) if (n > 65536) firstprivate(dummy)
  for (int64_t i = 0; i < n; ++i) sgd_step(w[i], g[i], v ? v[i] : dummy, lr, momentum, nesterov);
}

template <typename T>
void rmsprop_update_cpu(T* w, const T* g, T* ms, T* mom, T* mg, int64_t n, T lr, T rho, T momentum, T eps,
                        bool centered) {
  T d1 = 0, d2 = 0;
#pragma omp parallel for schedule(static) if (n > 65536) firstprivate(d1, d2)
  for (int64_t i = 0; i < n; ++i)
    rmsprop_step(w[i], g[i], ms[i], mom ? mom[i] : d1, mg ? mg[i] : d2, lr, rho, momentum, eps, centered);
}

template <typename T>
void adam_update_cpu(T* w, const T* g, T* m, T* v, T* vhat, int64_t n, T alpha, T b1, T b2, T eps, bool amsgrad) {
  T d = 0;
#pragma omp parallel for schedule(static) if (n > 65536) firstprivate(d)
  for (int64_t i = 0; i < n; ++i) adam_step(w[i], g[i], m[i], v[i], vhat ? vhat[i] : d, alpha, b1, b2, eps, amsgrad);
}

template void sgd_update_cpu<float>(float*, const float*, float*, int64_t, float, float, bool);
template void sgd_update_cpu<double>(double*, const double*, double*, int64_t, double, double, bool);
template void rmsprop_update_cpu<float>(float*, const float*, float*, float*, float*, int64_t, float, float, float,
                                        float, bool);
template void rmsprop_update_cpu<double>(double*, const double*, double*, double*, double*, int64_t, double, double,
                                         double, double, bool);
template void adam_update_cpu<float>(float*, const float*, float*, float*, float*, int64_t, float, float, float,
                                     float, bool);
template void adam_update_cpu<double>(double*, const double*, double*, double*, double*, int64_t, double, double,
                                      double, double, bool);

}  // namespace dpt::kernels
