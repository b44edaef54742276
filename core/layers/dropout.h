// Dropout(rate, noise_shape): inverted dropout in training (kept values scaled by 1/(1-rate)),
// identity at inference. Masks are keyed by (seed, layer, epoch, step, global sample index). Keras's
// noise_shape shares one draw along the axes where it is 1 (EfficientNet's stochastic depth:
// (None, 1, 1, 1), one draw a sample); its batch entry must be None (masks are per sample).
#pragma once
#include "core/error.h"
#include "core/layer.h"
#include "kernels/broadcast_math.h"
#include "kernels/dropout.h"

namespace dpt {

// The key of a layer's draws in this step: the context's (seed, epoch, step, the slice's first
// global row), the seed salted by the layer's name, so two layers draw apart.
kernels::DropoutKey draw_key(const Context& ctx, const std::string& layer);

class Dropout : public Layer {
 public:
  // noise_shape: one entry per sample axis (the batch's left out), 0 for None (the input's extent).
  explicit Dropout(double rate, Shape noise_shape = {});
  std::string class_name() const override { return "Dropout"; }
  std::string default_name() const override { return "dropout"; }
  MaskUse mask_use() const override { return MaskUse::keeps; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Dropout>(rate_, noise_); }
  std::string config_str() const override;
  double rate() const { return rate_; }
  const Shape& noise_shape() const { return noise_; }  // empty: None

 protected:
  bool alpha_ = false;  // AlphaDropout's values in place of the scaled ones
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  const kernels::BroadcastMap* noise_map() const { return shared_ ? &map_ : nullptr; }
  double rate_;
  Shape noise_;
  kernels::BroadcastMap map_;  // a sample's element -> its draw, where noise_shape shares draws
  bool shared_ = false;
  bool last_training_ = false;
};

// Keras's AlphaDropout(rate, noise_shape), for SELU networks: the elements Dropout would drop set to
// SELU's saturation alpha_p = -1.7581, then a x + b to keep the mean and variance
// (kernels::alpha_dropout_value); the gradient a dy where kept. The identity at inference.
class AlphaDropout : public Dropout {
 public:
  explicit AlphaDropout(double rate, Shape noise_shape = {}) : Dropout(rate, std::move(noise_shape)) { alpha_ = true; }
  std::string class_name() const override { return "AlphaDropout"; }
  std::string default_name() const override { return "alpha_dropout"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<AlphaDropout>(rate(), noise_shape()); }
};

// Keras's GaussianNoise(stddev) (multiplies false: x + stddev z) and GaussianDropout(rate) (x (1 +
// sqrt(rate / (1 - rate)) z)) in training, z a standard normal per element keyed as Dropout's masks
// (a sample draws the same noise however the batch is split); the identity at inference.
class GaussianNoise : public Layer {
 public:
  GaussianNoise(double value, bool multiplies);  // value: stddev, or GaussianDropout's rate
  std::string class_name() const override { return multiplies_ ? "GaussianDropout" : "GaussianNoise"; }
  std::string default_name() const override { return multiplies_ ? "gaussian_dropout" : "gaussian_noise"; }
  MaskUse mask_use() const override { return MaskUse::keeps; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<GaussianNoise>(value_, multiplies_); }
  std::string config_str() const override;
  double value() const { return value_; }
  bool multiplies() const { return multiplies_; }

 protected:
  Shape compute_output_shape(const Shape& in) override { return in; }
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  float stddev() const;
  double value_;
  bool multiplies_;
  bool last_training_ = false;
};

// Keras 3's RandomFlip(mode) on (height, width, channels) images, in training: each sample, with one
// draw, reversed along the width ("horizontal"), the height ("vertical") or both
// ("horizontal_and_vertical": both or neither, as Keras 3 flips; tf-keras drew each apart); the
// identity at inference.
class RandomFlip : public Layer {
 public:
  explicit RandomFlip(const std::string& mode);
  std::string class_name() const override { return "RandomFlip"; }
  std::string default_name() const override { return "random_flip"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<RandomFlip>(mode()); }
  std::string config_str() const override { return "mode=" + mode(); }
  std::string mode() const;

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  void move(Context& ctx, bool cuda, const float* from, float* to, int64_t n) const;
  bool horizontal_ = true, vertical_ = false;
  bool last_training_ = false;
};

// Keras's SpatialDropout1D and SpatialDropout2D: whole channels dropped, one draw per sample and
// channel (Dropout with noise_shape (None, 1, C) or (None, 1, 1, C)).
class SpatialDropout : public Dropout {
 public:
  SpatialDropout(double rate, int spatial)
      : Dropout(rate, spatial == 1 ? Shape{1, 0} : Shape{1, 1, 0}), spatial_(spatial) {}
  std::string class_name() const override { return spatial_ == 1 ? "SpatialDropout1D" : "SpatialDropout2D"; }
  std::string default_name() const override { return spatial_ == 1 ? "spatial_dropout1d" : "spatial_dropout2d"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<SpatialDropout>(rate(), spatial_); }
  int spatial() const { return spatial_; }

 protected:
  Shape compute_output_shape(const Shape& in) override {
    DPT_CHECK(in.size() == size_t(spatial_) + 1, class_name() << " expects inputs of shape "
                                                              << (spatial_ == 1 ? "(steps" : "(height, width")
                                                              << ", channels), got " << shape_str(in));
    return Dropout::compute_output_shape(in);
  }

 private:
  int spatial_;
};

}  // namespace dpt
