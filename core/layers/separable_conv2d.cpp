// SeparableConv2D: kernels/depthwise into t, then t @ pointwise_kernel + bias and the activation as
// Dense does it (one GEMM forward, two backward; on CUDA through cuBLAS with the fused epilogues).
#include "core/layers/separable_conv2d.h"
#include "core/error.h"
#include "kernels/activation.h"
#include "kernels/cuda_backend.h"
#include "kernels/depthwise.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"

namespace dpt {

SeparableConv2D::SeparableConv2D(SeparableConv2DConfig cfg) : cfg_(cfg) {
  const std::string cls = class_name();
  DPT_CHECK(cfg.filters >= 1, cls << " filters must be >= 1, got " << cfg.filters);
  DPT_CHECK(cfg.spatial == 2 || (cfg.spatial == 1 && cfg.kh == 1 && cfg.sh == 1 && cfg.dh == 1),
            cls << ": one spatial axis has a kernel, strides and dilation of 1 along its height");
  check_window(cls.c_str(), cfg);
  DPT_CHECK(cfg.depth_multiplier >= 1, cls << " depth_multiplier must be >= 1, got " << cfg.depth_multiplier);
}

std::string SeparableConv2D::config_str() const {
  return "filters=" + std::to_string(cfg_.filters) + ", " +
         (cfg_.spatial == 1 ? window_str_1d(cfg_) : window_str(cfg_)) +
         ", depth_multiplier=" + std::to_string(cfg_.depth_multiplier) +
         ", activation=" + activation_str(cfg_.activation);
}

Shape SeparableConv2D::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == size_t(cfg_.spatial) + 1,
            class_name() << " expects inputs of shape "
                         << (cfg_.spatial == 1 ? "(steps, channels)" : "(height, width, channels)") << ", got "
                         << shape_str(in));
  int64_t oh, ow;
  window_out(image(in), cfg_, &oh, &ow, &pad_top_, &pad_left_);
  checked_mul(in.back(), cfg_.depth_multiplier, (class_name() + " depthwise channels").c_str());
  return cfg_.spatial == 1 ? Shape{ow, cfg_.filters} : Shape{oh, ow, cfg_.filters};
}

std::vector<ParamSpec> SeparableConv2D::params() const {
  const int64_t in = in_.back(), dm = cfg_.depth_multiplier, mid = in * dm;
  const bool one = cfg_.spatial == 1;
  std::vector<ParamSpec> p{
      {"depthwise_kernel", one ? Shape{cfg_.kw, in, dm} : Shape{cfg_.kh, cfg_.kw, in, dm}, Init::glorot_uniform},
      {"pointwise_kernel", one ? Shape{1, mid, cfg_.filters} : Shape{1, 1, mid, cfg_.filters}, Init::glorot_uniform}};
  if (cfg_.use_bias) p.push_back({"bias", {cfg_.filters}, Init::zeros});
  return p;
}

kernels::Conv2dGeom SeparableConv2D::geom(int64_t n) const {
  return window_geom(n, image(in_), image(out_), cfg_, pad_top_, pad_left_, in_.back() * cfg_.depth_multiplier);
}

void SeparableConv2D::prepare(int64_t max_batch, Context& ctx) {
  const int64_t mid = in_.back() * cfg_.depth_multiplier;
  if (ctx.cuda)
    kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(std::max(mid, cfg_.filters)));
  t_ = Buffer();
  t_ = Buffer(ctx.device, size_t(max_batch * pixels() * mid) * sizeof(float));
  prepare_pre_activation(cfg_.activation, max_batch, ctx);
}

int64_t SeparableConv2D::workspace_elems(int64_t batch) const {
  return batch * pixels() * in_.back() * cfg_.depth_multiplier;
}

float* SeparableConv2D::depthwise_out(int64_t n) const {
  DPT_CHECK(size_t(n * pixels() * in_.back() * cfg_.depth_multiplier) * sizeof(float) <= t_.bytes(),
            "layer '" << name_ << "': " << n << " rows exceed the prepared batch (or it was not prepared)");
  return static_cast<float*>(t_.data());
}

float* SeparableConv2D::depthwise_grad(int64_t n) const {
  DPT_CHECK(work_ && work_elems_ >= workspace_elems(n), class_name() << " '" << name_ << "': workspace not prepared");
  return work_;
}

void SeparableConv2D::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  const int64_t rows = rows_of(y);
  float* t = depthwise_out(x.dim(0));
  kernels::depthwise_forward_cpu<float>(g, x.data(), w_[0], nullptr, t);
  float* z = pre_activation(cfg_.activation, y);  // y itself, unless the activation's gradient needs z
  if (cfg_.use_bias) kernels::bias_fill_cpu(z, w_[2], rows, cfg_.filters);
  kernels::gemm_cpu<float>(false, false, rows, cfg_.filters, g.oc, 1.f, t, w_[1], cfg_.use_bias ? 1.f : 0.f, z);
  kernels::activation_forward_cpu(cfg_.activation, z, y.data(), rows, cfg_.filters);
}

void SeparableConv2D::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  const int64_t rows = rows_of(y);
  if (!fused_grad_)
    kernels::activation_backward_cpu(cfg_.activation, pre_activation(cfg_.activation, y), y.data(), dy.data(),
                                     dy.data(), rows, cfg_.filters);
  const float* t = depthwise_out(x.dim(0));
  float* dt = depthwise_grad(x.dim(0));
  kernels::gemm_cpu<float>(true, false, g.oc, cfg_.filters, rows, 1.f, t, dy.data(), 1.f, g_[1]);
  if (cfg_.use_bias) kernels::bias_grad_cpu(dy.data(), g_[2], rows, cfg_.filters);
  kernels::gemm_cpu<float>(false, true, rows, g.oc, cfg_.filters, 1.f, dy.data(), w_[1], 0.f, dt);
  kernels::depthwise_backward_cpu<float>(g, x.data(), w_[0], dt, dx ? dx->data() : nullptr, g_[0], nullptr);
}

void SeparableConv2D::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  const int64_t rows = rows_of(y);
  float* t = depthwise_out(x.dim(0));
  kernels::depthwise_forward_cuda(g, x.data(), w_[0], nullptr, t, stream(ctx));
  float* z = pre_activation(cfg_.activation, y);
  kernels::gemm_cuda(*ctx.cuda, false, false, rows, cfg_.filters, g.oc, 1.f, t, w_[1], 0.f, z);
  const float* bias = cfg_.use_bias ? w_[2] : nullptr;
  if (!cfg_.activation.needs_input()) {
    kernels::bias_activation_cuda(cfg_.activation, z, bias, rows, cfg_.filters, *ctx.cuda);  // one pass
    return;
  }
  kernels::bias_activation_cuda(Activation::linear, z, bias, rows, cfg_.filters, *ctx.cuda);
  kernels::activation_forward_cuda(cfg_.activation, z, y.data(), rows, cfg_.filters, stream(ctx));
}

void SeparableConv2D::backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  const int64_t rows = rows_of(y);
  Activation epilogue = fused_grad_ ? Activation::linear : cfg_.activation;
  if (epilogue.needs_input()) {
    kernels::activation_backward_cuda(epilogue, pre_activation(epilogue, y), nullptr, dy.data(), dy.data(), rows,
                                      cfg_.filters, stream(ctx));
    epilogue = Activation::linear;
  }
  kernels::activation_bias_grad_cuda(epilogue, y.data(), dy.data(), cfg_.use_bias ? g_[2] : nullptr, rows, cfg_.filters,
                                     *ctx.cuda);
  const float* t = depthwise_out(x.dim(0));
  float* dt = depthwise_grad(x.dim(0));
  kernels::gemm_cuda(*ctx.cuda, true, false, g.oc, cfg_.filters, rows, 1.f, t, dy.data(), 1.f, g_[1]);
  kernels::gemm_cuda(*ctx.cuda, false, true, rows, g.oc, cfg_.filters, 1.f, dy.data(), w_[1], 0.f, dt);
  kernels::depthwise_backward_cuda(g, x.data(), w_[0], dt, dx ? dx->data() : nullptr, g_[0], nullptr, *ctx.cuda);
}

}  // namespace dpt
