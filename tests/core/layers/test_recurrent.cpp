// Keras's LSTM, GRU and SimpleRNN: shapes, weights and initializers; steps by hand; whole-model gradients (a
// sequence into a backwards layer and one without a bias); Keras's files; N replicas against one.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include "core/data/readers.h"
#include "core/io/keras_config.h"
#include "core/layers/recurrent.h"
#include "core/sequential.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {
LSTMConfig lstm(int64_t units, bool seq = false, bool backwards = false, bool bias = true) {
  LSTMConfig c;
  c.units = units;
  c.return_sequences = seq;
  c.go_backwards = backwards;
  c.use_bias = bias;
  return c;
}
const float kTwoSteps[2] = {0.7f, -1.2f};
// One sample of two steps (kTwoSteps, one feature) through a 1-unit layer with the given
// weights: its output sequence.
std::vector<float> two_steps(Recurrent& l, std::vector<float> kernel, std::vector<float> rec, std::vector<float> bias) {
  l.set_name("r");
  l.build({2, 1});
  std::vector<float> dk(kernel.size()), dr(rec.size()), db(bias.size());
  l.bind({kernel.data(), rec.data(), bias.data()}, {dk.data(), dr.data(), db.data()});
  Context ctx;
  l.prepare(1, ctx);
  Tensor work({std::max<int64_t>(l.workspace_elems(1), 1)});
  l.set_workspace(work.data(), work.numel());
  Tensor x({1, 2, 1}), y({1, 2, 1});
  x.data()[0] = kTwoSteps[0];
  x.data()[1] = kTwoSteps[1];
  l.forward(ctx, x, y, false);
  return {y.data()[0], y.data()[1]};
}
double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }
}  // namespace

TEST_CASE("LSTM: shapes, Keras's weights and initializers (orthogonal, unit_forget_bias)", "[layers][lstm]") {
  LSTM l(lstm(4, true));
  CHECK(l.class_name() == "LSTM");
  CHECK(l.default_name() == "lstm");
  CHECK(l.cell_name() == "lstm_cell");
  CHECK(l.build({7, 3}) == Shape{7, 4});
  CHECK(l.config_str() == "units=4, return_sequences=True");
  LSTM last(lstm(4, false, true, false));
  CHECK(last.build({7, 3}) == Shape{4});
  CHECK(last.config_str() == "units=4, go_backwards=True, use_bias=False");
  CHECK(last.params().size() == 2);
  const auto p = l.params();
  REQUIRE(p.size() == 3);
  CHECK((p[0].name == "kernel" && p[0].shape == Shape{3, 16}));
  CHECK((p[1].name == "recurrent_kernel" && p[1].shape == Shape{4, 16} && p[1].init == Init::orthogonal));
  CHECK((p[2].name == "bias" && p[2].shape == Shape{16} && p[2].init == Init::lstm_bias));
  CHECK_THROWS_WITH(LSTM(lstm(0)), "LSTM needs units >= 1, got 0");
  LSTM bad(lstm(2));
  CHECK_THROWS_WITH(bad.build({4, 4, 3}), "LSTM expects inputs of shape (steps, features), got (4, 4, 3)");

  Sequential m("m");
  m.add(std::make_unique<LSTM>(lstm(4)));
  m.build({5, 3}, 2);
  const WeightRef &rk = m.weights()[1], &b = m.weights()[2];
  CHECK(rk.keras_name() == "lstm/lstm_cell/recurrent_kernel:0");
  for (int i = 0; i < 4; ++i)  // rows orthonormal: R R^T = I
    for (int j = 0; j < 4; ++j) {
      double d = 0;
      for (int k = 0; k < 16; ++k) d += double(rk.data[i * 16 + k]) * double(rk.data[j * 16 + k]);
      CHECK(d == Approx(i == j ? 1.0 : 0.0).margin(1e-6));
    }
  for (int k = 0; k < 16; ++k) CHECK(b.data[k] == (k >= 4 && k < 8 ? 1.f : 0.f));
}

TEST_CASE("LSTM: two steps by hand, forwards and go_backwards", "[layers][lstm]") {
  for (const bool backwards : {false, true}) {
    INFO("go_backwards " << backwards);
    LSTM l(lstm(1, true, backwards));
    // z = x * kernel + h * recurrent + bias, gates i, f, c, o.
    const std::vector<float> kernel{0.5f, -0.3f, 0.8f, 0.2f}, rec{0.1f, 0.4f, -0.6f, 0.7f},
        bias{0.05f, 1.f, -0.1f, 0.2f};
    const std::vector<float> y = two_steps(l, kernel, rec, bias);
    double h = 0, c = 0;
    for (int t = 0; t < 2; ++t) {
      const double xt = kTwoSteps[backwards ? 1 - t : t];
      auto z = [&](int g) { return xt * kernel[size_t(g)] + h * rec[size_t(g)] + bias[size_t(g)]; };
      c = sig(z(1)) * c + sig(z(0)) * std::tanh(z(2));
      h = sig(z(3)) * std::tanh(c);
      CHECK(y[size_t(t)] == Approx(h).epsilon(1e-6));  // the sequence in the order it was read
    }
  }
}

TEST_CASE("whole-model gradients through LSTMs (a returned sequence, go_backwards, no bias)", "[layers][grad][lstm]") {
  auto m = test::lstm_net(9);
  test::check_model_gradients(*m, {6, 3});
}

TEST_CASE("LSTM through Keras's files", "[layers][lstm][io]") {
  auto m = test::lstm_net(1);
  const std::string dir = test::temp_dir("lstm");
  for (const auto& loaded : test::check_file_round_trips(*m, dir)) {
    for (size_t i = 0; i < m->layers().size(); ++i) {
      CHECK(loaded->layers()[i]->class_name() == m->layers()[i]->class_name());
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
    }
  }
  std::filesystem::remove_all(dir);
  // What dptrain does not run is refused, naming the option.
  auto cfg = [](const std::string& extra) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3], "name": "input"}},
      {"class_name": "LSTM", "config": {"name": "l", "units": 2)" +
           extra + "}}]}}";
  };
  CHECK(model_from_keras_json(cfg(R"(, "unroll": true, "implementation": 2)"), 0, "m.json")->output_shape() ==
        Shape{2});
  const auto dropped = model_from_keras_json(cfg(R"(, "dropout": 0.2, "recurrent_dropout": 0.5)"), 0, "m.json");
  CHECK(dropped->layers()[0]->config_str() == "units=2, dropout=0.2, recurrent_dropout=0.5");
  const auto per_gate = model_from_keras_json(cfg(R"(, "dropout": 0.25, "implementation": 1)"), 0, "m.json");
  CHECK(per_gate->layers()[0]->config_str() == "units=2, dropout=0.25, implementation=1");
  CHECK(static_cast<const Recurrent&>(*per_gate->layers()[0]).input_masks() == 4);
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"(, "dropout": 1.0)"), 0, "m.json"),
                    "m.json: layer 'l' (LSTM): dropout=1.0 is not in [0, 1)");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"(, "recurrent_dropout": -0.1)"), 0, "m.json"),
                    "m.json: layer 'l' (LSTM): recurrent_dropout=-0.1 is not in [0, 1)");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"(, "implementation": 3)"), 0, "m.json"),
                    "m.json: layer 'l' (LSTM): implementation=3 is not 1 or 2");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"(, "recurrent_activation": "hard_sigmoid")"), 0, "m.json"),
                    Contains("m.json: layer 'l' (LSTM): recurrent_activation 'hard_sigmoid' (supported: "));
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"(, "activation": "gelu")"), 0, "m.json"),
                    "m.json: layer 'l' (LSTM): activation='gelu' (LSTM runs activations whose slope their output "
                    "gives: not softmax, gelu, silu, mish or hard_silu) is not supported");
  const auto relu =
      model_from_keras_json(cfg(R"(, "activation": "relu", "recurrent_activation": "softsign")"), 0, "m.json");
  CHECK(relu->layers()[0]->config_str() == "units=2, activation=relu, recurrent_activation=softsign");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"(, "return_state": true)"), 0, "m.json"),
                    Contains("return_state=True (one output per layer) is not supported"));
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"(, "stateful": true)"), 0, "m.json"),
                    Contains("stateful=True is not supported"));
}

TEST_CASE("LSTM: 3 CPU replicas train as one device", "[layers][lstm][parallel]") {
  Dataset data = make_synthetic({6, 3}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::lstm_net(11); }, data, 3, 10);
  std::printf("equivalence lstm-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}

TEST_CASE("GRU: shapes, Keras's weights (bias (2, 3 units): input, then recurrent)", "[layers][gru]") {
  GRU l(lstm(4, true));
  CHECK(l.class_name() == "GRU");
  CHECK(l.cell_name() == "gru_cell");
  CHECK(l.build({7, 3}) == Shape{7, 4});
  const auto p = l.params();
  REQUIRE(p.size() == 3);
  CHECK((p[0].name == "kernel" && p[0].shape == Shape{3, 12}));
  CHECK((p[1].name == "recurrent_kernel" && p[1].shape == Shape{4, 12} && p[1].init == Init::orthogonal));
  CHECK((p[2].name == "bias" && p[2].shape == Shape{2, 12} && p[2].init == Init::zeros));
  CHECK_THROWS_WITH(GRU(lstm(0)), "GRU needs units >= 1, got 0");
}

TEST_CASE("GRU: two steps by hand (reset_after), forwards and go_backwards", "[layers][gru]") {
  for (const bool backwards : {false, true}) {
    INFO("go_backwards " << backwards);
    GRU l(lstm(1, true, backwards));
    // Gates z, r, h: input part x * kernel + bias[0], recurrent part h * recurrent + bias[1].
    const std::vector<float> kernel{0.5f, -0.3f, 0.8f}, rec{0.1f, 0.4f, -0.6f},
        bias{0.05f, 1.f, -0.1f, 0.2f, -0.3f, 0.4f};
    const std::vector<float> y = two_steps(l, kernel, rec, bias);
    double h = 0;
    for (int t = 0; t < 2; ++t) {
      const double xt = kTwoSteps[backwards ? 1 - t : t];
      auto xp = [&](int g) { return xt * kernel[size_t(g)] + bias[size_t(g)]; };
      auto qp = [&](int g) { return h * rec[size_t(g)] + bias[size_t(3 + g)]; };
      const double z = sig(xp(0) + qp(0)), r = sig(xp(1) + qp(1)), hh = std::tanh(xp(2) + r * qp(2));
      h = z * h + (1 - z) * hh;
      CHECK(y[size_t(t)] == Approx(h).epsilon(1e-6));
    }
  }
}

TEST_CASE("whole-model gradients through GRUs (sequences, go_backwards, no bias)", "[layers][grad][gru]") {
  auto m = test::gru_net(9);
  test::check_model_gradients(*m, {6, 3});
}

TEST_CASE("GRU through Keras's files; 3 CPU replicas train as one device", "[layers][gru][io][parallel]") {
  auto m = test::gru_net(1);
  const std::string dir = test::temp_dir("gru");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i)
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
  std::filesystem::remove_all(dir);
  const auto v1 = model_from_keras_json(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3], "name": "input"}},
      {"class_name": "GRU", "config": {"name": "g", "units": 2, "reset_after": false}}]}})",
                                        0, "m.json");
  CHECK(v1->layers()[0]->config_str() == "units=2, reset_after=False");
  CHECK(v1->weights()[2].spec.shape == Shape{6});  // the input bias alone
  Dataset data = make_synthetic({6, 3}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::gru_net(11); }, data, 3, 10);
  std::printf("equivalence gru-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}

TEST_CASE("SimpleRNN: weights, two steps by hand, gradients, Keras's files, 3 replicas as one device",
          "[layers][simple_rnn]") {
  SimpleRNN l(lstm(1, true, true));
  CHECK(l.class_name() == "SimpleRNN");
  CHECK(l.cell_name() == "simple_rnn_cell");
  // h = tanh(x * kernel + bias + h_prev * recurrent), the steps read last to first.
  const std::vector<float> y = two_steps(l, {0.5f}, {-0.7f}, {0.2f});
  const auto p = l.params();
  REQUIRE(p.size() == 3);
  CHECK((p[0].shape == Shape{1, 1} && p[1].shape == Shape{1, 1} && p[2].shape == Shape{1}));
  const double h1 = std::tanh(kTwoSteps[1] * 0.5 + 0.2), h2 = std::tanh(kTwoSteps[0] * 0.5 + 0.2 - 0.7 * h1);
  CHECK(y[0] == Approx(h1).epsilon(1e-6));
  CHECK(y[1] == Approx(h2).epsilon(1e-6));

  auto m = test::srnn_net(9);
  test::check_model_gradients(*m, {6, 3});
  const std::string dir = test::temp_dir("srnn");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i)
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
  std::filesystem::remove_all(dir);
  Dataset data = make_synthetic({6, 3}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::srnn_net(11); }, data, 3, 10);
  std::printf("equivalence srnn-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}

// The zero state lives at the front of the kept states, whose layout follows the batch: a smaller
// batch before must not leave its steps where a larger one reads its zero state.
TEST_CASE("LSTM, GRU and SimpleRNN: a larger batch after a smaller one starts from the zero state",
          "[layers][lstm][gru][simple_rnn]") {
  for (int kind = 0; kind < 3; ++kind) {
    INFO("kind " << kind);
    auto make = [&]() -> std::unique_ptr<Sequential> {
      auto m = std::make_unique<Sequential>("m");
      RecurrentConfig c;
      c.units = 3;
      if (kind == 0) m->add(std::make_unique<LSTM>(c));
      if (kind == 1) m->add(std::make_unique<GRU>(c));
      if (kind == 2) m->add(std::make_unique<SimpleRNN>(c));
      m->build({5, 2}, 4);
      return m;
    };
    auto used = make(), fresh = make();
    used->prepare(4);
    fresh->prepare(4);
    Context ctx;
    const auto big = test::random_vecf(4 * 10, 7), small = test::random_vecf(2 * 10, 8);
    Tensor xb({4, 5, 2}), xs({2, 5, 2});
    std::copy(big.begin(), big.end(), xb.data());
    std::copy(small.begin(), small.end(), xs.data());
    used->forward(ctx, xs, false);
    const Tensor a = used->forward(ctx, xb, false), b = fresh->forward(ctx, xb, false);
    REQUIRE(a.numel() == b.numel());
    for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data()[i] == b.data()[i]);
  }
}

namespace {
// A recurrent layer of `kind` (0 LSTM, 1 GRU, 2 SimpleRNN) on (steps, features), bound to the
// given weights (and scratch gradients), prepared for n rows.
struct Bound {
  std::unique_ptr<Recurrent> layer;
  std::vector<std::vector<float>> grads;
  Tensor work;
  Context ctx;
};
Bound bound(int kind, RecurrentConfig c, const Shape& in, std::vector<std::vector<float>>& w, int64_t n) {
  Bound b;
  if (kind == 0) b.layer = std::make_unique<LSTM>(c);
  if (kind == 1) b.layer = std::make_unique<GRU>(c);
  if (kind == 2) b.layer = std::make_unique<SimpleRNN>(c);
  b.layer->set_name("r");
  b.layer->build(in);
  std::vector<float*> pw, pg;
  for (auto& v : w) {
    b.grads.emplace_back(v.size(), 0.f);
    pw.push_back(v.data());
    pg.push_back(b.grads.back().data());
  }
  b.layer->bind(pw, pg);
  b.layer->prepare(n, b.ctx);
  b.work = Tensor({std::max<int64_t>(b.layer->workspace_elems(n), 1)});
  b.layer->set_workspace(b.work.data(), b.work.numel());
  b.ctx.key.seed = 5;
  b.ctx.key.epoch = 1;
  b.ctx.key.step = 2;
  return b;
}
}  // namespace

// Keras's DropoutRNNCell: a sample's masks are drawn once a batch and used at every step; LSTM and
// GRU draw one per gate under implementation 1 (which recurrent_dropout implies). The check: a
// sample through the masked layer equals that sample alone through an unmasked layer whose
// kernel rows are scaled by its input mask and whose recurrent_kernel rows by its recurrent mask,
// gate by gate ((x m) W = x (diag(m) W)), so each mask must reach exactly its gate, at every step,
// and GRU's blend z h_{t-1} must read the unmasked state.
TEST_CASE("LSTM, GRU and SimpleRNN dropout and recurrent_dropout: Keras's masks, per gate, the same at every step",
          "[layers][lstm][gru][simple_rnn][dropout]") {
  const int64_t T = 5, F = 4, U = 3, n = 7;
  for (int kind = 0; kind < 3; ++kind)
    for (int variant = 0; variant < 4; ++variant) {
      if (kind == 2 && variant == 1) continue;  // SimpleRNN has no implementation 1
      RecurrentConfig c;
      c.units = U;
      c.return_sequences = true;
      c.go_backwards = variant == 3;
      if (variant != 2) c.dropout = 0.3;
      if (variant >= 2) c.recurrent_dropout = 0.4;
      if (variant == 1) c.implementation = 1;
      const int gates = kind == 0 ? 4 : kind == 1 ? 3 : 1;
      const int kin = variant == 2 ? 0 : (variant == 0 || kind == 2 ? 1 : gates), krec = variant >= 2 ? gates : 0;
      INFO("kind " << kind << " variant " << variant);
      std::vector<std::vector<float>> w;
      uint64_t s = 40 + uint64_t(kind * 10 + variant);
      w.push_back(test::random_vecf(size_t(F * gates * U), ++s));
      w.push_back(test::random_vecf(size_t(U * gates * U), ++s));
      w.push_back(test::random_vecf(size_t((kind == 1 ? 2 : 1) * gates * U), ++s));
      Bound m = bound(kind, c, {T, F}, w, n);
      CHECK(m.layer->input_masks() == kin);
      CHECK(m.layer->recurrent_masks() == krec);
      Tensor x({n, T, F}), y({n, T, U});
      const auto xv = test::random_vecf(size_t(x.numel()), s + 7);
      std::copy(xv.begin(), xv.end(), x.data());
      m.layer->forward(m.ctx, x, y, true);
      const float* masks = m.layer->masks();
      const std::vector<float> mv(masks, masks + kin * n * F + krec * n * U);
      // 0 or 1/(1-rate), some of each
      int zeros = 0;
      for (int64_t e = 0; e < kin * n * F; ++e) {
        CHECK((mv[size_t(e)] == 0.f || mv[size_t(e)] == float(1.0 / 0.7)));
        zeros += mv[size_t(e)] == 0.f;
      }
      for (int64_t e = kin * n * F; e < int64_t(mv.size()); ++e) {
        CHECK((mv[size_t(e)] == 0.f || mv[size_t(e)] == float(1.0 / 0.6)));
        zeros += mv[size_t(e)] == 0.f;
      }
      CHECK(zeros > 0);
      CHECK(zeros < int64_t(mv.size()));
      if (kin > 1)  // each gate its own draw
        CHECK(!std::equal(mv.begin(), mv.begin() + n * F, mv.begin() + n * F));
      // Each sample alone through the unmasked layer with its masks folded into the weights.
      RecurrentConfig plain = c;
      plain.dropout = plain.recurrent_dropout = 0;
      plain.implementation = 2;
      for (int64_t i = 0; i < n; ++i) {
        std::vector<std::vector<float>> wi = w;
        for (int g = 0; g < gates; ++g)
          for (int64_t u = 0; u < U; ++u) {
            const int64_t col = g * U + u;
            if (kin)
              for (int64_t f = 0; f < F; ++f)
                wi[0][size_t(f * gates * U + col)] *= mv[size_t((kin == 1 ? 0 : g) * n * F + i * F + f)];
            if (krec)
              for (int64_t v = 0; v < U; ++v)
                wi[1][size_t(v * gates * U + col)] *= mv[size_t(kin * n * F + g * n * U + i * U + v)];
          }
        Bound one = bound(kind, plain, {T, F}, wi, 1);
        Tensor xi({1, T, F}), yi({1, T, U});
        std::copy(x.data() + i * T * F, x.data() + (i + 1) * T * F, xi.data());
        one.layer->forward(one.ctx, xi, yi, true);
        for (int64_t e = 0; e < T * U; ++e) CHECK(y.data()[i * T * U + e] == Approx(yi.data()[e]).margin(2e-6));
      }
      // Inference draws nothing: the unmasked layer's output, bit for bit.
      Bound p = bound(kind, plain, {T, F}, w, n);
      Tensor yp({n, T, U}), yinf({n, T, U});
      p.layer->forward(p.ctx, x, yp, true);
      m.layer->forward(m.ctx, x, yinf, false);
      CHECK(std::equal(yp.data(), yp.data() + yp.numel(), yinf.data()));
    }
}

TEST_CASE("Recurrent dropout masks drop the rate's share, differ by gate, layer and step, and follow the sample",
          "[layers][lstm][dropout]") {
  const int64_t n = 200, F = 50, U = 40;
  RecurrentConfig c;
  c.units = U;
  c.dropout = 0.3;
  c.recurrent_dropout = 0.2;
  std::vector<std::vector<float>> w{test::random_vecf(size_t(F * 4 * U), 1), test::random_vecf(size_t(U * 4 * U), 2),
                                    test::random_vecf(size_t(4 * U), 3)};
  Bound m = bound(0, c, {2, F}, w, n);
  Tensor x({n, 2, F}), y({n, U});
  const auto xv = test::random_vecf(size_t(x.numel()), 4);
  std::copy(xv.begin(), xv.end(), x.data());
  m.layer->forward(m.ctx, x, y, true);
  const std::vector<float> first(m.layer->masks(), m.layer->masks() + 4 * n * F + 4 * n * U);
  for (int g = 0; g < 8; ++g) {
    const int64_t len = g < 4 ? n * F : n * U, at = g < 4 ? g * n * F : 4 * n * F + (g - 4) * n * U;
    const double rate = g < 4 ? 0.3 : 0.2;
    int64_t zeros = 0;
    for (int64_t e = 0; e < len; ++e) zeros += first[size_t(at + e)] == 0.f;
    INFO("mask " << g);
    CHECK(double(zeros) / double(len) == Approx(rate).margin(0.015));  // 8000-10000 draws: 3 sigma < 0.015
  }
  // The next step draws new masks; rows 50.. of the batch, given as a batch of their own at row
  // offset 50, draw the masks those rows drew.
  m.ctx.key.step = 3;
  m.layer->forward(m.ctx, x, y, true);
  CHECK(!std::equal(first.begin(), first.begin() + n * F, m.layer->masks()));
  m.ctx.key.step = 2;
  m.ctx.key.row_offset = 50;
  Tensor tail({n - 50, 2, F}), ty({n - 50, U});
  std::copy(x.data() + 50 * 2 * F, x.data() + x.numel(), tail.data());
  m.layer->forward(m.ctx, tail, ty, true);
  for (int g = 0; g < 4; ++g)
    CHECK(std::equal(first.begin() + g * n * F + 50 * F, first.begin() + (g + 1) * n * F,
                     m.layer->masks() + g * (n - 50) * F));
  for (int g = 0; g < 4; ++g)
    CHECK(std::equal(first.begin() + 4 * n * F + g * n * U + 50 * U, first.begin() + 4 * n * F + (g + 1) * n * U,
                     m.layer->masks() + 4 * (n - 50) * F + g * (n - 50) * U));
  // Another layer name, other masks.
  Bound other = bound(0, c, {2, F}, w, n);
  other.layer->set_name("r2");
  other.layer->forward(other.ctx, x, y, true);
  CHECK(!std::equal(first.begin(), first.begin() + n * F, other.layer->masks()));
}

TEST_CASE("whole-model gradients through dropout and recurrent_dropout; files; 3 CPU replicas train as one",
          "[layers][grad][lstm][gru][simple_rnn][dropout]") {
  auto m = test::rnn_dropout_net(9);
  test::check_model_gradients(*m, {6, 3});
  const std::string dir = test::temp_dir("rnn_dropout");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i)
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
  std::filesystem::remove_all(dir);
  Dataset data = make_synthetic({6, 3}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::rnn_dropout_net(11); }, data, 3, 10);
  std::printf("equivalence rnn-dropout-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}

// Keras's activation and recurrent_activation: LSTM(activation='relu') as time-series examples
// write it, and other pairs, against the cells' formulas by hand in double.
TEST_CASE("LSTM, GRU and SimpleRNN with other activations: two steps by hand, gradients, files, replicas",
          "[layers][lstm][gru][simple_rnn][activations]") {
  using kernels::activation_fwd;
  for (const auto& [act, rec] : {std::pair<Activation, Activation>{Activation::relu, Activation::sigmoid},
                                 std::pair<Activation, Activation>{Activation::elu, Activation::softsign},
                                 std::pair<Activation, Activation>{Activation::linear, Activation::tanh}}) {
    INFO("activation " << activation_name(act) << ", recurrent_activation " << activation_name(rec));
    auto A = [&](double v) { return activation_fwd(act, v); };
    auto R = [&](double v) { return activation_fwd(rec, v); };
    LSTMConfig c = lstm(1, true);
    c.activation = act;
    c.recurrent_activation = rec;
    {
      LSTM l(c);
      const std::vector<float> kernel{0.5f, -0.3f, 0.8f, 0.2f}, rk{0.1f, 0.4f, -0.6f, 0.7f},
          bias{0.05f, 1.f, -0.1f, 0.2f};
      const std::vector<float> y = two_steps(l, kernel, rk, bias);
      double h = 0, cell = 0;
      for (int t = 0; t < 2; ++t) {
        auto z = [&](int g) { return kTwoSteps[t] * kernel[size_t(g)] + h * rk[size_t(g)] + bias[size_t(g)]; };
        cell = R(z(1)) * cell + R(z(0)) * A(z(2));
        h = R(z(3)) * A(cell);
        CHECK(y[size_t(t)] == Approx(h).margin(1e-6));
      }
    }
    {
      GRU l(c);
      const std::vector<float> kernel{0.5f, -0.3f, 0.8f}, rk{0.1f, 0.4f, -0.6f},
          bias{0.05f, 0.3f, -0.1f, 0.2f, -0.4f, 0.15f};
      const std::vector<float> y = two_steps(l, kernel, rk, bias);
      double h = 0;
      for (int t = 0; t < 2; ++t) {
        auto x = [&](int g) { return kTwoSteps[t] * kernel[size_t(g)] + bias[size_t(g)]; };
        auto q = [&](int g) { return h * rk[size_t(g)] + bias[size_t(3 + g)]; };
        const double z = R(x(0) + q(0)), r = R(x(1) + q(1)), hh = A(x(2) + r * q(2));
        h = z * h + (1 - z) * hh;
        CHECK(y[size_t(t)] == Approx(h).margin(1e-6));
      }
    }
    {
      SimpleRNN l(c);
      const std::vector<float> y = two_steps(l, {0.5f}, {-0.7f}, {0.2f});
      const double h1 = A(kTwoSteps[0] * 0.5 + 0.2), h2 = A(kTwoSteps[1] * 0.5 + 0.2 - 0.7 * h1);
      CHECK(y[0] == Approx(h1).margin(1e-6));
      CHECK(y[1] == Approx(h2).margin(1e-6));
    }
  }
  auto m = test::rnn_acts_net(9);
  test::check_model_gradients(*m, {6, 3});
  const std::string dir = test::temp_dir("rnn_acts");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i)
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
  std::filesystem::remove_all(dir);
  Dataset data = make_synthetic({6, 3}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::rnn_acts_net(11); }, data, 3, 10);
  std::printf("equivalence rnn-acts-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
  LSTMConfig bad = lstm(2);
  bad.activation = Activation::gelu;
  CHECK_THROWS_WITH(LSTM(bad), "LSTM runs activations whose slope their output gives, not gelu");
}

// reset_after=False (Keras 2.0-2.2's default): hh = act(x_h + (r h_{t-1}) U_h), bias (3 units).
TEST_CASE("GRU with reset_after=False: two steps by hand, gradients (with dropout), files, replicas",
          "[layers][gru][reset_before]") {
  using kernels::activation_fwd;
  for (const auto& [act, rec] : {std::pair<Activation, Activation>{Activation::tanh, Activation::sigmoid},
                                 std::pair<Activation, Activation>{Activation::relu, Activation::softsign}}) {
    for (const bool backwards : {false, true}) {
      INFO("activation " << activation_name(act) << " go_backwards " << backwards);
      LSTMConfig c = lstm(1, true, backwards);
      c.reset_after = false;
      c.activation = act;
      c.recurrent_activation = rec;
      GRU l(c);
      CHECK(l.config_str().find("reset_after=False") != std::string::npos);
      const std::vector<float> kernel{0.5f, -0.3f, 0.8f}, rk{0.1f, 0.4f, -0.6f}, bias{0.05f, 0.3f, -0.1f};
      const std::vector<float> y = two_steps(l, kernel, rk, bias);
      double h = 0;
      for (int t = 0; t < 2; ++t) {
        const double xt = kTwoSteps[backwards ? 1 - t : t];
        auto x = [&](int g) { return xt * kernel[size_t(g)] + bias[size_t(g)]; };
        const double z = activation_fwd(rec, x(0) + h * rk[0]), r = activation_fwd(rec, x(1) + h * rk[1]);
        const double hh = activation_fwd(act, x(2) + (r * h) * rk[2]);
        h = z * h + (1 - z) * hh;
        CHECK(y[size_t(t)] == Approx(h).margin(1e-6));
      }
    }
  }
  auto m = test::gru_v1_net(9);
  test::check_model_gradients(*m, {6, 3});
  const std::string dir = test::temp_dir("gru_v1");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i)
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
  std::filesystem::remove_all(dir);
  Dataset data = make_synthetic({6, 3}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::gru_v1_net(11); }, data, 3, 10);
  std::printf("equivalence gru-v1-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}
