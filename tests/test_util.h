// Test helpers: fresh random inputs (never zeros), central-difference gradients, comparisons.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>
#include "core/tensor.h"

namespace dpt {
struct OptimizerConfig;
class Sequential;
class Trainer;
struct Dataset;
struct Device;
struct ParallelOptions;
}  // namespace dpt

namespace dpt::test {

// Conv2D(4,3,same,relu) -> BatchNormalization -> MaxPool -> Flatten -> Dense(12,relu) ->
// Dropout(0.25) -> Dense(10,softmax) on 8x8x1: every kind of per-replica state in one small model.
std::unique_ptr<Sequential> bn_dropout_net(uint64_t seed);
// A graph on 8x8x1: Rescaling -> Normalization (its weights set) -> Conv2D(4,relu) ->
// BatchNormalization -> Conv2D(4,tanh), added to the first Conv2D's output (a residual),
// concatenated with a 1x1 Conv2D branch from the input, gated by a 1x1 sigmoid Conv2D of it
// (Multiply), then Subtract and Average of those; squeeze and excite (GlobalAveragePooling2D with
// keepdims -> 1x1 sigmoid Conv2D, a Multiply broadcasting (1, 1, 6) over (8, 8, 6)) -> Dropout with
// noise_shape (None, 1, 1, 1), added back; MaxPool -> LayerNormalization -> Flatten -> Dropout ->
// RMSNormalization -> Dense(10, softmax).
std::unique_ptr<Sequential> graph_net(uint64_t seed);
// "embed": two Embeddings (20 x 6, 15 x 3) reading the same 12 indices a sample: one into
// Conv1D(5, 3, same, tanh) and a global max pool (or, max_pool false, for finite differences whose
// steps would move the maximum, an average), the other averaged; concatenated; Dense(4, softmax).
std::unique_ptr<Sequential> embed_net(uint64_t seed, bool max_pool = true);
// "dot" on (6, 4): Dense(5, tanh) a and Dense(5, sigmoid) b of the input; Dot(axes=2) of them
// (6 x 6 scores s), Dot(axes=(2, 1)) of s and a (6, 5), and Dot(axes=1, normalize) of a and b along
// the steps (a strided normalization, 5 x 5); each flattened into a Dense(4, tanh), whose cosine
// (Dot(axes=-1, normalize)) is concatenated to both flattened; Dense(4, softmax).
std::unique_ptr<Sequential> dot_net(uint64_t seed);
// "two-tower", a model of three inputs: user (1,) an index into Embedding(10, 4), flattened; item
// (3,) indices into Embedding(12, 4), averaged, plus Dense(4, tanh) of context (4,); the towers'
// cosine (Dot(axes=1, normalize)) and dot product, concatenated with the context's Dense;
// Dense(4, softmax).
std::unique_ptr<Sequential> two_tower_net(uint64_t seed);
// Inputs 'seq' (6, 4) and 'ctx' (3, 5): a causal self-attention with a residual Add, an attention
// with a key of its own (3 heads, value_dim, output_shape, no bias, dropout 0.25), a causal cross
// attention over the context (6 query steps, 3 value steps), average pooling, a softmax of 4.
std::unique_ptr<Sequential> attention_net(uint64_t seed);
Dataset attention_data(int64_t n, uint64_t seed);
// Token ids (6,) below 10 through Embedding(mask_zero=True), a causal self-attention reading its
// mask (query and value), a residual Add and LayerNormalization keeping it, GlobalAveragePooling1D
// over the kept steps, a softmax of 4.
std::unique_ptr<Sequential> masked_attention_net(uint64_t seed);
// Keras's Attention (dot scores): inputs 'q' (5, 4) and 'v' (6, 3); one with use_scale, a causal
// mask, dropout 0.2 and a key of its own (a Dense of v), one whose value is its key; their outputs
// joined, flattened, a softmax of 4. Data: attention_data's rows of 38.
std::unique_ptr<Sequential> luong_net(uint64_t seed);
// Keras 3's GroupQueryAttention: inputs 'seq' (6, 4) and 'ctx' (3, 4); a causal self-attention
// of 4 query heads over 2 key and value heads with dropout, a residual Add and LayerNormalization, a
// cross-attention of 3 query heads over one, without biases, its key a Dense of ctx; average
// pooling, a softmax of 4. Data: rows of 36.
std::unique_ptr<Sequential> gqa_net(uint64_t seed);
// luong_net's inputs, Keras's concatenation scores: Attention(score_mode="concat") with a scale, a
// causal mask and dropout, AdditiveAttention with its scale vector (the value its key), and
// Attention(score_mode="concat") without a scale.
std::unique_ptr<Sequential> bahdanau_net(uint64_t seed);
// Synthetic data for it: indices below 10 in every input (the user's limit), packed rows.
Dataset two_tower_data(int64_t n, uint64_t seed);
// "rnn" on (6, 3): LSTM(5, return_sequences) into LSTM(4, go_backwards) and LSTM(3, no bias), their
// last states concatenated; Dense(4, softmax).
std::unique_ptr<Sequential> lstm_net(uint64_t seed);
// "gru" on (6, 3): GRU(5, return_sequences) -> GRU(4, go_backwards, return_sequences) -> GRU(3, no
// bias) -> Dense(4, softmax).
std::unique_ptr<Sequential> gru_net(uint64_t seed);
// "srnn" on (6, 3): SimpleRNN(5, return_sequences) -> SimpleRNN(4, go_backwards, no bias) ->
// Dense(4, softmax).
std::unique_ptr<Sequential> srnn_net(uint64_t seed);
// "rnn_dropout" on (6, 3), Keras's dropout and recurrent_dropout in each recurrent class:
// LSTM(5, return_sequences, dropout 0.3, recurrent_dropout 0.3) -> GRU(4, go_backwards,
// return_sequences, dropout 0.25, implementation 1) -> SimpleRNN(3, dropout 0.2, recurrent_dropout
// 0.2) -> Dense(4, softmax).
std::unique_ptr<Sequential> rnn_dropout_net(uint64_t seed);
// "rnn_acts" on (6, 3), Keras's activation and recurrent_activation other than tanh and sigmoid:
// LSTM(5, return_sequences, elu, softsign) -> GRU(4, go_backwards, return_sequences, softsign,
// sigmoid) -> SimpleRNN(3, softplus) -> Dense(4, softmax).
std::unique_ptr<Sequential> rnn_acts_net(uint64_t seed);
// "gru_v1" on (6, 3), GRU with reset_after=False: GRU(5, return_sequences) -> GRU(4, go_backwards,
// return_sequences, dropout 0.2, recurrent_dropout 0.3) -> GRU(3, no bias, elu) -> Dense(4, softmax).
std::unique_ptr<Sequential> gru_v1_net(uint64_t seed);
// "bidir" on (6, 3), the Keras fixture's model: Bidirectional(LSTM(4, return_sequences)) (concat) ->
// Bidirectional(GRU(3, return_sequences), sum) -> Bidirectional(LSTM(3, return_sequences), ave,
// backward_layer GRU(3, go_backwards, return_sequences)) -> Bidirectional(SimpleRNN(2), mul) ->
// Dense(4, softmax).
std::unique_ptr<Sequential> bidir_net(uint64_t seed);
// "masked_rnn" on 8 indices a sample, Keras's mask from Embedding(5, 4, mask_zero=True) through
// LSTM(5, return_sequences) -> Bidirectional(GRU(3, return_sequences)) -> Dense(4, tanh) (the
// mask passes on) -> SimpleRNN(3, go_backwards, return_sequences, dropout 0.2) ->
// GlobalAveragePooling1D (a masked mean) -> Dense(4, softmax).
std::unique_ptr<Sequential> masked_rnn_net(uint64_t seed);
// "masking" on (7, 3): Masking(0.0) -> GRU(4, return_sequences, reset_after=False) -> LSTM(3,
// go_backwards) -> Dense(4, softmax). zero_steps: sets every feature of some steps of x (n samples)
// to 0, the steps that model skips, a different pattern per sample (none, the last ones, inner ones).
std::unique_ptr<Sequential> masking_net(uint64_t seed);
// "seqout" on (6, 3), an output at every step: LSTM(5, return_sequences) -> Dense(3, softmax) over
// each step, output (6, 3).
std::unique_ptr<Sequential> seqout_net(uint64_t seed);
// "maskout" on 8 indices, Keras's mask at the output: Embedding(5, 4, mask_zero=True) -> GRU(4,
// return_sequences) -> Dense(3, softmax) at every step, output (8, 3).
std::unique_ptr<Sequential> maskout_net(uint64_t seed);
void zero_steps(float* x, int64_t n, int64_t steps, int64_t features);
// "tdist" on 4 frames of (6, 6, 2), the Keras fixture's model: TimeDistributed Conv2D(3, 3x3, relu),
// MaxPooling2D(2) and Flatten over the frames -> LSTM(5, return_sequences) -> TimeDistributed
// Dense(4, tanh) -> TimeDistributed Dropout(0.3) -> Flatten -> Dense(4, softmax). For finite
// differences (smooth): AveragePooling2D, no Dropout.
std::unique_ptr<Sequential> tdist_net(uint64_t seed, bool smooth = false);
// The weights after 2 epochs (Adam 0.01, categorical cross-entropy, seed 3) on one CPU device
// against `replicas` CPU replicas, from two models make() builds alike: max|dw|/max|w|.
double replicas_vs_one(const std::function<std::unique_ptr<Sequential>()>& make, const Dataset& data, int replicas,
                       int64_t batch);
// The first `depth` layers of cifar10-cnn's conv/pool stack (Conv2D(32), MaxPooling2D, Conv2D(64),
// MaxPooling2D, Conv2D(128), MaxPooling2D; 3x3 valid relu, 2x2 pools) then Flatten and
// Dense(10, softmax), built on 32x32x3 from `seed`.
std::unique_ptr<Sequential> cifar_prefix(int depth, uint64_t seed);
// Trains m one SGD step (learning rate 1, categorical cross-entropy) on the first n samples of d,
// unshuffled, on `devices`; the Trainer is returned so its replicas can be inspected. The step's
// gradient is then the weights before minus after.
std::unique_ptr<Trainer> sgd_one_step(Sequential& m, const std::vector<Device>& devices, const Dataset& d, int64_t n);
// One step's gradient (categorical cross-entropy, mean over the first n samples of d, labels as
// class indices) by forward and backward on the CPU model m. Where `routing` is given, the k-th
// max-pooling layer's backward scatters through routing[k] (another device's choice) instead of
// its own; `differing` then gets, per max-pooling layer, the outputs whose routing differed.
std::vector<float> cpu_step_gradients(Sequential& m, const Dataset& d, int64_t n,
                                      const std::vector<std::vector<int32_t>>* routing = nullptr,
                                      std::vector<int64_t>* differing = nullptr);
// The model's inference outputs for n samples x (row-major, the model's input shape).
std::vector<float> infer(Sequential& m, const std::vector<double>& x, int64_t n);

// Resuming, as a fresh process would: a bn_dropout_net trained with Adam for 4 epochs of 4 steps
// (40 samples, batch 10, seed 5) on `devices`, uninterrupted; and again, stopped by the stop flag at
// the end of epoch 2 (or after its step 2 with mid_epoch), checkpointed into dir, then a new model
// and optimizer loaded from that checkpoint and trained to the end. Returns both final models.
// optimizer: another optimizer's configuration than Adam's at 0.005.
std::pair<std::unique_ptr<Sequential>, std::unique_ptr<Sequential>> train_and_resume(
    const std::vector<Device>& devices, const ParallelOptions& po, bool mid_epoch, const std::string& dir,
    const OptimizerConfig* optimizer = nullptr);

// n CPU devices cpu:0..cpu:n-1.
std::vector<Device> cpus(int n);
// Largest |w_a - w_b| over the largest |w_a|, over all weights.
double rel_diff(const Sequential& a, const Sequential& b);

std::vector<double> random_vec(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0);
std::vector<float> random_vecf(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f);
// d f / d x[i] by central differences; x is restored.
std::vector<double> numeric_grad(const std::function<double()>& f, std::vector<double>& x, double eps = 1e-6);
// Largest |a - b| / (atol + rtol * |b|); <= 1 means within tolerance.
// max |a[i] - b[i]| (a: dptrain's float outputs, b: a reference read from .npy); sizes must match.
double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b);
double worst_ratio(const std::vector<double>& a, const std::vector<double>& b, double atol, double rtol);
double dot(const std::vector<double>& a, const std::vector<double>& b);
// Counts operator new calls made while counting is on (the test binary replaces operator new).
struct AllocationCounter {
  AllocationCounter();   // starts counting from zero
  ~AllocationCounter();  // stops counting
  long count() const;
};

// Prepares t for `batch`, trains `warmup` steps and then `steps` more on the first `batch` samples
// of data; returns the operator new calls the latter made.
long steady_state_news(Trainer& t, const Dataset& data, int64_t batch, int warmup, int steps);

// A fresh temporary folder for files a test writes.
std::string temp_dir(const std::string& tag);
// The shared Keras fixtures folder, or "" when absent.
std::string keras_fixtures();

// m's weights through save_weights (.weights.h5, .h5) into a fresh model, and m through save_model
// (.keras, .h5) and back through load_keras_model and load_weights, in the folder dir: each time
// every weight comes back bit for bit. Returns the two models rebuilt from their files' configs.
std::vector<std::unique_ptr<Sequential>> check_file_round_trips(const Sequential& m, const std::string& dir);

// m's parameter gradients (built on input shape in, seed 9, unless built already) on a batch of 3 (sparse categorical
// cross-entropy over 4 classes, fused with m's last softmax) against central differences of the loss.
// Inputs are random in [-1, 1), or whole numbers in [0, m.input_index_limit()) where m reads indices.
void check_model_gradients(Sequential& m, const Shape& in,
                           const std::function<void(float* x, int64_t n)>& shape_input = {});

}  // namespace dpt::test
