// Keras's Embedding(input_dim, output_dim): the input holds indices (whole numbers in
// [0, input_dim), given as floats: every sample shape, Keras casting them to int32), each replaced
// by its row of the trainable table `embeddings` (input_dim, output_dim), initialised as Keras's
// "uniform" (RandomUniform in [-0.05, 0.05]). The output is the input's shape with output_dim
// appended. Indices have no gradient: a layer before an Embedding gets zeros (Keras gives None).
// mask_zero=True: the layer also makes Keras's mask (core/layer.h), 1 where the index is not 0, so
// index 0 is padding that the recurrent layers and GlobalAveragePooling1D skip (its row is still
// looked up and trained as Keras does). Kernels: kernels/embedding, kernels/seqmask.
#pragma once
#include "core/layer.h"

namespace dpt {

class Embedding : public Layer {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, bool mask_zero = false);
  std::string class_name() const override { return "Embedding"; }
  std::string default_name() const override { return "embedding"; }
  std::unique_ptr<Layer> make_clone() const override {
    return std::make_unique<Embedding>(input_dim_, output_dim_, mask_zero_);
  }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  void prepare(int64_t max_batch, Context& ctx) override;
  int64_t input_index_limit() const override { return input_dim_; }
  int64_t input_dim() const { return input_dim_; }
  int64_t output_dim() const { return output_dim_; }
  bool mask_zero() const { return mask_zero_; }
  bool makes_mask() const override { return mask_zero_; }
  Shape mask_shape() const override { return in_; }
  const float* mask() const override { return static_cast<const float*>(mask_.data()); }
  int64_t count_kept(const float* x, int64_t n) const override;

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  int64_t input_dim_, output_dim_;
  bool mask_zero_;
  Buffer mask_;  // mask_zero: the last forward's (n, input shape) mask
  Buffer sort_;  // a GPU replica's scratch for the backward's sort
  int64_t max_tokens_ = 0;
};

}  // namespace dpt
