// Dropout(rate, noise_shape): inverted dropout in training (kept values scaled by 1/(1-rate)),
// identity at inference. Masks are keyed by (seed, layer, epoch, step, global sample index). Keras's
// noise_shape shares one draw along the axes where it is 1 (EfficientNet's stochastic depth:
// (None, 1, 1, 1), one draw a sample); its batch entry must be None (masks are per sample).
#pragma once
#include "core/layer.h"
#include "kernels/broadcast_math.h"

namespace dpt {

class Dropout : public Layer {
 public:
  // noise_shape: one entry per sample axis (the batch's left out), 0 for None (the input's extent).
  explicit Dropout(double rate, Shape noise_shape = {});
  std::string class_name() const override { return "Dropout"; }
  std::string default_name() const override { return "dropout"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dropout>(rate_, noise_); }
  std::string config_str() const override;
  double rate() const { return rate_; }
  const Shape& noise_shape() const { return noise_; }  // empty: None

 protected:
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

}  // namespace dpt
