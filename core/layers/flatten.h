// Layers that give the same values another shape, in row-major (NHWC) order, as Keras's do:
// Flatten: (n, d1, d2, ...) -> (n, d1*d2*...), Keras's feature order on NHWC;
// Reshape(target_shape): (n, ...) -> (n, target_shape...), one target dimension may be -1 (the
// rest of the size), as in Keras.
#pragma once
#include "core/layer.h"

namespace dpt {

// Forward and backward copy (the model keeps one output buffer per layer).
class ShapeOnlyLayer : public Layer {
 protected:
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
};

class Flatten : public ShapeOnlyLayer {
 public:
  std::string class_name() const override { return "Flatten"; }
  std::string default_name() const override { return "flatten"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Flatten>(); }

 protected:
  Shape compute_output_shape(const Shape& in) override { return {shape_numel(in)}; }
};

class Reshape : public ShapeOnlyLayer {
 public:
  explicit Reshape(Shape target);  // each dimension >= 1, or one -1
  std::string class_name() const override { return "Reshape"; }
  std::string default_name() const override { return "reshape"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Reshape>(target_); }
  std::string config_str() const override;
  const Shape& target() const { return target_; }  // as given (with its -1)

 protected:
  Shape compute_output_shape(const Shape& in) override;

 private:
  Shape target_;
};

}  // namespace dpt
