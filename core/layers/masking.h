// Keras's Masking(mask_value=0.0) over (..., steps, features): a step whose features all equal
// mask_value is skipped by the layers that read masks (core/layer.h): the layer makes the (samples,
// steps) mask, 1 where any feature differs, and outputs the input there and 0 elsewhere (Keras
// 3's ops.where); the gradient passes where the step is kept. Kernels: kernels/seqmask.
#pragma once
#include "core/layer.h"

namespace dpt {

class Masking : public Layer {
 public:
  explicit Masking(double mask_value = 0.0) : value_(mask_value) {}
  std::string class_name() const override { return "Masking"; }
  std::string default_name() const override { return "masking"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Masking>(value_); }
  std::string config_str() const override;
  double mask_value() const { return value_; }
  void prepare(int64_t max_batch, Context& ctx) override;
  MaskUse mask_use() const override { return MaskUse::keeps; }  // a mask reaching it gives way to its own
  bool makes_mask() const override { return true; }
  Shape mask_shape() const override { return Shape(in_.begin(), in_.end() - 1); }
  const float* mask() const override { return static_cast<const float*>(mask_.data()); }
  int64_t count_kept(const float* x, int64_t n) const override;

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  double value_;
  Buffer mask_;  // the last forward's (n, steps) mask
};

}  // namespace dpt
