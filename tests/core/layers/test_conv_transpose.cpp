// Conv2DTranspose (core/layers/conv2d_transpose): Keras's output sizes and kernel shape, whole-model
// gradients, and its settings and weights through Keras's file formats. Its arithmetic against
// its definition: tests/kernels/test_gradcheck.cpp.
#include <catch2/catch.hpp>
#include <filesystem>
#include "core/layers/conv2d.h"
#include "core/layers/conv2d_transpose.h"
#include "core/layers/dense.h"
#include "core/layers/flatten.h"
#include "core/sequential.h"
#include "test_util.h"

using namespace dpt;

namespace {
Conv2DConfig tconv(int64_t filters, int64_t k, int64_t s, bool same, Activation a = Activation::linear, int64_t d = 1) {
  Conv2DConfig c;
  c.filters = filters;
  c.kh = c.kw = k;
  c.sh = c.sw = s;
  c.dh = c.dw = d;
  c.same = same;
  c.activation = a;
  return c;
}
}  // namespace

TEST_CASE("Conv2DTranspose: Keras's output sizes, kernel (kh, kw, filters, in), names", "[layers][transpose]") {
  struct Case {
    Conv2DConfig cfg;
    Shape out;
  };
  // On (4, 5, 3): 'same' multiplies by the stride; 'valid' adds max(span - stride, 0).
  for (const Case& c :
       {Case{tconv(6, 3, 2, true), {8, 10, 6}}, Case{tconv(6, 3, 2, false), {9, 11, 6}},
        Case{tconv(6, 2, 2, false), {8, 10, 6}}, Case{tconv(6, 4, 2, true), {8, 10, 6}},
        Case{tconv(6, 3, 1, false, Activation::linear, 2), {8, 9, 6}}, Case{tconv(6, 1, 3, false), {12, 15, 6}}}) {
    Conv2DTranspose l(c.cfg);
    l.set_name("t");
    CHECK(l.build({4, 5, 3}) == c.out);
    CHECK(l.params()[0].shape == Shape{c.cfg.kh, c.cfg.kw, 6, 3});
    CHECK(l.params()[1].shape == Shape{6});
  }
  Conv2DTranspose named(tconv(2, 3, 2, true, Activation::relu, 1));
  CHECK(named.default_name() == "conv2d_transpose");
  CHECK(named.config_str() == "filters=2, kernel_size=(3, 3), strides=(2, 2), padding=same, activation=relu");
  CHECK_THROWS_WITH(Conv2DTranspose(tconv(0, 3, 2, true)), "Conv2DTranspose filters must be >= 1, got 0");
  CHECK_THROWS_WITH(Conv2DTranspose(tconv(2, 3, 2, true, Activation::linear, 2)),
                    "Conv2DTranspose: strides > 1 are not supported with dilation_rate > 1 (as in Keras), got "
                    "strides=(2, 2) and dilation_rate=(2, 2)");
}

TEST_CASE("whole-model gradients through Conv2DTranspose (strides, 'same' and valid, dilation)",
          "[layers][grad][transpose]") {
  Sequential m("decoder");
  Conv2DConfig down = tconv(3, 3, 2, true, Activation::tanh);
  m.add(std::make_unique<Conv2D>(down));                                                 // (3, 3, 3)
  m.add(std::make_unique<Conv2DTranspose>(tconv(4, 3, 2, true, Activation::tanh)));      // (6, 6, 4)
  m.add(std::make_unique<Conv2DTranspose>(tconv(2, 2, 1, false, Activation::tanh, 2)));  // (8, 8, 2)
  m.add(std::make_unique<Conv2DTranspose>(tconv(2, 3, 2, false, Activation::sigmoid)));  // (17, 17, 2)
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  m.build({5, 6, 2}, 9);
  CHECK(m.layers()[3]->output_shape() == Shape{17, 17, 2});
  std::vector<std::string> names;
  for (auto& l : m.layers()) names.push_back(l->name());
  CHECK(names == std::vector<std::string>{"conv2d", "conv2d_transpose", "conv2d_transpose_1", "conv2d_transpose_2",
                                          "flatten", "dense"});
  test::check_model_gradients(m, {5, 6, 2});
}

TEST_CASE("Conv2DTranspose through Keras's files: settings and weights", "[layers][transpose][io]") {
  Sequential m("up");
  m.add(std::make_unique<Conv2DTranspose>(tconv(3, 3, 2, true, Activation::relu)));
  m.add(std::make_unique<Conv2DTranspose>(tconv(2, 2, 1, false, Activation::linear, 2)));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(3, Activation::softmax));
  m.build({3, 2, 2}, 1);
  const std::string dir = test::temp_dir("transpose");
  for (const auto& loaded : test::check_file_round_trips(m, dir)) {
    CHECK(loaded->layers()[0]->class_name() == "Conv2DTranspose");
    CHECK(loaded->layers()[0]->config_str() == m.layers()[0]->config_str());
    CHECK(loaded->layers()[1]->config_str() ==
          "filters=2, kernel_size=(2, 2), strides=(1, 1), padding=valid, dilation_rate=(2, 2), activation=linear");
    CHECK(loaded->layers()[1]->output_shape() == Shape{8, 6, 2});
  }
  std::filesystem::remove_all(dir);
}
