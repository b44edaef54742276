// Keras 3's image augmentation layers (keras.layers.RandomRotation, RandomZoom, RandomTranslation,
// RandomShear, RandomContrast, RandomBrightness, RandomGrayscale), and Resizing, CenterCrop and RandomCrop below, on
// NHWC images: the identity at inference, and in training each sample's own random transform (kernels/augment.h), drawn
// as Dropout's masks are (keyed by the layer, the step and the sample's global index: the same for a sample however the
// batch is split). The draws are dptrain's; the transforms are Keras's (its affine matrices, JAX's fill modes and
// interpolation, its contrast formula and clip). Gradients flow through them, as Keras's autodiff takes them.
#pragma once
#include <string>
#include <vector>
#include "core/layer.h"
#include "kernels/augment.h"

namespace dpt {

// A Keras factor: one number f (the range (-|f|, |f|), or (max(-|f|, floor), |f|)) or a pair
// (lower, upper), kept as given for writing back.
struct AugmentFactor {
  std::vector<double> given;  // 1 or 2 values; empty: None (RandomZoom's width_factor)
  double lower = 0, upper = 0;
};

class RandomAffine : public Layer {
 public:
  // kind rotation: height the factor (turns); zoom: width may be None (given empty); translation: both;
  // shear: height y_factor, width x_factor.
  RandomAffine(kernels::WarpKind kind, AugmentFactor height, AugmentFactor width, const std::string& fill_mode,
               const std::string& interpolation, double fill_value);
  std::string class_name() const override;
  std::string default_name() const override;
  std::unique_ptr<Layer> make_clone() const override {
    return std::make_unique<RandomAffine>(kind_, height_, width_, fill_mode(), interpolation(), fill_value_);
  }
  std::string config_str() const override;
  kernels::WarpKind kind() const { return kind_; }
  const AugmentFactor& height_factor() const { return height_; }  // RandomRotation's factor
  const AugmentFactor& width_factor() const { return width_; }
  std::string fill_mode() const;
  std::string interpolation() const { return bilinear_ ? "bilinear" : "nearest"; }
  double fill_value() const { return fill_value_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Warp2d warp(int64_t n) const;
  kernels::WarpKind kind_;
  AugmentFactor height_, width_;
  kernels::FillMode fill_ = kernels::FillMode::reflect;
  bool bilinear_ = true;
  double fill_value_ = 0;
  bool last_training_ = false;
};

// RandomContrast, or (brightness) RandomBrightness: x + delta, delta drawn in the factor's range
// times value_range's width, clipped to value_range.
class RandomContrast : public Layer {
 public:
  RandomContrast(AugmentFactor factor, double value_lo = 0, double value_hi = 255, bool brightness = false);
  std::string class_name() const override { return brightness_ ? "RandomBrightness" : "RandomContrast"; }
  std::string default_name() const override { return brightness_ ? "random_brightness" : "random_contrast"; }
  std::unique_ptr<Layer> make_clone() const override {
    return std::make_unique<RandomContrast>(factor_, value_lo_, value_hi_, brightness_);
  }
  bool brightness() const { return brightness_; }
  std::string config_str() const override;
  const AugmentFactor& factor() const { return factor_; }
  double value_lo() const { return value_lo_; }
  double value_hi() const { return value_hi_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Contrast2d shape_of(int64_t n) const;
  AugmentFactor factor_;
  double value_lo_, value_hi_;
  bool brightness_;
  bool last_training_ = false;
};

// Keras's Resizing(height, width): each image resized as Keras 3's ops.image.resize does (bilinear or
// nearest, no antialiasing: kernels/augment.h), optionally from crop_to_aspect_ratio's centred crop
// or pad_to_aspect_ratio's frame of fill_value; in training and at inference alike. antialias is
// taken where it changes nothing (no axis shrinks).
struct ResizeConfig {
  int64_t height = 0, width = 0;
  // Keras's CenterCrop(height, width) instead: the centred (height, width) crop of an image at least
  // that large, starting at half the difference (rounded down); a smaller one resized through
  // crop_to_aspect_ratio's crop, as Keras's smart_resize.
  bool center_crop = false;
  // Keras's RandomCrop(height, width) instead: in training, an image at least that large gives a
  // (height, width) window at an offset each sample draws (Keras draws one a batch); at inference, or
  // an image smaller on an axis, a bilinear resize through crop_to_aspect_ratio's crop (tf_keras's
  // smart_resize, as Keras's documentation says: Keras 3.15 instead returns the image unchanged at
  // inference, a shape its next layers refuse, keras-team/keras#21868).
  bool random_crop = false;
  std::string interpolation = "bilinear";
  bool crop_to_aspect_ratio = false, pad_to_aspect_ratio = false, antialias = false;
  double fill_value = 0;
};

class Resizing : public Layer {
 public:
  explicit Resizing(ResizeConfig c);
  std::string class_name() const override {
    return c_.center_crop ? "CenterCrop" : c_.random_crop ? "RandomCrop" : "Resizing";
  }
  std::string default_name() const override {
    return c_.center_crop ? "center_crop" : c_.random_crop ? "random_crop" : "resizing";
  }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Resizing>(c_); }
  std::string config_str() const override;
  const ResizeConfig& config() const { return c_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Resize2d geom(int64_t n) const;
  bool crops(bool training) const;  // RandomCrop's random window this pass
  ResizeConfig c_;
  int64_t top_ = 0, left_ = 0, bh_ = 0, bw_ = 0;  // the source box (set at build)
  bool last_training_ = false;
};

// Keras 3's RandomGrayscale(factor): in training each sample, with probability factor, becomes its
// luma in all three channels (kernels/augment.h); images of one channel pass unchanged; the
// identity at inference.
class RandomGrayscale : public Layer {
 public:
  explicit RandomGrayscale(double factor = 0.5);
  std::string class_name() const override { return "RandomGrayscale"; }
  std::string default_name() const override { return "random_grayscale"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<RandomGrayscale>(factor_); }
  std::string config_str() const override;
  double factor() const { return factor_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Grayscale2d shape_of(int64_t n) const;
  double factor_;
  bool last_training_ = false;
};

// Keras's reading of a factor: a number f gives (max(-|f|, floor), |f|), a pair its sorted values;
// each within [floor, ceiling] (what: the layer and argument, for errors).
AugmentFactor augment_factor(std::vector<double> given, double floor, double ceiling, const std::string& what);

}  // namespace dpt
