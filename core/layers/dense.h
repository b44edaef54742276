// Dense: y = activation(x @ kernel + bias) over the last axis; kernel (in, units), bias (units).
#pragma once
#include "core/layer.h"

namespace dpt {

class Dense : public Layer {
 public:
  explicit Dense(int64_t units, Activation act = Activation::linear, bool use_bias = true);
  std::string class_name() const override { return "Dense"; }
  std::string default_name() const override { return "dense"; }
  MaskUse mask_use() const override { return MaskUse::keeps; }
  std::unique_ptr<Layer> make_clone() const override;
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  Activation output_activation() const override { return act_; }
  int64_t units() const { return units_; }
  bool use_bias() const { return use_bias_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void prepare(int64_t max_batch, Context& ctx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  int64_t units_;
  Activation act_;
  bool use_bias_;
};

}  // namespace dpt
