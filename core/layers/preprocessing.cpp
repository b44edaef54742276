// Rescaling and Normalization through kernels/affine, on the CPU and CUDA.
#include "core/layers/preprocessing.h"
#include <sstream>
#include "core/error.h"
#include "core/strings.h"
#include "kernels/affine.h"

namespace dpt {

static std::vector<float> floats(const std::vector<double>& v) { return {v.begin(), v.end()}; }

void ChannelAffine::set_constants(std::vector<float> a, std::vector<float> b) {
  a_ = std::move(a);
  b_ = std::move(b);
}

Shape ChannelAffine::compute_output_shape(const Shape& in) {
  DPT_CHECK(!in.empty(), class_name() << " '" << name_ << "' needs an input with at least one axis");
  for (const auto* v : {&a_, &b_})
    DPT_CHECK(v->size() <= 1 || int64_t(v->size()) == in.back(),
              class_name() << " '" << name_ << "' has " << v->size() << " values per channel but its input "
                           << shape_str(in) << " has " << in.back() << " channels on its last axis");
  return in;
}

void ChannelAffine::prepare(int64_t, Context& ctx) {
  device_ = Buffer();
  device_a_ = a_.data();
  device_b_ = b_.data();
  if (ctx.device.is_cpu() || a_.empty()) return;
  device_ = Buffer(ctx.device, (a_.size() + b_.size()) * sizeof(float));
  float* d = static_cast<float*>(device_.data());
  copy_floats(d, ctx.device, a_.data(), Device::cpu(), int64_t(a_.size()), ctx.cuda);
  copy_floats(d + a_.size(), ctx.device, b_.data(), Device::cpu(), int64_t(b_.size()), ctx.cuda);
  device_a_ = d;
  device_b_ = d + a_.size();
}

ChannelAffine::Operands ChannelAffine::operands() const {
  DPT_CHECK(device_a_, class_name() << " '" << name_ << "' was not prepared");
  return {device_a_, device_b_, a_.size() > 1 ? 1 : 0, b_.size() > 1 ? 1 : 0};
}

void ChannelAffine::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  const Operands o = operands();
  kernels::affine_forward_cpu(form_, x.data(), y.data(), rows_of(x), in_.back(), o.a, o.a_step, o.b, o.b_step);
}

void ChannelAffine::backward_cpu(Context&, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const Operands o = operands();
  kernels::affine_backward_cpu(form_, dy.data(), dx->data(), rows_of(dy), in_.back(), o.a, o.a_step);
}

void ChannelAffine::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  const Operands o = operands();
  kernels::affine_forward_cuda(form_, x.data(), y.data(), rows_of(x), in_.back(), o.a, o.a_step, o.b, o.b_step,
                               stream(ctx));
}

void ChannelAffine::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  const Operands o = operands();
  kernels::affine_backward_cuda(form_, dy.data(), dx->data(), rows_of(dy), in_.back(), o.a, o.a_step, stream(ctx));
}

Rescaling::Rescaling(std::vector<double> scale, std::vector<double> offset)
    : ChannelAffine(kernels::AffineForm::scale_offset), scale_(std::move(scale)), offset_(std::move(offset)) {
  DPT_CHECK(!scale_.empty() && !offset_.empty(), "Rescaling needs a scale and an offset (one value, or one a channel)");
  set_constants(floats(scale_), floats(offset_));
}

std::string Rescaling::config_str() const {
  return "scale=" + one_or_list_str(scale_) + ", offset=" + one_or_list_str(offset_);
}

Normalization::Normalization(int64_t axis, std::vector<double> mean, std::vector<double> variance, bool invert)
    : ChannelAffine(invert ? kernels::AffineForm::denormalize : kernels::AffineForm::normalize),
      axis_(axis),
      mean_(std::move(mean)),
      variance_(std::move(variance)),
      invert_(invert) {
  DPT_CHECK(mean_.empty() == variance_.empty(),
            "Normalization takes a mean and a variance together (or neither: then they are weights)");
  DPT_CHECK(axis_ != kNoAxis || mean_.size() <= 1,
            "Normalization over all axes (axis=None) takes one mean and one variance, got " << mean_.size());
  for (double v : variance_) DPT_CHECK(v >= 0, "Normalization variance must be >= 0, got " << v);
  if (!mean_.empty()) set_constants(floats(variance_), floats(mean_));
}

Shape Normalization::compute_output_shape(const Shape& in) {
  DPT_CHECK(axis_ == kNoAxis || axis_ == -1 || axis_ == int64_t(in.size()),
            "Normalization '" << name_ << "': axis=" << axis_ << " is not supported (the last axis, -1 or " << in.size()
                              << " for input " << shape_str(in) << ", or None)");
  return ChannelAffine::compute_output_shape(in);
}

std::vector<ParamSpec> Normalization::params() const {
  if (has_constants()) return {};
  const Shape s = axis_ != kNoAxis ? Shape{in_.empty() ? 0 : in_.back()} : Shape{};
  // Keras's adapt() sets these; training never changes them. count is Keras's int32 scalar.
  ParamSpec mean{"mean", s, Init::zeros, false}, variance{"variance", s, Init::ones, false},
      count{"count", Shape{}, Init::zeros, false};
  mean.constant = variance.constant = count.constant = true;
  count.integer = true;
  return {mean, variance, count};
}

ChannelAffine::Operands Normalization::operands() const {
  if (has_constants()) return ChannelAffine::operands();
  DPT_CHECK(w_.size() == 3, "Normalization '" << name_ << "' has no weights bound (build the model first)");
  const int64_t step = axis_ != kNoAxis ? 1 : 0;
  return {w_[1], w_[0], step, step};  // a = variance, b = mean
}

std::string Normalization::config_str() const {
  std::string s = axis_ == kNoAxis ? "axis=None" : "axis=" + std::to_string(axis_);
  if (!mean_.empty()) s += ", mean=" + one_or_list_str(mean_) + ", variance=" + one_or_list_str(variance_);
  if (invert_) s += ", invert=True";
  return s;
}

CategoryEncoding::CategoryEncoding(int64_t num_tokens, Mode mode) : tokens_(num_tokens), mode_(mode) {
  DPT_CHECK(num_tokens >= 1, "CategoryEncoding num_tokens must be a positive integer, got " << num_tokens);
}

const char* CategoryEncoding::mode_name(Mode m) {
  return m == one_hot ? "one_hot" : m == multi_hot ? "multi_hot" : "count";
}

std::string CategoryEncoding::config_str() const {
  return "num_tokens=" + std::to_string(tokens_) + ", output_mode=" + mode_name(mode_);
}

Shape CategoryEncoding::compute_output_shape(const Shape& in) {
  DPT_CHECK(!in.empty(), "CategoryEncoding expects samples of at least one axis of indices, got " << shape_str(in));
  Shape out = in;
  if (mode_ == one_hot && in.back() != 1)
    out.push_back(tokens_);  // each index its row
  else
    out.back() = tokens_;  // a row of the last axis (one_hot on a last axis of 1: Keras squeezes it)
  return out;
}

kernels::CategoryEncode CategoryEncoding::encode(const Tensor& x) const {
  kernels::CategoryEncode e;
  e.group = mode_ == one_hot ? 1 : in_.back();
  e.rows = x.numel() / e.group;
  e.classes = tokens_;
  e.count = mode_ == count;
  return e;
}

void CategoryEncoding::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  kernels::category_encode_cpu(encode(x), x.data(), y.data());
}

void CategoryEncoding::backward_cpu(Context&, const Tensor&, const Tensor&, Tensor&, Tensor* dx) {
  if (dx) zero_floats(dx->data(), dx->device(), dx->numel());
}

void CategoryEncoding::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  kernels::category_encode_cuda(encode(x), x.data(), y.data(), stream(ctx));
}

void CategoryEncoding::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor&, Tensor* dx) {
  if (dx) zero_floats(dx->data(), dx->device(), dx->numel(), ctx.cuda);
}

}  // namespace dpt
