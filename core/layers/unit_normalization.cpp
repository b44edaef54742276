// UnitNormalization through kernels/unit_norm.h, over rows of the trailing axes.
#include "core/layers/unit_normalization.h"
#include <algorithm>
#include "core/error.h"
#include "kernels/unit_norm.h"

namespace dpt {

UnitNormalization::UnitNormalization(std::vector<int> axis, bool axis_is_list)
    : axis_(std::move(axis)), axis_is_list_(axis_is_list) {
  DPT_CHECK(!axis_.empty(), "UnitNormalization needs an axis");
}

std::string UnitNormalization::config_str() const {
  if (!axis_is_list_ && axis_.size() == 1) return "axis=" + std::to_string(axis_[0]);
  std::string s = "axis=[";
  for (size_t k = 0; k < axis_.size(); ++k) s += (k ? ", " : "") + std::to_string(axis_[k]);
  return s + "]";
}

Shape UnitNormalization::compute_output_shape(const Shape& in) {
  const int rank = int(in.size());  // a sample's axes are 1..rank (0: the batch)
  std::vector<int> axes;
  for (int a : axis_) axes.push_back(a < 0 ? a + rank + 1 : a);
  std::sort(axes.begin(), axes.end());
  bool trailing = axes.back() == rank && axes.front() >= 1;
  for (size_t k = 1; k < axes.size(); ++k) trailing = trailing && axes[k] == axes[k - 1] + 1;
  DPT_CHECK(trailing, "layer '" << name() << "' (UnitNormalization) " << config_str() << " on input " << shape_str(in)
                                << ": dptrain normalizes a run of trailing axes (-1, or such as [1, 2, 3])");
  cols_ = 1;
  for (int a : axes) cols_ *= in[size_t(a - 1)];
  return in;
}

kernels::NormRows UnitNormalization::rows(const Tensor& x) const {
  return kernels::NormRows::contiguous(x.numel() / cols_, cols_);
}

void UnitNormalization::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  kernels::unit_norm_forward_cpu(x.data(), y.data(), rows(x));
}
void UnitNormalization::backward_cpu(Context&, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) kernels::unit_norm_backward_cpu(x.data(), dy.data(), dx->data(), rows(x));
}
void UnitNormalization::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  kernels::unit_norm_forward_cuda(x.data(), y.data(), rows(x), stream(ctx));
}
void UnitNormalization::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) kernels::unit_norm_backward_cuda(x.data(), dy.data(), dx->data(), rows(x), stream(ctx));
}

}  // namespace dpt
