// Activation layer on the CPU and on CUDA.
#include "core/layers/activation.h"
#include <algorithm>
#include "kernels/activation.h"

namespace dpt {

std::string ActivationLayer::class_name() const {
  if (act_.has_default_alpha()) return "Activation";
  return act_ == Activation::leaky_relu ? "LeakyReLU" : act_ == Activation::elu ? "ELU" : "ReLU";
}

std::string ActivationLayer::default_name() const {
  if (act_.has_default_alpha()) return "activation";
  return act_ == Activation::leaky_relu ? "leaky_re_lu" : act_ == Activation::elu ? "elu" : "re_lu";
}

void ActivationLayer::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  kernels::activation_forward_cpu(act_, x.data(), y.data(), rows_of(x), in_.back());
}

void ActivationLayer::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (fused_grad_)
    std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
  else
    kernels::activation_backward_cpu(act_, x.data(), y.data(), dy.data(), dx->data(), rows_of(y), in_.back());
}

void ActivationLayer::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  kernels::activation_forward_cuda(act_, x.data(), y.data(), rows_of(x), in_.back(), stream(ctx));
}

void ActivationLayer::backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (fused_grad_)
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
  else
    kernels::activation_backward_cuda(act_, x.data(), y.data(), dy.data(), dx->data(), rows_of(y), in_.back(),
                                      stream(ctx));
}

}  // namespace dpt
