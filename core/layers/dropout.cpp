// Dropout on the CPU through the counter-based mask of kernels/dropout.
#include "core/layers/dropout.h"
#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include "core/error.h"
#include "kernels/dropout.h"

namespace dpt {

Dropout::Dropout(double rate, Shape noise_shape) : rate_(rate), noise_(noise_shape) {
  DPT_CHECK(rate >= 0 && rate < 1, "Dropout rate must be in [0, 1), got " << rate);
  for (int64_t d : noise_) DPT_CHECK(d >= 0, "Dropout noise_shape entries must be None or >= 1, got " << d);
}

std::string Dropout::config_str() const {
  std::string s = "rate=" + std::to_string(rate_);
  if (!noise_.empty()) {
    s += ", noise_shape=(None";
    for (int64_t d : noise_) s += ", " + (d == 0 ? std::string("None") : std::to_string(d));
    s += ")";
  }
  return s;
}

Shape Dropout::compute_output_shape(const Shape& in) {
  shared_ = false;
  if (noise_.empty()) return in;
  DPT_CHECK(noise_.size() == in.size(), "Dropout '" << name_ << "': noise_shape has " << noise_.size() + 1
                                                    << " entries (the batch's included) but its input " << shape_str(in)
                                                    << " has " << in.size() + 1 << " axes");
  int64_t large[kernels::BroadcastMap::kMaxRank], small[kernels::BroadcastMap::kMaxRank];
  for (size_t a = 0; a < in.size(); ++a) {
    DPT_CHECK(noise_[a] == 0 || noise_[a] == 1 || noise_[a] == in[a],
              "Dropout '" << name_ << "': noise_shape entry " << a + 1 << " is " << noise_[a] << " but the input "
                          << shape_str(in) << " has " << in[a] << " there (it must be None, 1 or " << in[a] << ")");
    large[a] = in[a];
    small[a] = noise_[a] == 0 ? in[a] : noise_[a];
  }
  map_ = kernels::broadcast_map(large, small, int(in.size()));
  shared_ = !map_.identity();
  return in;
}

kernels::DropoutKey draw_key(const Context& ctx, const std::string& layer) {
  // The layer's name salts the seed, so two Dropout layers draw different masks.
  return {ctx.key.seed ^ kernels::mix64(std::hash<std::string>{}(layer)), ctx.key.epoch, ctx.key.step,
          ctx.key.row_offset};
}

void Dropout::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training && rate_ > 0;
  if (!last_training_) {
    std::copy(x.data(), x.data() + x.numel(), y.data());
    return;
  }
  const int64_t cols = shape_numel(in_);
  if (alpha_)
    kernels::alpha_dropout_cpu(x.data(), y.data(), x.dim(0), cols, float(rate_), draw_key(ctx, name_), noise_map(),
                               false);
  else
    kernels::dropout_cpu(x.data(), y.data(), x.dim(0), cols, float(rate_), draw_key(ctx, name_), noise_map());
}

void Dropout::backward_cpu(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!last_training_) {
    std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
    return;
  }
  if (alpha_)
    kernels::alpha_dropout_cpu(dy.data(), dx->data(), dy.dim(0), shape_numel(in_), float(rate_), draw_key(ctx, name_),
                               noise_map(), true);
  else
    kernels::dropout_cpu(dy.data(), dx->data(), dy.dim(0), shape_numel(in_), float(rate_), draw_key(ctx, name_),
                         noise_map());
}

void Dropout::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training && rate_ > 0;
  if (!last_training_) {
    copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
    return;
  }
  if (alpha_)
    kernels::alpha_dropout_cuda(x.data(), y.data(), x.dim(0), shape_numel(in_), float(rate_), draw_key(ctx, name_),
                                noise_map(), false, stream(ctx));
  else
    kernels::dropout_cuda(x.data(), y.data(), x.dim(0), shape_numel(in_), float(rate_), draw_key(ctx, name_),
                          noise_map(), stream(ctx));
}

void Dropout::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!last_training_) {
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
    return;
  }
  if (alpha_)
    kernels::alpha_dropout_cuda(dy.data(), dx->data(), dy.dim(0), shape_numel(in_), float(rate_), draw_key(ctx, name_),
                                noise_map(), true, stream(ctx));
  else
    kernels::dropout_cuda(dy.data(), dx->data(), dy.dim(0), shape_numel(in_), float(rate_), draw_key(ctx, name_),
                          noise_map(), stream(ctx));
}

RandomFlip::RandomFlip(const std::string& mode) {
  DPT_CHECK(mode == "horizontal" || mode == "vertical" || mode == "horizontal_and_vertical",
            "RandomFlip mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got '" << mode << "'");
  horizontal_ = mode != "vertical";
  vertical_ = mode != "horizontal";
}

std::string RandomFlip::mode() const {
  return horizontal_ && vertical_ ? "horizontal_and_vertical" : horizontal_ ? "horizontal" : "vertical";
}

Shape RandomFlip::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 3, "layer '" << name()
                                      << "' (RandomFlip) expects images of shape (height, width, "
                                         "channels), got "
                                      << shape_str(in));
  return in;
}

void RandomFlip::move(Context& ctx, bool cuda, const float* from, float* to, int64_t n) const {
  kernels::Flip2d g;
  g.n = n;
  g.h = in_[0];
  g.w = in_[1];
  g.c = in_[2];
  g.horizontal = horizontal_;
  g.vertical = vertical_;
  if (cuda)
    kernels::random_flip_cuda(g, draw_key(ctx, name_), from, to, stream(ctx));
  else
    kernels::random_flip_cpu(g, draw_key(ctx, name_), from, to);
}

void RandomFlip::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (training)
    move(ctx, false, x.data(), y.data(), x.dim(0));
  else
    std::copy(x.data(), x.data() + x.numel(), y.data());
}

void RandomFlip::backward_cpu(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (last_training_)
    move(ctx, false, dy.data(), dx->data(), dy.dim(0));
  else
    std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
}

void RandomFlip::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (training)
    move(ctx, true, x.data(), y.data(), x.dim(0));
  else
    copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
}

void RandomFlip::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (last_training_)
    move(ctx, true, dy.data(), dx->data(), dy.dim(0));
  else
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
}

GaussianNoise::GaussianNoise(double value, bool multiplies) : value_(value), multiplies_(multiplies) {
  if (multiplies)
    DPT_CHECK(value >= 0 && value < 1, "GaussianDropout rate must be in [0, 1), got " << value);
  else
    DPT_CHECK(value >= 0 && std::isfinite(value), "GaussianNoise stddev must be a number >= 0, got " << value);
}

std::string GaussianNoise::config_str() const {
  std::ostringstream s;
  s << (multiplies_ ? "rate=" : "stddev=") << value_;
  return s.str();
}

float GaussianNoise::stddev() const { return float(multiplies_ ? std::sqrt(value_ / (1.0 - value_)) : value_); }

void GaussianNoise::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training && value_ > 0;
  if (!last_training_) {
    std::copy(x.data(), x.data() + x.numel(), y.data());
    return;
  }
  kernels::gaussian_noise_cpu(x.data(), y.data(), x.dim(0), shape_numel(in_), stddev(), multiplies_,
                              draw_key(ctx, name_));
}

void GaussianNoise::backward_cpu(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!last_training_ || !multiplies_) {  // x + noise: the gradient passes unchanged
    std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
    return;
  }
  kernels::gaussian_noise_cpu(dy.data(), dx->data(), dy.dim(0), shape_numel(in_), stddev(), true, draw_key(ctx, name_));
}

void GaussianNoise::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training && value_ > 0;
  if (!last_training_) {
    copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
    return;
  }
  kernels::gaussian_noise_cuda(x.data(), y.data(), x.dim(0), shape_numel(in_), stddev(), multiplies_,
                               draw_key(ctx, name_), stream(ctx));
}

void GaussianNoise::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!last_training_ || !multiplies_) {
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
    return;
  }
  kernels::gaussian_noise_cuda(dy.data(), dx->data(), dy.dim(0), shape_numel(in_), stddev(), true, draw_key(ctx, name_),
                               stream(ctx));
}

}  // namespace dpt
