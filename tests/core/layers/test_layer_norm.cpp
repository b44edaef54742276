// LayerNormalization and RMSNormalization (core/layers/layer_norm): values by hand, weights' shapes
// and names as Keras makes them, the axes dptrain takes and the message for those it does not,
// whole-model gradients, and the layers' settings and weights through Keras's file formats.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include "core/error.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/flatten.h"
#include "core/layers/layer_norm.h"
#include "core/sequential.h"
#include "test_util.h"

using namespace dpt;

namespace {
LayerNormConfig norm(std::vector<int64_t> axis, bool center = true, bool scale = true, bool rms = false) {
  LayerNormConfig c;
  c.axis = std::move(axis);
  c.center = center;
  c.scale = scale;
  c.rms = rms;
  if (rms) c.epsilon = 1e-6;
  return c;
}
}  // namespace

TEST_CASE("LayerNormalization and RMSNormalization by hand: each row on its own, then gamma and beta",
          "[layers][layernorm]") {
  LayerNormalization ln(norm({-1}));
  ln.set_name("ln");
  ln.build({2, 4});
  REQUIRE(ln.params().size() == 2);
  CHECK(ln.params()[0].name == "gamma");
  CHECK(ln.params()[1].name == "beta");
  CHECK(ln.params()[0].shape == Shape{4});
  std::vector<float> gamma{1, 2, 1, 0.5f}, beta{0, 0, 1, -1}, dg(4), db(4);
  ln.bind({gamma.data(), beta.data()}, {dg.data(), db.data()});
  Context ctx;
  ln.prepare(1, ctx);
  Tensor x({1, 2, 4}), y({1, 2, 4});
  const float v[] = {1, 2, 3, 4, -3, 0, 0, 3};
  std::copy(v, v + 8, x.data());
  ln.forward(ctx, x, y, true);
  // row 0: mean 2.5, var 1.25; row 1: mean 0, var 4.5; eps 1e-3
  for (int r = 0; r < 2; ++r) {
    const double mean = r == 0 ? 2.5 : 0.0, var = r == 0 ? 1.25 : 4.5;
    for (int j = 0; j < 4; ++j)
      CHECK(y.data()[r * 4 + j] == Approx((v[r * 4 + j] - mean) / std::sqrt(var + 1e-3) * gamma[j] + beta[j]));
  }
  // RMSNormalization: x / sqrt(mean(x^2) + eps) * scale, the mean left in.
  LayerNormalization rms(norm({-1}, true, true, true));
  rms.set_name("rms");
  rms.build({3});
  REQUIRE(rms.params().size() == 1);
  CHECK(rms.params()[0].name == "scale");
  CHECK(rms.class_name() == "RMSNormalization");
  CHECK(rms.config_str() == "axis=-1, epsilon=1e-06");
  std::vector<float> scale{1, 2, 3}, ds(3);
  rms.bind({scale.data()}, {ds.data()});
  rms.prepare(1, ctx);
  Tensor a({1, 3}), b({1, 3});
  a.data()[0] = 1, a.data()[1] = 2, a.data()[2] = 2;  // mean square 3
  rms.forward(ctx, a, b, false);
  for (int j = 0; j < 3; ++j) CHECK(b.data()[j] == Approx(a.data()[j] / std::sqrt(3 + 1e-6) * scale[j]));
}

TEST_CASE("LayerNormalization's axes: the last ones, weights shaped as them; others refused, saying why",
          "[layers][layernorm]") {
  struct Case {
    std::vector<int64_t> axis;
    Shape params;
  };
  for (const Case& c :
       {Case{{-1}, {3}}, Case{{3}, {3}}, Case{{1, 2, 3}, {4, 5, 3}}, Case{{-1, -2}, {5, 3}}, Case{{2, -1}, {5, 3}}}) {
    LayerNormalization l(norm(c.axis));
    l.set_name("ln");
    CHECK(l.build({4, 5, 3}) == Shape{4, 5, 3});
    CHECK(l.params()[0].shape == c.params);
  }
  LayerNormalization no_weights(norm({-1}, false, false));
  no_weights.build({4});
  CHECK(no_weights.params().empty());
  LayerNormalization gamma_only(norm({-1}, false, true));
  gamma_only.build({4});
  REQUIRE(gamma_only.params().size() == 1);
  CHECK(gamma_only.params()[0].name == "gamma");
  CHECK(gamma_only.config_str() == "axis=-1, epsilon=0.001, center=False");
  auto error = [](std::vector<int64_t> axis) {
    LayerNormalization l(norm(std::move(axis)));
    l.set_name("ln");
    try {
      l.build({4, 5, 3});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK_THAT(error({1}), Catch::Contains("LayerNormalization 'ln': axis 1 of its input (4, 5, 3) is not supported: "
                                         "dptrain normalizes over a sample's last axes (-1, or [2, 3], ...), which "
                                         "must include the last"));
  CHECK_THAT(error({1, 3}), Catch::Contains("axis [1, 3] of its input (4, 5, 3) is not supported"));
  CHECK_THAT(error({4}), Catch::Contains("LayerNormalization 'ln': axis 4 is out of range for its input (4, 5, 3) (a "
                                         "sample's axes are 1 to 3, or -3 to -1; 0 is the batch)"));
  CHECK_THAT(error({0}), Catch::Contains("axis 0 is out of range"));
  CHECK_THROWS_WITH(LayerNormalization(norm({})), "LayerNormalization needs at least one axis to normalize over");
}

TEST_CASE("GroupNormalization: groups of channels over every position, gamma and beta per channel",
          "[layers][layernorm]") {
  LayerNormConfig c;
  c.groups = 2;
  LayerNormalization gn(c);
  gn.set_name("gn");
  CHECK(gn.build({2, 3, 4}) == Shape{2, 3, 4});
  CHECK(gn.class_name() == "GroupNormalization");
  CHECK(gn.default_name() == "group_normalization");
  CHECK(gn.params()[0].shape == Shape{4});
  CHECK(gn.config_str() == "groups=2, axis=-1, epsilon=0.001");
  std::vector<float> gamma{1, 2, 3, 4}, beta{0, 1, 0, -1}, dg(4), db(4);
  gn.bind({gamma.data(), beta.data()}, {dg.data(), db.data()});
  Context ctx;
  gn.prepare(1, ctx);
  Tensor x({1, 2, 3, 4}), y({1, 2, 3, 4});
  for (int i = 0; i < 24; ++i) x.data()[i] = float((i * 7) % 11) - 4.f;
  gn.forward(ctx, x, y, false);
  for (int group = 0; group < 2; ++group) {  // channels 2g, 2g + 1 at the 6 positions
    double m = 0, v = 0;
    for (int p = 0; p < 6; ++p)
      for (int j = 0; j < 2; ++j) m += x.data()[p * 4 + group * 2 + j] / 12.0;
    for (int p = 0; p < 6; ++p)
      for (int j = 0; j < 2; ++j) v += std::pow(x.data()[p * 4 + group * 2 + j] - m, 2) / 12.0;
    for (int p = 0; p < 6; ++p)
      for (int j = 0; j < 2; ++j) {
        const int ch = group * 2 + j;
        CHECK(y.data()[p * 4 + ch] ==
              Approx((x.data()[p * 4 + ch] - m) / std::sqrt(v + 1e-3) * gamma[size_t(ch)] + beta[size_t(ch)])
                  .epsilon(1e-5)
                  .margin(1e-6));
      }
  }
  LayerNormConfig each;
  each.groups = -1;  // one group per channel (instance normalization)
  LayerNormalization in(each);
  in.set_name("in");
  in.build({5, 6});
  CHECK(in.config_str() == "groups=6, axis=-1, epsilon=0.001");
  LayerNormConfig bad;
  bad.groups = 4;
  LayerNormalization wrong(bad);
  wrong.set_name("gn");
  CHECK_THROWS_WITH(wrong.build({3, 6}), "GroupNormalization 'gn': 4 groups must divide its input's 6 channels");
}

TEST_CASE("whole-model gradients through LayerNormalization (per position, whole sample) and RMSNormalization",
          "[layers][grad][layernorm]") {
  Sequential m("ln-net");
  Conv2DConfig c;
  c.filters = 3;
  c.kh = c.kw = 3;
  c.same = true;
  c.activation = Activation::tanh;
  m.add(std::make_unique<Conv2D>(c));
  m.add(std::make_unique<LayerNormalization>(norm({-1})));                    // per position, over channels
  LayerNormConfig groups;
  groups.groups = 3;  // 3 channels in 3 groups, then in 1
  m.add(std::make_unique<LayerNormalization>(groups));
  groups.groups = 1;
  groups.center = false;
  m.add(std::make_unique<LayerNormalization>(groups));
  m.add(std::make_unique<LayerNormalization>(norm({1, 2, 3}, false, true)));  // the whole sample, gamma alone
  m.add(std::make_unique<LayerNormalization>(norm({-2, -1}, true, true, true)));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<LayerNormalization>(norm({-1}, true, false)));  // beta alone
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  m.build({4, 4, 2}, 9);
  // Weights away from their initial ones and zeros, so that each enters the gradient.
  for (auto& w : m.weights())
    if (w.layer != m.layers()[0].get() && w.layer != m.layers().back().get()) {
      const auto r = test::random_vecf(size_t(shape_numel(w.spec.shape)), 3, 0.5f, 1.5f);
      std::copy(r.begin(), r.end(), w.data);
    }
  std::vector<std::string> names;
  for (auto& l : m.layers()) names.push_back(l->name());
  CHECK(names == std::vector<std::string>{"conv2d", "layer_normalization", "group_normalization",
                                          "group_normalization_1", "layer_normalization_1", "rms_normalization",
                                          "flatten", "layer_normalization_2", "dense"});
  test::check_model_gradients(m, {4, 4, 2});
}

TEST_CASE("LayerNormalization and RMSNormalization through Keras's files: settings and weights",
          "[layers][layernorm][io]") {
  Sequential m("ln");
  m.add(std::make_unique<LayerNormalization>(norm({1, 2})));
  m.add(std::make_unique<LayerNormalization>(norm({-1}, false, true)));
  m.add(std::make_unique<LayerNormalization>(norm({-1}, true, true, true)));
  LayerNormConfig groups;
  groups.groups = 3;
  m.add(std::make_unique<LayerNormalization>(groups));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(3, Activation::softmax));
  m.build({2, 3}, 1);
  for (int64_t i = 0; i < m.num_params(); ++i) m.params()[i] = float(std::sin(0.3 * double(i)));
  const std::string dir = test::temp_dir("layernorm");
  for (const auto& loaded : test::check_file_round_trips(m, dir)) {
    CHECK(loaded->layers()[0]->config_str() == "axis=[1, 2], epsilon=0.001");
    CHECK(loaded->layers()[1]->config_str() == "axis=-1, epsilon=0.001, center=False");
    CHECK(loaded->layers()[2]->class_name() == "RMSNormalization");
    CHECK(loaded->layers()[2]->params()[0].shape == Shape{3});
    CHECK(loaded->layers()[3]->config_str() == "groups=3, axis=-1, epsilon=0.001");
  }
  std::filesystem::remove_all(dir);
}
