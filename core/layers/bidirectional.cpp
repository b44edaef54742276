// Bidirectional on the CPU and on CUDA: the sublayers' own steps, then the merge (kernels/merge).
#include "core/layers/bidirectional.h"
#include <algorithm>
#include "core/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/gemm.h"
#include "kernels/merge.h"

namespace dpt {

MergeMode merge_mode_from_name(const std::string& name) {
  if (name == "concat") return MergeMode::concat;
  if (name == "sum") return MergeMode::sum;
  if (name == "ave") return MergeMode::ave;
  if (name == "mul") return MergeMode::mul;
  DPT_FAIL("Invalid merge mode. Received: '" << name
                                             << "'. Merge mode should be one of {'sum', 'mul', 'concat', 'ave'}");
}

std::string merge_mode_name(MergeMode m) {
  switch (m) {
    case MergeMode::concat: return "concat";
    case MergeMode::sum: return "sum";
    case MergeMode::ave: return "ave";
    case MergeMode::mul: return "mul";
  }
  return "?";
}

namespace {
const char* yes_no(bool b) { return b ? "True" : "False"; }
std::string remove_prefix(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0 ? s.substr(prefix.size()) : s;
}
}  // namespace

Bidirectional::Bidirectional(std::unique_ptr<Recurrent> layer, MergeMode mode, std::unique_ptr<Recurrent> backward)
    : fwd_(std::move(layer)), mode_(mode), backward_given_(backward != nullptr) {
  DPT_CHECK(fwd_, "Bidirectional needs a recurrent layer to wrap");
  bwd_ = backward_given_ ? std::move(backward) : fwd_->reversed();
  const RecurrentConfig &f = fwd_->config(), &b = bwd_->config();
  DPT_CHECK(f.go_backwards != b.go_backwards,
            "Bidirectional: the forward layer and the backward layer should have different `go_backwards` values. "
            "Received: forward_layer.go_backwards="
                << yes_no(f.go_backwards) << ", backward_layer.go_backwards=" << yes_no(b.go_backwards));
  DPT_CHECK(f.return_sequences == b.return_sequences,
            "Bidirectional: the forward layer and the backward layer should have the same `return_sequences`. "
            "Received: forward_layer.return_sequences="
                << yes_no(f.return_sequences) << ", backward_layer.return_sequences=" << yes_no(b.return_sequences));
  DPT_CHECK(mode_ == MergeMode::concat || f.units == b.units,
            "Bidirectional: merge_mode='" << merge_mode_name(mode_)
                                          << "' combines the two layers' outputs element by element, so their units "
                                             "must match; got "
                                          << f.units << " forward and " << b.units << " backward");
  bwd_->set_flip_output(true);
  fwd_->set_zero_output_for_mask(f.return_sequences, true);  // as Keras forces it
  bwd_->set_zero_output_for_mask(b.return_sequences, true);
  if (!fwd_->name().empty()) name_after(fwd_->name());
}

void Bidirectional::name_after(std::string wrapped) {  // a copy: it may be fwd_'s name
  fwd_->set_name("forward_" + remove_prefix(wrapped, "forward_"));
  if (!backward_given_) bwd_->set_name("backward_" + remove_prefix(wrapped, "backward_"));
}

void Bidirectional::name_sublayers(const std::function<std::string(const std::string&)>& next_name) {
  if (fwd_->name().empty()) name_after(next_name(fwd_->default_name()));
  if (bwd_->name().empty()) bwd_->set_name(next_name(bwd_->default_name()));
}

std::unique_ptr<Layer> Bidirectional::make_clone() const {
  auto copy = [](const Recurrent& r) {
    return std::unique_ptr<Recurrent>(static_cast<Recurrent*>(r.clone().release()));
  };
  auto c = std::make_unique<Bidirectional>(copy(*fwd_), mode_, backward_given_ ? copy(*bwd_) : nullptr);
  c->fwd_->set_name(fwd_->name());
  c->bwd_->set_name(bwd_->name());
  return c;
}

bool Bidirectional::mirrored() const {
  const RecurrentConfig &f = fwd_->config(), &b = bwd_->config();
  return fwd_->class_name() == bwd_->class_name() && f.units == b.units && f.use_bias == b.use_bias &&
         f.return_sequences == b.return_sequences && f.go_backwards != b.go_backwards;
}

std::string Bidirectional::config_str() const {
  std::string s = "merge_mode=" + merge_mode_name(mode_) + ", " + fwd_->class_name() + "(" + fwd_->config_str() + ")";
  if (!mirrored()) s += ", backward_layer=" + bwd_->class_name() + "(" + bwd_->config_str() + ")";
  return s;
}

Shape Bidirectional::compute_output_shape(const Shape& in) {
  fwd_->build(in);
  bwd_->build(in);
  Shape out = fwd_->output_shape();
  if (mode_ == MergeMode::concat) out[out.size() - 1] += bwd_->output_shape()[out.size() - 1];
  return out;
}

std::vector<Layer::WeightOptions> Bidirectional::param_options() const {
  std::vector<WeightOptions> out = fwd_->param_options(), b = bwd_->param_options();
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::vector<Layer::Refusal> Bidirectional::training_refusals() const {
  std::vector<Refusal> out = Layer::training_refusals();
  for (const Recurrent* sub : {fwd_.get(), bwd_.get()})
    for (const Refusal& r : sub->training_refusals()) out.push_back(r);
  return out;
}

std::vector<ParamSpec> Bidirectional::params() const {
  std::vector<ParamSpec> out;
  for (const auto& [sub, attr] : {std::pair<const Recurrent*, const char*>{fwd_.get(), "forward_layer"},
                                  std::pair<const Recurrent*, const char*>{bwd_.get(), "backward_layer"}})
    for (ParamSpec p : sub->params()) {
      p.scope = sub->name() + "/" + p.scope;
      p.keras3_path = sub->name() + "/" + p.keras3_path;
      p.keras3_group = std::string(attr) + "/" + p.keras3_group;
      out.push_back(std::move(p));
    }
  return out;
}

void Bidirectional::bind(std::vector<float*> weights, std::vector<float*> grads) {
  const size_t nf = fwd_->params().size();
  DPT_CHECK(weights.size() == nf + bwd_->params().size() && grads.size() == weights.size(),
            "layer '" << name_ << "': bound " << weights.size() << " weights, expected " << nf + bwd_->params().size());
  fwd_->bind({weights.begin(), weights.begin() + long(nf)}, {grads.begin(), grads.begin() + long(nf)});
  bwd_->bind({weights.begin() + long(nf), weights.end()}, {grads.begin() + long(nf), grads.end()});
  Layer::bind(std::move(weights), std::move(grads));
}

void Bidirectional::prepare(int64_t max_batch, Context& ctx) {
  for (Recurrent* sub : {fwd_.get(), bwd_.get()}) {
    sub->set_input_grad_needed(input_grad_needed_);
    sub->prepare(max_batch, ctx);
  }
  const int64_t n = std::max<int64_t>(max_batch, 1);
  yf_ = Buffer();  // the old ones first: a replica's memory holds one of each at a time
  yb_ = Buffer();
  yf_ = Buffer(ctx.device, size_t(n * fwd_elems()) * sizeof(float));
  yb_ = Buffer(ctx.device, size_t(n * bwd_elems()) * sizeof(float));
  max_rows_ = n;
}

// Backward's scratch: the sublayers' output gradients and the backward layer's input gradient
// (added to the forward layer's), then each sublayer's own (they may run at once).
int64_t Bidirectional::workspace_elems(int64_t batch) const {
  return batch * (fwd_elems() + bwd_elems() + shape_numel(in_)) + fwd_->workspace_elems(batch) +
         bwd_->workspace_elems(batch);
}

namespace {
// The merge's operations on the replica's device.
struct MergeOps {
  Context& ctx;
  bool gpu;
  void* stream() const { return kernels::cuda_stream_of(*ctx.cuda); }
  void copy(float* dst, const float* src, int64_t count) const {
    copy_floats(dst, ctx.device, src, ctx.device, count, gpu ? ctx.cuda : nullptr);
  }
  void add_into(float* y, const float* x, int64_t count) const {
    if (gpu)
      kernels::add_into_cuda(y, x, count, stream());
    else
      kernels::add_into_cpu(y, x, count);
  }
  void axpby(float* y, float s, const float* x, float t, int64_t count) const {
    if (gpu)
      kernels::axpby_cuda(y, s, x, t, count, stream());
    else
      kernels::axpby_cpu(y, s, x, t, count);
  }
  void multiply_into(float* y, const float* x, int64_t count) const {
    if (gpu)
      kernels::multiply_into_cuda(y, x, count, stream());
    else
      kernels::multiply_into_cpu(y, x, count);
  }
  void copy_columns(const float* src, int64_t src_cols, int64_t src_off, float* dst, int64_t dst_cols, int64_t dst_off,
                    int64_t rows, int64_t cols) const {
    if (gpu)
      kernels::copy_columns_cuda(src, src_cols, src_off, dst, dst_cols, dst_off, rows, cols, stream());
    else
      kernels::copy_columns_cpu(src, src_cols, src_off, dst, dst_cols, dst_off, rows, cols);
  }
};

float* floats(const Buffer& b) { return static_cast<float*>(b.data()); }

Tensor batch_view(float* data, const Shape& sample, int64_t n, Device device) {
  Shape s = sample;
  s.insert_front(n);
  return Tensor::view(data, s, device);
}

// Runs direction(0) (the forward layer) and direction(1) (the backward one). On the CPU, with 2 or
// more threads, at once, a thread each: each writes only its own buffers, and a step's GEMMs (at
// batch 32, (32 x units) by (units x 4 units)) are too small to gain from splitting. On a GPU, one
// after the other on the replica's stream.
template <typename F>
void both_directions(const Context& ctx, F& direction) {
  if (ctx.device.is_cuda()) {
    direction(0);
    direction(1);
  } else {
    kernels::run_tasks_cpu(
        2, ctx.threads, [](void* f, int d) { (*static_cast<F*>(f))(d); }, &direction);
  }
}
}  // namespace

void Bidirectional::run_forward(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  const int64_t n = x.dim(0);
  DPT_CHECK(n <= max_rows_,
            "Bidirectional '" << name_ << "': a batch of " << n << " exceeds the prepared " << max_rows_);
  rows_ = n;
  Tensor yf = batch_view(floats(yf_), fwd_->output_shape(), n, ctx.device);
  Tensor yb = batch_view(floats(yb_), bwd_->output_shape(), n, ctx.device);
  auto direction = [&](int d) {
    if (d == 0)
      fwd_->forward(ctx, x, yf, training);
    else
      bwd_->forward(ctx, x, yb, training);  // its sequence already flipped back (set_flip_output)
  };
  both_directions(ctx, direction);
  const MergeOps op{ctx, ctx.device.is_cuda()};
  const int64_t count = yf.numel();
  switch (mode_) {
    case MergeMode::concat: {
      const int64_t uf = fwd_->output_shape().back(), ub = bwd_->output_shape().back(), rows = count / uf;
      op.copy_columns(yf.data(), uf, 0, y.data(), uf + ub, 0, rows, uf);
      op.copy_columns(yb.data(), ub, 0, y.data(), uf + ub, uf, rows, ub);
      break;
    }
    case MergeMode::sum:
      op.copy(y.data(), yf.data(), count);
      op.add_into(y.data(), yb.data(), count);
      break;
    case MergeMode::ave:  // 0.5 f + 0.5 b: each product exact, so the same float as Keras's (f + b) / 2
      op.copy(y.data(), yf.data(), count);
      op.axpby(y.data(), 0.5f, yb.data(), 0.5f, count);
      break;
    case MergeMode::mul:
      op.copy(y.data(), yf.data(), count);
      op.multiply_into(y.data(), yb.data(), count);
      break;
  }
}

void Bidirectional::run_backward(Context& ctx, const Tensor& x, const Tensor& dy, Tensor* dx) {
  const int64_t n = rows_;
  DPT_CHECK(dy.dim(0) == n,
            "Bidirectional '" << name_ << "': backward for " << dy.dim(0) << " rows after a forward of " << n);
  const MergeOps op{ctx, ctx.device.is_cuda()};
  const int64_t cf = n * fwd_elems(), cb = n * bwd_elems();
  float* dyf = work_;
  float* dyb = dyf + cf;
  float* dx2 = dyb + cb;
  float* sub_work = dx2 + n * shape_numel(in_);
  const int64_t fwd_work = fwd_->workspace_elems(n), bwd_work = bwd_->workspace_elems(n);
  DPT_CHECK(work_elems_ - (sub_work - work_) >= fwd_work + bwd_work,
            "Bidirectional '" << name_ << "': the workspace is smaller than prepared");
  const float* yf = floats(yf_);
  const float* yb = floats(yb_);
  switch (mode_) {
    case MergeMode::concat: {
      const int64_t uf = fwd_->output_shape().back(), ub = bwd_->output_shape().back(), rows = cf / uf;
      op.copy_columns(dy.data(), uf + ub, 0, dyf, uf, 0, rows, uf);
      op.copy_columns(dy.data(), uf + ub, uf, dyb, ub, 0, rows, ub);
      break;
    }
    case MergeMode::sum:
      op.copy(dyf, dy.data(), cf);
      op.copy(dyb, dy.data(), cf);
      break;
    case MergeMode::ave:  // d/df of (f + b) / 2
      op.copy(dyf, dy.data(), cf);
      op.axpby(dyf, 0.5f, dy.data(), 0.f, cf);
      op.copy(dyb, dyf, cf);
      break;
    case MergeMode::mul:
      op.copy(dyf, dy.data(), cf);
      op.multiply_into(dyf, yb, cf);
      op.copy(dyb, dy.data(), cf);
      op.multiply_into(dyb, yf, cf);
      break;
  }
  fwd_->set_workspace(sub_work, fwd_work);
  bwd_->set_workspace(sub_work + fwd_work, bwd_work);
  Tensor tdyf = batch_view(dyf, fwd_->output_shape(), n, ctx.device);
  Tensor tdyb = batch_view(dyb, bwd_->output_shape(), n, ctx.device);
  const Tensor tyf = batch_view(floats(yf_), fwd_->output_shape(), n, ctx.device);
  const Tensor tyb = batch_view(floats(yb_), bwd_->output_shape(), n, ctx.device);
  Tensor tdx2 = batch_view(dx2, in_, n, ctx.device);
  auto direction = [&](int d) {
    if (d == 0)
      fwd_->backward(ctx, x, tyf, tdyf, dx);
    else
      bwd_->backward(ctx, x, tyb, tdyb, dx ? &tdx2 : nullptr);
  };
  both_directions(ctx, direction);
  if (dx) op.add_into(dx->data(), dx2, dx->numel());  // the two layers' input gradients
}

}  // namespace dpt
