// Keras's UnitNormalization(axis): each sample's values along the axes scaled to unit L2 norm
// (kernels/unit_norm.h: Keras's ops.normalize with epsilon 1e-12). The axes (Keras's: counted with
// the batch as 0, or negative from the end) must be a run of trailing axes, such as -1 (the
// default) or [1, 2, 3] (the whole sample); others are refused at build.
#pragma once
#include <vector>
#include "core/layer.h"
#include "kernels/unit_norm.h"

namespace dpt {

class UnitNormalization : public Layer {
 public:
  explicit UnitNormalization(std::vector<int> axis = {-1}, bool axis_is_list = false);
  std::string class_name() const override { return "UnitNormalization"; }
  std::string default_name() const override { return "unit_normalization"; }
  MaskUse mask_use() const override { return MaskUse::keeps; }
  std::unique_ptr<Layer> make_clone() const override {
    return std::make_unique<UnitNormalization>(axis_, axis_is_list_);
  }
  std::string config_str() const override;
  const std::vector<int>& axis() const { return axis_; }  // as given
  bool axis_is_list() const { return axis_is_list_; }     // Keras wrote a list (written back as one)

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::NormRows rows(const Tensor& x) const;  // x's rows of cols_ values
  std::vector<int> axis_;
  bool axis_is_list_;
  int64_t cols_ = 1;  // the values normalized together: the product of the axes' extents
};

}  // namespace dpt
