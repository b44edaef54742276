// Keras's TimeDistributed: names and weights as both Kerases give them; a Dense over each step by
// hand; whole-model gradients through wrapped Conv2D, pooling, Flatten and Dense; Keras's files;
// the refusals; N replicas against one, with a Dropout over each step.
#include <catch2/catch.hpp>
#include <filesystem>
#include "core/data/readers.h"
#include "core/io/keras_config.h"
#include "core/layers/dense.h"
#include "core/layers/flatten.h"
#include "core/layers/merge.h"
#include "core/layers/time_distributed.h"
#include "core/sequential.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

TEST_CASE("TimeDistributed: Keras's names, weights and shapes; a Dense over each step by hand",
          "[layers][time_distributed]") {
  Sequential m("m");
  m.add(std::make_unique<TimeDistributed>(std::make_unique<Dense>(2)));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(1));
  m.build({3, 4}, 5);
  auto& td = dynamic_cast<const TimeDistributed&>(*m.layers()[0]);
  CHECK(td.name() == "time_distributed");
  CHECK(td.layer().name() == "dense");  // Keras makes the wrapped Dense first
  CHECK(m.layers()[2]->name() == "dense_1");
  CHECK(td.output_shape() == Shape{3, 2});
  CHECK(td.config_str() == "Dense(" + td.layer().config_str() + ")");
  const WeightRef& k = m.weights()[0];
  CHECK(k.keras_name() == "time_distributed/kernel:0");  // tf-keras's name
  CHECK((k.spec.keras3_path == "dense" && k.spec.keras3_group == "layer"));
  CHECK(m.num_params() == 4 * 2 + 2 + 6 + 1);

  const int64_t n = 2;
  const std::vector<float> xv = test::random_vecf(n * 3 * 4, 8);
  m.prepare(n);
  Context ctx;
  Tensor x({n, 3, 4});
  std::copy(xv.begin(), xv.end(), x.data());
  m.forward(ctx, x, false);
  const Tensor y = m.output_of(0);
  const float *w = k.data, *b = m.weights()[1].data;
  for (int64_t r = 0; r < n * 3; ++r)  // each (sample, step) row through the one Dense
    for (int64_t j = 0; j < 2; ++j) {
      double want = b[j];
      for (int64_t f = 0; f < 4; ++f) want += double(xv[size_t(r * 4 + f)]) * double(w[f * 2 + j]);
      CHECK(y.data()[r * 2 + j] == Approx(want).epsilon(1e-5).margin(1e-6));
    }

  CHECK_THROWS_WITH(TimeDistributed(std::make_unique<Concatenate>()),
                    "TimeDistributed wraps a layer of one input; Concatenate merges several");
  TimeDistributed flat(std::make_unique<Dense>(2));
  CHECK_THROWS_WITH(
      flat.build({5}),
      "TimeDistributed expects inputs of shape (steps, ...) with at least one axis after the steps, got (5,)");
}

TEST_CASE("whole-model gradients through TimeDistributed Conv2D, pooling, Flatten and Dense",
          "[layers][grad][time_distributed]") {
  auto m = test::tdist_net(9, true);
  test::check_model_gradients(*m, {4, 6, 6, 2});
}

TEST_CASE(
    "TimeDistributed through Keras's files; what it cannot wrap is refused; 3 CPU replicas train as one "
    "(a Dropout over each step keyed by its row)",
    "[layers][time_distributed][io][parallel]") {
  auto m = test::tdist_net(1);
  const std::string dir = test::temp_dir("tdist");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i) {
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
      if (auto* td = dynamic_cast<const TimeDistributed*>(loaded->layers()[i].get()))
        CHECK(td->layer().name() == dynamic_cast<const TimeDistributed&>(*m->layers()[i]).layer().name());
    }
  std::filesystem::remove_all(dir);

  auto cfg = [](const std::string& layer) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3], "name": "input"}},
      {"class_name": "TimeDistributed", "config": {"name": "t", "layer": )" +
           layer + "}}]}}";
  };
  auto ok = model_from_keras_json(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 2}})"), 0, "m.json");
  CHECK(ok->output_shape() == Shape{5, 2});
  CHECK(dynamic_cast<const TimeDistributed&>(*ok->layers()[0]).layer().name() == "d");
  CHECK_THROWS_WITH(
      model_from_keras_json(cfg(R"({"class_name": "Bidirectional", "config": {"name": "b"}})"), 0, "m.json"),
      "m.json: layer 't' (TimeDistributed): wrapping a Bidirectional is not supported");
  CHECK_THROWS_WITH(
      model_from_keras_json(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 0}})"), 0, "m.json"),
      "m.json: layer 't' (TimeDistributed): Dense units must be >= 1, got 0");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"({"class_name": "Add", "config": {"name": "a"}})"), 0, "m.json"),
                    Contains("TimeDistributed wraps a layer of one input; Add merges several"));

  Dataset data = make_synthetic({4, 6, 6, 2}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::tdist_net(11); }, data, 3, 10);
  std::printf("equivalence tdist-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}
