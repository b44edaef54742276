// Flatten copies (the model keeps one output buffer per layer).
#include "core/layers/flatten.h"
#include <algorithm>

namespace dpt {

void Flatten::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  std::copy(x.data(), x.data() + x.numel(), y.data());
}

void Flatten::backward_cpu(Context&, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
}

}  // namespace dpt
