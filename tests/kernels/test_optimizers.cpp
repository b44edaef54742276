// Every optimizer against Keras's documented update formulas, step by step, and hand values.
#include <catch2/catch.hpp>
#include <cmath>
#include "core/optimizers/optimizer.h"
#include "test_util.h"

using namespace dpt;

namespace {

// Independent double-precision references written from Keras 3's optimizer docs/source.
struct RefSGD {
  double lr, mom;
  bool nesterov;
  std::vector<double> v;
  void step(std::vector<double>& w, const std::vector<double>& g) {
    v.resize(w.size(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      if (mom == 0) {
        w[i] -= lr * g[i];
        continue;
      }
      v[i] = -g[i] * lr + v[i] * mom;
      w[i] += nesterov ? -g[i] * lr + v[i] * mom : v[i];
    }
  }
};
struct RefRMS {
  double lr, rho, mom, eps;
  bool centered;
  std::vector<double> vel, m, ag;
  void step(std::vector<double>& w, const std::vector<double>& g) {
    vel.resize(w.size(), 0.0), m.resize(w.size(), 0.0), ag.resize(w.size(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      vel[i] = rho * vel[i] + (1 - rho) * g[i] * g[i];
      double denom = vel[i] + eps;
      if (centered) {
        ag[i] = rho * ag[i] + (1 - rho) * g[i];
        denom = vel[i] - ag[i] * ag[i] + eps;
      }
      const double inc = lr * g[i] / std::sqrt(denom);
      if (mom > 0) {
        m[i] = mom * m[i] + inc;
        w[i] -= m[i];
      } else {
        w[i] -= inc;
      }
    }
  }
};
struct RefAdam {
  double lr, b1, b2, eps;
  bool amsgrad;
  int t = 0;
  std::vector<double> m, v, vh;
  void step(std::vector<double>& w, const std::vector<double>& g) {
    m.resize(w.size(), 0.0), v.resize(w.size(), 0.0), vh.resize(w.size(), 0.0);
    ++t;
    const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
      double vv = v[i];
      if (amsgrad) {
        vh[i] = std::max(vh[i], v[i]);
        vv = vh[i];
      }
      w[i] -= alpha * m[i] / (std::sqrt(vv) + eps);
    }
  }
};

template <typename Ref>
void compare(Optimizer& opt, Ref ref, const char* what) {
  const size_t n = 17;
  auto wd = test::random_vec(n, 7);
  std::vector<float> w(wd.begin(), wd.end());
  opt.build(int64_t(n), Device::cpu());
  Context ctx;
  for (int step = 0; step < 6; ++step) {
    auto gd = test::random_vec(n, 100 + step, -2, 2);
    std::vector<float> g(gd.begin(), gd.end());
    std::vector<double> gr(g.begin(), g.end());  // the reference sees the same float gradients
    opt.apply(ctx, w.data(), g.data());
    ref.step(wd, gr);
    for (size_t i = 0; i < n; ++i) {
      INFO(what << " step " << step << " element " << i);
      REQUIRE(w[i] == Catch::Detail::Approx(wd[i]).epsilon(2e-6).margin(1e-7));
    }
  }
  CHECK(opt.iterations() == 6);
}

}  // namespace

TEST_CASE("SGD matches Keras's formula (plain, momentum, nesterov)", "[optimizer]") {
  SGD plain(0.1);
  compare(plain, RefSGD{0.1, 0.0, false, {}}, "sgd");
  SGD mom(0.05, 0.9);
  compare(mom, RefSGD{0.05, 0.9, false, {}}, "sgd momentum");
  SGD nest(0.05, 0.9, true);
  compare(nest, RefSGD{0.05, 0.9, true, {}}, "sgd nesterov");
}

TEST_CASE("RMSprop matches Keras's formula (plain, momentum, centered)", "[optimizer]") {
  RMSprop a(0.001);
  compare(a, RefRMS{0.001, 0.9, 0.0, 1e-7, false, {}, {}, {}}, "rmsprop");
  RMSprop b(0.01, 0.8, 0.9);
  compare(b, RefRMS{0.01, 0.8, 0.9, 1e-7, false, {}, {}, {}}, "rmsprop momentum");
  RMSprop c(0.01, 0.9, 0.5, 1e-7, true);
  compare(c, RefRMS{0.01, 0.9, 0.5, 1e-7, true, {}, {}, {}}, "rmsprop centered");
}

TEST_CASE("Adam matches Keras's formula (plain, amsgrad)", "[optimizer]") {
  Adam a(0.001);
  compare(a, RefAdam{0.001, 0.9, 0.999, 1e-7, false}, "adam");
  Adam b(0.01, 0.8, 0.99, 1e-7, true);
  compare(b, RefAdam{0.01, 0.8, 0.99, 1e-7, true}, "adam amsgrad");
}

TEST_CASE("optimizer first steps by hand and Keras defaults", "[optimizer]") {
  Context ctx;
  float w = 1.f, g = 0.5f;
  SGD sgd(0.1, 0.9);
  sgd.build(1, Device::cpu());
  sgd.apply(ctx, &w, &g);
  CHECK(w == Catch::Detail::Approx(0.95));
  sgd.apply(ctx, &w, &g);
  CHECK(w == Catch::Detail::Approx(0.855));  // v = 0.9 * -0.05 - 0.05 = -0.095

  w = 1.f;
  Adam adam;  // lr 0.001: the first step moves by ~lr * sign(g)
  adam.build(1, Device::cpu());
  adam.apply(ctx, &w, &g);
  CHECK(w == Catch::Detail::Approx(0.9990000063).epsilon(1e-7));

  w = 1.f;
  RMSprop rms;  // ms = 0.025, step = 0.001 * 0.5 / sqrt(0.025 + 1e-7)
  rms.build(1, Device::cpu());
  rms.apply(ctx, &w, &g);
  CHECK(w == Catch::Detail::Approx(1.0 - 0.0005 / std::sqrt(0.0250001)).epsilon(1e-7));

  OptimizerConfig c;
  c.name = "sgd";
  CHECK(make_optimizer(c)->learning_rate() == Catch::Detail::Approx(0.01));
  c.name = "rmsprop";
  CHECK(make_optimizer(c)->learning_rate() == Catch::Detail::Approx(0.001));
  c.name = "adam";
  CHECK(make_optimizer(c)->learning_rate() == Catch::Detail::Approx(0.001));
  c.name = "adagrad";
  CHECK_THROWS_WITH(make_optimizer(c), "unknown optimizer 'adagrad' (supported: sgd, rmsprop, adam)");
}
