// Dropout on the CPU through the counter-based mask of kernels/dropout.
#include "core/layers/dropout.h"
#include <algorithm>
#include <functional>
#include "core/error.h"
#include "kernels/dropout.h"

namespace dpt {

Dropout::Dropout(double rate) : rate_(rate) {
  DPT_CHECK(rate >= 0 && rate < 1, "Dropout rate must be in [0, 1), got " << rate);
}

static kernels::DropoutKey key_for(const Context& ctx, const std::string& layer) {
  // The layer's name salts the seed, so two Dropout layers draw different masks.
  return {ctx.key.seed ^ kernels::mix64(std::hash<std::string>{}(layer)), ctx.key.epoch, ctx.key.step,
          ctx.key.row_offset};
}

void Dropout::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training && rate_ > 0;
  if (!last_training_) {
    std::copy(x.data(), x.data() + x.numel(), y.data());
    return;
  }
  const int64_t cols = shape_numel(in_);
  kernels::dropout_cpu(x.data(), y.data(), x.dim(0), cols, float(rate_), key_for(ctx, name_));
}

void Dropout::backward_cpu(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!last_training_) {
    std::copy(dy.data(), dy.data() + dy.numel(), dx->data());
    return;
  }
  kernels::dropout_cpu(dy.data(), dx->data(), dy.dim(0), shape_numel(in_), float(rate_), key_for(ctx, name_));
}

void Dropout::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  last_training_ = training && rate_ > 0;
  if (!last_training_) {
    copy_floats(y.data(), ctx.device, x.data(), ctx.device, x.numel(), ctx.cuda);
    return;
  }
  kernels::dropout_cuda(x.data(), y.data(), x.dim(0), shape_numel(in_), float(rate_), key_for(ctx, name_), stream(ctx));
}

void Dropout::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!last_training_) {
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, dy.numel(), ctx.cuda);
    return;
  }
  kernels::dropout_cuda(dy.data(), dx->data(), dy.dim(0), shape_numel(in_), float(rate_), key_for(ctx, name_),
                        stream(ctx));
}

}  // namespace dpt
