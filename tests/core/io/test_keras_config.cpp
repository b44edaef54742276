// Models built from Keras configs: Keras 3 (our fixtures), Keras 2.1.3 (config list form), Keras
// 2.3.1 ({name, layers} form, model.to_json()), tf.keras 2.2.4; predictions match Keras's.
#include <catch2/catch.hpp>
#include <map>
#include "core/data/npy.h"
#include "core/error.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_config.h"
#include "core/io/keras_model.h"
#include "core/layers/recurrent.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {
const std::string kDir = std::string(DPT_SOURCE_DIR) + "/tests/fixtures/keras_written/";

double worst(const std::vector<float>& a, const std::vector<double>& b) { return test::max_abs_diff(a, b); }

// The message model_from_keras_json throws for `text` ("(no error)" when it builds).
std::string config_error(const std::string& text, const std::string& source) {
  try {
    model_from_keras_json(text, 0, source);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("Keras 3 and tf-keras 2 full-model files build the model and reproduce Keras's predictions", "[io][config]") {
  for (const std::string name :
       {"mlp", "cnn", "gap",  "acts",  "rsh",   "acts2", "prep",  "lnorm", "dil",  "tconv",   "seq",    "embed",
        "rnn", "gru", "srnn", "bidir", "tdist", "rdrop", "racts", "gruv1", "mask", "masking", "seqout", "maskout"}) {
    INFO(name);
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

// Keras 3 writes no implementation (recurrent_dropout implies 1); tf-keras writes LSTM's 1 and GRU's 2.
TEST_CASE("Keras's recurrent dropout settings are read from both Kerases' files", "[io][config][dropout]") {
  for (const std::string file : {"rdrop_legacy.h5", "rdrop_tfk_model.h5"}) {
    INFO(file);
    auto m = load_keras_model(kDir + file, 0);
    const auto& lstm = dynamic_cast<const Recurrent&>(*m->layers()[0]);
    const auto& gru = dynamic_cast<const Recurrent&>(*m->layers()[1]);
    CHECK(lstm.config_str() == "units=4, return_sequences=True, dropout=0.2, recurrent_dropout=0.3");
    CHECK((lstm.input_masks() == 4 && lstm.recurrent_masks() == 4));
    CHECK(gru.config_str() == "units=3, return_sequences=True, go_backwards=True, dropout=0.25");
    CHECK((gru.input_masks() == 1 && gru.recurrent_masks() == 0));
    CHECK(m->layers()[2]->config_str().find("dropout=0.1, recurrent_dropout=0.2") != std::string::npos);
  }
}

TEST_CASE("Functional models that are one chain build as Sequential models and reproduce Keras's predictions",
          "[io][config][functional]") {
  // Keras 3 (model.save .h5) and tf-keras 2.21 (the Keras 2 inbound_nodes form).
  for (const std::string name : {"fchain", "fchain_tfk"}) {
    const bool k3 = name == "fchain";
    auto m = load_keras_model(kDir + name + (k3 ? "_legacy.h5" : "_model.h5"), 0);
    CHECK(m->name() == "fchain");
    std::vector<std::string> names;
    for (auto& l : m->layers()) names.push_back(l->name());
    CHECK(names == std::vector<std::string>{"features", "pool", "flat", "drop", "scores"});
    CHECK(m->input_shape() == Shape{8, 8, 1});
    const NpyArray x = read_npy(kDir + name + "_x.npy"), y = read_npy(kDir + name + "_y.npy");
    CHECK(worst(test::infer(*m, x.values, x.shape[0]), y.values) <= 1e-5);
    // The weights-only files load into it: Keras 3's by class keys, tf-keras's by layer order.
    auto w = load_keras_model(kDir + name + (k3 ? "_legacy.h5" : "_model.h5"), 7);
    load_weights(*w, kDir + name + (k3 ? ".weights.h5" : ".h5"));
    CHECK(std::equal(w->params(), w->params() + w->num_params(), m->params()));
  }
}

TEST_CASE("Functional graphs build with their branches; what dptrain cannot build is refused, saying why",
          "[io][config][functional]") {
  // Keras 3's form: each call an {"args": [...], "kwargs": {...}} node of __keras_tensor__s.
  auto t3 = [](const std::string& from) {
    return R"({"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "keras_history": [")" + from +
           R"(", 0, 0]}})";
  };
  auto l3 = [&](const std::string& cls, const std::string& name, const std::vector<std::string>& from,
                const std::string& extra = R"(, "units": 2)") {
    std::string nodes = "[]";
    if (!from.empty()) {
      std::string args;
      for (auto& f : from) args += (args.empty() ? "" : ", ") + t3(f);
      nodes = R"([{"args": [)" + (from.size() > 1 ? "[" + args + "]" : args) + R"(], "kwargs": {}}])";
    }
    return R"({"class_name": ")" + cls + R"(", "name": ")" + name + R"(", "config": {"name": ")" + name + "\"" +
           (cls == "InputLayer" ? R"(, "batch_shape": [null, 4])" : extra) + R"(}, "inbound_nodes": )" + nodes + "}";
  };
  auto model = [](const std::string& layers, const std::string& ins = R"(["in", 0, 0])",
                  const std::string& outs = R"(["out", 0, 0])") {
    return R"({"class_name": "Functional", "config": {"name": "f", "layers": [)" + layers + R"(], "input_layers": )" +
           ins + R"(, "output_layers": )" + outs + "}}";
  };
  auto err = [](const std::string& text) { return config_error(text, "f.json"); };
  const std::string in = l3("InputLayer", "in", {});
  const std::string tail =
      "; dptrain builds Functional models whose layers are each called once, from their inputs "
      "to one output";
  const std::string why = "f.json: the Functional model 'f' ";
  // A chain, listed out of order, builds in chain order.
  {
    auto m = model_from_keras_json(model(l3("Dense", "out", {"mid"}) + ", " + in + ", " + l3("Dense", "mid", {"in"})),
                                   0, "f.json");
    REQUIRE(m->layers().size() == 2);
    CHECK(m->layers()[0]->name() == "mid");
    CHECK(m->layers()[1]->name() == "out");
    CHECK(m->is_chain());
  }
  // Branches: a residual Add of the input and a Dense, then a Dense reading both the Add and the
  // first Dense through a Concatenate.
  {
    const std::string four = R"(, "units": 4)";
    auto m = model_from_keras_json(
        model(in + ", " + l3("Dense", "a", {"in"}, four) + ", " + l3("Add", "sum", {"in", "a"}, "") + ", " +
              l3("Concatenate", "cat", {"sum", "a"}, "") + ", " + l3("Dense", "out", {"cat"})),
        0, "f.json");
    REQUIRE(m->layers().size() == 4);
    CHECK_FALSE(m->is_chain());
    CHECK(m->inputs() == std::vector<std::vector<int>>{{-1}, {-1, 0}, {1, 0}, {2}});
    CHECK(m->layers()[2]->output_shape() == Shape{8});
  }
  CHECK(err(model(in + ", " + l3("Dense", "a", {"in"}) + ", " + l3("Add", "out", {"in", "a"}, ""))) ==
        "layer 'out' (Add) cannot broadcast its inputs' shapes (4,) and (2,) (each axis must match or be 1, as in "
        "numpy)");
  CHECK(err(model(in + ", " + l3("Dense", "a", {"in"}) + ", " + l3("Dense", "out", {"in", "a"}))) ==
        "f.json: layer 'out' (Dense): is called on 2 tensors; of dptrain's layers only the merge layers (Add, "
        "Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot), MultiHeadAttention, GroupQueryAttention, "
        "Attention and AdditiveAttention take several");
  // One output feeding two layers, one of them off the way to the output.
  CHECK(err(model(in + ", " + l3("Dense", "a", {"in"}) + ", " + l3("Dense", "b", {"a"}) + ", " +
                  l3("Dense", "out", {"a"}))) == why + "has layer 'b' off the way to its output 'out'" + tail);
  // A layer called twice (a shared layer).
  {
    std::string shared = l3("Dense", "out", {"in"});
    const std::string node = R"({"args": [)" + t3("in") + R"(], "kwargs": {}})";
    shared.replace(shared.find("[{"), shared.size() - shared.find("[{") - 1, "[" + node + ", " + node + "]");
    CHECK(err(model(in + ", " + shared)) == why + "calls layer 'out' (Dense) 2 times (a shared layer)" + tail);
  }
  // A layer after the output, a loop, two outputs.
  CHECK(err(model(in + ", " + l3("Dense", "out", {"in"}) + ", " + l3("Dense", "x", {"out"}))) ==
        why + "has layer 'x' off the way to its output 'out'" + tail);
  CHECK(err(model(in + ", " + l3("Dense", "a", {"in"}) + ", " + l3("Dense", "out", {"b"}) + ", " +
                  l3("Dense", "b", {"out"}))) == why + "has layers that form a loop through 'out'" + tail);
  CHECK(err(model(in + ", " + l3("Dense", "out", {"in"}) + ", " + l3("Dense", "o2", {"in"}), R"(["in", 0, 0])",
                  R"([["out", 0, 0], ["o2", 0, 0]])")) ==
        "f.json: the Functional model 'f' has 2 outputs; dptrain trains models with one output");
  // Several inputs: each InputLayer is the model's input in input_layers' order (-1, -2, ...).
  {
    const std::string ab = l3("InputLayer", "b", {}) + ", " + l3("InputLayer", "a", {}) + ", " +
                           l3("Dense", "da", {"a"}) + ", " + l3("Dense", "db", {"b"}) + ", " +
                           l3("Dot", "out", {"da", "db"}, R"(, "axes": 1)");
    auto m = model_from_keras_json(model(ab, R"([["a", 0, 0], ["b", 0, 0]])"), 0, "f.json");
    REQUIRE(m->num_inputs() == 2);
    CHECK(m->input_names() == std::vector<std::string>{"a", "b"});
    CHECK(m->input_shapes() == std::vector<Shape>{{4}, {4}});
    CHECK(m->input_shape() == Shape{8});
    CHECK(m->layers()[0]->name() == "da");
    CHECK(m->inputs() == std::vector<std::vector<int>>{{-1}, {-2}, {0, 1}});
    CHECK(m->output_shape() == Shape{1});
    CHECK(err(model(ab, R"([["a", 0, 0]])")) == why + "has an InputLayer 'b' that is not among its inputs" + tail);
    const std::string unread =
        l3("InputLayer", "b", {}) + ", " + l3("InputLayer", "a", {}) + ", " + l3("Dense", "out", {"a"});
    CHECK(err(model(unread, R"([["a", 0, 0], ["b", 0, 0]])")) ==
          why + "has the input 'b', which no layer on the way to its output 'out' reads" + tail);
    CHECK(err(model(ab, R"([["a", 0, 0], ["b", 0, 0], ["a", 0, 0]])")) == why + "lists the input 'a' twice" + tail);
  }
  // input_layers naming a layer that is not an InputLayer (never so in Keras's own files).
  CHECK(err(model(l3("Dense", "a", {"b"}) + ", " + l3("Dense", "b", {"a"}) + ", " + l3("Dense", "out", {"x"}) + ", " +
                      l3("Dense", "x", {"out"}),
                  R"(["a", 0, 0])")) == why + "has the input 'a' (Dense), not an InputLayer" + tail);
  CHECK(err(model(in + ", " + l3("Dense", "out", {"nowhere"}))) ==
        "f.json: layer 'out' reads from 'nowhere', which is not among the layers");
  CHECK(err(model(in + ", " + l3("Dense", "out", {"in"}), R"(["nothing", 0, 0])")) ==
        "f.json: the input layer 'nothing' is not among the layers");
  CHECK(err(model(in + ", " + l3("Dense", "out", {"in"}) + ", " + l3("Dense", "out", {"in"}))) ==
        "f.json: two layers are named 'out'");
  CHECK(err(R"({"class_name": "Functional", "config": {"name": "f", "layers": []}})") ==
        "f.json: the Functional model 'f' has no 'input_layers' list");
  // Keras 2's form: nodes are lists of [layer, node, tensor, kwargs].
  const std::string k2 = R"({"class_name": "Model", "config": {"name": "m", "layers": [
      {"name": "in", "class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
      {"name": "d", "class_name": "Dense", "config": {"name": "d", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]]]},
      {"name": "c", "class_name": "Concatenate", "config": {"name": "c", "axis": -1}, "inbound_nodes": [[["in", 0, 0, {}], ["d", 0, 0, {}]]]}],
      "input_layers": [["in", 0, 0]], "output_layers": [["c", 0, 0]]}})";
  auto m2 = model_from_keras_json(k2, 0, "f.json");
  CHECK(m2->inputs() == std::vector<std::vector<int>>{{-1}, {-1, 0}});
  CHECK(m2->output_shape() == Shape{5});
  std::string k2_axis = k2;
  k2_axis.replace(k2_axis.find(R"("axis": -1)"), std::string(R"("axis": -1)").size(), R"("axis": 0)");
  CHECK(err(k2_axis) ==
        "layer 'c' (Concatenate) joins along a sample's axis (1 to 1, or -1 to -1; 0 is the batch), got axis=0");
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

TEST_CASE("PReLU, RepeatVector, Permute, Identity and ActivityRegularization from a Keras config", "[io][config]") {
  auto cfg = [](const std::string& layers) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 6], "name": "input"}}, )" +
           layers + "]}}";
  };
  auto m = model_from_keras_json(
      cfg(R"({"class_name": "PReLU", "config": {"name": "p", "alpha_initializer": {"class_name": "Constant",
          "config": {"value": 0.25}}, "alpha_regularizer": null, "alpha_constraint": null, "shared_axes": null}},
        {"class_name": "RepeatVector", "config": {"name": "r", "n": 3}},
        {"class_name": "Permute", "config": {"name": "t", "dims": [2, 1]}},
        {"class_name": "PReLU", "config": {"name": "q", "shared_axes": [1]}},
        {"class_name": "Identity", "config": {"name": "i"}},
        {"class_name": "ActivityRegularization", "config": {"name": "a", "l1": 0.01, "l2": 0.5}},
        {"class_name": "UnitNormalization", "config": {"name": "u", "axis": [1, 2]}},
        {"class_name": "AlphaDropout", "config": {"name": "ad", "rate": 0.1, "seed": null, "noise_shape": null}})"),
      0, "m.json");
  std::vector<std::string> got;
  for (auto& l : m->layers())
    got.push_back(l->class_name() + " " + shape_str(l->output_shape()) + " " + l->config_str());
  CHECK(got == std::vector<std::string>{"PReLU (6,) ", "RepeatVector (3, 6) n=3", "Permute (6, 3) dims=(2, 1)",
                                        "PReLU (6, 3) shared_axes=[1]", "Identity (6, 3) ",
                                        "ActivityRegularization (6, 3) l1=0.01, l2=0.5",
                                        "UnitNormalization (6, 3) axis=[1, 2]", "AlphaDropout (6, 3) rate=0.100000"});
  CHECK(m->weights()[0].data[0] == 0.25f);  // alpha_initializer
  CHECK(m->weights()[1].spec.shape == Shape{1, 3});
  REQUIRE(m->layers()[5]->activity_regularizer());
  CHECK(*m->layers()[5]->activity_regularizer() == (Regularizer{"L1L2", 0.01, 0.5}));
  CHECK_THROWS_WITH(
      model_from_keras_json(cfg(R"({"class_name": "RepeatVector", "config": {"name": "r", "n": 0}})"), 0, "m.json"),
      "m.json: layer 'r' (RepeatVector): 'n' must be >= 1, got 0");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"({"class_name": "RepeatVector", "config": {"name": "r", "n": 2}},
        {"class_name": "Permute", "config": {"name": "t", "dims": [1, 1]}})"),
                                          0, "m.json"),
                    "m.json: layer 't' (Permute): 'dims' must be a permutation of 1..2, got [1,1]");
  CHECK_THROWS_WITH(model_from_keras_json(
                        cfg(R"({"class_name": "PReLU", "config": {"name": "p", "shared_axes": [0]}})"), 0, "m.json"),
                    "m.json: layer 'p' (PReLU): 'shared_axes' [0] names axis 0 (a sample's axes are counted from 1)");
  CHECK_THROWS_WITH(model_from_keras_json(
                        cfg(R"({"class_name": "UnitNormalization", "config": {"name": "u", "axis": 0}})"), 0, "m.json"),
                    "m.json: layer 'u' (UnitNormalization): 'axis' 0 names the batch axis 0");
  CHECK_THROWS_WITH(
      model_from_keras_json(cfg(R"({"class_name": "AlphaDropout", "config": {"name": "ad", "rate": 1}})"), 0, "m.json"),
      "m.json: layer 'ad' (AlphaDropout): 'rate' must be in [0, 1), got 1");
  CHECK_THROWS_WITH(
      model_from_keras_json(cfg(R"({"class_name": "ActivityRegularization", "config": {"name": "a", "l1": -0.1}})"), 0,
                            "m.json"),
      "m.json: layer 'a' (ActivityRegularization): l1 and l2 must be >= 0, got l1=-0.1, l2=0");
}

TEST_CASE("unsupported configs name the layer and the option", "[io][config]") {
  auto cfg = [](const std::string& layer) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "name": "input"}}, )" + layer + "]}}";
  };
  CHECK_THROWS_WITH(
      model_from_keras_json(cfg(R"({"class_name": "ConvLSTM2D", "config": {"name": "c", "filters": 4}})"), 0, "m.json"),
      Contains("m.json: layer 'c' (ConvLSTM2D) is not supported (supported: Dense, EinsumDense, Embedding, "
               "CategoryEncoding, Masking, "
               "LSTM, GRU, "
               "SimpleRNN, "
               "Bidirectional, TimeDistributed, "
               "Conv1D, Conv2D, "
               "Conv2DTranspose, Conv1DTranspose, DepthwiseConv2D"));
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2,
      "kernel_size": [3, 3], "strides": 2, "dilation_rate": [2, 2]}})"),
                                          0, "m.json"),
                    "m.json: layer 'c' (Conv2D): Conv2D: strides > 1 are not supported with dilation_rate > 1 (as in "
                    "Keras), got strides=(2, 2) and dilation_rate=(2, 2)");
  CHECK_THROWS_WITH(model_from_keras_json(cfg(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2,
      "kernel_size": 3, "data_format": "channels_first"}})"), 0, "m.json"),
                    "m.json: layer 'c' (Conv2D): data_format='channels_first' (dptrain is channels_last) is not supported");
  CHECK_THROWS_WITH(
      model_from_keras_json(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 2,
      "activation": "hard_sigmoid"}})"),
                            0, "m.json"),
      Contains("layer 'd' (Dense): activation 'hard_sigmoid' (supported: linear, relu, sigmoid, tanh, softmax, elu, "
               "selu, softplus, softsign, relu6, exponential, leaky_relu, gelu, silu (swish), mish, hard_silu "
               "(hard_swish))"));
  CHECK_THROWS_WITH(model_from_keras_json(R"({"class_name": "Functional", "config": {}})", 0, "f.json"),
                    "f.json: the model's config has no list of 'layers'");
  CHECK_THROWS_WITH(model_from_keras_json(R"({"class_name": "Subclassed", "config": {}})", 0, "f.json"),
                    "f.json: only Sequential and Functional models are supported, this is a 'Subclassed'");
  CHECK_THROWS_WITH(model_from_keras_json("[1, 2", 0, "bad.json"), "bad.json is not a Keras model config (not valid JSON)");
  CHECK_THROWS_WITH(model_from_keras_json("[1, 2]", 0, "bad.json"), "bad.json is not a Keras model config (not a JSON object)");
  CHECK_THROWS_WITH(load_keras_model(kDir + "cnn.weights.h5", 0), Contains("has no model_config: it holds weights only"));
}

// Found by scripts/fuzz.sh: wrong JSON types and impossible sizes used to escape as the JSON
// library's own exceptions (or a failed allocation); each is now dptrain's error, naming the place.
TEST_CASE("malformed configs are errors naming the layer, the key and what was expected", "[io][config]") {
  auto cfg = [](const std::string& layer, const std::string& input = "[null, 8, 8, 3]") {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": )" + input + R"(, "name": "input"}}, )" + layer + "]}}";
  };
  auto err = [](const std::string& text) { return config_error(text, "m.json"); };
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": "ten"}})")) ==
        "m.json: layer 'd' (Dense): 'units' must be a whole number, got the string \"ten\"");
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 4.5}})")) ==
        "m.json: layer 'd' (Dense): 'units' must be a whole number, got the number 4.5");
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 0}})")) ==
        "m.json: layer 'd' (Dense): Dense units must be >= 1, got 0");
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 18446744073709551615}})")) ==
        "m.json: layer 'd' (Dense): 'units' 18446744073709551615 is too large");
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 2, "use_bias": 1}})")) ==
        "m.json: layer 'd' (Dense): 'use_bias' must be True or False, got the integer 1");
  CHECK(err(cfg(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": [3, "3"]}})")) ==
        "m.json: layer 'c' (Conv2D): 'kernel_size'[1] must be a whole number, got the string \"3\"");
  CHECK(err(cfg(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "padding": 1}})")) ==
        "m.json: layer 'c' (Conv2D): 'padding' must be a string, got the integer 1");
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": 3}})")) ==
        "m.json: layer 'd' (Dense): activation=3 is not supported");
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 2}})", "[null, -8, 3]")) ==
        "m.json: layer 'input' (InputLayer): 'batch_shape' [null,-8,3] has a dimension below 1 (-8)");
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 2}})", "[null, null, 3]")) ==
        "m.json: layer 'input' (InputLayer): 'batch_shape'[1] must be a whole number, got None");
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 2}})", "8")) ==
        "m.json: layer 'input' (InputLayer): 'batch_shape' must be a list [None, d1, ...] (batch, then the sample's "
        "dimensions), got 8");
  CHECK(err(cfg(R"([1, 2])")) == "m.json: layer 1 is not a {class_name, config} dict");
  // Keras's activation layer classes, where their settings are one of dptrain's activations.
  {
    const std::string layers[] = {
        R"({"class_name": "ReLU", "config": {"name": "a", "max_value": null, "negative_slope": 0.0, "threshold": 0.0}})",
        R"({"class_name": "ReLU", "config": {"name": "a", "max_value": 6.0}})",
        R"({"class_name": "LeakyReLU", "config": {"name": "a", "negative_slope": 0.2}})",
        R"({"class_name": "LeakyReLU", "config": {"name": "a", "alpha": 0.2}})",
        R"({"class_name": "ELU", "config": {"name": "a", "alpha": 1.0}})",
        R"({"class_name": "Softmax", "config": {"name": "a", "axis": -1}})",
        // settings of their own: Keras's layers of that class
        R"({"class_name": "LeakyReLU", "config": {"name": "a"}})",
        R"({"class_name": "LeakyReLU", "config": {"name": "a", "alpha": 0.1}})",
        R"({"class_name": "ReLU", "config": {"name": "a", "negative_slope": 0.05}})",
        R"({"class_name": "ReLU", "config": {"name": "a", "max_value": 1.5}})",
        R"({"class_name": "ELU", "config": {"name": "a", "alpha": 0.5}})"};
    const Activation want[] = {Activation::relu,
                               Activation::relu6,
                               Activation::leaky_relu,
                               Activation::leaky_relu,
                               Activation::elu,
                               Activation::softmax,
                               Activation(Activation::leaky_relu, 0.3f),
                               Activation(Activation::leaky_relu, 0.1f),
                               Activation(Activation::leaky_relu, 0.05f),
                               Activation(Activation::relu6, 1.5f),
                               Activation(Activation::elu, 0.5f)};
    const std::string cls[] = {"Activation", "Activation", "Activation", "Activation", "Activation", "Activation",
                               "LeakyReLU",  "LeakyReLU",  "LeakyReLU",  "ReLU",       "ELU"};
    for (size_t i = 0; i < 11; ++i) {
      INFO(layers[i]);
      auto m = model_from_keras_json(cfg(layers[i]), 0, "m.json");
      CHECK(m->layers().back()->class_name() == cls[i]);
      CHECK(m->layers().back()->name() == "a");
      CHECK(m->layers().back()->output_activation() == want[i]);
    }
  }
  CHECK(err(cfg(R"({"class_name": "LeakyReLU", "config": {"name": "a", "negative_slope": -0.5}})")) ==
        "m.json: layer 'a' (LeakyReLU): 'negative_slope' must be >= 0, got -0.5");
  CHECK(err(cfg(R"({"class_name": "ReLU", "config": {"name": "a", "threshold": 1.0}})")) ==
        "m.json: layer 'a' (ReLU): threshold other than 0 is not supported");
  CHECK(err(cfg(R"({"class_name": "ReLU", "config": {"name": "a", "max_value": 2.0, "negative_slope": 0.1}})")) ==
        "m.json: layer 'a' (ReLU): max_value with a negative_slope is not supported");
  CHECK(err(cfg(R"({"class_name": "ReLU", "config": {"name": "a", "max_value": 0.0}})")) ==
        "m.json: layer 'a' (ReLU): 'negative_slope' must be >= 0 and 'max_value' > 0 (or None)");
  CHECK(err(cfg(R"({"class_name": "ELU", "config": {"name": "a", "alpha": -1.0}})")) ==
        "m.json: layer 'a' (ELU): alpha < 0 is not supported");
  // Activations whose gradient needs their input, under Keras's names for them
  for (const char* name : {"gelu", "silu", "swish", "mish", "hard_silu", "hard_swish"}) {
    INFO(name);
    const std::string dense =
        std::string(R"({"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": ")") + name + R"("}})";
    auto m = model_from_keras_json(cfg(dense), 0, "m.json");
    CHECK(m->layers().back()->output_activation().needs_input());
  }
  CHECK(err(cfg(R"({"class_name": "Softmax", "config": {"name": "a", "axis": 1}})")) ==
        "m.json: layer 'a' (Softmax): axis=1 (the last axis only) is not supported");
  // ZeroPadding2D and Cropping2D: Keras's three forms of the sizes; DepthwiseConv2D.
  {
    auto shape_of = [&](const std::string& layer) {
      return shape_str(model_from_keras_json(cfg(layer), 0, "m.json")->layers().back()->output_shape());
    };
    CHECK(shape_of(R"({"class_name": "ZeroPadding2D", "config": {"name": "p"}})") == "(10, 10, 3)");  // padding 1
    CHECK(shape_of(R"({"class_name": "ZeroPadding2D", "config": {"name": "p", "padding": 2}})") == "(12, 12, 3)");
    CHECK(shape_of(R"({"class_name": "ZeroPadding2D", "config": {"name": "p", "padding": [1, 3]}})") == "(10, 14, 3)");
    CHECK(shape_of(R"({"class_name": "ZeroPadding2D", "config": {"name": "p", "padding": [[0, 1], [0, 1]]}})") ==
          "(9, 9, 3)");
    CHECK(shape_of(R"({"class_name": "Cropping2D", "config": {"name": "p", "cropping": [[2, 1], [0, 3]]}})") ==
          "(5, 5, 3)");
    CHECK(shape_of(R"({"class_name": "DepthwiseConv2D", "config": {"name": "d", "kernel_size": [3, 3],
        "strides": [2, 2], "padding": "valid", "depth_multiplier": 2, "use_bias": false}})") == "(3, 3, 6)");
    CHECK(shape_of(R"({"class_name": "GlobalAveragePooling2D", "config": {"name": "g", "keepdims": true}})") ==
          "(1, 1, 3)");
    CHECK(shape_of(R"({"class_name": "GlobalMaxPooling2D", "config": {"name": "g"}})") == "(3,)");
    CHECK(shape_of(R"({"class_name": "SeparableConv2D", "config": {"name": "s", "filters": 5, "kernel_size": 3,
        "padding": "same", "strides": 2, "depth_multiplier": 2}})") == "(4, 4, 5)");
    CHECK(shape_of(R"({"class_name": "UpSampling2D", "config": {"name": "u", "size": [2, 3]}})") == "(16, 24, 3)");
    CHECK(shape_of(R"({"class_name": "UpSampling2D", "config": {"name": "u"}})") == "(16, 16, 3)");
  }
  CHECK(err(cfg(R"({"class_name": "ZeroPadding2D", "config": {"name": "p", "padding": [1, 2, 3]}})")) ==
        "m.json: layer 'p' (ZeroPadding2D): 'padding' must be an int, (rows, cols) or ((top, bottom), (left, "
        "right)), got [1,2,3]");
  CHECK(err(cfg(R"({"class_name": "UpSampling2D", "config": {"name": "u", "interpolation": "bicubic"}})")) ==
        "m.json: layer 'u' (UpSampling2D): interpolation='bicubic' (nearest or bilinear) is not supported");
  CHECK(err(cfg(R"({"class_name": "ZeroPadding2D", "config": {"name": "p", "padding": -1}})")) ==
        "m.json: layer 'p' (ZeroPadding2D): 'padding' must not be negative, got -1");
  CHECK(err(cfg(R"({"class_name": "Cropping2D", "config": {"name": "p", "cropping": [4, 4]}})")) ==
        "layer 'p' (Cropping2D) would produce an empty output (0, 0, 3) from input (8, 8, 3): the input is too "
        "small for its kernel, pool or cropping size");
  CHECK(err(cfg(R"({"class_name": "Conv2DTranspose", "config": {"name": "t", "filters": 2, "kernel_size": 3,
      "strides": 2, "output_padding": [1, 1]}})")) ==
        "m.json: layer 't' (Conv2DTranspose): output_padding=[1,1] (None only) is not supported");
  CHECK(err(cfg(R"({"class_name": "DepthwiseConv2D", "config": {"name": "d", "kernel_size": 3,
      "dilation_rate": [1, 0]}})")) ==
        "m.json: layer 'd' (DepthwiseConv2D): DepthwiseConv2D dilation_rate must be >= 1, "
        "got (1, 0)");
  // Reshape: the target must hold the input's values, with at most one inferred dimension.
  CHECK(err(cfg(R"({"class_name": "Reshape", "config": {"name": "r", "target_shape": [8, 25]}})")) ==
        "layer 'r' (Reshape) cannot give input (8, 8, 3) (192 values) the shape (8, 25)");
  CHECK(err(cfg(R"({"class_name": "Reshape", "config": {"name": "r", "target_shape": [-1, 5]}})")) ==
        "layer 'r' (Reshape) cannot give input (8, 8, 3) (192 values) the shape (-1, 5)");
  CHECK(err(cfg(R"({"class_name": "Reshape", "config": {"name": "r", "target_shape": [-1, -1]}})")) ==
        "m.json: layer 'r' (Reshape): Reshape target_shape (-1, -1) has more than one -1");
  CHECK(err(cfg(R"({"class_name": "Reshape", "config": {"name": "r", "target_shape": [0, 3]}})")) ==
        "m.json: layer 'r' (Reshape): Reshape target_shape (0, 3) has a dimension 0 (each must be >= 1, or one of "
        "them -1)");
  CHECK(err(cfg(R"({"class_name": "Reshape", "config": {"name": "r"}})")) ==
        "m.json: layer 'r' (Reshape): 'target_shape' must be a list of dimensions");
  CHECK(err(cfg(R"({"class_name": "Reshape", "config": {"name": "r", "target_shape": [-1, 3]}})")) == "(no error)");
  CHECK(err(R"({"class_name": "Sequential"})") == "m.json: the model has no 'config' dict (or list of layers)");
  CHECK(err(R"({"class_name": "Sequential", "config": {"layers": 3}})") ==
        "m.json: the model's config has no list of 'layers'");
  CHECK(err(R"({"class_name": 7, "config": []})") == "m.json: the model's 'class_name' must be a string, got the integer 7");
  set_host_memory_limit(int64_t(1) << 30);
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 100000000}})")) ==
        "model 's' (400000000 weights and their gradients) needs 3.0 GiB of memory, more than this machine's 1.0 GiB");
  set_host_memory_limit(0);
  CHECK(err(cfg(R"({"class_name": "Dense", "config": {"name": "d", "units": 4611686018427387904}})")) ==
        "layer 'd' (Dense): output: shape (8, 8, 4611686018427387904) has more elements than fit in 64 bits");
}

// What keras.models.load_model compiles a model.save() file with: training_config's loss and
// optimizer, as Keras 2.1 ("lr"), tf.keras 2.11+ ("Custom>Adam") and Keras 3 (loss objects) write it.
TEST_CASE("training_config's metrics: the ones Keras would log, under their names; others are named", "[io][config]") {
  const auto metric = [](const std::string& metrics) {
    return compile_config_from_json(R"({"loss": "categorical_crossentropy", "metrics": )" + metrics + "}", "t");
  };
  const auto names = [](const KerasCompileConfig& c) {
    std::vector<std::string> n;
    for (const auto& m : c.metrics) n.push_back(m.name + ":" + m.kind);
    return n;
  };
  // Keras 3 writes compile()'s argument: strings and serialized metric objects (logged under their
  // own name). Its load_model of a .h5 file deserializes the strings other than accuracy's, so they
  // log under the function's name ('mae' as mean_absolute_error); a .keras archive's log as given.
  const auto k3 = metric(R"(["acc", "mae", {"class_name": "CategoricalAccuracy", "config": {"name": "ca"}}, "mean_iou",
                             {"class_name": "MeanSquaredError", "config": {"name": "mse"}}, "accuracy", "acc"])");
  CHECK(names(k3) == std::vector<std::string>{"acc:accuracy", "mean_absolute_error:mean_absolute_error",
                                              "ca:categorical_accuracy", "mse:mean_squared_error",
                                              "accuracy:accuracy"});
  CHECK(k3.ignored == std::vector<std::string>{"the metric 'mean_iou'", "the metric 'acc' (a second 'acc')"});
  const auto archive = compile_config_from_json(R"({"metrics": ["acc", "mae", "mse", "binary_accuracy"]})", "t", false);
  CHECK(names(archive) == std::vector<std::string>{"acc:accuracy", "mae:mean_absolute_error", "mse:mean_squared_error",
                                                   "binary_accuracy:binary_accuracy"});
  // tf.keras 2 writes the compiled MeanMetricWrapper per output, with the function 'accuracy' chose
  // (which Keras 3's loader also applies).
  const auto tfk = metric(R"([[{"class_name": "MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32",
                             "fn": "sparse_categorical_accuracy"}}, {"class_name": "MeanMetricWrapper",
                             "config": {"name": "mae", "fn": "mean_absolute_error"}}]])");
  CHECK(names(tfk) == std::vector<std::string>{"accuracy:sparse_categorical_accuracy", "mae:mean_absolute_error"});
  CHECK(tfk.ignored.empty());
  // A dict per output name; Keras 2's list of strings; none.
  CHECK(names(metric(R"({"dense": "categorical_accuracy"})")) ==
        std::vector<std::string>{"categorical_accuracy:categorical_accuracy"});
  CHECK(names(metric(R"(["accuracy"])")) == std::vector<std::string>{"accuracy:accuracy"});
  CHECK(metric("null").metrics.empty());
  CHECK(compile_config_from_json(R"({"loss": "mse"})", "t").metrics.empty());
  // weighted_metrics: after the metrics, marked weighted; one may share an unweighted one's name (it
  // logs as weighted_NAME, resolve_metrics), a second of one name within the list is ignored.
  const auto weighted = compile_config_from_json(
      R"({"metrics": ["accuracy"], "weighted_metrics": ["accuracy", "mae", "mean_iou", "accuracy",
          {"class_name": "AUC", "config": {"name": "auc", "num_thresholds": 50, "multi_label": true,
                                                "label_weights": [1, 2, 0.5, 1]}}]})",
      "t");
  CHECK(names(weighted) == std::vector<std::string>{"accuracy:accuracy", "accuracy:accuracy",
                                                    "mean_absolute_error:mean_absolute_error", "auc:auc"});
  CHECK(!weighted.metrics[0].weighted);
  CHECK((weighted.metrics[1].weighted && weighted.metrics[2].weighted && weighted.metrics[3].weighted));
  CHECK((weighted.metrics[3].num_thresholds == 50 && weighted.metrics[3].multi_label &&
         weighted.metrics[3].label_weights == std::vector<double>{1, 2, 0.5, 1}));
  CHECK(weighted.ignored == std::vector<std::string>{"the weighted metric 'mean_iou'",
                                                     "the weighted metric 'accuracy' (a second 'accuracy')"});
  const auto logged = resolve_metrics(weighted.metrics, LossKind::categorical_crossentropy, 4);
  std::vector<std::string> logged_names;
  for (const auto& m : logged) logged_names.push_back(m.name);
  CHECK(logged_names == std::vector<std::string>{"accuracy", "weighted_accuracy", "mean_absolute_error", "auc"});
  CHECK((!logged[0].weighted && logged[1].weighted && kernels::metric_slots(logged[1]) == 2));
  CHECK((logged[3].multi_label && kernels::metric_slots(logged[3]) == 2 * 50 * 4));
  CHECK(metric(R"([7, "none"])").ignored == std::vector<std::string>{"the metric '7'", "the metric 'none'"});
  // Metric objects' arguments: Keras 3's serialized TopKCategoricalAccuracy, BinaryAccuracy and
  // cross-entropy metrics; LogCoshError logs as logcosh; an argument dptrain does not apply is named.
  const auto args = metric(R"([{"module": "keras.metrics", "class_name": "TopKCategoricalAccuracy",
      "config": {"name": "top3", "dtype": "float32", "k": 3}, "registered_name": null},
      {"class_name": "BinaryAccuracy", "config": {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.7}},
      {"class_name": "CategoricalCrossentropy", "config": {"name": "cce", "from_logits": true, "label_smoothing": 0.1,
       "axis": -1}},
      {"class_name": "SparseTopKCategoricalAccuracy", "config": {"name": "s5", "k": 5, "from_sorted_ids": true}},
      "log_cosh_error", "mape", {"class_name": "RootMeanSquaredError", "config": {"name": "root_mean_squared_error"}}])");
  CHECK(names(args) == std::vector<std::string>{"top3:top_k_categorical_accuracy", "binary_accuracy:binary_accuracy",
                                                "cce:categorical_crossentropy", "s5:sparse_top_k_categorical_accuracy",
                                                "logcosh:log_cosh_error",
                                                "mean_absolute_percentage_error:mean_absolute_percentage_error",
                                                "root_mean_squared_error:root_mean_squared_error"});
  CHECK(args.metrics[0].k == 3);
  CHECK(args.metrics[1].threshold == 0.7);
  CHECK((args.metrics[2].from_logits && args.metrics[2].label_smoothing == 0.1));
  CHECK(args.ignored == std::vector<std::string>{"the metric 's5''s from_sorted_ids=true"});
  // Keras 3's serialized AUC, Precision and Recall, as get_config writes them.
  const auto conf = metric(R"([{"class_name": "AUC", "config": {"name": "auc_1", "dtype": "float32",
      "num_thresholds": 50, "curve": "PR", "summation_method": "interpolation", "multi_label": false,
      "num_labels": null, "label_weights": null, "from_logits": true}},
      {"class_name": "Precision", "config": {"name": "precision", "dtype": "float32", "thresholds": null,
       "top_k": null, "class_id": null}},
      {"class_name": "Recall", "config": {"name": "r", "thresholds": 0.3, "top_k": null, "class_id": 1}}])");
  CHECK(names(conf) == std::vector<std::string>{"auc_1:auc", "precision:precision", "r:recall"});
  CHECK((conf.metrics[0].num_thresholds == 50 && conf.metrics[0].curve == "PR" && conf.metrics[0].from_logits));
  CHECK((conf.metrics[1].threshold == 0.5 && conf.metrics[1].class_id == -1));
  CHECK((conf.metrics[2].threshold == 0.3 && conf.metrics[2].class_id == 1));
  CHECK(conf.ignored.empty());
  const auto fb = metric(R"([{"class_name": "F1Score", "config": {"name": "f1", "dtype": "float32",
      "average": "micro", "threshold": null}}, {"class_name": "FBetaScore", "config": {"name": "fbeta_score",
      "average": "weighted", "beta": 0.5, "threshold": 0.4}}])");
  CHECK(names(fb) == std::vector<std::string>{"f1:f1_score", "fbeta_score:fbeta_score"});
  CHECK((fb.metrics[0].average == "micro" && fb.metrics[0].fbeta_threshold < 0));
  CHECK((fb.metrics[1].beta == 0.5 && fb.metrics[1].fbeta_threshold == 0.4));
  CHECK_THROWS_WITH(metric(R"([{"class_name": "Precision", "config": {"name": "p", "thresholds": [0.3, 0.7]}}])"),
                    "t metrics: p's thresholds must be a number, got [0.3,0.7] (dptrain takes one threshold)");
  CHECK_THROWS_WITH(metric(R"([{"class_name": "TopKCategoricalAccuracy", "config": {"name": "t", "k": 0}}])"),
                    "t metrics: t's k must be a whole number >= 1, got '0'");
  CHECK_THROWS_WITH(metric(R"([{"class_name": "BinaryAccuracy", "config": {"name": "b", "threshold": "high"}}])"),
                    "t metrics: b's threshold must be a number, got 'high'");
}

TEST_CASE("training_config: the loss and optimizer Keras's load_model compiles with", "[io][config]") {
  KerasCompileConfig k;
  REQUIRE(read_compile_config(kDir + "cnn_legacy.h5", &k));  // Keras 3.15
  CHECK(k.loss == "categorical_crossentropy");
  CHECK(k.optimizer.name == "adam");
  CHECK(k.optimizer.learning_rate == Approx(0.01));
  CHECK(k.optimizer.beta_2 == Approx(0.999));
  CHECK(k.ignored.empty());
  REQUIRE(read_compile_config(kDir + "mlp_tfk_model.h5", &k));  // tf.keras 2.21: "Custom>Adam"
  CHECK(k.file_optimizer == "Adam");
  CHECK(k.optimizer.name == "adam");
  CHECK(k.optimizer.epsilon == Approx(1e-7));
  CHECK_FALSE(read_compile_config(kDir + "cnn_tfk.h5", &k));  // save_weights: no training_config
  CHECK_FALSE(read_compile_config("model.json", &k));

  const auto c = compile_config_from_json(
      R"({"loss": "mse", "optimizer_config": {"class_name": "SGD", "config": {"lr": 0.05, "momentum": 0.9,
          "nesterov": true, "decay": 1e-6, "clipnorm": 1.0}}})",
      "t");
  CHECK(c.loss == "mean_squared_error");
  CHECK(c.optimizer.name == "sgd");
  CHECK(c.optimizer.learning_rate == Approx(0.05));
  CHECK(c.optimizer.momentum == Approx(0.9));
  CHECK(c.optimizer.nesterov);
  CHECK(c.optimizer.clipnorm == Approx(1.0));  // applied, as Keras does
  CHECK(c.ignored.empty());
  // Keras 2's decay: the rate over 1 + decay * iterations, Keras's InverseTimeDecay(lr, 1, decay).
  REQUIRE(c.optimizer.schedule);
  CHECK(c.optimizer.schedule->describe() ==
        "InverseTimeDecay(initial_learning_rate=0.05, decay_steps=1, decay_rate=1e-06, staircase=False)");
  const auto k3 = compile_config_from_json(
      R"({"loss": {"module": "keras.losses", "class_name": "SparseCategoricalCrossentropy", "config": {}},
          "optimizer_config": {"class_name": "RMSprop", "config": {"rho": 0.8, "centered": true, "use_ema": true,
          "learning_rate": {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.002,
          "decay_steps": 100, "decay_rate": 0.9, "staircase": true, "name": "ExponentialDecay"}}}}})",
      "t");
  CHECK(k3.loss == "sparse_categorical_crossentropy");
  CHECK(k3.optimizer.name == "rmsprop");
  CHECK(k3.optimizer.rho == Approx(0.8));
  CHECK(k3.optimizer.centered);
  CHECK(k3.optimizer.learning_rate == Approx(0.002));
  CHECK(k3.optimizer.use_ema);  // applied: the weights' moving average
  CHECK(k3.optimizer.ema_momentum == Approx(0.99));
  CHECK(k3.ignored.empty());  // the schedule is applied
  REQUIRE(k3.optimizer.schedule);
  CHECK(k3.optimizer.schedule->describe() ==
        "ExponentialDecay(initial_learning_rate=0.002, decay_steps=100, decay_rate=0.9, staircase=True)");
  // What dptrain has not: named, for the command line to ask for --loss / --optimizer.
  const auto other = compile_config_from_json(
      R"({"loss": "ctc", "optimizer_config": {"class_name": "Ftrl", "config": {"learning_rate": 0.1}}})", "t");
  CHECK(other.loss.empty());
  CHECK(other.file_loss == "ctc");
  CHECK(other.optimizer.name.empty());
  CHECK(other.file_optimizer == "Ftrl");
  // Keras 3's other optimizers and base arguments; None is "not set".
  const auto adamw = compile_config_from_json(
      R"({"optimizer_config": {"class_name": "AdamW", "config": {"learning_rate": 0.002, "weight_decay": 0.01,
          "clipnorm": null, "global_clipnorm": 2.0, "clipvalue": null, "amsgrad": true, "beta_2": 0.99,
          "gradient_accumulation_steps": 4}}})",
      "t");
  CHECK(adamw.optimizer.name == "adamw");
  CHECK(adamw.optimizer.weight_decay == Approx(0.01));
  CHECK(adamw.optimizer.global_clipnorm == Approx(2.0));
  CHECK(adamw.optimizer.clipnorm == 0);
  CHECK(adamw.optimizer.amsgrad);
  CHECK(make_optimizer(adamw.optimizer)->describe() ==
        "AdamW(learning_rate=0.002, weight_decay=0.01, beta_1=0.9, beta_2=0.99, amsgrad=True, global_clipnorm=2, "
        "gradient_accumulation_steps=4)");
  CHECK(adamw.ignored.empty());
  CHECK_THROWS_WITH(
      compile_config_from_json(
          R"({"optimizer_config": {"class_name": "SGD", "config": {"gradient_accumulation_steps": 2.5}}})", "t"),
      "t SGD.gradient_accumulation_steps must be an integer >= 2 (as in Keras), got 2.5");
  const auto adagrad = compile_config_from_json(
      R"({"optimizer_config": {"class_name": "Custom>Adagrad", "config": {"learning_rate": 0.1,
          "initial_accumulator_value": 0.5, "epsilon": 1e-6, "weight_decay": null}}})",
      "t");
  CHECK(make_optimizer(adagrad.optimizer)->describe() ==
        "Adagrad(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-06)");
  const auto lion =
      compile_config_from_json(R"({"optimizer_config": {"class_name": "Lion", "config": {"beta_1": 0.95}}})", "t");
  CHECK(make_optimizer(lion.optimizer)->describe() == "Lion(learning_rate=0.001, beta_1=0.95, beta_2=0.99)");
  const auto adadelta = compile_config_from_json(R"({"optimizer": "adadelta"})", "t", false);
  CHECK(adadelta.file_optimizer == "Adadelta");
  CHECK(make_optimizer(adadelta.optimizer)->describe() == "Adadelta(learning_rate=0.001, rho=0.95, epsilon=1e-07)");
  CHECK_THROWS_WITH(
      make_optimizer(
          compile_config_from_json(
              R"({"optimizer_config": {"class_name": "SGD", "config": {"clipnorm": 1, "clipvalue": 2}}})", "t")
              .optimizer),
      "only one of clipnorm, clipvalue and global_clipnorm can be set (as in Keras); got clipnorm=1, clipvalue=2, "
      "global_clipnorm=0");
  CHECK(compile_config_from_json(R"({"loss": ["binary_crossentropy"]})", "t").loss == "binary_crossentropy");
  CHECK(compile_config_from_json(R"({"loss": ["mse", "mse"]})", "t").loss.empty());  // two outputs
  CHECK_THROWS_WITH(compile_config_from_json("{", "'f.h5' training_config"),
                    Contains("'f.h5' training_config is not what Keras writes: "));
  CHECK_THROWS_WITH(compile_config_from_json(R"({"optimizer_config": {"class_name": "SGD", "config": {"lr": "x"}}})",
                                             "'f.h5' training_config"),
                    "'f.h5' training_config SGD.lr must be a number, got \"x\"");
  // Hyperparameters no optimizer trains with (found by fuzzing, tests/fuzz/fuzz_training_config.cpp):
  // a learning rate of 0 or below, a momentum past 1, a negative epsilon; never read as "the default".
  const auto bad = [](const std::string& config) {
    return compile_config_from_json(R"({"optimizer_config": {"class_name": "SGD", "config": )" + config + "}}", "t");
  };
  CHECK_THROWS_WITH(bad(R"({"learning_rate": 0})"), "t SGD.learning_rate must be in (0, inf], got 0");
  CHECK_THROWS_WITH(bad(R"({"lr": -0.5})"), "t SGD.lr must be in (0, inf], got -0.5");
  CHECK_THROWS_WITH(bad(R"({"learning_rate": {"config": {"initial_learning_rate": 0}}})"),
                    "t SGD.learning_rate.initial_learning_rate must be in (0, inf], got 0");
  CHECK_THROWS_WITH(bad(R"({"learning_rate": {"class_name": "CosineDecay", "config": {"initial_learning_rate": 0,
                        "decay_steps": 10}}})"),
                    "t SGD.learning_rate: CosineDecay's initial_learning_rate must be > 0, got 0");
  CHECK_THROWS_WITH(bad(R"({"momentum": 1.5})"), "t SGD.momentum must be in [0, 1], got 1.5");
  CHECK_THROWS_WITH(bad(R"({"momentum": -1})"), "t SGD.momentum must be in [0, 1], got -1");
  CHECK_THROWS_WITH(bad(R"({"epsilon": -1e-07})"), "t SGD.epsilon must be in [0, inf], got -1e-07");
  CHECK_THROWS_WITH(bad(R"({"learning_rate": 1e999})"), Contains("number overflow parsing '1e999'"));
  CHECK(bad(R"({"learning_rate": 0.5, "momentum": 1, "epsilon": 0})").optimizer.momentum == 1.0);
}

TEST_CASE("a loss object's from_logits and label_smoothing are applied; settings dptrain has not are named",
          "[io][config][losses]") {
  const auto k3 = compile_config_from_json(
      R"({"loss": {"module": "keras.losses", "class_name": "SparseCategoricalCrossentropy", "config": {"name":
          "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": true,
          "ignore_class": null}, "registered_name": null}})",
      "t");
  CHECK(k3.loss == "sparse_categorical_crossentropy");
  CHECK(k3.from_logits);
  CHECK(k3.ignored.empty());
  const auto tfk = compile_config_from_json(
      R"({"loss": {"class_name": "BinaryCrossentropy", "config": {"reduction": "auto", "from_logits": false,
          "label_smoothing": 0.1, "axis": -1}}})",
      "t");
  CHECK(tfk.loss == "binary_crossentropy");
  CHECK_FALSE(tfk.from_logits);
  CHECK(tfk.label_smoothing == 0.1);  // applied
  CHECK(tfk.ignored.empty());
  CHECK_THROWS_WITH(
      compile_config_from_json(
          R"({"loss": {"class_name": "CategoricalCrossentropy", "config": {"label_smoothing": 1.5}}})", "t"),
      "t loss CategoricalCrossentropy.label_smoothing must be in [0, 1], got 1.5");
  const auto other = compile_config_from_json(
      R"({"loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": true, "ignore_class": 0,
          "reduction": "sum"}}})",
      "t");
  CHECK(other.ignored == std::vector<std::string>{"the loss's ignore_class=0", "the loss's reduction='sum'"});
  CHECK(compile_config_from_json(R"({"loss": "categorical_crossentropy"})", "t").from_logits == false);
  // Keras's other losses by class and alias; Huber's delta as tf-keras writes it (Keras 3.15 leaves it
  // out: 1), and as dptrain writes it (which Keras 3's from_config takes).
  const auto huber1 = compile_config_from_json(R"({"loss": {"class_name": "Huber", "config": {"delta": 1.0}}})", "t");
  CHECK((huber1.loss == "huber" && huber1.delta == 1.0));
  const auto keras3 = compile_config_from_json(
      R"({"loss": {"module": "keras.losses", "class_name": "Huber", "config": {"name": "huber_loss", "reduction":
          "sum_over_batch_size"}, "registered_name": null}})",
      "t");
  CHECK((keras3.loss == "huber" && keras3.delta == 1.0 && keras3.ignored.empty()));
  const auto tf2 = compile_config_from_json(
      R"({"loss": {"class_name": "Huber", "config": {"reduction": "auto", "name": "huber_loss", "delta": 2.5,
          "fn": "huber"}}})",
      "t");
  CHECK((tf2.loss == "huber" && tf2.delta == 2.5 && tf2.ignored.empty()));
  CHECK(compile_config_from_json(R"({"loss": "kld"})", "t").loss == "kl_divergence");
  CHECK(compile_config_from_json(R"({"loss": {"class_name": "LogCosh", "config": {}}})", "t").loss == "log_cosh");
  CHECK_THROWS_WITH(compile_config_from_json(R"({"loss": {"class_name": "Huber", "config": {"delta": 0}}})", "t"),
                    "t loss Huber.delta is 0: it must be > 0");
  CHECK_THROWS_WITH(compile_config_from_json(R"({"loss": {"class_name": "Huber", "config": {"delta": "2"}}})", "t"),
                    "t loss Huber.delta must be a number, got \"2\"");
  CHECK_THROWS_WITH(
      compile_config_from_json(R"({"loss": {"class_name": "MeanSquaredError", "config": {"from_logits": true}}})", "t"),
      "t loss MeanSquaredError sets from_logits, which Keras has only for its cross-entropies");
  CHECK_THROWS_WITH(
      compile_config_from_json(R"({"loss": {"class_name": "Poisson", "config": {"from_logits": true}}})", "t"),
      "t loss Poisson sets from_logits, which Keras has only for its cross-entropies");
  CHECK_THROWS_WITH(
      compile_config_from_json(
          R"({"loss": {"class_name": "CategoricalCrossentropy", "config": {"from_logits": "yes"}}})", "t"),
      "t loss CategoricalCrossentropy.from_logits must be True or False, got the string \"yes\"");
}

TEST_CASE("Keras's learning-rate schedules are read from files and from --lr-decay", "[io][config][schedule]") {
  // Keras 3's form (module, registered_name), as model.save writes it in .h5 and .keras files.
  const auto k = compile_config_from_json(
      R"({"optimizer_config": {"class_name": "Adam", "config": {"learning_rate": {"module":
          "keras.optimizers.schedules", "class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1,
          "decay_steps": 10, "alpha": 0.0, "name": "CosineDecay", "warmup_target": 0.2, "warmup_steps": 3},
          "registered_name": null}}}})",
      "t");
  REQUIRE(k.optimizer.schedule);
  CHECK(k.optimizer.learning_rate == Approx(0.1));
  CHECK(make_optimizer(k.optimizer)->describe() ==
        "Adam(learning_rate=CosineDecay(initial_learning_rate=0.1, decay_steps=10, alpha=0, warmup_target=0.2, "
        "warmup_steps=3), beta_1=0.9, beta_2=0.999)");
  // tf.keras's older form (no module); a list of boundaries; a name of the user's.
  const auto pc = compile_config_from_json(
      R"({"optimizer_config": {"class_name": "SGD", "config": {"learning_rate": {"class_name":
          "PiecewiseConstantDecay", "config": {"boundaries": [100, 200], "values": [0.1, 0.05, 0.01],
          "name": "steps"}}}}})",
      "t");
  CHECK(pc.optimizer.learning_rate == Approx(0.1));
  CHECK(pc.optimizer.schedule->describe() ==
        "PiecewiseConstantDecay(boundaries=[100, 200], values=[0.1, 0.05, 0.01], name='steps')");
  // A schedule of the user's own class: its initial rate, held, with a warning.
  const auto custom = compile_config_from_json(
      R"({"optimizer_config": {"class_name": "SGD", "config": {"learning_rate": {"class_name": "WarmUp",
          "registered_name": "my>WarmUp", "config": {"initial_learning_rate": 0.3}}}}})",
      "t");
  CHECK_FALSE(custom.optimizer.schedule);
  CHECK(custom.optimizer.learning_rate == Approx(0.3));
  CHECK(custom.ignored == std::vector<std::string>{"the learning-rate schedule WarmUp (its initial_learning_rate is "
                                                   "used throughout)"});
  // An argument Keras's class does not have is named; missing and malformed ones are errors.
  const auto extra = compile_config_from_json(
      R"({"optimizer_config": {"class_name": "SGD", "config": {"learning_rate": {"class_name": "InverseTimeDecay",
          "config": {"initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.5, "offset": 3}}}}})",
      "t");
  CHECK(extra.ignored == std::vector<std::string>{"InverseTimeDecay's offset"});
  const auto sched = [](const std::string& s) {
    return compile_config_from_json(
        R"({"optimizer_config": {"class_name": "SGD", "config": {"learning_rate": )" + s + "}}}", "t");
  };
  CHECK_THROWS_WITH(sched(R"({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,
                          "decay_steps": 10}})"),
                    "t SGD.learning_rate ExponentialDecay has no decay_rate (Keras requires it)");
  CHECK_THROWS_WITH(sched(R"({"class_name": "PolynomialDecay", "config": {"initial_learning_rate": 0.1,
                          "decay_steps": 10, "cycle": 1}})"),
                    "t SGD.learning_rate PolynomialDecay.cycle must be True or False, got the integer 1");
  CHECK_THROWS_WITH(sched(R"({"class_name": "PiecewiseConstantDecay", "config": {"boundaries": 5, "values": [1]}})"),
                    "t SGD.learning_rate PiecewiseConstantDecay.boundaries must be a list of numbers, got the "
                    "integer 5");
  CHECK_THROWS_WITH(sched(R"({"class_name": "PiecewiseConstantDecay", "config": {"boundaries": [5],
                          "values": [0.1, "x"]}})"),
                    "t SGD.learning_rate PiecewiseConstantDecay.values[1] must be a number, got \"x\"");
  CHECK_THROWS_WITH(sched(R"({"class_name": "CosineDecayRestarts", "config": {"initial_learning_rate": 0.1,
                          "first_decay_steps": 0}})"),
                    "t SGD.learning_rate: Argument `first_decay_steps` must be > 0 (CosineDecayRestarts, as in "
                    "Keras). Received: first_decay_steps=0");

  // The command line: Keras's class and argument names; the initial rate may be left to --lr.
  LearningRateSchedule s = parse_schedule_spec("ExponentialDecay:decay_steps=1000,decay_rate=0.96,staircase=true");
  CHECK(s.initial_learning_rate < 0);
  s.initial_learning_rate = 0.01;
  CHECK(s.describe() ==
        "ExponentialDecay(initial_learning_rate=0.01, decay_steps=1000, decay_rate=0.96, staircase=True)");
  CHECK(parse_schedule_spec("PiecewiseConstantDecay:boundaries=[10,20],values=[0.1,0.01,1e-3]").describe() ==
        "PiecewiseConstantDecay(boundaries=[10, 20], values=[0.1, 0.01, 0.001])");
  CHECK(parse_schedule_spec("CosineDecay:initial_learning_rate=0.5,decay_steps=10,warmup_target=None").describe() ==
        "CosineDecay(initial_learning_rate=0.5, decay_steps=10, alpha=0)");
  CHECK(parse_schedule_spec("CosineDecayRestarts:first_decay_steps=5,t_mul=1,m_mul=.5").m_mul == 0.5);
  CHECK_THROWS_WITH(parse_schedule_spec("StepDecay:x=1"),
                    "--lr-decay: unknown schedule 'StepDecay' (Keras's: ExponentialDecay, PiecewiseConstantDecay, "
                    "PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts; or none)");
  CHECK_THROWS_WITH(parse_schedule_spec("ExponentialDecay:decay_steps=10,rate=0.5"),
                    "--lr-decay ExponentialDecay:decay_steps=10,rate=0.5 ExponentialDecay has no argument 'rate' "
                    "(Keras's: initial_learning_rate, decay_steps, decay_rate, staircase, name)");
  CHECK_THROWS_WITH(parse_schedule_spec("ExponentialDecay:decay_steps=10"),
                    "--lr-decay ExponentialDecay:decay_steps=10 ExponentialDecay has no decay_rate (Keras requires "
                    "it)");
  CHECK_THROWS_WITH(parse_schedule_spec("CosineDecay:decay_steps=ten"),
                    "--lr-decay CosineDecay:decay_steps=ten: decay_steps=ten is not a number");
  CHECK_THROWS_WITH(parse_schedule_spec("CosineDecay:decay_steps"),
                    "--lr-decay CosineDecay:decay_steps: 'decay_steps' is not key=value (e.g. "
                    "ExponentialDecay:decay_steps=1000,decay_rate=0.9)");
  CHECK_THROWS_WITH(parse_schedule_spec("CosineDecay:decay_steps=1,decay_steps=2"),
                    "--lr-decay CosineDecay:decay_steps=1,decay_steps=2: decay_steps is given twice");
  CHECK_THROWS_WITH(parse_schedule_spec("PiecewiseConstantDecay:boundaries=[1,2,values=[1]"),
                    "--lr-decay PiecewiseConstantDecay:boundaries=[1,2,values=[1]: a list's brackets do not match "
                    "(lists are [a,b,...])");
}

TEST_CASE("Keras's weight regularizers are read from configs, every form, and written back",
          "[io][config][regularizer]") {
  const std::string text = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 6, 2], "name": "input"}},
    {"class_name": "Conv1D", "config": {"name": "conv", "filters": 3, "kernel_size": 2,
      "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.05},
                             "registered_name": null},
      "bias_regularizer": "l1", "kernel_constraint": null, "activity_regularizer": null}},
    {"class_name": "BatchNormalization", "config": {"name": "bn",
      "gamma_regularizer": {"class_name": "L1L2", "config": {"l1": null, "l2": 0.3}}, "beta_regularizer": "L1L2"}},
    {"class_name": "Bidirectional", "config": {"name": "bi", "layer": {"class_name": "LSTM", "config": {"name": "lstm",
      "units": 2, "recurrent_regularizer": "l2", "kernel_regularizer": {"class_name": "L1L2",
      "config": {"l1": 0.01, "l2": 0.02}}}}}},
    {"class_name": "Dense", "config": {"name": "d", "units": 3, "use_bias": false, "bias_regularizer": "l2"}},
    {"class_name": "Dense", "config": {"name": "out", "units": 2,
      "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.009999999776482582}}}}]}})";
  auto m = model_from_keras_json(text, 0, "m.json");
  auto regs = [](const Sequential& s) {
    std::map<std::string, Regularizer> out;
    for (const WeightRef& w : s.weights())
      if (w.spec.regularizer.active()) out[w.keras_name()] = w.spec.regularizer;
    return out;
  };
  const auto got = regs(*m);
  auto is = [&](const std::string& name, const char* cls, double l1, double l2) {
    INFO(name);
    REQUIRE(got.count(name));
    CHECK(got.at(name).cls == cls);
    CHECK(got.at(name).l1 == l1);
    CHECK(got.at(name).l2 == l2);
  };
  CHECK(got.size() == 8);  // d's bias_regularizer: d has no bias, as Keras ignores it
  is("conv/kernel:0", "L2", 0, 0.05);
  is("conv/bias:0", "L1", 0.01, 0);  // a name: the class's default
  is("bn/gamma:0", "L1L2", 0, 0.3);  // L1L2's l1=None is 0; the moving statistics are not trainable
  is("bi/forward_lstm/lstm_cell/kernel:0", "L1L2", 0.01, 0.02);
  is("bi/forward_lstm/lstm_cell/recurrent_kernel:0", "L2", 0, 0.01);
  is("bi/backward_lstm/lstm_cell/kernel:0", "L1L2", 0.01, 0.02);  // the backward copy has the same
  is("bi/backward_lstm/lstm_cell/recurrent_kernel:0", "L2", 0, 0.01);
  is("out/kernel:0", "L2", 0, 0.009999999776482582);  // Keras 2's float32 value
  // model.save() writes them as Keras 3 serializes them, and they come back.
  const std::string dir = test::temp_dir("regularizers");
  for (const std::string name : {"m.keras", "m.h5"}) {
    INFO(name);
    save_model(*m, dir + "/" + name, LossKind::categorical_crossentropy, {}, nullptr, nullptr);
    const std::string written = read_model_config(dir + "/" + name);
    CHECK_THAT(written, Contains(R"("kernel_regularizer":{"module":"keras.regularizers","class_name":"L2",)"
                                 R"("config":{"l2":0.05},"registered_name":null})"));
    CHECK_THAT(written, Contains(R"("beta_regularizer":{"module":"keras.regularizers","class_name":"L1L2",)"
                                 R"("config":{"l1":0.0,"l2":0.0},"registered_name":null})"));
    CHECK(regs(*load_keras_model(dir + "/" + name, 0)) == got);
  }
  auto cfg = [](const std::string& reg) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "input"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2, "kernel_regularizer": )" +
           reg + "}}]}}";
  };
  CHECK(config_error(cfg(R"({"class_name": "L2", "config": {"l2": -1}})"), "m.json") ==
        "m.json: layer 'd' (Dense): 'kernel_regularizer' L2's l2 must be a non-negative number (as Keras's), got -1");
  CHECK(config_error(cfg(R"({"class_name": "L2", "config": {"l1": 0.1}})"), "m.json") ==
        "m.json: layer 'd' (Dense): 'kernel_regularizer' L2 takes no l1 (got 0.1)");
  CHECK(config_error(cfg("7"), "m.json") ==
        "m.json: layer 'd' (Dense): 'kernel_regularizer' must be a regularizer's name or a {class_name, config} "
        "dict, got 7");
  // Another regularizer class loads (for evaluate and predict); training refuses it (parallel tests).
  auto ortho =
      model_from_keras_json(cfg(R"({"class_name": "OrthogonalRegularizer", "config": {"factor": 0.01}})"), 0, "m.json");
  REQUIRE(ortho->layers()[0]->training_refusals().size() == 1);
  CHECK(ortho->layers()[0]->training_refusals()[0].what ==
        "kernel_regularizer OrthogonalRegularizer (dptrain has L1, L2 and L1L2)");
  // activity_regularizer: a layer's (a wrapper's too) is read and written back; one inside a
  // wrapper is refused (the wrapper passes the refusal on).
  auto td = model_from_keras_json(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3], "name": "input"}},
      {"class_name": "TimeDistributed", "config": {"name": "td", "activity_regularizer": {"class_name": "L2",
        "config": {"l2": 0.5}}, "layer": {"class_name": "Dense", "config": {"name": "in", "units": 2,
        "activity_regularizer": "l1"}}}},
      {"class_name": "Flatten", "config": {"name": "f"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2, "activity_regularizer": {"class_name": "L1L2",
        "config": {"l1": 0.1, "l2": 0.2}}}}]}})",
                                  0, "td.json");
  REQUIRE(td->layers()[0]->activity_regularizer());
  CHECK(*td->layers()[0]->activity_regularizer() == Regularizer{"L2", 0, 0.5});
  CHECK(*td->layers()[2]->activity_regularizer() == Regularizer{"L1L2", 0.1, 0.2});
  REQUIRE(td->layers()[0]->training_refusals().size() == 1);
  CHECK(td->layers()[0]->training_refusals()[0].what == "an activity_regularizer on a wrapped layer");
  CHECK(td->layers()[2]->training_refusals().empty());
  CHECK(td->has_activity_regularizers());
  for (const std::string name : {"td.keras", "td.h5"}) {
    INFO(name);
    save_model(*td, dir + "/" + name, LossKind::categorical_crossentropy, {}, nullptr, nullptr);
    CHECK_THAT(read_model_config(dir + "/" + name),
               Contains(R"("activity_regularizer":{"module":"keras.regularizers","class_name":"L1L2",)"
                        R"("config":{"l1":0.1,"l2":0.2},"registered_name":null})"));
    auto again = load_keras_model(dir + "/" + name, 0);
    CHECK(*again->layers()[2]->activity_regularizer() == Regularizer{"L1L2", 0.1, 0.2});
    CHECK(*again->layers()[0]->activity_regularizer() == Regularizer{"L2", 0, 0.5});
  }
}

TEST_CASE("Keras's initializers from configs: each class's values, Keras's fans, written back",
          "[io][config][initializer]") {
  const std::string text = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 6, 6, 32], "name": "input"}},
    {"class_name": "Conv2D", "config": {"name": "c", "filters": 64, "kernel_size": 3, "kernel_initializer": "he_normal",
      "bias_initializer": {"module": "keras.initializers", "class_name": "Constant", "config": {"value": 0.25},
                           "registered_name": null}}},
    {"class_name": "DepthwiseConv2D", "config": {"name": "dw", "kernel_size": 3,
      "depthwise_initializer": {"class_name": "LecunUniform", "config": {"seed": null, "input_axes": null,
                                "output_axes": null}}}},
    {"class_name": "BatchNormalization", "config": {"name": "bn", "gamma_initializer": "zeros",
      "moving_variance_initializer": {"class_name": "Constant", "config": {"value": 2.0}}}},
    {"class_name": "Flatten", "config": {"name": "f"}},
    {"class_name": "Dense", "config": {"name": "d", "units": 300, "kernel_initializer": {"class_name": "VarianceScaling",
      "config": {"scale": 3.0, "mode": "fan_out", "distribution": "uniform", "seed": null}},
      "bias_initializer": {"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.5}}}},
    {"class_name": "Dense", "config": {"name": "o", "units": 256, "kernel_initializer": {"class_name": "Orthogonal",
      "config": {"gain": 2.0}}, "bias_initializer": "ones"}},
    {"class_name": "Dense", "config": {"name": "t", "units": 60, "kernel_initializer": {"class_name":
      "TruncatedNormal", "config": {"mean": 0.1, "stddev": 0.2}}, "bias_initializer": {"class_name": "RandomUniform",
      "config": {"minval": -1.0, "maxval": 2.0}}}},
    {"class_name": "Dense", "config": {"name": "i", "units": 60, "use_bias": false, "kernel_initializer":
      {"class_name": "Identity", "config": {"gain": 3.0}}}},
    {"class_name": "Dense", "config": {"name": "g", "units": 40, "kernel_initializer": "glorot_normal"}}]}})";
  auto m = model_from_keras_json(text, 3, "m.json");
  auto values = [&](const Sequential& s, const std::string& name) {
    for (const WeightRef& w : s.weights())
      if (w.keras_name() == name) return std::vector<double>(w.data, w.data + shape_numel(w.spec.shape));
    FAIL("no weight " << name);
    return std::vector<double>{};
  };
  struct Stats {
    double mean = 0, sd = 0, lo = 1e30, hi = -1e30;
  };
  auto stats = [](const std::vector<double>& v) {
    Stats s;
    for (double x : v) {
      s.mean += x / double(v.size());
      s.lo = std::min(s.lo, x);
      s.hi = std::max(s.hi, x);
    }
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean) / double(v.size());
    s.sd = std::sqrt(s.sd);
    return s;
  };
  // he_normal on (3, 3, 32, 64): fan_in 3*3*32 = 288, a normal truncated at 2 sd of sqrt(2/288)/0.8796.
  const Stats he = stats(values(*m, "c/kernel:0"));
  CHECK(he.sd == Approx(std::sqrt(2.0 / 288)).epsilon(0.02));
  CHECK(std::abs(he.mean) < 0.002);
  CHECK(std::max(-he.lo, he.hi) <= 2 * std::sqrt(2.0 / 288) / 0.87962566103423978 + 1e-7);
  CHECK(std::max(-he.lo, he.hi) > 0.95 * 2 * std::sqrt(2.0 / 288) / 0.87962566103423978);
  CHECK(values(*m, "c/bias:0") == std::vector<double>(64, 0.25));
  // lecun_uniform on the depthwise kernel (3, 3, 64, 1): fan_in 3*3*64 = 576, limit sqrt(3/576).
  const Stats lu = stats(values(*m, "dw/depthwise_kernel:0"));
  CHECK(std::max(-lu.lo, lu.hi) <= std::sqrt(3.0 / 576) + 1e-7);
  CHECK(lu.sd == Approx(std::sqrt(1.0 / 576)).epsilon(0.1));
  CHECK(values(*m, "bn/gamma:0") == std::vector<double>(64, 0.0));
  CHECK(values(*m, "bn/moving_variance:0") == std::vector<double>(64, 2.0));
  CHECK(values(*m, "bn/beta:0") == std::vector<double>(64, 0.0));  // the layer's own
  // VarianceScaling(3, fan_out, uniform) on (256, 300): limit sqrt(3 * 3 / 300).
  const Stats vs = stats(values(*m, "d/kernel:0"));
  CHECK(std::max(-vs.lo, vs.hi) <= std::sqrt(9.0 / 300) + 1e-7);
  CHECK(std::max(-vs.lo, vs.hi) > 0.99 * std::sqrt(9.0 / 300));
  CHECK(vs.sd == Approx(std::sqrt(3.0 / 300)).epsilon(0.02));
  const Stats rn = stats(values(*m, "d/bias:0"));
  CHECK(rn.mean == Approx(1.0).margin(0.1));
  CHECK(rn.sd == Approx(0.5).epsilon(0.15));
  // Orthogonal(gain=2) on (300, 256): its columns orthogonal, each of norm 2.
  const std::vector<double> o = values(*m, "o/kernel:0");
  for (int a = 0; a < 256; a += 51)
    for (int b = a; b < 256; b += 37) {
      double d = 0;
      for (int r = 0; r < 300; ++r) d += o[size_t(r * 256 + a)] * o[size_t(r * 256 + b)];
      CHECK(d == Approx(a == b ? 4.0 : 0.0).margin(1e-5));
    }
  CHECK(values(*m, "o/bias:0") == std::vector<double>(256, 1.0));
  const Stats tn = stats(values(*m, "t/kernel:0")), ru = stats(values(*m, "t/bias:0"));
  CHECK((tn.lo >= 0.1 - 0.4 - 1e-7 && tn.hi <= 0.1 + 0.4 + 1e-7));
  CHECK(tn.mean == Approx(0.1).margin(0.01));
  CHECK(tn.sd == Approx(0.2 * 0.87962566103423978).epsilon(0.05));
  CHECK((ru.lo >= -1.0 && ru.hi <= 2.0 && ru.hi - ru.lo > 2.5));
  const std::vector<double> eye = values(*m, "i/kernel:0");
  for (int r = 0; r < 60; ++r)
    for (int c = 0; c < 60; ++c) CHECK(eye[size_t(r * 60 + c)] == (r == c ? 3.0 : 0.0));
  const Stats gn = stats(values(*m, "g/kernel:0"));  // glorot_normal: 2 / (fan_in + fan_out)
  CHECK(gn.sd == Approx(std::sqrt(2.0 / 100)).epsilon(0.1));
  // Written back as given (a Keras 2 object in Keras 3's form; Keras 3.15's input_axes and
  // output_axes at None left out, which tf-keras 2 cannot take): loading dptrain's file with the same
  // seed draws the same weights.
  const std::string dir = test::temp_dir("initializers");
  for (const std::string name : {"m.keras", "m.h5"}) {
    INFO(name);
    save_model(*m, dir + "/" + name, LossKind::categorical_crossentropy, {}, nullptr, nullptr);
    const std::string written = read_model_config(dir + "/" + name);
    CHECK_THAT(written, Contains(R"("kernel_initializer":"he_normal")"));
    CHECK_THAT(written,
               Contains(R"("depthwise_initializer":{"module":"keras.initializers","class_name":"LecunUniform",)"
                        R"("config":{"seed":null},"registered_name":null})"));
    auto again = load_keras_model(dir + "/" + name, 3);
    CHECK(std::equal(m->params(), m->params() + m->num_params(), again->params()));
  }
  // Keras's default initializers given by name draw what the layers' own draw.
  auto plain = [](const std::string& extra) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3], "name": "input"}},
      {"class_name": "LSTM", "config": {"name": "l", "units": 4)" +
           extra + R"(}},
      {"class_name": "Embedding", "config": {"name": "e", "input_dim": 9, "output_dim": 2)" +
           (extra.empty() ? "" : R"(, "embeddings_initializer": {"class_name": "RandomUniform", "config": {}})") +
           "}}]}}";
  };
  auto a = model_from_keras_json(plain(""), 5, "a.json");
  auto b = model_from_keras_json(plain(R"(, "kernel_initializer": {"class_name": "GlorotUniform", "config": {}},
      "recurrent_initializer": "orthogonal", "bias_initializer": "zeros")"),
                                 5, "b.json");
  REQUIRE(a->num_params() == b->num_params());
  CHECK(std::equal(a->params(), a->params() + a->num_params(), b->params()));
  // LSTM's bias: the initializer, the forget gate's quarter at 1 (unit_forget_bias), or the
  // initializer alone without it.
  auto lstm_bias = [&](const std::string& extra) {
    return values(*model_from_keras_json(plain(extra), 5, "l.json"), "l/lstm_cell/bias:0");
  };
  std::vector<double> want(16, 0.5);
  std::fill(want.begin() + 4, want.begin() + 8, 1.0);
  CHECK(lstm_bias(R"(, "bias_initializer": {"class_name": "Constant", "config": {"value": 0.5}})") == want);
  CHECK(lstm_bias(R"(, "unit_forget_bias": false)") == std::vector<double>(16, 0.0));
  // Errors: a class dptrain has not, a 4-D Identity, a bad setting.
  auto cfg = [](const std::string& init) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 2], "name": "input"}},
      {"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "kernel_initializer": )" +
           init + "}}]}}";
  };
  CHECK(config_error(cfg(R"("STFT")"), "m.json") ==
        "m.json: layer 'c' (Conv2D): 'kernel_initializer' initializer 'STFT' is not supported (supported: "
        "glorot_uniform, glorot_normal, he_normal, he_uniform, lecun_normal, lecun_uniform, variance_scaling, "
        "random_normal, truncated_normal, random_uniform, zeros, ones, constant, orthogonal, identity)");
  CHECK(config_error(cfg(R"("identity")"), "m.json") ==
        "weight 'c/kernel:0': the Identity initializer needs a 2-D weight, as Keras's, got shape (3, 3, 2, 2)");
  CHECK(config_error(cfg(R"({"class_name": "VarianceScaling", "config": {"mode": "fan_sum"}})"), "m.json") ==
        "m.json: layer 'c' (Conv2D): 'kernel_initializer' VarianceScaling's mode must be 'fan_in', 'fan_out' or "
        "'fan_avg', got 'fan_sum'");
}

TEST_CASE("Keras's weight constraints are read from configs and written back as given", "[io][config][constraint]") {
  const std::string text = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 6, 6, 2], "name": "input"}},
    {"class_name": "Conv2D", "config": {"name": "c", "filters": 3, "kernel_size": 3, "kernel_constraint": {"module":
      "keras.constraints", "class_name": "MaxNorm", "config": {"max_value": 3, "axis": [0, 1, 2]},
      "registered_name": null}, "bias_constraint": "non_neg"}},
    {"class_name": "Flatten", "config": {"name": "f"}},
    {"class_name": "Dense", "config": {"name": "d", "units": 4, "kernel_constraint": {"class_name": "MinMaxNorm",
      "config": {"min_value": 0.5, "max_value": 2.0, "rate": 0.25, "axis": null}},
      "bias_constraint": {"class_name": "UnitNorm", "config": {"axis": -1}}}}]}})";
  auto m = model_from_keras_json(text, 0, "m.json");
  std::map<std::string, Constraint> got;
  for (const WeightRef& w : m->weights())
    if (w.spec.constraint) got[w.keras_name()] = *w.spec.constraint;
  REQUIRE(got.size() == 4);
  using K = kernels::ConstraintKind;
  CHECK((got["c/kernel:0"].kind == K::max_norm && got["c/kernel:0"].max_value == 3 &&
         got["c/kernel:0"].axis == std::vector<int64_t>{0, 1, 2}));
  CHECK((got["c/bias:0"].kind == K::non_neg && got["c/bias:0"].axis == std::vector<int64_t>{0}));
  CHECK((got["d/kernel:0"].kind == K::min_max_norm && got["d/kernel:0"].min_value == 0.5 &&
         got["d/kernel:0"].max_value == 2 && got["d/kernel:0"].rate == 0.25 && got["d/kernel:0"].all_axes));
  CHECK((got["d/bias:0"].kind == K::unit_norm && got["d/bias:0"].axis == std::vector<int64_t>{-1}));
  const std::string dir = test::temp_dir("constraints");
  for (const std::string name : {"m.keras", "m.h5"}) {
    INFO(name);
    save_model(*m, dir + "/" + name, LossKind::categorical_crossentropy, {}, nullptr, nullptr);
    const std::string written = read_model_config(dir + "/" + name);
    CHECK_THAT(written, Contains(R"("bias_constraint":"non_neg")"));
    CHECK_THAT(written, Contains(R"("kernel_constraint":{"module":"keras.constraints","class_name":"MinMaxNorm",)"
                                 R"("config":{"axis":null,"max_value":2.0,"min_value":0.5,"rate":0.25},)"
                                 R"("registered_name":null})"));
    auto loaded = load_keras_model(dir + "/" + name, 0);
    std::map<std::string, Constraint> again;
    for (const WeightRef& w : loaded->weights())
      if (w.spec.constraint) again[w.keras_name()] = *w.spec.constraint;
    REQUIRE(again.size() == got.size());
    for (const auto& [k, c] : got) {
      const Constraint& a = again[k];
      CHECK((a.kind == c.kind && a.axis == c.axis && a.all_axes == c.all_axes && a.min_value == c.min_value &&
             a.max_value == c.max_value && a.rate == c.rate));
    }
  }
  auto cfg = [](const std::string& con) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "input"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2, "kernel_constraint": )" +
           con + "}}]}}";
  };
  CHECK(config_error(cfg(R"({"class_name": "MinMaxNorm", "config": {"min_value": 2, "max_value": 1}})"), "m.json") ==
        "m.json: layer 'd' (Dense): 'kernel_constraint' MinMaxNorm's norms must satisfy 0 <= min_value <= max_value, "
        "got min_value 2 and max_value 1");
  CHECK(config_error(cfg(R"({"class_name": "MaxNorm", "config": {"axis": "rows"}})"), "m.json") ==
        "m.json: layer 'd' (Dense): 'kernel_constraint' MaxNorm's axis must be an axis, a list of them or None, got "
        "\"rows\"");
}
