// Conv2D: on the CPU NHWC im2col + GEMM, on CUDA cuDNN (kernels/conv2d); then the fused activation
// (its own pass from the kept pre-activation where its gradient needs its input).
#include "core/layers/conv2d.h"
#include <algorithm>
#include "core/error.h"
#include "kernels/activation.h"
#include "kernels/gemm.h"

namespace dpt {

namespace {
constexpr int64_t kMaxConvWorkspace = int64_t(2) << 20;  // elements (8 MiB) of im2col scratch
}

Conv2D::Conv2D(Conv2DConfig cfg, const char* cls) : cfg_(cfg) {
  DPT_CHECK(cfg.filters >= 1, cls << " filters must be >= 1, got " << cfg.filters);
  check_window(cls, cfg);
}

std::string Conv2D::config_str() const {
  return "filters=" + std::to_string(cfg_.filters) + ", " + window_str(cfg_) +
         ", activation=" + activation_str(cfg_.activation);
}

Shape Conv2D::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 3, "Conv2D expects inputs of shape (height, width, channels), got " << shape_str(in));
  int64_t oh, ow;
  window_out(in, cfg_, &oh, &ow, &pad_top_, &pad_left_);
  return {oh, ow, cfg_.filters};
}

std::vector<ParamSpec> Conv2D::params() const {
  std::vector<ParamSpec> p{{"kernel", {cfg_.kh, cfg_.kw, in_[2], cfg_.filters}, Init::glorot_uniform}};
  if (cfg_.use_bias) p.push_back({"bias", {cfg_.filters}, Init::zeros});
  return p;
}

kernels::Conv2dGeom Conv2D::geom(int64_t n) const {
  return window_geom(n, image(in_), image(out_), cfg_, pad_top_, pad_left_, cfg_.filters);
}

void Conv2D::prepare(int64_t max_batch, Context& ctx) {
  on_cuda_ = ctx.device.is_cuda();
  if (on_cuda_) plan_.reset(kernels::conv2d_plan_create(*ctx.cuda, geom(max_batch), plan_needs_data()));
  prepare_pre_activation(cfg_.activation, max_batch, ctx);
}

int64_t Conv2D::workspace_elems(int64_t batch) const {
  if (on_cuda_) return 0;  // cuDNN's workspace lives in the replica's CUDA scratch
  // Room for the whole batch's patch matrices (up to a cap), and at least one sample per thread.
  const kernels::Conv2dGeom g = geom(batch);
  const int64_t min = kernels::conv2d_min_workspace(g);
  const int64_t threads = std::max(1, kernels::cpu_thread_count());
  return std::max(min * threads, std::min(batch * min, kMaxConvWorkspace));
}

void Conv2D::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  DPT_CHECK(work_elems_ >= kernels::conv2d_min_workspace(g), "Conv2D '" << name_ << "': workspace not prepared");
  float* z = pre_activation(cfg_.activation, y);  // y itself, unless the activation's gradient needs z
  kernels::conv2d_forward_cpu<float>(g, x.data(), w_[0], cfg_.use_bias ? w_[1] : nullptr, z, work_, work_elems_);
  kernels::activation_forward_cpu(cfg_.activation, z, y.data(), rows_of(y), cfg_.filters);
}

void Conv2D::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  if (!fused_grad_)
    kernels::activation_backward_cpu(cfg_.activation, pre_activation(cfg_.activation, y), y.data(), dy.data(),
                                     dy.data(), rows_of(y), cfg_.filters);
  kernels::conv2d_backward_cpu<float>(g, x.data(), w_[0], dy.data(), dx ? dx->data() : nullptr, g_[0],
                                      cfg_.use_bias ? g_[1] : nullptr, work_, work_elems_);
}

// The activation is the convolution's fused epilogue, unless its gradient needs its input: then the
// convolution's linear output z is kept and the activation is its own pass.
void Conv2D::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  DPT_CHECK(plan_, "Conv2D '" << name_ << "': not prepared on " << ctx.device.str());
  const Activation act = cfg_.activation;
  float* z = pre_activation(act, y);
  kernels::conv2d_forward_cuda(*ctx.cuda, *plan_, geom(x.dim(0)), x.data(), w_[0], cfg_.use_bias ? w_[1] : nullptr,
                               act.needs_input() ? Activation::linear : act, z);
  if (act.needs_input()) kernels::activation_forward_cuda(act, z, y.data(), rows_of(y), cfg_.filters, stream(ctx));
}

void Conv2D::backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  Activation epilogue = fused_grad_ ? Activation::linear : cfg_.activation;
  if (epilogue.needs_input()) {
    kernels::activation_backward_cuda(epilogue, pre_activation(epilogue, y), nullptr, dy.data(), dy.data(), rows_of(y),
                                      cfg_.filters, stream(ctx));
    epilogue = Activation::linear;
  }
  kernels::conv2d_backward_cuda(*ctx.cuda, *plan_, geom(x.dim(0)), x.data(), w_[0], y.data(), epilogue, dy.data(),
                                dx ? dx->data() : nullptr, g_[0], cfg_.use_bias ? g_[1] : nullptr);
}

}  // namespace dpt
