// Flatten: (n, d1, d2, ...) -> (n, d1*d2*...). On NHWC this is Keras's feature order.
#pragma once
#include "core/layer.h"

namespace dpt {

class Flatten : public Layer {
 public:
  std::string class_name() const override { return "Flatten"; }
  std::string default_name() const override { return "flatten"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Flatten>(); }

 protected:
  Shape compute_output_shape(const Shape& in) override { return {shape_numel(in)}; }
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
};

}  // namespace dpt
