// Keras's PReLU: y = x where x > 0, else alpha * x, alpha a trainable weight of the sample's shape
// (initialized to zeros, as Keras's alpha_initializer), 1 along Keras's shared_axes (1-based sample
// axes, where one alpha serves the whole axis: [1, 2] for a convolution's channels). Its gradient
// sums x dy where x < 0 over the batch, in column sums (bias_grad), then over the shared axes
// (broadcast_sum): fixed orders, the same bits on every device.
#pragma once
#include <vector>
#include "core/layer.h"
#include "kernels/broadcast_math.h"

namespace dpt {

class PReLU : public Layer {
 public:
  explicit PReLU(std::vector<int> shared_axes = {});
  std::string class_name() const override { return "PReLU"; }
  std::string default_name() const override { return "p_re_lu"; }
  MaskUse mask_use() const override { return MaskUse::keeps; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<PReLU>(shared_); }
  std::string config_str() const override;
  const std::vector<int>& shared_axes() const { return shared_; }
  std::vector<ParamSpec> params() const override { return {{"alpha", alpha_shape_, Init::zeros}}; }
  void prepare(int64_t max_batch, Context& ctx) override;

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  void alpha_grad(Context& ctx, bool cuda, const float* term, int64_t batch);
  std::vector<int> shared_;
  Shape alpha_shape_;
  kernels::BroadcastMap map_;  // a sample's element -> its alpha
  bool repeats_ = false;       // some axis is shared
  Buffer sums_;                // shared axes: the column sums (a sample's size), then alpha's (its size)
};

}  // namespace dpt
