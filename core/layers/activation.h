// Activation(name): any of kActivationNames (softmax over the last axis). With a setting other than
// Keras's default (leaky_relu's slope, elu's alpha, relu6's cap) it is the Keras layer that sets
// it: LeakyReLU(negative_slope), ELU(alpha), ReLU(max_value).
#pragma once
#include "core/layer.h"

namespace dpt {

class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(Activation act) : act_(act) {}
  std::string class_name() const override;
  std::string default_name() const override;
  // Keras's Softmax layer computes with a mask (Activation('softmax') does not: dptrain reads both alike).
  MaskUse mask_use() const override { return act_ == Activation::softmax ? MaskUse::refuses : MaskUse::keeps; }
  std::string mask_refusal() const override {
    return "is a softmax: Keras's Softmax layer computes with the mask, dptrain's does not";
  }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<ActivationLayer>(act_); }
  std::string config_str() const override { return "activation=" + activation_str(act_); }
  Activation output_activation() const override { return act_; }

 protected:
  Shape compute_output_shape(const Shape& in) override { return in; }
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  Activation act_;
};

}  // namespace dpt
