// Our own Keras 3 fixtures (tests/fixtures/make_keras_fixtures.py; Keras 3.15.1, torch backend):
// every layer kind and activation; both the Keras 3 .weights.h5 and the legacy full-model .h5 load
// and reproduce Keras's predictions within 1e-5. Also Keras's by_name loading.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include "core/data/npy.h"
#include "core/io/hdf5_weights.h"
#include "core/io/inspect.h"
#include "core/layers/activation.h"
#include "core/layers/batch_norm.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/pooling.h"
#include "core/presets.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {

const std::string kDir = std::string(DPT_SOURCE_DIR) + "/tests/fixtures/keras_written/";

std::unique_ptr<Layer> conv(int64_t f, int64_t kh, int64_t kw, int64_t sh, int64_t sw, bool same, Activation a) {
  Conv2DConfig c;
  c.filters = f, c.kh = kh, c.kw = kw, c.sh = sh, c.sw = sw, c.same = same, c.activation = a;
  return std::make_unique<Conv2D>(c);
}
std::unique_ptr<Layer> pool(bool max, int64_t p, int64_t s, bool same) {
  return std::make_unique<Pool2D>(max, Pool2DConfig{p, p, s, s, same});
}

std::unique_ptr<Sequential> build(const std::string& name) {
  auto m = std::make_unique<Sequential>(name);
  if (name == "mlp") {
    m->add(std::make_unique<Dense>(8, Activation::relu));
    m->add(std::make_unique<Dense>(8, Activation::tanh));
    m->add(std::make_unique<Dropout>(0.2));
    m->add(std::make_unique<Dense>(5, Activation::sigmoid));
    m->add(std::make_unique<Dense>(4));
    m->add(std::make_unique<ActivationLayer>(Activation::softmax));
    m->build({6}, 1);
  } else if (name == "cnn") {
    m->add(conv(4, 3, 3, 1, 1, false, Activation::relu));
    m->add(std::make_unique<BatchNormalization>());
    m->add(pool(true, 2, 2, false));
    m->add(conv(5, 3, 3, 2, 2, true, Activation::tanh));
    m->add(pool(false, 2, 2, true));
    m->add(std::make_unique<Flatten>());
    m->add(std::make_unique<Dense>(3, Activation::softmax));
    m->build({10, 10, 3}, 1);
  } else {
    m->add(conv(6, 2, 3, 2, 1, true, Activation::relu));
    m->add(pool(true, 3, 2, true));
    m->add(pool(false, 2, 1, false));
    m->add(std::make_unique<GlobalAveragePooling2D>());
    m->add(std::make_unique<Dense>(1, Activation::sigmoid));
    m->build({9, 9, 2}, 1);
  }
  return m;
}


}  // namespace

TEST_CASE("Keras 3 and tf-keras 2 files reproduce Keras's predictions", "[io][keras]") {
  struct Case {
    std::string data, file;
    WeightsFormat format;
  };
  for (const std::string name : {"mlp", "cnn", "gap"}) {
    for (const Case& cs : {Case{name, name + ".weights.h5", WeightsFormat::keras3_weights},
                           Case{name, name + "_legacy.h5", WeightsFormat::legacy_model},
                           Case{name + "_tfk", name + "_tfk.h5", WeightsFormat::legacy_weights},
                           Case{name + "_tfk", name + "_tfk_model.h5", WeightsFormat::legacy_model}}) {
      const NpyArray x = read_npy(kDir + cs.data + "_x.npy"), want = read_npy(kDir + cs.data + "_y.npy");
      auto m = build(name);
      CHECK(weights_format(kDir + cs.file) == cs.format);
      load_weights(*m, kDir + cs.file);
      const auto got = test::infer(*m, x.values, x.shape[0]);
      REQUIRE(got.size() == want.values.size());
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want.values[i]));
      std::printf("keras fixture %s: max |dptrain - keras| = %.3g\n", cs.file.c_str(), worst);
      CHECK(worst <= 1e-5);
    }
  }
}

TEST_CASE("Keras 3 file into the wrong model is a clear error", "[io][keras]") {
  auto m = build("gap");
  CHECK_THROWS_WITH(load_weights(*m, kDir + "mlp.weights.h5"), Contains("it has no weights for layer 'conv2d'"));
  auto c = build("cnn");
  CHECK_THROWS_WITH(load_weights(*c, kDir + "gap.weights.h5"),
                    Contains("layers/conv2d/vars weight '0' has shape (2, 3, 2, 6) but layer 'conv2d' expects (3, 3, 3, 4)"));
  LoadOptions by_name;
  by_name.by_name = true;
  CHECK_THROWS_WITH(load_weights(*c, kDir + "cnn.weights.h5", by_name), Contains("applies to legacy .h5 files only"));
}

TEST_CASE("by_name loads the layers whose names match and leaves the others", "[io][by_name]") {
  const std::string dir = test::temp_dir("byname");
  const Preset& p = find_preset("digits-mlp");
  auto src = p.make();
  src->build(p.input, 1);
  save_weights(*src, dir + "/w.h5");
  auto dst = p.make();
  dst->build(p.input, 2);
  dst->layers()[1]->set_name("renamed");  // 'dense' no longer matches
  std::vector<float> before(dst->weights()[0].data, dst->weights()[0].data + 64 * 64);
  LoadOptions o;
  o.by_name = true;
  load_weights(*dst, dir + "/w.h5", o);
  CHECK(std::memcmp(dst->weights()[0].data, before.data(), sizeof(float) * before.size()) == 0);  // kept
  for (size_t w = 2; w < dst->weights().size(); ++w) {  // dense_1 and dense_2 loaded
    const auto& a = dst->weights()[w];
    CHECK(std::memcmp(a.data, src->weights()[w].data, sizeof(float) * size_t(shape_numel(a.spec.shape))) == 0);
  }
}

TEST_CASE("inspect reports format, versions, layers and parameter counts", "[io][inspect]") {
  const FileInfo k3 = inspect_file(kDir + "cnn.weights.h5");
  CHECK(k3.format == WeightsFormat::keras3_weights);
  CHECK(k3.params() == build("cnn")->num_params());
  CHECK(k3.optimizer_weights == 18);  // Adam: iterations, learning rate, and m, v for 8 trainable arrays
  const FileInfo legacy = inspect_file(kDir + "cnn_legacy.h5");
  CHECK(legacy.format == WeightsFormat::legacy_model);
  CHECK(legacy.keras_version == "3.15.1");
  CHECK(legacy.backend == "torch");
  CHECK(legacy.model_class == "Sequential");
  CHECK(legacy.training_config);
  REQUIRE(legacy.layers.size() == 7);
  CHECK(legacy.layers[1].name == "batch_normalization");
  CHECK(legacy.layers[1].weights[2].name == "cnn/batch_normalization/moving_mean");
  CHECK(legacy.layers[1].weights[2].dtype == "float32");
  CHECK(legacy.params() == k3.params());
  const std::string json = inspect_json(legacy, "cnn_legacy.h5");
  CHECK_THAT(json, Contains("\"format\": \"Keras legacy full model (model.save .h5)\""));
  CHECK_THAT(json, Contains("\"shape\": [\n            3,\n            3,\n            3,\n            4\n          ]"));
  CHECK_THROWS_WITH(inspect_file(kDir + "cnn_x.npy"), Contains("is not an HDF5 file"));
}

TEST_CASE("inspect reads training_config and the optimizer state of Keras 3 and tf-keras files", "[io][inspect]") {
  const FileInfo k3 = inspect_file(kDir + "cnn_legacy.h5");
  CHECK(k3.loss == "categorical_crossentropy");
  CHECK(k3.optimizer == "Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999)");
  CHECK(k3.ignored.empty());
  REQUIRE(k3.has_optimizer_state);
  CHECK(k3.optimizer_state.layout == "Keras 3");
  CHECK(k3.optimizer_state.name == "adam_1");  // Keras numbers the optimizers of a process: cnn has the second
  CHECK(k3.optimizer_state.iterations == 12);
  CHECK(k3.optimizer_state.learning_rate == Approx(0.01));
  CHECK(k3.optimizer_state.arrays == 16);  // m and v of 8 trainable arrays (BatchNormalization's moving ones are not)
  const std::string text = inspect_text(k3, "cnn_legacy.h5");
  CHECK_THAT(text, Contains("training_config: loss categorical_crossentropy | optimizer Adam(learning_rate=0.01, "
                            "beta_1=0.9, beta_2=0.999) | metrics none\n"));  // compiled without metrics
  CHECK(k3.metrics.empty());
  CHECK_THAT(text, Contains("optimizer state: 18 arrays (Keras 3 layout, adam_1): iteration 12, learning rate 0.01, "
                            "16 slot arrays\n"));
  const FileInfo tfk = inspect_file(kDir + "cnn_tfk_model.h5");
  REQUIRE(tfk.has_optimizer_state);
  CHECK(tfk.optimizer_state.layout == "tf.keras 2.11+");
  CHECK(tfk.optimizer_state.name.empty());
  CHECK(tfk.optimizer_state.iterations == 12);
  CHECK(tfk.optimizer_state.learning_rate < 0);  // tf.keras does not save it
  CHECK(tfk.optimizer_state.arrays == 16);
  const std::string json = inspect_json(tfk, "cnn_tfk_model.h5");
  CHECK_THAT(json, Contains("\"optimizer_state\": {\n    \"layout\": \"tf.keras 2.11+\",\n    \"name\": \"\",\n    "
                            "\"iterations\": 12,\n    \"slot_arrays\": 16\n  }"));
}
