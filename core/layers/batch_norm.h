// BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3): batch statistics in training (and the
// moving averages updated), moving statistics at inference. Weights in Keras's order: gamma, beta,
// moving_mean, moving_variance (the last two non-trainable).
#pragma once
#include "core/layer.h"

namespace dpt {

struct BatchNormConfig {
  double momentum = 0.99;
  double epsilon = 1e-3;
};

class BatchNormalization : public Layer {
 public:
  explicit BatchNormalization(BatchNormConfig cfg = {});
  std::string class_name() const override { return "BatchNormalization"; }
  std::string default_name() const override { return "batch_normalization"; }
  MaskUse mask_use() const override { return MaskUse::refuses; }
  std::string mask_refusal() const override {
    return "Keras computes its batch statistics over the kept steps alone; dptrain does not";
  }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<BatchNormalization>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  void prepare(int64_t max_batch, Context& ctx) override;
  const BatchNormConfig& config() const { return cfg_; }

 protected:
  Shape compute_output_shape(const Shape& in) override { return in; }
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  BatchNormConfig cfg_;
  // Per-replica statistics of the last training forward (used by backward), and the sums
  // (forward: sum(C), sum of squares(C), count; backward: sum dy(C), sum dy*xhat(C)).
  std::vector<float> mean_, var_, invstd_;
  std::vector<double> sum_;
  double count_ = 0;
  // On a GPU the same, in device memory: stats_ = mean, var, invstd (3C floats); fsum_ = the
  // forward sums and the count (2C + 1 doubles, all-reduced as one when synchronised); bsum_ = the
  // backward sums (2C doubles). The count never goes to the host.
  Buffer stats_, fsum_, bsum_;
};

}  // namespace dpt
