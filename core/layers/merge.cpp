// The merge layers on the CPU and CUDA through kernels/merge.
#include "core/layers/merge.h"
#include <algorithm>
#include "core/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/merge.h"

namespace dpt {

Shape MergeLayer::build_inputs(const std::vector<Shape>& inputs) {
  DPT_CHECK(inputs.size() >= 2,
            "layer '" << name_ << "' (" << class_name() << ") needs at least 2 inputs, got " << inputs.size());
  ins_ = inputs;
  in_ = inputs[0];
  out_ = output_shape_of(inputs);
  return out_;
}

static bool same_memory(const Tensor& t, const Context& ctx) { return t.device().same_memory(ctx.device); }

void MergeLayer::forward_all(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool) {
  DPT_CHECK(xs.size() == ins_.size(), "layer '" << name_ << "' takes " << ins_.size() << " inputs, got " << xs.size());
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    DPT_CHECK(x.rank() == ins_[k].size() + 1 && std::equal(ins_[k].begin(), ins_[k].end(), x.shape().begin() + 1) &&
                  x.dim(0) == y.dim(0) && same_memory(x, ctx),
              "layer '" << name_ << "' expects input " << k << " of shape (batch, " << shape_str(ins_[k]).substr(1)
                        << " on " << ctx.device.str() << " but got " << shape_str(x.shape()));
  }
  DPT_CHECK(y.rank() == out_.size() + 1 && std::equal(out_.begin(), out_.end(), y.shape().begin() + 1),
            "layer '" << name_ << "' expects output of shape (batch, " << shape_str(out_).substr(1) << " but got "
                      << shape_str(y.shape()));
  forward_all_on(ctx, xs, y, !ctx.device.is_cpu());
}

void MergeLayer::backward_all(Context& ctx, const std::vector<Tensor>& xs, const Tensor&, Tensor& dy,
                              const std::vector<Tensor*>& dxs) {
  DPT_CHECK(dxs.size() == ins_.size() && xs.size() == ins_.size(),
            "layer '" << name_ << "' takes " << ins_.size() << " inputs");
  for (size_t k = 0; k < dxs.size(); ++k)
    DPT_CHECK(!dxs[k] || dxs[k]->numel() == xs[k].numel(),
              "layer '" << name_ << "': the gradient for input " << k << " has the wrong size");
  backward_all_on(ctx, xs, dy, dxs, !ctx.device.is_cpu());
}

Shape MergeLayer::compute_output_shape(const Shape&) {
  DPT_FAIL("layer '" << name_ << "' (" << class_name() << ") takes several inputs: build it with build_inputs");
}
void MergeLayer::forward_cpu(Context&, const Tensor&, Tensor&, bool) {
  DPT_FAIL("layer '" << name_ << "' (" << class_name() << ") takes several inputs: call forward_all");
}
void MergeLayer::backward_cpu(Context&, const Tensor&, const Tensor&, Tensor&, Tensor*) {
  DPT_FAIL("layer '" << name_ << "' (" << class_name() << ") takes several inputs: call backward_all");
}

std::string ElementwiseMerge::class_name() const {
  return op_ == add ? "Add" : op_ == subtract ? "Subtract" : op_ == multiply ? "Multiply" : "Average";
}

std::string ElementwiseMerge::default_name() const {
  return op_ == add ? "add" : op_ == subtract ? "subtract" : op_ == multiply ? "multiply" : "average";
}

Shape ElementwiseMerge::output_shape_of(const std::vector<Shape>& inputs) {
  DPT_CHECK(op_ != subtract || inputs.size() == 2,
            "layer '" << name_ << "' (Subtract) takes exactly 2 inputs, got " << inputs.size());
  for (const Shape& s : inputs)
    DPT_CHECK(s == inputs[0], "layer '" << name_ << "' (" << class_name() << ") needs inputs of one shape, got "
                                        << shape_str(inputs[0]) << " and " << shape_str(s));
  return inputs[0];
}

// y = s * y + t * x, or y *= x, on the replica's device.
static void axpby(Context& ctx, bool cuda, float* y, float s, const float* x, float t, int64_t n) {
  if (cuda)
    kernels::axpby_cuda(y, s, x, t, n, kernels::cuda_stream_of(*ctx.cuda));
  else
    kernels::axpby_cpu(y, s, x, t, n);
}
static void multiply_into(Context& ctx, bool cuda, float* y, const float* x, int64_t n) {
  if (cuda)
    kernels::multiply_into_cuda(y, x, n, kernels::cuda_stream_of(*ctx.cuda));
  else
    kernels::multiply_into_cpu(y, x, n);
}

void ElementwiseMerge::forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) {
  const int64_t n = y.numel();
  copy_floats(y.data(), ctx.device, xs[0].data(), ctx.device, n, ctx.cuda);
  for (size_t k = 1; k < xs.size(); ++k) {
    if (op_ == multiply)
      multiply_into(ctx, cuda, y.data(), xs[k].data(), n);
    else
      axpby(ctx, cuda, y.data(), 1.f, xs[k].data(), op_ == subtract ? -1.f : 1.f, n);
  }
  if (op_ == average) axpby(ctx, cuda, y.data(), 1.f / float(xs.size()), xs[0].data(), 0.f, n);
}

void ElementwiseMerge::backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy,
                                       const std::vector<Tensor*>& dxs, bool cuda) {
  const int64_t n = dy.numel();
  for (size_t k = 0; k < dxs.size(); ++k) {
    Tensor* dx = dxs[k];
    if (!dx) continue;
    copy_floats(dx->data(), ctx.device, dy.data(), ctx.device, n, ctx.cuda);
    if (op_ == average || (op_ == subtract && k == 1))
      axpby(ctx, cuda, dx->data(), op_ == average ? 1.f / float(xs.size()) : -1.f, dy.data(), 0.f, n);
    if (op_ == multiply)  // the product of the other inputs
      for (size_t j = 0; j < xs.size(); ++j)
        if (j != k) multiply_into(ctx, cuda, dx->data(), xs[j].data(), n);
  }
}

Shape Concatenate::output_shape_of(const std::vector<Shape>& inputs) {
  DPT_CHECK(axis_ == -1 || axis_ == int64_t(inputs[0].size()),
            "layer '" << name_ << "' (Concatenate) joins along the last axis only (axis=-1 or " << inputs[0].size()
                      << " here), got axis=" << axis_);
  Shape out = inputs[0];
  out.back() = 0;
  for (const Shape& s : inputs) {
    DPT_CHECK(s.size() == out.size() && std::equal(s.begin(), s.end() - 1, out.begin()),
              "layer '" << name_ << "' (Concatenate) needs inputs that differ in the last axis only, got "
                        << shape_str(inputs[0]) << " and " << shape_str(s));
    out.back() += s.back();
  }
  return out;
}

void Concatenate::forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) {
  const int64_t cols = out_.back(), rows = y.numel() / cols;
  int64_t off = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const int64_t c = ins_[k].back();
    if (cuda)
      kernels::copy_columns_cuda(xs[k].data(), c, 0, y.data(), cols, off, rows, c, stream(ctx));
    else
      kernels::copy_columns_cpu(xs[k].data(), c, 0, y.data(), cols, off, rows, c);
    off += c;
  }
}

void Concatenate::backward_all_on(Context& ctx, const std::vector<Tensor>&, Tensor& dy, const std::vector<Tensor*>& dxs,
                                  bool cuda) {
  const int64_t cols = out_.back(), rows = dy.numel() / cols;
  int64_t off = 0;
  for (size_t k = 0; k < dxs.size(); ++k) {
    const int64_t c = ins_[k].back();
    if (dxs[k]) {
      if (cuda)
        kernels::copy_columns_cuda(dy.data(), cols, off, dxs[k]->data(), c, 0, rows, c, stream(ctx));
      else
        kernels::copy_columns_cpu(dy.data(), cols, off, dxs[k]->data(), c, 0, rows, c);
    }
    off += c;
  }
}

}  // namespace dpt
