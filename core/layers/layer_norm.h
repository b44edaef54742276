// LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True) and Keras 3's
// RMSNormalization(axis=-1, epsilon=1e-6): each sample normalized on its own over the axes `axis`
// names (the last ones: -1, or [1, 2, 3] for a whole image), then scaled and shifted per element of
// those axes (weights gamma and beta, or RMSNormalization's scale, shaped as those axes); and
// GroupNormalization(groups=32, axis=-1, epsilon=1e-3): each sample's channels split into groups,
// each group normalized over its channels at every position, gamma and beta per channel. Nothing
// is kept between steps, so training and inference compute the same. Kernels: kernels/layernorm.
#pragma once
#include <vector>
#include "core/layer.h"
#include "kernels/layernorm_math.h"

namespace dpt {

struct LayerNormConfig {
  std::vector<int64_t> axis{-1};  // as Keras counts them: the batch is 0, negative from the end
  double epsilon = 1e-3;
  bool center = true;  // beta
  bool scale = true;   // gamma
  bool rms = false;    // RMSNormalization: no mean taken out; one weight, "scale"
  int64_t groups = 0;  // GroupNormalization(groups): > 0, or -1 (one per channel); 0: not one
};

class LayerNormalization : public Layer {
 public:
  explicit LayerNormalization(LayerNormConfig cfg = {});
  std::string class_name() const override {
    return cfg_.groups ? "GroupNormalization" : cfg_.rms ? "RMSNormalization" : "LayerNormalization";
  }
  std::string default_name() const override {
    return cfg_.groups ? "group_normalization" : cfg_.rms ? "rms_normalization" : "layer_normalization";
  }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<LayerNormalization>(cfg_); }
  // Keras 3's LayerNormalization and GroupNormalization pass a mask on; RMSNormalization drops it.
  MaskUse mask_use() const override { return cfg_.rms ? MaskUse::drops : MaskUse::keeps; }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  void prepare(int64_t max_batch, Context& ctx) override;
  const LayerNormConfig& config() const { return cfg_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  struct Weights {
    float *gamma, *beta, *dgamma, *dbeta;  // null where the layer has no such weight
  };
  Weights weights() const;
  kernels::RowLayout layout(int64_t n) const;  // the rows of n samples

  LayerNormConfig cfg_;
  Shape params_shape_;  // the normalized axes of the input
  // Per replica: each row's mean and rstd from the last forward (mean_ then rstd_, max rows each),
  // on the replica's device; the CPU's double sums for the weights' gradients.
  std::vector<float> stats_;
  Buffer device_stats_;
  std::vector<double> sums_;
  int64_t max_rows_ = 0;
};

}  // namespace dpt
