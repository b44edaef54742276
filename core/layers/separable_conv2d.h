// SeparableConv2D: a DepthwiseConv2D (no bias) whose output t goes through a 1x1 convolution, as
// Keras's: depthwise_kernel (kh, kw, in, depth_multiplier), pointwise_kernel (1, 1, in *
// depth_multiplier, filters), bias (filters), then the activation. t is kept per replica for the
// pointwise kernel's gradient; t's gradient lives in the model's shared workspace. With spatial 1,
// Keras's SeparableConv1D on (steps, channels): the same on (1, steps, channels) images, its
// kernels (k, in, depth_multiplier) and (1, in * depth_multiplier, filters).
#pragma once
#include "core/layer.h"
#include "core/layers/conv2d.h"
#include "kernels/conv2d.h"

namespace dpt {

struct SeparableConv2DConfig {
  int64_t filters = 1;
  int64_t kh = 3, kw = 3;
  int64_t sh = 1, sw = 1;
  int64_t dh = 1, dw = 1;  // dilation_rate
  int64_t depth_multiplier = 1;
  bool same = false;  // padding="same"
  Activation activation = Activation::linear;
  bool use_bias = true;
  int spatial = 2;  // 1: SeparableConv1D (kh, sh and dh 1)
};

class SeparableConv2D : public Layer {
 public:
  explicit SeparableConv2D(SeparableConv2DConfig cfg);
  std::string class_name() const override { return cfg_.spatial == 1 ? "SeparableConv1D" : "SeparableConv2D"; }
  std::string default_name() const override { return cfg_.spatial == 1 ? "separable_conv1d" : "separable_conv2d"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<SeparableConv2D>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  Activation output_activation() const override { return cfg_.activation; }
  void prepare(int64_t max_batch, Context& ctx) override;
  int64_t workspace_elems(int64_t batch) const override;
  int64_t kept_elems(int64_t batch) const override { return workspace_elems(batch); }  // t, as big as its gradient
  const SeparableConv2DConfig& config() const { return cfg_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Conv2dGeom geom(int64_t n) const;  // the depthwise part: oc = in * depth_multiplier
  Shape image(const Shape& s) const { return cfg_.spatial == 1 ? Shape{1, s[0], s[1]} : s; }
  int64_t pixels() const { return shape_numel(out_) / out_.back(); }  // output positions a sample
  float* depthwise_out(int64_t n) const;      // t, checked against the prepared batch
  float* depthwise_grad(int64_t n) const;     // t's gradient, in the workspace
  SeparableConv2DConfig cfg_;
  int64_t pad_top_ = 0, pad_left_ = 0;
  Buffer t_;
};

}  // namespace dpt
