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

// The geometry of a windowed layer (Conv2D, DepthwiseConv2D, SeparableConv2D's depthwise part) on n
// (in...) images giving (out[0], out[1], oc) ones.
template <typename Config>
kernels::Conv2dGeom window_geom(int64_t n, const Shape& in, const Shape& out, const Config& cfg, int64_t pad_top,
                                int64_t pad_left, int64_t oc) {
  kernels::Conv2dGeom g;
  g.n = n;
  g.h = in[0];
  g.w = in[1];
  g.c = in[2];
  g.kh = cfg.kh;
  g.kw = cfg.kw;
  g.sh = cfg.sh;
  g.sw = cfg.sw;
  g.pad_top = pad_top;
  g.pad_left = pad_left;
  g.oh = out[0];
  g.ow = out[1];
  g.oc = oc;
  return g;
}

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
