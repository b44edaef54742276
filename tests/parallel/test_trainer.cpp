// The training loop: learning, Keras's History, N replicas equal one device, errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <stdexcept>
#include "core/callbacks/control.h"
#include "core/data/digits.h"
#include "core/data/readers.h"
#include "core/io/keras_config.h"
#include "core/presets.h"
#include "parallel/prefetcher.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;
using dpt::test::cpus;
using dpt::test::rel_diff;
using Catch::Contains;

namespace {

std::unique_ptr<Sequential> build(const std::string& preset, uint64_t seed) {
  const Preset& p = find_preset(preset);
  auto m = p.make();
  m->build(p.input, seed);
  return m;
}



}  // namespace

TEST_CASE("fit learns the digits and records Keras's History", "[trainer]") {
  auto m = build("digits-mlp", 1);
  Dataset train = load_digits(), val;
  split_validation(train, 0.2, &val);
  Adam opt(0.003);
  Trainer t(*m, cpus(1), LossKind::categorical_crossentropy, opt, 2);
  FitOptions fo;
  fo.epochs = 5;
  fo.batch_size = 64;
  fo.verbose = 0;
  const History h = t.fit(train, &val, fo, {});
  CHECK(h.keys() == std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"});
  REQUIRE(h.at("loss").size() == 5);
  CHECK(h.at("loss").back() < h.at("loss").front() / 3);
  CHECK(h.at("val_accuracy").back() > 0.85);
  // The template holds the trained weights: evaluating it again gives the last val numbers.
  Trainer again(*m, cpus(1), LossKind::categorical_crossentropy, opt, 2);
  const EvalResult r = again.evaluate(val, 100);
  CHECK(r.metrics.at(0) == Catch::Detail::Approx(h.at("val_accuracy").back()));
  CHECK(r.loss == Catch::Detail::Approx(h.at("val_loss").back()).epsilon(1e-5));
}

TEST_CASE("the metric is logged under its compiled name, or not at all, and never changes training",
          "[trainer][metrics]") {
  Dataset train = load_digits(), val;
  split_validation(train, 0.2, &val);
  FitOptions fo;
  fo.epochs = 2;
  fo.batch_size = 64;
  fo.verbose = 0;
  struct Run {
    std::unique_ptr<Sequential> m;
    std::unique_ptr<Adam> opt;
    std::unique_ptr<Trainer> t;
    History h;
  };
  auto fit = [&](LossKind loss, const MetricRequests* metrics) {
    Run r;
    r.m = build("digits-mlp", 3);
    r.opt = std::make_unique<Adam>(0.003);
    r.t = std::make_unique<Trainer>(*r.m, cpus(2), loss, *r.opt, 2);
    if (metrics) r.t->set_metrics(*metrics);
    r.h = r.t->fit(train, &val, fo, {});
    return r;
  };
  // mean_squared_error reports the loss alone by default (Keras compiles no metric unless asked).
  const Run mse = fit(LossKind::mean_squared_error, nullptr);
  CHECK(mse.h.keys() == std::vector<std::string>{"loss", "val_loss"});
  CHECK(mse.t->metrics().empty());
  const EvalResult none = mse.t->evaluate(val, 100);
  CHECK(none.loss == Catch::Detail::Approx(mse.h.at("val_loss").back()).epsilon(1e-5));
  CHECK(none.metrics.empty());
  // Two metrics, logged in order under their names, never changing the losses; evaluate's
  // mean_absolute_error is the mean over samples and columns of |prediction - target|, here from
  // predict's outputs against the one-hot rows.
  const MetricRequests two = parse_metrics("acc,mae");
  const Run with = fit(LossKind::mean_squared_error, &two);
  CHECK(with.h.keys() == std::vector<std::string>{"loss", "acc", "mae", "val_loss", "val_acc", "val_mae"});
  CHECK(with.h.at("loss") == mse.h.at("loss"));  // the metrics only read the outputs
  CHECK(with.h.at("val_loss") == mse.h.at("val_loss"));
  CHECK(with.t->metrics()[0].kind == MetricKind::categorical);  // 10 outputs: argmax against the one-hot rows
  CHECK(with.h.at("val_acc").back() > 0.5);
  const std::vector<float> out = with.t->predict(val, 100);
  double err = 0, hits = 0;
  for (int64_t i = 0; i < val.size(); ++i) {
    const int64_t label = int64_t(val.y[size_t(i)]);
    const float* row = out.data() + i * 10;
    hits += std::max_element(row, row + 10) - row == label;
    for (int64_t c = 0; c < 10; ++c) err += std::abs(row[c] - (label == c ? 1.f : 0.f));
  }
  const EvalResult r = with.t->evaluate(val, 100);
  REQUIRE(r.metrics.size() == 2);
  CHECK(r.metrics[0] == Catch::Detail::Approx(hits / double(val.size())));
  CHECK(r.metrics[1] == Catch::Detail::Approx(err / double(val.size() * 10)).epsilon(1e-5));
  CHECK(r.metrics[1] == Catch::Detail::Approx(with.h.at("val_mae").back()).epsilon(1e-5));
  CHECK(r.metrics[1] > 0.01);
  const MetricRequests off = parse_metrics("none");
  CHECK(fit(LossKind::categorical_crossentropy, &off).h.keys() == std::vector<std::string>{"loss", "val_loss"});
}

// Keras's confusion metrics over a whole evaluation: precision and recall (one threshold, every
// column or one class_id) and the AUC of the ROC and PR curves, against predict's outputs counted
// here threshold by threshold; the same figures from 1 and 3 replicas.
TEST_CASE("precision, recall and AUC over the evaluation, on 1 and 3 replicas", "[trainer][metrics]") {
  Dataset data = make_synthetic({8, 8, 1}, 10, 90, 6);
  const MetricRequests asked = parse_metrics(
      "precision:thresholds=0.2,recall:thresholds=0.15,class_id=3,name=r3,auc,AUC:curve=PR,num_thresholds=50,name=pr,"
      "auc:summation_method=minoring,name=roc_min");
  auto m = build("digits-mlp", 5);
  Adam opt(0.003);
  Trainer t(*m, cpus(1), LossKind::categorical_crossentropy, opt, 1);
  t.set_metrics(asked);
  FitOptions fo;
  fo.batch_size = 30;
  fo.epochs = 12;  // part-way through learning the 90 samples: predictions on both sides of 0.5, some misranked
  fo.verbose = 0;
  t.fit(data, nullptr, fo, {});
  const EvalResult r = t.evaluate(data, 40);
  REQUIRE(r.metrics.size() == 5);
  std::printf("precision(0.2) %.4f recall(class 3, 0.15) %.4f auc %.4f pr %.4f roc minoring %.4f\n", r.metrics[0],
              r.metrics[1], r.metrics[2], r.metrics[3], r.metrics[4]);
  const std::vector<float> p = t.predict(data, 40);
  std::vector<float> y(p.size(), 0.f);
  for (int64_t i = 0; i < data.size(); ++i) y[size_t(i * 10 + int64_t(data.y[size_t(i)]))] = 1.f;
  // Precision and recall by hand.
  double tp = 0, said = 0, tp3 = 0, pos3 = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    tp += p[i] > 0.2f && y[i] == 1.f;
    said += p[i] > 0.2f;
    if (i % 10 == 3) {
      tp3 += p[i] > 0.15f && y[i] == 1.f;
      pos3 += y[i] == 1.f;
    }
  }
  CHECK((tp > 0 && tp < said && tp3 > 0 && tp3 < pos3));  // neither 0 nor 1
  CHECK(r.metrics[0] == Catch::Detail::Approx(tp / said));
  CHECK(r.metrics[1] == Catch::Detail::Approx(tp3 / pos3));
  // The ROC and PR curves threshold by threshold: at threshold t of n, the predictions with
  // p (n - 1) > t count (Keras's evenly spaced thresholds; every one at t = 0).
  auto curve_area = [&](int n, bool roc, int summation) {
    std::vector<double> tps(static_cast<size_t>(n), 0.0), fps(static_cast<size_t>(n), 0.0);
    double P = 0, N = 0;
    for (size_t i = 0; i < p.size(); ++i) (y[i] == 1.f ? P : N) += 1;
    for (int t = 0; t < n; ++t)
      for (size_t i = 0; i < p.size(); ++i)
        if (t == 0 || p[i] * float(n - 1) > float(t)) (y[i] == 1.f ? tps : fps)[size_t(t)] += 1;
    double area = 0;
    for (size_t t = 0; t + 1 < size_t(n); ++t) {
      double x0, x1, y0, y1;
      if (roc) {
        x0 = fps[t] / N, x1 = fps[t + 1] / N, y0 = tps[t] / P, y1 = tps[t + 1] / P;
      } else {
        x0 = tps[t] / P, x1 = tps[t + 1] / P;
        y0 = tps[t] + fps[t] > 0 ? tps[t] / (tps[t] + fps[t]) : 0;
        y1 = tps[t + 1] + fps[t + 1] > 0 ? tps[t + 1] / (tps[t + 1] + fps[t + 1]) : 0;
      }
      area += (x0 - x1) * (summation == 0 ? (y0 + y1) / 2 : std::min(y0, y1));
    }
    return area;
  };
  CHECK(r.metrics[2] == Catch::Detail::Approx(curve_area(200, true, 0)).epsilon(1e-9));
  CHECK(r.metrics[4] == Catch::Detail::Approx(curve_area(200, true, 1)).epsilon(1e-9));
  CHECK(r.metrics[4] < r.metrics[2]);
  // The ROC AUC is the chance a positive outranks a negative (up to the buckets' width).
  double above = 0, pairs = 0;
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t j = 0; j < p.size(); ++j)
      if (y[i] == 1.f && y[j] == 0.f) {
        above += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
        pairs += 1;
      }
  CHECK(r.metrics[2] == Catch::Detail::Approx(above / pairs).margin(0.01));
  CHECK(r.metrics[2] > 0.8);
  // PR with interpolation (Davis and Goadrich) lies between the PR curve's minoring sum and 1.
  CHECK(r.metrics[3] >= curve_area(50, false, 1) - 1e-9);
  CHECK(r.metrics[3] <= 1.0);
  // The same weights on 3 replicas: the counts are sums, the same figures.
  Trainer t3(*m, cpus(3), LossKind::categorical_crossentropy, opt, 1);
  t3.set_metrics(asked);
  const EvalResult r3 = t3.evaluate(data, 40);
  for (size_t k = 0; k < 5; ++k) CHECK(r3.metrics[k] == Catch::Detail::Approx(r.metrics[k]).epsilon(1e-12));
}

// Keras's losses and accuracies reduce over the last axis, then average: an output at every step
// weighs each step 1/steps of its sample (categorical cross-entropy and accuracy over (6, 3)).
TEST_CASE("an output at every step: loss and accuracy averaged over the steps, as Keras", "[trainer]") {
  auto m = test::seqout_net(3);
  Dataset data = make_synthetic({6, 3}, 18, 10, 4);
  data.to_one_hot();
  std::fill(data.y.begin(), data.y.end(), 0.f);
  for (int64_t i = 0; i < data.size(); ++i)  // a class at every step
    for (int64_t t = 0; t < 6; ++t) data.y[size_t(i * 18 + t * 3 + (i + t) % 3)] = 1.f;
  Adam opt;
  Trainer t(*m, cpus(1), LossKind::categorical_crossentropy, opt, 1);
  // Keras's R2Score and F-scores take (batch, columns) alone, and so does dptrain.
  CHECK_THROWS_WITH(t.set_metrics(parse_metrics("r2_score")),
                    "metric 'r2_score' expects an output of shape (batch, columns), as Keras's R2Score does; this "
                    "model's output is (6, 3) per sample");
  t.set_metrics(parse_metrics("accuracy"));
  const EvalResult r = t.evaluate(data, 4);
  const std::vector<float> p = t.predict(data, 4);
  double loss = 0, correct = 0;
  for (int64_t row = 0; row < data.size() * 6; ++row) {
    const float* pr = p.data() + row * 3;
    const float* yr = data.y.data() + row * 3;
    for (int c = 0; c < 3; ++c) loss -= double(yr[c]) * std::log(std::max(double(pr[c]), 1e-7));
    const int64_t pc = std::max_element(pr, pr + 3) - pr, tc = std::max_element(yr, yr + 3) - yr;
    correct += pc == tc;
  }
  CHECK(r.loss == Catch::Detail::Approx(loss / double(data.size() * 6)).epsilon(1e-5));
  REQUIRE(r.metrics.size() == 1);
  CHECK(r.metrics[0] == Catch::Detail::Approx(correct / double(data.size() * 6)).epsilon(1e-6));
  FitOptions fo;
  fo.class_weight = {1.0, 2.0, 1.0};
  fo.verbose = 0;
  CHECK_THROWS_WITH(t.fit(data, nullptr, fo, {}),
                    "class weights weigh a sample by its class, but model 'seqout' outputs 6 steps a sample (Keras: "
                    "class_weight is not supported for 3+ dimensional targets)");
}

// Keras's mask at the output: each batch's loss is its kept steps' mean (weighed by the batch's
// samples over the epoch), the accuracy the kept steps' over the whole data; replicas as one device.
TEST_CASE("Keras's mask at the output: loss and accuracy over the kept steps, as Keras", "[trainer][mask]") {
  auto m = test::maskout_net(3);
  Dataset data = make_synthetic({8}, 24, 10, 4, 5);  // indices in [0, 5): 0 the padding
  data.to_one_hot();
  std::fill(data.y.begin(), data.y.end(), 0.f);
  for (int64_t i = 0; i < data.size(); ++i)  // a class at every step
    for (int64_t t = 0; t < 8; ++t) data.y[size_t(i * 24 + t * 3 + (i + t) % 3)] = 1.f;
  Adam opt;
  Trainer t(*m, cpus(1), LossKind::categorical_crossentropy, opt, 1);
  t.set_metrics(parse_metrics("accuracy"));
  const std::vector<float> p = t.predict(data, 4);
  for (const int64_t batch : {int64_t(10), int64_t(4)}) {
    INFO("batch " << batch);
    const EvalResult r = t.evaluate(data, batch);
    double loss = 0, correct = 0, kept_all = 0;
    for (int64_t start = 0; start < data.size(); start += batch) {
      const int64_t rows = std::min(batch, data.size() - start);
      double sum = 0, kept = 0;
      for (int64_t row = start * 8; row < (start + rows) * 8; ++row) {
        if (data.x[size_t(row)] == 0.f) continue;  // padding: left out
        const float* pr = p.data() + row * 3;
        const float* yr = data.y.data() + row * 3;
        for (int c = 0; c < 3; ++c) sum -= double(yr[c]) * std::log(std::max(double(pr[c]), 1e-7));
        correct += (std::max_element(pr, pr + 3) - pr) == (std::max_element(yr, yr + 3) - yr);
        ++kept;
      }
      loss += kept > 0 ? double(rows) * sum / kept : 0.0;
      kept_all += kept;
    }
    CHECK(r.loss == Catch::Detail::Approx(loss / double(data.size())).epsilon(1e-5));
    REQUIRE(r.metrics.size() == 1);
    CHECK(r.metrics[0] == Catch::Detail::Approx(correct / kept_all).epsilon(1e-6));
  }
  Dataset train = make_synthetic({8}, 24, 30, 5, 5);
  const double d = test::replicas_vs_one([] { return test::maskout_net(11); }, train, 3, 10);
  std::printf("equivalence maskout-net R=3 B=10: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}

TEST_CASE("evaluate and predict agree across replica counts", "[trainer][replicas]") {
  auto m = build("digits-cnn", 2);
  Dataset data = make_synthetic({8, 8, 1}, 10, 23, 9);
  Adam opt;
  Trainer t1(*m, cpus(1), LossKind::sparse_categorical_crossentropy, opt, 1);
  Trainer t3(*m, cpus(3), LossKind::sparse_categorical_crossentropy, opt, 1);
  const auto p1 = t1.predict(data, 7), p3 = t3.predict(data, 7);
  REQUIRE(p1.size() == 230);
  for (size_t i = 0; i < p1.size(); ++i) CHECK(p1[i] == Catch::Detail::Approx(p3[i]).epsilon(1e-5));
  const EvalResult e1 = t1.evaluate(data, 7), e3 = t3.evaluate(data, 7);
  CHECK(e1.loss == Catch::Detail::Approx(e3.loss).epsilon(1e-5));
  CHECK(e1.metrics == e3.metrics);
}

TEST_CASE("training stops with the epoch and step when the loss is not finite", "[trainer][errors]") {
  auto m = build("digits-mlp", 1);
  Dataset data = make_synthetic({8, 8, 1}, 10, 16, 1);
  for (auto& v : data.x) v = 3e37f;  // finite inputs whose activations overflow
  SGD opt(0.01);
  Trainer t(*m, cpus(1), LossKind::categorical_crossentropy, opt, 1);
  FitOptions fo;
  fo.verbose = 0;
  fo.batch_size = 8;
  CHECK_THROWS_WITH(t.fit(data, nullptr, fo, {}), Contains("loss became NaN at epoch 1, step 2; training stopped"));
  // With Keras's TerminateOnNaN the run ends there without an error.
  auto m2 = build("digits-mlp", 1);
  Trainer t2(*m2, cpus(1), LossKind::categorical_crossentropy, opt, 1);
  TerminateOnNaN nan_stop;
  fo.epochs = 3;
  const History h = t2.fit(data, nullptr, fo, {&nan_stop});
  CHECK(nan_stop.terminated());
  CHECK(h.keys().empty());  // stopped inside the first epoch: no epoch ended
}

TEST_CASE("data that does not fit the model is a clear error", "[trainer][errors]") {
  auto m = build("digits-cnn", 1);
  Adam opt;
  Trainer t(*m, cpus(1), LossKind::categorical_crossentropy, opt, 1);
  FitOptions fo;
  fo.verbose = 0;
  Dataset wrong = make_synthetic({28, 28, 1}, 10, 4, 1);
  CHECK_THROWS_WITH(t.fit(wrong, nullptr, fo, {}),
                    "training samples have shape (28, 28, 1) but model 'digits-cnn' expects inputs of shape (8, 8, 1)");
  Dataset many = make_synthetic({8, 8, 1}, 12, 4, 1);
  CHECK_THROWS_WITH(t.fit(many, nullptr, fo, {}), "training labels span 12 classes but model 'digits-cnn' outputs 10");
  Dataset values = make_synthetic({8, 8, 1}, 10, 4, 1);
  values.y = {1, 2, 2.5f, 3};  // one column, not all whole numbers: targets, not class indices
  values.y_is_index = false;
  values.num_classes = 0;
  CHECK_THROWS_WITH(t.fit(values, nullptr, fo, {}),
                    "training labels are one column of values, not class indices (whole numbers in [0, 2^31): label "
                    "2.5 of sample 2 is not), but model 'digits-cnn' outputs 10: give class indices, or targets of "
                    "shape (samples, 10)");
  fo.batch_size = 0;
  Dataset ok = make_synthetic({8, 8, 1}, 10, 4, 1);
  CHECK_THROWS_WITH(t.fit(ok, nullptr, fo, {}), "batch size must be >= 1, got 0");
}

TEST_CASE("replica devices are checked before any device is touched", "[trainer][errors]") {
  auto m = build("mnist-mlp", 1);
  Adam opt;
  // Checked before any CUDA call, so the messages hold on machines without a GPU too.
  CHECK_THROWS_WITH(Trainer(*m, {Device::cuda(0), Device::cuda(1), Device::cuda(0)}, LossKind::categorical_crossentropy,
                            opt, 1),
                    "GPU replicas must be on distinct GPUs (or all on one GPU), got a GPU twice among 3");
  CHECK_THROWS_WITH(Trainer(*m, {Device::cpu(), Device::cuda(0)}, LossKind::categorical_crossentropy, opt, 1),
                    "replicas must all be CPUs or all be GPUs, got cpu:0 and cuda:0");
}

TEST_CASE("steady-state training steps allocate nothing", "[trainer][alloc]") {
  // digits-cnn: Conv2D, pooling, Dense, Dropout; the wrappers: Bidirectional (its directions at once
  // on 2 threads) and TimeDistributed; recurrent layers drawing dropout masks; Keras's masks; an
  // optimizer that clips each weight's gradient and decays the weights.
  for (const std::string which : {"digits-cnn", "bidir", "tdist", "rnn_dropout", "masked_rnn", "clipping"})
    for (int replicas : {1, 3}) {
      auto m = which == "bidir"         ? test::bidir_net(4)
               : which == "tdist"       ? test::tdist_net(4)
               : which == "rnn_dropout" ? test::rnn_dropout_net(4)
               : which == "masked_rnn"  ? test::masked_rnn_net(4)
                                        : build("digits-cnn", 4);
      Dataset data = make_synthetic(m->input_shape(), shape_numel(m->output_shape()), 64, 2, m->input_index_limit());
      data.to_one_hot();
      OptimizerConfig oc;
      if (which == "clipping") {
        oc.name = "adamw";
        oc.clipnorm = 0.1;
      }
      auto opt = make_optimizer(oc);
      Trainer t(*m, cpus(replicas), LossKind::categorical_crossentropy, *opt, 2 * replicas);
      t.prepare(32, data);
      const int64_t buffers = buffer_allocations();
      const long news = test::steady_state_news(t, data, 32, 3, 5);
      INFO(which << ", replicas " << replicas);
      CHECK(news == 0);
      CHECK(buffer_allocations() == buffers);
    }
}

// The input pipeline's loader thread: jobs run one at a time; a job's error is rethrown once, by the
// wait() (or the next start()) after it, and the thread goes on taking jobs.
TEST_CASE("Prefetcher rethrows a loading error once and keeps working", "[trainer][prefetch]") {
  Prefetcher p;
  int runs = 0;
  auto ok = [&] { ++runs; };
  auto bad = [&]() { throw std::runtime_error("reading batch 7 failed"); };
  p.start(ok);
  p.wait();
  CHECK(runs == 1);
  p.start(bad);
  CHECK_THROWS_WITH(p.wait(), "reading batch 7 failed");
  p.wait();  // reported once
  p.start(ok);
  p.wait();
  CHECK(runs == 2);
  p.start(bad);
  CHECK_THROWS_WITH(p.start(ok), "reading batch 7 failed");  // ok was not started
  p.wait();
  CHECK(runs == 2);
}

TEST_CASE("Keras's weight regularizers: the gradient gains their slopes, the loss their penalty, on 1 and 3 replicas",
          "[trainer][regularizer]") {
  const Preset& p = find_preset("digits-mlp");
  auto make = [&](bool reg) {
    auto m = p.make();  // Flatten, Dense(64), Dense(64), Dense(10)
    if (reg) {
      m->layers()[1]->set_regularizer("kernel", {"L1L2", 0.01, 0.02});
      m->layers()[3]->set_regularizer("bias", {"L2", 0, 0.5});
      m->layers()[3]->set_regularizer("gamma", {"L2", 0, 1});  // a weight Dense has not: nothing
    }
    m->build(p.input, 5);
    return m;
  };
  // Biases start at 0, where the L1 slope is 0; give them values first.
  auto plain = make(false), reg = make(true);
  for (int64_t i = 0; i < plain->num_params(); ++i)
    if (plain->params()[i] == 0.f) plain->params()[i] = reg->params()[i] = 0.01f * float(i % 7 + 1);
  const Dataset data = make_synthetic({8, 8, 1}, 10, 40, 4);
  auto penalty = [](const Sequential& m) {
    double s = 0;
    for (const WeightRef& w : m.weights())
      for (int64_t i = 0; i < shape_numel(w.spec.shape); ++i) {
        const double v = w.data[i];
        s += w.spec.regularizer.l1 * std::fabs(v) + w.spec.regularizer.l2 * v * v;
      }
    return s;
  };
  const double p0 = penalty(*reg);
  REQUIRE(p0 > 0.1);
  std::vector<float> w0(reg->params(), reg->params() + reg->num_params());
  FitOptions fo;
  fo.batch_size = 40;
  fo.epochs = 1;
  fo.shuffle = false;
  fo.verbose = 0;
  SGD sgd(0.1);
  const History hp =
      Trainer(*plain, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).fit(data, nullptr, fo, {});
  const History hr =
      Trainer(*reg, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).fit(data, nullptr, fo, {});
  // One step: the regularized weights moved by a further -lr * (l1 sign(w) + 2 l2 w); the others alike.
  int64_t moved = 0;
  for (const WeightRef& w : reg->weights()) {
    const Regularizer& r = w.spec.regularizer;
    for (int64_t i = 0; i < shape_numel(w.spec.shape); ++i) {
      const float before = w0[size_t(w.offset + i)];
      const double slope = r.l1 * ((before > 0) - (before < 0)) + 2 * r.l2 * before;
      const double want = plain->params()[w.offset + i] - 0.1 * slope;
      INFO(w.keras_name() << "[" << i << "]");
      REQUIRE(std::fabs(w.data[i] - want) <= 1e-6);
      moved += slope != 0;
    }
  }
  CHECK(moved == 64 * 64 + 10);
  // Its loss: the data's, plus the penalty at the weights the step started from (as Keras logs it).
  CHECK(hr.at("loss")[0] == Catch::Detail::Approx(hp.at("loss")[0] + p0).epsilon(1e-6));
  // evaluate adds the penalty at the weights evaluated.
  auto same = make(false);
  std::copy(reg->params(), reg->params() + reg->num_params(), same->params());
  const double er = Trainer(*reg, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).evaluate(data, 16).loss;
  const double ep = Trainer(*same, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).evaluate(data, 16).loss;
  CHECK(er == Catch::Detail::Approx(ep + penalty(*reg)).epsilon(1e-6));
  // N replicas train as one device (the slopes added once, after the gradients are summed).
  fo.epochs = 2;
  fo.batch_size = 8;
  for (Strategy s : {Strategy::allreduce, Strategy::parameter_server}) {
    auto one = make(true), many = make(true);
    ParallelOptions po;
    po.strategy = s;
    Adam adam(0.01);
    const History h1 =
        Trainer(*one, cpus(1), LossKind::sparse_categorical_crossentropy, adam, 1).fit(data, &data, fo, {});
    const History h3 =
        Trainer(*many, cpus(3), LossKind::sparse_categorical_crossentropy, adam, 1, po).fit(data, &data, fo, {});
    INFO(strategy_name(s));
    CHECK(rel_diff(*one, *many) < 1e-5);
    for (const char* k : {"loss", "val_loss"})
      for (size_t e = 0; e < 2; ++e) CHECK(h3.at(k)[e] == Catch::Detail::Approx(h1.at(k)[e]).epsilon(1e-5));
  }
}

TEST_CASE("A constraint or regularizer class dptrain has not: fit refuses the model, naming it",
          "[trainer][regularizer][errors]") {
  auto cfg = [](const std::string& extra) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1], "name": "input"}},
      {"class_name": "Flatten", "config": {"name": "f"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 10, "activation": "softmax", )" +
           extra + "}}]}}";
  };
  const Dataset data = make_synthetic({8, 8, 1}, 10, 12, 4);
  FitOptions fo;
  fo.verbose = 0;
  SGD sgd(0.1);
  {
    auto m = model_from_keras_json(cfg(R"("kernel_constraint": {"class_name": "RadialConstraint", "config": {}})"), 0,
                                   "m.json");
    Trainer t(*m, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1);
    CHECK_THROWS_WITH(
        t.fit(data, nullptr, fo, {}),
        "layer 'd' (Dense) has kernel_constraint RadialConstraint (dptrain has MaxNorm, MinMaxNorm, NonNeg "
        "and UnitNorm), which dptrain does not apply in training as Keras does; take it out of the model "
        "to train it with dptrain");
    CHECK(std::isfinite(t.evaluate(data, 4).loss));  // a constraint does not change the loss
  }
  for (const char* extra : {R"("activity_regularizer": {"class_name": "OrthogonalRegularizer"})",
                            R"("kernel_regularizer": {"class_name": "OrthogonalRegularizer"})"}) {
    auto m = model_from_keras_json(cfg(extra), 0, "m.json");
    Trainer t(*m, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1);
    CHECK_THROWS_WITH(t.fit(data, nullptr, fo, {}), Contains("take it out of the model to train it with dptrain"));
    CHECK_THROWS_WITH(t.evaluate(data, 4),
                      Contains("which dptrain does not add to the loss as Keras does; take it out of the model to "
                               "evaluate it with dptrain"));
  }
  auto m =
      model_from_keras_json(cfg(R"("activity_regularizer": {"class_name": "OrthogonalRegularizer"})"), 0, "m.json");
  CHECK_THROWS_WITH(Trainer(*m, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).evaluate(data, 4),
                    "layer 'd' (Dense) has activity_regularizer OrthogonalRegularizer (dptrain has L1, L2 and L1L2), "
                    "which dptrain does not add to the loss as Keras does; take it out of the model to evaluate it "
                    "with dptrain");
  CHECK(Trainer(*m, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).predict(data, 4).size() == 120);
}

TEST_CASE("Keras's activity regularizers: the penalty over the batch size in the loss, its slope in backward",
          "[trainer][regularizer][activity]") {
  const Preset& p = find_preset("digits-mlp");  // Flatten, Dense(64, relu), Dense(64, relu), Dense(10, softmax)
  auto make = [&](bool reg) {
    auto m = p.make();
    if (reg) {
      m->layers()[1]->set_activity_regularizer(Regularizer{"L2", 0, 0.05});
      m->layers()[3]->set_activity_regularizer(Regularizer{"L1L2", 0.01, 0.1});  // on the softmax: not fused
    }
    m->build(p.input, 5);
    return m;
  };
  const Dataset data = make_synthetic({8, 8, 1}, 10, 12, 4);
  FitOptions fo;
  fo.batch_size = 12;
  fo.epochs = 1;
  fo.shuffle = false;
  fo.verbose = 0;
  SGD sgd(1.0);  // one step of rate 1: the weights move by minus the gradient
  auto reg = make(true), plain = make(false);
  const std::vector<float> w0(reg->params(), reg->params() + reg->num_params());
  Trainer tr(*reg, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1);
  const History hr = tr.fit(data, nullptr, fo, {});
  Trainer(*plain, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).fit(data, nullptr, fo, {});
  // The gradient against central differences of evaluate's loss (the data's plus the penalty over
  // the batch size: one batch of 12, the training objective itself).
  auto at = make(true);
  Trainer te(*at, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1);
  te.set_weights(w0);
  const double loss0 = te.evaluate(data, 12).loss;
  CHECK(hr.at("loss")[0] == Catch::Detail::Approx(loss0).epsilon(1e-6));  // logged at the start weights
  double moved_by_activity = 0;
  const WeightRef& k1 = reg->weights()[0];  // the first Dense's kernel (64, 64)
  for (int64_t i = 5; i < shape_numel(k1.spec.shape); i += 397) {
    const size_t j = size_t(k1.offset + i);
    const double g = double(w0[j]) - double(reg->params()[j]), g_plain = double(w0[j]) - double(plain->params()[j]);
    const float h = 1e-3f;
    std::vector<float> w = w0;
    w[j] = w0[j] + h;
    te.set_weights(w);
    const double up = te.evaluate(data, 12).loss;
    w[j] = w0[j] - h;
    te.set_weights(w);
    const double down = te.evaluate(data, 12).loss;
    const double fd = (up - down) / (double(w0[j] + h) - double(w0[j] - h));
    INFO("kernel[" << i << "]: gradient " << g << ", differences " << fd << ", without the regularizers " << g_plain);
    CHECK(std::abs(g - fd) <= 2e-3 + 0.02 * std::abs(fd));
    moved_by_activity += std::abs(g - g_plain);
  }
  CHECK(moved_by_activity > 0.02);
  // evaluate's loss over several batches: each batch's penalty over its size, weighted by it (the
  // whole penalty over the samples), whatever the batch size.
  te.set_weights(w0);
  CHECK(te.evaluate(data, 5).loss == Catch::Detail::Approx(loss0).epsilon(1e-5));
  // N replicas train as one device: each adds its rows' slopes (over the global batch size) and sums
  // its rows' penalty.
  fo.epochs = 2;
  fo.batch_size = 5;
  for (Strategy s : {Strategy::allreduce, Strategy::parameter_server}) {
    auto one = make(true), many = make(true);
    ParallelOptions po;
    po.strategy = s;
    SGD momentum(0.05, 0.9);
    const History h1 =
        Trainer(*one, cpus(1), LossKind::sparse_categorical_crossentropy, momentum, 1).fit(data, &data, fo, {});
    const History h3 =
        Trainer(*many, cpus(3), LossKind::sparse_categorical_crossentropy, momentum, 1, po).fit(data, &data, fo, {});
    INFO(strategy_name(s));
    CHECK(rel_diff(*one, *many) < 1e-5);
    for (const char* k : {"loss", "val_loss"})
      for (size_t e = 0; e < 2; ++e) CHECK(h3.at(k)[e] == Catch::Detail::Approx(h1.at(k)[e]).epsilon(1e-5));
  }
}

namespace {
// Keras's constraint on a weight of `shape` (row-major), by hand in double: each group of values
// sharing their coordinates off `axes` (empty: all axes) scaled by its norm's factor.
std::vector<double> constrained_by_hand(const std::vector<double>& w, const Shape& shape, const Constraint& c) {
  std::vector<double> out = w;
  if (c.kind == kernels::ConstraintKind::non_neg) {
    for (double& v : out) v = std::max(v, 0.0);
    return out;
  }
  const int64_t rank = int64_t(shape.size());
  std::vector<int64_t> axes;
  for (int64_t a : c.axis) axes.push_back(a < 0 ? a + rank : a);
  auto group_of = [&](int64_t i) {  // the coordinates off the axes, as one number
    int64_t key = 0, rest = i;
    std::vector<int64_t> coord(static_cast<size_t>(rank));
    for (int64_t d = rank - 1; d >= 0; --d) {
      coord[size_t(d)] = rest % shape[size_t(d)];
      rest /= shape[size_t(d)];
    }
    for (int64_t d = 0; d < rank; ++d)
      if (!c.all_axes && std::find(axes.begin(), axes.end(), d) == axes.end())
        key = key * shape[size_t(d)] + coord[size_t(d)];
    return key;
  };
  std::map<int64_t, double> sums;
  for (size_t i = 0; i < w.size(); ++i) sums[group_of(int64_t(i))] += w[i] * w[i];
  for (size_t i = 0; i < w.size(); ++i) {
    const double norm = std::sqrt(sums[group_of(int64_t(i))]);
    const double lo = c.kind == kernels::ConstraintKind::max_norm ? 0.0 : c.min_value;
    const double clipped = std::min(std::max(norm, lo), c.max_value);
    const double desired =
        c.kind == kernels::ConstraintKind::min_max_norm ? c.rate * clipped + (1 - c.rate) * norm : clipped;
    out[i] = c.kind == kernels::ConstraintKind::unit_norm ? w[i] / (1e-7 + norm) : w[i] * desired / (1e-7 + norm);
  }
  return out;
}
}  // namespace

TEST_CASE("Keras's weight constraints: each update ends with them, on 1 and 3 replicas", "[trainer][constraint]") {
  using kernels::ConstraintKind;
  const Preset& p = find_preset("digits-cnn");  // Conv2D, MaxPool, Conv2D, MaxPool, Flatten, Dense, Dropout, Dense
  auto make = [&](bool constrained) {
    auto m = p.make();
    if (constrained) {
      m->layers()[0]->set_constraint("kernel", {ConstraintKind::max_norm, 0, 0.3, 1, {0, 1, 2}});
      m->layers()[2]->set_constraint("kernel", {ConstraintKind::unit_norm, 0, 2, 1, {-1}});
      m->layers()[5]->set_constraint("kernel", {ConstraintKind::min_max_norm, 0.9, 1.1, 0.6, {0}});
      m->layers()[7]->set_constraint("kernel", {ConstraintKind::max_norm, 0, 1.5, 1, {}, true});
      m->layers()[7]->set_constraint("bias", {ConstraintKind::non_neg});
    }
    m->build(p.input, 4);
    return m;
  };
  const Dataset data = make_synthetic({8, 8, 1}, 10, 24, 6);
  FitOptions fo;
  fo.batch_size = 24;
  fo.epochs = 1;
  fo.shuffle = false;
  fo.verbose = 0;
  SGD sgd(0.5);
  auto plain = make(false), con = make(true);
  Trainer(*plain, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).fit(data, nullptr, fo, {});
  Trainer(*con, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).fit(data, nullptr, fo, {});
  int constrained = 0;
  for (size_t k = 0; k < con->weights().size(); ++k) {
    const WeightRef &w = con->weights()[k], &q = plain->weights()[k];
    const int64_t n = shape_numel(w.spec.shape);
    std::vector<double> want(q.data, q.data + n);
    if (w.spec.constraint) {
      want = constrained_by_hand(want, w.spec.shape, *w.spec.constraint);
      ++constrained;
    }
    INFO(w.keras_name());
    for (int64_t i = 0; i < n; ++i)
      REQUIRE(std::fabs(w.data[i] - want[size_t(i)]) <= 2e-6 * (1 + std::fabs(want[size_t(i)])));
  }
  CHECK(constrained == 5);
  // The step moved the bias below 0 somewhere, and the conv kernel's filters past their norm.
  CHECK(*std::min_element(plain->weights().back().data, plain->weights().back().data + 10) < 0);
  // N replicas as one device: the same constraint on every replica after the same update.
  fo.epochs = 2;
  fo.batch_size = 8;
  for (Strategy s : {Strategy::allreduce, Strategy::parameter_server}) {
    auto one = make(true), many = make(true);
    ParallelOptions po;
    po.strategy = s;
    SGD momentum(0.1, 0.9);  // (Adam turns the sums' last bits into steps of lr * sign)
    Trainer(*one, cpus(1), LossKind::sparse_categorical_crossentropy, momentum, 1).fit(data, nullptr, fo, {});
    Trainer(*many, cpus(3), LossKind::sparse_categorical_crossentropy, momentum, 1, po).fit(data, nullptr, fo, {});
    INFO(strategy_name(s));
    CHECK(rel_diff(*one, *many) < 1e-5);
  }
}

namespace {
// digits-mlp and 36 samples, and the same samples each weighed by its class's weight (sample
// weights that train as class_weight does).
struct ClassWeighted {
  const Preset& p = find_preset("digits-mlp");
  Dataset data = make_synthetic({8, 8, 1}, 10, 36, 7);
  std::vector<double> class_weight = {1, 2, 0.5, 1, 3, 1, 1, 0.25, 1, 1};
  Dataset weighted = data;
  ClassWeighted() {
    for (float y : data.y) weighted.weight.push_back(float(class_weight[size_t(y)]));
  }
  std::unique_ptr<Sequential> make() const {
    auto m = p.make();
    m->build(p.input, 8);
    return m;
  }
};
}  // namespace

TEST_CASE("Keras's sample_weight: the loss weighed per sample in fit and evaluate, on 1 and 3 replicas",
          "[trainer][sample_weight]") {
  ClassWeighted f;
  Dataset &data = f.data, &weighted = f.weighted;
  const std::vector<double>& class_weight = f.class_weight;
  auto make = [&] { return f.make(); };
  FitOptions fo;
  fo.epochs = 2;
  fo.batch_size = 8;
  fo.verbose = 0;
  fo.seed = 2;
  SGD sgd(0.1, 0.9);
  auto by_class = make(), by_sample = make(), plain = make();
  FitOptions cw = fo;
  cw.class_weight = class_weight;
  const History hc =
      Trainer(*by_class, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).fit(data, nullptr, cw, {});
  Trainer ts(*by_sample, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1);
  const History hs = ts.fit(weighted, &weighted, fo, {});
  Trainer(*plain, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1).fit(data, nullptr, fo, {});
  CHECK(rel_diff(*by_class, *by_sample) == 0);
  CHECK(rel_diff(*plain, *by_sample) > 1e-3);
  CHECK(hs.at("loss") == hc.at("loss"));
  // evaluate (and val_loss): the mean over the samples of weight x loss; the accuracy unweighted.
  Trainer te(*by_sample, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1);
  const EvalResult ew = te.evaluate(weighted, 5), eu = te.evaluate(data, 5);
  const std::vector<float> probs = te.predict(data, 5);
  double want = 0;
  for (int64_t i = 0; i < data.size(); ++i)
    want -= weighted.weight[size_t(i)] * std::log(double(probs[size_t(i * 10 + int64_t(data.y[size_t(i)]))]));
  want /= double(data.size());
  CHECK(ew.loss == Catch::Detail::Approx(want).epsilon(1e-5));
  CHECK(std::abs(ew.loss - eu.loss) > 1e-3);
  CHECK(ew.metrics == eu.metrics);
  CHECK(hs.at("val_loss").back() == Catch::Detail::Approx(ew.loss).epsilon(1e-6));
  // 3 replicas train and evaluate as one device.
  auto many = make();
  ParallelOptions po;
  Trainer t3(*many, cpus(3), LossKind::sparse_categorical_crossentropy, sgd, 1, po);
  const History h3 = t3.fit(weighted, &weighted, fo, {});
  CHECK(rel_diff(*by_sample, *many) < 1e-5);
  for (size_t e = 0; e < 2; ++e)
    CHECK(h3.at("val_loss")[e] == Catch::Detail::Approx(hs.at("val_loss")[e]).epsilon(1e-5));
  // Both at once is Keras's error; a negative weight is refused as data.
  CHECK_THROWS_WITH(ts.fit(weighted, nullptr, cw, {}),
                    Contains("You cannot `class_weight` and `sample_weight` at the same time"));
  weighted.weight[3] = -1;
  CHECK_THROWS_WITH(weighted.validate("w.npy"),
                    "w.npy: the weight of sample 3 is -1; sample weights must be finite and >= 0");
}

TEST_CASE("Keras's weighted_metrics: each sample counted by its weight, in fit, validation and evaluate",
          "[trainer][sample_weight][metrics]") {
  ClassWeighted f;
  Dataset &data = f.data, &weighted = f.weighted;
  const std::vector<double>& class_weight = f.class_weight;
  auto make = [&] { return f.make(); };
  // accuracy twice (the weighted one logs as weighted_accuracy), a weighted cross-entropy and top-3.
  MetricRequests asked = parse_metrics("accuracy");
  for (const MetricRequest& r : parse_metrics("accuracy,sparse_categorical_crossentropy,sparse_top_k_categorical_"
                                              "accuracy:k=3",
                                              true))
    asked.push_back(r);
  FitOptions fo;
  fo.epochs = 2;
  fo.batch_size = 8;
  fo.verbose = 0;
  fo.seed = 2;
  SGD sgd(0.1, 0.9);
  auto one = make(), three = make(), by_class = make();
  Trainer t1(*one, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1);
  t1.set_metrics(asked);
  CHECK(t1.metric_names() == std::vector<std::string>{"accuracy", "weighted_accuracy",
                                                      "sparse_categorical_crossentropy",
                                                      "sparse_top_k_categorical_accuracy"});
  const History h1 = t1.fit(weighted, &weighted, fo, {});
  // evaluate: sum(w * value) / sum(w), from the predictions.
  const EvalResult ew = t1.evaluate(weighted, 5), eu = t1.evaluate(data, 5);
  const std::vector<float> probs = t1.predict(data, 5);
  double correct = 0, weighted_correct = 0, xent = 0, sum_w = 0;
  for (int64_t i = 0; i < data.size(); ++i) {
    const float* row = probs.data() + i * 10;
    const int64_t label = int64_t(data.y[size_t(i)]);
    const double w = weighted.weight[size_t(i)], hit = std::max_element(row, row + 10) - row == label ? 1 : 0;
    correct += hit;
    weighted_correct += w * hit;
    xent -= w * std::log(double(row[label]));
    sum_w += w;
  }
  REQUIRE(ew.metrics.size() == 4);
  CHECK(ew.metrics[0] == Catch::Detail::Approx(correct / double(data.size())).epsilon(1e-12));
  CHECK(ew.metrics[1] == Catch::Detail::Approx(weighted_correct / sum_w).epsilon(1e-12));
  CHECK(ew.metrics[2] == Catch::Detail::Approx(xent / sum_w).epsilon(1e-5));
  CHECK(std::abs(ew.metrics[1] - ew.metrics[0]) > 1e-3);
  // Without weights, the weighted metrics are the metrics.
  CHECK(eu.metrics[1] == Catch::Detail::Approx(eu.metrics[0]).epsilon(1e-12));
  CHECK(h1.at("val_weighted_accuracy").back() == Catch::Detail::Approx(ew.metrics[1]).epsilon(1e-6));
  // 3 replicas: the same figures.
  Trainer t3(*three, cpus(3), LossKind::sparse_categorical_crossentropy, sgd, 1);
  t3.set_metrics(asked);
  const History h3 = t3.fit(weighted, &weighted, fo, {});
  for (const char* k : {"weighted_accuracy", "sparse_categorical_crossentropy", "val_weighted_accuracy",
                        "val_sparse_top_k_categorical_accuracy"})
    for (size_t e = 0; e < 2; ++e) {
      INFO(k << " epoch " << e);
      CHECK(h3.at(k)[e] == Catch::Detail::Approx(h1.at(k)[e]).epsilon(1e-5));
    }
  // class_weight weighs them in training as those sample weights do, but not in validation.
  FitOptions cw = fo;
  cw.class_weight = class_weight;
  Trainer tc(*by_class, cpus(1), LossKind::sparse_categorical_crossentropy, sgd, 1);
  tc.set_metrics(asked);
  const History hc = tc.fit(data, &data, cw, {});
  CHECK(hc.at("weighted_accuracy") == h1.at("weighted_accuracy"));
  CHECK(hc.at("sparse_categorical_crossentropy") == h1.at("sparse_categorical_crossentropy"));
  CHECK(hc.at("val_weighted_accuracy") == hc.at("val_accuracy"));
  // Names: a second weighted accuracy would log as weighted_accuracy again.
  MetricRequests twice = asked;
  twice.push_back(parse_metrics("accuracy", true)[0]);
  CHECK_THROWS_WITH(tc.set_metrics(twice), "weighted metric 'weighted_accuracy' is asked for twice");
  CHECK_THROWS_WITH(parse_metrics("acuracy", true),
                    Contains("unknown metric 'acuracy' for --weighted-metrics; dptrain computes"));
}
