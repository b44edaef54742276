// Finite-difference gradient checks, in double precision, of every CPU kernel with a backward:
// the scalar checked is L = sum(r .* forward(x)) with random r, so dL/dy = r.
#include <catch2/catch.hpp>
#include <cmath>
#include "core/layer.h"
#include "core/losses.h"
#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/conv2d.h"
#include "kernels/depthwise.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/layernorm.h"
#include "kernels/loss.h"
#include "kernels/pad2d.h"
#include "kernels/pooling.h"
#include "kernels/prelu.h"
#include "test_util.h"

using namespace dpt;
using namespace dpt::kernels;
using dpt::test::dot;
using dpt::test::numeric_grad;
using dpt::test::random_vec;
using dpt::test::worst_ratio;

namespace {
constexpr double kAtol = 1e-7, kRtol = 1e-6;
}

TEST_CASE("activation gradients match finite differences (double)", "[kernels][grad]") {
  const int64_t rows = 3, cols = 5;
  // Keras's LeakyReLU(0.3), ELU(0.5) and ReLU(max_value=1.5) layers' settings too.
  for (Activation a :
       {Activation(Activation::linear), Activation(Activation::relu), Activation(Activation::sigmoid),
        Activation(Activation::tanh), Activation(Activation::softmax), Activation(Activation::elu),
        Activation(Activation::selu), Activation(Activation::softplus), Activation(Activation::softsign),
        Activation(Activation::relu6), Activation(Activation::exponential), Activation(Activation::leaky_relu),
        Activation(Activation::gelu), Activation(Activation::silu), Activation(Activation::mish),
        Activation(Activation::hard_silu), Activation(Activation::leaky_relu, 0.3f), Activation(Activation::elu, 0.5f),
        Activation(Activation::relu6, 1.5f)}) {
    // relu6's cap at 6 too; hard_silu's bends at -3 and 3
    const double span = a == Activation::relu6 && a.has_default_alpha() ? 8 : a == Activation::hard_silu ? 4.5 : 2;
    auto x = random_vec(rows * cols, 11 + int(a.kind), -span, span);
    auto r = random_vec(rows * cols, 99);
    std::vector<double> y(x.size()), dx(x.size());
    auto f = [&] {
      activation_forward_cpu(a, x.data(), y.data(), rows, cols);
      return dot(y, r);
    };
    f();
    activation_backward_cpu(a, x.data(), y.data(), r.data(), dx.data(), rows, cols);
    auto num = numeric_grad(f, x);
    INFO("activation " << activation_str(a));
    CHECK(worst_ratio(dx, num, kAtol, kRtol) <= 1.0);
  }
}

TEST_CASE("dense (GEMM + bias) gradients match finite differences (double)", "[kernels][grad]") {
  const int64_t n = 4, in = 3, out = 5;
  auto x = random_vec(n * in, 1), w = random_vec(in * out, 2), b = random_vec(out, 3), r = random_vec(n * out, 4);
  std::vector<double> y(n * out);
  auto f = [&] {
    gemm_cpu<double>(false, false, n, out, in, 1.0, x.data(), w.data(), 0.0, y.data());
    bias_add_cpu(y.data(), b.data(), n, out);
    return dot(y, r);
  };
  std::vector<double> dw(w.size(), 0.0), db(b.size(), 0.0), dx(x.size());
  gemm_cpu<double>(true, false, in, out, n, 1.0, x.data(), r.data(), 1.0, dw.data());
  bias_grad_cpu(r.data(), db.data(), n, out);
  gemm_cpu<double>(false, true, n, in, out, 1.0, r.data(), w.data(), 0.0, dx.data());
  CHECK(worst_ratio(dw, numeric_grad(f, w), kAtol, kRtol) <= 1.0);
  CHECK(worst_ratio(db, numeric_grad(f, b), kAtol, kRtol) <= 1.0);
  CHECK(worst_ratio(dx, numeric_grad(f, x), kAtol, kRtol) <= 1.0);
}

// d: the dilation along the rows (the columns take d + 1 where d > 1, so the two differ).
static Conv2dGeom make_conv(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, int64_t s, bool same, int64_t oc,
                            int64_t d = 1) {
  Conv2dGeom g;
  g.n = n, g.h = h, g.w = w, g.c = c, g.kh = k, g.kw = k, g.sh = s, g.sw = s, g.oc = oc;
  g.dh = d, g.dw = d > 1 ? d + 1 : 1;
  conv_out_size(h, g.span_h(), s, same, &g.oh, &g.pad_top);
  conv_out_size(w, g.span_w(), s, same, &g.ow, &g.pad_left);
  return g;
}

TEST_CASE("conv2d gradients match finite differences (double), valid/same, strides, 1x1, dilations",
          "[kernels][grad]") {
  struct Case {
    int64_t h, w, k, s;
    bool same;
    int64_t d = 1;
  };
  // Dilated (2, 3): 'same' padding (a 2x2 kernel spans 3x4: padding 1 left, 2 right), valid.
  for (Case cs : {Case{5, 6, 3, 1, false}, Case{5, 6, 3, 1, true}, Case{7, 5, 3, 2, true}, Case{6, 6, 2, 2, false},
                  Case{4, 4, 1, 1, false}, Case{5, 5, 1, 2, true}, Case{6, 7, 3, 1, true, 2},
                  Case{7, 9, 3, 1, false, 2}, Case{5, 6, 2, 1, true, 2}}) {
    const Conv2dGeom g = make_conv(2, cs.h, cs.w, 3, cs.k, cs.s, cs.same, 4, cs.d);
    auto x = random_vec(g.n * g.h * g.w * g.c, 5), k = random_vec(g.kh * g.kw * g.c * g.oc, 6), b = random_vec(g.oc, 7);
    auto r = random_vec(g.n * g.oh * g.ow * g.oc, 8);
    std::vector<double> y(r.size());
    // Small workspace: forces processing in chunks of one sample.
    const int64_t ws = conv2d_min_workspace(g);
    std::vector<double> work(size_t(std::max<int64_t>(ws, 1)));
    auto f = [&] {
      conv2d_forward_cpu<double>(g, x.data(), k.data(), b.data(), y.data(), work.data(), ws);
      return dot(y, r);
    };
    std::vector<double> dk(k.size(), 0.0), db(b.size(), 0.0), dx(x.size());
    conv2d_backward_cpu<double>(g, x.data(), k.data(), r.data(), dx.data(), dk.data(), db.data(), work.data(), ws);
    INFO("h=" << cs.h << " w=" << cs.w << " k=" << cs.k << " s=" << cs.s << " same=" << cs.same << " d=" << cs.d);
    CHECK(worst_ratio(dk, numeric_grad(f, k), kAtol, kRtol) <= 1.0);
    CHECK(worst_ratio(db, numeric_grad(f, b), kAtol, kRtol) <= 1.0);
    CHECK(worst_ratio(dx, numeric_grad(f, x), kAtol, kRtol) <= 1.0);
    // The arena layout: bias directly after the kernel (one GEMM for both), same function.
    std::vector<double> kb(k), dkb(k.size() + b.size(), 0.0), dx2(x.size()), y2(y.size());
    kb.insert(kb.end(), b.begin(), b.end());
    conv2d_forward_cpu<double>(g, x.data(), kb.data(), kb.data() + k.size(), y2.data(), work.data(), ws);
    f();
    CHECK(worst_ratio(y2, y, 1e-12, 1e-12) <= 1.0);
    conv2d_backward_cpu<double>(g, x.data(), kb.data(), r.data(), dx2.data(), dkb.data(), dkb.data() + k.size(),
                                work.data(), ws);
    std::vector<double> both(dk);
    both.insert(both.end(), db.begin(), db.end());
    CHECK(worst_ratio(dkb, both, 1e-12, 1e-10) <= 1.0);
    CHECK(worst_ratio(dx2, dx, 1e-12, 1e-12) <= 1.0);
    // The last output by hand: tap (i, j) reads row o * s + i * dh - pad_top, column q * s + j * dw - pad_left.
    const int64_t o = g.oh - 1, q = g.ow - 1, ch = g.oc - 1;
    double want = b[size_t(ch)];
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ih = o * g.sh + i * g.dh - g.pad_top, iw = q * g.sw + j * g.dw - g.pad_left;
        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
          for (int64_t c = 0; c < g.c; ++c)
            want += x[size_t(((g.n - 1) * g.h + ih) * g.w * g.c + iw * g.c + c)] *
                    k[size_t(((i * g.kw + j) * g.c + c) * g.oc + ch)];
      }
    CHECK(y.back() == Approx(want).epsilon(1e-12));
  }
}

TEST_CASE("transposed conv2d (a conv's backward-data) against its definition; gradients (double)",
          "[kernels][grad][transpose]") {
  struct Case {
    int64_t h, w, k, s;  // the transposed convolution's input (h, w) and its kernel and strides
    bool same;
    int64_t d = 1;
  };
  for (Case cs : {Case{3, 4, 3, 2, true}, Case{3, 3, 3, 2, false}, Case{3, 2, 4, 2, true}, Case{4, 3, 2, 2, false},
                  Case{3, 4, 2, 1, false, 2}, Case{4, 4, 3, 1, true}, Case{2, 3, 1, 3, false}}) {
    INFO("h=" << cs.h << " w=" << cs.w << " k=" << cs.k << " s=" << cs.s << " same=" << cs.same << " d=" << cs.d);
    // The convolution it transposes: from the output (oh, ow, 4 filters) to the input (h, w, 3).
    int64_t oh[2];
    const int64_t in[2] = {cs.h, cs.w}, span[2] = {(cs.k - 1) * cs.d + 1, (cs.k - 1) * (cs.d > 1 ? cs.d + 1 : 1) + 1};
    for (int i = 0; i < 2; ++i) oh[i] = in[i] * cs.s + (cs.same ? 0 : std::max<int64_t>(span[i] - cs.s, 0));
    const Conv2dGeom g = make_conv(2, oh[0], oh[1], 4, cs.k, cs.s, cs.same, 3, cs.d);
    REQUIRE(g.oh == cs.h);
    REQUIRE(g.ow == cs.w);
    auto x = random_vec(g.n * g.oh * g.ow * g.oc, 61), k = random_vec(g.kh * g.kw * g.c * g.oc, 62);
    auto r = random_vec(g.n * g.h * g.w * g.c, 63);
    std::vector<double> y(r.size());
    const int64_t ws = conv2d_min_workspace(g);
    std::vector<double> work(size_t(std::max<int64_t>(ws, 1)));
    auto f = [&] {
      conv2d_backward_cpu<double>(g, nullptr, k.data(), x.data(), y.data(), nullptr, nullptr, work.data(), ws);
      return dot(y, r);
    };
    f();
    // The definition: input pixel (iy, ix) adds x . kernel[ky, kx] at output (iy*s - pad + ky*dh, ...).
    std::vector<double> want(y.size(), 0.0);
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t iy = 0; iy < g.oh; ++iy)
        for (int64_t ix = 0; ix < g.ow; ++ix)
          for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t py = iy * g.sh - g.pad_top + ky * g.dh, px = ix * g.sw - g.pad_left + kx * g.dw;
              if (py < 0 || py >= g.h || px < 0 || px >= g.w) continue;
              for (int64_t fo = 0; fo < g.c; ++fo)
                for (int64_t ci = 0; ci < g.oc; ++ci)
                  want[size_t(((n * g.h + py) * g.w + px) * g.c + fo)] +=
                      x[size_t(((n * g.oh + iy) * g.ow + ix) * g.oc + ci)] *
                      k[size_t(((ky * g.kw + kx) * g.c + fo) * g.oc + ci)];
            }
    CHECK(worst_ratio(y, want, 1e-12, 1e-12) <= 1.0);
    // Its backward: dx is the convolution's forward of r, dkernel its backward-filter (x and dy swapped).
    std::vector<double> dx(x.size()), dk(k.size(), 0.0);
    conv2d_forward_cpu<double>(g, r.data(), k.data(), nullptr, dx.data(), work.data(), ws);
    conv2d_backward_cpu<double>(g, r.data(), k.data(), x.data(), nullptr, dk.data(), nullptr, work.data(), ws);
    CHECK(worst_ratio(dx, numeric_grad(f, x), kAtol, kRtol) <= 1.0);
    CHECK(worst_ratio(dk, numeric_grad(f, k), kAtol, kRtol) <= 1.0);
  }
}

TEST_CASE("depthwise conv2d gradients match finite differences (double): valid/same, strides, depth multipliers",
          "[kernels][grad]") {
  struct Case {
    int64_t h, w, k, s, dm;
    bool same;
    int64_t d = 1;  // dilation (make_conv)
  };
  // MobileNet's two kinds (3x3 same stride 1; 3x3 valid stride 2 after padding), asymmetric 'same'
  // padding, depth multipliers 2 and 3, a 1x1 kernel.
  for (Case cs :
       {Case{5, 6, 3, 1, 1, true}, Case{7, 7, 3, 2, 1, false}, Case{6, 5, 3, 2, 2, true}, Case{5, 5, 2, 1, 3, false},
        Case{4, 4, 1, 1, 2, false}, Case{6, 7, 3, 1, 2, true, 2}, Case{7, 9, 3, 1, 1, false, 2}}) {
    const Conv2dGeom g = make_conv(2, cs.h, cs.w, 3, cs.k, cs.s, cs.same, 3 * cs.dm, cs.d);
    auto x = random_vec(g.n * g.h * g.w * g.c, 15), k = random_vec(g.kh * g.kw * g.oc, 16), b = random_vec(g.oc, 17);
    auto r = random_vec(g.n * g.oh * g.ow * g.oc, 18);
    std::vector<double> y(r.size());
    auto f = [&] {
      depthwise_forward_cpu<double>(g, x.data(), k.data(), b.data(), y.data());
      return dot(y, r);
    };
    std::vector<double> dk(k.size(), 0.0), db(b.size(), 0.0), dx(x.size());
    depthwise_backward_cpu<double>(g, x.data(), k.data(), r.data(), dx.data(), dk.data(), db.data());
    INFO("h=" << cs.h << " w=" << cs.w << " k=" << cs.k << " s=" << cs.s << " dm=" << cs.dm << " same=" << cs.same
              << " d=" << cs.d);
    CHECK(worst_ratio(dk, numeric_grad(f, k), kAtol, kRtol) <= 1.0);
    CHECK(worst_ratio(db, numeric_grad(f, b), kAtol, kRtol) <= 1.0);
    CHECK(worst_ratio(dx, numeric_grad(f, x), kAtol, kRtol) <= 1.0);
    // Each output channel c * dm + m by hand at one position: its channel's input only.
    const int64_t o = g.oh - 1, q = g.ow - 1, ch = g.oc - 1, c = ch / cs.dm;
    double want = b[size_t(ch)];
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ih = o * g.sh + i * g.dh - g.pad_top, iw = q * g.sw + j * g.dw - g.pad_left;
        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
          want += x[size_t(((g.n - 1) * g.h + ih) * g.w * g.c + iw * g.c + c)] * k[size_t((i * g.kw + j) * g.oc + ch)];
      }
    f();
    CHECK(y.back() == Approx(want).epsilon(1e-12));
  }
}

TEST_CASE("zero padding and cropping: values and gradients (double)", "[kernels][grad]") {
  Window2d g;
  g.n = 2, g.c = 3, g.h = 3, g.w = 4, g.H = 6, g.W = 5, g.top = 2, g.left = 1;
  auto small = random_vec(g.n * g.h * g.w * g.c, 21), large = random_vec(g.n * g.H * g.W * g.c, 22);
  std::vector<double> big(large.size(), 7.0), back(small.size(), 7.0);
  embed2d_cpu(g, small.data(), big.data());
  extract2d_cpu(g, big.data(), back.data());
  CHECK(back == small);  // the window holds the small image
  double outside = 0;
  for (double v : big) outside += v * v;
  for (double v : small) outside -= v * v;
  CHECK(outside == Approx(0.0).margin(1e-12));  // zeros around it
  // Each is the other's transpose: <embed(a), b> == <a, extract(b)>
  std::vector<double> cut(small.size());
  extract2d_cpu(g, large.data(), cut.data());
  CHECK(dot(big, large) == Approx(dot(small, cut)).epsilon(1e-12));
}

TEST_CASE("global max pooling and nearest upsampling: gradients (double), ties shared", "[kernels][grad]") {
  const int64_t n = 2, hw = 6, c = 3;
  auto x = random_vec(n * hw * c, 31), r = random_vec(n * c, 32);
  std::vector<double> y(size_t(n * c)), dx(x.size());
  auto f = [&] {
    global_max_pool_forward_cpu(x.data(), y.data(), n, hw, c);
    return dot(y, r);
  };
  f();
  global_max_pool_backward_cpu(x.data(), y.data(), r.data(), dx.data(), n, hw, c);
  CHECK(worst_ratio(dx, numeric_grad(f, x), kAtol, kRtol) <= 1.0);
  // Channel 1 of sample 0 has its maximum at three positions: each takes a third of the gradient.
  for (int64_t p = 0; p < hw; ++p) x[size_t(p * c + 1)] = p % 2 ? 0.75 : -1.0;
  f();
  CHECK(y[1] == 0.75);
  global_max_pool_backward_cpu(x.data(), y.data(), r.data(), dx.data(), n, hw, c);
  for (int64_t p = 0; p < hw; ++p) CHECK(dx[size_t(p * c + 1)] == Approx(p % 2 ? r[1] / 3 : 0.0).margin(1e-15));

  const Upsample2d u{2, 3, 2, 3, 2, 3};  // (3, 2) -> (6, 6)
  auto ux = random_vec(u.n * u.h * u.w * u.c, 33), ur = random_vec(u.n * u.h * u.sh * u.w * u.sw * u.c, 34);
  std::vector<double> uy(ur.size()), udx(ux.size());
  auto fu = [&] {
    upsample2d_forward_cpu(u, ux.data(), uy.data());
    return dot(uy, ur);
  };
  fu();
  CHECK(uy[size_t(((1 * 6 + 5) * 6 + 4) * 3 + 2)] == ux[size_t(((1 * 3 + 2) * 2 + 1) * 3 + 2)]);  // (5, 4) <- (2, 1)
  upsample2d_backward_cpu(u, ur.data(), udx.data());
  CHECK(worst_ratio(udx, numeric_grad(fu, ux), kAtol, kRtol) <= 1.0);
}

TEST_CASE("bilinear upsampling (half-pixel centres): values by hand, gradients (double)", "[kernels][grad]") {
  // One row [a, b] upsampled 4 times along its columns: sources at (o + 0.5) / 4 - 0.5 = -0.375,
  // -0.125, 0.125, ..., 1.375: the ends repeat a and b, between them a linear blend.
  const Upsample2d row{1, 1, 2, 1, 1, 4, true};
  std::vector<double> ab{2.0, 10.0}, out(8);
  upsample2d_forward_cpu(row, ab.data(), out.data());
  const std::vector<double> want{2, 2, 3, 5, 7, 9, 10, 10};
  CHECK(worst_ratio(out, want, 1e-12, 1e-12) <= 1.0);
  for (const Upsample2d u :
       {Upsample2d{2, 3, 2, 3, 2, 3, true}, Upsample2d{1, 4, 5, 2, 3, 2, true}, Upsample2d{1, 1, 3, 2, 1, 5, true}}) {
    INFO("(" << u.h << ", " << u.w << ") upsampled (" << u.sh << ", " << u.sw << ")");
    auto x = random_vec(u.n * u.h * u.w * u.c, 35), r = random_vec(u.n * u.h * u.sh * u.w * u.sw * u.c, 36);
    std::vector<double> y(r.size()), dx(x.size());
    auto f = [&] {
      upsample2d_forward_cpu(u, x.data(), y.data());
      return dot(y, r);
    };
    f();
    upsample2d_backward_cpu(u, r.data(), dx.data());
    CHECK(worst_ratio(dx, numeric_grad(f, x), kAtol, kRtol) <= 1.0);
    // A constant image stays constant (the weights of every output sum to 1).
    std::fill(x.begin(), x.end(), 1.5);
    f();
    for (double v : y) CHECK(v == Approx(1.5).epsilon(1e-14));
  }
}

TEST_CASE("pooling gradients match finite differences (double)", "[kernels][grad]") {
  for (bool same : {false, true}) {
    for (int64_t s : {1, 2}) {
      Pool2dGeom g;
      g.n = 2, g.h = 5, g.w = 5, g.c = 3, g.ph = 2, g.pw = 2, g.sh = s, g.sw = s;
      conv_out_size(g.h, g.ph, g.sh, same, &g.oh, &g.pad_top);
      conv_out_size(g.w, g.pw, g.sw, same, &g.ow, &g.pad_left);
      auto x = random_vec(g.n * g.h * g.w * g.c, 21 + s), r = random_vec(g.n * g.oh * g.ow * g.c, 22);
      std::vector<double> y(r.size()), dx(x.size());
      std::vector<int32_t> argmax(r.size());
      auto fmax = [&] {
        max_pool_forward_cpu(g, x.data(), y.data(), argmax.data());
        return dot(y, r);
      };
      fmax();
      max_pool_backward_cpu(g, argmax.data(), r.data(), dx.data());
      INFO("same=" << same << " stride=" << s);
      CHECK(worst_ratio(dx, numeric_grad(fmax, x), kAtol, kRtol) <= 1.0);
      auto favg = [&] {
        avg_pool_forward_cpu(g, x.data(), y.data());
        return dot(y, r);
      };
      avg_pool_backward_cpu(g, r.data(), dx.data());
      CHECK(worst_ratio(dx, numeric_grad(favg, x), kAtol, kRtol) <= 1.0);
    }
  }
  auto x = random_vec(2 * 6 * 3, 31), r = random_vec(2 * 3, 32);
  std::vector<double> y(6), dx(x.size());
  auto fg = [&] {
    global_avg_pool_forward_cpu(x.data(), y.data(), 2, 6, 3);
    return dot(y, r);
  };
  global_avg_pool_backward_cpu(r.data(), dx.data(), 2, 6, 3);
  CHECK(worst_ratio(dx, numeric_grad(fg, x), kAtol, kRtol) <= 1.0);
}

TEST_CASE("batch normalization (training mode) gradients match finite differences (double)", "[kernels][grad]") {
  const int64_t rows = 7, C = 3;
  auto x = random_vec(rows * C, 41, -2, 3), gamma = random_vec(C, 42, 0.5, 1.5), beta = random_vec(C, 43),
       r = random_vec(rows * C, 44);
  std::vector<double> y(x.size()), mean(C), var(C), invstd(C);
  auto f = [&] {
    std::vector<double> sum(C, 0.0), sumsq(C, 0.0);
    bn_sums_cpu(x.data(), rows, C, sum.data(), sumsq.data());
    bn_stats_from_sums(sum.data(), sumsq.data(), double(rows), C, 1e-3, mean.data(), var.data(), invstd.data());
    bn_apply_cpu(x.data(), rows, C, mean.data(), invstd.data(), gamma.data(), beta.data(), y.data());
    return dot(y, r);
  };
  f();
  std::vector<double> sdy(C, 0.0), sdyx(C, 0.0), dx(x.size());
  bn_backward_sums_cpu(x.data(), r.data(), rows, C, mean.data(), invstd.data(), sdy.data(), sdyx.data());
  bn_backward_apply_cpu(x.data(), r.data(), rows, C, mean.data(), invstd.data(), gamma.data(), sdy.data(), sdyx.data(),
                        double(rows), dx.data());
  CHECK(worst_ratio(dx, numeric_grad(f, x), kAtol, kRtol) <= 1.0);
  CHECK(worst_ratio(sdyx, numeric_grad(f, gamma), kAtol, kRtol) <= 1.0);  // dgamma = sum(dy * xhat)
  CHECK(worst_ratio(sdy, numeric_grad(f, beta), kAtol, kRtol) <= 1.0);    // dbeta = sum(dy)
}

TEST_CASE("layer, RMS and group normalization gradients match finite differences (double), with and without weights",
          "[kernels][grad][layernorm]") {
  // Rows of 5 (LayerNormalization's layout: one position, one group), and GroupNormalization's: 2
  // samples of 3 positions with 6 channels in 3 groups of 2 (rows of 6 values, strided).
  RowLayout rows;
  rows.rows = 4, rows.cg = 5;
  RowLayout grouped;
  grouped.rows = 2 * 3, grouped.positions = 3, grouped.groups = 3, grouped.cg = 2;
  for (const RowLayout& L : {rows, grouped})
    for (const bool centered : {true, false})
      for (const bool weighted : {true, false}) {
        INFO((centered ? "centered" : "RMS") << (weighted ? " with gamma and beta" : " alone") << ", rows of "
                                             << L.len() << " in " << L.groups << " group(s)");
        const int64_t n = L.rows / L.groups * L.positions * L.channels(), C = L.channels();
        auto x = random_vec(n, 51, -2, 3), gamma = random_vec(C, 52, 0.5, 1.5), beta = random_vec(C, 53),
             r = random_vec(n, 54);
        std::vector<double> y(x.size()), mean(L.rows), rstd(L.rows), sums(2 * C);
        const double* g = weighted ? gamma.data() : nullptr;
        auto f = [&] {
          rownorm_forward_cpu(centered, 1e-3, L, x.data(), g, weighted ? beta.data() : nullptr, y.data(), mean.data(),
                              rstd.data());
          return dot(y, r);
        };
        f();
        std::vector<double> dx(x.size()), dgamma(C, 0.5), dbeta(C, -0.25);  // the gradients accumulate
        rownorm_backward_cpu(centered, L, x.data(), r.data(), g, mean.data(), rstd.data(), dx.data(), dgamma.data(),
                             dbeta.data(), sums.data());
        CHECK(worst_ratio(dx, numeric_grad(f, x), kAtol, kRtol) <= 1.0);
        if (weighted) {
          for (auto& v : dgamma) v -= 0.5;
          for (auto& v : dbeta) v += 0.25;
          CHECK(worst_ratio(dgamma, numeric_grad(f, gamma), kAtol, kRtol) <= 1.0);
          CHECK(worst_ratio(dbeta, numeric_grad(f, beta), kAtol, kRtol) <= 1.0);
        }
        // Each row comes out with mean 0 (centered) and mean square 1 / (1 + eps / var).
        f();  // y at x itself (numeric_grad left it at a perturbed x)
        if (!weighted)
          for (int64_t i = 0; i < L.rows; ++i) {
            double s = 0, q = 0, v = 0, m = 0;
            for (int64_t e = 0; e < L.len(); ++e) m += x[size_t(L.offset(i, e))] / double(L.len());
            for (int64_t e = 0; e < L.len(); ++e) {
              const double xv = x[size_t(L.offset(i, e))], d = centered ? xv - m : xv, yv = y[size_t(L.offset(i, e))];
              v += d * d / double(L.len());
              s += yv;
              q += yv * yv / double(L.len());
            }
            if (centered) CHECK(std::abs(s) < 1e-12);
            CHECK(q == Approx(v / (v + 1e-3)).epsilon(1e-12));
          }
      }
  // GroupNormalization's layout by hand: sample 1, group 2 (channels 4, 5), element 3 = position 1,
  // channel 5.
  CHECK(grouped.offset(1 * 3 + 2, 3) == (1 * 3 + 1) * 6 + 5);
  CHECK(grouped.channel(5, 3) == 5);
  CHECK(grouped.row_of(1 * 3 + 1, 5) == 5);
}

// A loss of act(logits) (mean over rows): its gradient with respect to the logits, through the
// unfused d loss / d p and the activation's backward, against finite differences (the worst ratio
// of the difference to its tolerance; <= 1 passes). p: the activation's output.
double unfused_grad_ratio(LossKind kind, Activation act, std::vector<double>& logits, const std::vector<double>& target,
                          int64_t rows, int64_t cols, std::vector<double>* p, double delta = 1) {
  const double scale = 1.0 / double(rows);
  p->assign(logits.size(), 0.0);
  auto f = [&] {
    activation_forward_cpu(act, logits.data(), p->data(), rows, cols);
    return scale *
           loss_cpu<double>(kind, false, p->data(), target.data(), rows, cols, 1.0, nullptr, nullptr, 0.0, delta);
  };
  f();
  const auto num = numeric_grad(f, logits);
  std::vector<double> dp(p->size()), dz(p->size());
  loss_cpu<double>(kind, false, p->data(), target.data(), rows, cols, scale, dp.data(), nullptr, 0.0, delta);
  activation_backward_cpu(act, logits.data(), p->data(), dp.data(), dz.data(), rows, cols);
  return worst_ratio(dz, num, kAtol, 1e-5);
}

// Keras's element-wise losses: their gradients against finite differences, through the output's
// activation (linear for the errors, with Huber's both sides of delta; sigmoid where the loss wants
// values in (0, 1) or above 0; softmax for KL divergence).
TEST_CASE("mean absolute error, Huber, log-cosh, MSLE, KL divergence and Poisson gradients (double)",
          "[kernels][grad][loss]") {
  const int64_t rows = 4, cols = 5;
  const double scale = 1.0 / rows;
  auto logits = random_vec(rows * cols, 55, -3, 3);
  const auto wide = random_vec(rows * cols, 56, -2, 2), unit = random_vec(rows * cols, 57, 0.05, 0.95);
  struct Case {
    LossKind kind;
    Activation act;
    const std::vector<double>* target;
  };
  for (Case cs : {Case{LossKind::mean_absolute_error, Activation::linear, &wide},
                  Case{LossKind::huber, Activation::linear, &wide}, Case{LossKind::log_cosh, Activation::linear, &wide},
                  Case{LossKind::mean_squared_logarithmic_error, Activation::sigmoid, &unit},
                  Case{LossKind::kl_divergence, Activation::softmax, &unit},
                  Case{LossKind::poisson, Activation::sigmoid, &unit}}) {
    INFO("loss " << int(cs.kind));
    std::vector<double> p;
    CHECK(unfused_grad_ratio(cs.kind, cs.act, logits, *cs.target, rows, cols, &p) <= 1.0);
    if (cs.kind == LossKind::huber) {  // both sides of delta 1 are exercised
      int inside = 0, outside = 0;
      for (size_t i = 0; i < p.size(); ++i) (std::abs(p[i] - wide[i]) <= 1 ? inside : outside)++;
      CHECK(inside > 0);
      CHECK(outside > 0);
    }
  }
}

// Huber with Keras's delta other than 1: half e^2 within delta, delta (|e| - delta / 2) past it; its
// value by hand at errors on both sides, its gradient (e within, delta sign(e) past) against finite
// differences with errors on both sides of each delta.
TEST_CASE("Huber's delta: the loss by hand and its gradient (double)", "[kernels][grad][loss]") {
  const double p[4] = {0.5, -3.0, 1.0, 2.0}, y[4] = {0.0, 0.0, 3.5, 2.0};  // errors 0.5, -3, -2.5, 0
  // delta 2.5: 0.125, 2.5 * 3 - 3.125 = 4.375, 3.125 (at delta: half e^2), 0; mean over the 4 columns.
  CHECK(loss_cpu<double>(LossKind::huber, false, p, y, 1, 4, 1.0, nullptr, nullptr, 0.0, 2.5) ==
        Approx((0.125 + 4.375 + 3.125) / 4).epsilon(1e-15));
  // delta 0.3: 0.3 * 0.5 - 0.045, 0.3 * 3 - 0.045, 0.3 * 2.5 - 0.045, 0.
  CHECK(loss_cpu<double>(LossKind::huber, false, p, y, 1, 4, 1.0, nullptr, nullptr, 0.0, 0.3) ==
        Approx((0.105 + 0.855 + 0.705) / 4).epsilon(1e-14));
  double g[4];
  loss_cpu<double>(LossKind::huber, false, p, y, 1, 4, 4.0, g, nullptr, 0.0, 2.5);  // scale 4 undoes the mean
  CHECK(std::vector<double>(g, g + 4) == std::vector<double>{0.5, -2.5, -2.5, 0.0});
  const int64_t rows = 4, cols = 5;
  const auto wide = random_vec(rows * cols, 56, -3, 3);
  for (double delta : {0.3, 2.5}) {
    INFO("delta " << delta);
    auto logits = random_vec(rows * cols, 63, -3, 3);
    std::vector<double> out;
    CHECK(unfused_grad_ratio(LossKind::huber, Activation::linear, logits, wide, rows, cols, &out, delta) <= 1.0);
    int inside = 0, outside = 0;
    for (size_t i = 0; i < out.size(); ++i) (std::abs(out[i] - wide[i]) <= delta ? inside : outside)++;
    CHECK(inside > 0);
    CHECK(outside > 0);
  }
}

// MAPE, the hinge losses and cosine similarity: their gradients against finite differences, on
// linear outputs (the hinges with 0/1 targets, read as -1/1, and with -1/1 targets; margins on both
// sides), and the cosine with the prediction's norm far above 1e-7.
TEST_CASE("mean absolute percentage error, hinge, squared hinge, categorical hinge and cosine gradients (double)",
          "[kernels][grad][loss]") {
  const int64_t rows = 4, cols = 5;
  auto logits = random_vec(rows * cols, 60, -2, 2);
  const auto wide = random_vec(rows * cols, 61, -2, 2);
  std::vector<double> bits(rows * cols), signs(rows * cols), onehot(rows * cols, 0.0);
  const auto coin = random_vec(rows * cols, 62, 0, 1);
  for (size_t i = 0; i < bits.size(); ++i) {
    bits[i] = coin[i] < 0.5 ? 0 : 1;
    signs[i] = 2 * bits[i] - 1;
  }
  for (int64_t r = 0; r < rows; ++r) onehot[size_t(r * cols + (r * 2) % cols)] = 1;
  struct Case {
    LossKind kind;
    const std::vector<double>* target;
  };
  for (Case cs :
       {Case{LossKind::mean_absolute_percentage_error, &wide}, Case{LossKind::hinge, &bits},
        Case{LossKind::hinge, &signs}, Case{LossKind::squared_hinge, &bits}, Case{LossKind::squared_hinge, &signs},
        Case{LossKind::categorical_hinge, &onehot}, Case{LossKind::cosine_similarity, &wide}}) {
    INFO("loss " << int(cs.kind));
    std::vector<double> p;
    CHECK(unfused_grad_ratio(cs.kind, Activation::linear, logits, *cs.target, rows, cols, &p) <= 1.0);
    if (cs.kind == LossKind::hinge) {  // both sides of the margin
      int in = 0, out = 0;
      const bool bit = cs.target == &bits;
      for (size_t i = 0; i < p.size(); ++i) (1 - (bit ? signs[i] : (*cs.target)[i]) * p[i] > 0 ? in : out)++;
      CHECK(in > 0);
      CHECK(out > 0);
    }
  }
  // categorical_hinge with every row past its margin has no gradient, and the loss 0.
  std::vector<double> sure(rows * cols, 0.0), g(rows * cols);
  for (size_t i = 0; i < sure.size(); ++i) sure[i] = onehot[i] * 3;
  CHECK(loss_cpu<double>(LossKind::categorical_hinge, false, sure.data(), onehot.data(), rows, cols, 1.0, g.data()) ==
        0.0);
  for (double v : g) CHECK(v == 0.0);
}

// Keras's label_smoothing is the loss (and gradient) on the smoothed targets y (1 - s) + s / classes
// (binary: s / 2), fused or not, from probabilities or from logits.
TEST_CASE("label_smoothing: the loss and gradient of the smoothed targets", "[kernels][grad][loss]") {
  const int64_t rows = 3, cols = 4;
  const double s = 0.2;
  const auto z = random_vec(rows * cols, 58, -2, 2), soft = random_vec(rows * cols, 59, 0.0, 1.0);
  std::vector<double> onehot(rows * cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) onehot[r * cols + r] = 1.0;
  struct Case {
    LossKind kind;
    Activation act;
    const std::vector<double>* target;
    double uniform;
  };
  for (Case cs : {Case{LossKind::categorical_crossentropy, Activation::softmax, &onehot, 1.0 / cols},
                  Case{LossKind::binary_crossentropy, Activation::sigmoid, &soft, 0.5},
                  Case{LossKind::categorical_crossentropy_from_logits, Activation::linear, &onehot, 1.0 / cols},
                  Case{LossKind::binary_crossentropy_from_logits, Activation::linear, &soft, 0.5}}) {
    INFO("loss " << int(cs.kind));
    std::vector<double> p(z.size()), smoothed(z.size());
    activation_forward_cpu(cs.act, z.data(), p.data(), rows, cols);
    for (size_t i = 0; i < z.size(); ++i) smoothed[i] = (*cs.target)[i] * (1 - s) + s * cs.uniform;
    for (bool fused : {false, true}) {
      std::vector<double> g(z.size()), want_g(z.size());
      const double got =
          loss_cpu<double>(cs.kind, fused, p.data(), cs.target->data(), rows, cols, 0.5, g.data(), nullptr, s);
      const double want = loss_cpu<double>(cs.kind, fused, p.data(), smoothed.data(), rows, cols, 0.5, want_g.data());
      CHECK(got == Approx(want).epsilon(1e-14));
      CHECK(worst_ratio(g, want_g, 1e-15, 1e-13) <= 1.0);
      CHECK(got != Approx(loss_cpu<double>(cs.kind, fused, p.data(), cs.target->data(), rows, cols, 1.0, nullptr) * 1.0)
                       .epsilon(1e-3));
    }
  }
}

// Keras's from_logits=True: the loss of the logits is the loss of their softmax (sigmoid), its
// gradient is the logits' finite differences, and logits far past where exp overflows stay finite.
TEST_CASE("from_logits losses: the probabilities' loss, finite-difference gradients, large logits",
          "[kernels][grad][loss]") {
  const int64_t rows = 4, cols = 5;
  const double scale = 1.0 / rows;
  auto logits = random_vec(rows * cols, 53, -2, 2);
  std::vector<double> onehot(rows * cols, 0.0), labels(rows);
  for (int64_t r = 0; r < rows; ++r) {
    labels[r] = double((r * 2) % cols);
    onehot[r * cols + (r * 2) % cols] = 1.0;
  }
  onehot[1] = 0.5;  // a soft target row sums past 1: Keras's sum of -y log p
  auto soft = random_vec(rows * cols, 54, 0.0, 1.0);
  struct Case {
    LossKind kind;
    Activation act;
    const std::vector<double>* target;
  };
  for (Case cs : {Case{LossKind::categorical_crossentropy_from_logits, Activation::softmax, &onehot},
                  Case{LossKind::sparse_categorical_crossentropy_from_logits, Activation::softmax, &labels},
                  Case{LossKind::binary_crossentropy_from_logits, Activation::sigmoid, &soft}}) {
    INFO("loss " << int(cs.kind));
    std::vector<double> p(logits.size());
    activation_forward_cpu(cs.act, logits.data(), p.data(), rows, cols);
    const double on_probs =
        loss_cpu<double>(loss_base(cs.kind), false, p.data(), cs.target->data(), rows, cols, 1.0, nullptr);
    const double on_logits =
        loss_cpu<double>(cs.kind, false, logits.data(), cs.target->data(), rows, cols, 1.0, nullptr);
    CHECK(std::abs(on_logits - on_probs) <= 1e-12 * std::abs(on_probs));
    auto f = [&] {
      return scale * loss_cpu<double>(cs.kind, false, logits.data(), cs.target->data(), rows, cols, 1.0, nullptr);
    };
    const auto num = numeric_grad(f, logits);
    std::vector<double> dz(logits.size());
    loss_cpu<double>(cs.kind, false, logits.data(), cs.target->data(), rows, cols, scale, dz.data());
    CHECK(worst_ratio(dz, num, kAtol, 1e-5) <= 1.0);
    // Logits of +-100 in float: no clipping at 1e-7 and no overflow, the loss of the true class
    // is the margin (softmax) or the logit (sigmoid).
    const std::vector<float> z{100.f, -100.f}, y_cat{0.f, 1.f}, y_idx{1.f}, y_bin{0.f, 1.f};
    const std::vector<float>& y = cs.target == &labels ? y_idx : cs.target == &soft ? y_bin : y_cat;
    std::vector<float> g(2);
    const double big = loss_cpu<float>(cs.kind, false, z.data(), y.data(), 1, 2, 1.f, g.data());
    CHECK(big == Approx(cs.act == Activation::softmax ? 200.0 : 100.0).epsilon(1e-6));
    CHECK(std::isfinite(g[0]));
    CHECK(std::isfinite(g[1]));
  }
}

TEST_CASE("loss gradients match finite differences (double), unfused and fused", "[kernels][grad][loss]") {
  const int64_t rows = 4, cols = 5;
  const double scale = 1.0 / rows;
  auto logits = random_vec(rows * cols, 51, -2, 2);
  std::vector<double> onehot(rows * cols, 0.0), labels(rows);
  for (int64_t r = 0; r < rows; ++r) {
    labels[r] = double((r * 3) % cols);
    onehot[r * cols + (r * 3) % cols] = 1.0;
  }
  auto soft = random_vec(rows * cols, 52, 0.05, 0.95);  // targets for BCE / MSE
  struct Case {
    LossKind kind;
    Activation act;
    const std::vector<double>* target;
  };
  for (Case cs : {Case{LossKind::categorical_crossentropy, Activation::softmax, &onehot},
                  Case{LossKind::sparse_categorical_crossentropy, Activation::softmax, &labels},
                  Case{LossKind::binary_crossentropy, Activation::sigmoid, &soft},
                  Case{LossKind::mean_squared_error, Activation::tanh, &soft}}) {
    INFO("loss " << int(cs.kind));
    std::vector<double> p;  // unfused: d loss / d p, then through the activation's backward
    CHECK(unfused_grad_ratio(cs.kind, cs.act, logits, *cs.target, rows, cols, &p) <= 1.0);
    const auto num = numeric_grad(
        [&] {
          activation_forward_cpu(cs.act, logits.data(), p.data(), rows, cols);
          return scale * loss_cpu<double>(cs.kind, false, p.data(), cs.target->data(), rows, cols, 1.0, nullptr);
        },
        logits);
    if (cs.kind != LossKind::mean_squared_error) {  // fused (p - y) form at the pre-activation
      activation_forward_cpu(cs.act, logits.data(), p.data(), rows, cols);
      std::vector<double> dzf(p.size());
      loss_cpu<double>(cs.kind, true, p.data(), cs.target->data(), rows, cols, scale, dzf.data());
      CHECK(worst_ratio(dzf, num, kAtol, 1e-5) <= 1.0);
    }
  }
}

// PReLU (Keras's relu(x) - alpha relu(-x)): dx and alpha's terms against finite differences of
// sum(c * y), with alpha shared along the first axis of each (4, 5) sample (alpha (1, 5)); inputs off
// the kink at 0.
TEST_CASE("PReLU: input and alpha gradients (double)", "[kernels][grad]") {
  const int64_t n = 3, rows = 4, cols = 5, per = rows * cols;
  auto x = random_vec(n * per, 64, -2, 2);
  for (double& v : x) v = v < 0 ? v - 0.1 : v + 0.1;
  auto alpha = random_vec(cols, 65, -0.5, 1.5);
  const auto c = random_vec(n * per, 66, -1, 1);
  const int64_t large[2] = {rows, cols}, small[2] = {1, cols};
  const BroadcastMap map = broadcast_map(large, small, 2);
  std::vector<double> y(x.size());
  auto f = [&] {
    prelu_forward_cpu<double>(x.data(), alpha.data(), map, per, n * per, y.data());
    return dot(c, y);
  };
  const auto num_x = numeric_grad(f, x), num_a = numeric_grad(f, alpha);
  std::vector<double> dy = c, dx(x.size()), da(size_t(cols), 0.0);
  prelu_backward_cpu<double>(x.data(), alpha.data(), map, per, n * per, dy.data(), dx.data());
  for (size_t i = 0; i < dy.size(); ++i) da[i % size_t(cols)] += dy[i];  // alpha's terms, summed as the layer does
  CHECK(worst_ratio(dx, num_x, 1e-7, 1e-6) <= 1.0);
  CHECK(worst_ratio(da, num_a, 1e-7, 1e-6) <= 1.0);
  int negative = 0;
  for (double v : x) negative += v < 0;
  CHECK((negative > 10 && negative < 50));
}

// Keras's focal cross-entropies: the loss by hand (Keras's formulas), finite-difference gradients
// on probabilities and on logits, with label smoothing, class balancing and a gamma of 1.5.
TEST_CASE("focal cross-entropies: the loss by hand, gradients by finite differences (double)",
          "[kernels][grad][loss]") {
  // Binary, one row: p = (0.8, 0.3), y = (1, 0), gamma 2, balancing alpha 0.25.
  {
    const std::vector<double> p{0.8, 0.3}, y{1.0, 0.0};
    FocalParams f;
    f.balance = true;
    const double want = (0.25 * 0.2 * 0.2 * -std::log(0.8) + 0.75 * 0.3 * 0.3 * -std::log(0.7)) / 2;
    CHECK(loss_cpu<double>(LossKind::binary_focal_crossentropy, false, p.data(), y.data(), 1, 2, 1.0, nullptr, nullptr,
                           0.0, 1.0, f) == Approx(want).epsilon(1e-12));
    // Categorical, one row: p = (0.7, 0.2, 0.1), y = (0, 1, 0): alpha (1 - 0.2)^2 (-log 0.2)
    const std::vector<double> pc{0.7, 0.2, 0.1}, yc{0.0, 1.0, 0.0};
    CHECK(loss_cpu<double>(LossKind::categorical_focal_crossentropy, false, pc.data(), yc.data(), 1, 3, 1.0, nullptr) ==
          Approx(0.25 * 0.8 * 0.8 * -std::log(0.2)).epsilon(1e-12));
    // unnormalised probabilities are normalised first, as Keras does
    const std::vector<double> twice{1.4, 0.4, 0.2};
    CHECK(loss_cpu<double>(LossKind::categorical_focal_crossentropy, false, twice.data(), yc.data(), 1, 3, 1.0,
                           nullptr) == Approx(0.25 * 0.8 * 0.8 * -std::log(0.2)).epsilon(1e-12));
  }
  const int64_t rows = 4, cols = 5;
  const double scale = 1.0 / rows;
  auto logits = random_vec(rows * cols, 57, -2, 2);
  std::vector<double> onehot(rows * cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) onehot[r * cols + (r * 3) % cols] = 1.0;
  auto soft = random_vec(rows * cols, 58, 0.0, 1.0);
  auto bits = soft;
  for (double& v : bits) v = v < 0.5 ? 0.0 : 1.0;
  struct Case {
    LossKind kind;
    Activation act;
    const std::vector<double>* target;
    double smoothing;
    FocalParams focal;
  };
  FocalParams balanced;
  balanced.balance = true;
  balanced.alpha = 0.4f;
  FocalParams g15;
  g15.gamma = 1.5f;
  g15.alpha = 0.6f;
  for (Case cs : {Case{LossKind::binary_focal_crossentropy, Activation::sigmoid, &soft, 0.0, {}},
                  Case{LossKind::binary_focal_crossentropy, Activation::sigmoid, &bits, 0.1, balanced},
                  Case{LossKind::categorical_focal_crossentropy, Activation::softmax, &onehot, 0.0, {}},
                  Case{LossKind::categorical_focal_crossentropy, Activation::softmax, &onehot, 0.2, g15}}) {
    INFO("loss " << int(cs.kind) << " smoothing " << cs.smoothing << " gamma " << cs.focal.gamma);
    // on probabilities: d loss / d p through the activation's backward against finite differences at z
    std::vector<double> p(logits.size());
    auto on_probs = [&](const std::vector<double>& z) {
      activation_forward_cpu(cs.act, z.data(), p.data(), rows, cols);
      return scale * loss_cpu<double>(cs.kind, false, p.data(), cs.target->data(), rows, cols, 1.0, nullptr, nullptr,
                                      cs.smoothing, 1.0, cs.focal);
    };
    const auto num = numeric_grad([&] { return on_probs(logits); }, logits);
    activation_forward_cpu(cs.act, logits.data(), p.data(), rows, cols);
    std::vector<double> dp(p.size()), dz(p.size());
    loss_cpu<double>(cs.kind, false, p.data(), cs.target->data(), rows, cols, scale, dp.data(), nullptr, cs.smoothing,
                     1.0, cs.focal);
    activation_backward_cpu(cs.act, nullptr, p.data(), dp.data(), dz.data(), rows, cols);
    CHECK(worst_ratio(dz, num, kAtol, 1e-5) <= 1.0);
    // from_logits: the same loss, and its gradient at the logits directly
    const LossKind lk = loss_from_name(
        cs.kind == LossKind::binary_focal_crossentropy ? "binary_focal_crossentropy" : "categorical_focal_crossentropy",
        true);
    const double a = on_probs(logits) / scale;
    const double b = loss_cpu<double>(lk, false, logits.data(), cs.target->data(), rows, cols, 1.0, nullptr, nullptr,
                                      cs.smoothing, 1.0, cs.focal);
    CHECK(b == Approx(a).epsilon(1e-12));
    std::vector<double> dl(p.size());
    loss_cpu<double>(lk, false, logits.data(), cs.target->data(), rows, cols, scale, dl.data(), nullptr, cs.smoothing,
                     1.0, cs.focal);
    CHECK(worst_ratio(dl, num, kAtol, 1e-5) <= 1.0);
  }
}
