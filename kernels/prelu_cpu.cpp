// PReLU on the CPU: the per-element formulas of prelu.h.
#include "kernels/cpu_loops.h"
#include "kernels/prelu.h"

namespace dpt::kernels {

template <typename T>
void prelu_forward_cpu(const T* x, const T* alpha, const BroadcastMap& map, int64_t per, int64_t n, T* y) {
  parallel_elementwise(n, [=, &map](int64_t i) { y[i] = prelu_value(x[i], alpha[map.source(i % per)]); });
}

template <typename T>
void prelu_backward_cpu(const T* x, const T* alpha, const BroadcastMap& map, int64_t per, int64_t n, T* dy, T* dx) {
  parallel_elementwise(
      n, [=, &map](int64_t i) { prelu_grad(x[i], alpha[map.source(i % per)], dy + i, dx ? dx + i : nullptr); });
}

template void prelu_forward_cpu<float>(const float*, const float*, const BroadcastMap&, int64_t, int64_t, float*);
template void prelu_forward_cpu<double>(const double*, const double*, const BroadcastMap&, int64_t, int64_t, double*);
template void prelu_backward_cpu<float>(const float*, const float*, const BroadcastMap&, int64_t, int64_t, float*,
                                        float*);
template void prelu_backward_cpu<double>(const double*, const double*, const BroadcastMap&, int64_t, int64_t, double*,
                                         double*);

}  // namespace dpt::kernels
