// DepthwiseConv2D: channels_last, Keras's depthwise_kernel (kh, kw, in, depth_multiplier), bias
// (in * depth_multiplier), padding valid/same, strides, an activation (fused on the CPU path's
// output; from the kept pre-activation where its gradient needs its input). With spatial 1, Keras's
// DepthwiseConv1D on (steps, channels): the same on (1, steps, channels) images, its kernel
// (k, in, depth_multiplier) the (1, k, in, depth_multiplier) one in memory.
#pragma once
#include "core/layer.h"
#include "core/layers/conv2d.h"
#include "kernels/conv2d.h"

namespace dpt {

struct DepthwiseConv2DConfig {
  int64_t kh = 3, kw = 3;
  int64_t sh = 1, sw = 1;
  int64_t dh = 1, dw = 1;  // dilation_rate
  int64_t depth_multiplier = 1;
  bool same = false;  // padding="same"
  Activation activation = Activation::linear;
  bool use_bias = true;
  int spatial = 2;  // 1: DepthwiseConv1D (kh, sh and dh 1)
};

class DepthwiseConv2D : public Layer {
 public:
  explicit DepthwiseConv2D(DepthwiseConv2DConfig cfg);
  std::string class_name() const override { return cfg_.spatial == 1 ? "DepthwiseConv1D" : "DepthwiseConv2D"; }
  std::string default_name() const override { return cfg_.spatial == 1 ? "depthwise_conv1d" : "depthwise_conv2d"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<DepthwiseConv2D>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  Activation output_activation() const override { return cfg_.activation; }
  void prepare(int64_t max_batch, Context& ctx) override;
  const DepthwiseConv2DConfig& config() const { return cfg_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Conv2dGeom geom(int64_t n) const;
  Shape image(const Shape& s) const { return cfg_.spatial == 1 ? Shape{1, s[0], s[1]} : s; }
  DepthwiseConv2DConfig cfg_;
  int64_t pad_top_ = 0, pad_left_ = 0;
};

}  // namespace dpt
