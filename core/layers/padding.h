// ZeroPadding2D and Cropping2D, channels_last: rows added (or removed) at the top and bottom,
// columns at the left and right, as Keras's ((top, bottom), (left, right)). UpSampling2D: each
// value repeated over a (rows, cols) block (interpolation 'nearest'), or interpolated between its
// neighbours ('bilinear', kernels/resize_math.h). With spatial rank 1, Keras's
// ZeroPadding1D, Cropping1D ((left, right) steps) and UpSampling1D on (steps, channels).
#pragma once
#include "core/layer.h"
#include "kernels/pad2d.h"

namespace dpt {

struct Padding2DConfig {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
};

class Padding2D : public Layer {
 public:
  // crop: Cropping2D, else ZeroPadding2D; spatial 1: the 1-D layers (cfg's left and right).
  Padding2D(bool crop, Padding2DConfig cfg, int spatial = 2);
  std::string class_name() const override {
    return std::string(crop_ ? "Cropping" : "ZeroPadding") + (spatial_ == 1 ? "1D" : "2D");
  }
  std::string default_name() const override {
    return std::string(crop_ ? "cropping" : "zero_padding") + (spatial_ == 1 ? "1d" : "2d");
  }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Padding2D>(crop_, cfg_, spatial_); }
  std::string config_str() const override;
  bool crop() const { return crop_; }
  int spatial() const { return spatial_; }
  const Padding2DConfig& config() const { return cfg_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Window2d window(int64_t n) const;
  bool crop_;
  Padding2DConfig cfg_;
  int spatial_;
};

class UpSampling2D : public Layer {
 public:
  // spatial 1: UpSampling1D(size=cols), nearest only.
  UpSampling2D(int64_t rows, int64_t cols, int spatial = 2, bool bilinear = false);
  std::string class_name() const override { return spatial_ == 1 ? "UpSampling1D" : "UpSampling2D"; }
  std::string default_name() const override { return spatial_ == 1 ? "up_sampling1d" : "up_sampling2d"; }
  std::unique_ptr<Layer> make_clone() const override {
    return std::make_unique<UpSampling2D>(sh_, sw_, spatial_, bilinear_);
  }
  std::string config_str() const override;
  int64_t rows() const { return sh_; }
  int64_t cols() const { return sw_; }
  int spatial() const { return spatial_; }
  bool bilinear() const { return bilinear_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Upsample2d geom(int64_t n) const {
    const Shape in = image_of(in_, spatial_);
    return {n, in[0], in[1], in[2], sh_, sw_, bilinear_};
  }
  int64_t sh_, sw_;
  int spatial_;
  bool bilinear_;
};

}  // namespace dpt
