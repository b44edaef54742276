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

void Flatten::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
}

void Flatten::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
}

}  // namespace dpt
