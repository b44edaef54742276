// Identity, ActivityRegularization, RepeatVector and Permute: copies, and gathers through strides.
#include "core/layers/reshaping.h"
#include <algorithm>
#include <cmath>
#include <sstream>
#include "core/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/merge.h"

namespace dpt {

ActivityRegularization::ActivityRegularization(double l1, double l2) : l1_(l1), l2_(l2) {
  DPT_CHECK(l1 >= 0 && l2 >= 0 && std::isfinite(l1) && std::isfinite(l2),
            "ActivityRegularization's l1 and l2 must be numbers >= 0, got l1=" << l1 << ", l2=" << l2);
  set_activity_regularizer(Regularizer{"L1L2", l1, l2});
}

std::string ActivityRegularization::config_str() const {
  std::ostringstream s;
  s << "l1=" << l1_ << ", l2=" << l2_;
  return s.str();
}

// y = x read through map (n values), or small = the sum of large onto it (m values).
static void gather(Context& ctx, bool cuda, float* y, const float* x, const kernels::BroadcastMap& map, int64_t n) {
  if (cuda)
    kernels::broadcast_axpby_cuda(y, 0.f, x, 1.f, map, n, kernels::cuda_stream_of(*ctx.cuda));
  else
    kernels::broadcast_axpby_cpu(y, 0.f, x, 1.f, map, n);
}

RepeatVector::RepeatVector(int64_t n) : n_(n) {
  DPT_CHECK(n >= 1, "RepeatVector's n must be an integer >= 1, got " << n);
}

Shape RepeatVector::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 1,
            "layer '" << name() << "' (RepeatVector) expects inputs of shape (features,), got " << shape_str(in));
  return {n_, in[0]};
}

kernels::BroadcastMap RepeatVector::map(int64_t batch) const {
  const int64_t large[3] = {batch, n_, in_[0]}, small[3] = {batch, 1, in_[0]};
  return kernels::broadcast_map(large, small, 3);
}

void RepeatVector::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool) {
  gather(ctx, false, y.data(), x.data(), map(x.dim(0)), y.numel());
}

void RepeatVector::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  gather(ctx, true, y.data(), x.data(), map(x.dim(0)), y.numel());
}

void RepeatVector::backward_cpu(Context&, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) kernels::broadcast_sum_cpu(dx->data(), 1.f, dy.data(), map(x.dim(0)), dx->numel());
}

void RepeatVector::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx)
    kernels::broadcast_sum_cuda(dx->data(), 1.f, dy.data(), map(x.dim(0)), dx->numel(),
                                kernels::cuda_stream_of(*ctx.cuda));
}

bool is_permutation_of_axes(const std::vector<int>& dims) {
  std::vector<int> sorted = dims;
  std::sort(sorted.begin(), sorted.end());
  bool ok = !dims.empty() && dims.size() <= Shape::kMaxRank;
  for (size_t k = 0; ok && k < sorted.size(); ++k) ok = sorted[k] == int(k) + 1;
  return ok;
}

Permute::Permute(std::vector<int> dims) : dims_(std::move(dims)) {
  DPT_CHECK(is_permutation_of_axes(dims_), "Permute's dims must be a permutation of 1.." << dims_.size()
                                                                                         << " (the sample's axes), got "
                                                                                         << config_str().substr(5));
}

std::string Permute::config_str() const {
  std::string s = "dims=(";
  for (size_t k = 0; k < dims_.size(); ++k) s += (k ? ", " : "") + std::to_string(dims_[k]);
  return s + (dims_.size() == 1 ? ",)" : ")");
}

Shape Permute::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == dims_.size(), "layer '" << name() << "' (Permute) has " << config_str() << " for "
                                                 << dims_.size() << " axes, but its input " << shape_str(in) << " has "
                                                 << in.size());
  Shape out;
  for (int d : dims_) out.push_back(in[size_t(d - 1)]);
  return out;
}

kernels::BroadcastMap Permute::gather(int64_t batch, const Shape& from, const std::vector<int>& to_axes) {
  kernels::BroadcastMap m;
  int64_t stride[Shape::kMaxRank];
  int64_t s = 1;
  for (size_t a = from.size(); a-- > 0;) {
    stride[a] = s;
    s *= from[a];
  }
  m.rank = int(to_axes.size()) + 1;
  m.dim[0] = batch;
  m.stride[0] = s;
  for (size_t k = 0; k < to_axes.size(); ++k) {
    m.dim[k + 1] = from[size_t(to_axes[k])];
    m.stride[k + 1] = stride[to_axes[k]];
  }
  return m;
}

// Forward: the output's axis k is the input's dims[k] - 1. Back: the input's axis j is the
// output's axis where dims names j.
void Permute::move(Context& ctx, bool cuda, const float* from, float* to, int64_t batch, bool back) const {
  std::vector<int> axes(dims_.size());
  for (size_t k = 0; k < dims_.size(); ++k) {
    if (back)
      axes[size_t(dims_[k] - 1)] = int(k);
    else
      axes[k] = dims_[k] - 1;
  }
  const kernels::BroadcastMap m = gather(batch, back ? out_ : in_, axes);
  dpt::gather(ctx, cuda, to, from, m, batch * shape_numel(in_));
}

void Permute::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool) {
  move(ctx, false, x.data(), y.data(), x.dim(0), false);
}
void Permute::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  move(ctx, true, x.data(), y.data(), x.dim(0), false);
}
void Permute::backward_cpu(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) move(ctx, false, dy.data(), dx->data(), x.dim(0), true);
}
void Permute::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) move(ctx, true, dy.data(), dx->data(), x.dim(0), true);
}

}  // namespace dpt
