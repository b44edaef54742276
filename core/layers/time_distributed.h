// Keras's TimeDistributed: one layer, its weights shared, applied to every step of a (steps, ...)
// input. It runs as the wrapped layer over (samples x steps, ...) rows: the same memory, viewed
// without a copy, so every device runs the wrapped layer's own code. Any of dptrain's single-input
// layers may be wrapped (Dense, Conv2D over frames, pooling, Dropout, BatchNormalization, ...); a
// merge layer may not. Dropout's masks are keyed by each (sample, step) row's global index, so
// they do not depend on how the batch is split across replicas.
//
// Names as Keras gives them: the wrapped layer keeps its own ("dense"); its weights are
// time_distributed/kernel:0 in tf-keras (and dptrain's legacy files), time_distributed/dense/kernel
// in Keras 3's variable paths (its optimizer slots), and in layers/time_distributed/layer/vars in
// Keras 3's weights files.
#pragma once
#include "core/layer.h"

namespace dpt {

class TimeDistributed : public Layer {
 public:
  explicit TimeDistributed(std::unique_ptr<Layer> layer);
  std::string class_name() const override { return "TimeDistributed"; }
  std::string default_name() const override { return "time_distributed"; }
  // Keras passes the mask on, and to the wrapped layer's call where it takes one.
  MaskUse mask_use() const override {
    return inner_->mask_use() == MaskUse::keeps || inner_->mask_use() == MaskUse::drops ? MaskUse::keeps
                                                                                        : MaskUse::refuses;
  }
  std::string mask_refusal() const override { return "wraps a layer that computes with it; dptrain does not"; }
  std::unique_ptr<Layer> make_clone() const override;
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  std::vector<WeightOptions> param_options() const override;
  std::vector<Refusal> training_refusals() const override;
  int64_t input_index_limit() const override { return inner_->input_index_limit(); }
  void bind(std::vector<float*> weights, std::vector<float*> grads) override;
  void name_sublayers(const std::function<std::string(const std::string&)>& next_name) override;
  void prepare(int64_t max_batch, Context& ctx) override;
  int64_t workspace_elems(int64_t batch) const override;

  const Layer& layer() const { return *inner_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override {
    run_forward(ctx, x, y, training);
  }
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override {
    run_backward(ctx, x, y, dy, dx);
  }
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override {
    run_forward(ctx, x, y, training);
  }
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override {
    run_backward(ctx, x, y, dy, dx);
  }

 private:
  void run_forward(Context& ctx, const Tensor& x, Tensor& y, bool training);
  void run_backward(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx);
  // The Context the wrapped layer runs in: its rows are (sample, step) pairs.
  Context per_step(const Context& ctx) const;
  // t viewed as (rows x steps, the wrapped layer's shape).
  Tensor steps_as_rows(const Tensor& t, const Shape& inner) const;

  std::unique_ptr<Layer> inner_;
};

}  // namespace dpt
