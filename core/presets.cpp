// The presets. cifar10-cnn is the model of the Keras multi-GPU example.
#include "core/presets.h"
#include "core/error.h"
#include "core/layers/activation.h"
#include "core/layers/attention.h"
#include "core/layers/bidirectional.h"
#include "core/layers/conv1d.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/dropout.h"
#include "core/layers/embedding.h"
#include "core/layers/flatten.h"
#include "core/layers/layer_norm.h"
#include "core/layers/merge.h"
#include "core/layers/pooling.h"
#include "core/layers/recurrent.h"

namespace dpt {

const char* const kDefaultPreset = "digits-cnn";

namespace {

std::unique_ptr<Layer> conv(int64_t filters, int64_t k, bool same, Activation a) {
  Conv2DConfig c;
  c.filters = filters;
  c.kh = c.kw = k;
  c.same = same;
  c.activation = a;
  return std::make_unique<Conv2D>(c);
}
std::unique_ptr<Layer> dense(int64_t units, Activation a) { return std::make_unique<Dense>(units, a); }

std::unique_ptr<Sequential> digits_mlp() {
  auto m = std::make_unique<Sequential>("digits-mlp");
  m->add(std::make_unique<Flatten>());
  m->add(dense(64, Activation::relu));
  m->add(dense(64, Activation::relu));
  m->add(dense(10, Activation::softmax));
  return m;
}

std::unique_ptr<Sequential> digits_cnn() {
  auto m = std::make_unique<Sequential>("digits-cnn");
  m->add(conv(32, 3, true, Activation::relu));
  m->add(MaxPooling2D());
  m->add(conv(64, 3, true, Activation::relu));
  m->add(MaxPooling2D());
  m->add(std::make_unique<Flatten>());
  m->add(dense(64, Activation::relu));
  m->add(std::make_unique<Dropout>(0.25));
  m->add(dense(10, Activation::softmax));
  return m;
}

std::unique_ptr<Sequential> mnist_mlp() {  // Keras's mnist_mlp example: 784-512-512-10
  auto m = std::make_unique<Sequential>("mnist-mlp");
  m->add(std::make_unique<Flatten>());
  m->add(dense(512, Activation::relu));
  m->add(std::make_unique<Dropout>(0.2));
  m->add(dense(512, Activation::relu));
  m->add(std::make_unique<Dropout>(0.2));
  m->add(dense(10, Activation::softmax));
  return m;
}

std::unique_ptr<Sequential> mnist_cnn() {  // Keras's mnist_cnn example
  auto m = std::make_unique<Sequential>("mnist-cnn");
  m->add(conv(32, 3, false, Activation::relu));
  m->add(conv(64, 3, false, Activation::relu));
  m->add(MaxPooling2D());
  m->add(std::make_unique<Dropout>(0.25));
  m->add(std::make_unique<Flatten>());
  m->add(dense(128, Activation::relu));
  m->add(std::make_unique<Dropout>(0.5));
  m->add(dense(10, Activation::softmax));
  return m;
}

std::unique_ptr<Sequential> cifar10_cnn() {  // the Keras multi-GPU example's model
  auto m = std::make_unique<Sequential>("cifar10-cnn");
  m->add(conv(32, 3, false, Activation::relu));
  m->add(MaxPooling2D());
  m->add(conv(64, 3, false, Activation::relu));
  m->add(MaxPooling2D());
  m->add(conv(128, 3, false, Activation::relu));
  m->add(MaxPooling2D());
  m->add(std::make_unique<Flatten>());
  m->add(dense(128, Activation::relu));
  m->add(dense(10, Activation::softmax));
  return m;
}

// Keras's imdb_cnn example (max_features 5000, maxlen 400, embedding_dims 50, filters 250,
// kernel_size 3, hidden_dims 250): a review's word indices -> positive or not.
std::unique_ptr<Sequential> imdb_cnn() {
  auto m = std::make_unique<Sequential>("imdb-cnn");
  m->add(std::make_unique<Embedding>(5000, 50));
  m->add(std::make_unique<Dropout>(0.2));
  Conv2DConfig c;
  c.filters = 250;
  c.kw = 3;
  c.activation = Activation::relu;
  m->add(std::make_unique<Conv1D>(c, false));
  m->add(std::make_unique<GlobalPooling2D>(true, false, 1));
  m->add(dense(250, Activation::linear));
  m->add(std::make_unique<Dropout>(0.2));
  m->add(std::make_unique<ActivationLayer>(Activation::relu));
  m->add(dense(1, Activation::linear));
  m->add(std::make_unique<ActivationLayer>(Activation::sigmoid));
  return m;
}

// Keras's imdb_lstm example (max_features 20000, maxlen 80, Embedding 128, LSTM(128, dropout=0.2,
// recurrent_dropout=0.2)).
std::unique_ptr<Sequential> imdb_lstm() {
  auto m = std::make_unique<Sequential>("imdb-lstm");
  m->add(std::make_unique<Embedding>(20000, 128));
  RecurrentConfig r;
  r.units = 128;
  r.dropout = r.recurrent_dropout = 0.2;
  m->add(std::make_unique<LSTM>(r));
  m->add(dense(1, Activation::sigmoid));
  return m;
}

// Keras's imdb_bidirectional_lstm example (max_features 20000, maxlen 100, Embedding 128,
// Bidirectional(LSTM(64)), Dropout(0.5)).
std::unique_ptr<Sequential> imdb_bilstm() {
  auto m = std::make_unique<Sequential>("imdb-bilstm");
  m->add(std::make_unique<Embedding>(20000, 128));
  RecurrentConfig r;
  r.units = 64;
  m->add(std::make_unique<Bidirectional>(std::make_unique<LSTM>(r)));
  m->add(std::make_unique<Dropout>(0.5));
  m->add(dense(1, Activation::sigmoid));
  return m;
}

// Keras's "Text classification with Transformer" example (maxlen 200, vocabulary 20000, embed_dim
// 32, 2 heads of key_dim 32, ff_dim 32) without its position embedding: a token Embedding, one
// transformer block (self-attention, Dropout(0.1), residual Add, LayerNormalization(epsilon=1e-6),
// Dense(32, relu) -> Dense(32), Dropout(0.1), Add, LayerNormalization), GlobalAveragePooling1D,
// Dropout(0.1), Dense(20, relu), Dropout(0.1), Dense(2, softmax).
std::unique_ptr<Sequential> imdb_transformer() {
  auto m = std::make_unique<Sequential>("imdb-transformer");
  m->add(std::make_unique<Embedding>(20000, 32));  // 0
  AttentionConfig a;
  a.num_heads = 2;
  a.key_dim = 32;
  m->add(std::make_unique<MultiHeadAttention>(a), {0, 0});  // 1
  m->add(std::make_unique<Dropout>(0.1));                   // 2
  m->add(std::make_unique<Add>(), {0, 2});                  // 3
  LayerNormConfig ln;
  ln.epsilon = 1e-6;
  m->add(std::make_unique<LayerNormalization>(ln));  // 4
  m->add(dense(32, Activation::relu));               // 5
  m->add(dense(32, Activation::linear));             // 6
  m->add(std::make_unique<Dropout>(0.1));            // 7
  m->add(std::make_unique<Add>(), {4, 7});           // 8
  m->add(std::make_unique<LayerNormalization>(ln));  // 9
  m->add(std::make_unique<GlobalPooling2D>(false, false, 1));
  m->add(std::make_unique<Dropout>(0.1));
  m->add(dense(20, Activation::relu));
  m->add(std::make_unique<Dropout>(0.1));
  m->add(dense(2, Activation::softmax));
  return m;
}

OptimizerConfig opt(const std::string& name, double lr, double momentum = -1) {
  OptimizerConfig c;
  c.name = name;
  c.learning_rate = lr;
  c.momentum = momentum;
  return c;
}

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = {
      {"digits-mlp",
       "Flatten -> Dense(64,relu) -> Dense(64,relu) -> Dense(10,softmax)",
       {8, 8, 1},
       10,
       "digits",
       opt("adam", 0.001),
       30,
       32,
       digits_mlp},
      {"digits-cnn",
       "Conv2D(32,3,same) -> MaxPool -> Conv2D(64,3,same) -> MaxPool -> Dense(64) -> Dropout(0.25) -> Dense(10)",
       {8, 8, 1},
       10,
       "digits",
       opt("adam", 0.001),
       20,
       32,
       digits_cnn},
      {"mnist-mlp",
       "Keras mnist_mlp: Flatten -> Dense(512,relu) -> Dropout(0.2) -> Dense(512,relu) -> Dropout(0.2) -> Dense(10)",
       {28, 28, 1},
       10,
       "synthetic:28,28,1:10:2048",
       opt("rmsprop", 0.001),
       20,
       128,
       mnist_mlp},
      {"mnist-cnn",
       "Keras mnist_cnn: Conv2D(32,3) -> Conv2D(64,3) -> MaxPool -> Dropout -> Dense(128) -> Dropout -> Dense(10)",
       {28, 28, 1},
       10,
       "synthetic:28,28,1:10:2048",
       opt("adam", 0.001),
       12,
       128,
       mnist_cnn},
      {"cifar10-cnn",
       "Keras multi-GPU example: 3x [Conv2D(32/64/128,3,relu) -> MaxPool] -> Dense(128,relu) -> Dense(10)",
       {32, 32, 3},
       10,
       "synthetic:32,32,3:10:2048",
       opt("rmsprop", 1e-4, 0.9),
       20,
       128,
       cifar10_cnn},
      {"imdb-cnn",
       "Keras imdb_cnn: Embedding(5000,50) -> Dropout -> Conv1D(250,3,relu) -> GlobalMaxPool1D -> Dense(250) -> "
       "Dropout -> relu -> Dense(1) -> sigmoid",
       {400},
       1,
       "synthetic:400:2:2048:5000",
       opt("adam", 0.001),
       2,
       32,
       imdb_cnn,
       "binary_crossentropy"},
      {"imdb-lstm",
       "Keras imdb_lstm: Embedding(20000,128) -> LSTM(128, dropout=0.2, recurrent_dropout=0.2) -> "
       "Dense(1,sigmoid)",
       {80},
       1,
       "synthetic:80:2:2048:20000",
       opt("adam", 0.001),
       15,
       32,
       imdb_lstm,
       "binary_crossentropy"},
      {"imdb-bilstm",
       "Keras imdb_bidirectional_lstm: Embedding(20000,128) -> Bidirectional(LSTM(64)) -> Dropout(0.5) -> "
       "Dense(1,sigmoid)",
       {100},
       1,
       "synthetic:100:2:2048:20000",
       opt("adam", 0.001),
       4,
       32,
       imdb_bilstm,
       "binary_crossentropy"},
      {"imdb-transformer",
       "Keras's text classification with Transformer (no position embedding): Embedding(20000,32) -> "
       "MultiHeadAttention(2 heads, key_dim 32) -> Dropout -> Add -> LayerNorm -> Dense(32,relu) -> Dense(32) -> "
       "Dropout -> Add -> LayerNorm -> GlobalAvgPool1D -> Dropout -> Dense(20,relu) -> Dropout -> Dense(2)",
       {200},
       2,
       "synthetic:200:2:2048:20000",
       opt("adam", 0.001),
       2,
       32,
       imdb_transformer,
       "sparse_categorical_crossentropy"},
  };
  return all;
}

const Preset& find_preset(const std::string& name) {
  for (auto& p : presets())
    if (p.name == name) return p;
  std::string names;
  for (auto& p : presets()) names += (names.empty() ? "" : ", ") + p.name;
  DPT_FAIL("unknown model preset '" << name << "' (available: " << names << ")");
}

}  // namespace dpt
