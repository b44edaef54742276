// Dropout(rate): inverted dropout in training (kept values scaled by 1/(1-rate)), identity at
// inference. Masks are keyed by (seed, layer, epoch, step, global sample index).
#pragma once
#include "core/layer.h"

namespace dpt {

class Dropout : public Layer {
 public:
  explicit Dropout(double rate);
  std::string class_name() const override { return "Dropout"; }
  std::string default_name() const override { return "dropout"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dropout>(rate_); }
  std::string config_str() const override { return "rate=" + std::to_string(rate_); }
  double rate() const { return rate_; }

 protected:
  Shape compute_output_shape(const Shape& in) override { return in; }
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  double rate_;
  bool last_training_ = false;
};

}  // namespace dpt
