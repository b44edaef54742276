// Sequential: an ordered stack of layers with one parameter arena and one gradient arena. Layers
// may also read earlier layers' outputs (a Functional model's graph, in topological order: a
// branch, a residual Add, a Concatenate); the last layer is the output.
// Arena layout: trainable weights first (the gradient arena mirrors exactly this prefix, so one
// all-reduce and one flat optimizer call serve them all), then non-trainable ones (BatchNorm's
// moving statistics). A Sequential is also one replica's compute state: activation buffers,
// gradient ping-pong buffers and scratch, sized once by prepare(max_batch).
#pragma once
#include <memory>
#include <string>
#include <vector>
#include "core/collective.h"
#include "core/layer.h"

namespace dpt {

struct WeightRef {
  Layer* layer;
  ParamSpec spec;
  float* data;       // in the parameter arena
  float* grad;       // in the gradient arena; null when not trainable
  int64_t offset;    // element offset in the parameter arena
  // "dense/kernel:0"; inside sublayers, "lstm/lstm_cell/kernel:0" (as tf-keras names it).
  std::string keras_name() const {
    return layer->name() + "/" + (spec.scope.empty() ? "" : spec.scope + "/") + spec.name + ":0";
  }
};

class Sequential {
 public:
  explicit Sequential(std::string name = "sequential") : name_(std::move(name)) {}
  // inputs: the layers (indices into layers(), -1 the model's input; in a model of several inputs,
  // -1 - k its input k) this one reads; empty: the layer before it (or the model's input). A merge
  // layer (Add, Concatenate, Dot) reads several.
  Sequential& add(std::unique_ptr<Layer> layer, std::vector<int> inputs = {});
  const std::vector<std::vector<int>>& inputs() const { return inputs_; }
  bool is_chain() const;  // each layer reads the one before: a Keras Sequential model
  // The smallest Layer::input_index_limit() of the layers reading the model's inputs (0: none reads
  // indices). check_inputs: the values of each input such layers read must then be whole numbers
  // below theirs; an error names the first that is not, its sample and `what` (the data).
  int64_t input_index_limit() const;
  void check_inputs(const float* x, int64_t count, const std::string& what) const;

  // Names layers as Keras does (dense, dense_1, ...), infers shapes, lays out the arenas and
  // initialises weights (glorot_uniform kernels, zero biases) from the seed.
  void build(const Shape& input_shape, uint64_t seed) { build_inputs({input_shape}, seed); }
  // A model of several inputs (a Keras Functional model of several InputLayers, named as given, else
  // input_layer, input_layer_1, ...): a row of its data holds each sample's inputs one after
  // another, so input_shape() is their total, flat.
  void build_inputs(const std::vector<Shape>& inputs, uint64_t seed, std::vector<std::string> names = {});
  size_t num_inputs() const { return input_shapes_.size(); }
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  const std::vector<std::string>& input_names() const { return input_names_; }
  bool built() const { return !params_.shape().empty(); }
  std::unique_ptr<Sequential> clone() const;  // same layers and weights (on the CPU), no replica buffers
  // Moves the arenas to a device (after build, before prepare): a GPU replica's weights and
  // gradients then live in its GPU's memory, and the layers compute there.
  void to_device(Device device);
  Device device() const { return params_.device(); }

  const std::string& name() const { return name_; }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return layers_.back()->output_shape(); }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const std::vector<WeightRef>& weights() const { return weights_; }

  float* params() const { return params_.data(); }
  float* grads() const { return grads_.data(); }
  int64_t num_params() const { return params_.numel(); }
  int64_t num_trainable() const { return grads_.numel(); }
  // The trainable weights' sizes in the gradient arena's order (they tile [0, num_trainable())).
  std::vector<int64_t> trainable_sizes() const;
  // The arena's first num_updated() values are what a step changes: the trainable weights, then
  // moving statistics (merged across replicas); the constants follow.
  int64_t num_updated() const { return num_updated_; }
  // Copies between devices as needed; with r, ordered on its stream.
  void copy_params_from(const Sequential& other, kernels::CudaResources* r = nullptr);
  void zero_grads(kernels::CudaResources* r = nullptr);

  // Replica buffers for up to max_batch rows, on the model's device (ctx: that device's context;
  // null for a CPU model). Calling again with a smaller batch is free.
  void prepare(int64_t max_batch, Context* ctx = nullptr);
  int64_t max_batch() const { return max_batch_; }
  // x: (n, input_shape...), n <= max_batch. Returns a view of the last layer's output.
  Tensor forward(Context& ctx, const Tensor& x, bool training);
  // Where the loss writes d(loss)/d(output) for the last forward's n rows.
  Tensor output_grad(int64_t n);
  // The last forward's output of layers()[i] (a view of its n rows, on the model's device).
  Tensor output_of(size_t i) const;
  // Backward through all layers from output_grad(n); parameter gradients accumulate. When a
  // hook is given, it is told each layer's gradient range as soon as that layer is done.
  void backward(Context& ctx, const Tensor& x, GradReadyHook* hook = nullptr);
  // Tells the hook every layer's range, in backward's order, without computing (a replica with
  // an empty slice still joins the gradient collectives, with zero gradients).
  void emit_grad_ranges(GradReadyHook* hook) const;
  // Ask the last layer to take the loss's gradient as already w.r.t. its pre-activation.
  void set_fused_output_grad(bool on) { layers_.back()->set_fused_output_grad(on); }
  // Keras's activity regularizers (Layer::activity_regularizer): forward sums each one's penalty of
  // its layer's output; backward adds scale x its slope to the output's gradient (scale: 1 / the
  // global batch size, as Keras divides the penalty; 0: none, as for evaluate).
  bool has_activity_regularizers() const;
  void set_activity_scale(float scale) { activity_scale_ = scale; }
  // The last forward's penalty, summed over its rows and every regularized layer (not yet over the
  // batch size). On a GPU, valid once the stream has reached the end of that forward.
  double activity_penalty() const;

  std::string summary() const;  // Keras's model.summary() table
  // The layer whose mask reaches the model's output (-1: none), as Keras weighs the loss and the
  // metrics by it: it reads the model's input, and the output's steps are the mask's.
  int output_mask_layer() const { return output_mask_; }

 private:
  void bind_layers();
  void wire_masks();  // at build: which layer's mask reaches each layer (core/layer.h's MaskUse)
  void backward_graph(Context& ctx, const Tensor& x, GradReadyHook* hook);
  // What layer input k (< 0: one of the model's) reads in the last forward's n rows: x itself, or
  // with several inputs the copy of its columns the forward made.
  Tensor model_input(int k, const Tensor& x, int64_t n) const;
  int64_t index_limit_of(size_t input) const;  // the smallest of the layers reading that input
  std::string name_;
  bool quiet_ = false;  // a clone: build's warnings were given when the original was built
  int output_mask_ = -1;
  std::vector<std::unique_ptr<Layer>> layers_;
  Shape input_shape_;
  std::vector<Shape> input_shapes_;
  std::vector<std::string> input_names_;
  std::vector<int64_t> input_offsets_;  // where each input starts in a data row
  std::vector<Tensor> input_bufs_;      // several inputs: each one's columns of the batch
  Tensor params_, grads_;
  std::vector<WeightRef> weights_;
  int64_t max_batch_ = 0;
  std::vector<Tensor> outputs_;   // per layer: (max_batch, out...)
  Tensor grad_buf_[2];            // a chain's ping-pong for dy/dx
  // A graph's: per layer, the gradient of its output (summed over its readers); scratch for a
  // second reader's share.
  std::vector<Tensor> node_grad_;
  std::vector<Tensor> share_;
  std::vector<std::vector<int>> inputs_;  // per layer, resolved at build (-1: the model's input)
  std::vector<bool> needs_grad_;          // per layer: whether its output needs a gradient
  // Per layer and input: whether backward writes that input's gradient in place (the first share
  // of it, in backward's order) or adds it through share_ (fixed by the graph: computed at build).
  std::vector<std::vector<bool>> writes_grad_;
  std::vector<Tensor> views_, dx_views_;  // a graph step's views, reused: no allocation per step
  std::vector<Tensor*> dx_ptrs_;
  Tensor work_;
  int64_t last_n_ = 0;
  // Per layer with an activity regularizer: its partial sums per chunk of the output (on the
  // model's device; a GPU's copied to pinned host memory after forward), and how many the last
  // forward wrote.
  struct Activity {
    size_t layer = 0;
    float l1 = 0.f, l2 = 0.f;
    Buffer partial, host;
    int64_t chunks = 0;
  };
  std::vector<Activity> activity_;
  std::vector<int> activity_of_;  // per layer: its index in activity_ (-1: none)
  float activity_scale_ = 0.f;
  void activity_forward(Context& ctx, size_t i, const Tensor& out);
  void activity_backward(Context& ctx, size_t i, const Tensor& out, Tensor& dy);
  size_t first_weighted_ = 0;  // layers before it have no trainable weights: backward stops there
  int64_t num_updated_ = 0;
  std::vector<std::pair<int64_t, int64_t>> grad_range_;  // per layer: [begin, end) in the gradient arena
};

}  // namespace dpt
