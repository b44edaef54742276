// Keras's LSTM(units): over a (steps, features) input, each step's pre-activations
// z = x_t kernel + h_{t-1} recurrent_kernel + bias (Keras's gate order i, f, c, o) give
// c_t = f c_{t-1} + i g and h_t = o tanh(c_t) (recurrent_math.h), from h and c at zero. Output: every
// h_t (return_sequences) or the last. go_backwards reads the steps last to first, and (as Keras)
// returns the sequence in that order. Weights as Keras's: kernel (features, 4 units),
// recurrent_kernel (units, 4 units), bias (4 units), initialised glorot_uniform, orthogonal and
// zeros with the forget gate's at 1 (unit_forget_bias); Keras 3 keeps them in the layer's
// "lstm_cell". activation tanh and recurrent_activation sigmoid only; dropout, recurrent_dropout,
// return_state, stateful and masks are refused by the config reader.
//
// Each device runs the same steps: the sequence is moved time-major (steps, samples, features), one
// GEMM gives every step's input part, then per step one GEMM adds the recurrence and one pass
// applies the cell (kernels/recurrent). Backward runs the steps in reverse, then one GEMM per weight
// over all steps. The gates, cells and hidden states of every step are kept for backward (per
// replica, for the prepared batch).
#pragma once
#include "core/layer.h"

namespace dpt {

struct LSTMConfig {
  int64_t units = 0;
  bool return_sequences = false;
  bool go_backwards = false;
  bool use_bias = true;
};

class LSTM : public Layer {
 public:
  explicit LSTM(LSTMConfig cfg);
  std::string class_name() const override { return "LSTM"; }
  std::string default_name() const override { return "lstm"; }
  std::string cell_name() const override { return "lstm_cell"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<LSTM>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  void prepare(int64_t max_batch, Context& ctx) override;
  int64_t workspace_elems(int64_t batch) const override;
  const LSTMConfig& config() const { return cfg_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override { run_forward(ctx, x, y); }
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override {
    run_backward(ctx, dy, dx);
  }
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override { run_forward(ctx, x, y); }
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override {
    run_backward(ctx, dy, dx);
  }

 private:
  void run_forward(Context& ctx, const Tensor& x, Tensor& y);
  void run_backward(Context& ctx, const Tensor& dy, Tensor* dx);
  LSTMConfig cfg_;
  // Per replica, for up to max_rows_ samples, time-major: the input (steps, n, features); the gates
  // (steps, n, 4 units); h and c (steps + 1, n, units), step 0 the zero state.
  Buffer xs_, gates_, hs_, cs_;
  int64_t max_rows_ = 0;
  int64_t rows_ = 0;  // the last forward's samples
};

}  // namespace dpt
