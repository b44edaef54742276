// Every optimizer against Keras's documented update formulas, step by step, and hand values.
#include <catch2/catch.hpp>
#include <cmath>
#include "core/optimizers/optimizer.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

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

// The rest of Keras 3's optimizers, each from its update_step.
struct RefAdagrad {
  double lr, init, eps;
  std::vector<double> acc;
  void step(std::vector<double>& w, const std::vector<double>& g) {
    acc.resize(w.size(), init);
    for (size_t i = 0; i < w.size(); ++i) {
      acc[i] += g[i] * g[i];
      w[i] -= lr * g[i] / std::sqrt(acc[i] + eps);
    }
  }
};
struct RefAdamax {
  double lr, b1, b2, eps;
  int t = 0;
  std::vector<double> m, u;
  void step(std::vector<double>& w, const std::vector<double>& g) {
    m.resize(w.size(), 0.0), u.resize(w.size(), 0.0);
    ++t;
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      u[i] = std::max(b2 * u[i], std::abs(g[i]));
      w[i] -= lr * m[i] / ((1 - std::pow(b1, t)) * (u[i] + eps));
    }
  }
};
struct RefNadam {
  double lr, b1, b2, eps;
  int t = 0;
  double u_product = 1.0;
  std::vector<double> m, v;
  void step(std::vector<double>& w, const std::vector<double>& g) {
    m.resize(w.size(), 0.0), v.resize(w.size(), 0.0);
    ++t;
    const double u_t = b1 * (1 - 0.5 * std::pow(0.96, t)), u_t1 = b1 * (1 - 0.5 * std::pow(0.96, t + 1));
    u_product *= u_t;
    const double u_product_1 = u_product * u_t1;
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
      const double m_hat = u_t1 * m[i] / (1 - u_product_1) + (1 - u_t) * g[i] / (1 - u_product);
      const double v_hat = v[i] / (1 - std::pow(b2, t));
      w[i] -= m_hat * lr / (std::sqrt(v_hat) + eps);
    }
  }
};
struct RefAdadelta {
  double lr, rho, eps;
  std::vector<double> ag, ad;
  void step(std::vector<double>& w, const std::vector<double>& g) {
    ag.resize(w.size(), 0.0), ad.resize(w.size(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      ag[i] = rho * ag[i] + (1 - rho) * g[i] * g[i];
      const double d = -std::sqrt(ad[i] + eps) * g[i] / std::sqrt(ag[i] + eps);
      ad[i] = rho * ad[i] + (1 - rho) * d * d;
      w[i] += lr * d;
    }
  }
};
struct RefLion {
  double lr, b1, b2;
  std::vector<double> m;
  void step(std::vector<double>& w, const std::vector<double>& g) {
    m.resize(w.size(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      const double c = b1 * m[i] + (1 - b1) * g[i];
      w[i] -= lr * double((c > 0) - (c < 0));
      m[i] = b2 * m[i] + (1 - b2) * g[i];
    }
  }
};
// Keras's base optimizer around any of them: clipping, then weight decay at the step's rate, then
// the step. sizes: the weights' sizes (clipnorm is per weight).
template <typename Ref>
struct RefBase {
  Ref inner;
  double lr, weight_decay = 0, clipnorm = 0, clipvalue = 0, global_clipnorm = 0;
  std::vector<size_t> sizes;
  int accumulate = 0;  // gradient_accumulation_steps: the inner optimizer counts its updates alone
  double ema = -1;     // use_ema's momentum (< 0: no moving average)
  int overwrite = 0;   // ema_overwrite_frequency
  int calls = 0;
  std::vector<double> acc, avg;
  void step(std::vector<double>& w, std::vector<double> g) {
    const int before = accumulate ? calls / accumulate : calls;  // Keras's `iterations` in this call
    ++calls;
    if (!accumulate || calls % accumulate == 0) {
      update(w, g);
    } else {
      acc.resize(g.size(), 0.0);
      for (size_t i = 0; i < g.size(); ++i) acc[i] += g[i];
    }
    if (ema >= 0) {  // after every call; the average starts as the weights
      avg.resize(w.size(), 0.0);
      const double m = before != 0 ? ema : 0.0;
      for (size_t i = 0; i < w.size(); ++i) avg[i] = m * avg[i] + (1 - m) * w[i];
      if (overwrite && (before + 1) % overwrite == 0) w = avg;
    }
  }
  void update(std::vector<double>& w, std::vector<double> g) {
    if (accumulate) {
      acc.resize(g.size(), 0.0);
      for (size_t i = 0; i < g.size(); ++i) {
        g[i] = (g[i] + acc[i]) / accumulate;
        acc[i] = 0;
      }
    }
    auto norm = [&](size_t b, size_t e) {
      double s = 0;
      for (size_t i = b; i < e; ++i) s += g[i] * g[i];
      return std::sqrt(s);
    };
    if (clipnorm > 0) {
      size_t b = 0;
      for (size_t n : sizes) {
        const double d = std::max(norm(b, b + n), clipnorm);
        for (size_t i = b; i < b + n; ++i) g[i] = g[i] * clipnorm / d;
        b += n;
      }
    } else if (global_clipnorm > 0) {
      const double scale = global_clipnorm * std::min(1 / norm(0, g.size()), 1 / global_clipnorm);
      for (auto& x : g) x *= scale;
    } else if (clipvalue > 0) {
      for (auto& x : g) x = std::min(std::max(x, -clipvalue), clipvalue);
    }
    for (auto& x : w) x -= x * weight_decay * lr;
    inner.step(w, g);
  }
};

template <typename Ref>
void compare(Optimizer& opt, Ref ref, const char* what, std::vector<int64_t> sizes = {}) {
  const size_t n = 17;
  auto wd = test::random_vec(n, 7);
  std::vector<float> w(wd.begin(), wd.end());
  opt.build(int64_t(n), Device::cpu(), sizes);
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
  c.name = "ftrl";
  CHECK_THROWS_WITH(make_optimizer(c),
                    "unknown optimizer 'ftrl' (supported: sgd, rmsprop, adam, adamw, adagrad, "
                    "adamax, nadam, adadelta, lion)");
}

TEST_CASE("Adagrad, Adamax, Nadam, Adadelta and Lion match Keras 3's update steps", "[optimizer]") {
  Adagrad adagrad(0.1);
  compare(adagrad, RefAdagrad{0.1, 0.1, 1e-7, {}}, "adagrad");
  Adagrad adagrad0(0.05, 0.0, 1e-3);
  compare(adagrad0, RefAdagrad{0.05, 0.0, 1e-3, {}}, "adagrad from 0");
  Adamax adamax(0.01, 0.8, 0.95);
  compare(adamax, RefAdamax{0.01, 0.8, 0.95, 1e-7}, "adamax");
  Nadam nadam(0.01);
  compare(nadam, RefNadam{0.01, 0.9, 0.999, 1e-7}, "nadam");
  Nadam nadam2(0.02, 0.5, 0.9, 1e-4);
  compare(nadam2, RefNadam{0.02, 0.5, 0.9, 1e-4}, "nadam betas");
  Adadelta adadelta(1.0);
  compare(adadelta, RefAdadelta{1.0, 0.95, 1e-7, {}}, "adadelta");
  Lion lion(0.01, 0.8, 0.9);
  compare(lion, RefLion{0.01, 0.8, 0.9, {}}, "lion");
}

TEST_CASE("weight decay and gradient clipping as Keras's base optimizer applies them", "[optimizer]") {
  const std::vector<int64_t> sizes{5, 4, 8};  // 17 elements in three weights
  const std::vector<size_t> usizes{5, 4, 8};
  OptimizerConfig c;
  c.name = "adamw";  // weight_decay 0.004 unless given
  c.learning_rate = 0.01;
  auto adamw = make_optimizer(c);
  CHECK(adamw->describe() == "AdamW(learning_rate=0.01, weight_decay=0.004, beta_1=0.9, beta_2=0.999)");
  compare(*adamw, RefBase<RefAdam>{{0.01, 0.9, 0.999, 1e-7, false}, 0.01, 0.004}, "adamw", sizes);
  // The gradients are in [-2, 2]: every norm below is under the weights' gradient norms, so each
  // clipping acts (a clip above them would leave the step as it was).
  c = OptimizerConfig{};
  c.name = "sgd";
  c.learning_rate = 0.1;
  c.momentum = 0.9;
  c.clipnorm = 0.5;
  auto sgd = make_optimizer(c);
  CHECK(sgd->describe() == "SGD(learning_rate=0.1, momentum=0.9, clipnorm=0.5)");
  compare(*sgd, RefBase<RefSGD>{{0.1, 0.9, false, {}}, 0.1, 0, 0.5, 0, 0, usizes}, "sgd clipnorm", sizes);
  c.clipnorm = 0;
  c.global_clipnorm = 1.0;
  c.weight_decay = 0.1;
  auto sgd2 = make_optimizer(c);
  compare(*sgd2, RefBase<RefSGD>{{0.1, 0.9, false, {}}, 0.1, 0.1, 0, 0, 1.0, usizes}, "sgd global_clipnorm", sizes);
  c = OptimizerConfig{};
  c.name = "rmsprop";
  c.learning_rate = 0.01;
  c.clipvalue = 0.3;
  auto rms = make_optimizer(c);
  compare(*rms, RefBase<RefRMS>{{0.01, 0.9, 0.0, 1e-7, false, {}, {}, {}}, 0.01, 0, 0, 0.3}, "rmsprop clipvalue",
          sizes);
  c = OptimizerConfig{};
  c.name = "lion";
  c.learning_rate = 0.01;
  c.weight_decay = 0.5;
  c.clipnorm = 0.25;
  auto lion = make_optimizer(c);
  compare(*lion, RefBase<RefLion>{{0.01, 0.9, 0.99, {}}, 0.01, 0.5, 0.25, 0, 0, usizes}, "lion decay clipnorm", sizes);

  // Gradient accumulation: an update every third step, from the average; Adam's bias correction
  // and Nadam's schedule count the updates (Keras's `iterations` is the steps over N).
  c = OptimizerConfig{};
  c.name = "adam";
  c.learning_rate = 0.01;
  c.gradient_accumulation_steps = 3;
  auto acc_adam = make_optimizer(c);
  CHECK(acc_adam->describe() == "Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, gradient_accumulation_steps=3)");
  RefBase<RefAdam> ref_adam{{0.01, 0.9, 0.999, 1e-7, false}, 0.01};
  ref_adam.accumulate = 3;
  compare(*acc_adam, ref_adam, "adam accumulating", sizes);
  c.name = "nadam";
  c.clipnorm = 0.5;
  c.weight_decay = 0.1;
  c.gradient_accumulation_steps = 2;
  auto acc_nadam = make_optimizer(c);
  RefBase<RefNadam> ref_nadam{{0.01, 0.9, 0.999, 1e-7}, 0.01, 0.1, 0.5, 0, 0, usizes};
  ref_nadam.accumulate = 2;
  compare(*acc_nadam, ref_nadam, "nadam accumulating, clipnorm, decay", sizes);
  CHECK(acc_nadam->slots().at(0).first == "gradient_accumulator");
  CHECK(acc_nadam->slot_groups() == std::vector<std::vector<size_t>>{{0}, {1, 2}});
  CHECK(acc_nadam->num_slots() == 3);
  c.gradient_accumulation_steps = 1;
  CHECK_THROWS_WITH(make_optimizer(c), "gradient_accumulation_steps must be an integer >= 2 (as in Keras), got 1");

  // use_ema: the moving average after every step (0 momentum on the first), the weights replaced
  // by it every ema_overwrite_frequency steps and by finalize(); with accumulation, as Keras counts.
  for (int every : {0, 4})
    for (int accumulate : {0, 2}) {
      c = OptimizerConfig{};
      c.name = "adam";
      c.learning_rate = 0.01;
      c.use_ema = true;
      c.ema_momentum = 0.8;
      c.ema_overwrite_frequency = every;
      c.gradient_accumulation_steps = accumulate;
      auto ema = make_optimizer(c);
      RefBase<RefAdam> ref{{0.01, 0.9, 0.999, 1e-7, false}, 0.01};
      ref.ema = 0.8;
      ref.overwrite = every;
      ref.accumulate = accumulate;
      compare(*ema, ref, every ? "adam, ema overwriting every 4" : "adam, ema", sizes);
      CHECK(ema->slots().at(0).first == "average");
    }
  Context ectx;
  std::vector<float> wv(3, 1.f), gv{0.5f, -0.5f, 0.25f};
  c = OptimizerConfig{};
  c.name = "sgd";
  c.learning_rate = 0.1;
  c.use_ema = true;
  c.ema_momentum = 0.5;
  auto sgd_ema = make_optimizer(c);
  CHECK(sgd_ema->describe() == "SGD(learning_rate=0.1, momentum=0, use_ema=True, ema_momentum=0.5)");
  sgd_ema->build(3, Device::cpu());
  sgd_ema->apply(ectx, wv.data(), gv.data());  // w 0.95; average = w (the first step)
  std::vector<float> gv2{0.5f, -0.5f, 0.25f};
  sgd_ema->apply(ectx, wv.data(), gv2.data());  // w 0.90; average 0.5 * 0.95 + 0.5 * 0.90
  CHECK(wv[0] == Catch::Detail::Approx(0.90));
  sgd_ema->finalize(ectx, wv.data());
  CHECK(wv[0] == Catch::Detail::Approx(0.925));
  CHECK(wv[1] == Catch::Detail::Approx(1.075));
  c.ema_momentum = 1.5;
  CHECK_THROWS_WITH(make_optimizer(c), "ema_momentum must be in the range [0, 1] (as in Keras), got 1.5");

  // By hand: one weight's gradient (3, 4) has norm 5; clipnorm 1 makes it (0.6, 0.8).
  Context ctx;
  float w[2] = {1.f, 1.f}, g[2] = {3.f, 4.f};
  SGD plain(1.0);
  plain.set_common({0, 1.0, 0, 0});
  plain.build(2, Device::cpu());
  plain.apply(ctx, w, g);
  CHECK(w[0] == Catch::Detail::Approx(0.4));
  CHECK(w[1] == Catch::Detail::Approx(0.2));
  // A gradient under the norm is left as it is; a zero gradient stays zero (no 0/0).
  float w2[3] = {1.f, 1.f, 1.f}, g2[3] = {0.3f, 0.f, 0.f};
  SGD under(1.0);
  under.set_common({0, 1.0, 0, 0});
  under.build(3, Device::cpu(), {1, 2});
  under.apply(ctx, w2, g2);
  CHECK(w2[0] == Catch::Detail::Approx(0.7));
  CHECK(w2[1] == 1.f);
  CHECK(w2[2] == 1.f);

  OptimizerCommon two;
  two.clipnorm = 1;
  two.clipvalue = 0.5;
  CHECK_THROWS_WITH(plain.set_common(two),
                    "only one of clipnorm, clipvalue and global_clipnorm can be set (as in "
                    "Keras); got clipnorm=1, clipvalue=0.5, global_clipnorm=0");
  OptimizerCommon negative;
  negative.weight_decay = -1;
  CHECK_THROWS_WITH(plain.set_common(negative), "SGD weight_decay must be >= 0, got -1");
  c = OptimizerConfig{};
  c.name = "lion";
  c.beta_1 = 0;
  CHECK_THROWS_WITH(make_optimizer(c),
                    "Lion beta_1 must be in (0, 1] (otherwise it degenerates to SignSGD, as "
                    "Keras says), got 0");
}

TEST_CASE("a clip plan's chunks tile each weight without crossing its end", "[optimizer]") {
  const auto plan = kernels::make_clip_plan({3, kernels::kClipChunk * 2 + 5, 0, 7});
  CHECK(plan.weights() == 4);
  CHECK(plan.chunks() == 1 + 3 + 0 + 1);
  CHECK(plan.begin == std::vector<int64_t>{0, 3, 3 + kernels::kClipChunk, 3 + 2 * kernels::kClipChunk,
                                           8 + 2 * kernels::kClipChunk, 15 + 2 * kernels::kClipChunk});
  CHECK(plan.seg == std::vector<int64_t>{0, 1, 1, 1, 3});
  CHECK(plan.first == std::vector<int64_t>{0, 1, 4, 4, 5});
}

TEST_CASE("Nadam's u_product follows the iteration count, set back or forward", "[optimizer]") {
  Nadam a(0.01), b(0.01);
  a.build(4, Device::cpu());
  b.build(4, Device::cpu());
  Context ctx;
  std::vector<float> w(4, 1.f), g{0.1f, -0.2f, 0.3f, 0.4f};
  for (int i = 0; i < 5; ++i) {
    std::vector<float> gi = g;
    a.apply(ctx, w.data(), gi.data());
  }
  double p = 1;
  for (int t = 1; t <= 5; ++t) p *= 0.9 * (1 - 0.5 * std::pow(0.96, t));
  CHECK(a.extra_scalars().at(0) == Catch::Detail::Approx(p).epsilon(1e-6));
  b.copy_state_from(a);
  CHECK(b.extra_scalars().at(0) == a.extra_scalars().at(0));
  b.set_iterations(2);
  CHECK(b.extra_scalars().at(0) == Catch::Detail::Approx(0.9 * (1 - 0.5 * 0.96) * 0.9 * (1 - 0.5 * 0.96 * 0.96)));
}

namespace {

LearningRateSchedule schedule(const std::string& cls, double lr0, double steps) {
  LearningRateSchedule s;
  s.class_name = cls;
  s.initial_learning_rate = lr0;
  s.decay_steps = steps;
  return s;
}

// The cosine restarts' rate from its definition (Loshchilov & Hutter): period i lasts
// first * t_mul^i steps and starts at m_mul^i of the rate; in double, found by walking the periods.
double sgdr(double lr0, double first, double t_mul, double m_mul, double alpha, int64_t step) {
  double start = 0, length = first, scale = 1;
  while (step >= start + length) {
    start += length;
    length *= t_mul;
    scale *= m_mul;
  }
  const double frac = (step - start) / length;
  return lr0 * ((1 - alpha) * 0.5 * scale * (1 + std::cos(M_PI * frac)) + alpha);
}

}  // namespace

TEST_CASE("Keras's learning-rate schedules give Keras's formulas' rates, step by step", "[optimizer][schedule]") {
  const auto near = [](double got, double want) {
    INFO("got " << got << ", want " << want);
    CHECK(std::fabs(got - want) <= 2e-6 * std::fabs(want) + 1e-12);
  };
  LearningRateSchedule e = schedule("ExponentialDecay", 0.2, 3);
  e.decay_rate = 0.5;
  for (int64_t s = 0; s < 20; ++s) near(e(s), 0.2 * std::pow(0.5, s / 3.0));
  e.staircase = true;
  for (int64_t s = 0; s < 20; ++s) near(e(s), 0.2 * std::pow(0.5, double(s / 3)));
  CHECK(e(2) == e(0));
  CHECK(e(3) < e(2));

  LearningRateSchedule it = schedule("InverseTimeDecay", 0.1, 2);
  it.decay_rate = 0.7;
  for (int64_t s = 0; s < 20; ++s) near(it(s), 0.1 / (1 + 0.7 * s / 2.0));
  it.staircase = true;
  for (int64_t s = 0; s < 20; ++s) near(it(s), 0.1 / (1 + 0.7 * double(s / 2)));

  LearningRateSchedule pc;  // values[i] up to and including boundaries[i]
  pc.class_name = "PiecewiseConstantDecay";
  pc.boundaries = {5, 9.7};  // cast to the step's integer type, as Keras does: 9
  pc.values = {0.02, 0.01, 0.002};
  const double want_pc[] = {0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01, 0.002, 0.002};
  for (int64_t s = 0; s < 12; ++s) near(pc(s), want_pc[s]);

  LearningRateSchedule p = schedule("PolynomialDecay", 0.01, 5);
  p.end_learning_rate = 0.001;
  p.power = 2;
  for (int64_t s = 0; s < 12; ++s) {
    const double f = std::min<double>(s, 5) / 5;
    near(p(s), 0.009 * (1 - f) * (1 - f) + 0.001);
  }
  p.cycle = true;  // the first multiple of decay_steps at or past the step (1 at step 0)
  for (int64_t s = 0; s < 12; ++s) {
    const double over = 5 * (s == 0 ? 1 : std::ceil(s / 5.0)), f = s / over;
    near(p(s), 0.009 * (1 - f) * (1 - f) + 0.001);
  }
  near(p(5), 0.001);
  near(p(6), 0.009 * 0.4 * 0.4 + 0.001);

  LearningRateSchedule c = schedule("CosineDecay", 0.1, 10);
  c.alpha = 0.1;
  for (int64_t s = 0; s < 14; ++s) {
    const double f = std::min<double>(s, 10) / 10;
    near(c(s), 0.1 * (0.9 * 0.5 * (1 + std::cos(M_PI * f)) + 0.1));
  }
  near(c(10), 0.01);
  c.warmup_target = 0.5;  // linear from 0.1 to 0.5 over 4 steps, then the decay from 0.5
  c.warmup_steps = 4;
  for (int64_t s = 0; s < 18; ++s) {
    if (s < 4) {
      near(c(s), 0.1 + 0.4 * s / 4.0);
    } else {
      const double f = std::min<double>(s - 4, 10) / 10;
      near(c(s), 0.5 * (0.9 * 0.5 * (1 + std::cos(M_PI * f)) + 0.1));
    }
  }

  LearningRateSchedule r = schedule("CosineDecayRestarts", 0.02, 3);
  r.alpha = 0.05;
  r.m_mul = 0.5;  // periods of 3, 6, 12, 24 steps
  for (int64_t s = 0; s < 50; ++s) near(r(s), sgdr(0.02, 3, 2, 0.5, 0.05, s));
  r.t_mul = 1;  // periods of 3
  for (int64_t s = 0; s < 20; ++s) near(r(s), sgdr(0.02, 3, 1, 0.5, 0.05, s));
  r.t_mul = 1.5;
  for (int64_t s = 0; s < 40; ++s) near(r(s), sgdr(0.02, 3, 1.5, 0.5, 0.05, s));

  CHECK(e.describe() == "ExponentialDecay(initial_learning_rate=0.2, decay_steps=3, decay_rate=0.5, staircase=True)");
  CHECK(pc.describe() == "PiecewiseConstantDecay(boundaries=[5, 9.7], values=[0.02, 0.01, 0.002])");
  CHECK(c.describe() ==
        "CosineDecay(initial_learning_rate=0.1, decay_steps=10, alpha=0.1, warmup_target=0.5, warmup_steps=4)");
  r.name = "mine";
  CHECK(r.describe() ==
        "CosineDecayRestarts(initial_learning_rate=0.02, first_decay_steps=3, t_mul=1.5, m_mul=0.5, alpha=0.05, "
        "name='mine')");
  // Keras's checks, and ranges no schedule trains with.
  LearningRateSchedule bad = schedule("ExponentialDecay", 0.1, 0);
  CHECK_THROWS_WITH(bad.check(),
                    "Argument `decay_steps` must be > 0 (ExponentialDecay, as in Keras). Received: decay_steps=0");
  bad = schedule("CosineDecayRestarts", 0.1, -1);
  CHECK_THROWS_WITH(
      bad.check(),
      "Argument `first_decay_steps` must be > 0 (CosineDecayRestarts, as in Keras). Received: first_decay_steps=-1");
  pc.values.pop_back();
  CHECK_THROWS_WITH(pc.check(),
                    "The length of boundaries should be 1 less than the length of values (PiecewiseConstantDecay, "
                    "as in Keras); got 2 boundaries and 2 values");
  bad = schedule("PolynomialDecay", 0.1, 5);
  bad.power = -1;
  CHECK_THROWS_WITH(bad.check(), "PolynomialDecay's power must be >= 0, got -1");
  bad = schedule("CosineDecay", 0.1, 5);
  bad.warmup_target = 0.5;
  CHECK_THROWS_WITH(bad.check(), "CosineDecay's warmup_steps must be > 0 with a warmup_target, got 0");
  bad = schedule("StepDecay", 0.1, 5);
  CHECK_THROWS_WITH(bad.check(),
                    "unknown learning-rate schedule 'StepDecay' (Keras's: ExponentialDecay, PiecewiseConstantDecay, "
                    "PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts)");
}

TEST_CASE("an optimizer with a schedule takes each step's rate from its step counter, as Keras 3's",
          "[optimizer][schedule]") {
  Context ctx;
  LearningRateSchedule e = schedule("ExponentialDecay", 0.1, 2);
  e.decay_rate = 0.5;
  e.staircase = true;  // 0.1, 0.1, 0.05, 0.05, 0.025, ...
  SGD sgd(0.7);        // the constant rate is replaced
  sgd.set_schedule(e);
  sgd.build(1, Device::cpu());
  float w = 0.f, g = 1.f;
  double want = 0;
  for (int64_t s = 0; s < 6; ++s) {
    CHECK(sgd.learning_rate() == Catch::Detail::Approx(e(s)));  // Keras's optimizer.learning_rate
    sgd.apply(ctx, &w, &g);
    want -= 0.1 * std::pow(0.5, double(s / 2));
    CHECK(w == Catch::Detail::Approx(want).epsilon(1e-6));
  }
  CHECK(sgd.describe() ==
        "SGD(learning_rate=ExponentialDecay(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5, "
        "staircase=True), momentum=0)");
  CHECK_THROWS_WITH(sgd.set_learning_rate(0.01),
                    Contains("This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                             "(ExponentialDecay(") &&
                        Contains("hence its learning rate is not settable (as in Keras)"));
  // A copy follows the same schedule from the same counter (replicas, the parameter server).
  auto copy = sgd.clone();
  copy->build(1, Device::cpu());
  copy->copy_state_from(sgd);
  CHECK(copy->learning_rate() == Catch::Detail::Approx(e(6)));
  float w2 = w;
  copy->apply(ctx, &w2, &g);
  sgd.apply(ctx, &w, &g);
  CHECK(w2 == w);

  // Accumulating every 3 steps, the updates happen at steps 2, 5, 8, ... with the schedule at those
  // steps (Keras counts every step, _iterations), not at the update count.
  OptimizerConfig c;
  c.name = "sgd";
  c.learning_rate = 0.3;
  c.gradient_accumulation_steps = 3;
  LearningRateSchedule inv = schedule("InverseTimeDecay", -1, 1);  // the optimizer's rate, 0.3
  inv.decay_rate = 1;
  c.schedule = inv;
  auto acc = make_optimizer(c);
  CHECK(acc->schedule()->initial_learning_rate == 0.3);
  acc->build(1, Device::cpu());
  w = 0.f;
  want = 0;
  for (int64_t s = 0; s < 9; ++s) {
    acc->apply(ctx, &w, &g);
    if ((s + 1) % 3 == 0) want -= 0.3 / (1 + s);  // the average of three gradients of 1
    CHECK(w == Catch::Detail::Approx(want).epsilon(1e-6));
  }
  // A schedule that gives no rate stops training with the step and the schedule named.
  LearningRateSchedule restarts = schedule("CosineDecayRestarts", 0.1, 1);
  restarts.t_mul = 0.5;  // the periods shrink to nothing after 2 steps: log of a negative number
  SGD lost(0.1);
  lost.set_schedule(restarts);
  lost.build(1, Device::cpu());
  w = 0.f;
  lost.apply(ctx, &w, &g);
  lost.apply(ctx, &w, &g);
  CHECK_THROWS_WITH(lost.apply(ctx, &w, &g),
                    "the learning-rate schedule CosineDecayRestarts(initial_learning_rate=0.1, first_decay_steps=1, "
                    "t_mul=0.5, m_mul=1, alpha=0) gives nan at step 2");
}
