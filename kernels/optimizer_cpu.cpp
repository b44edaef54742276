// CPU optimizer loops: each element through the shared formula in optimizer_math.h.
#include "kernels/optimizer.h"
#include "kernels/cpu_loops.h"

namespace dpt::kernels {

// The loops are specialised on the optimizer's flags so each compiles to one branch-free,
// vectorised pass; the per-element arithmetic is the shared formula of optimizer_math.h.

template <typename T>
void sgd_update_cpu(T* w, const T* g, T* v, int64_t n, T lr, T momentum, bool nesterov) {
  if (momentum == T(0) || !v) {
    parallel_elementwise(n, [=](int64_t i) {
      T unused = 0;
      sgd_step(w[i], g[i], unused, lr, T(0), false);
    });
  } else if (nesterov) {
    parallel_elementwise(n, [=](int64_t i) { sgd_step(w[i], g[i], v[i], lr, momentum, true); });
  } else {
    parallel_elementwise(n, [=](int64_t i) { sgd_step(w[i], g[i], v[i], lr, momentum, false); });
  }
}

template <typename T>
void rmsprop_update_cpu(T* w, const T* g, T* ms, T* mom, T* mg, int64_t n, T lr, T rho, T momentum, T eps,
                        bool centered) {
  const bool use_mom = momentum > T(0) && mom;
  if (centered && use_mom) {
    parallel_elementwise(n, [=](int64_t i) { rmsprop_step(w[i], g[i], ms[i], mom[i], mg[i], lr, rho, momentum, eps, true); });
  } else if (centered) {
    parallel_elementwise(n, [=](int64_t i) {
      T unused = 0;
      rmsprop_step(w[i], g[i], ms[i], unused, mg[i], lr, rho, T(0), eps, true);
    });
  } else if (use_mom) {
    parallel_elementwise(n, [=](int64_t i) {
      T unused = 0;
      rmsprop_step(w[i], g[i], ms[i], mom[i], unused, lr, rho, momentum, eps, false);
    });
  } else {
    parallel_elementwise(n, [=](int64_t i) {
      T u1 = 0, u2 = 0;
      rmsprop_step(w[i], g[i], ms[i], u1, u2, lr, rho, T(0), eps, false);
    });
  }
}

template <typename T>
void adam_update_cpu(T* w, const T* g, T* m, T* v, T* vhat, int64_t n, T alpha, T b1, T b2, T eps, bool amsgrad) {
  if (amsgrad && vhat) {
    parallel_elementwise(n, [=](int64_t i) { adam_step(w[i], g[i], m[i], v[i], vhat[i], alpha, b1, b2, eps, true); });
  } else {
    parallel_elementwise(n, [=](int64_t i) {
      T unused = 0;
      adam_step(w[i], g[i], m[i], v[i], unused, alpha, b1, b2, eps, false);
    });
  }
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
