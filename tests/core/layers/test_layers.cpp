// Layers through the Layer/Sequential API (float): hand-computed forwards, Keras names and shapes,
// BatchNormalization's two modes, dropout's split-independence, and a whole-model gradient check.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include "core/data/readers.h"
#include "core/layers/activation.h"
#include "core/layers/batch_norm.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/depthwise_conv2d.h"
#include "core/layers/dot.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/merge.h"
#include "core/layers/padding.h"
#include "core/layers/pooling.h"
#include "core/layers/separable_conv2d.h"
#include "core/losses.h"
#include "core/sequential.h"
#include "test_util.h"

using namespace dpt;

namespace {
Tensor make(Shape s, const std::vector<float>& v) {
  Tensor t(std::move(s));
  std::copy(v.begin(), v.end(), t.data());
  return t;
}
}  // namespace

TEST_CASE("Dense forward by hand with bias and relu", "[layers]") {
  Dense d(2, Activation::relu);
  d.set_name("dense");
  d.build({3});
  std::vector<float> kernel{1, -1, 2, 0, 0, 1}, bias{0.5f, -10.f}, gk(6), gb(2);
  d.bind({kernel.data(), bias.data()}, {gk.data(), gb.data()});
  Tensor x = make({2, 3}, {1, 2, 3, 0, 1, 0});
  Tensor y({2, 2});
  Context ctx;
  d.forward(ctx, x, y, true);
  // row0: [1+4+0, -1+0+3] + bias = [5.5, -8] -> relu [5.5, 0]; row1: [2, 0] + bias -> [2.5, 0]
  CHECK(std::vector<float>(y.data(), y.data() + 4) == std::vector<float>{5.5f, 0.f, 2.5f, 0.f});
  Tensor bad({2, 4});
  CHECK_THROWS_WITH(d.forward(ctx, bad, y, true), "layer 'dense' expects input of shape (batch, 3,) but got (2, 4)");
}

TEST_CASE("Keras layer names, output shapes, parameter shapes and summary", "[layers][sequential]") {
  Sequential m("net");
  Conv2DConfig c;
  c.filters = 8;
  c.kh = c.kw = 3;
  c.same = true;
  m.add(std::make_unique<Conv2D>(c));
  c.same = false;
  c.sh = c.sw = 2;
  m.add(std::make_unique<Conv2D>(c));
  m.add(MaxPooling2D());
  m.add(std::make_unique<BatchNormalization>());
  m.add(std::make_unique<GlobalAveragePooling2D>());
  m.add(std::make_unique<Dense>(4, Activation::tanh));
  m.add(std::make_unique<Dropout>(0.5));
  m.add(std::make_unique<Dense>(3));
  m.add(std::make_unique<ActivationLayer>(Activation::softmax));
  m.build({11, 11, 2}, 1);
  std::vector<std::string> names;
  for (auto& l : m.layers()) names.push_back(l->name());
  CHECK(names == std::vector<std::string>{"conv2d", "conv2d_1", "max_pooling2d", "batch_normalization",
                                          "global_average_pooling2d", "dense", "dropout", "dense_1", "activation"});
  CHECK(m.layers()[0]->output_shape() == Shape{11, 11, 8});
  CHECK(m.layers()[1]->output_shape() == Shape{5, 5, 8});  // floor((11-3)/2)+1
  CHECK(m.layers()[2]->output_shape() == Shape{2, 2, 8});
  CHECK(m.layers()[4]->output_shape() == Shape{8});
  CHECK(m.output_shape() == Shape{3});
  CHECK(m.weights()[0].keras_name() == "conv2d/kernel:0");
  CHECK(m.weights()[0].spec.shape == Shape{3, 3, 2, 8});
  // 3*3*2*8+8 + 3*3*8*8+8 + 4*8 (BN) + 8*4+4 + 4*3+3
  CHECK(m.num_params() == 152 + 584 + 32 + 36 + 15);
  CHECK(m.num_trainable() == m.num_params() - 16);  // moving_mean and moving_variance
  // Trainable weights first in the arena; BN's moving statistics after them, without gradients.
  for (auto& w : m.weights()) {
    if (w.spec.trainable)
      CHECK((w.offset < m.num_trainable() && w.grad != nullptr));
    else
      CHECK((w.offset >= m.num_trainable() && w.grad == nullptr));
  }
  const std::string s = m.summary();
  CHECK(s.find("conv2d_1 (Conv2D)") != std::string::npos);
  CHECK(s.find("(None, 5, 5, 8)") != std::string::npos);
  CHECK(s.find("Total params: 819") != std::string::npos);
  CHECK(s.find("Non-trainable params: 16") != std::string::npos);
}

TEST_CASE("glorot_uniform kernels within Keras's limit, zero biases, BN ones/zeros", "[layers][init]") {
  Sequential m;
  m.add(std::make_unique<Dense>(30));
  m.add(std::make_unique<BatchNormalization>());
  m.build({20}, 5);
  const double limit = std::sqrt(6.0 / (20 + 30));
  const auto& k = m.weights()[0];
  double mx = 0, sum = 0;
  for (int i = 0; i < 600; ++i) {
    mx = std::max(mx, double(std::abs(k.data[i])));
    sum += k.data[i];
  }
  CHECK(mx <= limit);
  CHECK(mx > 0.9 * limit);
  CHECK(std::abs(sum / 600) < 0.05);
  for (int i = 0; i < 30; ++i) {
    CHECK(m.weights()[1].data[i] == 0.f);  // bias
    CHECK(m.weights()[2].data[i] == 1.f);  // gamma
    CHECK(m.weights()[5].data[i] == 1.f);  // moving_variance
  }
}

TEST_CASE("BatchNormalization: batch statistics in training, moving statistics at inference", "[layers][bn]") {
  BatchNormalization bn;
  bn.set_name("bn");
  bn.build({1});
  Context ctx;
  bn.prepare(2, ctx);
  std::vector<float> gamma{2}, beta{1}, mmean{0}, mvar{1}, gg{0}, gb{0};
  bn.bind({gamma.data(), beta.data(), mmean.data(), mvar.data()}, {gg.data(), gb.data(), nullptr, nullptr});
  Tensor x = make({2, 1}, {1, 3});  // mean 2, biased variance 1
  Tensor y({2, 1});
  bn.forward(ctx, x, y, true);
  const float s = float(1 / std::sqrt(1 + 1e-3));
  CHECK(y.data()[0] == Catch::Detail::Approx(2 * -1 * s + 1));
  CHECK(y.data()[1] == Catch::Detail::Approx(2 * 1 * s + 1));
  CHECK(mmean[0] == Catch::Detail::Approx(0.02));  // 0 * 0.99 + 2 * 0.01
  CHECK(mvar[0] == Catch::Detail::Approx(1.0));    // 1 * 0.99 + 1 * 0.01
  mmean[0] = 1;
  mvar[0] = 4;
  bn.forward(ctx, x, y, false);
  CHECK(y.data()[0] == Catch::Detail::Approx(2 * (1 - 1) / std::sqrt(4 + 1e-3) + 1));
  CHECK(y.data()[1] == Catch::Detail::Approx(2 * (3 - 1) / std::sqrt(4 + 1e-3) + 1));
  CHECK(mmean[0] == 1.f);  // inference leaves the moving statistics alone
}

TEST_CASE("Dropout: inverted scaling, identity at inference, masks independent of the batch split", "[layers][dropout]") {
  Dropout d(0.25);
  d.set_name("dropout");
  d.build({50});
  const auto xv = test::random_vecf(8 * 50, 3, 0.5f, 1.5f);
  Tensor x = make({8, 50}, xv), y({8, 50});
  Context ctx;
  ctx.key = {42, 1, 3, 0};
  d.forward(ctx, x, y, false);
  CHECK(std::equal(xv.begin(), xv.end(), y.data()));
  d.forward(ctx, x, y, true);
  int dropped = 0;
  for (int i = 0; i < 400; ++i) {
    if (y.data()[i] == 0.f)
      ++dropped;
    else
      CHECK(y.data()[i] == Catch::Detail::Approx(xv[i] / 0.75f));
  }
  CHECK(dropped > 60);
  CHECK(dropped < 140);
  // The same global rows in two slices (rows 0..2 and 3..7) get the same masks.
  Tensor y1({3, 50}), y2({5, 50});
  Tensor x1 = x.rows(0, 3), x2 = x.rows(3, 5);
  ctx.key.row_offset = 0;
  d.forward(ctx, x1, y1, true);
  ctx.key.row_offset = 3;
  d.forward(ctx, x2, y2, true);
  CHECK(std::equal(y1.data(), y1.data() + 150, y.data()));
  CHECK(std::equal(y2.data(), y2.data() + 250, y.data() + 150));
  CHECK_THROWS_WITH(Dropout(1.0), "Dropout rate must be in [0, 1), got 1");
}

TEST_CASE("bad layer configurations are clear errors", "[layers]") {
  CHECK_THROWS_WITH(Dense(0), "Dense units must be >= 1, got 0");
  CHECK_THROWS_WITH(
      activation_from_name("gelu_approximate"),
      "unknown activation 'gelu_approximate' (supported: linear, relu, sigmoid, tanh, softmax, elu, selu, "
      "softplus, softsign, relu6, exponential, leaky_relu, gelu, silu (swish), mish, hard_silu "
      "(hard_swish))");
  for (const std::string name : {"elu", "selu", "softplus", "softsign", "relu6", "exponential", "leaky_relu", "gelu",
                                 "silu", "mish", "hard_silu"})
    CHECK(activation_name(activation_from_name(name)) == name);
  CHECK(activation_from_name("swish") == Activation::silu);  // Keras's other names; Keras 3 writes these
  CHECK(activation_from_name("hard_swish") == Activation::hard_silu);
  CHECK(activation_from_name("leaky_relu").alpha == 0.2f);  // Keras 3's activations.leaky_relu
  CHECK_THROWS_WITH(Dense(3, Activation(Activation::leaky_relu, 0.3f)),
                    "Dense's activation leaky_relu(negative_slope=0.3) has a setting of its own: Keras puts that in a "
                    "layer after it");
  Sequential m("tiny");
  Conv2DConfig c;
  c.kh = c.kw = 5;
  m.add(std::make_unique<Conv2D>(c));
  CHECK_THROWS_WITH(m.build({3, 3, 1}, 0),
                    Catch::Contains("would produce an empty output (-1, -1, 1) from input (3, 3, 1)") ||
                        Catch::Contains("would produce an empty output (0, 0, 1) from input (3, 3, 1)"));
}

using test::check_model_gradients;

TEST_CASE("whole-model gradients (float) match finite differences of the loss", "[layers][grad][sequential]") {
  Sequential m("gradnet");
  Conv2DConfig c;
  c.filters = 3;
  c.kh = c.kw = 2;
  c.same = true;
  c.activation = Activation::tanh;
  m.add(std::make_unique<Conv2D>(c));
  m.add(std::make_unique<BatchNormalization>());
  m.add(AveragePooling2D());
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(5, Activation::sigmoid));
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  check_model_gradients(m, {4, 4, 2});
}

TEST_CASE("whole-model gradients through kept pre-activations (gelu, silu, mish)", "[layers][grad][sequential]") {
  // Smooth activations only: central differences across a kink (leaky_relu's, hard_silu's) are not
  // the gradient; those are checked in double precision in test_gradcheck.
  Sequential m("gradnet2");
  Conv2DConfig c;
  c.filters = 3;
  c.kh = c.kw = 2;
  c.same = true;
  c.activation = Activation::gelu;
  m.add(std::make_unique<Conv2D>(c));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(6, Activation::silu));
  m.add(std::make_unique<ActivationLayer>(Activation::mish));  // from its input, which the model keeps
  m.add(std::make_unique<Dense>(5, Activation::mish, false));
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  check_model_gradients(m, {3, 3, 2});
  CHECK(m.layers()[2]->config_str() == "units=6, activation=silu");
}

TEST_CASE(
    "whole-model gradients through ZeroPadding2D, DepthwiseConv2D, Cropping2D, SeparableConv2D, UpSampling2D, "
    "GlobalMaxPooling2D",
    "[layers][grad][sequential]") {
  Sequential m("mobile");
  m.add(std::make_unique<Padding2D>(false, Padding2DConfig{0, 1, 0, 1}));
  DepthwiseConv2DConfig d;
  d.sh = d.sw = 2;
  d.depth_multiplier = 2;
  d.activation = Activation::tanh;
  m.add(std::make_unique<DepthwiseConv2D>(d));
  m.add(std::make_unique<Padding2D>(true, Padding2DConfig{1, 0, 0, 1}));
  DepthwiseConv2DConfig s;
  s.same = true;
  s.activation = Activation::gelu;  // its pre-activation kept
  m.add(std::make_unique<DepthwiseConv2D>(s));
  SeparableConv2DConfig sep;
  sep.filters = 3;
  sep.kh = sep.kw = 2;
  sep.same = true;
  sep.depth_multiplier = 2;
  sep.activation = Activation::tanh;
  m.add(std::make_unique<SeparableConv2D>(sep));
  m.add(std::make_unique<UpSampling2D>(2, 1));
  m.add(std::make_unique<GlobalMaxPooling2D>(true));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  check_model_gradients(m, {6, 5, 2});
  std::vector<std::string> got;
  for (auto& l : m.layers()) got.push_back(l->name() + " " + shape_str(l->output_shape()) + " " + l->config_str());
  CHECK(got == std::vector<std::string>{
                   "zero_padding2d (7, 6, 2) padding=((0, 1), (0, 1))",
                   "depthwise_conv2d (3, 2, 4) kernel_size=(3, 3), strides=(2, 2), padding=valid, depth_multiplier=2, "
                   "activation=tanh",
                   "cropping2d (2, 1, 4) cropping=((1, 0), (0, 1))",
                   "depthwise_conv2d_1 (2, 1, 4) kernel_size=(3, 3), strides=(1, 1), padding=same, "
                   "depth_multiplier=1, activation=gelu",
                   "separable_conv2d (2, 1, 3) filters=3, kernel_size=(2, 2), strides=(1, 1), padding=same, "
                   "depth_multiplier=2, activation=tanh",
                   "up_sampling2d (4, 1, 3) size=(2, 1)", "global_max_pooling2d (1, 1, 3) keepdims=True",
                   "flatten (3,) ", "dense (4,) units=4, activation=softmax"});
}

TEST_CASE("DepthwiseConv1D and SeparableConv1D: the 2-D ones on one-row images; gradients, Keras's shapes, files",
          "[layers][grad][sequential]") {
  Sequential m("sep1d");
  DepthwiseConv2DConfig d;
  d.spatial = 1;
  d.kh = d.sh = d.dh = 1;
  d.kw = 3;
  d.sw = 2;
  d.depth_multiplier = 2;
  d.activation = Activation::tanh;
  m.add(std::make_unique<DepthwiseConv2D>(d));  // (9, 2) -> (4, 4)
  SeparableConv2DConfig s;
  s.spatial = 1;
  s.kh = s.sh = s.dh = 1;
  s.filters = 3;
  s.kw = 2;
  s.dw = 2;
  s.same = true;
  s.activation = Activation::gelu;              // its pre-activation kept
  m.add(std::make_unique<SeparableConv2D>(s));  // (4, 3)
  DepthwiseConv2DConfig u = d;
  u.sw = 1;
  u.same = true;
  u.depth_multiplier = 1;
  u.use_bias = false;
  u.activation = Activation::linear;
  m.add(std::make_unique<DepthwiseConv2D>(u));  // (4, 3)
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  check_model_gradients(m, {9, 2});
  std::vector<std::string> got;
  for (auto& l : m.layers()) got.push_back(l->name() + " " + shape_str(l->output_shape()) + " " + l->config_str());
  CHECK(got == std::vector<std::string>{
                   "depthwise_conv1d (4, 4) kernel_size=3, strides=2, padding=valid, depth_multiplier=2, "
                   "activation=tanh",
                   "separable_conv1d (4, 3) filters=3, kernel_size=2, strides=1, padding=same, dilation_rate=2, "
                   "depth_multiplier=1, activation=gelu",
                   "depthwise_conv1d_1 (4, 3) kernel_size=3, strides=1, padding=same, depth_multiplier=1, "
                   "activation=linear",
                   "flatten (12,) ", "dense (4,) units=4, activation=softmax"});
  CHECK(m.layers()[0]->class_name() == "DepthwiseConv1D");
  CHECK(m.layers()[1]->class_name() == "SeparableConv1D");
  CHECK(m.weights()[0].spec.shape == Shape{3, 2, 2});  // Keras's (k, in, depth_multiplier)
  CHECK(m.weights()[2].spec.shape == Shape{2, 4, 1});
  CHECK(m.weights()[3].spec.shape == Shape{1, 4, 3});  // (1, in * depth_multiplier, filters)
  // Against the 2-D layers on (1, steps, channels) images with the same weights.
  Sequential two("two");
  DepthwiseConv2DConfig d2 = d;
  d2.spatial = 2;
  two.add(std::make_unique<DepthwiseConv2D>(d2));
  SeparableConv2DConfig s2 = s;
  s2.spatial = 2;
  two.add(std::make_unique<SeparableConv2D>(s2));
  two.build({1, 9, 2}, 7);
  Sequential one("one");
  one.add(std::make_unique<DepthwiseConv2D>(d));
  one.add(std::make_unique<SeparableConv2D>(s));
  one.build({9, 2}, 8);
  REQUIRE(one.num_params() == two.num_params());
  std::copy(two.params(), two.params() + two.num_params(), one.params());
  const std::vector<float> xv = test::random_vecf(2 * 9 * 2, 3);
  Tensor x1({2, 9, 2}), x2({2, 1, 9, 2});
  std::copy(xv.begin(), xv.end(), x1.data());
  std::copy(xv.begin(), xv.end(), x2.data());
  Context ctx;
  one.prepare(2);
  two.prepare(2);
  const Tensor y1 = one.forward(ctx, x1, false), y2 = two.forward(ctx, x2, false);
  REQUIRE(y1.numel() == y2.numel());
  for (int64_t i = 0; i < y1.numel(); ++i) CHECK(y1.data()[i] == y2.data()[i]);
  const std::string dir = test::temp_dir("sep1d");
  for (const auto& loaded : test::check_file_round_trips(m, dir))
    for (size_t i = 0; i < m.layers().size(); ++i) {
      CHECK(loaded->layers()[i]->class_name() == m.layers()[i]->class_name());
      CHECK(loaded->layers()[i]->config_str() == m.layers()[i]->config_str());
    }
  std::filesystem::remove_all(dir);
  Sequential bad("bad");
  bad.add(std::make_unique<DepthwiseConv2D>(d));
  CHECK_THROWS_WITH(bad.build({9, 9, 2}, 1),
                    "DepthwiseConv1D expects inputs of shape (steps, channels), got (9, 9, 2)");
}

TEST_CASE("a graph of layers (residual Add, a second branch from the input, Concatenate, Add(x, x)): gradients",
          "[layers][grad][sequential][graph]") {
  Sequential m("graph");
  Conv2DConfig c;
  c.filters = 3;
  c.kh = c.kw = 2;
  c.same = true;
  c.activation = Activation::tanh;
  m.add(std::make_unique<Conv2D>(c));  // 0: reads the input
  Conv2DConfig p = c;
  p.kh = p.kw = 1;
  p.activation = Activation::linear;
  m.add(std::make_unique<Conv2D>(p));      // 1
  m.add(std::make_unique<Add>(), {0, 1});  // 2: the residual
  Conv2DConfig b = c;
  b.filters = 2;
  b.activation = Activation::silu;
  m.add(std::make_unique<Conv2D>(b), {-1});        // 3: a second branch from the input
  m.add(std::make_unique<Concatenate>(), {2, 3});  // 4: (4, 4, 5)
  m.add(std::make_unique<Add>(), {4, 4});          // 5: one input twice
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  CHECK_FALSE(m.is_chain());
  check_model_gradients(m, {4, 4, 2});
  CHECK(m.layers()[4]->output_shape() == Shape{4, 4, 5});
  {  // Subtract, Multiply (of three inputs, one of them twice) and Average
    Sequential e("elementwise");
    e.add(std::make_unique<Dense>(5, Activation::tanh));                               // 0
    e.add(std::make_unique<Dense>(5, Activation::sigmoid), {-1});                      // 1
    e.add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::subtract), {0, 1});     // 2
    e.add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::multiply), {2, 0, 0});  // 3
    e.add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::average), {3, 1, 2});   // 4
    e.add(std::make_unique<Dense>(4, Activation::softmax));
    check_model_gradients(e, {6});
    CHECK(e.layers()[3]->class_name() == "Multiply");
    Context c;
    Tensor ex({3, 6});
    for (int64_t i = 0; i < ex.numel(); ++i) ex.data()[i] = float(std::cos(0.7 * double(i)));
    e.forward(c, ex, false);
    const float a = e.output_of(0).data()[7], b = e.output_of(1).data()[7];
    CHECK(e.output_of(4).data()[7] == Approx(((a - b) * a * a + b + (a - b)) / 3));
    Sequential two("two");
    two.add(std::make_unique<Dense>(5));
    two.add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::subtract), {0, 0, -1});
    CHECK_THROWS_WITH(two.build({5}, 1), "layer 'subtract' (Subtract) takes exactly 2 inputs, got 3");
  }
  // Keras's summary of a graph: its InputLayer row and the "Connected to" column.
  const std::string table = m.summary();
  CHECK_THAT(table,
             Catch::Contains(" Layer (type)                Output Shape              Param #     Connected to\n"));
  CHECK_THAT(table, Catch::Contains(" input_layer (InputLayer)    (None, 4, 4, 2)           0           []\n"));
  CHECK_THAT(table,
             Catch::Contains(" add (Add)                   (None, 4, 4, 3)           0           [conv2d[0][0],\n"
                             "                                                                    conv2d_1[0][0]]\n"));
  CHECK_THAT(table, Catch::Contains(
                        " conv2d_2 (Conv2D)           (None, 4, 4, 2)           18          [input_layer[0][0]]\n"));
  // The forward by hand at one value: 2 * concat(conv0 + conv1, conv3)
  Context ctx;
  Tensor x({3, 4, 4, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = float(std::sin(0.3 * double(i)));
  m.forward(ctx, x, false);
  const Tensor o0 = m.output_of(0), o1 = m.output_of(1), o3 = m.output_of(3), o5 = m.output_of(5);
  CHECK(o5.data()[7 * 5 + 1] == Approx(2 * (o0.data()[7 * 3 + 1] + o1.data()[7 * 3 + 1])));
  CHECK(o5.data()[7 * 5 + 4] == Approx(2 * o3.data()[7 * 2 + 1]));
  // An unread layer, a merge layer of one input, a layer reading a later one: errors
  Sequential bad("bad");
  bad.add(std::make_unique<Dense>(3));
  bad.add(std::make_unique<Dense>(3), {-1});
  CHECK_THROWS_WITH(bad.build({4}, 1),
                    "model 'bad': nothing reads the output of layer 'dense', and only the last "
                    "layer is the model's output");
  Sequential one("one");
  one.add(std::make_unique<Dense>(3));
  one.add(std::make_unique<Add>(), {0});
  CHECK_THROWS_WITH(one.build({4}, 1), "layer 'add' (Add) needs at least 2 inputs, got 1");
  CHECK_THROWS_WITH(one.add(std::make_unique<Dense>(3), {5}),
                    "layer 2 of model 'one' reads layer 5, which is not an earlier layer (or -1, the input)");
  CHECK_THROWS_WITH(one.add(std::make_unique<Dense>(3), {0, 1}),
                    "layer 2 (Dense) of model 'one' takes one input, not 2");
}

TEST_CASE("Dot: Keras's batch_dot by hand, its cosine, gradients, replicas and errors", "[layers][grad][graph][dot]") {
  // Vectors: the dot product, and with normalize their cosine.
  auto vec = [](bool normalize) {
    auto m = std::make_unique<Sequential>("vec");
    m->add(std::make_unique<Dense>(3), {-1});
    m->add(std::make_unique<Dense>(3), {-1});
    m->add(std::make_unique<Dot>(std::vector<int64_t>{1}, normalize, false), {0, 1});
    m->build({3}, 4);
    return m;
  };
  Context ctx;
  Tensor x({2, 3});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = float(std::sin(1.3 * double(i) + 0.2));
  for (bool normalize : {false, true}) {
    auto m = vec(normalize);
    CHECK(m->output_shape() == Shape{1});
    m->prepare(2);
    const Tensor y = m->forward(ctx, x, false);
    for (int64_t n = 0; n < 2; ++n) {
      const float* a = m->output_of(0).data() + n * 3;
      const float* b = m->output_of(1).data() + n * 3;
      double d = 0, na = 0, nb = 0;
      for (int k = 0; k < 3; ++k) {
        d += double(a[k]) * b[k];
        na += double(a[k]) * a[k];
        nb += double(b[k]) * b[k];
      }
      CHECK(y.data()[n] == Approx(normalize ? d / std::sqrt(na * nb) : d).epsilon(1e-6));
    }
  }
  // (steps, features) inputs: Dot(axes=2) is a @ b^T a sample, Dot(axes=(2, 1)) s @ a, and
  // Dot(axes=1) sums over the steps: a^T b.
  auto m = test::dot_net(3);
  CHECK(m->layers()[2]->output_shape() == Shape{6, 6});
  CHECK(m->layers()[3]->output_shape() == Shape{6, 5});
  CHECK(m->layers()[4]->output_shape() == Shape{5, 5});
  CHECK(m->layers()[9]->output_shape() == Shape{1});
  CHECK(m->layers()[3]->config_str() == "axes=(2, 1)");
  CHECK(m->layers()[9]->config_str() == "axes=-1, normalize=True");
  Tensor xs({2, 6, 4});
  for (int64_t i = 0; i < xs.numel(); ++i) xs.data()[i] = float(std::cos(0.37 * double(i)));
  m->prepare(2);
  m->forward(ctx, xs, false);
  const int64_t n = 1;
  const float* a = m->output_of(0).data() + n * 30;
  const float* b = m->output_of(1).data() + n * 30;
  const float* s = m->output_of(2).data() + n * 36;
  const float* sa = m->output_of(3).data() + n * 30;
  const float* c = m->output_of(4).data() + n * 25;
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) {
      double v = 0;
      for (int k = 0; k < 5; ++k) v += double(a[i * 5 + k]) * b[j * 5 + k];
      CHECK(s[i * 6 + j] == Approx(v).epsilon(1e-6));
    }
  for (int i = 0; i < 6; ++i)
    for (int f = 0; f < 5; ++f) {
      double v = 0;
      for (int j = 0; j < 6; ++j) v += double(s[i * 6 + j]) * a[j * 5 + f];
      CHECK(sa[i * 5 + f] == Approx(v).epsilon(1e-5));
    }
  for (int p = 0; p < 5; ++p)
    for (int q = 0; q < 5; ++q) {
      double v = 0, np = 0, nq = 0;
      for (int t = 0; t < 6; ++t) {
        v += double(a[t * 5 + p]) * b[t * 5 + q];
        np += double(a[t * 5 + p]) * a[t * 5 + p];
        nq += double(b[t * 5 + q]) * b[t * 5 + q];
      }
      CHECK(c[p * 5 + q] == Approx(v / std::sqrt(np * nq)).epsilon(1e-5));
    }
  auto g = test::dot_net(5);
  check_model_gradients(*g, {6, 4});
  // Through Keras's files: the settings (a pair of axes written back as a pair) and every weight.
  const std::string dir = test::temp_dir("dot");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i) {
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
      CHECK(loaded->inputs()[i] == m->inputs()[i]);
    }
  std::filesystem::remove_all(dir);
  // 3 CPU replicas train as one device.
  Dataset data = make_synthetic({6, 4}, 4, 30, 5);
  const double d = test::replicas_vs_one([] { return test::dot_net(11); }, data, 3, 10);
  std::printf("equivalence dot-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
  // Errors: a third input, the batch axis, sizes that differ, samples of 3 axes.
  auto build = [](std::vector<int64_t> axes, bool pair, const Shape& in, std::vector<int> reads = {0, 1}) {
    Sequential e("e");
    e.add(std::make_unique<Dense>(3), {-1});
    e.add(std::make_unique<Dense>(4), {-1});
    e.add(std::make_unique<Dot>(axes, false, pair), reads);
    e.build(in, 1);
  };
  CHECK_THROWS_WITH(build({1}, false, {2}, {0, 0, 0}), "layer 'dot' (Dot) takes exactly 2 inputs, got 3");
  CHECK_THROWS_WITH(build({1}, false, {2}),
                    "layer 'dot' (Dot) axes=1: the inputs' dot axes differ in size (input 0 (None, 3) has 3, input 1 "
                    "(None, 4) has 4)");
  CHECK_THROWS_WITH(
      build({0}, false, {2}),
      "layer 'dot' (Dot) axes=0: input 0 of shape (None, 3) has no axis 0 to sum over (axis 0 is the batch)");
  CHECK_THROWS_WITH(build({1, 3}, true, {5, 2}),
                    "layer 'dot' (Dot) axes=(1, 3): input 1 of shape (None, 5, 4) has no axis 3");
  CHECK_THROWS_WITH(build({-1}, false, {2, 2, 2}),
                    "layer 'dot' (Dot): input 0 has samples of shape (2, 2, 3); dptrain's Dot takes samples of 1 or 2 "
                    "axes (Keras tensors of rank 2 or 3)");
}

TEST_CASE("activations with a setting of their own are Keras's LeakyReLU, ELU and ReLU layers", "[layers]") {
  Sequential m("set");
  m.add(std::make_unique<ActivationLayer>(Activation(Activation::leaky_relu, 0.3f)));
  m.add(std::make_unique<ActivationLayer>(Activation(Activation::elu, 0.5f)));
  m.add(std::make_unique<ActivationLayer>(Activation(Activation::relu6, 2.5f)));
  m.add(std::make_unique<ActivationLayer>(Activation::leaky_relu));  // activations.leaky_relu's 0.2
  m.build({4}, 1);
  std::vector<std::string> got;
  for (auto& l : m.layers()) got.push_back(l->name() + " " + l->class_name() + " " + l->config_str());
  CHECK(got == std::vector<std::string>{"leaky_re_lu LeakyReLU activation=leaky_relu(negative_slope=0.3)",
                                        "elu ELU activation=elu(alpha=0.5)",
                                        "re_lu ReLU activation=relu(max_value=2.5)",
                                        "activation Activation activation=leaky_relu"});
  m.prepare(2);
  Context ctx;
  Tensor x = make({2, 4}, {-2, -0.5f, 1, 3, 4, -1, 0.25f, -8});
  Tensor y = m.forward(ctx, x, false);
  // leaky 0.3, then elu 0.5 (x <= 0: 0.5 (e^x - 1)), then the cap at 2.5, then leaky 0.2
  std::vector<float> want;
  for (float v : std::vector<float>{-2, -0.5f, 1, 3, 4, -1, 0.25f, -8}) {
    float a = v > 0 ? v : 0.3f * v;
    a = a > 0 ? a : 0.5f * std::expm1(a);
    a = a > 0 ? std::min(a, 2.5f) : 0.f;
    want.push_back(a);
  }
  for (size_t i = 0; i < want.size(); ++i) CHECK(y.data()[i] == Approx(want[i]).margin(1e-7));
}

TEST_CASE("Keras's EinsumDense: one matrix product (Dense's) over its contracted axes; gradients, files, refusals",
          "[layers][grad][sequential]") {
  Sequential m("einsum");
  m.add(std::make_unique<EinsumDense>("abc,cde->abde", std::vector<int64_t>{-1, 2, 3}, "de", Activation::tanh));
  m.add(std::make_unique<EinsumDense>("abcd,cde->abe", std::vector<int64_t>{-1, 5}, "e"));
  m.add(std::make_unique<EinsumDense>("...b,bc->...c", std::vector<int64_t>{4}, "", Activation::gelu));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<EinsumDense>("ab,bc->ac", std::vector<int64_t>{4}, "c", Activation::softmax));
  check_model_gradients(m, {6, 4});
  std::vector<std::string> got;
  for (auto& l : m.layers()) got.push_back(l->name() + " " + shape_str(l->output_shape()) + " " + l->config_str());
  CHECK(got == std::vector<std::string>{
                   "einsum_dense (6, 2, 3) equation=abc,cde->abde, output_shape=(None, 2, 3), bias_axes=de, "
                   "activation=tanh",
                   "einsum_dense_1 (6, 5) equation=abcd,cde->abe, output_shape=(None, 5), bias_axes=e, "
                   "activation=linear",
                   "einsum_dense_2 (6, 4) equation=...b,bc->...c, output_shape=(4,), activation=gelu", "flatten (24,) ",
                   "einsum_dense_3 (4,) equation=ab,bc->ac, output_shape=(4,), bias_axes=c, activation=softmax"});
  // Keras's kernel and bias shapes: (contracted..., new...), (new...)
  CHECK(m.weights()[0].spec.shape == Shape{4, 2, 3});
  CHECK(m.weights()[1].spec.shape == Shape{2, 3});
  CHECK(m.weights()[2].spec.shape == Shape{2, 3, 5});
  CHECK(m.weights()[3].spec.shape == Shape{5});
  CHECK(m.weights()[4].spec.shape == Shape{5, 4});
  // "abcd,cde->abe" is Dense on the flattened contracted axes, with the same numbers.
  Sequential e("e"), d("d");
  e.add(std::make_unique<EinsumDense>("abcd,cde->abe", std::vector<int64_t>{-1, 5}, "e", Activation::tanh));
  e.build({3, 2, 4}, 1);
  d.add(std::make_unique<Reshape>(Shape{3, 8}));
  d.add(std::make_unique<Dense>(5, Activation::tanh));
  d.build({3, 2, 4}, 2);
  std::copy(e.params(), e.params() + e.num_params(), d.params());
  const std::vector<float> xv = test::random_vecf(2 * 24, 3);
  Tensor x({2, 3, 2, 4});
  std::copy(xv.begin(), xv.end(), x.data());
  Context ctx;
  e.prepare(2);
  d.prepare(2);
  const Tensor ye = e.forward(ctx, x, false), yd = d.forward(ctx, x, false);
  REQUIRE(ye.numel() == yd.numel());
  for (int64_t i = 0; i < ye.numel(); ++i) CHECK(ye.data()[i] == yd.data()[i]);
  const std::string dir = test::temp_dir("einsum");
  for (const auto& loaded : test::check_file_round_trips(m, dir))
    for (size_t i = 0; i < m.layers().size(); ++i)
      CHECK(loaded->layers()[i]->config_str() == m.layers()[i]->config_str());
  std::filesystem::remove_all(dir);
  // What is not one matrix product, and Keras's own checks.
  const std::string form =
      "dptrain runs EinsumDense equations that are one matrix product: the input's axes kept (the batch first), then "
      "the contracted ones; the kernel's contracted axes in the input's order, then the new ones; the output's the "
      "kept "
      "axes, then the new ones in the kernel's order (as 'abc,cd->abd', 'abc,cde->abde', 'abcd,cde->abe', "
      "'...b,bc->...c'); got ";
  CHECK_THROWS_WITH(EinsumDense("abc,dc->abd", {-1, 4}, ""), form + "'abc,dc->abd'");
  CHECK_THROWS_WITH(EinsumDense("abc,cd->adb", {4, -1}, ""), form + "'abc,cd->adb'");
  CHECK_THROWS_WITH(EinsumDense("abc,bcd->abd", {-1, 4}, ""), form + "'abc,bcd->abd'");
  CHECK_THROWS_WITH(EinsumDense("abb,bc->abc", {-1, 4}, ""), form + "'abb,bc->abc' (a letter twice in one operand)");
  CHECK_THROWS_WITH(EinsumDense("abc,cde->abde", {-1, 2, 3}, "e"),
                    "EinsumDense bias_axes 'e' of equation 'abc,cde->abde': dptrain adds a bias over every new axis "
                    "('de') or none");
  CHECK_THROWS_WITH(EinsumDense("abc,cd->abd", {-1, -1}, ""),
                    "EinsumDense output_shape must give the size of new axis 'd' of equation 'abc,cd->abd', got None");
  Sequential bad("bad");
  bad.add(std::make_unique<EinsumDense>("abc,cd->abd", std::vector<int64_t>{7, 4}, "d"));
  CHECK_THROWS_WITH(bad.build({6, 3}, 1),
                    "EinsumDense equation 'abc,cd->abd': the input and output_shape differ at axis 'b' (6 and 7)");
}
