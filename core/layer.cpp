// Layer's shape/device checks and dispatch.
#include "core/layer.h"
#include <sstream>
#include "core/error.h"
#include "kernels/cuda_backend.h"

namespace dpt {

namespace {
constexpr Activation::Kind kActivations[] = {
    Activation::linear,   Activation::relu,  Activation::sigmoid,     Activation::tanh,
    Activation::softmax,  Activation::elu,   Activation::selu,        Activation::softplus,
    Activation::softsign, Activation::relu6, Activation::exponential, Activation::leaky_relu,
    Activation::gelu,     Activation::silu,  Activation::mish,        Activation::hard_silu};
}  // namespace

const char* const kActivationNames =
    "linear, relu, sigmoid, tanh, softmax, elu, selu, softplus, softsign, relu6, exponential, leaky_relu, gelu, "
    "silu (swish), mish, hard_silu (hard_swish)";

Activation activation_from_name(const std::string& n) {
  if (n.empty() || n == "None") return Activation::linear;
  if (n == "swish") return Activation::silu;  // Keras's other names for them (Keras 3 writes silu, hard_silu)
  if (n == "hard_swish") return Activation::hard_silu;
  for (Activation a : kActivations)
    if (n == activation_name(a)) return a;
  DPT_FAIL("unknown activation '" << n << "' (supported: " << kActivationNames << ")");
}

std::string activation_name(Activation a) {
  switch (a.kind) {
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
    case Activation::softmax: return "softmax";
    case Activation::elu: return "elu";
    case Activation::selu: return "selu";
    case Activation::softplus: return "softplus";
    case Activation::softsign: return "softsign";
    case Activation::relu6: return "relu6";
    case Activation::exponential: return "exponential";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::gelu: return "gelu";
    case Activation::silu: return "silu";
    case Activation::mish: return "mish";
    case Activation::hard_silu: return "hard_silu";
    default: return "linear";
  }
}

std::string activation_str(Activation a) {
  if (a.has_default_alpha()) return activation_name(a);
  std::ostringstream os;
  os << (a == Activation::leaky_relu ? "leaky_relu(negative_slope="
         : a == Activation::elu      ? "elu(alpha="
                                     : "relu(max_value=")
     << a.alpha << ")";
  return os.str();
}

std::unique_ptr<Layer> Layer::clone() const {
  auto c = make_clone();
  c->options_ = options_;
  c->refusals_ = refusals_;
  c->activity_ = activity_;
  return c;
}

std::vector<Layer::WeightOptions> Layer::param_options() const {
  std::vector<WeightOptions> out;
  for (const ParamSpec& p : params()) {
    auto it = options_.find(p.name);
    out.push_back(it != options_.end() ? it->second : WeightOptions{});
    if (!p.trainable) {
      out.back().regularizer.reset();
      out.back().constraint.reset();
    }
  }
  return out;
}

Shape Layer::build(const Shape& input) {
  in_ = input;
  out_ = compute_output_shape(input);
  for (int64_t d : out_)
    DPT_CHECK(d > 0, "layer '" << name_ << "' (" << class_name() << ") would produce an empty output "
                               << shape_str(out_) << " from input " << shape_str(input)
                               << ": the input is too small for its kernel, pool or cropping size");
  // Sizes beyond 64 bits (a config's huge units or filters) are errors naming the layer.
  auto check_size = [&](const Shape& s, const std::string& what) {
    try {
      shape_numel(s);
    } catch (const Error& e) {
      DPT_FAIL("layer '" << name_ << "' (" << class_name() << "): " << what << ": " << e.what());
    }
  };
  check_size(out_, "output");
  for (const ParamSpec& p : params()) check_size(p.shape, "weight '" + p.name + "'");
  return out_;
}

void Layer::bind(std::vector<float*> weights, std::vector<float*> grads) {
  w_ = std::move(weights);
  g_ = std::move(grads);
}

static void check_shape(const Layer& l, const char* what, const Tensor& t, const Shape& expect) {
  DPT_CHECK(t.rank() == expect.size() + 1 && std::equal(expect.begin(), expect.end(), t.shape().begin() + 1),
            "layer '" << l.name() << "' expects " << what << " of shape (batch, " << shape_str(expect).substr(1)
                      << " but got " << shape_str(t.shape()));
}

void Layer::forward(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  check_shape(*this, "input", x, in_);
  check_shape(*this, "output", y, out_);
  DPT_CHECK(x.dim(0) == y.dim(0), "layer '" << name_ << "': batch of input and output differ");
  DPT_CHECK(x.device().same_memory(ctx.device) && y.device().same_memory(ctx.device),
            "layer '" << name_ << "': tensors on " << x.device().str() << " but the replica runs on " << ctx.device.str());
  if (ctx.device.is_cpu())
    forward_cpu(ctx, x, y, training);
  else
    forward_cuda(ctx, x, y, training);
}

void Layer::backward(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  check_shape(*this, "output gradient", dy, out_);
  if (dx) check_shape(*this, "input gradient", *dx, in_);
  if (ctx.device.is_cpu())
    backward_cpu(ctx, x, y, dy, dx);
  else
    backward_cuda(ctx, x, y, dy, dx);
}

void Layer::prepare_pre_activation(Activation a, int64_t max_batch, Context& ctx) {
  if (!a.needs_input()) {
    pre_ = Buffer();
    return;
  }
  pre_ = Buffer();  // the old one first: a replica's memory holds one of them at a time
  pre_ = Buffer(ctx.device, size_t(max_batch * shape_numel(out_)) * sizeof(float));
}

float* Layer::pre_activation(Activation a, const Tensor& y) const {
  if (!a.needs_input()) return y.data();
  DPT_CHECK(size_t(y.numel()) * sizeof(float) <= pre_.bytes(),
            "layer '" << name_ << "': " << y.dim(0) << " rows exceed the prepared batch (or it was not prepared)");
  DPT_CHECK(pre_.device().same_memory(y.device()),
            "layer '" << name_ << "': prepared on " << pre_.device().str() << " but run on " << y.device().str());
  return static_cast<float*>(pre_.data());
}

void* Layer::stream(Context& ctx) {
  DPT_CHECK(ctx.cuda, "replica on " << ctx.device.str() << " has no CUDA stream");
  return kernels::cuda_stream_of(*ctx.cuda);
}

void Layer::forward_cuda(Context&, const Tensor&, Tensor&, bool) {
  DPT_FAIL(class_name() << " layer '" << name_ << "' has no CUDA implementation in this build");
}
void Layer::backward_cuda(Context&, const Tensor&, const Tensor&, Tensor&, Tensor*) {
  DPT_FAIL(class_name() << " layer '" << name_ << "' has no CUDA implementation in this build");
}

}  // namespace dpt
