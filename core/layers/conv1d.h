// Conv1D: channels_last (steps, channels), Keras kernel (k, in, filters), bias (filters), padding
// valid/same/causal, strides, dilation_rate. The Conv2D of a (1, k) kernel over (1, steps,
// channels) images: the same kernels on every device ((k, in, filters) is (1, k, in, filters) in
// memory); 'causal' pads (k - 1) * dilation steps before the sequence and none after.
#pragma once
#include "core/layers/conv2d.h"

namespace dpt {

class Conv1D : public Conv2D {
 public:
  // cfg: kw, sw and dw the kernel size, stride and dilation (kh, sh, dh are 1); cfg.same for 'same'.
  Conv1D(Conv2DConfig cfg, bool causal);
  std::string class_name() const override { return "Conv1D"; }
  std::string default_name() const override { return "conv1d"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Conv1D>(cfg_, causal_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  bool causal() const { return causal_; }
  // cfg with its height 1: kh, sh and dh set to 1 (Conv1D's and Conv1DTranspose's one-row images).
  static Conv2DConfig one_row(Conv2DConfig cfg);

 protected:
  Shape compute_output_shape(const Shape& in) override;
  Shape image(const Shape& s) const override { return {1, s[0], s[1]}; }

 private:
  bool causal_;
};

}  // namespace dpt
