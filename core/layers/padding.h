// ZeroPadding2D and Cropping2D, channels_last: rows added (or removed) at the top and bottom,
// columns at the left and right, as Keras's ((top, bottom), (left, right)). UpSampling2D: each
// value repeated over a (rows, cols) block (interpolation 'nearest').
#pragma once
#include "core/layer.h"
#include "kernels/pad2d.h"

namespace dpt {

struct Padding2DConfig {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
};

class Padding2D : public Layer {
 public:
  Padding2D(bool crop, Padding2DConfig cfg);  // crop: Cropping2D, else ZeroPadding2D
  std::string class_name() const override { return crop_ ? "Cropping2D" : "ZeroPadding2D"; }
  std::string default_name() const override { return crop_ ? "cropping2d" : "zero_padding2d"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Padding2D>(crop_, cfg_); }
  std::string config_str() const override;
  bool crop() const { return crop_; }
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
};

class UpSampling2D : public Layer {
 public:
  UpSampling2D(int64_t rows, int64_t cols);
  std::string class_name() const override { return "UpSampling2D"; }
  std::string default_name() const override { return "up_sampling2d"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<UpSampling2D>(sh_, sw_); }
  std::string config_str() const override;
  int64_t rows() const { return sh_; }
  int64_t cols() const { return sw_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Upsample2d geom(int64_t n) const { return {n, in_[0], in_[1], in_[2], sh_, sw_}; }
  int64_t sh_, sw_;
};

}  // namespace dpt
