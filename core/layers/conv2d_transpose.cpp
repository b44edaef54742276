// Conv2DTranspose through the convolution it transposes (kernels/conv2d): its backward-data
// forward, its forward and backward-filter backward; bias and activation as Conv2D's.
#include "core/layers/conv2d_transpose.h"
#include "core/error.h"
#include "core/layers/conv1d.h"
#include "kernels/activation.h"
#include "kernels/elementwise.h"

namespace dpt {

Conv2DTranspose::Conv2DTranspose(Conv2DConfig cfg) : Conv2D(cfg, "Conv2DTranspose") {}

// Keras's output size (output_padding None): in * stride, plus max(span - stride, 0) with valid
// padding; the transposed convolution maps that size back to `in` with TensorFlow's padding.
Shape Conv2DTranspose::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 3, "Conv2DTranspose expects inputs of shape (height, width, channels), got " << shape_str(in));
  Shape out{0, 0, cfg_.filters};
  const int64_t size[2] = {in[0], in[1]}, k[2] = {cfg_.kh, cfg_.kw}, s[2] = {cfg_.sh, cfg_.sw},
                d[2] = {cfg_.dh, cfg_.dw};
  int64_t* pad[2] = {&pad_top_, &pad_left_};
  for (int i = 0; i < 2; ++i) {
    const int64_t span = (k[i] - 1) * d[i] + 1;
    out[size_t(i)] =
        checked_mul(size[i], s[i], "Conv2DTranspose output size") + (cfg_.same ? 0 : std::max<int64_t>(span - s[i], 0));
    int64_t back = 0;
    kernels::conv_out_size(out[size_t(i)], span, s[i], cfg_.same, &back, pad[i]);
    DPT_CHECK(back == size[i], "Conv2DTranspose '" << name_ << "': output size " << out[size_t(i)]
                                                   << " does not convolve back to " << size[i]);
  }
  return out;
}

std::vector<ParamSpec> Conv2DTranspose::params() const {
  std::vector<ParamSpec> p{{"kernel", {cfg_.kh, cfg_.kw, cfg_.filters, in_[2]}, Init::glorot_uniform}};
  if (cfg_.use_bias) p.push_back({"bias", {cfg_.filters}, Init::zeros});
  return p;
}

// The transposed convolution: from this layer's output shape (filters channels) to its input's.
kernels::Conv2dGeom Conv2DTranspose::geom(int64_t n) const {
  return window_geom(n, image(out_), image(in_), cfg_, pad_top_, pad_left_, in_.back());
}

Conv1DTranspose::Conv1DTranspose(Conv2DConfig cfg) : Conv2DTranspose(Conv1D::one_row(cfg)) {}

std::string Conv1DTranspose::config_str() const {
  std::string s = "filters=" + std::to_string(cfg_.filters) + ", kernel_size=" + std::to_string(cfg_.kw) +
                  ", strides=" + std::to_string(cfg_.sw) + ", padding=" + (cfg_.same ? "same" : "valid");
  if (cfg_.dw != 1) s += ", dilation_rate=" + std::to_string(cfg_.dw);
  return s + ", activation=" + activation_str(cfg_.activation);
}

// As Conv2DTranspose's along the steps.
Shape Conv1DTranspose::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 2, "Conv1DTranspose expects inputs of shape (steps, channels), got " << shape_str(in));
  const int64_t span = (cfg_.kw - 1) * cfg_.dw + 1;
  const int64_t out = checked_mul(in[0], cfg_.sw, "Conv1DTranspose output size") +
                      (cfg_.same ? 0 : std::max<int64_t>(span - cfg_.sw, 0));
  int64_t back = 0;
  pad_top_ = 0;
  kernels::conv_out_size(out, span, cfg_.sw, cfg_.same, &back, &pad_left_);
  DPT_CHECK(back == in[0],
            "Conv1DTranspose '" << name_ << "': output size " << out << " does not convolve back to " << in[0]);
  return {out, cfg_.filters};
}

std::vector<ParamSpec> Conv1DTranspose::params() const {
  std::vector<ParamSpec> p{{"kernel", {cfg_.kw, cfg_.filters, in_[1]}, Init::glorot_uniform}};
  if (cfg_.use_bias) p.push_back({"bias", {cfg_.filters}, Init::zeros});
  return p;
}

void Conv2DTranspose::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  DPT_CHECK(work_elems_ >= kernels::conv2d_min_workspace(g),
            "Conv2DTranspose '" << name_ << "': workspace not prepared");
  float* z = pre_activation(cfg_.activation, y);
  kernels::conv2d_backward_cpu<float>(g, nullptr, w_[0], x.data(), z, nullptr, nullptr, work_, work_elems_);
  if (cfg_.use_bias) kernels::bias_add_cpu(z, w_[1], rows_of(y), cfg_.filters);
  kernels::activation_forward_cpu(cfg_.activation, z, y.data(), rows_of(y), cfg_.filters);
}

void Conv2DTranspose::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  if (!fused_grad_)
    kernels::activation_backward_cpu(cfg_.activation, pre_activation(cfg_.activation, y), y.data(), dy.data(),
                                     dy.data(), rows_of(y), cfg_.filters);
  if (cfg_.use_bias) kernels::bias_grad_cpu(dy.data(), g_[1], rows_of(y), cfg_.filters);
  kernels::conv2d_backward_cpu<float>(g, dy.data(), w_[0], x.data(), nullptr, g_[0], nullptr, work_, work_elems_);
  if (dx) kernels::conv2d_forward_cpu<float>(g, dy.data(), w_[0], nullptr, dx->data(), work_, work_elems_);
}

void Conv2DTranspose::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  DPT_CHECK(plan_, "Conv2DTranspose '" << name_ << "': not prepared on " << ctx.device.str());
  const Activation act = cfg_.activation;
  float* z = pre_activation(act, y);
  kernels::conv2d_backward_data_cuda(*ctx.cuda, *plan_, geom(x.dim(0)), w_[0], x.data(), z);
  kernels::bias_activation_cuda(act.needs_input() ? Activation::linear : act, z, cfg_.use_bias ? w_[1] : nullptr,
                                rows_of(y), cfg_.filters, *ctx.cuda);
  if (act.needs_input()) kernels::activation_forward_cuda(act, z, y.data(), rows_of(y), cfg_.filters, stream(ctx));
}

void Conv2DTranspose::backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const kernels::Conv2dGeom g = geom(x.dim(0));
  Activation epilogue = fused_grad_ ? Activation::linear : cfg_.activation;
  if (epilogue.needs_input()) {
    kernels::activation_backward_cuda(epilogue, pre_activation(epilogue, y), nullptr, dy.data(), dy.data(), rows_of(y),
                                      cfg_.filters, stream(ctx));
    epilogue = Activation::linear;
  }
  kernels::activation_bias_grad_cuda(epilogue, y.data(), dy.data(), cfg_.use_bias ? g_[1] : nullptr, rows_of(y),
                                     cfg_.filters, *ctx.cuda);
  kernels::conv2d_backward_filter_cuda(*ctx.cuda, *plan_, g, dy.data(), x.data(), g_[0]);
  if (dx) kernels::conv2d_forward_cuda(*ctx.cuda, *plan_, g, dy.data(), w_[0], nullptr, Activation::linear, dx->data());
}

}  // namespace dpt
