// PReLU through kernels/prelu.h; alpha's gradient in column sums, then over the shared axes.
#include "core/layers/prelu.h"
#include <algorithm>
#include "core/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/elementwise.h"
#include "kernels/merge.h"
#include "kernels/prelu.h"

namespace dpt {

PReLU::PReLU(std::vector<int> shared_axes) : shared_(std::move(shared_axes)) {
  for (int a : shared_) DPT_CHECK(a >= 1, "PReLU's shared_axes are a sample's axes, counted from 1; got " << a);
}

std::string PReLU::config_str() const {
  if (shared_.empty()) return "";
  std::string s = "shared_axes=[";
  for (size_t k = 0; k < shared_.size(); ++k) s += (k ? ", " : "") + std::to_string(shared_[k]);
  return s + "]";
}

Shape PReLU::compute_output_shape(const Shape& in) {
  alpha_shape_ = in;
  for (int a : shared_) {
    DPT_CHECK(size_t(a) <= in.size(), "layer '" << name() << "' (PReLU) shares axis " << a << " of its input "
                                                << shape_str(in) << ", which has " << in.size() << " axes");
    alpha_shape_[size_t(a - 1)] = 1;
  }
  int64_t large[Shape::kMaxRank], small[Shape::kMaxRank];
  for (size_t k = 0; k < in.size(); ++k) {
    large[k] = in[k];
    small[k] = alpha_shape_[k];
  }
  map_ = kernels::broadcast_map(large, small, int(in.size()));
  repeats_ = !map_.identity();
  return in;
}

void PReLU::prepare(int64_t, Context& ctx) {
  const int64_t per = shape_numel(in_);
  sums_ = Buffer();
  if (repeats_) sums_ = Buffer(ctx.device, size_t(per + shape_numel(alpha_shape_)) * sizeof(float));
  if (ctx.cuda) kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(per));
}

void PReLU::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  kernels::prelu_forward_cpu(x.data(), w_[0], map_, shape_numel(in_), x.numel(), y.data());
}

void PReLU::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  kernels::prelu_forward_cuda(x.data(), w_[0], map_, shape_numel(in_), x.numel(), y.data(), stream(ctx));
}

// term: (batch, sample) of x dy where x < 0. alpha's gradient gains its column sums, summed again
// over the shared axes.
void PReLU::alpha_grad(Context& ctx, bool cuda, const float* term, int64_t batch) {
  const int64_t per = shape_numel(in_), m = shape_numel(alpha_shape_);
  float* cols = repeats_ ? static_cast<float*>(sums_.data()) : g_[0];
  if (repeats_) zero_floats(cols, ctx.device, per, ctx.cuda);
  if (cuda)
    kernels::bias_grad_cuda(term, cols, batch, per, *ctx.cuda);
  else
    kernels::bias_grad_cpu(term, cols, batch, per);
  if (!repeats_) return;
  float* alpha_sums = cols + per;
  if (cuda) {
    kernels::broadcast_sum_cuda(alpha_sums, 1.f, cols, map_, m, stream(ctx));
    kernels::add_into_cuda(g_[0], alpha_sums, m, stream(ctx));
  } else {
    kernels::broadcast_sum_cpu(alpha_sums, 1.f, cols, map_, m);
    kernels::add_into_cpu(g_[0], alpha_sums, m);
  }
}

void PReLU::backward_cpu(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  kernels::prelu_backward_cpu(x.data(), w_[0], map_, shape_numel(in_), x.numel(), dy.data(),
                              dx ? dx->data() : static_cast<float*>(nullptr));
  alpha_grad(ctx, false, dy.data(), x.dim(0));
}

void PReLU::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  kernels::prelu_backward_cuda(x.data(), w_[0], map_, shape_numel(in_), x.numel(), dy.data(), dx ? dx->data() : nullptr,
                               stream(ctx));
  alpha_grad(ctx, true, dy.data(), x.dim(0));
}

}  // namespace dpt
