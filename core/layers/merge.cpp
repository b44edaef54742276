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

void MergeLayer::forward_all(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool training) {
  training_ = training;
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

const Layer* MergeLayer::wire_input_masks(const std::vector<const Layer*>& sources, const std::string& model) {
  auto who = [](const Layer& l) { return "layer '" + l.name() + "' (" + l.class_name() + ")"; };
  const Layer* m = nullptr;
  for (const Layer* s : sources) {
    if (!s) continue;
    DPT_CHECK(!m || s == m, "model '" << model << "': " << who(*this) << " reads inputs carrying the masks of "
                                      << who(*m) << " and of " << who(*s)
                                      << "; Keras combines them, dptrain does not: drop one before the layer");
    m = s;
  }
  if (!m) return nullptr;
  const Shape steps(out_.begin(), out_.end() - 1);
  DPT_CHECK(keeps_masks() && steps == m->mask_shape(),
            "model '" << model << "': the mask of " << who(*m) << " reaches " << who(*this) << ", whose output "
                      << shape_str(out_) << " does not keep its steps " << shape_str(m->mask_shape())
                      << "; drop the mask before the layer");
  return m;
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
  // numpy's (and Keras's) broadcasting: shapes aligned on the right, an axis of 1 repeated.
  size_t rank = 0;
  for (const Shape& s : inputs) rank = std::max(rank, s.size());
  Shape out;
  for (size_t a = 0; a < rank; ++a) out.push_back(1);
  for (const Shape& s : inputs)
    for (size_t a = 0; a < s.size(); ++a) {
      int64_t& o = out[rank - s.size() + a];
      DPT_CHECK(s[a] == o || s[a] == 1 || o == 1, "layer '" << name_ << "' (" << class_name()
                                                            << ") cannot broadcast its inputs' shapes "
                                                            << shape_str(inputs[0]) << " and " << shape_str(s)
                                                            << " (each axis must match or be 1, as in numpy)");
      o = std::max(o, s[a]);
    }
  broadcasts_ = false;
  for (const Shape& s : inputs) broadcasts_ = broadcasts_ || s != out;
  return out;
}

int64_t ElementwiseMerge::workspace_elems(int64_t batch) const {
  return op_ == multiply && broadcasts_ ? batch * shape_numel(out_) : 0;  // a repeated input's full-size gradient
}

kernels::BroadcastMap ElementwiseMerge::map_of(size_t k, int64_t batch) const {
  int64_t large[kernels::BroadcastMap::kMaxRank], small[kernels::BroadcastMap::kMaxRank];
  const Shape& in = ins_[k];
  const int rank = int(out_.size()) + 1;
  large[0] = small[0] = batch;
  for (int a = 1; a < rank; ++a) {
    large[a] = out_[size_t(a - 1)];
    const int from = a - 1 - (rank - 1 - int(in.size()));  // in's axis, aligned on the right
    small[a] = from >= 0 ? in[size_t(from)] : 1;
  }
  return kernels::broadcast_map(large, small, rank);
}

// y = s * y + t * x, or y *= x, on the replica's device; x read through map where it repeats.
static void axpby(Context& ctx, bool cuda, float* y, float s, const float* x, float t, int64_t n,
                  const kernels::BroadcastMap* map = nullptr) {
  if (map && cuda)
    kernels::broadcast_axpby_cuda(y, s, x, t, *map, n, kernels::cuda_stream_of(*ctx.cuda));
  else if (map)
    kernels::broadcast_axpby_cpu(y, s, x, t, *map, n);
  else if (cuda)
    kernels::axpby_cuda(y, s, x, t, n, kernels::cuda_stream_of(*ctx.cuda));
  else
    kernels::axpby_cpu(y, s, x, t, n);
}
static void multiply_into(Context& ctx, bool cuda, float* y, const float* x, int64_t n,
                          const kernels::BroadcastMap* map = nullptr) {
  if (map && cuda)
    kernels::broadcast_multiply_into_cuda(y, x, *map, n, kernels::cuda_stream_of(*ctx.cuda));
  else if (map)
    kernels::broadcast_multiply_into_cpu(y, x, *map, n);
  else if (cuda)
    kernels::multiply_into_cuda(y, x, n, kernels::cuda_stream_of(*ctx.cuda));
  else
    kernels::multiply_into_cpu(y, x, n);
}
// small = s * (large summed onto the elements that repeat).
static void sum_onto(Context& ctx, bool cuda, float* small, float s, const float* large,
                     const kernels::BroadcastMap& map, int64_t m) {
  if (cuda)
    kernels::broadcast_sum_cuda(small, s, large, map, m, kernels::cuda_stream_of(*ctx.cuda));
  else
    kernels::broadcast_sum_cpu(small, s, large, map, m);
}

void ElementwiseMerge::forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) {
  const int64_t n = y.numel(), batch = y.dim(0);
  auto repeats = [&](size_t k) { return xs[k].numel() != n; };
  kernels::BroadcastMap map;
  if (repeats(0)) {
    map = map_of(0, batch);
    axpby(ctx, cuda, y.data(), 0.f, xs[0].data(), 1.f, n, &map);
  } else {
    copy_floats(y.data(), ctx.device, xs[0].data(), ctx.device, n, ctx.cuda);
  }
  for (size_t k = 1; k < xs.size(); ++k) {
    if (repeats(k)) map = map_of(k, batch);
    const kernels::BroadcastMap* m = repeats(k) ? &map : nullptr;
    if (op_ == multiply)
      multiply_into(ctx, cuda, y.data(), xs[k].data(), n, m);
    else
      axpby(ctx, cuda, y.data(), 1.f, xs[k].data(), op_ == subtract ? -1.f : 1.f, n, m);
  }
  if (op_ == average) {  // y /= the number of inputs (scaled in place: axpby's x may not alias y)
    const float s = 1.f / float(xs.size());
    if (cuda)
      kernels::scale_cuda(y.data(), n, s, *ctx.cuda);
    else
      for (int64_t i = 0; i < n; ++i) y.data()[i] *= s;
  }
}

void ElementwiseMerge::backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy,
                                       const std::vector<Tensor*>& dxs, bool cuda) {
  const int64_t n = dy.numel(), batch = dy.dim(0);
  auto repeats = [&](size_t k) { return xs[k].numel() != n; };
  for (size_t k = 0; k < dxs.size(); ++k) {
    Tensor* dx = dxs[k];
    if (!dx) continue;
    const float scale = op_ == average ? 1.f / float(xs.size()) : op_ == subtract && k == 1 ? -1.f : 1.f;
    if (op_ != multiply && repeats(k)) {  // dy summed over the axes where input k repeats
      sum_onto(ctx, cuda, dx->data(), scale, dy.data(), map_of(k, batch), dx->numel());
      continue;
    }
    // Multiply's gradient for input k is dy times the other inputs, at full size: written straight
    // into dx, or into the workspace first where input k repeats and is then summed onto dx.
    float* g = dx->data();
    if (repeats(k)) {
      DPT_CHECK(work_ && work_elems_ >= n, "layer '" << name_ << "': workspace not prepared");
      g = work_;
    }
    copy_floats(g, ctx.device, dy.data(), ctx.device, n, ctx.cuda);
    if (scale != 1.f) axpby(ctx, cuda, g, scale, dy.data(), 0.f, n);
    if (op_ == multiply) {
      kernels::BroadcastMap map;
      for (size_t j = 0; j < xs.size(); ++j) {
        if (j == k) continue;
        if (repeats(j)) map = map_of(j, batch);
        multiply_into(ctx, cuda, g, xs[j].data(), n, repeats(j) ? &map : nullptr);
      }
      if (repeats(k)) sum_onto(ctx, cuda, dx->data(), 1.f, g, map_of(k, batch), dx->numel());
    }
  }
}

// Keras's axis counts the batch as 0: a sample's axis d = axis - 1 (or rank + axis for negative).
Shape Concatenate::output_shape_of(const std::vector<Shape>& inputs) {
  const int64_t rank = int64_t(inputs[0].size());
  DPT_CHECK(axis_ != 0 && axis_ >= -rank && axis_ <= rank,
            "layer '" << name_ << "' (Concatenate) joins along a sample's axis (1 to " << rank << ", or -" << rank
                      << " to -1; 0 is the batch), got axis=" << axis_);
  dim_ = size_t(axis_ < 0 ? axis_ + rank : axis_ - 1);
  Shape out = inputs[0];
  out[dim_] = 0;
  for (const Shape& s : inputs) {
    bool same = s.size() == out.size();
    for (size_t a = 0; same && a < s.size(); ++a) same = a == dim_ || s[a] == out[a];
    DPT_CHECK(same, "layer '" << name_ << "' (Concatenate) needs inputs that differ along axis " << axis_
                              << " only, got " << shape_str(inputs[0]) << " and " << shape_str(s));
    out[dim_] += s[dim_];
  }
  return out;
}

// From the joined axis on, each sample's values of input k are one block of inner(k) columns of a
// (rows, inner(output)) array: joining along any axis is copying column blocks.
int64_t Concatenate::inner(const Shape& s) const { return shape_numel(Shape(s.begin() + dim_, s.end())); }

void Concatenate::forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) {
  const int64_t cols = inner(out_), rows = y.numel() / cols;
  int64_t off = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const int64_t c = inner(ins_[k]);
    if (cuda)
      kernels::copy_columns_cuda(xs[k].data(), c, 0, y.data(), cols, off, rows, c, stream(ctx));
    else
      kernels::copy_columns_cpu(xs[k].data(), c, 0, y.data(), cols, off, rows, c);
    off += c;
  }
}

void Concatenate::backward_all_on(Context& ctx, const std::vector<Tensor>&, Tensor& dy, const std::vector<Tensor*>& dxs,
                                  bool cuda) {
  const int64_t cols = inner(out_), rows = dy.numel() / cols;
  int64_t off = 0;
  for (size_t k = 0; k < dxs.size(); ++k) {
    const int64_t c = inner(ins_[k]);
    if (dxs[k]) {
      if (cuda)
        kernels::copy_columns_cuda(dy.data(), cols, off, dxs[k]->data(), c, 0, rows, c, stream(ctx));
      else
        kernels::copy_columns_cpu(dy.data(), cols, off, dxs[k]->data(), c, 0, rows, c);
    }
    off += c;
  }
}

Shape Extremum::output_shape_of(const std::vector<Shape>& inputs) {
  DPT_CHECK(inputs.size() <= size_t(kernels::kMaxExtremumInputs),
            "layer '" << name_ << "' (" << class_name() << ") takes at most " << kernels::kMaxExtremumInputs
                      << " inputs, got " << inputs.size());
  for (const Shape& s : inputs)
    DPT_CHECK(s == inputs[0], "layer '" << name_ << "' (" << class_name() << ") needs inputs of one shape, got "
                                        << shape_str(inputs[0]) << " and " << shape_str(s));
  return inputs[0];
}

void Extremum::forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) {
  kernels::ExtremumInputs in{};
  in.count = int(xs.size());
  in.is_max = max_;
  for (size_t k = 0; k < xs.size(); ++k) in.x[k] = xs[k].data();
  if (cuda)
    kernels::extremum_forward_cuda(in, y.data(), y.numel(), stream(ctx));
  else
    kernels::extremum_forward_cpu(in.x, in.count, max_, y.data(), y.numel());
}

void Extremum::backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                               bool cuda) {
  kernels::ExtremumInputs in{};
  in.count = int(xs.size());
  in.is_max = max_;
  for (size_t k = 0; k < xs.size(); ++k) in.x[k] = xs[k].data();
  for (size_t k = 0; k < dxs.size(); ++k) {
    if (!dxs[k]) continue;
    if (cuda)
      kernels::extremum_backward_cuda(in, dy.data(), int(k), dxs[k]->data(), dy.numel(), stream(ctx));
    else
      kernels::extremum_backward_cpu(in.x, in.count, max_, dy.data(), int(k), dxs[k]->data(), dy.numel());
  }
}

}  // namespace dpt
