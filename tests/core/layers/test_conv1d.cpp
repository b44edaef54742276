// Keras's 1-D layers (Conv1D with valid/same/causal padding, strides and dilation; ZeroPadding1D,
// Cropping1D, UpSampling1D; MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D,
// GlobalMaxPooling1D) as the 2-D ones over (1, steps, channels): output sizes, causality by hand,
// whole-model gradients, Keras's files.
#include <catch2/catch.hpp>
#include <filesystem>
#include "core/layers/conv1d.h"
#include "core/layers/dense.h"
#include "core/layers/merge.h"
#include "core/layers/padding.h"
#include "core/layers/pooling.h"
#include "core/sequential.h"
#include "test_util.h"

using namespace dpt;

namespace {
Conv2DConfig c1(int64_t filters, int64_t k, int64_t s = 1, int64_t d = 1, bool same = false,
                Activation a = Activation::linear) {
  Conv2DConfig c;
  c.filters = filters;
  c.kw = k;
  c.sw = s;
  c.dw = d;
  c.same = same;
  c.activation = a;
  return c;
}
Pool2DConfig p1(int64_t size, int64_t stride = 0, bool same = false) {
  Pool2DConfig p;
  p.pw = size;
  p.sw = stride;
  p.same = same;
  return p;
}
}  // namespace

TEST_CASE("Conv1D: Keras's output sizes (valid, same, causal), kernel (k, in, filters), names", "[layers][conv1d]") {
  struct Case {
    Conv2DConfig cfg;
    bool causal;
    int64_t steps;
  };
  // On (10, 3): valid (10 - span) / s + 1; same ceil(10 / s); causal ceil(10 / s) too.
  for (const Case& c : {Case{c1(4, 3), false, 8}, Case{c1(4, 3, 2, 1, true), false, 5}, Case{c1(4, 3, 1, 2), true, 10},
                        Case{c1(4, 3, 3), true, 4}, Case{c1(4, 2, 1, 3), false, 7}}) {
    Conv1D l(c.cfg, c.causal);
    l.set_name("c");
    CHECK(l.build({10, 3}) == Shape{c.steps, 4});
    CHECK(l.params()[0].shape == Shape{c.cfg.kw, 3, 4});
  }
  Conv1D causal(c1(2, 3, 1, 2, false, Activation::relu), true);
  CHECK(causal.default_name() == "conv1d");
  CHECK(causal.config_str() == "filters=2, kernel_size=3, strides=1, padding=causal, dilation_rate=2, activation=relu");
  CHECK_THROWS_WITH(Conv1D(c1(2, 3, 2, 2), false), Catch::Contains("Conv1D: strides > 1 are not supported with "
                                                                   "dilation_rate > 1"));
  Pool2D pool(true, p1(3, 2, true), 1);
  CHECK(pool.class_name() == "MaxPooling1D");
  CHECK(pool.build({10, 3}) == Shape{5, 3});
  CHECK(pool.config_str() == "pool_size=3, strides=2, padding=same");
  GlobalPooling2D gap(false, true, 1);
  CHECK(gap.class_name() == "GlobalAveragePooling1D");
  CHECK(gap.build({10, 3}) == Shape{1, 3});
  Padding2D pad(false, Padding2DConfig{0, 0, 2, 1}, 1), crop(true, Padding2DConfig{0, 0, 1, 3}, 1);
  CHECK(pad.class_name() == "ZeroPadding1D");
  CHECK(pad.build({10, 3}) == Shape{13, 3});
  CHECK(pad.config_str() == "padding=(2, 1)");
  CHECK(crop.class_name() == "Cropping1D");
  CHECK(crop.build({10, 3}) == Shape{6, 3});
  UpSampling2D up(1, 3, 1);
  CHECK(up.class_name() == "UpSampling1D");
  CHECK(up.build({10, 3}) == Shape{30, 3});
  CHECK(up.config_str() == "size=3");
  CHECK_THROWS_WITH(Pool2D(false, p1(2), 1).build({4, 4, 3}),
                    "AveragePooling1D expects inputs of shape (steps, channels), got (4, 4, 3)");
}

TEST_CASE("Conv1D causal: step t sees x[t - (k-1)*d], ..., x[t] alone", "[layers][conv1d]") {
  Conv1D l(c1(1, 3, 1, 2), true);
  l.set_name("c");
  l.build({7, 1});
  std::vector<float> kernel{1.f, 10.f, 100.f}, bias{0.5f}, dk(3), db(1);
  l.bind({kernel.data(), bias.data()}, {dk.data(), db.data()});
  Context ctx;
  l.prepare(1, ctx);
  Tensor work({std::max<int64_t>(l.workspace_elems(1), 1)});
  l.set_workspace(work.data(), work.numel());
  Tensor x({1, 7, 1}), y({1, 7, 1});
  for (int t = 0; t < 7; ++t) x.data()[t] = float(t + 1);
  l.forward(ctx, x, y, false);
  for (int t = 0; t < 7; ++t) {  // taps at t - 4, t - 2, t (zeros before the sequence)
    const float a = t >= 4 ? x.data()[t - 4] : 0.f, b = t >= 2 ? x.data()[t - 2] : 0.f;
    CHECK(y.data()[t] == Approx(a * 1 + b * 10 + x.data()[t] * 100 + 0.5));
  }
}

TEST_CASE("whole-model gradients through Conv1D (causal, dilated, strided) and the 1-D pooling layers",
          "[layers][grad][conv1d]") {
  Sequential m("seq");
  m.add(std::make_unique<Conv1D>(c1(4, 3, 1, 2, false, Activation::tanh), true));  // (12, 4)
  m.add(std::make_unique<Padding2D>(false, Padding2DConfig{0, 0, 1, 2}, 1));       // (15, 4)
  m.add(std::make_unique<Conv1D>(c1(4, 3, 2, 1, true, Activation::tanh), false));  // (8, 4)
  m.add(std::make_unique<UpSampling2D>(1, 2, 1));                                  // (16, 4)
  m.add(std::make_unique<Padding2D>(true, Padding2DConfig{0, 0, 3, 1}, 1));        // (12, 4)
  m.add(std::make_unique<Pool2D>(false, p1(2, 1, true), 1));                       // (12, 4)
  m.add(std::make_unique<Pool2D>(true, p1(4), 1));                                 // (3, 4)
  m.add(std::make_unique<GlobalPooling2D>(false, false, 1), {6});                  // (4,)
  m.add(std::make_unique<GlobalPooling2D>(true, false, 1), {6});                   // (4,)
  m.add(std::make_unique<Add>(), {7, 8});
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  m.build({12, 2}, 9);
  CHECK(m.layers()[6]->output_shape() == Shape{3, 4});
  test::check_model_gradients(m, {12, 2});
}

TEST_CASE("Conv1D and the 1-D pooling layers through Keras's files", "[layers][conv1d][io]") {
  Sequential m("seq");
  m.add(std::make_unique<Conv1D>(c1(3, 3, 1, 2, false, Activation::relu), true));
  m.add(std::make_unique<Pool2D>(true, p1(2), 1));
  m.add(std::make_unique<Padding2D>(false, Padding2DConfig{0, 0, 1, 2}, 1));
  m.add(std::make_unique<UpSampling2D>(1, 3, 1));
  m.add(std::make_unique<Padding2D>(true, Padding2DConfig{0, 0, 2, 0}, 1));
  m.add(std::make_unique<Conv1D>(c1(2, 2, 2, 1, true), false));
  m.add(std::make_unique<GlobalPooling2D>(false, false, 1));
  m.add(std::make_unique<Dense>(3, Activation::softmax));
  m.build({9, 2}, 1);
  const std::string dir = test::temp_dir("conv1d");
  for (const auto& loaded : test::check_file_round_trips(m, dir)) {
    for (size_t i = 0; i < m.layers().size(); ++i) {
      CHECK(loaded->layers()[i]->class_name() == m.layers()[i]->class_name());
      CHECK(loaded->layers()[i]->config_str() == m.layers()[i]->config_str());
      CHECK(loaded->layers()[i]->output_shape() == m.layers()[i]->output_shape());
    }
  }
  std::filesystem::remove_all(dir);
}
