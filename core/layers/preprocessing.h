// Keras's preprocessing layers that a model holds, each one formula per channel of the last axis
// (kernels/affine): Rescaling(scale, offset): y = x * scale + offset; Normalization(axis=-1):
// y = (x - mean) / max(sqrt(variance), 1e-7), or its inverse with invert=True. Neither trains; the
// gradient passes through the formula (a layer before them may train).
#pragma once
#include <vector>
#include "core/layer.h"
#include "kernels/affine_math.h"
#include "kernels/embedding.h"

namespace dpt {

class ChannelAffine : public Layer {
 public:
  void prepare(int64_t max_batch, Context& ctx) override;  // uploads the constants to a GPU replica

 protected:
  explicit ChannelAffine(kernels::AffineForm form) : form_(form) {}
  // The per-channel values a and b on the replica's device, and their steps (1: per channel, 0:
  // one value): constants uploaded by prepare, or (Normalization) the layer's weights.
  struct Operands {
    const float *a, *b;
    int64_t a_step, b_step;
  };
  virtual Operands operands() const;
  // Constants a then b, each of 1 or input_shape().back() values (checked at build).
  void set_constants(std::vector<float> a, std::vector<float> b);
  bool has_constants() const { return !a_.empty(); }
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  kernels::AffineForm form_;

 private:
  std::vector<float> a_, b_;
  Buffer device_;  // a_ then b_ on a GPU replica's device
  const float* device_a_ = nullptr;
  const float* device_b_ = nullptr;
};

class Rescaling : public ChannelAffine {
 public:
  // One value each, or one per channel of the last axis, as Keras's scale and offset.
  Rescaling(std::vector<double> scale, std::vector<double> offset);
  std::string class_name() const override { return "Rescaling"; }
  std::string default_name() const override { return "rescaling"; }
  MaskUse mask_use() const override { return MaskUse::keeps; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Rescaling>(scale_, offset_); }
  std::string config_str() const override;
  const std::vector<double>& scale() const { return scale_; }
  const std::vector<double>& offset() const { return offset_; }

 private:
  std::vector<double> scale_, offset_;
};

class Normalization : public ChannelAffine {
 public:
  static constexpr int64_t kNoAxis = 0;  // Keras's axis=None: one mean and variance for everything
  // axis: -1 or the last axis as Keras counts it (the batch is 0): a mean and variance per channel
  // of the last axis; or kNoAxis. mean and variance: Keras's constructor values (then the layer has
  // no weights); empty: the non-trainable weights mean, variance and count that Keras's adapt()
  // sets (zeros and ones until a file gives them).
  Normalization(int64_t axis, std::vector<double> mean, std::vector<double> variance, bool invert);
  std::string class_name() const override { return "Normalization"; }
  std::string default_name() const override { return "normalization"; }
  MaskUse mask_use() const override { return MaskUse::keeps; }
  std::unique_ptr<Layer> make_clone() const override {
    return std::make_unique<Normalization>(axis_, mean_, variance_, invert_);
  }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  int64_t axis() const { return axis_; }
  bool invert() const { return invert_; }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& variance() const { return variance_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  Operands operands() const override;

 private:
  int64_t axis_;
  std::vector<double> mean_, variance_;
  bool invert_;
};

// Keras's CategoryEncoding(num_tokens, output_mode): the input holds indices (whole numbers in
// [0, num_tokens), as floats); one_hot: each index becomes its row of num_tokens (an input whose
// last axis is 1 gives one row a sample: Keras squeezes it); multi_hot: each row of the input's
// last axis becomes one row of num_tokens, 1 at every index in it; count: how many times each
// index is in it. No weights; indices have no gradient (a layer before gets zeros, as before an
// Embedding). Kernels: kernels/embedding's category_encode.
class CategoryEncoding : public Layer {
 public:
  enum Mode { one_hot, multi_hot, count };
  CategoryEncoding(int64_t num_tokens, Mode mode);
  std::string class_name() const override { return "CategoryEncoding"; }
  std::string default_name() const override { return "category_encoding"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<CategoryEncoding>(tokens_, mode_); }
  std::string config_str() const override;
  int64_t input_index_limit() const override { return tokens_; }
  const char* index_limit_name() const override { return "num_tokens"; }
  int64_t num_tokens() const { return tokens_; }
  Mode mode() const { return mode_; }
  static const char* mode_name(Mode m);

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::CategoryEncode encode(const Tensor& x) const;
  int64_t tokens_;
  Mode mode_;
};

}  // namespace dpt
