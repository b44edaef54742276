// Dense on the CPU: one GEMM forward, two backward, bias and activation through kernels/.
#include "core/layers/dense.h"
#include <algorithm>
#include <cctype>
#include "core/error.h"
#include "kernels/activation.h"
#include "kernels/cuda_backend.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"

namespace dpt {

Dense::Dense(int64_t units, Activation act, bool use_bias) : units_(units), act_(act), use_bias_(use_bias) {
  DPT_CHECK(units >= 1, "Dense units must be >= 1, got " << units);
  DPT_CHECK(act.has_default_alpha(), "Dense's activation "
                                         << activation_str(act)
                                         << " has a setting of its own: Keras puts that in a layer after it");
}

std::unique_ptr<Layer> Dense::make_clone() const { return std::make_unique<Dense>(units_, act_, use_bias_); }

std::string Dense::config_str() const {
  return "units=" + std::to_string(units_) + ", activation=" + activation_str(act_);
}

Shape Dense::compute_output_shape(const Shape& in) {
  DPT_CHECK(!in.empty(), "Dense needs an input with at least one axis");
  fan_in_ = in.back();
  Shape out = in;
  out.back() = units_;
  return out;
}

std::vector<ParamSpec> Dense::params() const {
  std::vector<ParamSpec> p{{"kernel", {fan_in_, units_}, Init::glorot_uniform}};
  if (use_bias_) p.push_back({"bias", {units_}, Init::zeros});
  return p;
}

void Dense::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  const int64_t in = fan_in_, rows = x.numel() / in;
  float* z = pre_activation(act_, y);  // y itself, unless the activation's gradient needs z
  if (use_bias_) kernels::bias_fill_cpu(z, w_[1], rows, units_);
  kernels::gemm_cpu<float>(false, false, rows, units_, in, 1.f, x.data(), w_[0], use_bias_ ? 1.f : 0.f, z);
  kernels::activation_forward_cpu(act_, z, y.data(), rows, units_);
}

void Dense::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const int64_t in = fan_in_, rows = x.numel() / in;
  if (!fused_grad_)
    kernels::activation_backward_cpu(act_, pre_activation(act_, y), y.data(), dy.data(), dy.data(), rows, units_);
  kernels::gemm_cpu<float>(true, false, in, units_, rows, 1.f, x.data(), dy.data(), 1.f, g_[0]);
  if (use_bias_) kernels::bias_grad_cpu(dy.data(), g_[1], rows, units_);
  if (dx) kernels::gemm_cpu<float>(false, true, rows, in, units_, 1.f, dy.data(), w_[0], 0.f, dx->data());
}

void Dense::prepare(int64_t max_batch, Context& ctx) {
  if (ctx.cuda && use_bias_) kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(units_));
  prepare_pre_activation(act_, max_batch, ctx);
}

// The same three GEMMs through cuBLAS (gemm_cuda maps row-major onto column-major).
void Dense::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  const int64_t in = fan_in_, rows = x.numel() / in;
  float* z = pre_activation(act_, y);
  kernels::gemm_cuda(*ctx.cuda, false, false, rows, units_, in, 1.f, x.data(), w_[0], 0.f, z);
  const float* bias = use_bias_ ? w_[1] : nullptr;
  if (!act_.needs_input()) {
    kernels::bias_activation_cuda(act_, z, bias, rows, units_, *ctx.cuda);  // one pass
    return;
  }
  kernels::bias_activation_cuda(Activation::linear, z, bias, rows, units_, *ctx.cuda);  // z is kept for backward
  kernels::activation_forward_cuda(act_, z, y.data(), rows, units_, stream(ctx));
}

void Dense::backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  const int64_t in = fan_in_, rows = x.numel() / in;
  // The activation's gradient (unless the loss gave it) and the bias gradient in one pass; from the
  // kept z first where the activation's gradient needs it.
  Activation epilogue = fused_grad_ ? Activation::linear : act_;
  if (epilogue.needs_input()) {
    kernels::activation_backward_cuda(act_, pre_activation(act_, y), nullptr, dy.data(), dy.data(), rows, units_,
                                      stream(ctx));
    epilogue = Activation::linear;
  }
  kernels::activation_bias_grad_cuda(epilogue, y.data(), dy.data(), use_bias_ ? g_[1] : nullptr, rows, units_,
                                     *ctx.cuda);
  kernels::gemm_cuda(*ctx.cuda, true, false, in, units_, rows, 1.f, x.data(), dy.data(), 1.f, g_[0]);
  if (dx) kernels::gemm_cuda(*ctx.cuda, false, true, rows, in, units_, 1.f, dy.data(), w_[0], 0.f, dx->data());
}

}  // namespace dpt

namespace dpt {

namespace {

// An EinsumDense equation split into its letters, checked to be one matrix product (dense.h).
struct EinsumParts {
  std::string in, kernel, out;  // the letters, without "..."
  bool elided = false;
  int64_t units = 1;  // the new axes' sizes' product
};

EinsumParts parse_einsum(const std::string& eq, const std::vector<int64_t>& output_shape,
                         const std::string& bias_axes) {
  const std::string form =
      "dptrain runs EinsumDense equations that are one matrix product: the input's axes kept (the batch first), then "
      "the contracted ones; the kernel's contracted axes in the input's order, then the new ones; the output's the "
      "kept "
      "axes, then the new ones in the kernel's order (as 'abc,cd->abd', 'abc,cde->abde', 'abcd,cde->abe', "
      "'...b,bc->...c'); got '" +
      eq + "'";
  EinsumParts p;
  const size_t comma = eq.find(','), arrow = eq.find("->");
  DPT_CHECK(comma != std::string::npos && arrow != std::string::npos && comma < arrow,
            "EinsumDense equation '" << eq << "' is not of the form 'input,kernel->output'");
  p.in = eq.substr(0, comma);
  p.kernel = eq.substr(comma + 1, arrow - comma - 1);
  p.out = eq.substr(arrow + 2);
  if (p.in.rfind("...", 0) == 0 && p.out.rfind("...", 0) == 0) {
    p.elided = true;
    p.in = p.in.substr(3);
    p.out = p.out.substr(3);
  }
  for (const std::string* part : {&p.in, &p.kernel, &p.out})
    for (size_t k = 0; k < part->size(); ++k) {
      DPT_CHECK(std::isalpha(static_cast<unsigned char>((*part)[k])), form << " (an axis must be a letter)");
      DPT_CHECK(part->find((*part)[k], k + 1) == std::string::npos, form << " (a letter twice in one operand)");
    }
  auto has = [](const std::string& s, char ch) { return s.find(ch) != std::string::npos; };
  // The kept axes: a prefix of the input and of the output (not in the kernel); the contracted: the
  // rest of the input, the kernel's prefix; the new: the rest of the kernel, the rest of the output.
  size_t kept = 0;
  while (kept < p.in.size() && !has(p.kernel, p.in[kept])) ++kept;
  const std::string contracted = p.in.substr(kept),
                    fresh = p.kernel.substr(std::min(contracted.size(), p.kernel.size()));
  DPT_CHECK(p.kernel.compare(0, contracted.size(), contracted) == 0 && p.out == p.in.substr(0, kept) + fresh, form);
  for (char ch : fresh) DPT_CHECK(!has(p.in, ch), form);
  DPT_CHECK(p.elided || kept >= 1, form << " (the input's first axis is the batch, kept in the output)");
  // Keras's output_shape: the output's axes after the batch (or after the elided ones).
  const size_t named = p.elided ? p.out.size() : p.out.size() - 1;
  DPT_CHECK(output_shape.size() == named, "EinsumDense output_shape has " << output_shape.size() << " axes; equation '"
                                                                          << eq << "' has " << named
                                                                          << " after the batch");
  for (size_t k = 0; k < fresh.size(); ++k) {
    const int64_t size = output_shape[named - fresh.size() + k];
    DPT_CHECK(size >= 1, "EinsumDense output_shape must give the size of new axis '"
                             << fresh[k] << "' of equation '" << eq << "', got " << (size < 0 ? "None" : "0"));
    p.units *= size;
  }
  if (!bias_axes.empty()) {
    std::string sorted_bias = bias_axes, sorted_fresh = fresh;
    std::sort(sorted_bias.begin(), sorted_bias.end());
    std::sort(sorted_fresh.begin(), sorted_fresh.end());
    DPT_CHECK(sorted_bias == sorted_fresh, "EinsumDense bias_axes '" << bias_axes << "' of equation '" << eq
                                                                     << "': dptrain adds a bias over every new axis ('"
                                                                     << fresh << "') or none");
  }
  return p;
}

}  // namespace

EinsumDense::EinsumDense(std::string equation, std::vector<int64_t> output_shape, std::string bias_axes, Activation act)
    : Dense(parse_einsum(equation, output_shape, bias_axes).units, act, !bias_axes.empty()),
      equation_(std::move(equation)),
      bias_axes_(std::move(bias_axes)),
      output_shape_(std::move(output_shape)) {
  const EinsumParts p = parse_einsum(equation_, output_shape_, bias_axes_);
  in_spec_ = p.in;
  kernel_spec_ = p.kernel;
  out_spec_ = p.out;
  elided_ = p.elided;
}

std::unique_ptr<Layer> EinsumDense::make_clone() const {
  return std::make_unique<EinsumDense>(equation_, output_shape_, bias_axes_, act_);
}

std::string EinsumDense::config_str() const {
  std::string shape;
  for (int64_t v : output_shape_)
    shape += (shape.empty() ? "" : ", ") + (v < 0 ? std::string("None") : std::to_string(v));
  if (output_shape_.size() == 1) shape += ",";
  return "equation=" + equation_ + ", output_shape=(" + shape + ")" +
         (bias_axes_.empty() ? "" : ", bias_axes=" + bias_axes_) + ", activation=" + activation_str(act_);
}

Shape EinsumDense::compute_output_shape(const Shape& in) {
  // The input's named axes: all of a sample's but the batch, or its last ones after "...".
  const size_t named = elided_ ? in_spec_.size() : in_spec_.size() - 1;
  DPT_CHECK(elided_ ? in.size() >= named : in.size() == named,
            "EinsumDense equation '" << equation_ << "' names " << in_spec_.size() << " input axes (the batch's "
                                     << (elided_ ? "among the elided ones" : "first") << "); got samples of shape "
                                     << shape_str(in));
  const size_t lead = in.size() - named;  // the elided axes after the batch
  auto in_size = [&](char ch) {
    const size_t at = in_spec_.find(ch) - (elided_ ? 0 : 1);
    return in[lead + at];
  };
  Shape out(in.begin(), in.begin() + lead);
  fan_in_ = 1;
  kernel_shape_.clear();
  contracted_ = 0;
  for (char ch : kernel_spec_)
    if (in_spec_.find(ch) != std::string::npos) {
      fan_in_ *= in_size(ch);
      kernel_shape_.push_back(in_size(ch));
      ++contracted_;
    }
  const size_t first = elided_ ? 0 : 1;  // the output's axes output_shape gives
  for (size_t k = first; k < out_spec_.size(); ++k) {
    const char ch = out_spec_[k];
    const int64_t given = output_shape_[k - first];
    if (in_spec_.find(ch) != std::string::npos) {
      DPT_CHECK(given < 0 || given == in_size(ch), "EinsumDense equation '"
                                                       << equation_ << "': the input and output_shape differ at axis '"
                                                       << ch << "' (" << in_size(ch) << " and " << given << ")");
      out.push_back(in_size(ch));
    } else {
      out.push_back(given);
      kernel_shape_.push_back(given);
    }
  }
  return out;
}

std::vector<ParamSpec> EinsumDense::params() const {
  std::vector<ParamSpec> p{{"kernel", kernel_shape_, Init::glorot_uniform}};
  if (use_bias_) {
    // the new axes' sizes: the kernel's after the contracted ones
    p.push_back({"bias", Shape(kernel_shape_.begin() + contracted_, kernel_shape_.end()), Init::zeros});
  }
  return p;
}

}  // namespace dpt
