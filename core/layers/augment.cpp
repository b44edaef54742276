// Keras 3's image augmentation layers through kernels/augment.h.
#include "core/layers/augment.h"
#include <algorithm>
#include <cmath>
#include <sstream>
#include "core/error.h"
#include "core/layers/dropout.h"

namespace dpt {

AugmentFactor augment_factor(std::vector<double> given, double floor, double ceiling, const std::string& what) {
  AugmentFactor f;
  f.given = given;
  if (given.empty()) return f;
  DPT_CHECK(given.size() <= 2, what << " must be a number or a pair (lower, upper), got " << given.size() << " values");
  for (double v : given)
    DPT_CHECK(std::isfinite(v) && v >= floor && v <= ceiling,
              what << " must be in [" << floor << ", " << ceiling << "], got " << v);
  if (given.size() == 2) {
    f.lower = std::min(given[0], given[1]);
    f.upper = std::max(given[0], given[1]);
  } else {
    f.upper = std::fabs(given[0]);
    f.lower = std::max(-f.upper, floor);
  }
  return f;
}

static std::string factor_str(const AugmentFactor& f) {
  std::ostringstream os;
  if (f.given.size() == 2)
    os << "(" << f.given[0] << ", " << f.given[1] << ")";
  else if (f.given.size() == 1)
    os << f.given[0];
  else
    os << "None";
  return os.str();
}

RandomAffine::RandomAffine(kernels::WarpKind kind, AugmentFactor height, AugmentFactor width,
                           const std::string& fill_mode, const std::string& interpolation, double fill_value)
    : kind_(kind), height_(std::move(height)), width_(std::move(width)), fill_value_(fill_value) {
  using kernels::FillMode;
  DPT_CHECK(fill_mode == "reflect" || fill_mode == "wrap" || fill_mode == "constant" || fill_mode == "nearest",
            class_name() << " fill_mode must be 'reflect', 'wrap', 'constant' or 'nearest', got '" << fill_mode << "'");
  fill_ = fill_mode == "reflect"    ? FillMode::reflect
          : fill_mode == "wrap"     ? FillMode::wrap
          : fill_mode == "constant" ? FillMode::constant
                                    : FillMode::nearest;
  DPT_CHECK(interpolation == "bilinear" || interpolation == "nearest",
            class_name() << " interpolation must be 'bilinear' or 'nearest', got '" << interpolation << "'");
  bilinear_ = interpolation == "bilinear";
  const bool shear = kind == kernels::WarpKind::shear;
  DPT_CHECK(!height_.given.empty(), class_name() << " needs its "
                                                 << (kind == kernels::WarpKind::rotation ? "factor"
                                                     : shear                             ? "y_factor"
                                                                                         : "height_factor"));
  DPT_CHECK((kind != kernels::WarpKind::translation && !shear) || !width_.given.empty(),
            class_name() << " needs its " << (shear ? "x_factor" : "width_factor"));
}

std::string RandomAffine::class_name() const {
  return kind_ == kernels::WarpKind::rotation ? "RandomRotation"
         : kind_ == kernels::WarpKind::zoom   ? "RandomZoom"
         : kind_ == kernels::WarpKind::shear  ? "RandomShear"
                                              : "RandomTranslation";
}

std::string RandomAffine::default_name() const {
  return kind_ == kernels::WarpKind::rotation ? "random_rotation"
         : kind_ == kernels::WarpKind::zoom   ? "random_zoom"
         : kind_ == kernels::WarpKind::shear  ? "random_shear"
                                              : "random_translation";
}

std::string RandomAffine::fill_mode() const {
  using kernels::FillMode;
  return fill_ == FillMode::reflect    ? "reflect"
         : fill_ == FillMode::wrap     ? "wrap"
         : fill_ == FillMode::constant ? "constant"
                                       : "nearest";
}

std::string RandomAffine::config_str() const {
  std::ostringstream os;
  if (kind_ == kernels::WarpKind::rotation)
    os << "factor=" << factor_str(height_);
  else if (kind_ == kernels::WarpKind::shear)
    os << "x_factor=" << factor_str(width_) << ", y_factor=" << factor_str(height_);
  else
    os << "height_factor=" << factor_str(height_) << ", width_factor=" << factor_str(width_);
  os << ", fill_mode=" << fill_mode() << ", interpolation=" << interpolation();
  if (fill_ == kernels::FillMode::constant) os << ", fill_value=" << fill_value_;
  return os.str();
}

Shape RandomAffine::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 3, "layer '" << name() << "' (" << class_name()
                                      << ") expects images of shape (height, width, channels), got " << shape_str(in));
  return in;
}

kernels::Warp2d RandomAffine::warp(int64_t n) const {
  kernels::Warp2d g;
  g.n = n;
  g.h = in_[0];
  g.w = in_[1];
  g.c = in_[2];
  g.kind = kind_;
  g.h_lo = float(height_.lower);
  g.h_hi = float(height_.upper);
  g.w_lo = float(width_.lower);
  g.w_hi = float(width_.upper);
  g.width_from_height = width_.given.empty();
  g.fill = fill_;
  g.bilinear = bilinear_;
  g.fill_value = float(fill_value_);
  return g;
}

void RandomAffine::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (training)
    kernels::random_warp_cpu(warp(x.dim(0)), draw_key(ctx, name_), x.data(), y.data());
  else
    std::copy(x.data(), x.data() + x.numel(), y.data());
}

void RandomAffine::backward_cpu(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (last_training_)
    kernels::random_warp_backward_cpu(warp(dy.dim(0)), draw_key(ctx, name_), dy.data(), dx->data());
  else
    std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
}

void RandomAffine::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (training)
    kernels::random_warp_cuda(warp(x.dim(0)), draw_key(ctx, name_), x.data(), y.data(), stream(ctx));
  else
    copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
}

void RandomAffine::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (last_training_)
    kernels::random_warp_backward_cuda(warp(dy.dim(0)), draw_key(ctx, name_), dy.data(), dx->data(), stream(ctx));
  else
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
}

RandomContrast::RandomContrast(AugmentFactor factor, double value_lo, double value_hi, bool brightness)
    : factor_(std::move(factor)), value_lo_(value_lo), value_hi_(value_hi), brightness_(brightness) {
  DPT_CHECK(!factor_.given.empty(), class_name() << " needs its factor");
  DPT_CHECK(value_lo_ < value_hi_, class_name() << " value_range must be (low, high) with low < high, got ("
                                                << value_lo_ << ", " << value_hi_ << ")");
}

std::string RandomContrast::config_str() const {
  std::ostringstream os;
  os << "factor=" << factor_str(factor_) << ", value_range=(" << value_lo_ << ", " << value_hi_ << ")";
  return os.str();
}

Shape RandomContrast::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 3, "layer '" << name() << "' (" << class_name()
                                      << ") expects images of shape (height, width, channels), got " << shape_str(in));
  return in;
}

kernels::Contrast2d RandomContrast::shape_of(int64_t n) const {
  kernels::Contrast2d g;
  g.n = n;
  g.h = in_[0];
  g.w = in_[1];
  g.c = in_[2];
  g.lower = float(factor_.lower);
  g.upper = float(factor_.upper);
  g.value_lo = float(value_lo_);
  g.value_hi = float(value_hi_);
  g.brightness = brightness_;
  return g;
}

void RandomContrast::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (training)
    kernels::random_contrast_cpu(shape_of(x.dim(0)), draw_key(ctx, name_), x.data(), y.data());
  else
    std::copy(x.data(), x.data() + x.numel(), y.data());
}

void RandomContrast::backward_cpu(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (last_training_)
    kernels::random_contrast_backward_cpu(shape_of(dy.dim(0)), draw_key(ctx, name_), x.data(), dy.data(), dx->data());
  else
    std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
}

void RandomContrast::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (training)
    kernels::random_contrast_cuda(shape_of(x.dim(0)), draw_key(ctx, name_), x.data(), y.data(), stream(ctx));
  else
    copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
}

void RandomContrast::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (last_training_)
    kernels::random_contrast_backward_cuda(shape_of(dy.dim(0)), draw_key(ctx, name_), x.data(), dy.data(), dx->data(),
                                           stream(ctx));
  else
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
}

Resizing::Resizing(ResizeConfig c) : c_(std::move(c)) {
  DPT_CHECK(c_.height >= 1 && c_.width >= 1,
            class_name() << " needs a height and width >= 1, got (" << c_.height << ", " << c_.width << ")");
  if (c_.random_crop) {  // at inference (or an image too small): tf_keras's smart_resize
    c_.interpolation = "bilinear";
    c_.crop_to_aspect_ratio = true;
  }
  DPT_CHECK(c_.interpolation == "bilinear" || c_.interpolation == "nearest",
            "Resizing interpolation '" << c_.interpolation
                                       << "' is not supported (dptrain resizes with 'bilinear' or 'nearest')");
  DPT_CHECK(!(c_.crop_to_aspect_ratio && c_.pad_to_aspect_ratio),
            "Resizing takes only one of crop_to_aspect_ratio and pad_to_aspect_ratio, as Keras's");
}

std::string Resizing::config_str() const {
  std::ostringstream os;
  os << "height=" << c_.height << ", width=" << c_.width;
  if (c_.center_crop || c_.random_crop) return os.str();
  os << ", interpolation=" << c_.interpolation;
  if (c_.crop_to_aspect_ratio) os << ", crop_to_aspect_ratio=True";
  if (c_.pad_to_aspect_ratio) os << ", pad_to_aspect_ratio=True, fill_value=" << c_.fill_value;
  return os.str();
}

Shape Resizing::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 3, "layer '" << name() << "' (" << class_name()
                                      << ") expects images of shape (height, width, channels), got " << shape_str(in));
  const int64_t h = in[0], w = in[1], th = c_.height, tw = c_.width;
  top_ = left_ = 0;
  bh_ = h;
  bw_ = w;
  if (c_.center_crop && h >= th && w >= tw) {  // Keras's CenterCrop of a large enough image: a crop
    top_ = (h - th) / 2;
    left_ = (w - tw) / 2;
    bh_ = th;
    bw_ = tw;
  } else if (c_.crop_to_aspect_ratio || c_.center_crop) {  // Keras's centred crop to the target's aspect ratio
    bh_ = std::max<int64_t>(std::min<int64_t>(h, int64_t(double(w * th) / double(tw))), 1);
    bw_ = std::max<int64_t>(std::min<int64_t>(w, int64_t(double(h * tw) / double(th))), 1);
    top_ = int64_t(double(h - bh_) / 2);
    left_ = int64_t(double(w - bw_) / 2);
  } else if (c_.pad_to_aspect_ratio) {  // Keras pads the start's width on both sides
    const int64_t ph = std::max<int64_t>(h, int64_t(double(w * th) / double(tw)));
    const int64_t pw = std::max<int64_t>(w, int64_t(double(h * tw) / double(th)));
    const int64_t hs = int64_t(double(ph - h) / 2), ws = int64_t(double(pw - w) / 2);
    if (hs > 0) {
      top_ = -hs;
      bh_ = h + 2 * hs;
    } else if (ws > 0) {
      left_ = -ws;
      bw_ = w + 2 * ws;
    }
  }
  DPT_CHECK(!c_.antialias || (th >= bh_ && tw >= bw_),
            "layer '" << name() << "' (Resizing) antialias=True shrinks (" << bh_ << ", " << bw_ << ") to (" << th
                      << ", " << tw << "); dptrain resizes without antialiasing (Keras's default)");
  return {th, tw, in[2]};
}

kernels::Resize2d Resizing::geom(int64_t n) const {
  kernels::Resize2d g;
  g.n = n;
  g.h = in_[0];
  g.w = in_[1];
  g.c = in_[2];
  g.oh = c_.height;
  g.ow = c_.width;
  g.top = top_;
  g.left = left_;
  g.bh = bh_;
  g.bw = bw_;
  g.bilinear = c_.interpolation == "bilinear";
  g.fill_value = float(c_.fill_value);
  return g;
}

bool Resizing::crops(bool training) const {
  return c_.random_crop && training && in_[0] >= c_.height && in_[1] >= c_.width;
}

void Resizing::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (crops(training))
    kernels::random_crop_cpu(geom(x.dim(0)), draw_key(ctx, name_), x.data(), y.data());
  else
    kernels::resize_cpu(geom(x.dim(0)), x.data(), y.data());
}
void Resizing::backward_cpu(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (crops(last_training_))
    kernels::random_crop_backward_cpu(geom(dy.dim(0)), draw_key(ctx, name_), dy.data(), dx->data());
  else
    kernels::resize_backward_cpu(geom(dy.dim(0)), dy.data(), dx->data());
}
void Resizing::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (crops(training))
    kernels::random_crop_cuda(geom(x.dim(0)), draw_key(ctx, name_), x.data(), y.data(), stream(ctx));
  else
    kernels::resize_cuda(geom(x.dim(0)), x.data(), y.data(), stream(ctx));
}
void Resizing::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (crops(last_training_))
    kernels::random_crop_backward_cuda(geom(dy.dim(0)), draw_key(ctx, name_), dy.data(), dx->data(), stream(ctx));
  else
    kernels::resize_backward_cuda(geom(dy.dim(0)), dy.data(), dx->data(), stream(ctx));
}

RandomGrayscale::RandomGrayscale(double factor) : factor_(factor) {
  DPT_CHECK(std::isfinite(factor) && factor >= 0 && factor <= 1,
            "RandomGrayscale factor should be between 0 and 1, got " << factor);
}

std::string RandomGrayscale::config_str() const {
  std::ostringstream os;
  os << "factor=" << factor_;
  return os.str();
}

Shape RandomGrayscale::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 3 && (in[2] == 1 || in[2] == 3),
            "layer '" << name() << "' (RandomGrayscale) expects images of shape (height, width, 3) or (height, "
                      << "width, 1), as Keras's rgb_to_grayscale, got " << shape_str(in));
  return in;
}

kernels::Grayscale2d RandomGrayscale::shape_of(int64_t n) const {
  kernels::Grayscale2d g;
  g.n = n;
  g.pixels = in_[0] * in_[1];
  g.c = in_[2];
  g.factor = float(factor_);
  return g;
}

void RandomGrayscale::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (training)
    kernels::random_grayscale_cpu(shape_of(x.dim(0)), draw_key(ctx, name_), x.data(), nullptr, y.data());
  else
    std::copy(x.data(), x.data() + x.numel(), y.data());
}

void RandomGrayscale::backward_cpu(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (last_training_)
    kernels::random_grayscale_cpu(shape_of(dy.dim(0)), draw_key(ctx, name_), nullptr, dy.data(), dx->data());
  else
    std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
}

void RandomGrayscale::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training;
  if (training)
    kernels::random_grayscale_cuda(shape_of(x.dim(0)), draw_key(ctx, name_), x.data(), nullptr, y.data(), stream(ctx));
  else
    copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
}

void RandomGrayscale::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (last_training_)
    kernels::random_grayscale_cuda(shape_of(dy.dim(0)), draw_key(ctx, name_), nullptr, dy.data(), dx->data(),
                                   stream(ctx));
  else
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
}

}  // namespace dpt
