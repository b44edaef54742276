// DepthwiseConv2D on the CPU and on CUDA through kernels/depthwise, then its activation.
#include "core/layers/depthwise_conv2d.h"
#include "core/error.h"
#include "kernels/activation.h"
#include "kernels/cuda_backend.h"
#include "kernels/depthwise.h"
#include "kernels/elementwise.h"

namespace dpt {

DepthwiseConv2D::DepthwiseConv2D(DepthwiseConv2DConfig cfg) : cfg_(cfg) {
  const std::string cls = class_name();
  DPT_CHECK(cfg.spatial == 2 || (cfg.spatial == 1 && cfg.kh == 1 && cfg.sh == 1 && cfg.dh == 1),
            cls << ": one spatial axis has a kernel, strides and dilation of 1 along its height");
  check_window(cls.c_str(), cfg);
  DPT_CHECK(cfg.depth_multiplier >= 1, cls << " depth_multiplier must be >= 1, got " << cfg.depth_multiplier);
}

std::string DepthwiseConv2D::config_str() const {
  return (cfg_.spatial == 1 ? window_str_1d(cfg_) : window_str(cfg_)) +
         ", depth_multiplier=" + std::to_string(cfg_.depth_multiplier) +
         ", activation=" + activation_str(cfg_.activation);
}

Shape DepthwiseConv2D::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == size_t(cfg_.spatial) + 1,
            class_name() << " expects inputs of shape "
                         << (cfg_.spatial == 1 ? "(steps, channels)" : "(height, width, channels)") << ", got "
                         << shape_str(in));
  int64_t oh, ow;
  window_out(image(in), cfg_, &oh, &ow, &pad_top_, &pad_left_);
  const int64_t oc = checked_mul(in.back(), cfg_.depth_multiplier, (class_name() + " channels").c_str());
  return cfg_.spatial == 1 ? Shape{ow, oc} : Shape{oh, ow, oc};
}

std::vector<ParamSpec> DepthwiseConv2D::params() const {
  const int64_t in = in_.back(), dm = cfg_.depth_multiplier;
  std::vector<ParamSpec> p{{"depthwise_kernel",
                            cfg_.spatial == 1 ? Shape{cfg_.kw, in, dm} : Shape{cfg_.kh, cfg_.kw, in, dm},
                            Init::glorot_uniform}};
  if (cfg_.use_bias) p.push_back({"bias", {out_.back()}, Init::zeros});
  return p;
}

kernels::Conv2dGeom DepthwiseConv2D::geom(int64_t n) const {
  return window_geom(n, image(in_), image(out_), cfg_, pad_top_, pad_left_, out_.back());
}

void DepthwiseConv2D::prepare(int64_t max_batch, Context& ctx) {
  if (ctx.cuda) kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(out_.back()));
  prepare_pre_activation(cfg_.activation, max_batch, ctx);
}

void DepthwiseConv2D::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  float* z = pre_activation(cfg_.activation, y);  // y itself, unless the activation's gradient needs z
  kernels::depthwise_forward_cpu<float>(geom(x.dim(0)), x.data(), w_[0], cfg_.use_bias ? w_[1] : nullptr, z);
  kernels::activation_forward_cpu(cfg_.activation, z, y.data(), rows_of(y), out_.back());
}

void DepthwiseConv2D::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!fused_grad_)
    kernels::activation_backward_cpu(cfg_.activation, pre_activation(cfg_.activation, y), y.data(), dy.data(),
                                     dy.data(), rows_of(y), out_.back());
  kernels::depthwise_backward_cpu<float>(geom(x.dim(0)), x.data(), w_[0], dy.data(), dx ? dx->data() : nullptr, g_[0],
                                         cfg_.use_bias ? g_[1] : nullptr);
}

void DepthwiseConv2D::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  float* z = pre_activation(cfg_.activation, y);
  kernels::depthwise_forward_cuda(geom(x.dim(0)), x.data(), w_[0], cfg_.use_bias ? w_[1] : nullptr, z, stream(ctx));
  kernels::activation_forward_cuda(cfg_.activation, z, y.data(), rows_of(y), out_.back(), stream(ctx));
}

void DepthwiseConv2D::backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!fused_grad_)
    kernels::activation_backward_cuda(cfg_.activation, pre_activation(cfg_.activation, y), y.data(), dy.data(),
                                      dy.data(), rows_of(y), out_.back(), stream(ctx));
  kernels::depthwise_backward_cuda(geom(x.dim(0)), x.data(), w_[0], dy.data(), dx ? dx->data() : nullptr, g_[0],
                                   cfg_.use_bias ? g_[1] : nullptr, *ctx.cuda);
}

}  // namespace dpt
