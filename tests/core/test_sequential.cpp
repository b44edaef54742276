// Sequential: presets' parameter counts (Keras's numbers), clones, batch independence of forward.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include "core/data/readers.h"
#include "core/layers/dense.h"
#include "core/layers/merge.h"
#include "core/optimizers/optimizer.h"
#include "core/presets.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;

TEST_CASE("presets build with Keras's parameter counts", "[sequential][presets]") {
  auto count = [](const std::string& name) {
    const Preset& p = find_preset(name);
    auto m = p.make();
    m->build(p.input, 0);
    return m->num_params();
  };
  CHECK(count("cifar10-cnn") == 160202);
  CHECK(count("mnist-mlp") == 669706);  // Keras's mnist_mlp example summary
  CHECK(count("mnist-cnn") == 1199882);  // Keras's mnist_cnn example summary
  CHECK(count("imdb-cnn") == 350751);    // Keras's imdb_cnn example summary
  CHECK(count("imdb-lstm") == 2691713);  // Keras's imdb_lstm example summary
  CHECK(count("imdb-bilstm") == 2658945);  // Keras's imdb_bidirectional_lstm example summary
  CHECK(count("imdb-transformer") == 651358);  // Keras's count of the same layers
  CHECK(count("digits-cnn") == 35914);
  CHECK(count("digits-mlp") == 64 * 64 + 64 + 64 * 64 + 64 + 650);
  CHECK_THROWS_WITH(find_preset("resnet50"),
                    "unknown model preset 'resnet50' (available: digits-mlp, digits-cnn, mnist-mlp, mnist-cnn, "
                    "cifar10-cnn, imdb-cnn, imdb-lstm, imdb-bilstm, imdb-transformer)");
}

TEST_CASE("clone copies architecture, names and weights; forward is independent of batch grouping",
          "[sequential]") {
  const Preset& p = find_preset("digits-cnn");
  auto m = p.make();
  m->build(p.input, 3);
  auto c = m->clone();
  REQUIRE(c->num_params() == m->num_params());
  CHECK(std::memcmp(c->params(), m->params(), sizeof(float) * size_t(m->num_params())) == 0);
  CHECK(c->layers()[2]->name() == "conv2d_1");
  m->prepare(6);
  c->prepare(2);
  const auto xv = test::random_vecf(6 * 64, 4, 0.f, 1.f);
  Tensor x({6, 8, 8, 1});
  std::copy(xv.begin(), xv.end(), x.data());
  Context ctx;
  Tensor all = m->forward(ctx, x, false);
  for (int64_t r = 0; r < 6; r += 2) {
    Tensor part = c->forward(ctx, x.rows(r, 2), false);
    for (int64_t i = 0; i < 20; ++i) CHECK(part.data()[i] == Catch::Detail::Approx(all.data()[r * 10 + i]).epsilon(1e-5));
  }
  Tensor wrong({2, 8, 8, 3});
  CHECK_THROWS_WITH(m->forward(ctx, wrong, false),
                    "model 'digits-cnn' expects input of shape (batch, 8, 8, 1) but the data has shape (2, 8, 8, 3)");
}

TEST_CASE("a model of several inputs: each reads its columns of a row; gradients, replicas, files, errors",
          "[sequential][inputs][graph]") {
  auto m = test::two_tower_net(3);
  REQUIRE(m->num_inputs() == 3);
  CHECK(m->input_shape() == Shape{8});
  CHECK(m->input_shapes() == std::vector<Shape>{{1}, {3}, {4}});
  CHECK(m->input_names() == std::vector<std::string>{"user", "item", "context"});
  CHECK_FALSE(m->is_chain());
  CHECK(m->input_index_limit() == 10);
  const std::string table = m->summary();
  CHECK_THAT(table, Catch::Contains(" user (InputLayer)           (None, 1)                 0           []\n"));
  CHECK_THAT(table, Catch::Contains(" context (InputLayer)        (None, 4)                 0           []\n"));
  CHECK_THAT(table,
             Catch::Contains(" embedding_1 (Embedding)     (None, 3, 4)              48          [item[0][0]]\n"));
  // The forward by hand: rows [user, item x 3, context x 4].
  const std::vector<float> rows = {3, 0, 11, 5, 0.5f, -1, 0.25f, 2, 9, 7, 7, 1, -0.5f, 0, 1, 0.75f};
  Tensor x({2, 8});
  std::copy(rows.begin(), rows.end(), x.data());
  Context ctx;
  m->prepare(2);
  m->forward(ctx, x, false);
  const float* user_table = m->weights()[0].data;
  const float* item_table = m->weights()[1].data;
  const float* w = m->weights()[2].data;  // context Dense (4, 4)
  const float* b = m->weights()[3].data;
  for (int64_t n = 0; n < 2; ++n) {
    const float* r = rows.data() + n * 8;
    for (int64_t j = 0; j < 4; ++j) {
      CHECK(m->output_of(1).data()[n * 4 + j] == user_table[int64_t(r[0]) * 4 + j]);
      const double mean = (double(item_table[int64_t(r[1]) * 4 + j]) + item_table[int64_t(r[2]) * 4 + j] +
                           item_table[int64_t(r[3]) * 4 + j]) /
                          3;
      CHECK(m->output_of(3).data()[n * 4 + j] == Approx(mean).epsilon(1e-6));
      double z = b[j];
      for (int64_t i = 0; i < 4; ++i) z += double(r[4 + i]) * w[i * 4 + j];
      CHECK(m->output_of(4).data()[n * 4 + j] == Approx(std::tanh(z)).epsilon(1e-6));
    }
  }
  {  // Embeddings of Keras's scale (0.05) turn far at a finite difference's step: scale them up first.
    auto g = test::two_tower_net(5);
    for (auto& wr : g->weights())
      if (wr.spec.name == "embeddings")
        for (int64_t i = 0; i < shape_numel(wr.spec.shape); ++i) wr.data[i] *= 20.f;
    test::check_model_gradients(*g, {8});
  }
  // 3 CPU replicas train as one device.
  const double d = test::replicas_vs_one([] { return test::two_tower_net(11); }, test::two_tower_data(30, 5), 3, 10);
  std::printf("equivalence two-tower R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
  // Each input's indices against its own Embedding: 11 is an item, not a user; a context value is any number.
  const std::vector<float> ok = {9, 11, 0, 11, 3.5f, -2, 0, 1e6f};
  m->check_inputs(ok.data(), 8, "the data");
  std::vector<float> bad = ok;
  bad[0] = 10;
  CHECK_THROWS_WITH(m->check_inputs(bad.data(), 8, "the data"),
                    "the data: sample 0 holds 10 in input 'user', but model 'two-tower' reads it as indices (Embedding "
                    "'embedding', input_dim 10): every value must be a whole number in [0, 10)");
  bad = ok;
  bad[2] = 12;
  CHECK_THROWS_WITH(m->check_inputs(bad.data(), 8, "the data"),
                    "the data: sample 0 holds 12 in input 'item', but model 'two-tower' reads it as indices (Embedding "
                    "'embedding_1', input_dim 12): every value must be a whole number in [0, 12)");
  // Through Keras's files: the inputs, their names and shapes, and every weight.
  const std::string dir = test::temp_dir("inputs");
  for (const auto& loaded : test::check_file_round_trips(*m, dir)) {
    CHECK(loaded->input_names() == m->input_names());
    CHECK(loaded->input_shapes() == m->input_shapes());
    CHECK(loaded->inputs() == m->inputs());
  }
  std::filesystem::remove_all(dir);
  // The data must give the model's inputs.
  {
    auto t = test::two_tower_net(1);
    Adam opt(0.01);
    Trainer trainer(*t, test::cpus(1), LossKind::categorical_crossentropy, opt, 1, {});
    Dataset one = make_synthetic({8}, 4, 6, 1, 10);
    FitOptions fo;
    fo.verbose = 0;
    CHECK_THROWS_WITH(trainer.fit(one, nullptr, fo, {}),
                      "training data gives 1 input (8,) but model 'two-tower' takes 3 inputs 'user' (1,), 'item' (3,), "
                      "'context' (4,): give one array an input, in this order (npy:user+item+context files,Y or "
                      "h5:FILE:user+item+context,y)");
  }
  // Inputs nothing reads, or that are not there.
  Sequential unread("unread");
  unread.add(std::make_unique<Dense>(2), {-1});
  CHECK_THROWS_WITH(unread.build_inputs({{3}, {2}}, 1, {"a", "b"}), "model 'unread': no layer reads its input 'b'");
  Sequential third("third");
  third.add(std::make_unique<Dense>(2), {-1});
  third.add(std::make_unique<Dense>(2), {-3});
  third.add(std::make_unique<Add>(), {0, 1});
  CHECK_THROWS_WITH(third.build_inputs({{3}, {2}}, 1),
                    "layer 1 of model 'third' reads input 2, but the model has 2 inputs");
}
