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

}  // namespace dpt
