// Keras's PReLU: y = x where x > 0, else alpha * x, with alpha a weight of the sample's shape (Keras's
// shared_axes give it 1 there, and it repeats). Element c of a sample reads alpha[map.source(c)].
// Backward (Keras's relu(x) - alpha relu(-x), as its backends differentiate it: no gradient at 0):
// dx = dy where x > 0, alpha dy where x < 0, 0 at 0; and dy is overwritten with alpha's term,
// x dy where x < 0 (else 0), which the layer sums over the batch (and the shared axes) into alpha's
// gradient.
#pragma once
#include <cstdint>
#include "kernels/broadcast_math.h"
#include "kernels/hd.h"

namespace dpt::kernels {

template <typename T>
DPT_HD T prelu_value(T x, T a) {
  return x > T(0) ? x : a * x;
}
// dx's element, and alpha's term written over dy's.
template <typename T>
DPT_HD void prelu_grad(T x, T a, T* dy, T* dx) {
  const T d = *dy;
  if (dx) *dx = x > T(0) ? d : (x < T(0) ? a * d : T(0));
  *dy = x < T(0) ? x * d : T(0);
}

// n: every element of the batch; per: a sample's elements.
template <typename T>
void prelu_forward_cpu(const T* x, const T* alpha, const BroadcastMap& map, int64_t per, int64_t n, T* y);
template <typename T>
void prelu_backward_cpu(const T* x, const T* alpha, const BroadcastMap& map, int64_t per, int64_t n, T* dy, T* dx);
void prelu_forward_cuda(const float* x, const float* alpha, const BroadcastMap& map, int64_t per, int64_t n, float* y,
                        void* stream);
void prelu_backward_cuda(const float* x, const float* alpha, const BroadcastMap& map, int64_t per, int64_t n, float* dy,
                         float* dx, void* stream);

}  // namespace dpt::kernels
