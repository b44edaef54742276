// Keras's Dot(axes, normalize): per sample, the sum of products of two inputs along one axis of
// each (Keras's batch_dot), such as the dot product of two vectors (axes=1) or a matrix of them
// between two sequences (axes=2 on (steps, features) inputs). Samples of 1 or 2 axes (Keras tensors
// of rank 2 or 3); the output is the first input's other axis, then the second's ((1,) for two
// vectors). normalize: each input L2-normalized along its dot axis first (Keras's
// ops.normalize, epsilon 1e-7), so two vectors give their cosine similarity.
#pragma once
#include <vector>
#include "core/layers/merge.h"
#include "kernels/dot.h"
#include "kernels/unit_norm.h"

namespace dpt {

class Dot : public MergeLayer {
 public:
  // axes: one axis for both inputs (axes_is_pair false) or one each, counted as Keras counts them
  // (the batch is axis 0; negative from the end of each input's).
  Dot(std::vector<int64_t> axes, bool normalize, bool axes_is_pair);
  std::string class_name() const override { return "Dot"; }
  std::string default_name() const override { return "dot"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Dot>(axes_, normalize_, pair_); }
  std::string config_str() const override;
  const std::vector<int64_t>& axes() const { return axes_; }  // as given (1 value, or 2 when a pair)
  bool axes_is_pair() const { return pair_; }
  bool normalize() const { return normalize_; }
  int64_t workspace_elems(int64_t batch) const override;

 protected:
  Shape output_shape_of(const std::vector<Shape>& inputs) override;
  void forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) override;
  void backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                       bool cuda) override;

 private:
  // An input's sample seen along its dot axis: `other` values (the other axis; 1 for a vector)
  // other_stride apart, each with k values k_stride apart; numel in all.
  struct Side {
    int64_t other = 1, other_stride = 0, k = 1, k_stride = 1, numel = 1;
  };
  kernels::NormRows rows_of(const Side& s, int64_t batch) const;
  void contract(Context& ctx, bool cuda, const float* a, const float* b, float* c, int64_t batch,
                const kernels::Contraction& d) const;
  std::vector<int64_t> axes_;
  bool normalize_, pair_;
  Side x_, y_;
};

}  // namespace dpt
