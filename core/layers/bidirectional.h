// Keras's Bidirectional wrapper over a recurrent layer (LSTM, GRU or SimpleRNN): a forward layer and
// a backward one, each with weights of its own, read the same input. The backward layer is the
// wrapped layer's copy reading the steps last to first (go_backwards), or a recurrent layer given
// as backward_layer (its go_backwards must differ from the wrapped layer's, and return_sequences
// match). With return_sequences the backward layer's sequence is flipped back to the input's order,
// as Keras does. The two outputs are merged (merge_mode): concat (forward's units, then backward's),
// sum, ave ((f + b) / 2) or mul; None (two outputs) is refused by the config reader.
//
// Names follow Keras 3: the forward layer is "forward_<wrapped>", the backward "backward_<wrapped>"
// (a given backward_layer keeps its own name). The weights are the forward layer's, then the
// backward's: bidirectional/forward_lstm/lstm_cell/kernel:0 in legacy files, and
// layers/bidirectional/forward_layer/cell/vars in Keras 3's.
//
// Both devices run the same code: each sublayer's own steps (core/layers/recurrent), then the merge
// through kernels/merge. On the CPU with 2 or more threads the two directions run at once, a thread
// each (the same bits as one after the other); on a GPU one after the other on the replica's stream.
// The sublayers' outputs are kept per replica (mul's gradient reads them).
#pragma once
#include "core/layers/recurrent.h"

namespace dpt {

enum class MergeMode { concat, sum, ave, mul };
MergeMode merge_mode_from_name(const std::string& name);  // Keras's names; throws on others
std::string merge_mode_name(MergeMode m);

class Bidirectional : public Layer {
 public:
  // backward: null for the wrapped layer's copy with go_backwards flipped.
  explicit Bidirectional(std::unique_ptr<Recurrent> layer, MergeMode mode = MergeMode::concat,
                         std::unique_ptr<Recurrent> backward = nullptr);
  std::string class_name() const override { return "Bidirectional"; }
  std::string default_name() const override { return "bidirectional"; }
  std::unique_ptr<Layer> make_clone() const override;
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  std::vector<WeightOptions> param_options() const override;
  std::vector<Refusal> training_refusals() const override;
  void bind(std::vector<float*> weights, std::vector<float*> grads) override;
  void name_sublayers(const std::function<std::string(const std::string&)>& next_name) override;
  void prepare(int64_t max_batch, Context& ctx) override;
  int64_t workspace_elems(int64_t batch) const override;
  // Keras's mask reaches both layers (a sequence returned carries it on; as Keras, each layer then
  // outputs 0 at a skipped step: zero_output_for_mask).
  MaskUse mask_use() const override { return fwd_->mask_use(); }
  void set_mask_source(const Layer* source) override {
    Layer::set_mask_source(source);
    fwd_->set_mask_source(source);
    bwd_->set_mask_source(source);
  }

  const Recurrent& forward_layer() const { return *fwd_; }
  const Recurrent& backward_layer() const { return *bwd_; }
  MergeMode merge_mode() const { return mode_; }
  // Whether the backward layer is the wrapped layer's mirror (same class and settings, reading the
  // other way), as Keras makes it when no backward_layer is given.
  bool mirrored() const;

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override {
    run_forward(ctx, x, y, training);
  }
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override {
    run_backward(ctx, x, dy, dx);
  }
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override {
    run_forward(ctx, x, y, training);
  }
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override {
    run_backward(ctx, x, dy, dx);
  }

 private:
  // Names the sublayers after the wrapped layer's name, as Keras 3 does.
  void name_after(std::string wrapped);
  void run_forward(Context& ctx, const Tensor& x, Tensor& y, bool training);
  void run_backward(Context& ctx, const Tensor& x, const Tensor& dy, Tensor* dx);
  // Elements of each sublayer's output, and of the input, per sample.
  int64_t fwd_elems() const { return shape_numel(fwd_->output_shape()); }
  int64_t bwd_elems() const { return shape_numel(bwd_->output_shape()); }

  std::unique_ptr<Recurrent> fwd_, bwd_;
  MergeMode mode_;
  bool backward_given_;
  Buffer yf_, yb_;  // per replica: the sublayers' outputs for the prepared batch
  int64_t max_rows_ = 0;
  int64_t rows_ = 0;
};

}  // namespace dpt
