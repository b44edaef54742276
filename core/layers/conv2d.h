// Conv2D: channels_last, Keras kernel (kh, kw, in, filters), bias (filters), padding valid/same.
#pragma once
#include <memory>
#include "core/layer.h"
#include "kernels/conv2d.h"

namespace dpt {

struct Conv2DConfig {
  int64_t filters = 1;
  int64_t kh = 3, kw = 3;
  int64_t sh = 1, sw = 1;
  bool same = false;  // padding="same"
  Activation activation = Activation::linear;
  bool use_bias = true;
};

class Conv2D : public Layer {
 public:
  explicit Conv2D(Conv2DConfig cfg);
  std::string class_name() const override { return "Conv2D"; }
  std::string default_name() const override { return "conv2d"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Conv2D>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  Activation output_activation() const override { return cfg_.activation; }
  int64_t workspace_elems(int64_t batch) const override;
  void prepare(int64_t max_batch, Context& ctx) override;
  const Conv2DConfig& config() const { return cfg_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Conv2dGeom geom(int64_t n) const;
  Conv2DConfig cfg_;
  int64_t pad_top_ = 0, pad_left_ = 0;
  bool on_cuda_ = false;
  std::unique_ptr<kernels::ConvPlan, kernels::ConvPlanDeleter> plan_;  // cuDNN state (GPU replicas)
};

}  // namespace dpt
