// Keras's masks: Embedding(mask_zero=True) and Masking make them; the recurrent layers,
// Bidirectional and GlobalAveragePooling1D read them; Dense, Dropout and the like pass them on;
// other layers drop them (Keras 3) and some refuse them. Checked against each sample run alone over
// its kept steps, by finite differences, through files and across CPU replicas.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include "core/data/readers.h"
#include "core/io/keras_config.h"
#include "core/layers/batch_norm.h"
#include "core/layers/bidirectional.h"
#include "core/layers/conv1d.h"
#include "core/layers/dense.h"
#include "core/layers/embedding.h"
#include "core/layers/masking.h"
#include "core/layers/merge.h"
#include "core/layers/pooling.h"
#include "core/layers/recurrent.h"
#include "core/sequential.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {
std::unique_ptr<Recurrent> recurrent(int kind, const RecurrentConfig& c) {
  if (kind == 0) return std::make_unique<LSTM>(c);
  if (kind == 3) return std::make_unique<SimpleRNN>(c);
  RecurrentConfig g = c;
  g.reset_after = kind == 1;  // 2: GRU with reset_after=False
  return std::make_unique<GRU>(g);
}
// A recurrent layer built on (steps, F), bound to the weights w, prepared for n rows, reading the
// mask of `source` (nullable).
struct Bound {
  std::unique_ptr<Recurrent> layer;
  std::vector<std::vector<float>> grads;
  Tensor work;
};
Bound bound(int kind, const RecurrentConfig& c, const Shape& in, std::vector<std::vector<float>>& w, int64_t n,
            const Layer* source, Context& ctx) {
  Bound b{recurrent(kind, c), {}, {}};
  b.layer->set_name("r");
  b.layer->build(in);
  b.layer->set_mask_source(source);
  std::vector<float*> pw, pg;
  for (size_t i = 0; i < b.layer->params().size(); ++i) {
    w.resize(std::max(w.size(), i + 1));
    if (w[i].empty()) w[i] = test::random_vecf(size_t(shape_numel(b.layer->params()[i].shape)), 20 + i);
    b.grads.emplace_back(w[i].size(), 0.f);
    pw.push_back(w[i].data());
    pg.push_back(b.grads.back().data());
  }
  b.layer->bind(pw, pg);
  b.layer->prepare(n, ctx);
  b.work = Tensor({std::max<int64_t>(b.layer->workspace_elems(n), 1)});
  b.layer->set_workspace(b.work.data(), b.work.numel());
  return b;
}
}  // namespace

// Keras's rnn(): a skipped step keeps the state and outputs it (or 0 with zero_output_for_mask).
// So a sample's last state is the layer's over its kept steps alone, and its output at step t the
// state after the kept steps read so far.
TEST_CASE("Masked recurrent layers: each sample as the layer over its kept steps alone", "[layers][mask]") {
  const int64_t T = 6, F = 3, U = 4, n = 8;
  for (int kind = 0; kind < 4; ++kind)
    for (int variant = 0; variant < 8; ++variant) {
      RecurrentConfig c;
      c.units = U;
      c.go_backwards = variant & 1;
      c.return_sequences = variant & 2;
      c.zero_output_for_mask = variant & 4;
      INFO("kind " << kind << " go_backwards " << c.go_backwards << " return_sequences " << c.return_sequences
                   << " zero_output_for_mask " << c.zero_output_for_mask);
      Context ctx;
      Masking mk(0.0);
      mk.set_name("mk");
      mk.build({T, F});
      mk.prepare(n, ctx);
      std::vector<std::vector<float>> w;
      Bound m = bound(kind, c, {T, F}, w, n, &mk, ctx);
      Tensor x({n, T, F}), xm({n, T, F}), y(c.return_sequences ? Shape{n, T, U} : Shape{n, U});
      const auto xv = test::random_vecf(size_t(x.numel()), 3 + uint64_t(variant));
      std::copy(xv.begin(), xv.end(), x.data());
      test::zero_steps(x.data(), n, T, F);
      for (int64_t t = 0; t < T; ++t)  // sample 7: every step skipped
        std::fill(x.data() + (7 * T + t) * F, x.data() + (7 * T + t + 1) * F, 0.f);
      mk.forward(ctx, x, xm, false);
      m.layer->forward(ctx, xm, y, false);
      const int64_t per = y.numel() / n;
      for (int64_t i = 0; i < n; ++i) {
        std::vector<int64_t> kept;  // in reading order
        for (int64_t k = 0; k < T; ++k) {
          const int64_t t = c.go_backwards ? T - 1 - k : k;
          bool any = false;
          for (int64_t f = 0; f < F; ++f) any = any || x.data()[(i * T + t) * F + f] != 0.f;
          if (any) kept.push_back(t);
        }
        INFO("sample " << i << ", " << kept.size() << " steps kept");
        std::vector<float> states;  // after each kept step, in reading order
        if (!kept.empty()) {
          const int64_t L = int64_t(kept.size());
          RecurrentConfig rc = c;
          rc.return_sequences = true;
          rc.go_backwards = false;  // the kept steps given in reading order
          Bound ref = bound(kind, rc, {L, F}, w, 1, nullptr, ctx);
          Tensor xi({1, L, F}), yi({1, L, U});
          for (int64_t k = 0; k < L; ++k)
            std::copy(x.data() + (i * T + kept[size_t(k)]) * F, x.data() + (i * T + kept[size_t(k)] + 1) * F,
                      xi.data() + k * F);
          ref.layer->forward(ctx, xi, yi, false);
          states.assign(yi.data(), yi.data() + L * U);
        }
        // The output at reading position k: the state after the kept steps read so far (0 before any).
        auto expected = [&](int64_t k, int64_t u) {
          const int64_t t = c.go_backwards ? T - 1 - k : k;
          int64_t read = 0;
          bool skipped = true;
          for (size_t j = 0; j < kept.size(); ++j) {
            const int64_t pos = c.go_backwards ? T - 1 - kept[j] : kept[j];
            if (pos <= k) ++read;
            if (kept[j] == t) skipped = false;
          }
          if (read == 0 || (skipped && c.zero_output_for_mask)) return 0.f;
          return states[size_t((read - 1) * U + u)];
        };
        const float* yi = y.data() + i * per;
        if (c.return_sequences) {
          for (int64_t k = 0; k < T; ++k)  // a go_backwards layer returns its steps in reading order
            for (int64_t u = 0; u < U; ++u) CHECK(yi[k * U + u] == Approx(expected(k, u)).margin(1e-6));
        } else {
          for (int64_t u = 0; u < U; ++u) CHECK(yi[u] == Approx(expected(T - 1, u)).margin(1e-6));
        }
      }
    }
}

TEST_CASE("Masking and Embedding(mask_zero=True) make Keras's masks; GlobalAveragePooling1D averages the kept steps",
          "[layers][mask]") {
  Masking mk(0.5);
  CHECK(mk.class_name() == "Masking");
  CHECK(mk.config_str() == "mask_value=0.5");
  CHECK(mk.build({4, 2}) == Shape{4, 2});
  CHECK(mk.mask_shape() == Shape{4});
  Context ctx;
  mk.set_name("mk");
  mk.prepare(1, ctx);
  Tensor x({1, 4, 2}), y({1, 4, 2});
  const float xv[8] = {0.5f, 0.5f, 0.5f, 1.f, 0.f, 0.f, 0.5f, 0.5f};
  std::copy(xv, xv + 8, x.data());
  mk.forward(ctx, x, y, false);
  const float ym[8] = {0, 0, 0.5f, 1.f, 0.f, 0.f, 0, 0};
  for (int i = 0; i < 8; ++i) CHECK(y.data()[i] == ym[i]);
  const float mm[4] = {0, 1, 1, 0};
  for (int i = 0; i < 4; ++i) CHECK(mk.mask()[i] == mm[i]);
  Tensor dy({1, 4, 2}), dx({1, 4, 2});
  for (int i = 0; i < 8; ++i) dy.data()[i] = float(i + 1);
  mk.backward(ctx, x, y, dy, &dx);
  const float dxm[8] = {0, 0, 3, 4, 5, 6, 0, 0};
  for (int i = 0; i < 8; ++i) CHECK(dx.data()[i] == dxm[i]);

  // Embedding(mask_zero=True) -> GlobalAveragePooling1D: the mean of the rows of the non-zero indices.
  Sequential m("m");
  m.add(std::make_unique<Embedding>(4, 2, true));
  m.add(std::make_unique<GlobalPooling2D>(false, false, 1));
  m.add(std::make_unique<Dense>(1));
  m.build({3}, 5);
  CHECK(m.layers()[0]->config_str() == "input_dim=4, output_dim=2, mask_zero=True");
  CHECK(m.layers()[1]->mask_source() == m.layers()[0].get());
  CHECK(m.layers()[2]->mask_source() == nullptr);
  m.prepare(2);
  Tensor idx({2, 3});
  const float iv[6] = {2, 0, 3, 0, 0, 1};
  std::copy(iv, iv + 6, idx.data());
  m.forward(ctx, idx, false);
  const float* table = m.weights()[0].data;
  const Tensor pooled = m.output_of(1);
  for (int c = 0; c < 2; ++c) {
    CHECK(pooled.data()[c] == Approx((table[2 * 2 + c] + table[3 * 2 + c]) / 2).margin(1e-7));
    CHECK(pooled.data()[2 + c] == Approx(table[1 * 2 + c]).margin(1e-7));
  }
}

TEST_CASE("Keras's masks through models: finite differences, files, 3 CPU replicas as one", "[layers][mask][grad]") {
  auto a = test::masked_rnn_net(9);
  test::check_model_gradients(*a, {8});
  auto b = test::masking_net(9);
  test::check_model_gradients(*b, {7, 3}, [](float* x, int64_t n) { test::zero_steps(x, n, 7, 3); });
  for (Sequential* m : {a.get(), b.get()}) {
    const std::string dir = test::temp_dir("masks");
    for (const auto& loaded : test::check_file_round_trips(*m, dir))
      for (size_t i = 0; i < m->layers().size(); ++i) {
        CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
        CHECK(bool(loaded->layers()[i]->mask_source()) == bool(m->layers()[i]->mask_source()));
      }
    std::filesystem::remove_all(dir);
  }
  Dataset da = make_synthetic({8}, 4, 30, 5, 5);
  const double d = test::replicas_vs_one([] { return test::masked_rnn_net(11); }, da, 3, 10);
  std::printf("equivalence masked-rnn-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
  Dataset db = make_synthetic({7, 3}, 4, 30, 5);
  test::zero_steps(db.x.data(), 30, 7, 3);
  const double e = test::replicas_vs_one([] { return test::masking_net(11); }, db, 3, 10);
  std::printf("equivalence masking-net R=3 B=10: max|dw|/max|w| = %.3g\n", e);
  CHECK(e <= 1e-5);
}

TEST_CASE("Keras's masks: layers that drop them, and what is refused", "[layers][mask]") {
  RecurrentConfig seq;
  seq.units = 3;
  seq.return_sequences = true;
  auto embed = [] { return std::make_unique<Embedding>(5, 4, true); };
  {  // Conv1D does not support masking: Keras 3 drops the mask there (a warning), the LSTM reads every step
    Sequential m("m");
    m.add(embed());
    Conv2DConfig k;
    k.filters = 2;
    k.kw = 1;
    m.add(std::make_unique<Conv1D>(k, false));
    RecurrentConfig c;
    c.units = 2;
    m.add(std::make_unique<LSTM>(c));
    m.build({6}, 1);
    CHECK(m.layers()[2]->mask_source() == nullptr);
  }
  {  // the mask reaching the output: the loss's weights (the Trainer's tests)
    Sequential m("m");
    m.add(embed());
    m.add(std::make_unique<LSTM>(seq));
    m.add(std::make_unique<Dense>(2, Activation::softmax));
    m.build({6}, 1);
    CHECK(m.output_mask_layer() == 0);
    Sequential d("d");  // the mask made after the input: its kept steps cannot be counted from the input
    d.add(std::make_unique<Dense>(3));
    d.add(std::make_unique<Masking>(0.0));
    d.add(std::make_unique<LSTM>(seq));
    CHECK_THROWS_WITH(d.build({6, 2}, 1),
                      "model 'd': the mask of layer 'masking' (Masking) reaches the model's output, where Keras "
                      "leaves the masked steps out of the loss; dptrain counts those steps from the model's input, "
                      "so the layer making the mask must read the input (of a model of one input)");
  }
  {  // BatchNormalization's statistics
    Sequential m("m");
    m.add(embed());
    m.add(std::make_unique<BatchNormalization>(BatchNormConfig{}));
    m.add(std::make_unique<GlobalPooling2D>(false, false, 1));
    CHECK_THROWS_WITH(m.build({6}, 1),
                      "model 'm': the mask of layer 'embedding' (Embedding) reaches layer "
                      "'batch_normalization' (BatchNormalization), which Keras computes its batch "
                      "statistics over the kept steps alone; dptrain does not");
  }
  {  // a merge passes on the one mask its inputs carry (Keras ANDs them: the same mask is itself)
    Sequential m("m");
    m.add(embed());
    m.add(std::make_unique<LSTM>(seq));
    m.add(std::make_unique<LSTM>(seq), {0});
    m.add(std::make_unique<Add>(), {1, 2});
    m.add(std::make_unique<Concatenate>(), {3, 0});
    m.add(std::make_unique<GlobalPooling2D>(false, false, 1));
    m.build({6}, 1);
    CHECK(m.layers()[5]->mask_source() == m.layers()[0].get());
    Sequential two("two");  // two masks: Keras would AND them, dptrain refuses
    two.add(embed(), {-1});
    two.add(embed(), {-1});
    two.add(std::make_unique<Add>(), {0, 1});
    two.add(std::make_unique<GlobalPooling2D>(false, false, 1));
    CHECK_THROWS_WITH(two.build({6}, 1),
                      "model 'two': layer 'add' (Add) reads inputs carrying the masks of layer 'embedding' "
                      "(Embedding) and of layer 'embedding_1' (Embedding); Keras combines them, dptrain does not: "
                      "drop one before the layer");
    Sequential steps("steps");  // joined along the steps: the masks would have to be joined too
    steps.add(embed());
    steps.add(std::make_unique<LSTM>(seq));
    steps.add(std::make_unique<Concatenate>(1), {0, 0});
    steps.add(std::make_unique<GlobalPooling2D>(false, false, 1));
    CHECK_THROWS_WITH(steps.build({6}, 1),
                      "model 'steps': the mask of layer 'embedding' (Embedding) reaches layer 'concatenate' "
                      "(Concatenate), whose output (12, 4) does not keep its steps (6,); drop the mask before the "
                      "layer");
  }
}

TEST_CASE("Keras configs with masks: mask_zero, Masking, zero_output_for_mask; Bidirectional sets it",
          "[layers][mask][io]") {
  const std::string cfg = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 5], "dtype": "float32", "name": "in"}},
    {"class_name": "Embedding", "config": {"name": "e", "input_dim": 9, "output_dim": 3, "mask_zero": true}},
    {"class_name": "Bidirectional", "config": {"name": "b", "merge_mode": "concat", "layer": {"class_name": "LSTM",
      "config": {"name": "l", "units": 2, "return_sequences": true}}}},
    {"class_name": "GRU", "config": {"name": "g", "units": 2, "zero_output_for_mask": true}},
    {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "softmax"}}]}})";
  auto m = model_from_keras_json(cfg, 0, "m.json");
  REQUIRE(m->layers().size() == 4);
  CHECK(m->layers()[0]->config_str() == "input_dim=9, output_dim=3, mask_zero=True");
  CHECK(m->layers()[1]->config_str() == "merge_mode=concat, LSTM(units=2, return_sequences=True)");
  const auto& bi = dynamic_cast<const Bidirectional&>(*m->layers()[1]);
  CHECK(bi.forward_layer().config().zero_output_for_mask);  // as Keras forces it
  CHECK(bi.backward_layer().config().zero_output_for_mask);
  CHECK(m->layers()[2]->config_str() == "units=2, zero_output_for_mask=True");
  CHECK(m->layers()[1]->mask_source() == m->layers()[0].get());
  CHECK(m->layers()[2]->mask_source() == m->layers()[0].get());
  CHECK(m->layers()[3]->mask_source() == nullptr);
  const std::string masking = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 2], "dtype": "float32", "name": "in"}},
    {"class_name": "Masking", "config": {"name": "k", "mask_value": -1.0}},
    {"class_name": "SimpleRNN", "config": {"name": "r", "units": 2}}]}})";
  auto k = model_from_keras_json(masking, 0, "k.json");
  CHECK(k->layers()[0]->config_str() == "mask_value=-1");
  CHECK(k->layers()[1]->mask_source() == k->layers()[0].get());
}

TEST_CASE("Keras 3's Functional configs write the masks they pass on as operations: taken as dptrain's own masks",
          "[layers][mask][io]") {
  // Embedding(mask_zero) -> Dense, and the residual Add's mask as LogicalOr of NotEqual(ids, 0) with
  // itself, passed to GlobalAveragePooling1D as mask= (as Keras 3.15 writes such a model).
  auto t = [](const std::string& from, const std::string& shape) {
    return R"({"class_name": "__keras_tensor__", "config": {"shape": )" + shape +
           R"(, "dtype": "float32", "keras_history": [")" + from + R"(", 0, 0]}})";
  };
  auto model = [&](const std::string& gap_mask_from, bool dense_reads_op, bool mask_zero = true) {
    return R"({"class_name": "Functional", "config": {"name": "f", "layers": [
      {"class_name": "InputLayer", "name": "ids", "config": {"name": "ids", "batch_shape": [null, 6]}, "inbound_nodes": []},
      {"class_name": "Embedding", "name": "e", "config": {"name": "e", "input_dim": 9, "output_dim": 3, "mask_zero": )" +
           std::string(mask_zero ? "true" : "false") + R"(},
       "inbound_nodes": [{"args": [)" +
           t("ids", "[null, 6]") + R"(], "kwargs": {}}]},
      {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 3}, "inbound_nodes": [{"args": [)" +
           t(dense_reads_op ? "not_equal" : "e", "[null, 6, 3]") + R"(], "kwargs": {}}]},
      {"class_name": "NotEqual", "name": "not_equal", "config": {"name": "not_equal"}, "inbound_nodes": [{"args": [)" +
           t("ids", "[null, 6]") + R"(, 0], "kwargs": {}}]},
      {"class_name": "Add", "name": "res", "config": {"name": "res"}, "inbound_nodes": [{"args": [[)" +
           t("e", "[null, 6, 3]") + ", " + t("d", "[null, 6, 3]") + R"(]], "kwargs": {}}]},
      {"class_name": "LogicalOr", "name": "logical_or", "config": {"name": "logical_or"}, "inbound_nodes": [{"args": [)" +
           t("not_equal", "[null, 6]") + ", " + t("not_equal", "[null, 6]") + R"(], "kwargs": {}}]},
      {"class_name": "GlobalAveragePooling1D", "name": "gap", "config": {"name": "gap"}, "inbound_nodes": [{"args": [)" +
           t("res", "[null, 6, 3]") + R"(], "kwargs": {"mask": )" + t(gap_mask_from, "[null, 6]") + R"(}}]}],
      "input_layers": ["ids", 0, 0], "output_layers": ["gap", 0, 0]}})";
  };
  auto m = model_from_keras_json(model("logical_or", false), 0, "f.json");
  REQUIRE(m->layers().size() == 4);  // the operations left out
  CHECK(m->layers()[3]->mask_source() == m->layers()[0].get());
  CHECK(m->inputs()[2] == std::vector<int>{0, 1});
  CHECK_THROWS_WITH(model_from_keras_json(model("d", false), 0, "f.json"),
                    "f.json: layer 'gap' (GlobalAveragePooling1D) is given the mask 'd', which no Keras mask operation "
                    "(NotEqual, LogicalOr, ...) computes; dptrain derives the masks of its layers (an Embedding's "
                    "mask_zero, Masking) and takes no other");
  CHECK_THROWS_WITH(model_from_keras_json(model("logical_or", true), 0, "f.json"),
                    "f.json: layer 'd' (Dense) reads 'not_equal' (NotEqual), an operation dptrain takes only as one "
                    "computing a Keras mask");
  CHECK_THROWS_WITH(model_from_keras_json(model("logical_or", false, false), 0, "f.json"),
                    "f.json: layer 'gap' (GlobalAveragePooling1D) is given the mask 'logical_or', but no mask of "
                    "dptrain's layers (an Embedding's mask_zero, Masking) reaches it");
}
