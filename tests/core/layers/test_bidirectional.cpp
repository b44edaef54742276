// Keras's Bidirectional: names and weights as Keras 3 gives them; the output equals its two layers
// run apart, the backward one's sequence flipped back, merged by each merge_mode; whole-model
// gradients; Keras's files; the refusals; N replicas against one.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include "core/data/readers.h"
#include "core/io/keras_config.h"
#include "core/layers/bidirectional.h"
#include "core/layers/dense.h"
#include "core/sequential.h"
#include "kernels/gemm.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {
RecurrentConfig rc(int64_t units, bool seq, bool backwards = false) {
  RecurrentConfig c;
  c.units = units;
  c.return_sequences = seq;
  c.go_backwards = backwards;
  return c;
}

std::unique_ptr<Recurrent> make(int kind, RecurrentConfig c) {
  if (kind == 0) return std::make_unique<LSTM>(c);
  if (kind == 1) return std::make_unique<GRU>(c);
  return std::make_unique<SimpleRNN>(c);
}

// The output of a one-layer model on x (n samples of (steps, 3)).
std::vector<float> run(Sequential& m, const std::vector<float>& x, int64_t n) {
  m.prepare(n);
  Context ctx;
  Shape s = m.input_shape();
  s.insert_front(n);
  Tensor t(s);
  std::copy(x.begin(), x.end(), t.data());
  const Tensor y = m.forward(ctx, t, false);
  return std::vector<float>(y.data(), y.data() + y.numel());
}
}  // namespace

TEST_CASE("Bidirectional: Keras 3's names, weights, shapes and listing", "[layers][bidirectional]") {
  Sequential m("m");
  m.add(std::make_unique<LSTM>(rc(2, true)));
  m.add(std::make_unique<Bidirectional>(std::make_unique<LSTM>(rc(4, true))));
  m.add(std::make_unique<Bidirectional>(std::make_unique<LSTM>(rc(3, false)), MergeMode::ave,
                                        std::make_unique<GRU>(rc(3, false, true))));
  m.build({5, 3}, 1);
  CHECK(m.output_shape() == Shape{3});
  auto& b = dynamic_cast<const Bidirectional&>(*m.layers()[1]);
  auto& b2 = dynamic_cast<const Bidirectional&>(*m.layers()[2]);
  CHECK(b.name() == "bidirectional");
  CHECK(b.output_shape() == Shape{5, 8});  // concat: forward's 4 units, then backward's
  // The wrapped LSTM is Keras's second ("lstm_1"); a given backward layer keeps its own name.
  CHECK(b.forward_layer().name() == "forward_lstm_1");
  CHECK(b.backward_layer().name() == "backward_lstm_1");
  CHECK(b.backward_layer().config().go_backwards);
  CHECK(b2.forward_layer().name() == "forward_lstm_2");
  CHECK(b2.backward_layer().name() == "gru");
  CHECK(b.config_str() == "merge_mode=concat, LSTM(units=4, return_sequences=True)");
  CHECK(b2.config_str() == "merge_mode=ave, LSTM(units=3), backward_layer=GRU(units=3, go_backwards=True)");
  std::vector<std::string> names;
  for (const WeightRef& w : m.weights())
    if (w.layer == m.layers()[2].get()) names.push_back(w.keras_name() + " " + w.spec.keras3_group);
  CHECK(names ==
        std::vector<std::string>{"bidirectional_1/forward_lstm_2/lstm_cell/kernel:0 forward_layer/cell",
                                 "bidirectional_1/forward_lstm_2/lstm_cell/recurrent_kernel:0 forward_layer/cell",
                                 "bidirectional_1/forward_lstm_2/lstm_cell/bias:0 forward_layer/cell",
                                 "bidirectional_1/gru/gru_cell/kernel:0 backward_layer/cell",
                                 "bidirectional_1/gru/gru_cell/recurrent_kernel:0 backward_layer/cell",
                                 "bidirectional_1/gru/gru_cell/bias:0 backward_layer/cell"});
  // The first LSTM; two LSTM(4)s on its 2 features; an LSTM(3) and a GRU(3) (two biases) on 8.
  CHECK(m.num_params() == 4 * 2 * (3 + 2 + 1) + 2 * 4 * 4 * (2 + 4 + 1) + 4 * 3 * (8 + 3 + 1) + 3 * 3 * (8 + 3 + 2));

  CHECK_THROWS_WITH(
      Bidirectional(std::make_unique<LSTM>(rc(3, true)), MergeMode::concat, std::make_unique<LSTM>(rc(3, true))),
      "Bidirectional: the forward layer and the backward layer should have different `go_backwards` "
      "values. Received: forward_layer.go_backwards=False, backward_layer.go_backwards=False");
  CHECK_THROWS_WITH(
      Bidirectional(std::make_unique<LSTM>(rc(3, true)), MergeMode::concat, std::make_unique<LSTM>(rc(3, false, true))),
      "Bidirectional: the forward layer and the backward layer should have the same "
      "`return_sequences`. Received: forward_layer.return_sequences=True, "
      "backward_layer.return_sequences=False");
  CHECK_THROWS_WITH(
      Bidirectional(std::make_unique<LSTM>(rc(3, true)), MergeMode::sum, std::make_unique<GRU>(rc(2, true, true))),
      "Bidirectional: merge_mode='sum' combines the two layers' outputs element by element, so their "
      "units must match; got 3 forward and 2 backward");
  CHECK(merge_mode_from_name("mul") == MergeMode::mul);
  CHECK_THROWS_WITH(merge_mode_from_name("max"), Contains("Invalid merge mode. Received: 'max'"));
}

TEST_CASE("Bidirectional equals its two layers run apart, the backward sequence flipped, then merged",
          "[layers][bidirectional]") {
  const int64_t n = 3, T = 5, U = 3;
  const std::vector<float> x = test::random_vecf(n * T * 2, 4);
  for (int kind = 0; kind < 3; ++kind)
    for (const bool seq : {true, false})
      for (const bool forward_reads_back : {false, true})  // the wrapped layer itself reading last to first
        for (const MergeMode mode : {MergeMode::concat, MergeMode::sum, MergeMode::ave, MergeMode::mul}) {
          INFO("kind " << kind << " return_sequences " << seq << " forward go_backwards " << forward_reads_back
                       << " merge_mode " << merge_mode_name(mode));
          Sequential bi("bi");
          bi.add(std::make_unique<Bidirectional>(make(kind, rc(U, seq, forward_reads_back)), mode));
          bi.build({T, 2}, 7);
          Sequential f("f"), b("b");
          f.add(make(kind, rc(U, seq, forward_reads_back)));
          b.add(make(kind, rc(U, seq, !forward_reads_back)));
          f.build({T, 2}, 1);
          b.build({T, 2}, 1);
          const int64_t half = bi.num_params() / 2;
          REQUIRE(f.num_params() == half);
          std::copy(bi.params(), bi.params() + half, f.params());
          std::copy(bi.params() + half, bi.params() + 2 * half, b.params());
          const std::vector<float> got = run(bi, x, n), yf = run(f, x, n), yb = run(b, x, n);
          const int64_t steps = seq ? T : 1;
          REQUIRE(int64_t(got.size()) == n * steps * U * (mode == MergeMode::concat ? 2 : 1));
          for (int64_t s = 0; s < n; ++s)
            for (int64_t t = 0; t < steps; ++t)
              for (int64_t u = 0; u < U; ++u) {
                const float a = yf[size_t((s * steps + t) * U + u)];
                const float c = yb[size_t((s * steps + (seq ? T - 1 - t : 0)) * U + u)];  // flipped back
                float want = 0;
                if (mode == MergeMode::concat) {
                  CHECK(got[size_t((s * steps + t) * 2 * U + U + u)] == c);
                  want = a;
                } else {
                  want = mode == MergeMode::sum ? a + c : mode == MergeMode::ave ? (a + c) / 2 : a * c;
                }
                const int64_t at = mode == MergeMode::concat ? (s * steps + t) * 2 * U + u : (s * steps + t) * U + u;
                CHECK(got[size_t(at)] == want);
              }
        }
}

TEST_CASE("Bidirectional on 2 CPU threads (the directions at once) gives the 1-thread output and gradients",
          "[layers][bidirectional]") {
  const int64_t n = 7;
  const std::vector<float> xv = test::random_vecf(n * 6 * 3, 3), gv = test::random_vecf(n * 4, 4);
  std::vector<float> out[2], grads[2];
  for (int threads : {1, 2}) {
    auto m = test::bidir_net(5);
    m->prepare(n);
    Context ctx;
    ctx.threads = threads;
    kernels::set_cpu_threads(threads);
    Tensor x({n, 6, 3});
    std::copy(xv.begin(), xv.end(), x.data());
    const Tensor y = m->forward(ctx, x, true);
    out[threads - 1].assign(y.data(), y.data() + y.numel());
    Tensor dy = m->output_grad(n);
    std::copy(gv.begin(), gv.end(), dy.data());
    m->zero_grads();
    m->backward(ctx, x);
    grads[threads - 1].assign(m->grads(), m->grads() + m->num_trainable());
  }
  kernels::set_cpu_threads(1);
  CHECK(out[0] == out[1]);
  CHECK(grads[0] == grads[1]);
  CHECK(std::any_of(grads[0].begin(), grads[0].end(), [](float g) { return g != 0.f; }));
}

TEST_CASE("whole-model gradients through Bidirectional layers (each merge_mode, a backward_layer of its own)",
          "[layers][grad][bidirectional]") {
  auto m = test::bidir_net(9);
  test::check_model_gradients(*m, {6, 3});
}

TEST_CASE("Bidirectional through Keras's files; what dptrain does not run is refused; 3 CPU replicas train as one",
          "[layers][bidirectional][io][parallel]") {
  auto m = test::bidir_net(1);
  const std::string dir = test::temp_dir("bidir");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i) {
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
      if (auto* b = dynamic_cast<const Bidirectional*>(loaded->layers()[i].get())) {
        auto& ours = dynamic_cast<const Bidirectional&>(*m->layers()[i]);
        CHECK(b->forward_layer().name() == ours.forward_layer().name());
        CHECK(b->backward_layer().name() == ours.backward_layer().name());
      }
    }
  std::filesystem::remove_all(dir);

  auto cfg = [](const std::string& bidir) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3], "name": "input"}},
      {"class_name": "Bidirectional", "config": {"name": "b", )" +
           bidir + "}}]}}";
  };
  const std::string lstm = R"("layer": {"class_name": "LSTM", "config": {"name": "l", "units": 2}})";
  // Keras 2's form: no backward_layer (made from the wrapped one), the wrapped layer's own name.
  auto k2 = model_from_keras_json(cfg(lstm), 0, "m.json");
  auto& b = dynamic_cast<const Bidirectional&>(*k2->layers()[0]);
  CHECK(k2->output_shape() == Shape{4});
  CHECK((b.forward_layer().name() == "forward_l" && b.backward_layer().name() == "backward_l"));
  // A given backward_layer: Keras 2 prefixes its name too; Keras 3 (whose forward name has the
  // prefix already) keeps it.
  const std::string gru_back = R"(, "backward_layer": {"class_name": "GRU", "config": {"name": "k", "units": 2,
                                  "go_backwards": true}})";
  auto k2b = model_from_keras_json(cfg(lstm + gru_back), 0, "m.json");
  CHECK(dynamic_cast<const Bidirectional&>(*k2b->layers()[0]).backward_layer().name() == "backward_k");
  auto k3b = model_from_keras_json(
      cfg(R"("layer": {"class_name": "LSTM", "config": {"name": "forward_l", "units": 2}})" + gru_back), 0, "m.json");
  auto& b3 = dynamic_cast<const Bidirectional&>(*k3b->layers()[0]);
  CHECK((b3.forward_layer().name() == "forward_l" && b3.backward_layer().name() == "k"));
  CHECK(b3.config_str() == "merge_mode=concat, LSTM(units=2), backward_layer=GRU(units=2, go_backwards=True)");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(lstm + R"(, "merge_mode": null)"), 0, "m.json"),
                    "m.json: layer 'b' (Bidirectional): merge_mode=None (two outputs; dptrain's layers have one) is "
                    "not supported");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(lstm + R"(, "merge_mode": "max")"), 0, "m.json"),
                    "m.json: layer 'b' (Bidirectional): merge_mode 'max' is not one of 'concat', 'sum', 'ave', 'mul'");
  CHECK_THROWS_WITH(
      model_from_keras_json(cfg(R"("layer": {"class_name": "Dense", "config": {"name": "d", "units": 2}})"), 0,
                            "m.json"),
      "m.json: layer 'b' (Bidirectional): wrapping a Dense (Bidirectional wraps LSTM, GRU or SimpleRNN) is not "
      "supported");
  CHECK_THROWS_WITH(
      model_from_keras_json(
          cfg(R"("layer": {"class_name": "GRU", "config": {"name": "g", "units": 2, "recurrent_dropout": 1.5}})"), 0,
          "m.json"),
      "m.json: layer 'b' > 'g' (GRU): recurrent_dropout=1.5 is not in [0, 1)");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(lstm + R"(, "backward_layer": {"class_name": "LSTM",
                                                 "config": {"name": "k", "units": 2}})"),
                                          0, "m.json"),
                    Contains("m.json: layer 'b' (Bidirectional): Bidirectional: the forward layer and the backward "
                             "layer should have different `go_backwards` values"));
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"("merge_mode": "sum")"), 0, "m.json"),
                    "m.json: layer 'b' (Bidirectional): has no 'layer' to wrap");

  Dataset data = make_synthetic({6, 3}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::bidir_net(11); }, data, 3, 10);
  std::printf("equivalence bidir-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}
