// LayerNormalization, RMSNormalization and GroupNormalization through kernels/layernorm, on the CPU
// and CUDA.
#include "core/layers/layer_norm.h"
#include <algorithm>
#include <sstream>
#include "core/error.h"
#include "core/strings.h"
#include "kernels/cuda_backend.h"
#include "kernels/elementwise.h"
#include "kernels/layernorm.h"

namespace dpt {

LayerNormalization::LayerNormalization(LayerNormConfig cfg) : cfg_(std::move(cfg)) {
  DPT_CHECK(!cfg_.axis.empty(), class_name() << " needs at least one axis to normalize over");
  DPT_CHECK(cfg_.groups >= -1, "GroupNormalization groups must be >= 1 (or -1: one per channel), got " << cfg_.groups);
  DPT_CHECK(cfg_.groups == 0 || (cfg_.axis.size() == 1 && !cfg_.rms),
            "GroupNormalization takes its groups along one axis, the last (axis=-1)");
  DPT_CHECK(cfg_.epsilon > 0, class_name() << " epsilon must be > 0, got " << cfg_.epsilon);
  if (cfg_.rms) cfg_.center = false, cfg_.scale = true;
}

std::string LayerNormalization::config_str() const {
  std::ostringstream os;
  if (cfg_.groups != 0) os << "groups=" << cfg_.groups << ", ";
  os << "axis=" << one_or_list_str(cfg_.axis) << ", epsilon=" << cfg_.epsilon;
  if (!cfg_.rms && !cfg_.center) os << ", center=False";
  if (!cfg_.rms && !cfg_.scale) os << ", scale=False";
  return os.str();
}

// The axes, counted as Keras does (the batch is 0), must be the input's last ones: each sample's
// normalized elements are then one contiguous row (GroupNormalization: its one axis is the last,
// whose channels it splits into groups).
Shape LayerNormalization::compute_output_shape(const Shape& in) {
  const int64_t rank = int64_t(in.size());
  const std::string who = class_name() + " '" + name_ + "'";
  std::vector<int64_t> axes;
  for (int64_t a : cfg_.axis) {
    DPT_CHECK(a != 0 && a >= -rank && a <= rank, who << ": axis " << a << " is out of range for its input "
                                                     << shape_str(in) << " (a sample's axes are 1 to " << rank
                                                     << ", or -" << rank << " to -1; 0 is the batch)");
    axes.push_back(a < 0 ? a + rank + 1 : a);
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  const int64_t first = rank - int64_t(axes.size()) + 1;
  for (size_t i = 0; i < axes.size(); ++i)
    DPT_CHECK(axes[i] == first + int64_t(i),
              who << ": axis " << one_or_list_str(cfg_.axis) << " of its input " << shape_str(in)
                  << " is not supported: dptrain normalizes over a sample's last axes (-1, or [" << rank - 1 << ", "
                  << rank << "], ...), which must include the last");
  params_shape_ = Shape(in.begin() + (first - 1), in.end());
  if (cfg_.groups != 0) {  // gamma and beta per channel; the channels split into groups
    const int64_t C = in.back();
    if (cfg_.groups == -1) cfg_.groups = C;
    DPT_CHECK(cfg_.groups <= C && C % cfg_.groups == 0,
              who << ": " << cfg_.groups << " groups must divide its input's " << C << " channels");
  }
  return in;
}

std::vector<ParamSpec> LayerNormalization::params() const {
  if (cfg_.rms) return {{"scale", params_shape_, Init::ones}};
  std::vector<ParamSpec> p;
  if (cfg_.scale) p.push_back({"gamma", params_shape_, Init::ones});
  if (cfg_.center) p.push_back({"beta", params_shape_, Init::zeros});
  return p;
}

LayerNormalization::Weights LayerNormalization::weights() const {
  Weights w{nullptr, nullptr, nullptr, nullptr};
  size_t i = 0;
  if (cfg_.scale) {
    w.gamma = w_[i];
    w.dgamma = g_.empty() ? nullptr : g_[i];
    ++i;
  }
  if (cfg_.center) {
    w.beta = w_[i];
    w.dbeta = g_.empty() ? nullptr : g_[i];
  }
  return w;
}

kernels::RowLayout LayerNormalization::layout(int64_t n) const {
  kernels::RowLayout L;
  if (cfg_.groups > 0) {  // a sample's (positions, channels), the channels in groups
    L.positions = shape_numel(in_) / in_.back();
    L.groups = cfg_.groups;
    L.cg = in_.back() / cfg_.groups;
    L.rows = n * cfg_.groups;
  } else {  // one row a run of the normalized axes
    L.cg = shape_numel(params_shape_);
    L.rows = n * (shape_numel(in_) / L.cg);
  }
  return L;
}

void LayerNormalization::prepare(int64_t max_batch, Context& ctx) {
  const kernels::RowLayout L = layout(max_batch);
  max_rows_ = L.rows;
  stats_.clear();
  device_stats_ = Buffer();
  if (ctx.device.is_cuda()) {
    device_stats_ = Buffer(ctx.device, size_t(2 * std::max<int64_t>(max_rows_, 1)) * sizeof(float));
    kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(2 * L.channels()));
    return;
  }
  stats_.assign(size_t(2 * std::max<int64_t>(max_rows_, 1)), 0.f);
  sums_.assign(size_t(2 * L.channels()), 0.0);
}

void LayerNormalization::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  const kernels::RowLayout L = layout(x.dim(0));
  DPT_CHECK(L.rows <= max_rows_, class_name()
                                     << " '" << name_ << "': " << L.rows << " rows exceed the prepared " << max_rows_);
  const Weights w = weights();
  kernels::rownorm_forward_cpu(!cfg_.rms, cfg_.epsilon, L, x.data(), w.gamma, w.beta, y.data(), stats_.data(),
                               stats_.data() + max_rows_);
}

void LayerNormalization::backward_cpu(Context&, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  const Weights w = weights();
  kernels::rownorm_backward_cpu(!cfg_.rms, layout(x.dim(0)), x.data(), dy.data(), w.gamma, stats_.data(),
                                stats_.data() + max_rows_, dx ? dx->data() : nullptr, w.dgamma, w.dbeta, sums_.data());
}

void LayerNormalization::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  const kernels::RowLayout L = layout(x.dim(0));
  DPT_CHECK(L.rows <= max_rows_, class_name()
                                     << " '" << name_ << "': " << L.rows << " rows exceed the prepared " << max_rows_);
  const Weights w = weights();
  auto* st = static_cast<float*>(device_stats_.data());
  kernels::rownorm_forward_cuda(!cfg_.rms, cfg_.epsilon, L, x.data(), w.gamma, w.beta, y.data(), st, st + max_rows_,
                                stream(ctx));
}

void LayerNormalization::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  const Weights w = weights();
  auto* st = static_cast<float*>(device_stats_.data());
  kernels::rownorm_backward_cuda(!cfg_.rms, layout(x.dim(0)), x.data(), dy.data(), w.gamma, st, st + max_rows_,
                                 dx ? dx->data() : nullptr, w.dgamma, w.dbeta, *ctx.cuda);
}

}  // namespace dpt
