// Test helpers.
#include "test_util.h"
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <new>
#include "core/callbacks/callback.h"
#include "core/context.h"
#include "core/data/dataset.h"
#include "core/data/readers.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_config.h"
#include "core/io/keras_model.h"
#include "core/layers/attention.h"
#include "core/layers/batch_norm.h"
#include "core/layers/bidirectional.h"
#include "core/layers/conv1d.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/dot.h"
#include "core/layers/dropout.h"
#include "core/layers/embedding.h"
#include "core/layers/flatten.h"
#include "core/layers/layer_norm.h"
#include "core/layers/masking.h"
#include "core/layers/merge.h"
#include "core/layers/pooling.h"
#include "core/layers/preprocessing.h"
#include "core/layers/recurrent.h"
#include "core/layers/time_distributed.h"
#include "core/losses.h"
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"
#include "parallel/checkpoint.h"
#include "parallel/trainer.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_news{0};
}  // namespace

// The test binary's operator new counts allocations while an AllocationCounter is alive. None of
// the three is inlined: GCC would otherwise pair malloc with delete, or new with free, and warn
// (-Wmismatched-new-delete).
__attribute__((noinline)) void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace dpt::test {

AllocationCounter::AllocationCounter() {
  g_news = 0;
  g_counting = true;
}
AllocationCounter::~AllocationCounter() { g_counting = false; }
long AllocationCounter::count() const { return g_news.load(); }

std::unique_ptr<Sequential> cifar_prefix(int depth, uint64_t seed) {
  auto m = std::make_unique<Sequential>("prefix");
  const int64_t filters[3] = {32, 64, 128};
  for (int i = 0; i < depth; ++i) {
    if (i % 2 == 0) {
      Conv2DConfig c;
      c.filters = filters[i / 2];
      c.kh = c.kw = 3;
      c.activation = Activation::relu;
      m->add(std::make_unique<Conv2D>(c));
    } else {
      m->add(MaxPooling2D());
    }
  }
  m->add(std::make_unique<Flatten>());
  m->add(std::make_unique<Dense>(10, Activation::softmax));
  m->build({32, 32, 3}, seed);
  return m;
}

std::unique_ptr<Trainer> sgd_one_step(Sequential& m, const std::vector<Device>& devices, const Dataset& d, int64_t n) {
  FitOptions fo;
  fo.batch_size = n;
  fo.steps_per_epoch = 1;
  fo.shuffle = false;
  fo.verbose = 0;
  OptimizerConfig oc;
  oc.name = "sgd";
  oc.learning_rate = 1.0;
  auto opt = make_optimizer(oc);
  auto t = std::make_unique<Trainer>(m, devices, LossKind::categorical_crossentropy, *opt, 1);
  t->fit(d, nullptr, fo, {});
  return t;
}

std::vector<float> cpu_step_gradients(Sequential& m, const Dataset& d, int64_t n,
                                      const std::vector<std::vector<int32_t>>* routing,
                                      std::vector<int64_t>* differing) {
  REQUIRE(m.device().is_cpu());
  REQUIRE(d.y_is_index);
  Context ctx;
  m.prepare(n, &ctx);
  // As the Trainer: softmax + cross-entropy hands the last layer d(loss)/d(pre-activation).
  const bool fused = loss_fuses_with(LossKind::categorical_crossentropy, m.layers().back()->output_activation());
  m.set_fused_output_grad(fused);
  Shape xs = d.sample_shape;
  xs.insert_front(n);
  Tensor x(xs), y({n, d.num_classes});
  std::copy(d.x.begin(), d.x.begin() + n * d.sample_numel(), x.data());
  for (int64_t i = 0; i < n; ++i) y.data()[i * d.num_classes + int64_t(d.y[size_t(i)])] = 1.f;
  const Tensor out = m.forward(ctx, x, true);
  if (routing) {
    size_t k = 0;
    if (differing) differing->clear();
    for (auto& l : m.layers()) {
      auto* pool = dynamic_cast<Pool2D*>(l.get());
      if (!pool || !pool->is_max()) continue;
      REQUIRE(k < routing->size());
      const std::vector<int32_t> own = pool->routing(n);
      REQUIRE(own.size() == (*routing)[k].size());
      int64_t diff = 0;
      for (size_t i = 0; i < own.size(); ++i) diff += own[i] != (*routing)[k][i];
      if (differing) differing->push_back(diff);
      pool->set_routing((*routing)[k++]);
    }
    REQUIRE(k == routing->size());
  }
  Tensor g = m.output_grad(n);
  loss_sum(LossKind::categorical_crossentropy, fused, out, y, 1.f / float(n), &g);
  m.zero_grads();
  m.backward(ctx, x);
  return std::vector<float>(m.grads(), m.grads() + m.num_trainable());
}

std::unique_ptr<Sequential> bn_dropout_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("bn-net");
  Conv2DConfig c;
  c.filters = 4;
  c.kh = c.kw = 3;
  c.same = true;
  c.activation = Activation::relu;
  m->add(std::make_unique<Conv2D>(c));
  m->add(std::make_unique<BatchNormalization>());
  m->add(MaxPooling2D());
  m->add(std::make_unique<Flatten>());
  m->add(std::make_unique<Dense>(12, Activation::relu));
  m->add(std::make_unique<Dropout>(0.25));
  m->add(std::make_unique<Dense>(10, Activation::softmax));
  m->build({8, 8, 1}, seed);
  return m;
}

std::unique_ptr<Sequential> embed_net(uint64_t seed, bool max_pool) {
  auto m = std::make_unique<Sequential>("embed");
  m->add(std::make_unique<Embedding>(20, 6));  // 0: (12, 6)
  Conv2DConfig c;
  c.filters = 5;
  c.kw = 3;
  c.same = true;
  c.activation = Activation::tanh;
  m->add(std::make_unique<Conv1D>(c, false));                     // 1: (12, 5)
  m->add(std::make_unique<GlobalPooling2D>(max_pool, false, 1));  // 2: (5,)
  m->add(std::make_unique<Embedding>(15, 3), {-1});               // 3: (12, 3)
  m->add(std::make_unique<GlobalPooling2D>(false, false, 1));     // 4: (3,)
  m->add(std::make_unique<Concatenate>(), {2, 4});                // 5: (8,)
  m->add(std::make_unique<Dense>(4, Activation::softmax));        // 6
  m->build({12}, seed);
  return m;
}

std::unique_ptr<Sequential> dot_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("dot");
  m->add(std::make_unique<Dense>(5, Activation::tanh));                            // 0: (6, 5)
  m->add(std::make_unique<Dense>(5, Activation::sigmoid), {-1});                   // 1: (6, 5)
  m->add(std::make_unique<Dot>(std::vector<int64_t>{2}, false, false), {0, 1});    // 2: (6, 6)
  m->add(std::make_unique<Dot>(std::vector<int64_t>{2, 1}, false, true), {2, 0});  // 3: (6, 5)
  m->add(std::make_unique<Dot>(std::vector<int64_t>{1}, true, false), {0, 1});     // 4: (5, 5)
  m->add(std::make_unique<Flatten>(), {3});                                        // 5: (30,)
  m->add(std::make_unique<Flatten>(), {4});                                        // 6: (25,)
  m->add(std::make_unique<Dense>(4, Activation::tanh), {5});                       // 7
  m->add(std::make_unique<Dense>(4, Activation::tanh), {6});                       // 8
  m->add(std::make_unique<Dot>(std::vector<int64_t>{-1}, true, false), {7, 8});    // 9: (1,)
  m->add(std::make_unique<Concatenate>(), {5, 6, 9});                              // 10: (56,)
  m->add(std::make_unique<Dense>(4, Activation::softmax));                         // 11
  m->build({6, 4}, seed);
  return m;
}

std::unique_ptr<Sequential> two_tower_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("two-tower");
  m->add(std::make_unique<Embedding>(10, 4), {-1});                              // 0: (1, 4)
  m->add(std::make_unique<Flatten>());                                           // 1: (4,)
  m->add(std::make_unique<Embedding>(12, 4), {-2});                              // 2: (3, 4)
  m->add(std::make_unique<GlobalPooling2D>(false, false, 1));                    // 3: (4,)
  m->add(std::make_unique<Dense>(4, Activation::tanh), {-3});                    // 4: (4,)
  m->add(std::make_unique<Add>(), {3, 4});                                       // 5: (4,)
  m->add(std::make_unique<Dot>(std::vector<int64_t>{1}, true, false), {1, 5});   // 6: (1,)
  m->add(std::make_unique<Dot>(std::vector<int64_t>{1}, false, false), {1, 5});  // 7: (1,)
  m->add(std::make_unique<Concatenate>(), {6, 7, 4});                            // 8: (6,)
  m->add(std::make_unique<Dense>(4, Activation::softmax));                       // 9
  m->build_inputs({{1}, {3}, {4}}, seed, {"user", "item", "context"});
  return m;
}

std::unique_ptr<Sequential> attention_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("attention");
  AttentionConfig self;
  self.num_heads = 2;
  self.key_dim = 3;
  self.causal = true;
  m->add(std::make_unique<MultiHeadAttention>(self), {-1, -1});  // 0: (6, 4)
  m->add(std::make_unique<Add>(), {-1, 0});                      // 1: (6, 4)
  m->add(std::make_unique<Dense>(3, Activation::tanh));          // 2: (6, 3), a key
  AttentionConfig keyed;
  keyed.num_heads = 3;
  keyed.key_dim = 2;
  keyed.value_dim = 3;
  keyed.output_dim = 5;
  keyed.use_bias = false;
  keyed.dropout = 0.25;
  m->add(std::make_unique<MultiHeadAttention>(keyed), {1, 1, 2});  // 3: (6, 5)
  AttentionConfig cross;
  cross.num_heads = 2;
  cross.key_dim = 2;
  cross.causal = true;
  m->add(std::make_unique<MultiHeadAttention>(cross), {3, -2});  // 4: (6, 5) over (3, 5)
  m->add(std::make_unique<GlobalPooling2D>(false, false, 1));    // 5: (5,)
  m->add(std::make_unique<Dense>(4, Activation::softmax));       // 6
  m->build_inputs({{6, 4}, {3, 5}}, seed, {"seq", "ctx"});
  return m;
}

std::unique_ptr<Sequential> masked_attention_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("masked-attention");
  m->add(std::make_unique<Embedding>(10, 4, true));  // 0: (6, 4), its mask (6,)
  AttentionConfig a;
  a.num_heads = 2;
  a.key_dim = 3;
  a.causal = true;
  m->add(std::make_unique<MultiHeadAttention>(a), {0, 0});     // 1: (6, 4)
  m->add(std::make_unique<Add>(), {0, 1});                     // 2
  m->add(std::make_unique<LayerNormalization>());              // 3
  m->add(std::make_unique<GlobalPooling2D>(false, false, 1));  // 4: (4,), over the kept steps
  m->add(std::make_unique<Dense>(4, Activation::softmax));     // 5
  m->build({6}, seed);
  return m;
}

std::unique_ptr<Sequential> luong_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("luong");
  m->add(std::make_unique<Dense>(4, Activation::tanh), {-2});  // 0: (6, 4), a key
  ScoreAttentionConfig a;
  a.use_scale = true;
  a.causal = true;
  a.dropout = 0.2;
  m->add(std::make_unique<ScoreAttention>(a), {-1, -2, 0});              // 1: (5, 3)
  m->add(std::make_unique<Dense>(3), {-1});                              // 2: (5, 3)
  m->add(std::make_unique<ScoreAttention>(ScoreAttentionConfig{}), {2, 1});  // 3: (5, 3), the value its key
  m->add(std::make_unique<Concatenate>(), {1, 3});                       // 4: (5, 6)
  m->add(std::make_unique<Flatten>());                                   // 5: (30,)
  m->add(std::make_unique<Dense>(4, Activation::softmax));               // 6
  m->build_inputs({{5, 4}, {6, 3}}, seed, {"q", "v"});
  return m;
}

std::unique_ptr<Sequential> gqa_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("gqa");
  AttentionConfig self;
  self.grouped = true;
  self.num_heads = 4;
  self.kv_heads = 2;
  self.key_dim = 3;
  self.causal = true;
  self.dropout = 0.1;
  m->add(std::make_unique<MultiHeadAttention>(self), {-1, -1});  // 0: (6, 4), 2 query heads a key head
  m->add(std::make_unique<Add>(), {-1, 0});                      // 1: (6, 4)
  m->add(std::make_unique<LayerNormalization>());                // 2
  m->add(std::make_unique<Dense>(5, Activation::tanh), {-2});    // 3: (3, 5), a key
  AttentionConfig cross;
  cross.grouped = true;
  cross.num_heads = 3;
  cross.kv_heads = 1;
  cross.key_dim = 2;
  cross.use_bias = false;
  m->add(std::make_unique<MultiHeadAttention>(cross), {2, -2, 3});  // 4: (6, 4) over (3, 4), one key head
  m->add(std::make_unique<GlobalPooling2D>(false, false, 1));       // 5: (4,)
  m->add(std::make_unique<Dense>(4, Activation::softmax));          // 6
  m->build_inputs({{6, 4}, {3, 4}}, seed, {"seq", "ctx"});
  return m;
}

std::unique_ptr<Sequential> bahdanau_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("bahdanau");
  m->add(std::make_unique<Dense>(4, Activation::tanh), {-2});  // 0: (6, 4), a key
  ScoreAttentionConfig a;
  a.score = ScoreAttentionConfig::concat;
  a.use_scale = true;
  a.causal = true;
  a.dropout = 0.2;
  m->add(std::make_unique<ScoreAttention>(a), {-1, -2, 0});  // 1: (5, 3), scale and concat_score_weight
  m->add(std::make_unique<Dense>(4), {-1});                  // 2: (5, 4)
  ScoreAttentionConfig add;
  add.score = ScoreAttentionConfig::additive;
  add.use_scale = true;
  m->add(std::make_unique<ScoreAttention>(add), {2, 0});  // 3: (5, 4), the value its key; scale (4,)
  ScoreAttentionConfig plain;
  plain.score = ScoreAttentionConfig::concat;
  m->add(std::make_unique<ScoreAttention>(plain), {-1, 0});  // 4: (5, 4), concat_score_weight alone
  m->add(std::make_unique<Concatenate>(), {1, 3, 4});        // 5: (5, 11)
  m->add(std::make_unique<Flatten>());                       // 6: (55,)
  m->add(std::make_unique<Dense>(4, Activation::softmax));   // 7
  m->build_inputs({{5, 4}, {6, 3}}, seed, {"q", "v"});
  return m;
}

Dataset attention_data(int64_t n, uint64_t seed) {
  Dataset d = make_synthetic({39}, 4, n, seed);
  d.inputs = {{6, 4}, {3, 5}};
  return d;
}

Dataset two_tower_data(int64_t n, uint64_t seed) {
  Dataset d = make_synthetic({8}, 4, n, seed, 10);
  d.inputs = {{1}, {3}, {4}};
  return d;
}

double replicas_vs_one(const std::function<std::unique_ptr<Sequential>()>& make, const Dataset& data, int replicas,
                       int64_t batch) {
  auto one = make(), many = make();
  Adam opt(0.01);
  FitOptions fo;
  fo.epochs = 2;
  fo.batch_size = batch;
  fo.verbose = 0;
  fo.seed = 3;
  Trainer(*one, cpus(1), LossKind::categorical_crossentropy, opt, 1, {}).fit(data, nullptr, fo, {});
  Trainer(*many, cpus(replicas), LossKind::categorical_crossentropy, opt, 1, {}).fit(data, nullptr, fo, {});
  return rel_diff(*one, *many);
}

std::unique_ptr<Sequential> lstm_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("rnn");
  LSTMConfig a, b, c;
  a.units = 5;
  a.return_sequences = true;
  b.units = 4;
  b.go_backwards = true;
  c.units = 3;
  c.use_bias = false;
  m->add(std::make_unique<LSTM>(a));                        // 0: (6, 5)
  m->add(std::make_unique<LSTM>(b));                        // 1: (4,)
  m->add(std::make_unique<LSTM>(c), {0});                   // 2: (3,)
  m->add(std::make_unique<Concatenate>(), {1, 2});          // 3: (7,)
  m->add(std::make_unique<Dense>(4, Activation::softmax));  // 4
  m->build({6, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> gru_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("gru");
  RecurrentConfig a, b, c;
  a.units = 5;
  a.return_sequences = true;
  b.units = 4;
  b.go_backwards = true;
  b.return_sequences = true;
  c.units = 3;
  c.use_bias = false;
  m->add(std::make_unique<GRU>(a));
  m->add(std::make_unique<GRU>(b));
  m->add(std::make_unique<GRU>(c));
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({6, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> srnn_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("srnn");
  RecurrentConfig a, b;
  a.units = 5;
  a.return_sequences = true;
  b.units = 4;
  b.go_backwards = true;
  b.use_bias = false;
  m->add(std::make_unique<SimpleRNN>(a));
  m->add(std::make_unique<SimpleRNN>(b));
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({6, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> rnn_dropout_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("rnn_dropout");
  RecurrentConfig a, b, c;
  a.units = 5;
  a.return_sequences = true;
  a.dropout = a.recurrent_dropout = 0.3;
  b.units = 4;
  b.go_backwards = b.return_sequences = true;
  b.dropout = 0.25;
  b.implementation = 1;
  c.units = 3;
  c.dropout = c.recurrent_dropout = 0.2;
  m->add(std::make_unique<LSTM>(a));
  m->add(std::make_unique<GRU>(b));
  m->add(std::make_unique<SimpleRNN>(c));
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({6, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> rnn_acts_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("rnn_acts");
  RecurrentConfig a, b, c;
  a.units = 5;
  a.return_sequences = true;
  a.activation = Activation::elu;
  a.recurrent_activation = Activation::softsign;
  b.units = 4;
  b.go_backwards = b.return_sequences = true;
  b.activation = Activation::softsign;
  c.units = 3;
  c.activation = Activation::softplus;
  m->add(std::make_unique<LSTM>(a));
  m->add(std::make_unique<GRU>(b));
  m->add(std::make_unique<SimpleRNN>(c));
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({6, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> gru_v1_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("gru_v1");
  RecurrentConfig a, b, c;
  a.units = 5;
  a.return_sequences = true;
  b.units = 4;
  b.go_backwards = b.return_sequences = true;
  b.dropout = 0.2;
  b.recurrent_dropout = 0.3;
  c.units = 3;
  c.use_bias = false;
  c.activation = Activation::elu;
  a.reset_after = b.reset_after = c.reset_after = false;
  m->add(std::make_unique<GRU>(a));
  m->add(std::make_unique<GRU>(b));
  m->add(std::make_unique<GRU>(c));
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({6, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> bidir_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("bidir");
  auto cfg = [](int64_t units, bool seq, bool backwards = false) {
    RecurrentConfig c;
    c.units = units;
    c.return_sequences = seq;
    c.go_backwards = backwards;
    return c;
  };
  m->add(std::make_unique<Bidirectional>(std::make_unique<LSTM>(cfg(4, true))));
  m->add(std::make_unique<Bidirectional>(std::make_unique<GRU>(cfg(3, true)), MergeMode::sum));
  m->add(std::make_unique<Bidirectional>(std::make_unique<LSTM>(cfg(3, true)), MergeMode::ave,
                                         std::make_unique<GRU>(cfg(3, true, true))));
  m->add(std::make_unique<Bidirectional>(std::make_unique<SimpleRNN>(cfg(2, false)), MergeMode::mul));
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({6, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> masked_rnn_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("masked_rnn");
  RecurrentConfig a, b, c;
  a.units = 5;
  a.return_sequences = true;
  b.units = 3;
  b.return_sequences = true;
  c.units = 3;
  c.go_backwards = c.return_sequences = true;
  c.dropout = 0.2;
  m->add(std::make_unique<Embedding>(5, 4, true));
  m->add(std::make_unique<LSTM>(a));
  m->add(std::make_unique<Bidirectional>(std::make_unique<GRU>(b)));
  m->add(std::make_unique<Dense>(4, Activation::tanh));
  m->add(std::make_unique<SimpleRNN>(c));
  m->add(std::make_unique<GlobalPooling2D>(false, false, 1));
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({8}, seed);
  return m;
}

std::unique_ptr<Sequential> masking_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("masking");
  RecurrentConfig a, b;
  a.units = 4;
  a.return_sequences = true;
  a.reset_after = false;
  b.units = 3;
  b.go_backwards = true;
  m->add(std::make_unique<Masking>(0.0));
  m->add(std::make_unique<GRU>(a));
  m->add(std::make_unique<LSTM>(b));
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({7, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> seqout_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("seqout");
  RecurrentConfig a;
  a.units = 5;
  a.return_sequences = true;
  m->add(std::make_unique<LSTM>(a));
  m->add(std::make_unique<Dense>(3, Activation::softmax));
  m->build({6, 3}, seed);
  return m;
}

std::unique_ptr<Sequential> maskout_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("maskout");
  RecurrentConfig a;
  a.units = 4;
  a.return_sequences = true;
  m->add(std::make_unique<Embedding>(5, 4, true));
  m->add(std::make_unique<GRU>(a));
  m->add(std::make_unique<Dense>(3, Activation::softmax));
  m->build({8}, seed);
  return m;
}

void zero_steps(float* x, int64_t n, int64_t steps, int64_t features) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t k = i % 4;  // none; the last two; the first and an inner one; every other
      const bool skip = (k == 1 && t >= steps - 2) || (k == 2 && (t == 0 || t == steps / 2)) || (k == 3 && t % 2 == 1);
      if (skip) std::fill(x + (i * steps + t) * features, x + (i * steps + t + 1) * features, 0.f);
    }
}

std::unique_ptr<Sequential> tdist_net(uint64_t seed, bool smooth) {
  auto m = std::make_unique<Sequential>("tdist");
  auto each = [](std::unique_ptr<Layer> l) { return std::make_unique<TimeDistributed>(std::move(l)); };
  Conv2DConfig c;
  c.filters = 3;
  c.kh = c.kw = 3;
  c.activation = Activation::relu;
  m->add(each(std::make_unique<Conv2D>(c)));
  m->add(each(std::make_unique<Pool2D>(!smooth, Pool2DConfig{})));
  m->add(each(std::make_unique<Flatten>()));
  RecurrentConfig r;
  r.units = 5;
  r.return_sequences = true;
  m->add(std::make_unique<LSTM>(r));
  m->add(each(std::make_unique<Dense>(4, Activation::tanh)));
  if (!smooth) m->add(each(std::make_unique<Dropout>(0.3)));
  m->add(std::make_unique<Flatten>());
  m->add(std::make_unique<Dense>(4, Activation::softmax));
  m->build({4, 6, 6, 2}, seed);
  return m;
}

std::unique_ptr<Sequential> graph_net(uint64_t seed) {
  auto m = std::make_unique<Sequential>("graph-net");
  m->add(std::make_unique<Rescaling>(std::vector<double>{2.0}, std::vector<double>{-0.5}));          // 0
  m->add(std::make_unique<Normalization>(-1, std::vector<double>{}, std::vector<double>{}, false));  // 1: weights
  Conv2DConfig c;
  c.filters = 4;
  c.kh = c.kw = 3;
  c.same = true;
  c.activation = Activation::relu;
  m->add(std::make_unique<Conv2D>(c));             // 2
  m->add(std::make_unique<BatchNormalization>());  // 3
  Conv2DConfig p = c;
  p.activation = Activation::tanh;
  m->add(std::make_unique<Conv2D>(p));      // 4
  m->add(std::make_unique<Add>(), {2, 4});  // 5: the residual
  Conv2DConfig side = c;
  side.filters = 2;
  side.kh = side.kw = 1;
  m->add(std::make_unique<Conv2D>(side), {-1});     // 6: a branch from the input
  m->add(std::make_unique<Concatenate>(), {5, 6});  // 7
  Conv2DConfig gate = c;
  gate.filters = 6;
  gate.kh = gate.kw = 1;
  gate.activation = Activation::sigmoid;
  m->add(std::make_unique<Conv2D>(gate));                                             // 8
  m->add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::multiply), {7, 8});     // 9: gated
  m->add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::subtract), {9, 7});     // 10
  m->add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::average), {10, 7, 9});  // 11
  // Squeeze and excite: (1, 1, 6) weights broadcast over (8, 8, 6), then stochastic depth.
  m->add(std::make_unique<GlobalPooling2D>(false, true));                            // 12
  m->add(std::make_unique<Conv2D>(gate));                                            // 13
  m->add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::multiply), {11, 13});  // 14
  m->add(std::make_unique<Dropout>(0.25, Shape{1, 1, 1}));                           // 15
  m->add(std::make_unique<Add>(), {15, 11});                                         // 16
  m->add(MaxPooling2D());
  m->add(std::make_unique<LayerNormalization>());  // per position, over the channels
  m->add(std::make_unique<Flatten>());
  m->add(std::make_unique<Dropout>(0.25));
  LayerNormConfig rms;
  rms.rms = true;
  rms.epsilon = 1e-6;
  m->add(std::make_unique<LayerNormalization>(rms));
  m->add(std::make_unique<Dense>(10, Activation::softmax));
  m->build({8, 8, 1}, seed);
  for (auto& w : m->weights())  // Normalization's statistics, as Keras's adapt() would set them
    if (w.spec.name == "mean" || w.spec.name == "variance") w.data[0] = w.spec.name == "mean" ? 0.25f : 1.5f;
  return m;
}

std::vector<float> infer(Sequential& m, const std::vector<double>& x, int64_t n) {
  m.prepare(n);
  Shape s = m.input_shape();
  s.insert_front(n);
  Tensor t(s);
  for (size_t i = 0; i < x.size(); ++i) t.data()[i] = float(x[i]);
  Context ctx;
  Tensor out = m.forward(ctx, t, false);
  return std::vector<float>(out.data(), out.data() + out.numel());
}

namespace {
// Raises the stop flag after a given step of a given epoch (as SIGINT would).
struct StopAt : Callback {
  std::atomic<bool>* flag = nullptr;
  int64_t epoch = 0, step = 0, current_epoch = 0;
  void on_epoch_begin(int64_t e) override { current_epoch = e; }
  void on_batch_end(int64_t s, const Logs&) override {
    if (current_epoch == epoch && s == step) flag->store(true);
  }
};
}  // namespace

std::pair<std::unique_ptr<Sequential>, std::unique_ptr<Sequential>> train_and_resume(const std::vector<Device>& devices,
                                                                                     const ParallelOptions& po,
                                                                                     bool mid_epoch,
                                                                                     const std::string& dir,
                                                                                     const OptimizerConfig* optimizer) {
  OptimizerConfig adam;
  adam.learning_rate = 0.005;
  const OptimizerConfig& oc = optimizer ? *optimizer : adam;
  Dataset data = make_synthetic({8, 8, 1}, 10, 40, 6);
  FitOptions fo;
  fo.epochs = 4;
  fo.batch_size = 10;
  fo.verbose = 0;
  fo.seed = 5;
  // Uninterrupted.
  auto a = bn_dropout_net(1);
  auto made = make_optimizer(oc);
  Optimizer& opt = *made;
  Trainer ta(*a, devices, LossKind::categorical_crossentropy, opt, 1, po);
  ta.fit(data, nullptr, fo, {});
  // Interrupted: at the end of epoch 2, or after step 2 of epoch 2 (0-based), then resumed.
  auto b = bn_dropout_net(1);
  Trainer tb(*b, devices, LossKind::categorical_crossentropy, opt, 1, po);
  std::atomic<bool> stop{false};
  StopAt stopper;
  stopper.flag = &stop;
  stopper.epoch = mid_epoch ? 2 : 1;
  stopper.step = mid_epoch ? 1 : 3;
  Checkpointer ck(tb, *b, dir, 0, 0, TrainingState{0, 0, fo.seed, fo.batch_size, -1, {}});
  FitOptions fb = fo;
  fb.stop = &stop;
  tb.fit(data, nullptr, fb, {&stopper});
  REQUIRE(tb.was_stopped());
  CHECK(tb.stopped_epoch() == 2);
  CHECK(tb.stopped_step() == (mid_epoch ? 2 : 0));
  ck.save(tb.stopped_epoch(), tb.stopped_step());
  const auto found = newest_checkpoint(dir);
  REQUIRE(found);
  // A fresh process would do this: model from the preset, weights and state from the file.
  auto c = bn_dropout_net(77);
  load_weights(*c, found->path);
  auto fresh = make_optimizer(oc);
  fresh->build(c->num_trainable(), Device::cpu());
  load_optimizer_state(found->path, *c, *fresh);
  Trainer tc(*c, devices, LossKind::categorical_crossentropy, *fresh, 1, po);
  tc.set_optimizer_state(*fresh);
  FitOptions fc = fo;
  fc.initial_epoch = found->state.epoch;
  fc.initial_step = found->state.step;
  tc.fit(data, nullptr, fc, {});
  return {std::move(a), std::move(c)};
}

std::vector<Device> cpus(int n) {
  std::vector<Device> d;
  for (int i = 0; i < n; ++i) d.push_back(Device::cpu(i));
  return d;
}

double rel_diff(const Sequential& a, const Sequential& b) {
  double diff = 0, mx = 0;
  for (int64_t i = 0; i < a.num_params(); ++i) {
    diff = std::max(diff, double(std::abs(a.params()[i] - b.params()[i])));
    mx = std::max(mx, double(std::abs(a.params()[i])));
  }
  return diff / mx;
}

std::vector<double> random_vec(size_t n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

std::vector<float> random_vecf(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

std::vector<double> numeric_grad(const std::function<double()>& f, std::vector<double>& x, double eps) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double fp = f();
    x[i] = keep - eps;
    const double fm = f();
    x[i] = keep;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::max(w, std::abs(a[i] - b[i]));
  return w;
}

double worst_ratio(const std::vector<double>& a, const std::vector<double>& b, double atol, double rtol) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / (atol + rtol * std::abs(b[i])));
  return worst;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

long steady_state_news(Trainer& t, const Dataset& data, int64_t batch, int warmup, int steps) {
  t.prepare(batch, data);
  std::vector<int64_t> idx(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) idx[size_t(i)] = i;
  std::vector<double> metric_sums(t.metrics().size(), 0.0);
  for (int step = 0; step < warmup; ++step) {  // lazily created runtime state
    t.load_batch(data, idx.data(), batch);
    t.train_step(batch, 0, step, &metric_sums);
  }
  AllocationCounter counter;
  for (int step = warmup; step < warmup + steps; ++step) {
    t.load_batch(data, idx.data(), batch);
    t.train_step(batch, 0, step, &metric_sums);
  }
  return counter.count();
}

std::string temp_dir(const std::string& tag) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("dpt_test_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string keras_fixtures() {
  namespace fs = std::filesystem;
  for (const char* rel : {"/../shared/fixtures/keras", "/../../shared/fixtures/keras"}) {
    fs::path p = std::string(DPT_SOURCE_DIR) + rel;
    if (fs::is_directory(p)) return fs::canonical(p).string();
  }
  return "";
}

// m's parameter gradients on a batch of 3 (sparse categorical cross-entropy over 4 classes, fused
// with m's last softmax) against central differences of the loss.
std::vector<std::unique_ptr<Sequential>> check_file_round_trips(const Sequential& m, const std::string& dir) {
  for (const std::string name : {"w.weights.h5", "w.h5"}) {
    INFO(name);
    save_weights(m, dir + "/" + name);
    auto copy = m.clone();
    for (auto& w : copy->weights()) std::fill(w.data, w.data + shape_numel(w.spec.shape), 0.f);
    load_weights(*copy, dir + "/" + name);
    CHECK(std::equal(m.params(), m.params() + m.num_params(), copy->params()));
  }
  std::vector<std::unique_ptr<Sequential>> loaded;
  for (const std::string name : {"m.keras", "m.h5"}) {  // the layers' settings through Keras's configs
    INFO(name);
    save_model(m, dir + "/" + name, LossKind::categorical_crossentropy, {}, nullptr, nullptr);
    loaded.push_back(load_keras_model(dir + "/" + name, 2));
    load_weights(*loaded.back(), dir + "/" + name);
    CHECK(std::equal(m.params(), m.params() + m.num_params(), loaded.back()->params()));
  }
  return loaded;
}

void check_model_gradients(Sequential& m, const Shape& in,
                           const std::function<void(float* x, int64_t n)>& shape_input) {
  if (!m.built()) m.build(in, 9);
  m.prepare(3);
  m.set_fused_output_grad(true);
  Shape xs = in;
  xs.insert_front(3);
  auto xv = random_vecf(size_t(shape_numel(xs)), 1);
  if (const int64_t limit = m.input_index_limit())  // indices (an Embedding reads the input)
    for (float& v : xv) v = std::floor((v + 1.f) / 2.f * float(limit) * 0.999f);
  Tensor x(xs), t({3, 1});
  std::copy(xv.begin(), xv.end(), x.data());
  if (shape_input) shape_input(x.data(), 3);
  t.data()[1] = 3;
  t.data()[2] = 1;
  Context ctx;
  auto loss = [&] {
    Tensor out = m.forward(ctx, x, true);
    return loss_sum(LossKind::sparse_categorical_crossentropy, true, out, t, 1.f, nullptr) / 3.0;
  };
  m.zero_grads();
  Tensor out = m.forward(ctx, x, true);
  Tensor g = m.output_grad(3);
  loss_sum(LossKind::sparse_categorical_crossentropy, true, out, t, 1.f / 3, &g);
  m.backward(ctx, x);
  std::vector<double> analytic(m.grads(), m.grads() + m.num_trainable()), numeric(size_t(m.num_trainable()));
  for (int64_t i = 0; i < m.num_trainable(); ++i) {
    float& w = m.params()[i];
    const float keep = w;
    w = keep + 1e-2f;
    const double lp = loss();
    w = keep - 1e-2f;
    const double lm = loss();
    w = keep;
    numeric[size_t(i)] = (lp - lm) / 2e-2;
  }
  const double worst = worst_ratio(analytic, numeric, 2e-3, 2e-2);
  if (worst > 1.0)  // say which weight
    for (auto& w : m.weights())
      if (w.spec.trainable)
        for (int64_t e = 0; e < shape_numel(w.spec.shape); ++e) {
          const size_t i = size_t(w.data - m.params() + e);
          if (std::abs(analytic[i] - numeric[i]) > 2e-3 + 2e-2 * std::abs(numeric[i])) {
            UNSCOPED_INFO(w.keras_name() << "[" << e << "]: backward " << analytic[i] << ", finite differences "
                                         << numeric[i]);
            break;
          }
        }
  CHECK(worst <= 1.0);
}

}  // namespace dpt::test
