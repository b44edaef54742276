// Keras 3's image augmentation layers: RandomRotation, RandomZoom, RandomTranslation (Keras's affine
// maps, JAX's fill modes and interpolation), RandomContrast, RandomCrop, RandomGrayscale; the identity at inference,
// per-sample draws whatever the batch split, gradients (the warp's transpose, the contrast's through its mean and
// clip), Keras's files, errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <set>
#include <tuple>
#include "core/data/readers.h"
#include "core/layers/augment.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/flatten.h"
#include "core/sequential.h"
#include "test_util.h"

using namespace dpt;
using kernels::WarpKind;

namespace {
AugmentFactor both(double v) { return augment_factor({v, v}, -1.0, 1.0, "factor"); }

// A layer built on (h, w, c) images, named as Keras would.
template <typename L>
L& built(L& l, const Shape& in) {
  l.set_name("aug");
  l.build(in);
  return l;
}

// img(y, x) = 10 y + x + 100 c: bilinear interpolation reproduces it exactly inside the image.
Tensor ramp(int64_t n, int64_t h, int64_t w, int64_t c) {
  Tensor t({n, h, w, c});
  for (int64_t s = 0; s < n; ++s)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t k = 0; k < c; ++k) t.data()[((s * h + y) * w + x) * c + k] = float(10 * y + x + 100 * k);
  return t;
}
float at(const Tensor& t, int64_t s, int64_t y, int64_t x, int64_t k = 0) {
  const int64_t h = t.dim(1), w = t.dim(2), c = t.dim(3);
  return t.data()[((s * h + y) * w + x) * c + k];
}
}  // namespace

TEST_CASE("RandomRotation, RandomZoom, RandomTranslation: Keras's maps, JAX's fill modes, the identity at inference",
          "[layers][augment]") {
  Context ctx;
  ctx.key = {3, 1, 2, 0};
  const int64_t h = 5, w = 5;
  Tensor x = ramp(2, h, w, 2), y({2, h, w, 2});
  {  // A quarter turn about the centre: output (i, j) reads input (j, 4 - i).
    RandomAffine r(WarpKind::rotation, both(0.25), {}, "reflect", "bilinear", 0);
    built(r, {h, w, 2});
    CHECK(r.class_name() == "RandomRotation");
    CHECK(r.config_str() == "factor=(0.25, 0.25), fill_mode=reflect, interpolation=bilinear");
    r.forward(ctx, x, y, false);
    CHECK(std::equal(x.data(), x.data() + x.numel(), y.data()));  // inference: the identity
    r.forward(ctx, x, y, true);
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) CHECK(at(y, 1, i, j, 1) == Approx(at(x, 1, j, 4 - i, 1)).margin(1e-4));
  }
  {  // Zoom in 2x (height_factor -0.5, width None: both axes): (y, x) = (0.5 i + 1, 0.5 j + 1).
    RandomAffine z(WarpKind::zoom, both(-0.5), {}, "reflect", "bilinear", 0);
    built(z, {h, w, 2});
    CHECK(z.config_str() == "height_factor=(-0.5, -0.5), width_factor=None, fill_mode=reflect, interpolation=bilinear");
    z.forward(ctx, x, y, true);
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j)
        CHECK(at(y, 0, i, j) == Approx(10 * (0.5 * double(i) + 1) + 0.5 * double(j) + 1).margin(1e-4));
  }
  {  // Translation by one row down and two columns left: (y, x) = (i - 1, j + 2), outside by each fill mode.
    const AugmentFactor down = both(0.2), left = both(-0.4);
    auto shifted = [&](const char* fill, const char* interp) {
      RandomAffine t(WarpKind::translation, down, left, fill, interp, 7);
      built(t, {h, w, 2});
      t.forward(ctx, x, y, true);
      return t.config_str();
    };
    CHECK(
        shifted("constant", "nearest") ==
        "height_factor=(0.2, 0.2), width_factor=(-0.4, -0.4), fill_mode=constant, interpolation=nearest, fill_value=7");
    CHECK(at(y, 0, 0, 1) == 7.f);  // row -1
    CHECK(at(y, 0, 2, 0) == at(x, 0, 1, 2));
    CHECK(at(y, 0, 2, 3) == 7.f);    // column 5
    shifted("reflect", "bilinear");  // reflect: -1 -> 0, 5 -> 4, 6 -> 3 (d c b a | a b c d | d c b a)
    CHECK(at(y, 0, 0, 1) == Approx(at(x, 0, 0, 3)).margin(1e-4));
    CHECK(at(y, 0, 2, 3) == Approx(at(x, 0, 1, 4)).margin(1e-4));
    CHECK(at(y, 0, 2, 4) == Approx(at(x, 0, 1, 3)).margin(1e-4));
    shifted("wrap", "bilinear");  // wrap: -1 -> 4, 5 -> 0
    CHECK(at(y, 0, 0, 1) == Approx(at(x, 0, 4, 3)).margin(1e-4));
    CHECK(at(y, 0, 2, 3) == Approx(at(x, 0, 1, 0)).margin(1e-4));
    shifted("nearest", "bilinear");  // the edge
    CHECK(at(y, 0, 0, 1) == Approx(at(x, 0, 0, 3)).margin(1e-4));
    CHECK(at(y, 0, 2, 4) == Approx(at(x, 0, 1, 4)).margin(1e-4));
  }
  {  // Shear x by 0.5 a row, its sign drawn per sample: (y, x) = (i, j +- 0.5 i) (a linear ramp inside).
    RandomAffine sh(WarpKind::shear, both(0.0), both(0.5), "reflect", "bilinear", 0);
    built(sh, {h, w, 2});
    CHECK(sh.class_name() == "RandomShear");
    CHECK(sh.config_str() == "x_factor=(0.5, 0.5), y_factor=(0, 0), fill_mode=reflect, interpolation=bilinear");
    Tensor many = ramp(8, h, w, 2), out({8, h, w, 2});
    sh.forward(ctx, many, out, true);
    int minus = 0;
    for (int64_t s = 0; s < 8; ++s) {
      const float v = at(out, s, 2, 2);
      CHECK((v == Approx(21).margin(1e-4) || v == Approx(23).margin(1e-4)));
      minus += v < 22;
      const double sign = v < 22 ? -1 : 1;
      CHECK(at(out, s, 4, 2, 1) == Approx(100 + 40 + 2 + sign * 2).margin(1e-4));
    }
    CHECK((minus > 0 && minus < 8));
  }
  // Random draws: each sample its own, the same for a sample however the batch is split; the
  // gradient the transpose of the map (<warp x, v> = <x, warp^T v>).
  const int64_t n = 6;
  const auto xv = test::random_vecf(size_t(n * 6 * 7 * 3), 4), vv = test::random_vecf(xv.size(), 5);
  for (const char* fill : {"reflect", "wrap", "constant", "nearest"})
    for (const char* interp : {"bilinear", "nearest"})
      for (WarpKind kind : {WarpKind::rotation, WarpKind::zoom, WarpKind::translation, WarpKind::shear}) {
        INFO(fill << " " << interp << " kind " << int(kind));
        RandomAffine a(kind, augment_factor({0.3}, -1, 1, "f"), augment_factor({-0.2, 0.1}, -1, 1, "f"), fill, interp,
                       0.5);
        built(a, {6, 7, 3});
        Tensor xs({n, 6, 7, 3}), ys({n, 6, 7, 3}), vs({n, 6, 7, 3}), gx({n, 6, 7, 3});
        std::copy(xv.begin(), xv.end(), xs.data());
        std::copy(vv.begin(), vv.end(), vs.data());
        Context c;
        c.key = {11, 0, 4, 20};
        a.forward(c, xs, ys, true);
        a.backward(c, xs, ys, vs, &gx);
        if (std::string(fill) != "constant") {  // constant's fill is the affine part
          double lhs = 0, rhs = 0;
          for (int64_t e = 0; e < ys.numel(); ++e) {
            lhs += double(ys.data()[e]) * vv[size_t(e)];
            rhs += double(xv[size_t(e)]) * gx.data()[e];
          }
          CHECK(lhs == Approx(rhs).epsilon(1e-5));
        }
        const int64_t plane = 6 * 7 * 3;
        CHECK_FALSE(std::equal(ys.data(), ys.data() + plane, ys.data() + plane));  // samples differ
        Tensor tail = Tensor::view(xs.data() + 4 * plane, {2, 6, 7, 3}, xs.device()), yt({2, 6, 7, 3});
        Context c2 = c;
        c2.key.row_offset = 24;  // the same samples as rows 4 and 5 of the batch above
        a.forward(c2, tail, yt, true);
        CHECK(std::equal(yt.data(), yt.data() + yt.numel(), ys.data() + 4 * plane));
      }
  // Errors: Keras's names, ranges and images only.
  CHECK_THROWS_WITH(RandomAffine(WarpKind::rotation, both(0.1), {}, "mirror", "bilinear", 0),
                    "RandomRotation fill_mode must be 'reflect', 'wrap', 'constant' or 'nearest', got 'mirror'");
  CHECK_THROWS_WITH(RandomAffine(WarpKind::zoom, both(0.1), {}, "reflect", "bicubic", 0),
                    "RandomZoom interpolation must be 'bilinear' or 'nearest', got 'bicubic'");
  CHECK_THROWS_WITH(augment_factor({1.5}, -1, 1, "layer 'r' (RandomRotation): 'factor'"),
                    "layer 'r' (RandomRotation): 'factor' must be in [-1, 1], got 1.5");
  RandomAffine flat(WarpKind::translation, both(0.1), both(0.1), "reflect", "bilinear", 0);
  flat.set_name("t");
  CHECK_THROWS_WITH(flat.build({6}),
                    "layer 't' (RandomTranslation) expects images of shape (height, width, channels), got (6,)");
}

TEST_CASE("RandomContrast: (x - mean) f + mean per image and channel, clipped; its gradient",
          "[layers][augment][grad]") {
  const int64_t n = 5, h = 4, w = 3, c = 2, plane = h * w * c;
  auto xv = test::random_vecf(size_t(n * plane), 8, 0.f, 1.f);
  RandomContrast rc(augment_factor({0.4}, 0, 1, "factor"), 0, 1);
  built(rc, {h, w, c});
  CHECK(rc.config_str() == "factor=0.4, value_range=(0, 1)");
  CHECK(rc.factor().lower == 0.0);  // Keras 3.15: a number f draws in [1, 1 + f]
  Context ctx;
  ctx.key = {5, 0, 1, 0};
  Tensor x({n, h, w, c}), y({n, h, w, c});
  std::copy(xv.begin(), xv.end(), x.data());
  rc.forward(ctx, x, y, false);
  CHECK(std::equal(x.data(), x.data() + x.numel(), y.data()));
  rc.forward(ctx, x, y, true);
  bool clipped = false;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < c; ++k) {
      double mean = 0;
      for (int64_t p = 0; p < h * w; ++p) mean += xv[size_t(s * plane + p * c + k)];
      mean /= double(h * w);
      // the factor from the pixel farthest from the mean, then every pixel by it
      int64_t far = 0;
      for (int64_t p = 1; p < h * w; ++p)
        if (std::fabs(xv[size_t(s * plane + p * c + k)] - mean) > std::fabs(xv[size_t(s * plane + far * c + k)] - mean))
          far = p;
      double f = -1;
      for (int64_t p = 0; p < h * w && f < 0; ++p) {
        const double v = y.data()[s * plane + p * c + k];
        if (v > 0 && v < 1) f = (v - mean) / (xv[size_t(s * plane + p * c + k)] - mean);
      }
      CHECK((f >= 1.0 - 1e-4 && f <= 1.4 + 1e-4));
      for (int64_t p = 0; p < h * w; ++p) {
        const double want = std::min(std::max((xv[size_t(s * plane + p * c + k)] - mean) * f + mean, 0.0), 1.0);
        clipped = clipped || want == 0.0 || want == 1.0;
        CHECK(y.data()[s * plane + p * c + k] == Approx(want).margin(2e-5));
      }
      (void)far;
    }
  // The gradient through the mean (and the clip) against finite differences, in a wide value range.
  RandomContrast wide(augment_factor({0.3, 0.8}, 0, 1, "factor"), -100, 100);
  built(wide, {h, w, c});
  const auto v = test::random_vecf(size_t(n * plane), 9);
  Tensor dy({n, h, w, c}), dx({n, h, w, c});
  std::copy(v.begin(), v.end(), dy.data());
  wide.forward(ctx, x, y, true);
  wide.backward(ctx, x, y, dy, &dx);
  for (int64_t e = 0; e < x.numel(); e += 7) {
    const float keep = x.data()[e];
    double sides[2];
    for (int side = 0; side < 2; ++side) {
      x.data()[e] = keep + (side ? -1e-2f : 1e-2f);
      wide.forward(ctx, x, y, true);
      sides[side] = 0;
      for (int64_t q = 0; q < y.numel(); ++q) sides[side] += double(y.data()[q]) * v[size_t(q)];
    }
    x.data()[e] = keep;
    CHECK(dx.data()[e] == Approx((sides[0] - sides[1]) / 2e-2).margin(1e-3));
  }
  CHECK_THROWS_WITH(RandomContrast(augment_factor({0.2}, 0, 1, "f"), 1, 1),
                    "RandomContrast value_range must be (low, high) with low < high, got (1, 1)");
  // RandomBrightness: x + delta, delta in the factor's range times the value range's width, clipped.
  RandomContrast rb(augment_factor({-0.3, 0.1}, -1, 1, "factor"), 0, 2, true);
  built(rb, {h, w, c});
  CHECK(rb.class_name() == "RandomBrightness");
  CHECK(rb.config_str() == "factor=(-0.3, 0.1), value_range=(0, 2)");
  rb.forward(ctx, x, y, false);
  CHECK(std::equal(x.data(), x.data() + x.numel(), y.data()));
  rb.forward(ctx, x, y, true);
  for (int64_t s = 0; s < n; ++s) {
    double delta = 0;  // from an unclipped value
    for (int64_t p = 0; p < plane; ++p) {
      const double v = y.data()[s * plane + p];
      if (v > 0 && v < 2) delta = v - xv[size_t(s * plane + p)];
    }
    CHECK((delta >= -0.6 - 1e-6 && delta <= 0.2 + 1e-6));
    for (int64_t p = 0; p < plane; ++p)
      CHECK(y.data()[s * plane + p] ==
            Approx(std::min(std::max(xv[size_t(s * plane + p)] + delta, 0.0), 2.0)).margin(1e-5));
  }
  rb.backward(ctx, x, y, dy, &dx);
  for (int64_t e = 0; e < x.numel(); ++e) {
    const float out = y.data()[e];
    CHECK(dx.data()[e] == (out > 0.f && out < 2.f ? dy.data()[e] : 0.f));
  }
}

TEST_CASE("augmentation layers through Keras's files; a model with them trains on 3 CPU replicas as on one",
          "[layers][augment][io][parallel]") {
  auto make = [] {
    auto m = std::make_unique<Sequential>("augmented");
    m->add(std::make_unique<RandomAffine>(WarpKind::rotation, augment_factor({0.1}, -1, 1, "f"), AugmentFactor{},
                                          "reflect", "bilinear", 0));
    m->add(std::make_unique<RandomAffine>(WarpKind::zoom, augment_factor({-0.2, 0.1}, -1, 1, "f"),
                                          augment_factor({0.15}, -1, 1, "f"), "constant", "nearest", 0.25));
    m->add(std::make_unique<RandomAffine>(WarpKind::translation, augment_factor({0.1}, -1, 1, "f"),
                                          augment_factor({-0.1, 0.2}, -1, 1, "f"), "wrap", "bilinear", 0));
    m->add(std::make_unique<RandomAffine>(WarpKind::shear, augment_factor({0.0}, -1, 1, "f"),
                                          augment_factor({0.3}, -1, 1, "f"), "nearest", "bilinear", 0));
    Conv2DConfig cc;
    cc.filters = 3;
    cc.kh = cc.kw = 3;
    cc.activation = Activation::tanh;
    m->add(std::make_unique<Conv2D>(cc));
    m->add(
        std::make_unique<RandomContrast>(augment_factor({0.2, 0.5}, 0, 1, "f"), -1, 1));  // between layers: a gradient
    ResizeConfig rc;
    rc.height = 6;
    rc.width = 3;
    rc.crop_to_aspect_ratio = true;
    m->add(std::make_unique<Resizing>(rc));
    m->add(std::make_unique<RandomGrayscale>(0.5));  // after the Conv2D's 3 channels
    ResizeConfig random;
    random.height = 4;
    random.width = 3;
    random.random_crop = true;
    m->add(std::make_unique<Resizing>(random));
    m->add(std::make_unique<RandomContrast>(augment_factor({0.2}, -1, 1, "f"), -1, 1, true));  // RandomBrightness
    ResizeConfig crop;
    crop.height = 3;
    crop.width = 2;
    crop.center_crop = true;
    m->add(std::make_unique<Resizing>(crop));
    m->add(std::make_unique<Flatten>());
    m->add(std::make_unique<Dense>(4, Activation::softmax));
    m->build({7, 6, 2}, 3);
    return m;
  };
  auto m = make();
  const std::string dir = test::temp_dir("augment");
  for (const auto& loaded : test::check_file_round_trips(*m, dir))
    for (size_t i = 0; i < m->layers().size(); ++i)
      CHECK(loaded->layers()[i]->config_str() == m->layers()[i]->config_str());
  std::filesystem::remove_all(dir);
  Dataset data = make_synthetic({7, 6, 2}, 4, 30, 5);
  const double d = test::replicas_vs_one(make, data, 3, 10);
  std::printf("equivalence augmented R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}

TEST_CASE("Resizing: jax.image.resize's bilinear and nearest, Keras's crop and pad to the aspect ratio, its transpose",
          "[layers][augment][resize]") {
  Context ctx;
  auto resized = [&](ResizeConfig rc, const Shape& in, const std::vector<float>& v) {
    Resizing r(rc);
    built(r, in);
    Shape xs = in;
    xs.insert_front(1);
    Tensor x(xs);
    std::copy(v.begin(), v.end(), x.data());
    Shape ys = r.output_shape();
    ys.insert_front(1);
    Tensor y(ys);
    r.forward(ctx, x, y, false);
    return std::vector<float>(y.data(), y.data() + y.numel());
  };
  ResizeConfig up;
  up.height = 4;
  up.width = 4;
  // (2, 2) -> (4, 4): samples at -0.25, 0.25, 0.75, 1.25 of each axis (the edges renormalised).
  const std::vector<float> u = resized(up, {2, 2, 1}, {0, 1, 2, 3});
  const std::vector<float> row = {0, 0.25f, 0.75f, 1};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) CHECK(u[size_t(i * 4 + j)] == Approx(2 * row[size_t(i)] + row[size_t(j)]));
  ResizeConfig down;  // (4, 4) -> (2, 2): samples at 0.5 and 2.5, the means of pairs
  down.height = down.width = 2;
  std::vector<float> img(16);
  for (int k = 0; k < 16; ++k) img[size_t(k)] = float(k * k);
  const std::vector<float> d = resized(down, {4, 4, 1}, img);
  CHECK(d[0] == Approx((0 + 1 + 16 + 25) / 4.0));
  CHECK(d[3] == Approx((100 + 121 + 196 + 225) / 4.0));
  ResizeConfig near;  // nearest (3, 1) -> (5, 1): floor((i + 0.5) 3 / 5) = 0, 0, 1, 2, 2
  near.height = 5;
  near.width = 1;
  near.interpolation = "nearest";
  CHECK(resized(near, {3, 1, 1}, {7, 8, 9}) == std::vector<float>{7, 7, 8, 9, 9});
  ResizeConfig crop;  // (4, 6) -> (2, 2) through the centred (4, 4) crop: columns 1..4
  crop.height = crop.width = 2;
  crop.crop_to_aspect_ratio = true;
  std::vector<float> wide(24);
  for (int k = 0; k < 24; ++k) wide[size_t(k)] = float(k);
  const std::vector<float> cr = resized(crop, {4, 6, 1}, wide);
  CHECK(cr[0] == Approx((1 + 2 + 7 + 8) / 4.0));
  CHECK(cr[3] == Approx((15 + 16 + 21 + 22) / 4.0));
  ResizeConfig pad;  // (2, 4) -> (4, 4): a row of fill_value above and below, then (4, 4) as it is
  pad.height = pad.width = 4;
  pad.pad_to_aspect_ratio = true;
  pad.fill_value = -1;
  std::vector<float> flat(8);
  for (int k = 0; k < 8; ++k) flat[size_t(k)] = float(k);
  const std::vector<float> pd = resized(pad, {2, 4, 1}, flat);
  for (int j = 0; j < 4; ++j) {
    CHECK(pd[size_t(j)] == -1.f);
    CHECK(pd[size_t(4 + j)] == float(j));
    CHECK(pd[size_t(12 + j)] == -1.f);
  }
  {  // The gradient is the transpose: <resize x, v> = <x, resize^T v>, up and down, both interpolations.
    const int64_t n = 3;
    for (const auto& [h, w, oh, ow, interp] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, const char*>>{
             {5, 7, 8, 3, "bilinear"}, {6, 4, 3, 9, "bilinear"}, {5, 7, 8, 3, "nearest"}}) {
      ResizeConfig rc;
      rc.height = oh;
      rc.width = ow;
      rc.interpolation = interp;
      Resizing r(rc);
      built(r, {h, w, 2});
      Tensor x({n, h, w, 2}), y({n, oh, ow, 2}), v({n, oh, ow, 2}), g({n, h, w, 2});
      const auto xv = test::random_vecf(size_t(x.numel()), 3), vv = test::random_vecf(size_t(v.numel()), 4);
      std::copy(xv.begin(), xv.end(), x.data());
      std::copy(vv.begin(), vv.end(), v.data());
      r.forward(ctx, x, y, true);
      r.backward(ctx, x, y, v, &g);
      double lhs = 0, rhs = 0;
      for (int64_t e = 0; e < y.numel(); ++e) lhs += double(y.data()[e]) * vv[size_t(e)];
      for (int64_t e = 0; e < x.numel(); ++e) rhs += double(xv[size_t(e)]) * g.data()[e];
      CHECK(lhs == Approx(rhs).epsilon(1e-5));
    }
  }
  {  // CenterCrop: a crop from half the difference (rounded down); a smaller image resized as smart_resize
    ResizeConfig cc;
    cc.height = 2;
    cc.width = 3;
    cc.center_crop = true;
    const std::vector<float> c1 = resized(cc, {4, 6, 1}, wide);  // rows 1..2, columns 1..3
    CHECK(c1 == std::vector<float>{7, 8, 9, 13, 14, 15});
    Resizing named(cc);
    CHECK(named.class_name() == "CenterCrop");
    CHECK(named.config_str() == "height=2, width=3");
    ResizeConfig big = cc;
    big.height = 4;
    big.width = 4;
    ResizeConfig same = up;  // (2, 2) -> (4, 4) through the aspect crop (the whole image): bilinear
    CHECK(resized(big, {2, 2, 1}, {0, 1, 2, 3}) == resized(same, {2, 2, 1}, {0, 1, 2, 3}));
  }
  ResizeConfig bad = down;
  bad.interpolation = "bicubic";
  CHECK_THROWS_WITH(Resizing(bad),
                    "Resizing interpolation 'bicubic' is not supported (dptrain resizes with "
                    "'bilinear' or 'nearest')");
  ResizeConfig aa = down;
  aa.antialias = true;
  Resizing shrink(aa);
  shrink.set_name("resizing");
  CHECK_THROWS_WITH(shrink.build({4, 4, 1}),
                    "layer 'resizing' (Resizing) antialias=True shrinks (4, 4) to (2, 2); "
                    "dptrain resizes without antialiasing (Keras's default)");
  aa.height = aa.width = 6;
  Resizing fine(aa);  // antialias changes nothing when no axis shrinks
  built(fine, {4, 4, 1});
  CHECK(fine.output_shape() == Shape{6, 6, 1});
}

TEST_CASE("RandomCrop: each sample's window in training, tf_keras's smart_resize at inference; RandomGrayscale",
          "[layers][augment][crop]") {
  Context ctx;
  ctx.key = {7, 1, 3, 40};
  ResizeConfig rc;
  rc.height = 3;
  rc.width = 4;
  rc.random_crop = true;
  Resizing crop(rc);
  built(crop, {5, 7, 2});
  CHECK(crop.class_name() == "RandomCrop");
  CHECK(crop.default_name() == "random_crop");
  CHECK(crop.config_str() == "height=3, width=4");
  CHECK(crop.output_shape() == Shape{3, 4, 2});
  const int64_t n = 24;
  Tensor x = ramp(n, 5, 7, 2), y({n, 3, 4, 2});
  crop.forward(ctx, x, y, true);
  std::set<std::pair<int, int>> offsets;
  for (int64_t s = 0; s < n; ++s) {  // a window of the ramp: at (top, left) in [0, 2] x [0, 3]
    const float origin = at(y, s, 0, 0);
    const int top = int(origin) / 10, left = int(origin) % 10;
    CHECK((top >= 0 && top <= 2 && left >= 0 && left <= 3));
    offsets.insert({top, left});
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t k = 0; k < 2; ++k) CHECK(at(y, s, i, j, k) == origin + float(10 * i + j + 100 * k));
  }
  CHECK(offsets.size() >= 6);  // each sample draws its own (12 possible)
  {                            // the same for a sample however the batch is split
    Tensor tail = Tensor::view(x.data() + 20 * 70, {4, 5, 7, 2}, x.device()), yt({4, 3, 4, 2});
    Context c2 = ctx;
    c2.key.row_offset = 60;
    crop.forward(c2, tail, yt, true);
    CHECK(std::equal(yt.data(), yt.data() + yt.numel(), y.data() + 20 * 24));
  }
  {  // its gradient is the window's transpose: dy back in place, zeros elsewhere
    const auto vv = test::random_vecf(size_t(y.numel()), 6);
    Tensor v({n, 3, 4, 2}), g({n, 5, 7, 2});
    std::copy(vv.begin(), vv.end(), v.data());
    crop.backward(ctx, x, y, v, &g);
    double lhs = 0, rhs = 0, mass = 0;
    for (int64_t e = 0; e < y.numel(); ++e) lhs += double(y.data()[e]) * vv[size_t(e)];
    for (int64_t e = 0; e < x.numel(); ++e) {
      rhs += double(x.data()[e]) * g.data()[e];
      mass += g.data()[e] != 0.f;
    }
    CHECK(lhs == Approx(rhs).epsilon(1e-6));
    CHECK(mass == double(y.numel()));
  }
  // At inference (and in training where the image is smaller on an axis): a bilinear resize from
  // the centred crop of the target's aspect ratio, as Resizing(crop_to_aspect_ratio=True).
  ResizeConfig smart;
  smart.height = 3;
  smart.width = 4;
  smart.crop_to_aspect_ratio = true;
  Resizing resize(smart);
  built(resize, {5, 7, 2});
  Tensor want({n, 3, 4, 2}), got({n, 3, 4, 2});
  resize.forward(ctx, x, want, false);
  crop.forward(ctx, x, got, false);
  CHECK(std::equal(got.data(), got.data() + got.numel(), want.data()));
  rc.height = 6;  // taller than the image: resized in training too
  Resizing tall(rc);
  built(tall, {5, 7, 2});
  smart.height = 6;
  Resizing tall_resize(smart);
  built(tall_resize, {5, 7, 2});
  Tensor a({n, 6, 4, 2}), b({n, 6, 4, 2});
  tall.forward(ctx, x, a, true);
  tall_resize.forward(ctx, x, b, true);
  CHECK(std::equal(a.data(), a.data() + a.numel(), b.data()));
  rc.height = 0;
  CHECK_THROWS_WITH(Resizing(rc), "RandomCrop needs a height and width >= 1, got (0, 4)");

  // RandomGrayscale: the luma in all three channels where a sample draws below the factor.
  RandomGrayscale gray(0.5);
  built(gray, {2, 3, 3});
  CHECK(gray.class_name() == "RandomGrayscale");
  CHECK(gray.config_str() == "factor=0.5");
  const auto rgb = test::random_vecf(size_t(n * 2 * 3 * 3), 8);
  Tensor in({n, 2, 3, 3}), out({n, 2, 3, 3});
  std::copy(rgb.begin(), rgb.end(), in.data());
  gray.forward(ctx, in, out, true);
  int greyed = 0;
  for (int64_t s = 0; s < n; ++s) {
    const float* xs = in.data() + s * 18;
    const float* ys = out.data() + s * 18;
    const bool g = ys[0] == ys[1] && ys[1] == ys[2];
    greyed += g;
    for (int64_t p = 0; p < 6; ++p) {
      const float* px = xs + p * 3;
      const float* py = ys + p * 3;
      if (g) {
        for (int k = 0; k < 3; ++k) CHECK(py[k] == Approx(0.2989 * px[0] + 0.5870 * px[1] + 0.1140 * px[2]));
      } else {
        CHECK(std::equal(px, px + 3, py));
      }
    }
  }
  CHECK((greyed > 4 && greyed < 20));
  {  // its gradient is the transpose
    const auto vv = test::random_vecf(rgb.size(), 9);
    Tensor v({n, 2, 3, 3}), g({n, 2, 3, 3});
    std::copy(vv.begin(), vv.end(), v.data());
    gray.backward(ctx, in, out, v, &g);
    double lhs = 0, rhs = 0;
    for (int64_t e = 0; e < out.numel(); ++e) {
      lhs += double(out.data()[e]) * vv[size_t(e)];
      rhs += double(rgb[size_t(e)]) * g.data()[e];
    }
    CHECK(lhs == Approx(rhs).epsilon(1e-6));
  }
  gray.forward(ctx, in, out, false);  // the identity at inference
  CHECK(std::equal(out.data(), out.data() + out.numel(), in.data()));
  RandomGrayscale always(1.0), never(0.0), one(1.0);
  built(always, {2, 3, 3});
  built(never, {2, 3, 3});
  built(one, {2, 3, 1});
  always.forward(ctx, in, out, true);
  for (int64_t p = 0; p < n * 6; ++p) CHECK(out.data()[p * 3] == out.data()[p * 3 + 2]);
  never.forward(ctx, in, out, true);
  CHECK(std::equal(out.data(), out.data() + out.numel(), in.data()));
  Tensor mono = Tensor::view(in.data(), {n, 2, 3, 1}, in.device()), mono_out({n, 2, 3, 1});
  one.forward(ctx, mono, mono_out, true);  // one channel: already grey
  CHECK(std::equal(mono_out.data(), mono_out.data() + mono_out.numel(), mono.data()));
  CHECK_THROWS_WITH(RandomGrayscale(1.5), "RandomGrayscale factor should be between 0 and 1, got 1.5");
  RandomGrayscale two(0.5);
  two.set_name("g");
  CHECK_THROWS_WITH(two.build({4, 4, 2}),
                    "layer 'g' (RandomGrayscale) expects images of shape (height, width, 3) or (height, width, 1), "
                    "as Keras's rgb_to_grayscale, got (4, 4, 2)");
}
