// Keras's MultiHeadAttention: forward against a plain double-precision reference (self-attention,
// a key of its own, value_dim and output_shape, no bias, the causal mask over equal and unequal
// steps), gradients against finite differences (dropout included), 3 CPU replicas as one, Keras's
// files (settings, the call's inputs and use_causal_mask), errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include "core/data/readers.h"
#include "core/io/keras_config.h"
#include "core/layers/attention.h"
#include "core/layers/embedding.h"
#include "core/layers/flatten.h"
#include "core/layers/merge.h"
#include "core/layers/pooling.h"
#include "core/sequential.h"
#include "test_util.h"

using namespace dpt;

namespace {

// A test net of two packed inputs: whole-model gradients against finite differences (dropout's
// draws included), 3 CPU replicas train as one, and its files round-trip (classes, settings, graph).
void check_two_input_net(const char* tag, std::unique_ptr<Sequential> (*make)(uint64_t),
                         const std::vector<Shape>& ins) {
  int64_t cols = 0;
  for (const Shape& s : ins) cols += shape_numel(s);
  auto g = make(5);
  test::check_model_gradients(*g, {cols});
  Dataset data = make_synthetic({cols}, 4, 30, 5);
  data.inputs = ins;
  const double d = test::replicas_vs_one([make] { return make(11); }, data, 3, 10);
  std::printf("equivalence %s R=3 B=10: max|dw|/max|w| = %.3g\n", tag, d);
  CHECK(d <= 1e-5);
  auto l = make(3);
  const std::string dir = test::temp_dir(tag);
  for (const auto& loaded : test::check_file_round_trips(*l, dir))
    for (size_t i = 0; i < l->layers().size(); ++i) {
      CHECK(loaded->layers()[i]->class_name() == l->layers()[i]->class_name());
      CHECK(loaded->layers()[i]->config_str() == l->layers()[i]->config_str());
      CHECK(loaded->inputs()[i] == l->inputs()[i]);
    }
  std::filesystem::remove_all(dir);
}

// out (n, T, O) of one attention layer from its model's weights, in double.
// qmask (n, T) and vmask (n, S), where given: Keras's attention mask (a query step masked
// throughout attends to every step alike). first_weight: the layer's first in the model's weights.
std::vector<double> reference(const Sequential& m, const AttentionConfig& a, const std::vector<float>& q,
                              const std::vector<float>& v, const std::vector<float>& k, int64_t n, int64_t T, int64_t S,
                              int64_t Eq, int64_t Ev, int64_t Ek, int64_t O, const std::vector<float>& qmask = {},
                              const std::vector<float>& vmask = {}, size_t first_weight = 0) {
  const int64_t H = a.num_heads, D = a.key_dim, Dv = a.value_dim ? a.value_dim : a.key_dim;
  const auto& w = m.weights();
  size_t at = first_weight;
  auto next = [&] { return w[at++].data; };
  const float* wq = next();
  const float* bq = a.use_bias ? next() : nullptr;
  const float* wk = next();
  const float* bk = a.use_bias ? next() : nullptr;
  const float* wv = next();
  const float* bv = a.use_bias ? next() : nullptr;
  const float* wo = next();
  const float* bo = a.use_bias ? next() : nullptr;
  auto proj = [](const std::vector<float>& x, int64_t rows, int64_t in, const float* W, const float* b, int64_t cols) {
    std::vector<double> out(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        double s = b ? b[c] : 0.0;
        for (int64_t i = 0; i < in; ++i) s += double(x[size_t(r * in + i)]) * W[i * cols + c];
        out[size_t(r * cols + c)] = s;
      }
    return out;
  };
  const auto Q = proj(q, n * T, Eq, wq, bq, H * D), K = proj(k, n * S, Ek, wk, bk, H * D);
  const auto V = proj(v, n * S, Ev, wv, bv, H * Dv);
  std::vector<double> C(size_t(n * T * H * Dv), 0.0), out(size_t(n * T * O));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> s(static_cast<size_t>(S));
        double top = -1e300;
        for (int64_t j = 0; j < S; ++j) {
          double d = 0;
          for (int64_t e = 0; e < D; ++e)
            d += Q[size_t(((b * T + i) * H + h) * D + e)] * K[size_t(((b * S + j) * H + h) * D + e)];
          const bool masked = (a.causal && j > i) || (!qmask.empty() && qmask[size_t(b * T + i)] == 0.f) ||
                              (!vmask.empty() && vmask[size_t(b * S + j)] == 0.f);
          s[size_t(j)] = masked ? -1e300 : d / std::sqrt(double(D));
          top = std::max(top, s[size_t(j)]);
        }
        double z = 0;
        if (top < -1e299) {  // masked throughout: uniform
          for (double& e : s) e = 0.0;
          top = 0.0;
        }
        for (double& e : s) z += (e = e < -1e299 ? 0.0 : std::exp(e - top));
        for (int64_t j = 0; j < S; ++j)
          for (int64_t e = 0; e < Dv; ++e)
            C[size_t(((b * T + i) * H + h) * Dv + e)] += s[size_t(j)] / z * V[size_t(((b * S + j) * H + h) * Dv + e)];
      }
  for (int64_t r = 0; r < n * T; ++r)
    for (int64_t o = 0; o < O; ++o) {
      double s = bo ? bo[o] : 0.0;
      for (int64_t i = 0; i < H * Dv; ++i) s += C[size_t(r * H * Dv + i)] * wo[i * O + o];
      out[size_t(r * O + o)] = s;
    }
  return out;
}

}  // namespace

TEST_CASE("MultiHeadAttention: Keras's attention by hand, the causal mask, a key of its own", "[layers][attention]") {
  struct Case {
    const char* what;
    AttentionConfig a;
    int64_t T, S, Eq, Ev, Ek;  // Ek 0: no key of its own
  };
  auto cfg = [](int64_t heads, int64_t key_dim, int64_t value_dim, int64_t out, bool bias, bool causal) {
    AttentionConfig a;
    a.num_heads = heads;
    a.key_dim = key_dim;
    a.value_dim = value_dim;
    a.output_dim = out;
    a.use_bias = bias;
    a.causal = causal;
    return a;
  };
  const Case cases[] = {
      {"self-attention, causal", cfg(2, 3, 0, 0, true, true), 5, 5, 4, 4, 0},
      {"cross, value_dim and output_shape", cfg(3, 2, 4, 6, true, false), 4, 7, 5, 3, 0},
      {"a key of its own, no bias, causal over fewer value steps", cfg(1, 4, 0, 0, false, true), 6, 3, 2, 5, 3}};
  for (const Case& c : cases) {
    INFO(c.what);
    const bool keyed = c.Ek > 0;
    Sequential m("m");
    std::vector<int> reads = {-1, -2};
    if (keyed) reads.push_back(-3);
    m.add(std::make_unique<MultiHeadAttention>(c.a), reads);
    std::vector<Shape> ins = {{c.T, c.Eq}, {c.S, c.Ev}};
    if (keyed) ins.push_back({c.S, c.Ek});
    m.build_inputs(ins, 7);
    for (auto& w : m.weights())  // biases away from zero too
      for (int64_t i = 0; i < shape_numel(w.spec.shape); ++i)
        w.data[i] = float(0.6 * std::sin(1.3 * double(i) + double(w.offset)));
    const int64_t n = 3, O = m.output_shape().back();
    const auto q = test::random_vecf(size_t(n * c.T * c.Eq), 1), v = test::random_vecf(size_t(n * c.S * c.Ev), 2);
    const auto k = keyed ? test::random_vecf(size_t(n * c.S * c.Ek), 3) : v;
    const int64_t row = c.T * c.Eq + c.S * c.Ev + (keyed ? c.S * c.Ek : 0);
    Tensor x({n, row});
    for (int64_t b = 0; b < n; ++b) {
      float* r = x.data() + b * row;
      r = std::copy(q.begin() + b * c.T * c.Eq, q.begin() + (b + 1) * c.T * c.Eq, r);
      r = std::copy(v.begin() + b * c.S * c.Ev, v.begin() + (b + 1) * c.S * c.Ev, r);
      if (keyed) std::copy(k.begin() + b * c.S * c.Ek, k.begin() + (b + 1) * c.S * c.Ek, r);
    }
    m.prepare(n);
    Context ctx;
    const Tensor y = m.forward(ctx, x, false);
    const auto want = reference(m, c.a, q, v, k, n, c.T, c.S, c.Eq, c.Ev, keyed ? c.Ek : c.Ev, O);
    REQUIRE(y.numel() == int64_t(want.size()));
    for (size_t e = 0; e < want.size(); ++e) CHECK(y.data()[e] == Approx(want[e]).epsilon(1e-5).margin(1e-6));
  }
  // The causal mask: a later query step changes nothing before it (self-attention reads x as the
  // value too, so each step sees only the steps up to it).
  Sequential m("causal");
  m.add(std::make_unique<MultiHeadAttention>(cfg(2, 3, 0, 0, true, true)), {-1, -1});
  m.build({5, 4}, 3);
  m.prepare(1);
  Context ctx;
  Tensor x({1, 5, 4});
  for (int64_t i = 0; i < 20; ++i) x.data()[i] = float(std::cos(0.7 * double(i)));
  const Tensor y1 = m.forward(ctx, x, false);
  const std::vector<float> before(y1.data(), y1.data() + 20);
  x.data()[17] += 1.f;  // step 4
  const Tensor y2 = m.forward(ctx, x, false);
  CHECK(std::equal(before.begin(), before.begin() + 16, y2.data()));
  CHECK(before[16] != y2.data()[16]);
}

TEST_CASE("MultiHeadAttention in a model: gradients, 3 CPU replicas as one, Keras's files, errors",
          "[layers][attention][io][parallel]") {
  auto m = test::attention_net(3);
  CHECK(m->layers()[0]->config_str() == "num_heads=2, key_dim=3, use_causal_mask=True");
  CHECK(m->layers()[3]->config_str() ==
        "num_heads=3, key_dim=2, value_dim=3, output_shape=5, dropout=0.25, use_bias=False");
  CHECK(m->layers()[3]->output_shape() == Shape{6, 5});
  CHECK(m->layers()[4]->output_shape() == Shape{6, 5});
  // Keras's weights: query/kernel (Eq, H, D), ..., attention_output/kernel (H, Dv, O).
  std::vector<std::string> names;
  for (const WeightRef& w : m->weights())
    if (w.layer == m->layers()[3].get()) names.push_back(w.keras_name() + " " + shape_str(w.spec.shape));
  CHECK(names == std::vector<std::string>{"multi_head_attention_1/query/kernel:0 (4, 3, 2)",
                                          "multi_head_attention_1/key/kernel:0 (3, 3, 2)",
                                          "multi_head_attention_1/value/kernel:0 (4, 3, 3)",
                                          "multi_head_attention_1/attention_output/kernel:0 (3, 3, 5)"});
  {  // gradients through the three, dropout's draws (training) included
    auto g = test::attention_net(5);
    test::check_model_gradients(*g, {39});
  }
  const std::string dir = test::temp_dir("attention");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i) {
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
      CHECK(loaded->inputs()[i] == m->inputs()[i]);
    }
  std::filesystem::remove_all(dir);
  const double d = test::replicas_vs_one([] { return test::attention_net(11); }, test::attention_data(30, 5), 3, 10);
  std::printf("equivalence attention-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);

  // Errors: the inputs' shapes, and what dptrain does not take from a Keras config.
  AttentionConfig a;
  a.num_heads = 2;
  a.key_dim = 2;
  {
    Sequential e("e");
    e.add(std::make_unique<MultiHeadAttention>(a), {-1, -1});
    CHECK_THROWS_WITH(e.build({8}, 1),
                      "layer 'multi_head_attention' (MultiHeadAttention) expects a query of shape "
                      "(steps, features), got (8,) (dptrain attends over one axis of sequences: "
                      "Keras's attention_axes None)");
  }
  {
    Sequential e("e");
    e.add(std::make_unique<MultiHeadAttention>(a), {-1, -2, -1});
    CHECK_THROWS_WITH(e.build_inputs({{5, 4}, {3, 4}}, 1),
                      "layer 'multi_head_attention' (MultiHeadAttention) has a key of 5 steps but a value of 3; they "
                      "must have the same steps");
  }
  a.dropout = 1;
  CHECK_THROWS_WITH(MultiHeadAttention(a), "MultiHeadAttention dropout must be in [0, 1), got 1");
  auto config = [](const std::string& layer_cfg, const std::string& kwargs) {
    const std::string t = R"({"class_name": "__keras_tensor__", "config": {"shape": [null, 5, 4], "dtype": "float32",
                              "keras_history": ["x", 0, 0]}})";
    return R"({"class_name": "Functional", "config": {"name": "f", "layers": [
      {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 5, 4]}, "inbound_nodes": []},
      {"class_name": "MultiHeadAttention", "name": "mha", "config": {"name": "mha", "num_heads": 2, "key_dim": 3)" +
           layer_cfg + R"(}, "inbound_nodes": [{"args": [)" + t + ", " + t + R"(], "kwargs": {)" + kwargs +
           R"(}}]}],
      "input_layers": ["x", 0, 0], "output_layers": ["mha", 0, 0]}})";
  };
  auto m1 = model_from_keras_json(
      config(R"(, "output_shape": [7], "attention_axes": [1])", R"("use_causal_mask": true)"), 1, "f.json");
  CHECK(m1->layers()[0]->config_str() == "num_heads=2, key_dim=3, output_shape=7, use_causal_mask=True");
  CHECK(m1->inputs()[0] == std::vector<int>{-1, -1});
  CHECK_THROWS_WITH(model_from_keras_json(config(R"(, "attention_axes": [1, 2])", ""), 1, "f.json"),
                    "f.json: layer 'mha' (MultiHeadAttention): attention_axes=[1,2] (the steps of (batch, steps, "
                    "features) tensors: [1]) is not supported");
  CHECK_THROWS_WITH(model_from_keras_json(config(R"(, "use_gate": true)", ""), 1, "f.json"),
                    "f.json: layer 'mha' (MultiHeadAttention): use_gate=True is not supported");
  CHECK_THROWS_WITH(model_from_keras_json(config("", R"("return_attention_scores": true)"), 1, "f.json"),
                    "f.json: layer 'mha' (MultiHeadAttention): return_attention_scores=True (a second output) is not "
                    "supported");
  const std::string mask = R"({"class_name": "__keras_tensor__", "config": {"shape": [null, 5, 5], "dtype": "float32",
                              "keras_history": ["x", 0, 0]}})";
  CHECK_THROWS_WITH(model_from_keras_json(config("", R"("attention_mask": )" + mask), 1, "f.json"),
                    "f.json: layer 'mha' (MultiHeadAttention): its call's attention_mask is not supported");
}

TEST_CASE("MultiHeadAttention reads Keras's masks: an Embedding's mask_zero on the query and the value",
          "[layers][attention][mask]") {
  auto m = test::masked_attention_net(3);
  CHECK(m->layers()[4]->mask_source() == m->layers()[0].get());  // through the attention, Add and LayerNormalization
  const int64_t n = 3, T = 6;
  // padding (zeros) at the end, in the middle, and a sample of one kept step, its last
  const std::vector<float> ids = {3, 5, 1, 0, 0, 0, 2, 0, 7, 9, 4, 6, 0, 0, 0, 0, 0, 8};
  Tensor x({n, T});
  std::copy(ids.begin(), ids.end(), x.data());
  for (auto& w : m->weights())  // biases away from zero, embeddings of unit scale
    for (int64_t i = 0; i < shape_numel(w.spec.shape); ++i)
      w.data[i] = float(0.8 * std::sin(0.9 * double(i) + double(w.offset)));
  m->prepare(n);
  Context ctx;
  m->forward(ctx, x, false);
  const Tensor e = m->output_of(0), y = m->output_of(1);
  const std::vector<float> emb(e.data(), e.data() + e.numel());
  std::vector<float> mask;
  for (float id : ids) mask.push_back(id != 0.f ? 1.f : 0.f);
  const auto& mha = dynamic_cast<const MultiHeadAttention&>(*m->layers()[1]);
  const auto want = reference(*m, mha.config(), emb, emb, emb, n, T, T, 4, 4, 4, 4, mask, mask, 1);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t f = 0; f < 4; ++f) {
        INFO("sample " << b << " step " << i);
        const size_t at = size_t((b * T + i) * 4 + f);
        CHECK(y.data()[at] == Approx(want[at]).epsilon(1e-5).margin(1e-6));
      }
  // Gradients (the embeddings scaled up from Keras's 0.05 for the finite differences), and 3 CPU
  // replicas as one.
  auto g = test::masked_attention_net(5);
  for (auto& wr : g->weights())
    if (wr.spec.name == "embeddings")
      for (int64_t i = 0; i < shape_numel(wr.spec.shape); ++i) wr.data[i] *= 20.f;
  test::check_model_gradients(*g, {T});
  const double d =
      test::replicas_vs_one([] { return test::masked_attention_net(11); }, make_synthetic({T}, 4, 30, 5, 10), 3, 10);
  std::printf("equivalence masked-attention-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
  const std::string dir = test::temp_dir("masked_attention");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    CHECK(loaded->layers()[4]->mask_source() == loaded->layers()[0].get());
  std::filesystem::remove_all(dir);
  // The query's mask is the output's: none where only the value is masked.
  Sequential v("v");
  v.add(std::make_unique<Embedding>(10, 4, true), {-1});
  v.add(std::make_unique<Embedding>(10, 4, false), {-2});
  AttentionConfig a;
  a.num_heads = 1;
  a.key_dim = 2;
  v.add(std::make_unique<MultiHeadAttention>(a), {1, 0});
  v.add(std::make_unique<GlobalPooling2D>(false, false, 1));
  v.build_inputs({{6}, {4}}, 1);
  CHECK(v.layers()[3]->mask_source() == nullptr);
}

TEST_CASE("Keras's Attention (dot scores): use_scale, the causal mask, the query's and value's masks; gradients",
          "[layers][attention]") {
  // By hand on one sample: a query (2, 2), a value (3, 1) its own key (3, 2), the scale 0.5.
  Sequential m("m");
  ScoreAttentionConfig a;
  a.use_scale = true;
  a.causal = true;
  m.add(std::make_unique<ScoreAttention>(a), {-1, -2, -3});
  m.build_inputs({{2, 2}, {3, 1}, {3, 2}}, 1);
  CHECK(m.layers()[0]->config_str() == "score_mode=dot, use_scale=True, use_causal_mask=True");
  CHECK(m.output_shape() == Shape{2, 1});
  REQUIRE(m.weights().size() == 1);
  CHECK(m.weights()[0].spec.shape == Shape{});
  CHECK(m.weights()[0].data[0] == 1.f);  // Keras's ones
  m.weights()[0].data[0] = 0.5f;
  const std::vector<float> q = {1, 0, 0.5f, 2}, v = {1, 2, 4}, k = {2, 1, 0, 1, 1, 1};
  Tensor x({1, 13});
  std::copy(q.begin(), q.end(), x.data());
  std::copy(v.begin(), v.end(), x.data() + 4);
  std::copy(k.begin(), k.end(), x.data() + 7);
  m.prepare(1);
  Context ctx;
  const Tensor y = m.forward(ctx, x, false);
  // step 0 sees key 0 alone (causal): v0 = 1; step 1 sees keys 0, 1: scores 0.5 (1 + 4) and 0.5 (2)
  const double s0 = 0.5 * (0.5 * 2 + 2 * 1), s1 = 0.5 * (0.5 * 0 + 2 * 1);
  CHECK(y.data()[0] == Approx(1.0));
  CHECK(y.data()[1] == Approx((std::exp(s0) * 1 + std::exp(s1) * 2) / (std::exp(s0) + std::exp(s1))));
  // In models: gradients (the scale's too, dropout's draws included), 3 CPU replicas as one, files.
  check_two_input_net("luong-net", test::luong_net, {{5, 4}, {6, 3}});
  // Masks: the value's drops keys, the query's zeroes the output's steps and is passed on.
  Sequential mk("mk");
  mk.add(std::make_unique<Embedding>(10, 3, true));
  mk.add(std::make_unique<ScoreAttention>(ScoreAttentionConfig{}), {0, 0});
  mk.add(std::make_unique<GlobalPooling2D>(false, false, 1));
  mk.build({4}, 2);
  CHECK(mk.layers()[2]->mask_source() == mk.layers()[0].get());
  Tensor ids({1, 4});
  const std::vector<float> t = {4, 0, 7, 0};
  std::copy(t.begin(), t.end(), ids.data());
  mk.prepare(1);
  mk.forward(ctx, ids, false);
  const Tensor e = mk.output_of(0), o = mk.output_of(1);
  for (int f = 0; f < 3; ++f) {
    CHECK(o.data()[3 + f] == 0.f);  // step 1: the query's mask
    CHECK(o.data()[9 + f] == 0.f);
    // step 0 attends to steps 0 and 2 alone
    const double a00 =
        double(e.data()[0]) * e.data()[0] + double(e.data()[1]) * e.data()[1] + double(e.data()[2]) * e.data()[2];
    const double a02 =
        double(e.data()[0]) * e.data()[6] + double(e.data()[1]) * e.data()[7] + double(e.data()[2]) * e.data()[8];
    const double w0 = 1 / (1 + std::exp(a02 - a00));
    CHECK(o.data()[f] == Approx(w0 * e.data()[f] + (1 - w0) * e.data()[6 + f]).epsilon(1e-5));
  }
  CHECK_THROWS_WITH(ScoreAttention(ScoreAttentionConfig{false, 1.5, false}),
                    "Attention dropout must be in [0, 1), got 1.5");
  Sequential bad("bad");
  bad.add(std::make_unique<ScoreAttention>(ScoreAttentionConfig{}), {-1, -2});
  CHECK_THROWS_WITH(bad.build_inputs({{5, 4}, {6, 3}}, 1),
                    "layer 'attention' (Attention) has a query of 4 features but a key of 3; their dot products "
                    "need the same");
}

TEST_CASE("Keras's concatenation scores: Attention(score_mode='concat') and AdditiveAttention; gradients",
          "[layers][attention]") {
  // By hand on one sample: a query (1, 2), a value (2, 1), a key (2, 2).
  const std::vector<float> q = {0.5f, -1.f}, v = {1.f, 3.f}, k = {1.f, 0.5f, -0.5f, 2.f};
  Tensor x({1, 8});
  std::copy(q.begin(), q.end(), x.data());
  std::copy(v.begin(), v.end(), x.data() + 2);
  std::copy(k.begin(), k.end(), x.data() + 4);
  auto expect = [&](const std::function<double(int)>& score) {  // softmax over the two keys, times v
    const double e0 = std::exp(score(0)), e1 = std::exp(score(1));
    return (e0 * v[0] + e1 * v[1]) / (e0 + e1);
  };
  Context ctx;
  {  // AdditiveAttention: sum_f w[f] tanh(q[f] + k[j, f])
    Sequential m("m");
    ScoreAttentionConfig a;
    a.score = ScoreAttentionConfig::additive;
    a.use_scale = true;
    m.add(std::make_unique<ScoreAttention>(a), {-1, -2, -3});
    m.build_inputs({{1, 2}, {2, 1}, {2, 2}}, 1);
    CHECK(m.layers()[0]->class_name() == "AdditiveAttention");
    CHECK(m.layers()[0]->name() == "additive_attention");
    CHECK(m.layers()[0]->config_str().empty());  // Keras's defaults
    REQUIRE(m.weights().size() == 1);
    CHECK(m.weights()[0].keras_name() == "additive_attention/scale:0");
    CHECK(m.weights()[0].spec.shape == Shape{2});
    // Keras's glorot_uniform of a vector: fan_in = fan_out = its length, limit sqrt(6 / 4)
    CHECK(std::abs(m.weights()[0].data[0]) <= std::sqrt(1.5));
    CHECK(m.weights()[0].data[0] != m.weights()[0].data[1]);
    m.weights()[0].data[0] = 0.3f;
    m.weights()[0].data[1] = -0.7f;
    m.prepare(1);
    const Tensor y = m.forward(ctx, x, false);
    CHECK(y.data()[0] == Approx(expect([&](int j) {
                           return 0.3 * std::tanh(q[0] + k[2 * j]) - 0.7 * std::tanh(q[1] + k[2 * j + 1]);
                         })).epsilon(1e-6));
  }
  {  // Attention(score_mode="concat", use_scale=True): c sum_f tanh(a (q[f] + k[j, f]))
    Sequential m("m");
    ScoreAttentionConfig a;
    a.score = ScoreAttentionConfig::concat;
    a.use_scale = true;
    m.add(std::make_unique<ScoreAttention>(a), {-1, -2, -3});
    m.build_inputs({{1, 2}, {2, 1}, {2, 2}}, 1);
    CHECK(m.layers()[0]->config_str() == "score_mode=concat, use_scale=True");
    REQUIRE(m.weights().size() == 2);
    CHECK(m.weights()[0].keras_name() == "attention/scale:0");
    CHECK(m.weights()[1].keras_name() == "attention/concat_score_weight:0");
    CHECK(m.weights()[1].spec.shape == Shape{});
    CHECK(m.weights()[0].data[0] == 1.f);  // Keras's ones
    CHECK(m.weights()[1].data[0] == 1.f);
    m.weights()[0].data[0] = 0.5f;
    m.weights()[1].data[0] = 2.f;
    m.prepare(1);
    const Tensor y = m.forward(ctx, x, false);
    CHECK(y.data()[0] == Approx(expect([&](int j) {
                           return 2 * (std::tanh(0.5 * (q[0] + k[2 * j])) + std::tanh(0.5 * (q[1] + k[2 * j + 1])));
                         })).epsilon(1e-6));
  }
  // In models: gradients (every weight: the scales, concat_score_weight; dropout's draws included),
  // 3 CPU replicas as one, files.
  check_two_input_net("bahdanau-net", test::bahdanau_net, {{5, 4}, {6, 3}});
  // From Keras's configs: AdditiveAttention (use_scale True unless said), Attention's score_mode.
  auto config = [](const std::string& cls, const std::string& layer_cfg) {
    const std::string t = R"({"class_name": "__keras_tensor__", "config": {"shape": [null, 5, 4], "dtype": "float32",
                              "keras_history": ["x", 0, 0]}})";
    return R"({"class_name": "Functional", "config": {"name": "f", "layers": [
      {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 5, 4]}, "inbound_nodes": []},
      {"class_name": ")" +
           cls + R"(", "name": "att", "config": {"name": "att")" + layer_cfg + R"(}, "inbound_nodes": [{"args": [[)" +
           t + ", " + t + R"(]], "kwargs": {"use_causal_mask": true}}]}],
      "input_layers": ["x", 0, 0], "output_layers": ["att", 0, 0]}})";
  };
  auto m1 = model_from_keras_json(config("AdditiveAttention", R"(, "dropout": 0.25)"), 1, "f.json");
  CHECK(m1->layers()[0]->class_name() == "AdditiveAttention");
  CHECK(m1->layers()[0]->config_str() == "dropout=0.25, use_causal_mask=True");
  CHECK(m1->weights().size() == 1);
  auto m2 = model_from_keras_json(config("AdditiveAttention", R"(, "use_scale": false)"), 1, "f.json");
  CHECK(m2->layers()[0]->config_str() == "use_scale=False, use_causal_mask=True");
  CHECK(m2->weights().empty());
  auto m3 = model_from_keras_json(config("Attention", R"(, "score_mode": "concat")"), 1, "f.json");
  CHECK(m3->layers()[0]->config_str() == "score_mode=concat, use_causal_mask=True");
  REQUIRE(m3->weights().size() == 1);
  CHECK(m3->weights()[0].keras_name() == "att/concat_score_weight:0");
  CHECK_THROWS_WITH(model_from_keras_json(config("Attention", R"(, "score_mode": "general")"), 1, "f.json"),
                    "f.json: layer 'att' (Attention): has score_mode='general'; Keras's are 'dot' and 'concat'");
  Sequential bad("bad");
  ScoreAttentionConfig a;
  a.score = ScoreAttentionConfig::additive;
  bad.add(std::make_unique<ScoreAttention>(a), {-1, -2});
  CHECK_THROWS_WITH(bad.build_inputs({{5, 4}, {6, 3}}, 1),
                    "layer 'additive_attention' (AdditiveAttention) has a query of 4 features but a key of 3; their "
                    "sums need the same");
}

TEST_CASE("Keras 3's GroupQueryAttention: MultiHeadAttention with each key and value head repeated; gradients",
          "[layers][attention]") {
  // 4 query heads over 2 key and value heads against MultiHeadAttention with the same weights, each
  // key and value head given to 2 query heads (Keras's ops.repeat): the same outputs, the same
  // query and output gradients, and each shared head's gradient the sum of its query heads'.
  const int64_t n = 3, H = 4, G = 2, D = 3, E = 4;
  AttentionConfig g;
  g.grouped = true;
  g.num_heads = H;
  g.kv_heads = G;
  g.key_dim = D;
  g.causal = true;
  AttentionConfig f;
  f.num_heads = H;
  f.key_dim = D;
  f.causal = true;
  Sequential gm("g"), fm("f");
  gm.add(std::make_unique<MultiHeadAttention>(g), {-1, -1});
  fm.add(std::make_unique<MultiHeadAttention>(f), {-1, -1});
  gm.build({5, E}, 1);
  fm.build({5, E}, 2);
  CHECK(gm.layers()[0]->class_name() == "GroupQueryAttention");
  CHECK(gm.layers()[0]->name() == "grouped_query_attention");
  CHECK(gm.layers()[0]->config_str() == "head_dim=3, num_query_heads=4, num_key_value_heads=2, use_causal_mask=True");
  REQUIRE(gm.weights().size() == 8);
  CHECK(gm.weights()[2].keras_name() == "grouped_query_attention/key/kernel:0");
  CHECK(gm.weights()[2].spec.shape == Shape{E, G, D});
  CHECK(gm.weights()[3].spec.shape == Shape{G, D});
  CHECK(gm.weights()[4].spec.shape == Shape{E, G, D});
  CHECK(gm.weights()[6].spec.shape == Shape{H, D, E});
  CHECK(gm.weights()[2].spec.keras3_group == "_key_dense");  // (Keras 3 keeps the underscore there)
  for (size_t w = 0; w < 8; ++w) {
    const WeightRef& from = gm.weights()[w];
    const WeightRef& to = fm.weights()[w];
    if (w == 2 || w == 3 || w == 4 || w == 5) {  // (rows, G, D) -> (rows, H, D): head h reads head h / 2
      const int64_t rows = shape_numel(from.spec.shape) / (G * D);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t d = 0; d < D; ++d) {
            to.data[(r * H + h) * D + d] = from.data[(r * G + h / 2) * D + d];
            if (w == 3 || w == 5) from.data[(r * G + h / 2) * D + d] = 0.1f * float(h / 2 + d);  // nonzero biases
          }
      if (w == 3 || w == 5)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t d = 0; d < D; ++d) to.data[(r * H + h) * D + d] = from.data[(r * G + h / 2) * D + d];
    } else {
      REQUIRE(from.spec.shape == to.spec.shape);
      std::copy(from.data, from.data + shape_numel(from.spec.shape), to.data);
    }
  }
  const std::vector<float> xv = test::random_vecf(n * 5 * E, 3), gv = test::random_vecf(n * 5 * E, 4);
  Tensor x({n, 5, E});
  std::copy(xv.begin(), xv.end(), x.data());
  Context ctx;
  std::vector<float> out[2];
  Sequential* models[2] = {&gm, &fm};
  for (int k = 0; k < 2; ++k) {
    Sequential& m = *models[k];
    m.prepare(n);
    const Tensor y = m.forward(ctx, x, true);
    out[k].assign(y.data(), y.data() + y.numel());
    Tensor dy = m.output_grad(n);
    std::copy(gv.begin(), gv.end(), dy.data());
    m.zero_grads();
    m.backward(ctx, x);
  }
  for (size_t i = 0; i < out[0].size(); ++i) CHECK(out[0][i] == Approx(out[1][i]).margin(1e-6));
  for (size_t w : {0, 1, 6, 7})
    for (int64_t e = 0; e < shape_numel(gm.weights()[w].spec.shape); ++e)
      CHECK(gm.weights()[w].grad[e] == Approx(fm.weights()[w].grad[e]).margin(1e-5));
  for (size_t w : {2, 4}) {  // a shared head's gradient: its two query heads' summed
    const int64_t rows = shape_numel(gm.weights()[w].spec.shape) / (G * D);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t kv = 0; kv < G; ++kv)
        for (int64_t d = 0; d < D; ++d) {
          const float* fg = fm.weights()[w].grad;
          CHECK(gm.weights()[w].grad[(r * G + kv) * D + d] ==
                Approx(fg[(r * H + 2 * kv) * D + d] + fg[(r * H + 2 * kv + 1) * D + d]).margin(1e-5));
        }
  }
  CHECK(gm.weights()[3].grad[0] == 0.f);  // the key's bias: none (the softmax is blind to it)
  // In models: gradients (dropout's draws included), 3 CPU replicas as one, files.
  check_two_input_net("gqa-net", test::gqa_net, {{6, 4}, {3, 4}});
  // From Keras 3's config (its class GroupQueryAttention; the Python class's name read too).
  for (const char* cls : {"GroupQueryAttention", "GroupedQueryAttention"}) {
    const std::string t = R"({"class_name": "__keras_tensor__", "config": {"shape": [null, 5, 4], "dtype": "float32",
                              "keras_history": ["x", 0, 0]}})";
    auto json_of = [&](const std::string& extra) {
      return R"({"class_name": "Functional", "config": {"name": "f", "layers": [
      {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 5, 4]}, "inbound_nodes": []},
      {"class_name": ")" +
             std::string(cls) +
             R"(", "name": "g", "config": {"name": "g", "head_dim": 2, "num_query_heads": 6, "num_key_value_heads": 3,
       "use_bias": false, "sliding_window": null, "use_gate": false, "dropout": 0.0)" +
             extra + R"(}, "inbound_nodes": [{"args": [)" + t + ", " + t +
             R"(], "kwargs": {"use_causal_mask": true}}]}],
      "input_layers": ["x", 0, 0], "output_layers": ["g", 0, 0]}})";
    };
    auto m = model_from_keras_json(json_of(""), 1, "f.json");
    CHECK(m->layers()[0]->class_name() == "GroupQueryAttention");
    CHECK(m->layers()[0]->config_str() ==
          "head_dim=2, num_query_heads=6, num_key_value_heads=3, use_bias=False, use_causal_mask=True");
    CHECK(m->weights()[1].spec.shape == Shape{4, 3, 2});
    CHECK_THROWS_WITH(model_from_keras_json(json_of(R"(, "sliding_window": 4)"), 1, "f.json"),
                      "f.json: layer 'g' (" + std::string(cls) + "): sliding_window=4 is not supported");
  }
  // Keras's checks.
  AttentionConfig bad = g;
  bad.kv_heads = 3;
  CHECK_THROWS_WITH(MultiHeadAttention(bad),
                    "GroupQueryAttention num_query_heads (4) must be divisible by num_key_value_heads (3)");
  Sequential e("e");
  e.add(std::make_unique<MultiHeadAttention>(g), {-1, -2});
  CHECK_THROWS_WITH(e.build_inputs({{5, 4}, {6, 3}}, 1),
                    "layer 'grouped_query_attention' (GroupQueryAttention) has a query of 4 features but a value of "
                    "3; Keras's GroupQueryAttention needs the same");
}
