// Rescaling and Normalization (core/layers/preprocessing), the merge layers' broadcasting, and
// Dropout's noise_shape: values by hand, gradients, the weights Keras's Normalization keeps (saved
// as Keras saves them, never changed by training, never averaged across replicas).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <numeric>
#include "core/data/dataset.h"
#include "core/data/readers.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/merge.h"
#include "core/layers/pooling.h"
#include "core/layers/preprocessing.h"
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"
#include "kernels/broadcast_math.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;

namespace {
Tensor filled(Shape s, float (*f)(int64_t)) {
  Tensor t(std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = f(i);
  return t;
}
float wave(int64_t i) { return float(std::sin(0.37 * double(i)) * 3.0); }
}  // namespace

TEST_CASE("Rescaling and Normalization by hand: forms, per channel or one value, the gradient through them",
          "[layers][preprocessing]") {
  Context ctx;
  Tensor x = filled({2, 2, 3}, wave);
  {  // Rescaling: x * scale + offset, per channel
    Rescaling r({0.5, 2.0, -1.0}, {0.25});
    r.set_name("rescaling");
    r.build({2, 3});
    r.prepare(2, ctx);
    Tensor y({2, 2, 3}), dx({2, 2, 3});
    r.forward(ctx, x, y, true);
    const double scale[3] = {0.5, 2.0, -1.0};
    for (int64_t i = 0; i < 12; ++i) CHECK(y.data()[i] == Approx(x.data()[i] * scale[i % 3] + 0.25));
    Tensor dy = filled({2, 2, 3}, [](int64_t i) { return float(i + 1); });
    r.backward(ctx, x, y, dy, &dx);
    for (int64_t i = 0; i < 12; ++i) CHECK(dx.data()[i] == Approx(double(i + 1) * scale[i % 3]));
    CHECK(r.config_str() == "scale=[0.5, 2, -1], offset=0.25");
    CHECK(r.params().empty());
  }
  {  // Normalization with constants (Keras's mean= and variance=), and its inverse
    Normalization n(-1, {1.0, -2.0, 0.0}, {4.0, 0.25, 0.0}, false);
    n.set_name("normalization");
    n.build({2, 3});
    n.prepare(2, ctx);
    CHECK(n.params().empty());
    Tensor y({2, 2, 3}), back({2, 2, 3});
    n.forward(ctx, x, y, true);
    const double mean[3] = {1.0, -2.0, 0.0}, sd[3] = {2.0, 0.5, 1e-7};  // sqrt(variance), at least 1e-7
    for (int64_t i = 0; i < 12; ++i) CHECK(y.data()[i] == Approx((x.data()[i] - mean[i % 3]) / sd[i % 3]));
    Normalization inv(2, {1.0, -2.0, 0.0}, {4.0, 0.25, 0.0}, true);
    inv.set_name("inverse");
    inv.build({2, 3});
    inv.prepare(2, ctx);
    inv.forward(ctx, y, back, true);
    for (int64_t i = 0; i < 12; ++i)
      if (i % 3 != 2) CHECK(back.data()[i] == Approx(x.data()[i]).margin(1e-5));
    Tensor dy = filled({2, 2, 3}, [](int64_t i) { return 1.f; }), dx({2, 2, 3});
    n.backward(ctx, x, y, dy, &dx);
    CHECK(dx.data()[0] == Approx(0.5));
    CHECK(dx.data()[1] == Approx(2.0));
    CHECK(n.config_str() == "axis=-1, mean=[1, -2, 0], variance=[4, 0.25, 0]");
  }
  CHECK_THROWS_WITH(Normalization(-1, {1.0}, {}, false),
                    "Normalization takes a mean and a variance together (or neither: then they are weights)");
  Normalization wrong(1, {}, {}, false);
  wrong.set_name("normalization");
  CHECK_THROWS_WITH(wrong.build({2, 3}),
                    "Normalization 'normalization': axis=1 is not supported (the last axis, -1 or 2 for input (2, 3), "
                    "or None)");
  Rescaling per_channel({1.0, 2.0}, {0.0});
  per_channel.set_name("rescaling");
  CHECK_THROWS_WITH(per_channel.build({2, 3}),
                    "Rescaling 'rescaling' has 2 values per channel but its input (2, 3) has 3 channels on its last "
                    "axis");
}

TEST_CASE("CategoryEncoding: one_hot, multi_hot and count by hand, Keras's shapes, gradients behind it, files",
          "[layers][preprocessing]") {
  const std::vector<float> ids = {1, 3, 3, 0, 4, 0};  // two samples of 3 indices
  Context ctx;
  auto run = [&](CategoryEncoding::Mode mode, const Shape& in) {
    Sequential m("m");
    m.add(std::make_unique<CategoryEncoding>(5, mode));
    m.build(in, 1);
    m.prepare(2);
    Tensor xi({2, in[0]});
    std::copy(ids.begin(), ids.begin() + 2 * in[0], xi.data());
    const Tensor y = m.forward(ctx, xi, false);
    return std::make_pair(m.output_shape(), std::vector<float>(y.data(), y.data() + y.numel()));
  };
  auto [cs, counts] = run(CategoryEncoding::count, {3});
  CHECK(cs == Shape{5});
  CHECK(counts == std::vector<float>{0, 1, 0, 2, 0, 2, 0, 0, 0, 1});  // Keras's own output on these
  auto [ms, multi] = run(CategoryEncoding::multi_hot, {3});
  CHECK(multi == std::vector<float>{0, 1, 0, 1, 0, 1, 0, 0, 0, 1});
  auto [os, one] = run(CategoryEncoding::one_hot, {3});
  CHECK(os == Shape{3, 5});
  CHECK(one[0 * 5 + 1] == 1.f);
  CHECK(one[2 * 5 + 3] == 1.f);
  CHECK(one[4 * 5 + 4] == 1.f);
  CHECK(std::accumulate(one.begin(), one.end(), 0.f) == 6.f);
  auto [squeezed, unused] = run(CategoryEncoding::one_hot, {1});  // a last axis of 1: one row a sample
  (void)unused;
  CHECK(squeezed == Shape{5});
  // In a model: the indices of the data checked against num_tokens; gradients of what follows.
  Sequential m("enc");
  m.add(std::make_unique<CategoryEncoding>(7, CategoryEncoding::count));
  m.add(std::make_unique<Dense>(6, Activation::tanh));
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  m.build({4}, 3);
  CHECK(m.input_index_limit() == 7);
  test::check_model_gradients(m, {4});
  Tensor bad({1, 4});
  const std::vector<float> b = {1, 2, 7, 0};
  std::copy(b.begin(), b.end(), bad.data());
  CHECK_THROWS_WITH(m.check_inputs(bad.data(), 4, "the data"),
                    "the data: sample 0 holds 7, but model 'enc' reads its inputs as indices (CategoryEncoding "
                    "'category_encoding', num_tokens 7): every input must be a whole number in [0, 7)");
  const std::string dir = test::temp_dir("category");
  for (const auto& loaded : test::check_file_round_trips(m, dir))
    CHECK(loaded->layers()[0]->config_str() == "num_tokens=7, output_mode=count");
  std::filesystem::remove_all(dir);
  CHECK_THROWS_WITH(CategoryEncoding(0, CategoryEncoding::one_hot),
                    "CategoryEncoding num_tokens must be a positive integer, got 0");
}

TEST_CASE("Normalization's weights: Keras's mean, variance and int32 count, constants of the arena",
          "[layers][preprocessing][io]") {
  Sequential m("prep");
  m.add(std::make_unique<Rescaling>(std::vector<double>{1.0 / 255}, std::vector<double>{0.0}));
  m.add(std::make_unique<Normalization>(-1, std::vector<double>{}, std::vector<double>{}, false));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(3, Activation::softmax));
  m.build({2, 2, 3}, 1);
  REQUIRE(m.weights().size() == 5);
  CHECK(m.num_trainable() == 12 * 3 + 3);
  CHECK(m.num_updated() == m.num_trainable());  // the constants come after what a step changes
  CHECK(m.num_params() == m.num_trainable() + 3 + 3 + 1);
  const WeightRef* count = nullptr;
  for (auto& w : m.weights()) {
    if (w.layer != m.layers()[1].get()) continue;
    CHECK_FALSE(w.spec.trainable);
    CHECK(w.spec.constant);
    CHECK(w.data >= m.params() + m.num_updated());
    if (w.spec.name == "count") count = &w;
    if (w.spec.name == "mean") w.data[1] = 0.5f;
    if (w.spec.name == "variance") w.data[1] = 0.09f;
  }
  REQUIRE(count);
  CHECK(count->spec.integer);
  count->data[0] = 1797;
  // The Dense layer is the first with trainable weights: backward stops there (Normalization has
  // weights, but none to train).
  const std::string dir = test::temp_dir("prep");
  for (const auto& loaded : test::check_file_round_trips(m, dir)) {
    CHECK(loaded->layers()[0]->config_str() == "scale=0.00392157, offset=0");
    CHECK(loaded->layers()[1]->config_str() == "axis=-1");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("merge layers broadcast as numpy does: values by hand and gradients", "[layers][grad][graph]") {
  using kernels::broadcast_map;
  {  // the map: (2, 3, 4) reading (2, 1, 4), and the sum back onto it
    const int64_t large[3] = {2, 3, 4}, small[3] = {2, 1, 4};
    const auto map = broadcast_map(large, small, 3);
    CHECK(map.rank == 3);
    CHECK(map.source(0) == 0);
    CHECK(map.source(5) == 1);   // (0, 1, 1) reads (0, 0, 1)
    CHECK(map.source(17) == 5);  // (1, 1, 1) reads (1, 0, 1)
    std::vector<float> big(24);
    for (int i = 0; i < 24; ++i) big[size_t(i)] = float(i);
    CHECK(map.sum_onto(big.data(), 5) == Approx(13 + 17 + 21));
    const int64_t none[3] = {2, 3, 4};
    CHECK(broadcast_map(large, none, 3).identity());
    CHECK(broadcast_map(large, none, 3).rank == 1);  // merged into one axis
  }
  // Squeeze and excite: x (4, 4, 3) times a (1, 1, 3) gate of it, then a Multiply and an Add of
  // (4, 1, 3) with (1, 4, 1) (both repeat), a Subtract of (3,) from (4, 4, 3) (a smaller rank) and
  // an Average.
  Sequential m("bcast");
  Conv2DConfig c;
  c.filters = 3;
  c.kh = c.kw = 2;
  c.same = true;
  c.activation = Activation::tanh;
  m.add(std::make_unique<Conv2D>(c));                     // 0: (4, 4, 3)
  m.add(std::make_unique<GlobalPooling2D>(false, true));  // 1: (1, 1, 3)
  Conv2DConfig g = c;
  g.kh = g.kw = 1;
  g.activation = Activation::sigmoid;
  m.add(std::make_unique<Conv2D>(g));                                             // 2: (1, 1, 3)
  m.add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::multiply), {0, 2});  // 3: (4, 4, 3)
  m.add(AveragePooling2D(Pool2DConfig{1, 4, 1, 4, false}), {3});                  // 4: (4, 1, 3)
  Conv2DConfig one = g;
  one.filters = 1;
  one.activation = Activation::tanh;
  m.add(std::make_unique<Conv2D>(one), {0});                                         // 5: (4, 4, 1)
  m.add(AveragePooling2D(Pool2DConfig{4, 1, 4, 1, false}), {5});                     // 6: (1, 4, 1)
  m.add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::multiply), {4, 6});     // 7: (4, 4, 3)
  m.add(std::make_unique<Add>(), {7, 6});                                            // 8: (4, 4, 3)
  m.add(std::make_unique<Flatten>(), {2});                                           // 9: (3,)
  m.add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::subtract), {8, 9});     // 10
  m.add(std::make_unique<ElementwiseMerge>(ElementwiseMerge::average), {10, 3, 2});  // 11
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  test::check_model_gradients(m, {4, 4, 2});
  CHECK(m.layers()[7]->output_shape() == Shape{4, 4, 3});
  CHECK(m.layers()[3]->workspace_elems(3) == 3 * 48);  // a repeated input's full-size share of dy
  CHECK(m.layers()[8]->workspace_elems(3) == 0);       // Add sums dy onto it directly
  Context ctx;
  Tensor x = filled({2, 4, 4, 2}, wave);
  m.forward(ctx, x, false);
  const float* o0 = m.output_of(0).data();
  const float* o2 = m.output_of(2).data();
  const float* o4 = m.output_of(4).data();
  const float* o6 = m.output_of(6).data();
  const float* o11 = m.output_of(11).data();
  // sample 1, (row 2, col 3, channel 1)
  const int64_t s = 1, r = 2, col = 3, ch = 1;
  const float mult = o0[((s * 4 + r) * 4 + col) * 3 + ch] * o2[s * 3 + ch];
  const float added = o4[(s * 4 + r) * 3 + ch] * o6[s * 4 + col] + o6[s * 4 + col];
  CHECK(o11[((s * 4 + r) * 4 + col) * 3 + ch] == Approx((added - o2[s * 3 + ch] + mult + o2[s * 3 + ch]) / 3));
  Sequential bad("bad");
  bad.add(std::make_unique<Dense>(3));
  bad.add(std::make_unique<Dense>(2), {-1});
  bad.add(std::make_unique<Add>(), {0, 1});
  CHECK_THROWS_WITH(bad.build({4}, 1),
                    "layer 'add' (Add) cannot broadcast its inputs' shapes (3,) and (2,) (each axis must match or be "
                    "1, as in numpy)");
}

TEST_CASE("Maximum and Minimum: values by hand, ties to the first input, gradients, Keras's files",
          "[layers][grad][graph]") {
  Extremum mx(true), mn(false);
  mx.set_name("maximum");
  mn.set_name("minimum");
  REQUIRE(mx.build_inputs({{3}, {3}, {3}}) == Shape{3});
  mn.build_inputs({{3}, {3}});
  Tensor a({1, 3}), b({1, 3}), c({1, 3}), y({1, 3}), dy({1, 3}), da({1, 3}), db({1, 3}), dc({1, 3});
  const float av[] = {1, 5, 2}, bv[] = {3, 5, -1}, cv[] = {0, 4, 2}, g[] = {10, 20, 30};
  std::copy(av, av + 3, a.data());
  std::copy(bv, bv + 3, b.data());
  std::copy(cv, cv + 3, c.data());
  std::copy(g, g + 3, dy.data());
  Context ctx;
  std::vector<Tensor> abc, ab;
  for (const Tensor* t : {&a, &b, &c}) abc.push_back(t->view());
  for (const Tensor* t : {&a, &b}) ab.push_back(t->view());
  mx.forward_all(ctx, abc, y, true);
  CHECK(std::vector<float>(y.data(), y.data() + 3) == std::vector<float>{3, 5, 2});
  mx.backward_all(ctx, abc, y, dy, {&da, &db, &dc});
  // element 1: a and b tie at 5 (a wins); element 2: a and c tie at 2 (a wins)
  CHECK(std::vector<float>(da.data(), da.data() + 3) == std::vector<float>{0, 20, 30});
  CHECK(std::vector<float>(db.data(), db.data() + 3) == std::vector<float>{10, 0, 0});
  CHECK(std::vector<float>(dc.data(), dc.data() + 3) == std::vector<float>{0, 0, 0});
  mn.forward_all(ctx, ab, y, true);
  CHECK(std::vector<float>(y.data(), y.data() + 3) == std::vector<float>{1, 5, -1});
  Extremum bad(true);
  bad.set_name("maximum");
  CHECK_THROWS_WITH(bad.build_inputs({{3}, {1}}),
                    "layer 'maximum' (Maximum) needs inputs of one shape, got (3,) and (1,)");
  // A graph: the maximum of two branches and the minimum of three, then a classifier. The branches
  // are apart (tanh in [-1, 1], shifted by 3 or -5), so that finite differences never cross a tie:
  // the maximum takes the second branch, the minimum the third, and the gradient must go there alone
  // (then shifted back, so that the classifier's softmax is not saturated).
  Sequential m("extrema");
  Conv2DConfig k;
  k.filters = 3;
  k.kh = k.kw = 3;
  k.same = true;
  k.activation = Activation::tanh;
  m.add(std::make_unique<Conv2D>(k));                                                       // 0
  m.add(std::make_unique<Conv2D>(k), {-1});                                                 // 1
  m.add(std::make_unique<Rescaling>(std::vector<double>{1.0}, std::vector<double>{3.0}));   // 2
  m.add(std::make_unique<Extremum>(true), {0, 2});                                          // 3
  m.add(std::make_unique<Conv2D>(k), {-1});                                                 // 4
  m.add(std::make_unique<Rescaling>(std::vector<double>{1.0}, std::vector<double>{-5.0}));  // 5
  m.add(std::make_unique<Extremum>(false), {3, 0, 5});                                      // 6
  m.add(std::make_unique<Rescaling>(std::vector<double>{1.0}, std::vector<double>{5.0}));   // back near 0
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  test::check_model_gradients(m, {4, 4, 2});
  const std::string dir = test::temp_dir("extrema");
  for (const auto& loaded : test::check_file_round_trips(m, dir)) {
    CHECK(loaded->layers()[3]->class_name() == "Maximum");
    CHECK(loaded->layers()[6]->class_name() == "Minimum");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Concatenate along any of a sample's axes: shapes, values by hand, gradients, Keras's files",
          "[layers][grad][graph]") {
  Concatenate rows(1), mid(-2);
  rows.set_name("c");
  mid.set_name("c");
  CHECK(rows.build_inputs({{2, 3, 4}, {5, 3, 4}}) == Shape{7, 3, 4});
  CHECK(mid.build_inputs({{2, 3, 4}, {2, 1, 4}}) == Shape{2, 4, 4});
  CHECK(mid.config_str() == "axis=-2");
  Tensor a({1, 2, 3, 4}), b({1, 2, 1, 4}), y({1, 2, 4, 4});
  for (int64_t i = 0; i < 24; ++i) a.data()[i] = float(i);
  for (int64_t i = 0; i < 8; ++i) b.data()[i] = float(100 + i);
  Context ctx;
  std::vector<Tensor> ab;
  ab.push_back(a.view());
  ab.push_back(b.view());
  mid.forward_all(ctx, ab, y, false);
  for (int64_t r = 0; r < 2; ++r)  // each row: a's three columns of 4, then b's one
    for (int64_t k = 0; k < 16; ++k)
      CHECK(y.data()[r * 16 + k] == (k < 12 ? a.data()[r * 12 + k] : b.data()[r * 4 + k - 12]));
  Concatenate bad(3);
  bad.set_name("c");
  CHECK_THROWS_WITH(bad.build_inputs({{2, 3}, {2, 3}}),
                    "layer 'c' (Concatenate) joins along a sample's axis (1 to 2, or -2 to -1; 0 is the batch), got "
                    "axis=3");
  CHECK_THROWS_WITH(rows.build_inputs({{2, 3, 4}, {5, 2, 4}}),
                    "layer 'c' (Concatenate) needs inputs that differ along axis 1 only, got (2, 3, 4) and (5, 2, 4)");
  // A graph joining two branches along the height, then along the width.
  Sequential m("joins");
  Conv2DConfig k;
  k.filters = 2;
  k.kh = k.kw = 3;
  k.same = true;
  k.activation = Activation::tanh;
  m.add(std::make_unique<Conv2D>(k));                // 0: (4, 4, 2)
  m.add(std::make_unique<Conv2D>(k), {-1});          // 1: (4, 4, 2)
  m.add(std::make_unique<Concatenate>(1), {0, 1});   // 2: (8, 4, 2)
  m.add(std::make_unique<Concatenate>(-2), {2, 2});  // 3: (8, 8, 2)
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  test::check_model_gradients(m, {4, 4, 2});
  CHECK(m.layers()[3]->output_shape() == Shape{8, 8, 2});
  const std::string dir = test::temp_dir("joins");
  for (const auto& loaded : test::check_file_round_trips(m, dir)) {
    CHECK(loaded->layers()[2]->config_str() == "axis=1");
    CHECK(loaded->layers()[3]->config_str() == "axis=-2");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Dropout's noise_shape shares one draw along its 1 axes, per sample, however the batch is split",
          "[layers][dropout]") {
  Dropout d(0.5, Shape{1, 1, 0});  // (None, 1, 1, None): one draw per sample and channel
  d.set_name("dropout");
  d.build({3, 4, 5});
  Context ctx;
  ctx.key = {7, 0, 2, 0};
  Tensor x = filled({6, 3, 4, 5}, [](int64_t i) { return 1.f + float(i % 7); }), y({6, 3, 4, 5});
  d.forward(ctx, x, y, true);
  int kept = 0;
  for (int64_t s = 0; s < 6; ++s)
    for (int64_t c = 0; c < 5; ++c) {
      const bool keep = y.data()[(s * 12) * 5 + c] != 0.f;
      kept += keep;
      for (int64_t p = 0; p < 12; ++p) {
        const int64_t i = (s * 12 + p) * 5 + c;
        CHECK(y.data()[i] == (keep ? 2.f * x.data()[i] : 0.f));
      }
    }
  CHECK(kept > 5);
  CHECK(kept < 25);
  Tensor y2({4, 3, 4, 5});
  ctx.key.row_offset = 2;
  d.forward(ctx, x.rows(2, 4), y2, true);
  CHECK(std::equal(y2.data(), y2.data() + y2.numel(), y.data() + 2 * 60));
  CHECK(d.config_str() == "rate=0.500000, noise_shape=(None, 1, 1, None)");
  Dropout wrong(0.5, Shape{2, 1, 1});
  wrong.set_name("dropout");
  CHECK_THROWS_WITH(wrong.build({3, 4, 5}),
                    "Dropout 'dropout': noise_shape entry 1 is 2 but the input (3, 4, 5) has 3 "
                    "there (it must be None, 1 or 3)");
}

TEST_CASE("SpatialDropout1D and SpatialDropout2D drop whole channels, and keep their Keras class in files",
          "[layers][dropout]") {
  SpatialDropout d2(0.5, 2), d1(0.5, 1);
  d2.set_name("sd");
  d1.set_name("sd1");
  d2.build({3, 4, 6});
  d1.build({5, 6});
  CHECK(d2.class_name() == "SpatialDropout2D");
  CHECK(d1.default_name() == "spatial_dropout1d");
  CHECK(d2.config_str() == "rate=0.500000, noise_shape=(None, 1, 1, None)");
  Context ctx;
  ctx.key = {3, 0, 1, 0};
  Tensor x = filled({4, 3, 4, 6}, [](int64_t i) { return 1.f + float(i % 5); }), y({4, 3, 4, 6});
  d2.forward(ctx, x, y, true);
  int kept = 0;
  for (int64_t s = 0; s < 4; ++s)
    for (int64_t c = 0; c < 6; ++c) {
      const bool keep = y.data()[s * 72 + c] != 0.f;
      kept += keep;
      for (int64_t p = 0; p < 12; ++p) CHECK((y.data()[(s * 12 + p) * 6 + c] != 0.f) == keep);
    }
  CHECK(kept > 4);
  CHECK(kept < 20);
  SpatialDropout wrong(0.5, 2);
  wrong.set_name("sd");
  CHECK_THROWS_WITH(wrong.build({5, 6}),
                    "SpatialDropout2D expects inputs of shape (height, width, channels), got (5, 6)");
  Sequential m("sd");
  m.add(std::make_unique<SpatialDropout>(0.25, 2));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<SpatialDropout>(0.5, 1));
  m.add(std::make_unique<Dense>(2, Activation::softmax));
  REQUIRE_THROWS(m.build({2, 2, 3}, 1));  // SpatialDropout1D after Flatten: (12,) is not (steps, channels)
  Sequential ok("sd");
  ok.add(std::make_unique<SpatialDropout>(0.25, 2));
  ok.add(std::make_unique<Flatten>());
  ok.add(std::make_unique<Dense>(2, Activation::softmax));
  ok.build({2, 2, 3}, 1);
  const std::string dir = test::temp_dir("sdrop");
  for (const auto& loaded : test::check_file_round_trips(ok, dir)) {
    CHECK(loaded->layers()[0]->class_name() == "SpatialDropout2D");
    CHECK(loaded->layers()[0]->config_str() == "rate=0.250000, noise_shape=(None, 1, 1, None)");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("replicas average moving statistics, never Normalization's constants", "[parallel][preprocessing]") {
  auto model = test::graph_net(5);  // BatchNormalization and Normalization; batch norm not synchronised
  std::vector<float> before;
  for (auto& w : model->weights())
    if (w.spec.constant) before.insert(before.end(), w.data, w.data + shape_numel(w.spec.shape));
  REQUIRE(before.size() == 3);
  Dataset data = make_synthetic({8, 8, 1}, 10, 24, 3);
  FitOptions fo;
  fo.epochs = 1;
  fo.batch_size = 12;
  fo.verbose = 0;
  SGD opt(0.1);
  Trainer(*model, test::cpus(3), LossKind::categorical_crossentropy, opt, 1, {}).fit(data, nullptr, fo, {});
  std::vector<float> after;
  for (auto& w : model->weights()) {
    if (w.spec.constant) after.insert(after.end(), w.data, w.data + shape_numel(w.spec.shape));
    if (w.spec.name == "moving_mean") CHECK(w.data[0] != 0.f);  // the moving statistics did move
  }
  CHECK(after == before);  // bit for bit: (3 x) / 3 would not be
}
