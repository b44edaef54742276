// Sequential: presets' parameter counts (Keras's numbers), clones, batch independence of forward.
#include <catch2/catch.hpp>
#include <cstring>
#include "core/presets.h"
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
  CHECK(count("digits-cnn") == 35914);
  CHECK(count("digits-mlp") == 64 * 64 + 64 + 64 * 64 + 64 + 650);
  CHECK_THROWS_WITH(find_preset("resnet50"),
                    "unknown model preset 'resnet50' (available: digits-mlp, digits-cnn, mnist-mlp, mnist-cnn, "
                    "cifar10-cnn, imdb-cnn, imdb-lstm, imdb-bilstm)");
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
