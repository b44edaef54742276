// Hand-computed forward cases for conv, pooling, losses and accuracy; the GPU reductions' sizing.
#include <catch2/catch.hpp>
#include <vector>
#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/loss.h"
#include "kernels/pooling.h"

using namespace dpt::kernels;

TEST_CASE("conv2d forward by hand: valid and same padding, Keras kernel order", "[kernels][conv]") {
  std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9};  // (1, 3, 3, 1)
  std::vector<float> k{1, 0, 0, 1};                  // (2, 2, 1, 1): k[0,0] = k[1,1] = 1
  std::vector<float> b{0.5f};
  Conv2dGeom g;
  g.n = 1, g.h = 3, g.w = 3, g.c = 1, g.kh = 2, g.kw = 2, g.oc = 1;
  conv_out_size(3, 2, 1, false, &g.oh, &g.pad_top);
  conv_out_size(3, 2, 1, false, &g.ow, &g.pad_left);
  REQUIRE(g.oh == 2);
  std::vector<float> y(4), work(64);
  conv2d_forward_cpu<float>(g, x.data(), k.data(), b.data(), y.data(), work.data(), 64);
  CHECK(y == std::vector<float>{6.5f, 8.5f, 12.5f, 14.5f});

  conv_out_size(3, 2, 1, true, &g.oh, &g.pad_top);  // same: out 3, pad_total 1 -> top 0, bottom 1
  conv_out_size(3, 2, 1, true, &g.ow, &g.pad_left);
  REQUIRE(g.oh == 3);
  REQUIRE(g.pad_top == 0);
  std::vector<float> ys(9);
  conv2d_forward_cpu<float>(g, x.data(), k.data(), nullptr, ys.data(), work.data(), 64);
  CHECK(ys == std::vector<float>{6, 8, 3, 12, 14, 6, 7, 8, 9});

  // Channels: x (1,1,1,2) = [a, b], kernel (1,1,2,3) row-major [ci][co].
  std::vector<float> x2{2, 3}, k2{1, 2, 3, 4, 5, 6};
  Conv2dGeom p;
  p.n = 1, p.h = 1, p.w = 1, p.c = 2, p.oh = 1, p.ow = 1, p.oc = 3;
  std::vector<float> y2(3);
  conv2d_forward_cpu<float>(p, x2.data(), k2.data(), nullptr, y2.data(), work.data(), 0);
  CHECK(y2 == std::vector<float>{2 * 1 + 3 * 4, 2 * 2 + 3 * 5, 2 * 3 + 3 * 6});

  int64_t out, pad;
  conv_out_size(7, 3, 2, true, &out, &pad);  // TF: ceil(7/2) = 4, pad_total = max(3*2+3-7, 0) = 2
  CHECK(out == 4);
  CHECK(pad == 1);
  conv_out_size(6, 3, 2, false, &out, &pad);  // floor((6-3)/2)+1 = 2
  CHECK(out == 2);
}

TEST_CASE("pooling forward by hand, TF padding rules", "[kernels][pool]") {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = float(i + 1);  // (1, 4, 4, 1)
  Pool2dGeom g;
  g.n = 1, g.h = 4, g.w = 4, g.c = 1, g.oh = 2, g.ow = 2;
  std::vector<float> y(4);
  max_pool_forward_cpu(g, x.data(), y.data(), nullptr);
  CHECK(y == std::vector<float>{6, 8, 14, 16});
  avg_pool_forward_cpu(g, x.data(), y.data());
  CHECK(y == std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f});

  // 'same' 2x2/2 on 3x3: the averages count only real cells (as TensorFlow).
  std::vector<float> x3{1, 2, 3, 4, 5, 6, 7, 8, 9};
  Pool2dGeom s;
  s.n = 1, s.h = 3, s.w = 3, s.c = 1;
  conv_out_size(3, 2, 2, true, &s.oh, &s.pad_top);
  conv_out_size(3, 2, 2, true, &s.ow, &s.pad_left);
  REQUIRE(s.oh == 2);
  avg_pool_forward_cpu(s, x3.data(), y.data());
  CHECK(y == std::vector<float>{3, 4.5f, 7.5f, 9});
  max_pool_forward_cpu(s, x3.data(), y.data(), nullptr);
  CHECK(y == std::vector<float>{5, 6, 8, 9});

  std::vector<float> gx{1, 10, 3, 20, 5, 30, 7, 40};  // (1, 4 pixels, 2 channels)
  std::vector<float> gy(2);
  global_avg_pool_forward_cpu(gx.data(), gy.data(), 1, 4, 2);
  CHECK(gy == std::vector<float>{4, 25});
}

// Keras's other losses on p = (0.5, 3), y = (1, 0.5): one error inside Huber's delta, one past it.
TEST_CASE("mean absolute error, Huber, log-cosh, MSLE, KL divergence and Poisson by hand", "[kernels][loss]") {
  const std::vector<double> p{0.5, 3.0}, y{1.0, 0.5};
  const double eps = 1e-7;
  const auto loss = [&](LossKind k, std::vector<double>* g = nullptr) {
    return loss_cpu<double>(k, false, p.data(), y.data(), 1, 2, 1.0, g ? g->data() : nullptr);
  };
  std::vector<double> g(2);
  CHECK(loss(LossKind::mean_absolute_error, &g) == Approx((0.5 + 2.5) / 2));
  CHECK(g == std::vector<double>{-0.5, 0.5});
  CHECK(loss(LossKind::huber, &g) == Approx((0.5 * 0.25 + (2.5 - 0.5)) / 2));
  CHECK(g == std::vector<double>{-0.25, 0.5});
  CHECK(loss(LossKind::log_cosh, &g) == Approx((std::log(std::cosh(0.5)) + std::log(std::cosh(2.5))) / 2));
  CHECK(g[1] == Approx(std::tanh(2.5) / 2));
  const double l1 = std::log(1.5) - std::log(2.0), l2 = std::log(4.0) - std::log(1.5);
  CHECK(loss(LossKind::mean_squared_logarithmic_error) == Approx((l1 * l1 + l2 * l2) / 2));
  // KL: both clipped to [1e-7, 1] (3 -> 1), summed over the row, not averaged.
  CHECK(loss(LossKind::kl_divergence, &g) == Approx(1.0 * std::log(1.0 / 0.5) + 0.5 * std::log(0.5 / 1.0)));
  CHECK(g[0] == Approx(-1.0 / 0.5));
  CHECK(g[1] == 0.0);  // past the clip
  CHECK(loss(LossKind::poisson) == Approx((0.5 - std::log(0.5 + eps) + 3.0 - 0.5 * std::log(3.0 + eps)) / 2));
}

// Keras's MAPE, hinge losses and cosine similarity by hand (its docstrings' figures where it gives them).
TEST_CASE("mean absolute percentage error, the hinges and cosine similarity by hand", "[kernels][loss]") {
  const auto loss = [&](LossKind k, const std::vector<double>& p, const std::vector<double>& y, int64_t rows,
                        std::vector<double>* g = nullptr) {
    return loss_cpu<double>(k, false, p.data(), y.data(), rows, int64_t(p.size()) / rows, 1.0, g ? g->data() : nullptr);
  };
  std::vector<double> g(2);
  // 100 |y - p| / max(|y|, 1e-7): y = 0 divides by 1e-7.
  CHECK(loss(LossKind::mean_absolute_percentage_error, {1.5, 0.5}, {2.0, -0.5}, 1, &g) ==
        Approx((100 * 0.5 / 2.0 + 100 * 1.0 / 0.5) / 2));
  CHECK(g == std::vector<double>{100 * -1.0 / 2.0 / 2, 100 * 1.0 / 0.5 / 2});
  CHECK(loss(LossKind::mean_absolute_percentage_error, {1.0, 0.0}, {0.0, 0.0}, 1) == Approx(100 * 1.0 / 1e-7 / 2));
  // hinge: 0/1 targets read as -1/1; -1/1 targets as given. y = (0, 1), p = (0.3, 0.4): mean of
  // max(1 + 0.3, 0) and max(1 - 0.4, 0).
  CHECK(loss(LossKind::hinge, {0.3, 0.4}, {0.0, 1.0}, 1, &g) == Approx((1.3 + 0.6) / 2));
  CHECK(g == std::vector<double>{0.5, -0.5});
  CHECK(loss(LossKind::hinge, {0.3, 2.0}, {-1.0, 1.0}, 1, &g) == Approx(1.3 / 2));
  CHECK(g == std::vector<double>{0.5, 0.0});  // past the margin: no gradient
  CHECK(loss(LossKind::squared_hinge, {0.3, 0.4}, {0.0, 1.0}, 1, &g) == Approx((1.69 + 0.36) / 2));
  CHECK(g[0] == Approx(2 * 1.3 / 2));
  // categorical_hinge: max(max((1 - y) p) - sum(y p) + 1, 0); Keras's docstring's y, p.
  std::vector<double> g3(3);
  CHECK(loss(LossKind::categorical_hinge, {0.2, 0.7, 0.1}, {0, 1, 0}, 1, &g3) == Approx(0.2 - 0.7 + 1));
  CHECK(g3 == std::vector<double>{1, -1, 0});
  CHECK(loss(LossKind::categorical_hinge, {0.1, 1.9, 0.1}, {0, 1, 0}, 1, &g3) == 0.0);
  CHECK(g3 == std::vector<double>{0, 0, 0});
  // Keras's docstring: y = [[0, 1], [1, 1], [1, 1]], p = [[1, 0], [1, 1], [-1, -1]] -> 0, -1, 1.
  const std::vector<double> cy{0, 1, 1, 1, 1, 1}, cp{1, 0, 1, 1, -1, -1};
  CHECK(loss(LossKind::cosine_similarity, cp, cy, 3) == Approx(0 - 1 + 1).margin(1e-12));
  CHECK(loss(LossKind::cosine_similarity, {0, 0}, {1, 0}, 1) == 0.0);  // a zero row: the norm's cap, not NaN
  // As metrics: the cosine itself, and the top-k accuracies (ties at the boundary count in).
  CHECK(metric_sum_cpu<double>(MetricKind::cosine_similarity, cp.data(), cy.data(), 3, 2) ==
        Approx(0 + 1 - 1).margin(1e-12));
  const std::vector<double> tp{0.1, 0.4, 0.3, 0.2, 0.4, 0.1, 0.3, 0.2}, ty{0, 0, 0, 1, 0, 1, 0, 0}, ti{3, 1};
  MetricFormula top2(MetricKind::top_k_categorical), sparse2(MetricKind::sparse_top_k_categorical);
  top2.k = sparse2.k = 2;
  // Row 0: class 3 (0.2) has 0.4 and 0.3 above it: out. Row 1: class 1 (0.1) has 0.4, 0.3, 0.2 above: out.
  CHECK(metric_sum_cpu<double>(top2, tp.data(), ty.data(), 2, 4) == 0.0);
  top2.k = 3;
  CHECK(metric_sum_cpu<double>(top2, tp.data(), ty.data(), 2, 4) == 1.0);
  sparse2.k = 4;
  CHECK(metric_sum_cpu<double>(sparse2, tp.data(), ti.data(), 2, 4) == 2.0);
  const std::vector<double> tie{0.5, 0.5, 0.5, 0.1};
  const std::vector<double> tie_label{2};
  sparse2.k = 1;  // three classes tie for the top: each counts as in the top 1, as in_top_k counts it
  CHECK(metric_sum_cpu<double>(sparse2, tie.data(), tie_label.data(), 1, 4) == 1.0);
  // binary_accuracy's threshold, and a loss as a metric (its value, no gradient).
  MetricFormula bin(MetricKind::binary);
  bin.threshold = 0.7f;
  const std::vector<double> bp{0.6, 0.8}, by{0, 1};
  CHECK(metric_sum_cpu<double>(bin, bp.data(), by.data(), 1, 2) == 1.0);
  bin.threshold = 0.5f;
  CHECK(metric_sum_cpu<double>(bin, bp.data(), by.data(), 1, 2) == 0.5);
  MetricFormula bce(MetricKind::loss);
  bce.loss = LossKind::binary_crossentropy;
  CHECK(metric_sum_cpu<double>(bce, bp.data(), by.data(), 1, 2) ==
        Approx(loss_cpu<double>(LossKind::binary_crossentropy, false, bp.data(), by.data(), 1, 2, 1.0, nullptr)));
  // Keras's FBetaScore from its four counts per column. threshold None marks each row's largest:
  // row 0 says class 0 (right), row 1 class 1 (its target is class 2).
  const std::vector<double> fp{0.6, 0.3, 0.1, 0.2, 0.5, 0.3}, fy{1, 0, 0, 0, 0, 1};
  MetricFormula f1(MetricKind::fbeta);
  f1.width = 3;
  f1.threshold = -1;
  std::vector<double> counts(12, 0.0);
  metric_slots_cpu<double>(f1, fp.data(), fy.data(), 2, 3, counts.data());
  CHECK(counts == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1});  // tp | fp | fn | support
  const double e = 1e-7, one = (1 / (1 + e)) * (1 / (1 + e)) / (1 / (1 + e) + 1 / (1 + e) + e) * 2;
  f1.average = 1;  // macro: class 0's F1 (1 up to Keras's epsilons), classes 1 and 2 nothing
  CHECK(metric_value(f1, counts.data(), 0) == Approx(one / 3).epsilon(1e-12));
  f1.average = 2;  // weighted by the support (1, 0, 1)
  CHECK(metric_value(f1, counts.data(), 0) == Approx(one / (2 + e)).epsilon(1e-12));
  f1.average = 0;  // micro: precision 1/2, recall 1/2
  CHECK(metric_value(f1, counts.data(), 0) == Approx(0.5).epsilon(1e-6));
  f1.threshold = 0.25f;  // above 0.25: (0.6, 0.3) and (0.5, 0.3): 2 right of 4 said, both targets found
  f1.beta = 2;           // micro F2: 5 P R / (4 P + R), P 1/2, R 1
  std::fill(counts.begin(), counts.end(), 0.0);
  metric_slots_cpu<double>(f1, fp.data(), fy.data(), 2, 3, counts.data());
  CHECK(metric_value(f1, counts.data(), 0) == Approx(5 * 0.5 * 1.0 / (4 * 0.5 + 1.0)).epsilon(1e-6));
  // Keras's R2Score from four sums per column: 1 - SS_res / SS_tot per column, averaged (uniformly or
  // by the columns' variance), and adjusted for num_regressors over every value.
  const std::vector<double> rp{1.0, 10.0, 2.5, 12.0, 2.0, 11.0}, ry{1.0, 9.0, 2.0, 13.0, 3.0, 11.0};  // 3 rows, 2 cols
  MetricFormula r2(MetricKind::r2);
  r2.width = 2;
  std::vector<double> r2s(8, 0.0);
  metric_slots_cpu<double>(r2, rp.data(), ry.data(), 3, 2, r2s.data());
  const double r2a = 1 - (0 + 0.25 + 1) / 2.0, r2b = 1 - (1 + 1 + 0) / 8.0;  // SS_tot: 2 and 8
  r2.average = 1;
  CHECK(metric_value(r2, r2s.data(), 0) == Approx((r2a + r2b) / 2));
  r2.average = 2;
  CHECK(metric_value(r2, r2s.data(), 0) == Approx((2 * r2a + 8 * r2b) / 10));
  r2.regressors = 2;  // 6 values: 1 - (1 - R2) (6 - 1) / (6 - 2 - 1)
  CHECK(metric_value(r2, r2s.data(), 0) == Approx(1 - (1 - (2 * r2a + 8 * r2b) / 10) * 5 / 3));
  MetricFormula rmse(MetricKind::root_mean_squared_error);  // the rows' mean squared error; its root at the end
  CHECK(metric_sum_cpu<double>(rmse, bp.data(), by.data(), 1, 2) == Approx((0.36 + 0.04) / 2));
  CHECK(metric_result(rmse, 0.25) == 0.5);
  CHECK(metric_result(MetricFormula(MetricKind::mean_squared_error), 0.25) == 0.25);
}

TEST_CASE("losses and accuracy by hand (Keras's values)", "[kernels][loss]") {
  std::vector<float> p{0.7f, 0.2f, 0.1f}, onehot{1, 0, 0}, label{0};
  CHECK(loss_cpu<float>(LossKind::categorical_crossentropy, false, p.data(), onehot.data(), 1, 3, 1.f, nullptr) ==
        Catch::Detail::Approx(0.35667494).epsilon(1e-6));
  CHECK(loss_cpu<float>(LossKind::sparse_categorical_crossentropy, false, p.data(), label.data(), 1, 3, 1.f, nullptr) ==
        Catch::Detail::Approx(0.35667494).epsilon(1e-6));
  std::vector<float> bp{0.8f, 0.3f}, by{1, 0};
  CHECK(loss_cpu<float>(LossKind::binary_crossentropy, false, bp.data(), by.data(), 1, 2, 1.f, nullptr) ==
        Catch::Detail::Approx(0.28990925).epsilon(1e-6));
  std::vector<float> mp{1, 2}, my{0, 4};
  CHECK(loss_cpu<float>(LossKind::mean_squared_error, false, mp.data(), my.data(), 1, 2, 1.f, nullptr) == Catch::Detail::Approx(2.5));
  // A probability of exactly 0 is clipped to 1e-7 as Keras does: -log(1e-7).
  std::vector<float> p0{0.f, 1.f};
  std::vector<float> y0{1, 0};
  CHECK(loss_cpu<float>(LossKind::categorical_crossentropy, false, p0.data(), y0.data(), 1, 2, 1.f, nullptr) ==
        Catch::Detail::Approx(16.118095).epsilon(1e-5));

  std::vector<float> preds{0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f};  // argmax 1, 0
  std::vector<float> idx{1, 2}, oh{0, 1, 0, 0, 0, 1};
  CHECK(metric_sum_cpu<float>(MetricKind::sparse_categorical, preds.data(), idx.data(), 2, 3) == 1.0);
  CHECK(metric_sum_cpu<float>(MetricKind::categorical, preds.data(), oh.data(), 2, 3) == 1.0);
  std::vector<float> bpred{0.6f, 0.4f, 0.51f}, btrue{1, 1, 0};
  CHECK(metric_sum_cpu<float>(MetricKind::binary, bpred.data(), btrue.data(), 3, 1) == 1.0);
  // Keras's binary_accuracy compares the thresholded prediction with the target itself: a soft
  // target (0.9, 0.2) never matches, whatever side of 0.5 it is on; 0.5 itself predicts 0.
  std::vector<float> spred{0.8f, 0.1f, 0.5f, 0.7f}, strue{0.9f, 0.2f, 0.f, 1.f};
  CHECK(metric_sum_cpu<float>(MetricKind::binary, spred.data(), strue.data(), 1, 4) == 0.5);
  // The regression errors: the mean over columns of |p - y| and (p - y)^2, summed over rows.
  CHECK(metric_sum_cpu<float>(MetricKind::mean_absolute_error, spred.data(), strue.data(), 2, 2) ==
        Catch::Detail::Approx((0.1 + 0.1) / 2 + (0.5 + 0.3) / 2));
  CHECK(metric_sum_cpu<float>(MetricKind::mean_squared_error, spred.data(), strue.data(), 1, 4) ==
        Catch::Detail::Approx((0.01 + 0.01 + 0.25 + 0.09) / 4));
}

TEST_CASE("GPU column reductions: enough row chunks to fill the GPU, scratch bounded for any rows",
          "[kernels][reduce]") {
  using namespace dpt::kernels;
  CHECK(cuda_reduce_chunks(0, 10) == 1);
  CHECK(cuda_reduce_chunks(64, 10) == 1);
  CHECK(cuda_reduce_chunks(65, 10) == 2);
  CHECK(cuda_reduce_chunks(512 * 30 * 30, 32) == kReduceTargetBlocks);  // cifar10-cnn's first conv bias
  CHECK(cuda_reduce_chunks(512 * 30 * 30, 64) == kReduceTargetBlocks / 2);
  CHECK(cuda_reduce_chunks(512, 128) == 8);  // a Dense bias: 64 rows a chunk at least
  // What the kernels use (chunks * K * cols doubles) never exceeds what prepare reserves.
  for (int64_t cols : {1, 7, 31, 32, 33, 100, 512, 1000, 4097, 100000})
    for (int64_t rows : {1, 63, 1000, 123457, 10000000})
      for (int64_t K : {1, 2}) {
        INFO("rows " << rows << " cols " << cols << " K " << K);
        CHECK(size_t(cuda_reduce_chunks(rows, cols) * K * cols) * sizeof(double) <= cuda_reduce_scratch_bytes(K * cols));
      }
}
