// Conv2DTranspose: channels_last, Keras kernel (kh, kw, filters, in), bias (filters), padding
// valid/same, strides, dilation_rate (output_padding None). It is the gradient of the Conv2D that
// maps its output's shape to its input's shape with the same kernel (that convolution's (kh, kw,
// in=filters, out=in) kernel is Keras's transposed kernel as it is): forward is that convolution's
// backward-data, backward its forward (dx) and its backward-filter (x and dy swapped).
#pragma once
#include "core/layers/conv2d.h"

namespace dpt {

class Conv2DTranspose : public Conv2D {
 public:
  explicit Conv2DTranspose(Conv2DConfig cfg);
  std::string class_name() const override { return "Conv2DTranspose"; }
  std::string default_name() const override { return "conv2d_transpose"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Conv2DTranspose>(cfg_); }
  std::vector<ParamSpec> params() const override;

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  kernels::Conv2dGeom geom(int64_t n) const override;
  bool plan_needs_data() const override { return true; }
};

// Conv1DTranspose: channels_last (steps, channels), Keras kernel (k, filters, in), the
// Conv2DTranspose of a (1, k) kernel over (1, steps, channels) images (as Conv1D is Conv2D's): the
// same passes on every device; Keras's output length (output_padding None).
class Conv1DTranspose : public Conv2DTranspose {
 public:
  // cfg: kw, sw and dw the kernel size, stride and dilation (kh, sh, dh are 1); cfg.same for 'same'.
  explicit Conv1DTranspose(Conv2DConfig cfg);
  std::string class_name() const override { return "Conv1DTranspose"; }
  std::string default_name() const override { return "conv1d_transpose"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Conv1DTranspose>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;

 protected:
  Shape compute_output_shape(const Shape& in) override;
  Shape image(const Shape& s) const override { return {1, s[0], s[1]}; }
};

}  // namespace dpt
