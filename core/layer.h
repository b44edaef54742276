// Layer: one Keras layer. Shapes exclude the batch dimension. forward/backward are non-virtual:
// they check shapes and devices, then dispatch to the device's implementation (a missing one is an
// error, never a silent fallback). Parameter gradients accumulate (+=); input gradients are
// overwritten. Weights and gradients are views into the model's two arenas.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include "core/context.h"
#include "core/tensor.h"
#include "kernels/activation_math.h"
#include "kernels/optimizer_math.h"

namespace dpt {

using kernels::Activation;
Activation activation_from_name(const std::string& name);  // Keras names; throws on unknown
extern const char* const kActivationNames;                 // the names it takes, for messages
std::string activation_name(Activation a);                 // its Keras name, without its setting
std::string activation_str(Activation a);  // for listings: the name, and a setting other than Keras's default

// Keras's initializers: glorot_uniform, zeros, ones, "uniform" (RandomUniform(-0.05, 0.05),
// Embedding's default), orthogonal (a recurrent kernel's), and lstm_bias (zeros, the forget gate's
// quarter [units, 2 units) at 1: LSTM's unit_forget_bias).
enum class Init { glorot_uniform, zeros, ones, uniform, orthogonal, lstm_bias };

// Keras's weight regularizers (kernel_regularizer=L2(0.01), ...): the loss gains
// l1 * sum(|w|) + l2 * sum(w^2) for the weight, and its gradient l1 * sign(w) + 2 * l2 * w.
// cls: the Keras class it came as ("L1", "L2" or "L1L2"), which files write back.
struct Regularizer {
  std::string cls = "L1L2";
  double l1 = 0, l2 = 0;
  bool active() const { return l1 != 0 || l2 != 0; }
  bool operator==(const Regularizer& o) const { return cls == o.cls && l1 == o.l1 && l2 == o.l2; }
};

// Keras's weight constraints (kernel_constraint=MaxNorm(3), ...), applied after every update:
// MaxNorm (max_value, default 2), MinMaxNorm (min_value 0, max_value 1, rate 1), UnitNorm, each
// over the norms along `axis` (Keras's default 0; all_axes: None, every axis), and NonNeg.
// `written`: the JSON the file gave, which model files write back.
struct Constraint {
  kernels::ConstraintKind kind = kernels::ConstraintKind::max_norm;
  double min_value = 0, max_value = 2, rate = 1;
  std::vector<int64_t> axis{0};
  bool all_axes = false;
  std::string written;
};

// Keras's initializers, as a Keras file's layers give them (kernel_initializer="he_normal", ...),
// in place of the layer's own (ParamSpec::init). variance_scaling: Keras's VarianceScaling and the
// classes made of it (GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal,
// LecunUniform): scale over fan_in, fan_out or their mean (Keras's compute_fans, or the given
// axes), drawn from a normal truncated at 2 standard deviations (stddev sqrt(scale) / 0.8796...),
// an untruncated normal or a uniform of limit sqrt(3 scale). The others: RandomNormal and
// TruncatedNormal (a: mean, b: stddev), RandomUniform (a: minval, b: maxval), Constant (a; Zeros,
// Ones), Orthogonal (a: gain) and Identity (a: gain, 2-D weights). `written`: the JSON the file
// gave (a name or a {class_name, config} object), which model files write back.
struct Initializer {
  enum Kind { variance_scaling, normal, truncated_normal, uniform, constant, orthogonal, identity };
  enum Mode { fan_in, fan_out, fan_avg };
  enum Distribution { truncated, untruncated, uniform_values };
  Kind kind = constant;
  double scale = 1.0;
  Mode mode = fan_avg;
  Distribution distribution = truncated;
  std::vector<int64_t> input_axes, output_axes;  // variance_scaling: the fans' axes (empty: Keras's rule)
  double a = 0, b = 0;
  std::string written;
};

// Keras's masks (Keras 3's rules): Embedding(mask_zero=True) and Masking make from their input a
// (samples, steps) mask, 1 where the step is read and 0 where it is skipped. What a layer does with
// a mask reaching its input:
//   drops: the default, as Keras 3 does for a layer that does not support masking (it warns, and
//     the mask ends there; tf-keras refuses such a model);
//   keeps: passes it on untouched (Dense, Dropout, Activation, LayerNormalization, ...);
//   reads: computes with it, and its output has none (GlobalAveragePooling1D; a recurrent layer
//     returning its last state);
//   reads_keeps: computes with it and passes it on (a recurrent layer returning sequences);
//   refuses: Keras computes with it in a way dptrain does not (mask_refusal() says how): the model
//     is refused.
// A mask reaching the model's output weighs the loss and the metrics (parallel/trainer.h).
enum class MaskUse { drops, keeps, reads, reads_keeps, refuses };

// A 1-D layer's (steps, channels) shape as the (1, steps, channels) image the 2-D kernels take
// (spatial: the layer's spatial rank, 1 or 2).
inline Shape image_of(const Shape& s, int spatial) { return spatial == 1 ? Shape{1, s[0], s[1]} : s; }

struct ParamSpec {
  std::string name;   // Keras's variable name: "kernel", "bias", "gamma", "moving_mean", ...
  Shape shape;
  Init init = Init::zeros;
  bool trainable = true;
  bool constant = false;  // not trainable, and training never changes it (Normalization's mean)
  bool integer = false;   // held as a float, saved as int32 as Keras does (Normalization's count)
  // Where Keras keeps the weight inside its layer, for layers made of sublayers ("" for the rest):
  // scope, the sublayers in its variable name as tf-keras names it (LSTM: "lstm_cell", as in
  // lstm/lstm_cell/kernel:0; a Bidirectional's: "forward_lstm/lstm_cell"; a TimeDistributed
  // Dense's: none, time_distributed/kernel:0); keras3_path, the same in Keras 3's variable path,
  // which its optimizer slots are named after (the same, but a TimeDistributed Dense's "dense", as
  // in time_distributed/dense/kernel); keras3_group, the attributes leading to its group in a Keras
  // 3 weights file (LSTM: "cell", as in layers/lstm/cell/vars; a Bidirectional's:
  // "forward_layer/cell"; a TimeDistributed's: "layer").
  std::string scope = "";
  std::string keras3_path = "";
  std::string keras3_group = "";
  // Set by the model at build from Layer::param_options: Keras's regularizer (inactive: none) and
  // initializer (none: `init`) for the weight.
  Regularizer regularizer = {};
  std::optional<Initializer> initializer = {};
  std::optional<Constraint> constraint = {};  // trainable weights alone, as Keras's optimizers apply them
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string class_name() const = 0;    // Keras class: "Dense"
  virtual std::string default_name() const = 0;  // Keras's base name: "dense"
  // The same configuration (regularizers and refusals included), unbuilt.
  std::unique_ptr<Layer> clone() const;
  virtual std::string config_str() const { return ""; }  // for models listings

  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  Shape build(const Shape& input);  // returns the output shape
  const Shape& input_shape() const { return in_; }
  const Shape& output_shape() const { return out_; }
  virtual std::vector<ParamSpec> params() const { return {}; }
  // Keras's regularizer and initializer of each weight, by its name in params() ("kernel",
  // "recurrent_kernel", "gamma", ...); one set for a weight the layer does not have is kept (and
  // written back) but has no effect, as in Keras (bias_regularizer with use_bias=False).
  struct WeightOptions {
    std::optional<Regularizer> regularizer;
    std::optional<Initializer> initializer;
    std::optional<Constraint> constraint;
  };
  void set_regularizer(const std::string& weight, const Regularizer& r) { options_[weight].regularizer = r; }
  void set_initializer(const std::string& weight, const Initializer& i) { options_[weight].initializer = i; }
  void set_constraint(const std::string& weight, const Constraint& c) { options_[weight].constraint = c; }
  const std::map<std::string, WeightOptions>& weight_options() const { return options_; }
  // Keras's activity_regularizer: its penalty of the layer's output, over the batch size, joins the
  // loss (the model computes it in forward and adds its slope to the output's gradient in backward).
  void set_activity_regularizer(const std::optional<Regularizer>& r) { activity_ = r; }
  const std::optional<Regularizer>& activity_regularizer() const { return activity_; }
  // params()'s options, in its order (a wrapper: its layers'); a regularizer and a constraint only
  // for a trainable weight, as Keras regularizes and constrains its trainable weights alone.
  virtual std::vector<WeightOptions> param_options() const;
  // What the layer's Keras config asks of training that dptrain does not do (a constraint or
  // regularizer class it has not, a wrapped layer's activity regularizer), for fit to refuse the model with; `in_loss`:
  // also changes the loss that evaluate reports. A wrapper adds its layers'.
  struct Refusal {
    std::string what;
    bool in_loss = false;
  };
  void refuse_training(const std::string& what, bool in_loss) { refusals_.push_back({what, in_loss}); }
  virtual std::vector<Refusal> training_refusals() const { return refusals_; }
  // > 0 where the layer reads indices (Embedding): every input value must be a whole number in
  // [0, limit). The data checks and synthetic data follow it.
  virtual int64_t input_index_limit() const { return 0; }
  virtual const char* index_limit_name() const { return "input_dim"; }  // the limit's Keras argument
  // Gives the layer its weights and gradients (params()'s order); a wrapper passes them on.
  virtual void bind(std::vector<float*> weights, std::vector<float*> grads);
  // Names the sublayers Keras would name (a Bidirectional's wrapped layer), next_name giving the next
  // free name for a base name ("lstm", "lstm_1", ...); the model calls it once, in layer order.
  virtual void name_sublayers(const std::function<std::string(const std::string&)>& next_name) {}
  const std::vector<float*>& weights() const { return w_; }
  const std::vector<float*>& grads() const { return g_; }

  // Per-replica buffers for a batch of up to max_batch rows on ctx's device (GPU layers also
  // reserve their scratch on ctx.cuda here, so a step never allocates); scratch shared by all layers.
  virtual void prepare(int64_t max_batch, Context& ctx) {}
  virtual int64_t workspace_elems(int64_t batch) const { return 0; }
  // The floats of the buffers prepare makes for `batch` rows and keeps from forward to backward
  // (beyond the output the model holds), for the memory estimate.
  virtual int64_t kept_elems(int64_t batch) const { return 0; }
  void set_workspace(float* work, int64_t elems) { work_ = work; work_elems_ = elems; }

  // Masks (MaskUse above). A layer that makes one: makes_mask(), the mask's shape per sample
  // (its steps) and, after a forward, the (n, mask_shape()) mask on the replica's device.
  virtual MaskUse mask_use() const { return MaskUse::drops; }
  virtual std::string mask_refusal() const { return ""; }
  virtual bool makes_mask() const { return false; }
  virtual Shape mask_shape() const { return {}; }
  virtual const float* mask() const { return nullptr; }
  // The kept steps of n samples of its input x, on the host (the loss's count where the mask
  // reaches the model's output).
  virtual int64_t count_kept(const float* x, int64_t n) const { return 0; }
  // The layer whose mask reaches this one's input (null: none), set by the model at build; a
  // wrapper passes it on to the layers it wraps.
  virtual void set_mask_source(const Layer* source) { mask_source_ = source; }
  const Layer* mask_source() const { return mask_source_; }

  // The activation applied at this layer's output (Dense/Conv2D/Activation), for loss fusion.
  virtual Activation output_activation() const { return Activation::linear; }
  // When set, backward receives dy already taken with respect to the pre-activation.
  void set_fused_output_grad(bool on) { fused_grad_ = on; }
  // Whether backward will be asked for dx (a model's first weighted layer, and the layers before
  // it, never are): set before prepare, so a backend can leave out what only dx needs.
  void set_input_grad_needed(bool on) { input_grad_needed_ = on; }

  // x: (n, input_shape...) -> y: (n, output_shape...). y is written whole.
  void forward(Context& ctx, const Tensor& x, Tensor& y, bool training);
  // dy may be overwritten (in-place activation gradient). dx may be null (first layer).
  void backward(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx);

 protected:
  virtual std::unique_ptr<Layer> make_clone() const = 0;  // same configuration, unbuilt
  virtual Shape compute_output_shape(const Shape& in) = 0;
  virtual void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) = 0;
  virtual void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) = 0;
  virtual void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training);
  virtual void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx);
  // Rows of the (rows, last dim) view a pointwise op sees.
  static int64_t rows_of(const Tensor& t) { return t.numel() / t.shape().back(); }
  static void* stream(Context& ctx);  // the replica's CUDA stream
  // The last forward's mask reaching the input, (n, steps), on the replica's device; null: none.
  const float* input_mask() const { return mask_source_ ? mask_source_->mask() : nullptr; }
  // Dense and Conv2D with an activation whose gradient needs its input (a.needs_input(): gelu,
  // silu, mish, hard_silu) keep their output before it, per replica, for up to the prepared batch:
  // prepare_pre_activation allocates it (nothing for the other activations), and pre_activation(a, y)
  // is where the layer writes its linear output: that buffer, or y itself (the activation in place).
  void prepare_pre_activation(Activation a, int64_t max_batch, Context& ctx);
  float* pre_activation(Activation a, const Tensor& y) const;

  std::string name_;
  Shape in_, out_;
  std::vector<float*> w_, g_;
  float* work_ = nullptr;
  int64_t work_elems_ = 0;
  bool fused_grad_ = false;
  bool input_grad_needed_ = true;
  Buffer pre_;
  const Layer* mask_source_ = nullptr;
  std::map<std::string, WeightOptions> options_;
  std::vector<Refusal> refusals_;
  std::optional<Regularizer> activity_;
};

}  // namespace dpt
