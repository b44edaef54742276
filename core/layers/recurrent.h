// Keras's recurrent layers over a (steps, features) input, from a zero state; output every step's
// h (return_sequences) or the last. go_backwards reads the steps last to first and (as Keras)
// returns the sequence in that order. Keras's activation (tanh by default: the candidate's and the
// output's) and recurrent_activation (sigmoid by default: the gates') may be any activation whose
// slope its output gives (kernels/recurrent_math.h's CellActs); return_state and stateful are
// refused by the config reader.
//
// Keras's mask (core/layer.h; Embedding's mask_zero=True, Masking): a step the mask skips leaves
// the state as it was (h, and LSTM's c, carried from the step before) and outputs that state, or 0
// with zero_output_for_mask (which Bidirectional sets where it returns sequences). A sample's
// output is then what the layer gives for the sample's kept steps alone. The returned sequence
// carries the mask on; the last state carries none.
//
// dropout and recurrent_dropout are Keras's (DropoutRNNCell): in training, the input x_t and the
// recurrence's h_{t-1} are multiplied by masks of 0 or 1/(1-rate), drawn once a batch for each
// sample and used at every step. As Keras does, LSTM and GRU draw one mask per gate (its part of
// the kernels reads its own masked copy) under implementation=1, which recurrent_dropout implies;
// under implementation=2 one input mask serves every gate. GRU's blend z h_{t-1} keeps the
// unmasked h_{t-1}, as Keras's does. The masks are keyed as Dropout's (the layer's name, the step
// and each sample's global index), so they do not depend on the replica split.
//
// LSTM(units): each step's pre-activations z = x_t kernel + h_{t-1} recurrent_kernel + bias
// (Keras's gate order i, f, c, o) give c_t = f c_{t-1} + i g and h_t = o tanh(c_t). Weights:
// kernel (features, 4 units), recurrent_kernel (units, 4 units), bias (4 units), initialised
// glorot_uniform, orthogonal and zeros with the forget gate's at 1 (unit_forget_bias, Keras's
// default; without it, zeros).
// GRU(units) with reset_after=True (Keras's default): gates z, r and candidate hh from the input
// part x_t kernel + input bias and the recurrent part h_{t-1} recurrent_kernel + recurrent bias,
// h_t = z h_{t-1} + (1 - z) hh (recurrent_math.h). Weights: kernel (features, 3 units),
// recurrent_kernel (units, 3 units), bias (2, 3 units): the input bias, then the recurrent one.
// With reset_after=False (Keras 2.0-2.2's default) the reset gate scales h_{t-1} before the
// candidate's recurrent kernel, hh = act(x_h + (r h_{t-1}) U_h), and bias is (3 units), the input's
// alone.
// SimpleRNN(units): h_t = activation(x_t kernel + bias + h_{t-1} recurrent_kernel); kernel (features,
// units), recurrent_kernel (units, units), bias (units).
// Keras 3 keeps their weights in a sublayer ("lstm_cell", "gru_cell", "simple_rnn_cell").
//
// Each device runs the same steps: the sequence is moved time-major (steps, samples, features), one
// GEMM gives every step's input part, then per step one GEMM for the recurrence and one pass of the
// cell (kernels/recurrent). Backward runs the steps in reverse, then one GEMM per weight over all
// steps. What backward reads (the gates, states and recurrent parts of every step) is kept per
// replica for the prepared batch.
#pragma once
#include "core/layer.h"
#include "kernels/recurrent_math.h"

namespace dpt {

struct RecurrentConfig {
  int64_t units = 0;
  bool return_sequences = false;
  bool go_backwards = false;
  bool use_bias = true;
  double dropout = 0.0;            // Keras's dropout: of the inputs, in [0, 1)
  double recurrent_dropout = 0.0;  // of the recurrent state, in [0, 1)
  int implementation = 2;          // LSTM, GRU: 1 draws a mask per gate (recurrent_dropout implies it)
  Activation activation = Activation::tanh;               // the candidate's and the output's
  Activation recurrent_activation = Activation::sigmoid;  // the gates' (LSTM, GRU)
  bool reset_after = true;                                // GRU: Keras's default; False as Keras 2.0-2.2's
  bool zero_output_for_mask = false;                      // a masked step outputs 0, not the carried state
  bool unit_forget_bias = true;                           // LSTM: the forget gate's bias starts at 1
};
using LSTMConfig = RecurrentConfig;

class Recurrent : public Layer {
 public:
  std::string config_str() const override;
  void prepare(int64_t max_batch, Context& ctx) override;
  int64_t workspace_elems(int64_t batch) const override;
  const RecurrentConfig& config() const { return cfg_; }
  MaskUse mask_use() const override { return cfg_.return_sequences ? MaskUse::reads_keeps : MaskUse::reads; }
  // implied: set by a wrapper (Bidirectional), so listings leave it out.
  void set_zero_output_for_mask(bool on, bool implied = false) {
    cfg_.zero_output_for_mask = on;
    zero_output_implied_ = implied;
  }
  // Keras 3 keeps the weights in a sublayer, the cell: "lstm_cell", "gru_cell", "simple_rnn_cell".
  virtual std::string cell_name() const = 0;
  // A Bidirectional's backward layer: its returned sequence back in the input's order (Keras flips
  // it), so that step t of the output is the state after reading input step t.
  void set_flip_output(bool on) { flip_output_ = on; }
  // An unbuilt copy reading the steps the other way (go_backwards flipped): Bidirectional's backward layer.
  std::unique_ptr<Recurrent> reversed() const;
  // Dropout masks drawn per batch: on the inputs and on the recurrent state (0 without that dropout),
  // one per gate under implementation 1 (LSTM, GRU), else one.
  int input_masks() const;
  int recurrent_masks() const;
  // The last training forward's masks, in the replica's memory: the input masks (n, features) each,
  // then the recurrent masks (n, units) each.
  const float* masks() const { return static_cast<const float*>(masks_.data()); }

 protected:
  // gates: the pre-activation's width in units (LSTM 4, GRU 3, SimpleRNN 1).
  Recurrent(RecurrentConfig cfg, int gates, const char* cls);
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override {
    run_forward(ctx, x, y, training);
  }
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override {
    run_backward(ctx, dy, dx);
  }
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override {
    run_forward(ctx, x, y, training);
  }
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override {
    run_backward(ctx, dy, dx);
  }
  // params()'s specs with the cell's scope.
  std::vector<ParamSpec> in_cell(std::vector<ParamSpec> p) const;
  RecurrentConfig cfg_;
  int gates_;
  bool flip_output_ = false;
  bool zero_output_implied_ = false;

 private:
  void run_forward(Context& ctx, const Tensor& x, Tensor& y, bool training);
  void run_backward(Context& ctx, const Tensor& dy, Tensor* dx);
  // Per replica, for up to max_rows_ samples, time-major: the input (steps, n, features), masked,
  // or one masked copy per input mask; the gates (steps, n, gates units); h (steps + 1, n, units),
  // step 0 the zero state; and the cell's own: LSTM's c (steps + 1, n, units), GRU's recurrent
  // parts (steps, n, 3 units); none for SimpleRNN. With dropout: the masks (input masks (n,
  // features), then recurrent masks (n, units)) and h_{t-1} times each recurrent mask (masks,
  // steps, n, units).
  // With Keras's mask: the mask time-major (steps, n) in the order the steps are read, and in the
  // output's order (n, steps) for zero_output_for_mask.
  Buffer xs_, pre_, hs_, state_, masks_, hm_, steps_mask_, out_mask_;
  int64_t max_rows_ = 0;
  int64_t rows_ = 0;         // the last forward's samples
  bool masked_ = false;      // whether the last forward drew masks (training with dropout)
  bool seq_masked_ = false;  // whether the last forward read Keras's mask
};

class LSTM : public Recurrent {
 public:
  explicit LSTM(RecurrentConfig cfg) : Recurrent(cfg, 4, "LSTM") {}
  std::string class_name() const override { return "LSTM"; }
  std::string default_name() const override { return "lstm"; }
  std::string cell_name() const override { return "lstm_cell"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<LSTM>(cfg_); }
  std::vector<ParamSpec> params() const override;
};

class GRU : public Recurrent {
 public:
  explicit GRU(RecurrentConfig cfg) : Recurrent(cfg, 3, "GRU") {}
  std::string class_name() const override { return "GRU"; }
  std::string default_name() const override { return "gru"; }
  std::string cell_name() const override { return "gru_cell"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<GRU>(cfg_); }
  std::vector<ParamSpec> params() const override;
};

class SimpleRNN : public Recurrent {
 public:
  explicit SimpleRNN(RecurrentConfig cfg) : Recurrent(cfg, 1, "SimpleRNN") {}
  std::string class_name() const override { return "SimpleRNN"; }
  std::string default_name() const override { return "simple_rnn"; }
  std::string cell_name() const override { return "simple_rnn_cell"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<SimpleRNN>(cfg_); }
  std::vector<ParamSpec> params() const override;
};

}  // namespace dpt
