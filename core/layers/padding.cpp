// ZeroPadding2D and Cropping2D through kernels/pad2d: padding embeds the input in a larger zero
// image and its gradient is the window; cropping the other way round.
#include "core/layers/padding.h"
#include "core/error.h"

namespace dpt {

Padding2D::Padding2D(bool crop, Padding2DConfig cfg, int spatial) : crop_(crop), cfg_(cfg), spatial_(spatial) {
  if (spatial_ == 1) cfg_.top = cfg_.bottom = 0;
  DPT_CHECK(cfg.top >= 0 && cfg.bottom >= 0 && cfg.left >= 0 && cfg.right >= 0,
            class_name() << " takes sizes >= 0, got ((" << cfg.top << ", " << cfg.bottom << "), (" << cfg.left << ", "
                         << cfg.right << "))");
}

std::string Padding2D::config_str() const {
  if (spatial_ == 1)
    return std::string(crop_ ? "cropping" : "padding") + "=(" + std::to_string(cfg_.left) + ", " +
           std::to_string(cfg_.right) + ")";
  return std::string(crop_ ? "cropping" : "padding") + "=((" + std::to_string(cfg_.top) + ", " +
         std::to_string(cfg_.bottom) + "), (" + std::to_string(cfg_.left) + ", " + std::to_string(cfg_.right) + "))";
}

Shape Padding2D::compute_output_shape(const Shape& in) {
  if (spatial_ == 1) {
    DPT_CHECK(in.size() == 2, class_name() << " expects inputs of shape (steps, channels), got " << shape_str(in));
    return {in[0] + (crop_ ? -1 : 1) * (cfg_.left + cfg_.right), in[1]};  // an empty one: build says so
  }
  DPT_CHECK(in.size() == 3,
            class_name() << " expects inputs of shape (height, width, channels), got " << shape_str(in));
  if (!crop_) return {in[0] + cfg_.top + cfg_.bottom, in[1] + cfg_.left + cfg_.right, in[2]};
  return {in[0] - cfg_.top - cfg_.bottom, in[1] - cfg_.left - cfg_.right, in[2]};  // an empty one: build says so
}

kernels::Window2d Padding2D::window(int64_t n) const {
  const Shape small = image_of(crop_ ? out_ : in_, spatial_), large = image_of(crop_ ? in_ : out_, spatial_);
  kernels::Window2d g;
  g.n = n;
  g.c = small[2];
  g.h = small[0];
  g.w = small[1];
  g.H = large[0];
  g.W = large[1];
  g.top = cfg_.top;
  g.left = cfg_.left;
  return g;
}

void Padding2D::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  if (crop_)
    kernels::extract2d_cpu(window(x.dim(0)), x.data(), y.data());
  else
    kernels::embed2d_cpu(window(x.dim(0)), x.data(), y.data());
}

void Padding2D::backward_cpu(Context&, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (crop_)
    kernels::embed2d_cpu(window(x.dim(0)), dy.data(), dx->data());
  else
    kernels::extract2d_cpu(window(x.dim(0)), dy.data(), dx->data());
}

void Padding2D::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  if (crop_)
    kernels::extract2d_cuda(window(x.dim(0)), x.data(), y.data(), stream(ctx));
  else
    kernels::embed2d_cuda(window(x.dim(0)), x.data(), y.data(), stream(ctx));
}

void Padding2D::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (crop_)
    kernels::embed2d_cuda(window(x.dim(0)), dy.data(), dx->data(), stream(ctx));
  else
    kernels::extract2d_cuda(window(x.dim(0)), dy.data(), dx->data(), stream(ctx));
}

UpSampling2D::UpSampling2D(int64_t rows, int64_t cols, int spatial, bool bilinear)
    : sh_(spatial == 1 ? 1 : rows), sw_(cols), spatial_(spatial), bilinear_(bilinear) {
  DPT_CHECK(!(bilinear && spatial == 1), "UpSampling1D repeats steps (no interpolation)");
  DPT_CHECK(rows >= 1 && cols >= 1, class_name() << " size must be >= 1, got (" << rows << ", " << cols << ")");
}

std::string UpSampling2D::config_str() const {
  if (spatial_ == 1) return "size=" + std::to_string(sw_);
  return "size=(" + std::to_string(sh_) + ", " + std::to_string(sw_) + ")" +
         (bilinear_ ? ", interpolation=bilinear" : "");
}

Shape UpSampling2D::compute_output_shape(const Shape& in) {
  if (spatial_ == 1) {
    DPT_CHECK(in.size() == 2, "UpSampling1D expects inputs of shape (steps, channels), got " << shape_str(in));
    return {checked_mul(in[0], sw_, "UpSampling1D steps"), in[1]};
  }
  DPT_CHECK(in.size() == 3, "UpSampling2D expects inputs of shape (height, width, channels), got " << shape_str(in));
  return {checked_mul(in[0], sh_, "UpSampling2D height"), checked_mul(in[1], sw_, "UpSampling2D width"), in[2]};
}

void UpSampling2D::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  kernels::upsample2d_forward_cpu(geom(x.dim(0)), x.data(), y.data());
}

void UpSampling2D::backward_cpu(Context&, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) kernels::upsample2d_backward_cpu(geom(x.dim(0)), dy.data(), dx->data());
}

void UpSampling2D::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  kernels::upsample2d_forward_cuda(geom(x.dim(0)), x.data(), y.data(), stream(ctx));
}

void UpSampling2D::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) kernels::upsample2d_backward_cuda(geom(x.dim(0)), dy.data(), dx->data(), stream(ctx));
}

}  // namespace dpt
