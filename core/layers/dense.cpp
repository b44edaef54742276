// Dense on the CPU: one GEMM forward, two backward, bias and activation through kernels/.
#include "core/layers/dense.h"
#include "core/error.h"
#include "kernels/activation.h"
#include "kernels/cuda_backend.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"

namespace dpt {

Dense::Dense(int64_t units, Activation act, bool use_bias) : units_(units), act_(act), use_bias_(use_bias) {
  DPT_CHECK(units >= 1, "Dense units must be >= 1, got " << units);
  DPT_CHECK(act.has_default_alpha(), "Dense's activation "
                                         << activation_str(act)
                                         << " has a setting of its own: Keras puts that in a layer after it");
}

std::unique_ptr<Layer> Dense::make_clone() const { return std::make_unique<Dense>(units_, act_, use_bias_); }

std::string Dense::config_str() const {
  return "units=" + std::to_string(units_) + ", activation=" + activation_str(act_);
}

Shape Dense::compute_output_shape(const Shape& in) {
  DPT_CHECK(!in.empty(), "Dense needs an input with at least one axis");
  Shape out = in;
  out.back() = units_;
  return out;
}

std::vector<ParamSpec> Dense::params() const {
  std::vector<ParamSpec> p{{"kernel", {in_.back(), units_}, Init::glorot_uniform}};
  if (use_bias_) p.push_back({"bias", {units_}, Init::zeros});
  return p;
}

void Dense::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  const int64_t rows = rows_of(x), in = in_.back();
  float* z = pre_activation(act_, y);  // y itself, unless the activation's gradient needs z
  if (use_bias_) kernels::bias_fill_cpu(z, w_[1], rows, units_);
  kernels::gemm_cpu<float>(false, false, rows, units_, in, 1.f, x.data(), w_[0], use_bias_ ? 1.f : 0.f, z);
  kernels::activation_forward_cpu(act_, z, y.data(), rows, units_);
}

void Dense::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const int64_t rows = rows_of(x), in = in_.back();
  if (!fused_grad_)
    kernels::activation_backward_cpu(act_, pre_activation(act_, y), y.data(), dy.data(), dy.data(), rows, units_);
  kernels::gemm_cpu<float>(true, false, in, units_, rows, 1.f, x.data(), dy.data(), 1.f, g_[0]);
  if (use_bias_) kernels::bias_grad_cpu(dy.data(), g_[1], rows, units_);
  if (dx) kernels::gemm_cpu<float>(false, true, rows, in, units_, 1.f, dy.data(), w_[0], 0.f, dx->data());
}

void Dense::prepare(int64_t max_batch, Context& ctx) {
  if (ctx.cuda && use_bias_) kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(units_));
  prepare_pre_activation(act_, max_batch, ctx);
}

// The same three GEMMs through cuBLAS (gemm_cuda maps row-major onto column-major).
void Dense::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  const int64_t rows = rows_of(x), in = in_.back();
  float* z = pre_activation(act_, y);
  kernels::gemm_cuda(*ctx.cuda, false, false, rows, units_, in, 1.f, x.data(), w_[0], 0.f, z);
  const float* bias = use_bias_ ? w_[1] : nullptr;
  if (!act_.needs_input()) {
    kernels::bias_activation_cuda(act_, z, bias, rows, units_, *ctx.cuda);  // one pass
    return;
  }
  kernels::bias_activation_cuda(Activation::linear, z, bias, rows, units_, *ctx.cuda);  // z is kept for backward
  kernels::activation_forward_cuda(act_, z, y.data(), rows, units_, stream(ctx));
}

void Dense::backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const int64_t rows = rows_of(x), in = in_.back();
  // The activation's gradient (unless the loss gave it) and the bias gradient in one pass; from the
  // kept z first where the activation's gradient needs it.
  Activation epilogue = fused_grad_ ? Activation::linear : act_;
  if (epilogue.needs_input()) {
    kernels::activation_backward_cuda(act_, pre_activation(act_, y), nullptr, dy.data(), dy.data(), rows, units_,
                                      stream(ctx));
    epilogue = Activation::linear;
  }
  kernels::activation_bias_grad_cuda(epilogue, y.data(), dy.data(), use_bias_ ? g_[1] : nullptr, rows, units_,
                                     *ctx.cuda);
  kernels::gemm_cuda(*ctx.cuda, true, false, in, units_, rows, 1.f, x.data(), dy.data(), 1.f, g_[0]);
  if (dx) kernels::gemm_cuda(*ctx.cuda, false, true, rows, in, units_, 1.f, dy.data(), w_[0], 0.f, dx->data());
}

}  // namespace dpt
