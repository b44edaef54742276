// Models built from Keras configs: Keras 3 (our fixtures), Keras 2.1.3 (config list form), Keras
// 2.3.1 ({name, layers} form, model.to_json()), tf.keras 2.2.4; predictions match Keras's.
#include <catch2/catch.hpp>
#include "core/data/npy.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_config.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {
const std::string kDir = std::string(DPT_SOURCE_DIR) + "/tests/fixtures/keras_written/";


double worst(const std::vector<float>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::max(w, std::abs(a[i] - b[i]));
  return w;
}
}  // namespace

TEST_CASE("Keras 3 and tf-keras 2 full-model files build the model and reproduce Keras's predictions", "[io][config]") {
  for (const std::string name : {"mlp", "cnn", "gap"}) {
    auto m = load_keras_model(kDir + name + "_legacy.h5", 0);
    CHECK(m->name() == name);
    const NpyArray x = read_npy(kDir + name + "_x.npy"), y = read_npy(kDir + name + "_y.npy");
    CHECK(worst(test::infer(*m, x.values, x.shape[0]), y.values) <= 1e-5);
    // tf-keras 2.21's model.save: the Keras 2 config form.
    auto k2 = load_keras_model(kDir + name + "_tfk_model.h5", 0);
    const NpyArray x2 = read_npy(kDir + name + "_tfk_x.npy"), y2 = read_npy(kDir + name + "_tfk_y.npy");
    CHECK(worst(test::infer(*k2, x2.values, x2.shape[0]), y2.values) <= 1e-5);
  }
  auto m = load_keras_model(kDir + "cnn_legacy.h5", 0);
  CHECK(m->layers()[1]->name() == "batch_normalization");
  CHECK(m->layers().back()->name() == "dense_4");  // names come from the config
}

TEST_CASE("Keras 2 configs: list form, {name, layers} form, to_json files", "[io][config][keras]") {
  const std::string fx = test::keras_fixtures();
  if (fx.empty()) {
    WARN("SKIPPED: ../shared/fixtures/keras is absent, so the Keras 2 config tests did not run");
    return;
  }
  {  // Keras 2.1.3 model.save(): config is the list of layers
    auto m = load_keras_model(fx + "/dl4j_cnn_batch_norm/cnn_batch_norm.h5", 0);
    const NpyArray x = read_npy(fx + "/dl4j_cnn_batch_norm/input.npy"), y = read_npy(fx + "/dl4j_cnn_batch_norm/predictions.npy");
    CHECK(worst(test::infer(*m, x.values, x.shape[0]), y.values) <= 1e-5);
  }
  {  // Keras 2.3.1 to_json() + save_weights()
    const std::string d = fx + "/dl4j_simple_sparse_xent/simple_sparse_xent_mlp_keras_2_";
    auto m = load_keras_model(d + "config.json", 0);
    load_weights(*m, d + "weights.h5");
    auto full = load_keras_model(d + "model.h5", 0);
    CHECK(std::equal(m->params(), m->params() + m->num_params(), full->params()));
    CHECK(m->output_shape() == Shape{3});
  }
  {  // tf.keras 2.2.4-tf to_json() + save_weights()
    auto m = load_keras_model(fx + "/kotlindl_lenet/modelConfig.json", 0);
    load_weights(*m, fx + "/kotlindl_lenet/mnist_weights_only.h5");
    CHECK(m->input_shape() == Shape{28, 28, 1});
    CHECK(m->num_params() == 320 + 18496 + 3136 * 256 + 256 + 256 * 84 + 84 + 84 * 10 + 10);
    CHECK(m->weights()[0].data[0] == Catch::Detail::Approx(0.06445057).epsilon(1e-7));
  }
}

TEST_CASE("unsupported configs name the layer and the option", "[io][config]") {
  auto cfg = [](const std::string& layer) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "name": "input"}}, )" + layer + "]}}";
  };
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"({"class_name": "LSTM", "config": {"name": "lstm", "units": 4}})"), 0, "m.json"),
                    Contains("m.json: layer 'lstm' (LSTM) is not supported (supported: Dense, Conv2D"));
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2,
      "kernel_size": [3, 3], "dilation_rate": [2, 2]}})"), 0, "m.json"),
                    "m.json: layer 'c' (Conv2D): dilation_rate other than 1 is not supported");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2,
      "kernel_size": 3, "data_format": "channels_first"}})"), 0, "m.json"),
                    "m.json: layer 'c' (Conv2D): data_format='channels_first' (dptrain is channels_last) is not supported");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 2,
      "activation": "gelu"}})"), 0, "m.json"),
                    Contains("layer 'd' (Dense): activation 'gelu' (supported: linear, relu, sigmoid, tanh, softmax)"));
  CHECK_THROWS_WITH(model_from_keras_json(R"({"class_name": "Functional", "config": {}})", 0, "f.json"),
                    "f.json: only Sequential models are supported, this is a 'Functional'");
  CHECK_THROWS_WITH(model_from_keras_json("[1, 2", 0, "bad.json"), "bad.json is not a Keras model config (not a JSON object)");
  CHECK_THROWS_WITH(load_keras_model(kDir + "cnn.weights.h5", 0), Contains("has no model_config: it holds weights only"));
}
