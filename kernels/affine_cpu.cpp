// Rescaling and Normalization on the CPU.
#include "kernels/affine.h"
#include "kernels/cpu_loops.h"

namespace dpt::kernels {

template <typename T>
void affine_forward_cpu(AffineForm f, const T* x, T* y, int64_t rows, int64_t cols, const T* a, int64_t a_step,
                        const T* b, int64_t b_step) {
  parallel_elementwise(rows * cols, [=](int64_t i) {
    const int64_t c = i % cols;
    y[i] = affine_fwd(f, x[i], a[c * a_step], b[c * b_step]);
  });
}

template <typename T>
void affine_backward_cpu(AffineForm f, const T* dy, T* dx, int64_t rows, int64_t cols, const T* a, int64_t a_step) {
  parallel_elementwise(rows * cols, [=](int64_t i) { dx[i] = affine_bwd(f, dy[i], a[(i % cols) * a_step]); });
}

template void affine_forward_cpu<float>(AffineForm, const float*, float*, int64_t, int64_t, const float*, int64_t,
                                        const float*, int64_t);
template void affine_forward_cpu<double>(AffineForm, const double*, double*, int64_t, int64_t, const double*, int64_t,
                                         const double*, int64_t);
template void affine_backward_cpu<float>(AffineForm, const float*, float*, int64_t, int64_t, const float*, int64_t);
template void affine_backward_cpu<double>(AffineForm, const double*, double*, int64_t, int64_t, const double*, int64_t);

}  // namespace dpt::kernels
