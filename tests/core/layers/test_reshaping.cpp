// Identity, ActivityRegularization, RepeatVector, Permute and PReLU (float, through the Layer API):
// forwards and gradients by hand, whole-model gradients, and ActivityRegularization as the layer
// before it with Keras's activity_regularizer.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <random>
#include "core/data/readers.h"
#include "core/layers/conv1d.h"
#include "core/layers/conv2d.h"
#include "core/layers/conv2d_transpose.h"
#include "core/layers/dense.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/prelu.h"
#include "core/layers/reshaping.h"
#include "core/layers/unit_normalization.h"
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"
#include "kernels/random_math.h"
#include "kernels/unit_norm.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;

namespace {
Tensor filled(Shape s, const std::vector<float>& v) {
  Tensor t(std::move(s));
  std::copy(v.begin(), v.end(), t.data());
  return t;
}
std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); }
}  // namespace

TEST_CASE("RepeatVector and Permute: forward by hand, gradients back the same way", "[layers][reshaping]") {
  Context ctx;
  RepeatVector rep(3);
  rep.set_name("repeat_vector");
  CHECK(rep.build({2}) == Shape{3, 2});
  Tensor x = filled({2, 2}, {1, 2, 3, 4}), y({2, 3, 2});
  rep.forward(ctx, x, y, true);
  CHECK(values(y) == std::vector<float>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4});
  Tensor dy = filled({2, 3, 2}, {1, 2, 3, 4, 5, 6, 0.5f, 0, 0, 0.25f, 1, 1}), dx({2, 2});
  rep.backward(ctx, x, y, dy, &dx);
  CHECK(values(dx) == std::vector<float>{9, 12, 1.5f, 1.25f});  // summed over the copies
  CHECK(rep.config_str() == "n=3");
  CHECK_THROWS_WITH(rep.build({2, 3}),
                    "layer 'repeat_vector' (RepeatVector) expects inputs of shape (features,), got "
                    "(2, 3)");

  // Permute((3, 1, 2)) on (2, 3, 4): out[c][a][b] = in[a][b][c].
  Permute perm({3, 1, 2});
  perm.set_name("permute");
  CHECK(perm.build({2, 3, 4}) == Shape{4, 2, 3});
  CHECK(perm.config_str() == "dims=(3, 1, 2)");
  std::vector<float> in(2 * 24);
  for (size_t i = 0; i < in.size(); ++i) in[i] = float(i) * 0.5f - 3.f;
  Tensor px = filled({2, 2, 3, 4}, in), py({2, 4, 2, 3}), pdx({2, 2, 3, 4});
  perm.forward(ctx, px, py, true);
  for (int s = 0; s < 2; ++s)
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 3; ++b)
        for (int c = 0; c < 4; ++c)
          CHECK(py.data()[s * 24 + (c * 2 + a) * 3 + b] == in[size_t(s * 24 + (a * 3 + b) * 4 + c)]);
  perm.backward(ctx, px, py, py, &pdx);  // back through the inverse: the input again
  CHECK(values(pdx) == in);
  CHECK_THROWS_WITH(Permute({1, 3}), "Permute's dims must be a permutation of 1..2 (the sample's axes), got (1, 3)");
  Permute swap({2, 1});
  swap.set_name("permute_1");
  CHECK_THROWS_WITH(swap.build({2, 3, 4}),
                    "layer 'permute_1' (Permute) has dims=(2, 1) for 2 axes, but its input (2, 3, 4) has 3");
}

TEST_CASE("PReLU: alpha where x < 0, its gradient summed over the batch and the shared axes", "[layers][prelu]") {
  Context ctx;
  PReLU p({1});  // alpha (1, 3): shared along the first axis of (2, 3)
  p.set_name("p_re_lu");
  CHECK(p.build({2, 3}) == Shape{2, 3});
  REQUIRE(p.params().size() == 1);
  CHECK((p.params()[0].name == "alpha" && p.params()[0].shape == Shape{1, 3}));
  CHECK(p.config_str() == "shared_axes=[1]");
  std::vector<float> alpha{0.5f, -0.25f, 2.f}, galpha{1.f, 0.f, 0.f};  // gradients accumulate
  p.bind({alpha.data()}, {galpha.data()});
  p.prepare(2, ctx);
  const std::vector<float> xv{-1, 2, -4, 0, -3, 1, 3, -2, 0.5f, -2, -1, -1};
  Tensor x = filled({2, 2, 3}, xv), y({2, 2, 3});
  p.forward(ctx, x, y, true);
  std::vector<float> want(12);
  for (size_t i = 0; i < 12; ++i) want[i] = xv[i] > 0 ? xv[i] : alpha[i % 3] * xv[i];
  CHECK(values(y) == want);
  const std::vector<float> dyv{1, 2, 3, 4, 5, 6, -1, -2, -3, 0.5f, 0.25f, 2};
  Tensor dy = filled({2, 2, 3}, dyv), dx({2, 2, 3});
  p.backward(ctx, x, y, dy, &dx);
  std::vector<double> ga{1, 0, 0};
  for (size_t i = 0; i < 12; ++i) {
    const float dxi = xv[i] > 0 ? dyv[i] : (xv[i] < 0 ? alpha[i % 3] * dyv[i] : 0.f);  // none at 0
    CHECK(dx.data()[i] == dxi);
    if (xv[i] < 0) ga[i % 3] += double(xv[i]) * dyv[i];
  }
  for (size_t k = 0; k < 3; ++k) CHECK(galpha[k] == Approx(ga[k]).epsilon(1e-6));
  CHECK_THROWS_WITH(PReLU({0}), "PReLU's shared_axes are a sample's axes, counted from 1; got 0");
  PReLU far({3});
  far.set_name("p_re_lu_1");
  CHECK_THROWS_WITH(far.build({4, 5}), "layer 'p_re_lu_1' (PReLU) shares axis 3 of its input (4, 5), which has 2 axes");
}

TEST_CASE("whole-model gradients through RepeatVector, Permute, Identity and UnitNormalization",
          "[layers][grad][sequential]") {
  // (PReLU's kink at 0 is left to the by-hand test above and to test_gradcheck's double-precision
  // check: central differences in float across it are not its gradient.)
  Sequential m("vec");
  m.add(std::make_unique<Dense>(5, Activation::tanh));
  m.add(std::make_unique<RepeatVector>(3));
  m.add(std::make_unique<Permute>(std::vector<int>{2, 1}));
  m.add(std::make_unique<Identity>());
  m.add(std::make_unique<UnitNormalization>());
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  test::check_model_gradients(m, {6});
  Sequential c("img");
  Conv2DConfig k;
  k.filters = 3;
  k.kh = k.kw = 2;
  k.same = true;
  k.activation = Activation::tanh;
  c.add(std::make_unique<Conv2D>(k));
  c.add(std::make_unique<Permute>(std::vector<int>{3, 1, 2}));
  c.add(std::make_unique<UnitNormalization>(std::vector<int>{2, 3}, true));
  c.add(std::make_unique<Flatten>());
  c.add(std::make_unique<Dense>(4, Activation::softmax));
  test::check_model_gradients(c, {3, 4, 2});
  CHECK(c.layers()[1]->name() == "permute");
  CHECK(c.layers()[1]->output_shape() == Shape{3, 3, 4});
}

TEST_CASE("ActivityRegularization trains as its input layer's activity_regularizer", "[layers][activity]") {
  auto make = [](bool layer) {
    auto m = std::make_unique<Sequential>("act");
    m->add(std::make_unique<Dense>(6, Activation::tanh));
    if (layer)
      m->add(std::make_unique<ActivityRegularization>(0.05, 0.2));
    else
      m->layers().back()->set_activity_regularizer(Regularizer{"L1L2", 0.05, 0.2});
    m->add(std::make_unique<Dense>(3, Activation::softmax));
    m->build({4}, 3);
    return m;
  };
  auto a = make(true), b = make(false);
  REQUIRE(a->num_params() == b->num_params());
  CHECK(a->layers()[1]->config_str() == "l1=0.05, l2=0.2");
  const Dataset data = make_synthetic({4}, 3, 24, 11);
  FitOptions fo;
  fo.batch_size = 8;
  fo.epochs = 2;
  fo.shuffle = false;
  fo.verbose = 0;
  SGD sa(0.5), sb(0.5);
  const History ha =
      Trainer(*a, test::cpus(1), LossKind::sparse_categorical_crossentropy, sa, 1).fit(data, nullptr, fo, {});
  const History hb =
      Trainer(*b, test::cpus(1), LossKind::sparse_categorical_crossentropy, sb, 1).fit(data, nullptr, fo, {});
  CHECK(std::equal(a->params(), a->params() + a->num_params(), b->params()));
  CHECK(ha.at("loss") == hb.at("loss"));
  CHECK_THROWS_WITH(ActivityRegularization(-1, 0),
                    "ActivityRegularization's l1 and l2 must be numbers >= 0, got l1=-1, l2=0");
}

TEST_CASE("GaussianNoise and GaussianDropout: Keras's noise in training, per sample, the identity at inference",
          "[layers][dropout]") {
  const int64_t rows = 40, cols = 250;
  const auto xv = test::random_vecf(size_t(rows * cols), 8, 0.5f, 1.5f);
  for (bool multiplies : {false, true}) {
    GaussianNoise g(multiplies ? 0.2 : 0.3, multiplies);
    g.set_name(multiplies ? "gaussian_dropout" : "gaussian_noise");
    g.build({cols});
    INFO(g.class_name());
    Context ctx;
    ctx.key = {42, 1, 3, 0};
    Tensor x = filled({rows, cols}, xv), y({rows, cols});
    g.forward(ctx, x, y, false);
    CHECK(values(y) == xv);
    g.forward(ctx, x, y, true);
    // The draws: x + 0.3 z, or x (1 + sqrt(0.2 / 0.8) z) = x (1 + 0.5 z), z a standard normal.
    double sum = 0, sq = 0;
    int64_t within = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      const double z = multiplies ? (double(y.data()[i]) / xv[i] - 1) / 0.5 : (double(y.data()[i]) - xv[i]) / 0.3;
      sum += z;
      sq += z * z;
      within += std::abs(z) <= 1;
    }
    const double n = double(xv.size()), mean = sum / n, var = sq / n - mean * mean;
    CHECK(std::abs(mean) < 0.04);  // 4 standard errors of 10000 draws
    CHECK(std::abs(var - 1) < 0.06);
    CHECK(std::abs(double(within) / n - 0.6827) < 0.02);
    // Backward: GaussianNoise passes dy on; GaussianDropout scales it by the same factor.
    Tensor dy = filled({rows, cols}, std::vector<float>(xv.size(), 2.f)), dx({rows, cols});
    g.backward(ctx, x, y, dy, &dx);
    for (size_t i = 0; i < xv.size(); i += 97)
      CHECK(dx.data()[i] == Approx(multiplies ? 2.f * y.data()[i] / xv[i] : 2.f).epsilon(1e-5));
    // The same global rows in two slices draw the same noise.
    Tensor x1 = x.rows(0, 15), x2 = x.rows(15, 25), y1({15, cols}), y2({25, cols});
    g.forward(ctx, x1, y1, true);
    ctx.key.row_offset = 15;
    g.forward(ctx, x2, y2, true);
    CHECK(std::equal(y1.data(), y1.data() + y1.numel(), y.data()));
    CHECK(std::equal(y2.data(), y2.data() + y2.numel(), y.data() + y1.numel()));
  }
  CHECK(GaussianNoise(0.25, true).config_str() == "rate=0.25");
  CHECK(GaussianNoise(0.1, false).config_str() == "stddev=0.1");
  CHECK_THROWS_WITH(GaussianNoise(1.0, true), "GaussianDropout rate must be in [0, 1), got 1");
  CHECK_THROWS_WITH(GaussianNoise(-0.5, false), "GaussianNoise stddev must be a number >= 0, got -0.5");
}

TEST_CASE("RandomFlip: Keras 3's flips of whole samples in training, per sample, the identity at inference",
          "[layers][dropout]") {
  const int64_t n = 64, h = 3, w = 4, c = 2, plane = h * w * c;
  const auto xv = test::random_vecf(size_t(n * plane), 9);
  for (const char* mode : {"horizontal", "vertical", "horizontal_and_vertical"}) {
    INFO(mode);
    RandomFlip f(mode);
    f.set_name("random_flip");
    f.build({h, w, c});
    CHECK(f.config_str() == std::string("mode=") + mode);
    Context ctx;
    ctx.key = {7, 2, 5, 100};
    Tensor x = filled({n, h, w, c}, xv), y({n, h, w, c}), dx({n, h, w, c});
    f.forward(ctx, x, y, false);
    CHECK(values(y) == xv);
    f.forward(ctx, x, y, true);
    const bool hor = std::string(mode) != "vertical", ver = std::string(mode) != "horizontal";
    const uint64_t seed = ctx.key.seed ^ kernels::mix64(std::hash<std::string>{}("random_flip"));
    int flipped = 0;
    for (int64_t s = 0; s < n; ++s) {
      const bool flip = kernels::flip_drawn(seed, 2, 5, uint64_t(100 + s));
      flipped += flip;
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j)
          for (int64_t k = 0; k < c; ++k) {
            const int64_t si = flip && ver ? h - 1 - i : i, sj = flip && hor ? w - 1 - j : j;
            CHECK(y.data()[s * plane + (i * w + j) * c + k] == xv[size_t(s * plane + (si * w + sj) * c + k)]);
          }
    }
    CHECK((flipped > 16 && flipped < 48));
    f.backward(ctx, x, y, y, &dx);  // the same move back: the input again
    CHECK(values(dx) == xv);
  }
  CHECK_THROWS_WITH(RandomFlip("diagonal"),
                    "RandomFlip mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got 'diagonal'");
  RandomFlip flat("horizontal");
  flat.set_name("random_flip");
  CHECK_THROWS_WITH(flat.build({6}),
                    "layer 'random_flip' (RandomFlip) expects images of shape (height, width, "
                    "channels), got (6,)");
}

TEST_CASE("AlphaDropout: Dropout's draws, dropped values at SELU's saturation, mean and variance kept",
          "[layers][dropout]") {
  const int64_t rows = 40, cols = 250;
  std::vector<float> xv(size_t(rows * cols));
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& v : xv) v = normal(gen);
  AlphaDropout ad(0.2);
  Dropout plain(0.2);
  ad.set_name("drop");
  plain.set_name("drop");  // the same name: the same draws
  ad.build({cols});
  plain.build({cols});
  Context ctx;
  ctx.key = {3, 1, 2, 0};
  Tensor x = filled({rows, cols}, xv), y({rows, cols}), yp({rows, cols}), dx({rows, cols});
  ad.forward(ctx, x, y, false);
  CHECK(values(y) == xv);
  ad.forward(ctx, x, y, true);
  plain.forward(ctx, x, yp, true);
  const double alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
  const double a = 1.0 / std::sqrt(0.8 * (1 + 0.2 * alpha_p * alpha_p)), b = -a * alpha_p * 0.2;
  double sum = 0, sq = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool kept = yp.data()[i] != 0.f;
    CHECK(y.data()[i] == Approx(kept ? a * xv[i] + b : a * alpha_p + b).epsilon(1e-6).margin(1e-6));
    sum += y.data()[i];
    sq += double(y.data()[i]) * y.data()[i];
  }
  const double n = double(xv.size()), mean = sum / n;
  CHECK(std::abs(mean) < 0.05);  // a standard normal input keeps mean 0 and variance 1
  CHECK(std::abs(sq / n - mean * mean - 1) < 0.08);
  Tensor dy = filled({rows, cols}, std::vector<float>(xv.size(), 3.f));
  ad.backward(ctx, x, y, dy, &dx);
  for (size_t i = 0; i < xv.size(); i += 7)
    CHECK(dx.data()[i] == Approx(yp.data()[i] != 0.f ? 3 * a : 0.0).epsilon(1e-6));
  CHECK(ad.class_name() == "AlphaDropout");
}

TEST_CASE("UnitNormalization: unit rows, Keras's clip at 1e12, and its gradient (double)", "[layers][grad]") {
  const int64_t rows = 3, cols = 5;
  auto x = test::random_vec(rows * cols, 70, -2, 2);
  std::fill(x.begin() + 2 * cols, x.end(), 0.0);  // a row of zeros: 0 out, 1e12 dy back
  std::vector<double> y(x.size()), dx(x.size());
  kernels::unit_norm_forward_cpu(x.data(), y.data(), kernels::NormRows::contiguous(rows, cols));
  for (int64_t r = 0; r < 2; ++r) {
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += y[size_t(r * cols + c)] * y[size_t(r * cols + c)];
    CHECK(s == Approx(1.0).epsilon(1e-14));
  }
  for (int64_t c = 0; c < cols; ++c) CHECK(y[size_t(2 * cols + c)] == 0.0);
  const auto w = test::random_vec(rows * cols, 71, -1, 1);
  std::vector<double> head(x.begin(), x.begin() + 2 * cols);
  auto f = [&] {
    std::vector<double> out(head.size());
    kernels::unit_norm_forward_cpu(head.data(), out.data(), kernels::NormRows::contiguous(2, cols));
    double v = 0;
    for (size_t i = 0; i < out.size(); ++i) v += w[i] * out[i];
    return v;
  };
  const auto num = test::numeric_grad(f, head);
  kernels::unit_norm_backward_cpu(x.data(), w.data(), dx.data(), kernels::NormRows::contiguous(rows, cols));
  CHECK(test::worst_ratio(std::vector<double>(dx.begin(), dx.begin() + 2 * cols), num, 1e-8, 1e-6) <= 1.0);
  for (int64_t c = 0; c < cols; ++c) CHECK(dx[size_t(2 * cols + c)] == 1e12 * w[size_t(2 * cols + c)]);
  UnitNormalization u({1}, true);
  u.set_name("unit_normalization");
  CHECK_THROWS_WITH(u.build({3, 4}),
                    "layer 'unit_normalization' (UnitNormalization) axis=[1] on input (3, 4): "
                    "dptrain normalizes a run of trailing axes (-1, or such as [1, 2, 3])");
  CHECK(UnitNormalization().config_str() == "axis=-1");
}

TEST_CASE("Conv1DTranspose: Keras's output lengths, and whole-model gradients through it", "[layers][grad]") {
  Sequential m("up1d");
  Conv2DConfig a;
  a.filters = 3;
  a.kw = 2;
  a.activation = Activation::tanh;
  m.add(std::make_unique<Conv1D>(a, false));
  Conv2DConfig t;
  t.filters = 4;
  t.kw = 3;
  t.sw = 2;
  t.same = true;
  t.activation = Activation::tanh;
  m.add(std::make_unique<Conv1DTranspose>(t));  // 5 steps -> 10
  Conv2DConfig v;
  v.filters = 2;
  v.kw = 2;
  v.dw = 2;
  m.add(std::make_unique<Conv1DTranspose>(v));  // valid, dilation 2: 10 + 2 = 12
  Conv2DConfig s3;
  s3.filters = 2;
  s3.kw = 2;
  s3.sw = 3;
  m.add(std::make_unique<Conv1DTranspose>(s3));  // valid, stride past the kernel: 12 * 3 = 36
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dense>(4, Activation::softmax));
  test::check_model_gradients(m, {6, 2});
  CHECK(m.layers()[1]->output_shape() == Shape{10, 4});
  CHECK(m.layers()[2]->output_shape() == Shape{12, 2});
  CHECK(m.layers()[3]->output_shape() == Shape{36, 2});
  CHECK(m.layers()[1]->params()[0].shape == Shape{3, 4, 3});  // Keras's (k, filters, in)
  CHECK(m.layers()[1]->name() == "conv1d_transpose");
  CHECK(m.layers()[2]->config_str() ==
        "filters=2, kernel_size=2, strides=1, padding=valid, dilation_rate=2, activation=linear");
}
