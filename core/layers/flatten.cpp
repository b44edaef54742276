// Flatten and Reshape: copies under another shape.
#include "core/layers/flatten.h"
#include <algorithm>
#include "core/error.h"

namespace dpt {

void ShapeOnlyLayer::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  std::copy(x.data(), x.data() + x.numel(), y.data());
}

void ShapeOnlyLayer::backward_cpu(Context&, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
}

void ShapeOnlyLayer::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
}

void ShapeOnlyLayer::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
}

Reshape::Reshape(Shape target) : target_(std::move(target)) {
  DPT_CHECK(!target_.empty(), "Reshape needs a target_shape");
  int unknown = 0;
  for (int64_t d : target_) {
    DPT_CHECK(d >= 1 || d == -1, "Reshape target_shape " << shape_str(target_) << " has a dimension " << d
                                                         << " (each must be >= 1, or one of them -1)");
    unknown += d == -1;
  }
  DPT_CHECK(unknown <= 1, "Reshape target_shape " << shape_str(target_) << " has more than one -1");
}

std::string Reshape::config_str() const { return "target_shape=" + shape_str(target_); }

Shape Reshape::compute_output_shape(const Shape& in) {
  const int64_t total = shape_numel(in);
  int64_t known = 1;
  for (int64_t d : target_)
    if (d != -1) known = checked_mul(known, d, "Reshape target_shape");
  Shape out = target_;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i] == -1) {
      DPT_CHECK(total % known == 0, "layer '" << name() << "' (Reshape) cannot give input " << shape_str(in) << " ("
                                              << total << " values) the shape " << shape_str(target_));
      out[i] = total / known;
    }
  DPT_CHECK(shape_numel(out) == total, "layer '" << name() << "' (Reshape) cannot give input " << shape_str(in) << " ("
                                                 << total << " values) the shape " << shape_str(target_));
  return out;
}

}  // namespace dpt
