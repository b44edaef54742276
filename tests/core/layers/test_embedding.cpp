// Keras's Embedding: shapes and names, the gather and its gradient (repeated indices summed in the
// tokens' order, the same bits with any number of threads), whole-model gradients, Keras's files,
// N replicas against one, and the data checks for indices.
#include <catch2/catch.hpp>
#include <filesystem>
#include "core/data/readers.h"
#include "core/io/keras_config.h"
#include "core/layers/conv1d.h"
#include "core/layers/dense.h"
#include "core/layers/embedding.h"
#include "core/layers/merge.h"
#include "core/layers/pooling.h"
#include "core/sequential.h"
#include "kernels/embedding.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;
using Catch::StartsWith;

TEST_CASE("Embedding: shapes, Keras's name, weight and initializer, bad settings", "[layers][embedding]") {
  Embedding e(10, 4);
  CHECK(e.class_name() == "Embedding");
  CHECK(e.default_name() == "embedding");
  CHECK(e.config_str() == "input_dim=10, output_dim=4");
  CHECK(e.input_index_limit() == 10);
  CHECK(e.build({5}) == Shape{5, 4});
  Embedding e2(10, 4);
  CHECK(e2.build({2, 3}) == Shape{2, 3, 4});
  REQUIRE(e.params().size() == 1);
  CHECK(e.params()[0].name == "embeddings");
  CHECK(e.params()[0].shape == Shape{10, 4});
  CHECK(e.params()[0].init == Init::uniform);
  // Keras's "uniform": RandomUniform(-0.05, 0.05).
  Sequential m("m");
  m.add(std::make_unique<Embedding>(100, 50));
  m.build({3}, 1);
  float lo = 1, hi = -1;
  for (int64_t i = 0; i < m.num_params(); ++i) lo = std::min(lo, m.params()[i]), hi = std::max(hi, m.params()[i]);
  CHECK((lo >= -0.05f && lo < -0.049f && hi <= 0.05f && hi > 0.049f));
  CHECK(m.input_index_limit() == 100);
  CHECK_THROWS_WITH(Embedding(0, 4), "Embedding needs input_dim >= 1 and output_dim >= 1, got 0 and 4");
  CHECK_THROWS_WITH(Embedding(20000000, 4),
                    "Embedding input_dim 20000000 is past 2^24 = 16777216, the indices a float "
                    "input holds exactly");
}

TEST_CASE("Embedding kernels: rows gathered; repeated indices' gradients summed in token order, any thread count",
          "[layers][embedding][kernels]") {
  const kernels::EmbeddingShape s{7, 5, 3};
  const std::vector<double> ids{4, 0, 4, 2.0, 4, 1, 0};
  const auto table = test::random_vec(15, 3);
  std::vector<double> y(21);
  kernels::embedding_forward_cpu(s, ids.data(), table.data(), y.data());
  for (int t = 0; t < 7; ++t)
    for (int j = 0; j < 3; ++j) CHECK(y[size_t(t * 3 + j)] == table[size_t(ids[size_t(t)] * 3 + j)]);
  const auto dy = test::random_vec(21, 4);
  std::vector<double> dt(15, 1.0);  // accumulates
  kernels::embedding_backward_cpu(s, ids.data(), dy.data(), dt.data());
  for (int j = 0; j < 3; ++j) {
    CHECK(dt[size_t(4 * 3 + j)] == ((1.0 + dy[size_t(0 * 3 + j)]) + dy[size_t(2 * 3 + j)]) + dy[size_t(4 * 3 + j)]);
    CHECK(dt[size_t(0 * 3 + j)] == (1.0 + dy[size_t(1 * 3 + j)]) + dy[size_t(6 * 3 + j)]);
    CHECK(dt[size_t(3 * 3 + j)] == 1.0);  // no token
  }
  // Indices outside the table are an error naming the index and its place.
  const std::vector<float> bad{1, 5, 2}, tf(15, 0.f);
  std::vector<float> yf(9);
  CHECK_THROWS_WITH(kernels::embedding_forward_cpu(kernels::EmbeddingShape{3, 5, 3}, bad.data(), tf.data(), yf.data()),
                    "Embedding: index 5 (input 1 of the batch) is outside [0, 5), the layer's input_dim");
  const std::vector<float> neg{-1};
  CHECK_THROWS_WITH(kernels::embedding_forward_cpu(kernels::EmbeddingShape{1, 5, 3}, neg.data(), tf.data(), yf.data()),
                    Contains("index -1 (input 0"));
  // A batch big enough for the threads (tokens x dim >= 65536): the same bits as one thread
  // adding every token in order.
  const kernels::EmbeddingShape big{6000, 40, 16};
  std::vector<float> bid(6000);
  for (size_t t = 0; t < bid.size(); ++t) bid[t] = float((t * 7919 + t / 13) % 40 == 3 ? 3 : (t * 31) % 40);
  const auto bdy = test::random_vecf(6000 * 16, 5);
  std::vector<float> got(40 * 16, 0.f), want(40 * 16, 0.f);
  kernels::embedding_backward_cpu(big, bid.data(), bdy.data(), got.data());
  for (int64_t t = 0; t < 6000; ++t)
    for (int64_t j = 0; j < 16; ++j) want[size_t(int64_t(bid[size_t(t)]) * 16 + j)] += bdy[size_t(t * 16 + j)];
  CHECK(got == want);
}

TEST_CASE("whole-model gradients through two Embeddings reading the same indices", "[layers][grad][embedding]") {
  auto m = test::embed_net(9, false);
  CHECK(m->input_index_limit() == 15);  // the smaller table bounds the indices
  // Rows in [-1, 1] rather than Keras's [-0.05, 0.05], well above the finite differences' steps.
  for (const auto& w : m->weights())
    if (w.spec.name == "embeddings")
      for (int64_t i = 0; i < shape_numel(w.spec.shape); ++i) w.data[i] *= 20.f;
  test::check_model_gradients(*m, {12});
}

TEST_CASE("Embedding through Keras's files", "[layers][embedding][io]") {
  auto m = test::embed_net(1);
  const std::string dir = test::temp_dir("embedding");
  for (const auto& loaded : test::check_file_round_trips(*m, dir)) {
    for (size_t i = 0; i < m->layers().size(); ++i) {
      CHECK(loaded->layers()[i]->class_name() == m->layers()[i]->class_name());
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
    }
    CHECK(loaded->input_index_limit() == 15);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Embedding: 3 CPU replicas train as one device; the data must hold indices",
          "[layers][embedding][parallel]") {
  Dataset data = make_synthetic({12}, 4, 30, 5, 15);
  for (float v : data.x) REQUIRE((v >= 0 && v < 15 && v == std::floor(v)));
  const double d = test::replicas_vs_one([] { return test::embed_net(11); }, data, 3, 10);
  std::printf("equivalence embed-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);

  auto m = test::embed_net(11);
  Adam opt(0.01);
  FitOptions fo;
  fo.verbose = 0;
  Trainer t(*m, test::cpus(1), LossKind::categorical_crossentropy, opt, 1, {});
  Dataset floats = make_synthetic({12}, 4, 5, 5);
  CHECK_THROWS_WITH(t.fit(floats, nullptr, fo, {}),
                    Contains("training data: sample 0 holds 0.") &&
                        Contains("but model 'embed' reads its inputs as indices (Embedding 'embedding_1', input_dim "
                                 "15): every input must be a whole number in [0, 15)"));
  Dataset past = make_synthetic({12}, 4, 5, 5, 15);
  past.x[30] = 15;  // sample 2: a valid index for the first table, not for the second
  CHECK_THROWS_WITH(t.fit(past, nullptr, fo, {}),
                    StartsWith("training data: sample 2 holds 15, but model 'embed' reads its inputs as indices"));
  CHECK_THROWS_WITH(t.predict(past, 5), StartsWith("the data: sample 2 holds 15"));
}

TEST_CASE("Embedding from Keras 2's Sequential config (batch_input_shape, input_length); mask_zero",
          "[layers][embedding][io]") {
  auto cfg = [](const std::string& extra) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "Embedding", "config": {"name": "words", "batch_input_shape": [null, 7], "input_dim": 11,
       "output_dim": 3, "input_length": 7, "embeddings_initializer": {"class_name": "RandomUniform",
       "config": {"minval": -0.05, "maxval": 0.05, "seed": null}})" +
           extra + R"(}},
      {"class_name": "Flatten", "config": {"name": "f"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "softmax"}}]}})";
  };
  auto m = model_from_keras_json(cfg(R"(, "mask_zero": false)"), 0, "m.json");
  CHECK(m->input_shape() == Shape{7});
  CHECK(m->layers()[0]->name() == "words");
  CHECK(m->layers()[0]->output_shape() == Shape{7, 3});
  CHECK(m->input_index_limit() == 11);
  // mask_zero=True: the mask reaches Flatten, which (as in Keras 3) drops it with a warning.
  auto masked = model_from_keras_json(cfg(R"(, "mask_zero": true)"), 0, "m.json");
  CHECK(masked->layers()[0]->makes_mask());
  CHECK(masked->layers()[1]->mask_source() == nullptr);
  CHECK(masked->layers()[2]->mask_source() == nullptr);
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"(, "mask_zero": false, "input_dim": 0)"), 0, "m.json"),
                    Contains("Embedding needs input_dim >= 1 and output_dim >= 1, got 0 and 3"));
}
