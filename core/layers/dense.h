// Dense: y = activation(x @ kernel + bias) over the last axis; kernel (in, units), bias (units).
#pragma once
#include <string>
#include <vector>
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

 protected:
  int64_t fan_in_ = 0;  // the GEMM's inner size: the input's last axis (EinsumDense: its contracted axes)
  int64_t units_;
  Activation act_;
  bool use_bias_;
};

// Keras's EinsumDense(equation, output_shape, bias_axes, activation) where the equation is one
// matrix product: the input's axes are the kept ones (the batch first) then the contracted ones,
// the kernel's the contracted ones in the input's order then the new ones, and the output's the
// kept ones then the new ones in the kernel's order ("abc,cd->abd", "abc,cde->abde",
// "abcd,cde->abe", "...b,bc->...c": the kept axes elided). It is Dense's math with the contracted
// axes' product as the inner size and the new axes' as the units: its kernel (contracted...,
// new...) is Dense's (in, units) in memory, and the bias, where bias_axes names every new axis,
// Dense's. Other equations (a transpose, an axis in all three, a bias on some of the new axes) are
// refused, saying so.
class EinsumDense : public Dense {
 public:
  // output_shape: Keras's partial output shape (the output's axes after the batch, or after the
  // elided ones; -1 for None).
  EinsumDense(std::string equation, std::vector<int64_t> output_shape, std::string bias_axes,
              Activation act = Activation::linear);
  std::string class_name() const override { return "EinsumDense"; }
  std::string default_name() const override { return "einsum_dense"; }
  MaskUse mask_use() const override { return MaskUse::drops; }  // (Keras's EinsumDense does not support masking)
  std::unique_ptr<Layer> make_clone() const override;
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  const std::string& equation() const { return equation_; }
  const std::vector<int64_t>& partial_output_shape() const { return output_shape_; }
  const std::string& bias_axes() const { return bias_axes_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;

 private:
  std::string equation_, bias_axes_;
  std::vector<int64_t> output_shape_;
  std::string in_spec_, kernel_spec_, out_spec_;  // the letters (without "...")
  bool elided_ = false;                           // "...": the leading kept axes unnamed
  Shape kernel_shape_;
  int64_t contracted_ = 0;  // the kernel's leading axes the input has
};

}  // namespace dpt
