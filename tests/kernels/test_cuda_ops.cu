// CUDA ops against the CPU reference on fresh random inputs (never zeros), float32 tolerance
// abs + rel*|ref|. Without a GPU each test says it was skipped and why.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>
#include "kernels/activation.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_gemm.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_devices.h"
#include "kernels/cuda_resources.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/loss.h"
#include "kernels/merge.h"
#include "kernels/optimizer.h"
#include "kernels/reorder.h"
#include "kernels/seqmask.h"

using namespace dpt::kernels;

namespace {

bool have_gpu() {
  std::string why;
  if (!cuda_devices(&why).empty()) return true;
  WARN("SKIPPED (no GPU): " << why);
  return false;
}

std::vector<float> rnd(size_t n, unsigned seed, float lo = -2.f, float hi = 2.f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(g);
  return v;
}

struct DevBuf {
  float* p = nullptr;
  explicit DevBuf(const std::vector<float>& h) {
    DPT_CUDA_CHECK(cudaMalloc(&p, h.size() * sizeof(float)));
    DPT_CUDA_CHECK(cudaMemcpy(p, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  ~DevBuf() { cudaFree(p); }
  std::vector<float> get(size_t n) const {
    std::vector<float> h(n);
    DPT_CUDA_CHECK(cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
  }
};

void expect_close(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol) {
  for (size_t i = 0; i < ref.size(); ++i) {
    INFO("element " << i << ": gpu " << got[i] << " cpu " << ref[i]);
    REQUIRE(std::abs(double(got[i]) - ref[i]) <= atol + rtol * std::abs(double(ref[i])));
  }
}

// Forces the kernels' 64-bit-index instantiations (taken past 2^31 elements) while in scope.
struct WideIndices {
  explicit WideIndices(bool on) { cuda_force_wide_indices(on); }
  ~WideIndices() { cuda_force_wide_indices(false); }
  WideIndices(const WideIndices&) = delete;
  WideIndices& operator=(const WideIndices&) = delete;
};

std::string act_str(Activation a) { return std::to_string(int(a.kind)) + " (" + std::to_string(a.alpha) + ")"; }

// Every kind, and the settings of Keras's LeakyReLU(0.3), ELU(0.5) and ReLU(max_value=2.5) layers.
const Activation kAllActivations[] = {Activation::relu,
                                      Activation::sigmoid,
                                      Activation::tanh,
                                      Activation::softmax,
                                      Activation::linear,
                                      Activation::elu,
                                      Activation::selu,
                                      Activation::softplus,
                                      Activation::softsign,
                                      Activation::relu6,
                                      Activation::exponential,
                                      Activation::leaky_relu,
                                      Activation::gelu,
                                      Activation::silu,
                                      Activation::mish,
                                      Activation::hard_silu,
                                      Activation(Activation::leaky_relu, 0.3f),
                                      Activation(Activation::elu, 0.5f),
                                      Activation(Activation::relu6, 2.5f)};

}  // namespace

TEST_CASE("CUDA activations match the CPU reference", "[gpu][activation]") {
  if (!have_gpu()) return;
  const int64_t rows = 37, cols = 129;
  for (Activation a : kAllActivations) {
    // -7..7: relu6 reaches its cap
    const auto x = rnd(rows * cols, 1 + int(a.kind), -7.f, 7.f), dy = rnd(rows * cols, 50 + int(a.kind));
    std::vector<float> y(x.size()), dx(x.size());
    activation_forward_cpu(a, x.data(), y.data(), rows, cols);
    activation_backward_cpu(a, x.data(), y.data(), dy.data(), dx.data(), rows, cols);
    DevBuf dx_in(x), dy_out(std::vector<float>(x.size(), -7.f)), ddy(dy), ddx(std::vector<float>(x.size(), -7.f));
    activation_forward_cuda(a, dx_in.p, dy_out.p, rows, cols, nullptr);
    DevBuf dyv(y);
    activation_backward_cuda(a, dx_in.p, dyv.p, ddy.p, ddx.p, rows, cols, nullptr);
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    INFO("activation " << act_str(a));
    expect_close(dy_out.get(x.size()), y, 1e-6, 1e-5);
    expect_close(ddx.get(x.size()), dx, 1e-6, 1e-5);
  }
}

TEST_CASE("CUDA optimizer updates match the CPU loops", "[gpu][optimizer]") {
  if (!have_gpu()) return;
  const int64_t n = 100003;
  const auto w0 = rnd(n, 3), g = rnd(n, 4);
  {
    std::vector<float> w = w0, v(n, 0.f);
    DevBuf dw(w0), dg(g), dv(v);
    for (int s = 0; s < 3; ++s) {
      sgd_update_cpu<float>(w.data(), g.data(), v.data(), n, 0.01f, 0.9f, true);
      sgd_update_cuda(dw.p, dg.p, dv.p, n, 0.01f, 0.9f, true, nullptr);
    }
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    expect_close(dw.get(n), w, 1e-6, 1e-5);
  }
  {
    std::vector<float> w = w0, ms(n, 0.f), mom(n, 0.f), mg(n, 0.f);
    DevBuf dw(w0), dg(g), dms(ms), dmom(mom), dmg(mg);
    for (int s = 0; s < 3; ++s) {
      rmsprop_update_cpu<float>(w.data(), g.data(), ms.data(), mom.data(), mg.data(), n, 1e-3f, 0.9f, 0.9f, 1e-7f,
                                true);
      rmsprop_update_cuda(dw.p, dg.p, dms.p, dmom.p, dmg.p, n, 1e-3f, 0.9f, 0.9f, 1e-7f, true, nullptr);
    }
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    expect_close(dw.get(n), w, 1e-6, 1e-5);
  }
  {
    std::vector<float> w = w0, m(n, 0.f), v(n, 0.f), vh(n, 0.f);
    DevBuf dw(w0), dg(g), dm(m), dv(v), dvh(vh);
    for (int s = 1; s <= 3; ++s) {
      const float alpha = float(adam_alpha(1e-3, 0.9, 0.999, s));
      adam_update_cpu<float>(w.data(), g.data(), m.data(), v.data(), vh.data(), n, alpha, 0.9f, 0.999f, 1e-7f, true);
      adam_update_cuda(dw.p, dg.p, dm.p, dv.p, dvh.p, n, alpha, 0.9f, 0.999f, 1e-7f, true, nullptr);
    }
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    expect_close(dw.get(n), w, 1e-6, 1e-5);
  }
}

// Each step functor three steps over the same arena on both devices (the slots start from random
// non-negative values, as after earlier steps).
template <class Step>
void compare_step(const Step& step, const char* what) {
  INFO(what);
  const int64_t n = 100003;
  const auto w0 = rnd(n, 3), g = rnd(n, 4);
  std::vector<float> w = w0, s0 = rnd(n, 5, 0.f, 1.f), s1 = rnd(n, 6, 0.f, 1.f);
  DevBuf dw(w0), dg(g), ds0(s0), ds1(s1);
  float* host_slots[2] = {s0.data(), s1.data()};
  float* dev_slots[2] = {ds0.p, ds1.p};
  for (int s = 0; s < 3; ++s) {
    update_cpu(step, w.data(), g.data(), host_slots, n);
    update_cuda(step, dw.p, dg.p, dev_slots, n, nullptr);
  }
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  expect_close(dw.get(n), w, 1e-6, 1e-5);
  expect_close(ds0.get(n), s0, 1e-6, 1e-5);
  expect_close(ds1.get(n), s1, 1e-6, 1e-5);
}

TEST_CASE("CUDA Adagrad, Adamax, Nadam, Adadelta, Lion and weight decay steps match the CPU loops",
          "[gpu][optimizer]") {
  if (!have_gpu()) return;
  compare_step(AdagradStep{0.05f, 1e-7f}, "adagrad");
  compare_step(AdamaxStep{0.01f, 0.9f, 0.999f, 1e-7f, 0.1f}, "adamax");
  compare_step(NadamStep{0.01f, 0.9f, 0.999f, 1e-7f, 0.45f, 0.6f, 0.55f, 0.57f, 0.001f}, "nadam");
  compare_step(AdadeltaStep{1.f, 0.95f, 1e-7f}, "adadelta");
  compare_step(LionStep{0.01f, 0.9f, 0.99f}, "lion");
  compare_step(DecayStep{0.004f, 0.01f}, "weight decay");
  compare_step(AccumulateStep{}, "gradient accumulation");
  compare_step(AverageStep{3.f}, "the accumulated gradients' average");
  compare_step(EmaStep{0.9f}, "the weights' moving average");
  compare_step(OverwriteStep{}, "the weights from their moving average");
}

TEST_CASE("CUDA gradient clipping (per weight, global, by value) matches the CPU", "[gpu][optimizer]") {
  if (!have_gpu()) return;
  // Weights of several chunks, of one, of none and of a partial one.
  const ClipPlan plan = make_clip_plan({3 * kClipChunk + 17, 5, 0, kClipChunk, 1000});
  const int64_t n = plan.begin.back();
  std::vector<int64_t> tables = plan.begin;
  tables.insert(tables.end(), plan.seg.begin(), plan.seg.end());
  tables.insert(tables.end(), plan.first.begin(), plan.first.end());
  int64_t* dplan = nullptr;
  void* scratch = nullptr;
  DPT_CUDA_CHECK(cudaMalloc(&dplan, tables.size() * sizeof(int64_t)));
  DPT_CUDA_CHECK(cudaMemcpy(dplan, tables.data(), tables.size() * sizeof(int64_t), cudaMemcpyHostToDevice));
  DPT_CUDA_CHECK(cudaMalloc(&scratch, plan.chunks() * sizeof(double) + 2 * plan.weights() * sizeof(float)));
  std::vector<double> partial(size_t(plan.chunks()));
  const std::pair<ClipMode, float> modes[] = {
      {ClipMode::norm, 3.f}, {ClipMode::global_norm, 10.f}, {ClipMode::value, 0.5f}};
  for (auto [mode, c] : modes) {
    INFO("mode " << int(mode));
    std::vector<float> g = rnd(n, 9);
    DevBuf dg(g);
    clip_cpu(plan, mode, c, g.data(), partial.data());
    clip_cuda(dplan, plan.chunks(), plan.weights(), mode, c, dg.p, scratch, nullptr);
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    expect_close(dg.get(size_t(n)), g, 1e-7, 1e-6);
  }
  cudaFree(dplan);
  cudaFree(scratch);
}

TEST_CASE("CUDA weight penalties (Keras's L1/L2 regularizers) and their slopes match the CPU", "[gpu][optimizer]") {
  if (!have_gpu()) return;
  // Weights of several chunks, of one and of a partial one, at offsets in an arena, with zeros
  // (the L1 slope's sign(0) = 0); one weight between them is not regularized.
  const std::vector<PenaltyChunk> chunks = make_penalty_chunks({{7, 2 * kClipChunk + 5, 0.01f, 0.02f},
                                                                {2 * kClipChunk + 40, 300, 0.f, 0.5f},
                                                                {2 * kClipChunk + 400, 33, 0.1f, 0.f}});
  REQUIRE(chunks.size() == 5);
  const int64_t n = 2 * kClipChunk + 500, count = int64_t(chunks.size());
  std::vector<float> w = rnd(n, 12, -2.f, 2.f), g = rnd(n, 13);
  for (int64_t i = 0; i < n; i += 9) w[size_t(i)] = 0.f;
  DevBuf dw(w), dg(g), dg_none(g);
  std::vector<double> partial(static_cast<size_t>(count));
  penalty_cpu(chunks.data(), count, w.data(), g.data(), partial.data());
  PenaltyChunk* dchunks = nullptr;
  double* dpartial = nullptr;
  DPT_CUDA_CHECK(cudaMalloc(&dchunks, chunks.size() * sizeof(PenaltyChunk)));
  DPT_CUDA_CHECK(cudaMemcpy(dchunks, chunks.data(), chunks.size() * sizeof(PenaltyChunk), cudaMemcpyHostToDevice));
  DPT_CUDA_CHECK(cudaMalloc(&dpartial, chunks.size() * sizeof(double)));
  penalty_cuda(dchunks, count, dw.p, dg.p, dpartial, nullptr);
  std::vector<double> got(static_cast<size_t>(count));
  DPT_CUDA_CHECK(cudaMemcpy(got.data(), dpartial, got.size() * sizeof(double), cudaMemcpyDeviceToHost));
  expect_close(dg.get(size_t(n)), g, 1e-7, 1e-6);  // the same formula per element (FMA aside)
  for (int64_t c = 0; c < count; ++c) CHECK(got[size_t(c)] == Approx(partial[size_t(c)]).epsilon(1e-12));
  penalty_cuda(dchunks, count, dw.p, nullptr, dpartial, nullptr);  // the penalty alone (evaluate)
  std::vector<double> again(static_cast<size_t>(count));
  DPT_CUDA_CHECK(cudaMemcpy(again.data(), dpartial, again.size() * sizeof(double), cudaMemcpyDeviceToHost));
  CHECK(again == got);
  CHECK(dg_none.get(size_t(n)) == rnd(n, 13));
  cudaFree(dchunks);
  cudaFree(dpartial);
}

TEST_CASE("CUDA activity regularizers (a layer output's penalty and slope) match the CPU", "[gpu][optimizer]") {
  if (!have_gpu()) return;
  const int64_t n = 3 * kClipChunk + 1234;  // several chunks and a short last one
  const std::vector<float> y = rnd(n, 31, -2.f, 2.f), dy0 = rnd(n, 32);
  const int64_t chunks = activity_chunks(n);
  REQUIRE(chunks == 4);
  std::vector<double> partial(size_t(chunks), -1.0);
  std::vector<float> dy = dy0;
  activity_cpu(y.data(), n, 0.02f, 0.3f, 1.f / 48.f, dy.data(), partial.data());
  double by_hand = 0;
  for (int64_t i = 0; i < n; ++i)
    by_hand += double(0.02f) * std::fabs(double(y[size_t(i)])) + double(0.3f) * double(y[size_t(i)]) * y[size_t(i)];
  double sum = 0;
  for (double v : partial) sum += v;
  CHECK(sum == Approx(by_hand).epsilon(1e-12));
  CHECK(dy[7] == Approx(dy0[7] + (0.02f * (y[7] > 0 ? 1.f : -1.f) + 0.6f * y[7]) / 48.f).epsilon(1e-6));
  DevBuf dyv(y), ddy(dy0);
  double* dpartial = nullptr;
  DPT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&dpartial), size_t(chunks) * sizeof(double)));
  activity_cuda(dyv.p, n, 0.02f, 0.3f, 1.f / 48.f, ddy.p, dpartial, nullptr);
  std::vector<double> got(static_cast<size_t>(chunks));
  DPT_CUDA_CHECK(cudaMemcpy(got.data(), dpartial, got.size() * sizeof(double), cudaMemcpyDeviceToHost));
  expect_close(ddy.get(size_t(n)), dy, 1e-7, 1e-6);
  for (int64_t c = 0; c < chunks; ++c) CHECK(got[size_t(c)] == Approx(partial[size_t(c)]).epsilon(1e-12));
  activity_cuda(dyv.p, n, 0.02f, 0.3f, 0.f, nullptr, dpartial, nullptr);
  std::vector<double> again(static_cast<size_t>(chunks));  // the penalty alone (forward), the same sums
  DPT_CUDA_CHECK(cudaMemcpy(again.data(), dpartial, again.size() * sizeof(double), cudaMemcpyDeviceToHost));
  CHECK(again == got);
  cudaFree(dpartial);
}

TEST_CASE("CUDA weight constraints (Keras's MaxNorm, MinMaxNorm, UnitNorm, NonNeg) match the CPU", "[gpu][optimizer]") {
  if (!have_gpu()) return;
  using K = ConstraintKind;
  const std::vector<int64_t> shape{3, 3, 40, 300};  // a Conv2D kernel, at an offset in an arena
  const int64_t n = 3 * 3 * 40 * 300, offset = 17;
  struct Case {
    K kind;
    std::vector<int64_t> axes;
  };
  for (const Case& c : {Case{K::max_norm, {0, 1, 2}}, Case{K::unit_norm, {3}}, Case{K::min_max_norm, {1}},
                        Case{K::max_norm, {}}, Case{K::non_neg, {}}}) {
    INFO("kind " << int(c.kind) << ", " << c.axes.size() << " axes");
    const ConstraintPlan p = make_constraint_plan(c.kind, 0.3f, 0.8f, 0.7f, offset, shape, c.axes);
    std::vector<float> w = rnd(n + offset + 5, 21, -1.f, 1.f);
    DevBuf dw(w);
    const std::vector<float> before = w;
    constrain_cpu(p, w.data());
    constrain_cuda(p, dw.p, nullptr);
    const std::vector<float> got = dw.get(w.size());
    expect_close(got, w, 1e-7, 2e-6);
    for (int64_t i : {int64_t(0), offset - 1, n + offset, n + offset + 4}) CHECK(got[size_t(i)] == before[size_t(i)]);
  }
}

TEST_CASE("CUDA losses and accuracy match the CPU reference (fused, unfused, from logits)", "[gpu][loss]") {
  if (!have_gpu()) return;
  const int64_t rows = 301, cols = 10;
  std::vector<float> p(rows * cols), onehot(rows * cols, 0.f), labels(rows), soft = rnd(rows * cols, 9, 0.05f, 0.95f);
  const auto logits = rnd(rows * cols, 8, -3.f, 3.f);
  activation_forward_cpu(Activation::softmax, logits.data(), p.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    labels[r] = float((r * 7) % cols);
    onehot[r * cols + (r * 7) % cols] = 1.f;
  }
  std::vector<float> bits(rows * cols), signs(rows * cols);  // the hinges' 0/1 and -1/1 targets
  for (size_t i = 0; i < bits.size(); ++i) {
    bits[i] = soft[i] < 0.5f ? 0.f : 1.f;
    signs[i] = 2 * bits[i] - 1;
  }
  struct Case {
    LossKind kind;
    MetricKind acc;
    const std::vector<float>* target;
    float delta = 1.f;  // Huber's
    bool other = false;  // focal: gamma 1.5, alpha 0.4 (binary: with class balancing)
  };
  for (Case cs :
       {Case{LossKind::categorical_crossentropy, MetricKind::categorical, &onehot},
        Case{LossKind::sparse_categorical_crossentropy, MetricKind::sparse_categorical, &labels},
        Case{LossKind::binary_crossentropy, MetricKind::binary, &soft},
        Case{LossKind::mean_squared_error, MetricKind::categorical, &soft},
        Case{LossKind::categorical_crossentropy_from_logits, MetricKind::categorical, &onehot},
        Case{LossKind::sparse_categorical_crossentropy_from_logits, MetricKind::sparse_categorical, &labels},
        Case{LossKind::binary_crossentropy_from_logits, MetricKind::binary, &soft},
        Case{LossKind::mean_absolute_error, MetricKind::categorical, &soft},
        Case{LossKind::huber, MetricKind::categorical, &soft},
        Case{LossKind::huber, MetricKind::categorical, &soft, 0.3f},
        Case{LossKind::log_cosh, MetricKind::categorical, &soft},
        Case{LossKind::mean_squared_logarithmic_error, MetricKind::categorical, &soft},
        Case{LossKind::kl_divergence, MetricKind::categorical, &soft},
        Case{LossKind::poisson, MetricKind::categorical, &soft},
        Case{LossKind::mean_absolute_percentage_error, MetricKind::categorical, &soft},
        Case{LossKind::hinge, MetricKind::categorical, &bits},
        Case{LossKind::hinge, MetricKind::categorical, &signs},
        Case{LossKind::squared_hinge, MetricKind::categorical, &bits},
        Case{LossKind::categorical_hinge, MetricKind::categorical, &onehot},
        Case{LossKind::cosine_similarity, MetricKind::categorical, &soft},
        Case{LossKind::binary_focal_crossentropy, MetricKind::binary, &soft},
        Case{LossKind::binary_focal_crossentropy, MetricKind::binary, &bits, 1.f, true},
        Case{LossKind::binary_focal_crossentropy_from_logits, MetricKind::binary, &soft},
        Case{LossKind::categorical_focal_crossentropy, MetricKind::categorical, &onehot},
        Case{LossKind::categorical_focal_crossentropy_from_logits, MetricKind::categorical, &onehot, 1.f, true}}) {
    FocalParams focal;  // the second of a focal kind: other settings
    if (cs.other) {
      focal.gamma = 1.5f;
      focal.alpha = 0.4f;
      focal.balance = loss_base(cs.kind) == LossKind::binary_focal_crossentropy;
    }
    for (bool fused : {false, true}) {
      if (fused && loss_is_focal(cs.kind)) continue;  // (never fused)
      std::vector<float> g(p.size());
      const double want = loss_cpu<float>(cs.kind, fused, p.data(), cs.target->data(), rows, cols, 1.f / rows, g.data(),
                                          nullptr, 0.f, cs.delta, focal);
      const double want_acc = metric_sum_cpu<float>(cs.acc, p.data(), cs.target->data(), rows, cols);
      DevBuf dp(p), dt(*cs.target), dg(std::vector<float>(p.size(), -7.f)), dl(std::vector<float>(rows, -7.f)),
          da(std::vector<float>(rows, -7.f));
      loss_rows_cuda(cs.kind, fused, dp.p, dt.p, rows, cols, 1.f / rows, dg.p, dl.p, nullptr, nullptr, 0.f, cs.delta,
                     focal);
      metric_rows_cuda(cs.acc, dp.p, dt.p, rows, cols, da.p, nullptr);
      DPT_CUDA_CHECK(cudaDeviceSynchronize());
      double got = 0, got_acc = 0;
      for (float v : dl.get(rows)) got += v;
      for (float v : da.get(rows)) got_acc += v;
      INFO("loss " << int(cs.kind) << " fused " << fused << " delta " << cs.delta);
      CHECK(std::abs(got - want) <= 1e-4 * std::abs(want) + 1e-6);
      CHECK(got_acc == want_acc);
      // The regression errors through the same per-row formula (sums of floats: FMA may round apart).
      for (MetricKind mk : {MetricKind::mean_absolute_error, MetricKind::mean_squared_error}) {
        if (loss_base(cs.kind) == LossKind::sparse_categorical_crossentropy) continue;  // one column per output only
        const double want_err = metric_sum_cpu<float>(mk, p.data(), cs.target->data(), rows, cols);
        DevBuf de(std::vector<float>(rows, -7.f));
        metric_rows_cuda(mk, dp.p, dt.p, rows, cols, de.p, nullptr);
        DPT_CUDA_CHECK(cudaDeviceSynchronize());
        double got_err = 0;
        for (float v : de.get(rows)) got_err += v;
        INFO("metric " << int(mk));
        CHECK(want_err > 0);
        CHECK(std::abs(got_err - want_err) <= 1e-5 * want_err);
      }
      expect_close(dg.get(p.size()), g, 1e-7, 1e-5);
    }
  }
  // The other metrics' rows: top-k (one-hot and class indices), the root mean squared error's rows,
  // the cosine, binary accuracy's threshold, and metrics that are a loss's value (with from_logits
  // and label_smoothing).
  std::vector<std::pair<MetricFormula, const std::vector<float>*>> metrics;
  MetricFormula f(MetricKind::top_k_categorical);
  f.k = 3;
  metrics.push_back({f, &onehot});
  f.kind = MetricKind::sparse_top_k_categorical;
  metrics.push_back({f, &labels});
  metrics.push_back({MetricFormula(MetricKind::root_mean_squared_error), &soft});
  metrics.push_back({MetricFormula(MetricKind::cosine_similarity), &soft});
  f = MetricFormula(MetricKind::binary);
  f.threshold = 0.08f;
  metrics.push_back({f, &bits});
  f = MetricFormula(MetricKind::loss);
  for (LossKind k : {LossKind::mean_absolute_percentage_error, LossKind::log_cosh, LossKind::hinge,
                     LossKind::categorical_hinge, LossKind::kl_divergence}) {
    f.loss = k;
    metrics.push_back({f, k == LossKind::hinge ? &bits : &soft});
  }
  f.loss = LossKind::binary_crossentropy_from_logits;
  f.smoothing = 0.2f;
  metrics.push_back({f, &bits});
  f.loss = LossKind::sparse_categorical_crossentropy;
  f.smoothing = 0.f;
  metrics.push_back({f, &labels});
  // Keras's confusion metrics: several counts per row (precision's and recall's two, the AUC's buckets),
  // each slot cap apart on the device.
  f = MetricFormula(MetricKind::precision);
  f.threshold = 0.12f;
  metrics.push_back({f, &onehot});
  f.kind = MetricKind::recall;
  f.class_id = 4;
  metrics.push_back({f, &onehot});
  f = MetricFormula(MetricKind::auc);
  f.bins = 40;
  metrics.push_back({f, &bits});
  f.logits = true;  // the logits through a sigmoid first
  metrics.push_back({f, &bits});
  f.logits = false;  // multi_label: each column's buckets apart
  f.multi_label = true;
  f.width = int(cols);
  metrics.push_back({f, &bits});
  f = MetricFormula(MetricKind::fbeta);  // F-beta's four counts per column, each row's largest marked
  f.width = int(cols);
  f.threshold = -1;
  metrics.push_back({f, &onehot});
  f = MetricFormula(MetricKind::r2);  // R2's four sums per column
  f.width = int(cols);
  metrics.push_back({f, &soft});
  // Each again as a weighted metric (Keras's weighted_metrics): every count times the row's sample
  // weight, and the weights' sum (R2: the values' count) in a slot of its own.
  const auto sample_w = rnd(rows, 12, 0.f, 2.5f);
  DevBuf dsw(sample_w);
  for (auto [mf, t] : metrics)
    for (const bool weighted : {false, true}) {
      INFO("metric kind " << int(mf.kind) << " loss " << int(mf.loss) << (weighted ? " weighted" : ""));
      mf.weighted = weighted;
      const int slots = metric_slots(mf);
      const int64_t cap = rows + 3;
      std::vector<double> want_m(size_t(slots), 0.0);
      const std::vector<float>& in = mf.logits ? logits : p;
      metric_slots_cpu<float>(mf, in.data(), t->data(), rows, cols, want_m.data(),
                              weighted ? sample_w.data() : nullptr);
      if (slots == 1) CHECK(want_m[0] == metric_sum_cpu<float>(mf, in.data(), t->data(), rows, cols));
      if (weighted && metric_weight_slot(mf) >= 0) {
        double sum_w = 0;
        for (float v : sample_w) sum_w += v;
        CHECK(want_m[size_t(metric_weight_slot(mf))] ==
              Approx(mf.kind == MetricKind::r2 ? double(rows * cols) : sum_w).epsilon(1e-12));
      }
      if (weighted && mf.kind != MetricKind::r2 && mf.kind != MetricKind::fbeta && mf.kind != MetricKind::auc) {
        double first = 0;  // the first count: each row's, times its weight
        for (int64_t r = 0; r < rows; ++r) {
          std::vector<double> one(size_t(slots), 0.0);
          metric_slots_cpu<float>(mf, in.data() + r * cols, t->data() + r * (metric_sparse(mf) ? 1 : cols), 1, cols,
                                  one.data());
          first += double(sample_w[size_t(r)]) * one[0];
        }
        CHECK(want_m[0] == Approx(first).epsilon(1e-6));  // the product in float
      }
      DevBuf dp(in), dt(*t), dm(std::vector<float>(size_t(slots * cap), -7.f));
      metric_rows_cuda(mf, dp.p, dt.p, rows, cols, dm.p, nullptr, cap, weighted ? dsw.p : nullptr);
      DPT_CUDA_CHECK(cudaDeviceSynchronize());
      const std::vector<float> got = dm.get(size_t(slots * cap));
      double total = 0;
      for (int sl = 0; sl < slots; ++sl) {
        double got_m = 0;
        for (int64_t r = 0; r < rows; ++r) got_m += got[size_t(sl * cap + r)];
        CHECK(std::abs(got_m - want_m[size_t(sl)]) <= 1e-5 * std::abs(want_m[size_t(sl)]));
        CHECK(got[size_t(sl * cap + rows)] == -7.f);  // nothing past the rows
        total += want_m[size_t(sl)];
      }
      CHECK(total != 0);
    }
  // The AUC of these counts: the logits' through a sigmoid equals the probabilities' AUC.
  f = MetricFormula(MetricKind::auc);
  std::vector<float> sig(logits.size());
  for (size_t i = 0; i < sig.size(); ++i) sig[i] = 1.f / (1.f + std::exp(-logits[i]));
  std::vector<double> a(400, 0.0), b(400, 0.0);
  metric_slots_cpu<float>(f, sig.data(), bits.data(), rows, cols, a.data());
  f.logits = true;
  metric_slots_cpu<float>(f, logits.data(), bits.data(), rows, cols, b.data());
  CHECK(metric_value(f, b.data(), 0) == Approx(metric_value(f, a.data(), 0)).epsilon(1e-3));
  // Per-row weights (class weights) scale each row's loss and gradient, as on the CPU.
  const auto w = rnd(rows, 10, 0.2f, 3.f);
  std::vector<float> g(p.size());
  const double want = loss_cpu<float>(LossKind::categorical_crossentropy, true, p.data(), onehot.data(), rows, cols,
                                      1.f / rows, g.data(), w.data());
  DevBuf dp(p), dt(onehot), dw(w), dg(std::vector<float>(p.size(), -7.f)), dl(std::vector<float>(rows, -7.f));
  loss_rows_cuda(LossKind::categorical_crossentropy, true, dp.p, dt.p, rows, cols, 1.f / rows, dg.p, dl.p, dw.p,
                 nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  double got = 0;
  for (float v : dl.get(rows)) got += v;
  CHECK(std::abs(got - want) <= 1e-4 * std::abs(want));
  expect_close(dg.get(p.size()), g, 1e-7, 1e-5);
  // Keras's label_smoothing, inside the loss on the device as on the host.
  for (LossKind k : {LossKind::categorical_crossentropy, LossKind::binary_crossentropy_from_logits}) {
    const std::vector<float>& t = k == LossKind::categorical_crossentropy ? onehot : soft;
    std::vector<float> gs(p.size());
    const double want_s =
        loss_cpu<float>(k, true, p.data(), t.data(), rows, cols, 1.f / rows, gs.data(), nullptr, 0.2f);
    DevBuf ds(t), dgs(std::vector<float>(p.size(), -7.f)), dls(std::vector<float>(rows, -7.f));
    loss_rows_cuda(k, true, dp.p, ds.p, rows, cols, 1.f / rows, dgs.p, dls.p, nullptr, nullptr, 0.2f);
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    double got_s = 0;
    for (float v : dls.get(rows)) got_s += v;
    INFO("label_smoothing, loss " << int(k));
    CHECK(std::abs(got_s - want_s) <= 1e-4 * std::abs(want_s));
    expect_close(dgs.get(p.size()), gs, 1e-7, 1e-5);
  }
}

TEST_CASE("CUDA broadcasting (merge layers' repeated inputs, dropout's noise_shape) matches the CPU bit for bit",
          "[gpu][merge]") {
  if (!have_gpu()) return;
  const int64_t large[4] = {5, 7, 9, 11}, small[4] = {5, 1, 9, 1};
  const BroadcastMap map = broadcast_map(large, small, 4);
  const int64_t n = 5 * 7 * 9 * 11, m = 5 * 9;
  const auto y0 = rnd(n, 31), x = rnd(m, 32);
  DevBuf dx(x), dy(y0), dsum(std::vector<float>(m, -3.f));
  std::vector<float> y = y0, sum(m);
  broadcast_axpby_cpu(y.data(), 0.5f, x.data(), -2.f, map, n);  // y = 0.5 y - 2 x
  broadcast_multiply_into_cpu(y.data(), x.data(), map, n);
  broadcast_sum_cpu(sum.data(), 0.25f, y.data(), map, m);
  broadcast_axpby_cuda(dy.p, 0.5f, dx.p, -2.f, map, n, nullptr);
  broadcast_multiply_into_cuda(dy.p, dx.p, map, n, nullptr);
  broadcast_sum_cuda(dsum.p, 0.25f, dy.p, map, m, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  expect_close(dy.get(size_t(n)), y, 0, 1e-6);
  expect_close(dsum.get(size_t(m)), sum, 0, 0);  // the same order of the same double sums
  std::vector<float> z(n);
  broadcast_axpby_cpu(z.data(), 0.f, x.data(), 1.f, map, n);  // s = 0: z is written, not read
  DevBuf dz(std::vector<float>(n, std::nanf("")));
  broadcast_axpby_cuda(dz.p, 0.f, dx.p, 1.f, map, n, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  expect_close(dz.get(size_t(n)), z, 0, 0);
  // Dropout with noise_shape (None, 1, 9, 1) over (7, 9, 11) samples
  const int64_t sample[3] = {7, 9, 11}, noise[3] = {1, 9, 1};
  const BroadcastMap shared = broadcast_map(sample, noise, 3);
  const DropoutKey key{99, 1, 4, 17};
  std::vector<float> kept(n);
  dropout_cpu(y0.data(), kept.data(), 5, 7 * 9 * 11, 0.4f, key, &shared);
  DevBuf din(y0), dout(std::vector<float>(n, 0.f));
  dropout_cuda(din.p, dout.p, 5, 7 * 9 * 11, 0.4f, key, &shared, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  expect_close(dout.get(size_t(n)), kept, 0, 1e-6);
}

TEST_CASE("CUDA Maximum and Minimum (ties to the first input) match the CPU bit for bit", "[gpu][merge]") {
  if (!have_gpu()) return;
  const int64_t n = 3001;
  std::vector<std::vector<float>> xs{rnd(n, 41), rnd(n, 42), rnd(n, 43)};
  for (int64_t i = 0; i < n; i += 7) xs[2][size_t(i)] = xs[0][size_t(i)];  // ties: input 0 wins
  const auto dy = rnd(n, 44);
  DevBuf d0(xs[0]), d1(xs[1]), d2(xs[2]), ddy(dy), dout(std::vector<float>(n, 0.f));
  ExtremumInputs in{};
  in.count = 3;
  in.x[0] = d0.p, in.x[1] = d1.p, in.x[2] = d2.p;
  const float* host[3] = {xs[0].data(), xs[1].data(), xs[2].data()};
  for (const bool is_max : {true, false}) {
    in.is_max = is_max;
    std::vector<float> y(n);
    extremum_forward_cpu(host, 3, is_max, y.data(), n);
    extremum_forward_cuda(in, dout.p, n, nullptr);
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    expect_close(dout.get(size_t(n)), y, 0, 0);
    for (int k = 0; k < 3; ++k) {
      std::vector<float> dx(n);
      extremum_backward_cpu(host, 3, is_max, dy.data(), k, dx.data(), n);
      extremum_backward_cuda(in, ddy.p, k, dout.p, n, nullptr);
      DPT_CUDA_CHECK(cudaDeviceSynchronize());
      expect_close(dout.get(size_t(n)), dx, 0, 0);
      if (k == 2)
        for (int64_t i = 0; i < n; i += 7) CHECK(dx[size_t(i)] == 0.f);  // a tie with input 0 goes to input 0
    }
  }
}

// The backward's radix sort over 1 to 3 passes (tables past 2^8 and 2^16 rows), several 1024-token
// tiles, a hot index (40% of the tokens), and indices outside the table (no row: zeros forward,
// nothing added backward; the CPU skips them too in backward and refuses them in forward).
TEST_CASE("CUDA Embedding gathers the CPU's rows and sums repeated indices' gradients bit for bit",
          "[gpu][embedding]") {
  if (!have_gpu()) return;
  struct Case {
    int64_t tokens, vocab, dim;
    bool outside;
  };
  for (const Case& c :
       {Case{7, 5, 3, false}, Case{3000, 300, 17, false}, Case{2500, 70000, 5, false}, Case{1500, 40, 33, true}}) {
    INFO("tokens " << c.tokens << ", vocab " << c.vocab << ", dim " << c.dim);
    const EmbeddingShape s{c.tokens, c.vocab, c.dim};
    std::mt19937 g(unsigned(c.tokens));
    std::vector<float> ids(size_t(c.tokens));
    for (auto& v : ids) v = float(g() % 10 < 4 ? 7 % c.vocab : int64_t(g() % uint32_t(c.vocab)));
    if (c.outside)
      for (size_t t = 0; t < ids.size(); t += 11) ids[t] = t % 2 ? float(c.vocab) : -1.f;
    ids[ids.size() / 2] = 2.5f;  // cast toward zero: row 2
    const auto table = rnd(size_t(c.vocab * c.dim), 51), dy = rnd(size_t(c.tokens * c.dim), 52),
               dt0 = rnd(size_t(c.vocab * c.dim), 53);  // the gradient accumulates
    DevBuf dids(ids), dtable(table), ddy(dy), dy_out(std::vector<float>(size_t(c.tokens * c.dim), -7.f)), ddt(dt0);
    embedding_forward_cuda(s, dids.p, dtable.p, dy_out.p, nullptr);
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<float> y = dy_out.get(size_t(c.tokens * c.dim));
    for (int64_t t = 0; t < c.tokens; ++t) {
      const int64_t v = embedding_row(ids[size_t(t)], c.vocab);
      for (int64_t j = 0; j < c.dim; ++j) {
        INFO("token " << t << " (index " << ids[size_t(t)] << "), column " << j);
        REQUIRE(y[size_t(t * c.dim + j)] == (v < 0 ? 0.f : table[size_t(v * c.dim + j)]));
      }
    }
    if (!c.outside) {
      std::vector<float> want(size_t(c.tokens * c.dim));
      embedding_forward_cpu(s, ids.data(), table.data(), want.data());
      expect_close(y, want, 0, 0);
    }
    void* scratch = nullptr;
    DPT_CUDA_CHECK(cudaMalloc(&scratch, size_t(embedding_cuda_scratch_bytes(c.tokens))));
    embedding_backward_cuda(s, dids.p, ddy.p, ddt.p, scratch, nullptr);
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
    cudaFree(scratch);
    std::vector<float> dt = dt0;
    embedding_backward_cpu(s, ids.data(), dy.data(), dt.data());
    expect_close(ddt.get(dt.size()), dt, 0, 0);
  }
}

TEST_CASE("CUDA dropout draws the CPU's masks; bias kernels match", "[gpu][dropout]") {
  if (!have_gpu()) return;
  const int64_t rows = 65, cols = 333;
  const auto x = rnd(rows * cols, 21, 0.5f, 1.5f), bias = rnd(cols, 22);
  const DropoutKey key{1234, 2, 17, 40};
  std::vector<float> y(x.size());
  dropout_cpu(x.data(), y.data(), rows, cols, 0.3f, key);
  DevBuf dx(x), dy(std::vector<float>(x.size(), -7.f));
  dropout_cuda(dx.p, dy.p, rows, cols, 0.3f, key, nullptr, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  expect_close(dy.get(x.size()), y, 0, 1e-6);  // the same keep/drop decisions, element by element

  std::vector<float> added = x, db(cols, 0.5f);
  bias_add_cpu(added.data(), bias.data(), rows, cols);
  bias_grad_cpu(x.data(), db.data(), rows, cols);
  DevBuf da(x), dbias(bias), ddb(std::vector<float>(cols, 0.5f));
  bias_add_cuda(da.p, dbias.p, rows, cols, nullptr);
  CudaResources res(0);
  res.reserve(cuda_reduce_scratch_bytes(cols));
  bias_grad_cuda(dx.p, ddb.p, rows, cols, res);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  expect_close(da.get(x.size()), added, 1e-7, 1e-6);
  expect_close(ddb.get(cols), db, 1e-5, 1e-5);

  // A tall, narrow gradient (a conv bias): hundreds of row chunks, a partial column block.
  const int64_t tall = 40009, narrow = 37;
  const auto t = rnd(tall * narrow, 23, 0.5f, 1.5f);
  std::vector<float> want(narrow, 0.25f);
  for (int64_t c = 0; c < narrow; ++c) {
    double sum = 0;
    for (int64_t r = 0; r < tall; ++r) sum += t[size_t(r * narrow + c)];
    want[size_t(c)] += float(sum);
  }
  CHECK(cuda_reduce_chunks(tall, narrow) == kReduceTargetBlocks / 2);
  DevBuf dt(t), dsum(std::vector<float>(narrow, 0.25f));
  res.reserve(cuda_reduce_scratch_bytes(narrow));
  bias_grad_cuda(dt.p, dsum.p, tall, narrow, res);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  expect_close(dsum.get(narrow), want, 1e-5, 1e-6);  // double partial sums: as exact as the reference
}

TEST_CASE("CUDA fused epilogues: bias + activation, activation gradient + bias gradient, match the CPU steps",
          "[gpu][activation]") {
  if (!have_gpu()) return;
  CudaResources res(0);
  const int64_t rows = 2053, cols = 45;  // several row chunks, a partial column block
  res.reserve(cuda_reduce_scratch_bytes(cols));
  const auto x = rnd(rows * cols, 61, -2.f, 2.f), bias = rnd(cols, 62), dyh = rnd(rows * cols, 63);
  for (Activation a : kAllActivations)
    for (bool with_bias : {true, false}) {
      INFO("activation " << act_str(a) << (with_bias ? " with bias" : " without bias"));
      if (a.needs_input()) {  // not an epilogue: the layer keeps its input and runs it as its own pass
        DevBuf gy(x);
        REQUIRE_THROWS_WITH(bias_activation_cuda(a, gy.p, nullptr, rows, cols, res),
                            "bias_activation_cuda: an activation whose gradient needs its input is not an epilogue");
        REQUIRE_THROWS_WITH(
            activation_bias_grad_cuda(a, gy.p, gy.p, nullptr, rows, cols, res),
            "activation_bias_grad_cuda: an activation whose gradient needs its input is not an epilogue");
        continue;
      }
      // CPU: the unfused steps.
      std::vector<float> y = x, dy = dyh, db(cols, 0.5f);
      if (with_bias) bias_add_cpu(y.data(), bias.data(), rows, cols);
      activation_forward_cpu(a, y.data(), y.data(), rows, cols);
      activation_backward_cpu(a, nullptr, y.data(), dy.data(), dy.data(), rows, cols);
      if (with_bias) bias_grad_cpu(dy.data(), db.data(), rows, cols);
      // GPU: the fused ones.
      DevBuf gy(x), gb(bias), gdy(dyh), gdb(std::vector<float>(cols, 0.5f));
      bias_activation_cuda(a, gy.p, with_bias ? gb.p : nullptr, rows, cols, res);
      res.synchronize();
      expect_close(gy.get(x.size()), y, 1e-6, 1e-5);
      activation_bias_grad_cuda(a, gy.p, gdy.p, with_bias ? gdb.p : nullptr, rows, cols, res);
      res.synchronize();
      expect_close(gdy.get(x.size()), dy, 1e-6, 1e-5);
      expect_close(gdb.get(cols), db, 1e-4, 1e-5);
    }
}

TEST_CASE("CUDA activation gradient + bias gradient written to NCHW (and in place) match the CPU steps",
          "[gpu][activation][reorder]") {
  if (!have_gpu()) return;
  CudaResources res(0);
  struct Case {
    int64_t n, hw, cols;
    Activation a;
  };
  // cifar10-cnn's three conv outputs (900x32, 169x64, 16x128), partial tiles and column blocks, a
  // softmax (a row operation: its own pass, then a transpose).
  for (const Case k :
       {Case{3, 900, 32, Activation::relu}, Case{2, 169, 64, Activation::sigmoid}, Case{5, 16, 128, Activation::tanh},
        Case{4, 7, 45, Activation::linear}, Case{3, 37, 5, Activation::relu}, Case{2, 9, 10, Activation::softmax}}) {
    const int64_t rows = k.n * k.hw, total = rows * k.cols;
    res.reserve(cuda_reduce_scratch_bytes(k.cols));
    for (bool with_bias : {true, false})
      for (int variant = 0; variant < 4; ++variant) {
        const bool keep = variant % 2 == 0, wide = variant >= 2;  // 32-bit indices, then 64-bit ones
        const WideIndices indices(wide);
        INFO("n " << k.n << " hw " << k.hw << " cols " << k.cols << " activation " << act_str(k.a)
                  << (with_bias ? " with bias" : "") << (keep ? ", NHWC kept" : "")
                  << (wide ? ", 64-bit indices" : ""));
        std::vector<float> y = rnd(size_t(total), 71, -2.f, 2.f);
        activation_forward_cpu(k.a, y.data(), y.data(), rows, k.cols);
        const auto dy0 = rnd(size_t(total), 72);
        std::vector<float> dy = dy0, db(size_t(k.cols), 0.5f), nchw(static_cast<size_t>(total));
        activation_backward_cpu(k.a, nullptr, y.data(), dy.data(), dy.data(), rows, k.cols);
        if (with_bias) bias_grad_cpu(dy.data(), db.data(), rows, k.cols);
        for (int64_t s = 0; s < k.n; ++s)
          for (int64_t p = 0; p < k.hw; ++p)
            for (int64_t c = 0; c < k.cols; ++c)
              nchw[size_t((s * k.cols + c) * k.hw + p)] = dy[size_t((s * k.hw + p) * k.cols + c)];
        DevBuf gy(y), gdy(dy0), gdb(std::vector<float>(size_t(k.cols), 0.5f)),
            gt(std::vector<float>(size_t(total), -7.f));
        activation_bias_grad_nchw_cuda(k.a, gy.p, gdy.p, with_bias ? gdb.p : nullptr, k.n, k.hw, k.cols, gt.p, keep,
                                       res);
        res.synchronize();
        expect_close(gt.get(size_t(total)), nchw, 1e-6, 1e-5);
        // In place when kept; else dy is left as it came (softmax's fallback always writes it).
        if (keep || k.a == Activation::softmax)
          expect_close(gdy.get(size_t(total)), dy, 1e-6, 1e-5);
        else
          REQUIRE(gdy.get(size_t(total)) == dy0);
        expect_close(gdb.get(size_t(k.cols)), db, 1e-4, 1e-5);
      }
  }
}

// A recurrent layer's dropout: masks drawn as dropout draws them, an input's copy under each mask
// (the masks repeated every period), and gradients summed back through them.
TEST_CASE("CUDA recurrent dropout masks, their copies and their sums match the CPU bit for bit", "[gpu][dropout]") {
  if (!have_gpu()) return;
  const int64_t rows = 37, cols = 29, period = rows * cols, count = 6 * period;
  const int copies = 4;
  const DropoutKey key{99, 1, 5, 12};
  std::vector<float> masks(size_t(copies * period)), ones(size_t(period), 1.f), dropped(static_cast<size_t>(period));
  for (int g = 0; g < copies; ++g) {
    DropoutKey kg = key;
    kg.seed += uint64_t(g);
    dropout_mask_cpu(masks.data() + g * period, rows, cols, 0.35f, kg);
  }
  dropout_cpu(ones.data(), dropped.data(), rows, cols, 0.35f, key);
  CHECK(std::equal(dropped.begin(), dropped.end(), masks.begin()));  // dropout's own decisions
  DevBuf dmask(std::vector<float>(masks.size(), -7.f));
  for (int g = 0; g < copies; ++g) {
    DropoutKey kg = key;
    kg.seed += uint64_t(g);
    dropout_mask_cuda(dmask.p + g * period, rows, cols, 0.35f, kg, nullptr);
  }
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(dmask.get(masks.size()) == masks);

  const auto x = rnd(size_t(count), 41), parts = rnd(size_t(copies * count), 42), acc = rnd(size_t(count), 43);
  std::vector<float> xs(size_t(copies * count));
  apply_masks_cpu(count, x.data(), masks.data(), period, copies, xs.data(), count);
  for (int64_t e = 0; e < count; e += 97)  // each copy is the input times its mask, repeated every period
    for (int g = 0; g < copies; ++g)
      CHECK(xs[size_t(g * count + e)] == x[size_t(e)] * masks[size_t(g * period + e % period)]);
  std::vector<float> in_place(size_t(copies * count));  // the input in the last copy's place
  std::copy(x.begin(), x.end(), in_place.begin() + (copies - 1) * count);
  apply_masks_cpu(count, in_place.data() + (copies - 1) * count, masks.data(), period, copies, in_place.data(), count);
  CHECK(in_place == xs);
  std::vector<float> summed = acc, fresh(static_cast<size_t>(count));
  masked_sum_cpu(count, parts.data(), masks.data(), period, copies, summed.data(), true);
  masked_sum_cpu(count, parts.data(), masks.data(), period, copies, fresh.data(), false);
  for (int64_t e = 0; e < count; e += 89) {
    double want = 0;
    for (int g = 0; g < copies; ++g)
      want += double(parts[size_t(g * count + e)]) * masks[size_t(g * period + e % period)];
    CHECK(fresh[size_t(e)] == Approx(want).margin(1e-6));
    CHECK(summed[size_t(e)] == Approx(want + acc[size_t(e)]).margin(1e-6));
  }
  DevBuf dx(x), dxs(std::vector<float>(xs.size(), -7.f)), dparts(parts), dsum(acc),
      dfresh(std::vector<float>(size_t(count), -7.f));
  DevBuf dmasks(masks);
  apply_masks_cuda(count, dx.p, dmasks.p, period, copies, dxs.p, count, nullptr);
  masked_sum_cuda(count, dparts.p, dmasks.p, period, copies, dsum.p, true, nullptr);
  masked_sum_cuda(count, dparts.p, dmasks.p, period, copies, dfresh.p, false, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(dxs.get(xs.size()) == xs);
  expect_close(dsum.get(size_t(count)), summed, 1e-6, 1e-6);  // a fused multiply-add may round once less
  expect_close(dfresh.get(size_t(count)), fresh, 1e-6, 1e-6);
}

TEST_CASE("CUDA sequence-mask kernels (Keras's masks) match the CPU bit for bit", "[gpu][mask]") {
  if (!have_gpu()) return;
  const int64_t n = 9, steps = 11, ch = 7, rows = n * steps;
  // Indices with zeros; Masking's input with whole steps at the mask value.
  auto idx = rnd(size_t(rows), 61, 0.f, 4.f);
  for (float& v : idx) v = std::floor(v);
  auto x = rnd(size_t(rows * ch), 62);
  for (int64_t r = 0; r < rows; r += 3) std::fill(x.begin() + r * ch, x.begin() + (r + 1) * ch, 0.5f);
  x[size_t(6 * ch + 2)] = 1.f;  // one feature off the mask value: that step is kept
  std::vector<float> nz(static_cast<size_t>(rows)), y(size_t(rows * ch)), mask(static_cast<size_t>(rows));
  nonzero_mask_cpu(rows, idx.data(), nz.data());
  masking_forward_cpu(rows, ch, 0.5f, x.data(), y.data(), mask.data());
  CHECK(mask[0] == 0.f);
  CHECK(mask[6] == 1.f);
  CHECK(mask[1] == 1.f);
  DevBuf didx(idx), dx(x), dnz(std::vector<float>(nz.size(), -7.f)), dy(std::vector<float>(y.size(), -7.f)),
      dmask(std::vector<float>(mask.size(), -7.f));
  nonzero_mask_cuda(rows, didx.p, dnz.p, nullptr);
  masking_forward_cuda(rows, ch, 0.5f, dx.p, dy.p, dmask.p, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(dnz.get(nz.size()) == nz);
  CHECK(dy.get(y.size()) == y);
  CHECK(dmask.get(mask.size()) == mask);
  // The recurrent step's carry and its backward, over n rows of ch units, with mask's first n values.
  const auto h_prev = rnd(size_t(n * ch), 63), c_prev = rnd(size_t(n * ch), 64), dyt = rnd(size_t(n * ch), 65);
  auto h = rnd(size_t(n * ch), 66), c = rnd(size_t(n * ch), 67), dh = rnd(size_t(n * ch), 68),
       dc = rnd(size_t(n * ch), 69);
  DevBuf dhp(h_prev), dcp(c_prev), dhh(h), dcc(c), ddh(dh), ddc(dc), ddy(dyt),
      carry_h(std::vector<float>(h.size(), -7.f)), carry_c(std::vector<float>(h.size(), -7.f));
  std::vector<float> ch_cpu(h.size(), -7.f), cc_cpu(h.size(), -7.f), dy_cpu = dyt;
  mask_carry_cpu(n, ch, mask.data(), h_prev.data(), h.data(), c_prev.data(), c.data());
  mask_split_cpu(n, ch, mask.data(), dh.data(), dy_cpu.data(), dc.data(), ch_cpu.data(), cc_cpu.data());
  for (int64_t r = 0; r < n; ++r)  // a skipped row: the state carried, its gradients moved aside
    if (mask[size_t(r)] == 0.f) {
      CHECK(h[size_t(r * ch)] == h_prev[size_t(r * ch)]);
      CHECK(dh[size_t(r * ch)] == 0.f);
    }
  mask_carry_cuda(n, ch, dmask.p, dhp.p, dhh.p, dcp.p, dcc.p, nullptr);
  mask_split_cuda(n, ch, dmask.p, ddh.p, ddy.p, ddc.p, carry_h.p, carry_c.p, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(dhh.get(h.size()) == h);
  CHECK(dcc.get(c.size()) == c);
  CHECK(ddh.get(dh.size()) == dh);
  CHECK(ddc.get(dc.size()) == dc);
  CHECK(ddy.get(dy_cpu.size()) == dy_cpu);
  CHECK(carry_h.get(h.size()) == ch_cpu);
  CHECK(carry_c.get(h.size()) == cc_cpu);
  mask_join_cpu(n, ch, mask.data(), ch_cpu.data(), dh.data(), cc_cpu.data(), dc.data());
  mask_join_cuda(n, ch, dmask.p, carry_h.p, ddh.p, carry_c.p, ddc.p, nullptr);
  mask_rows_cpu(rows, ch, mask.data(), x.data(), y.data());
  mask_rows_cuda(rows, ch, dmask.p, dx.p, dy.p, nullptr);
  // GlobalAveragePooling1D's masked mean: (n, steps, ch) under the (n, steps) mask.
  const auto gy = rnd(size_t(n * ch), 70);
  std::vector<float> mean(size_t(n * ch)), gx(size_t(rows * ch));
  masked_mean_forward_cpu(n, steps, ch, mask.data(), x.data(), mean.data());
  masked_mean_backward_cpu(n, steps, ch, mask.data(), gy.data(), gx.data());
  DevBuf dmean(std::vector<float>(mean.size(), -7.f)), dgy(gy), dgx(std::vector<float>(gx.size(), -7.f));
  masked_mean_forward_cuda(n, steps, ch, dmask.p, dx.p, dmean.p, nullptr);
  masked_mean_backward_cuda(n, steps, ch, dmask.p, dgy.p, dgx.p, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(ddh.get(dh.size()) == dh);
  CHECK(ddc.get(dc.size()) == dc);
  CHECK(dy.get(y.size()) == y);
  expect_close(dmean.get(mean.size()), mean, 1e-6, 1e-6);  // a fused multiply-add may round once less
  CHECK(dgx.get(gx.size()) == gx);
}

TEST_CASE("cuBLAS GEMM (row-major mapping, all transposes) matches the CPU GEMM; RAII buffers round-trip",
          "[gpu][gemm]") {
  if (!have_gpu()) return;
  CudaResources res(0);
  const int64_t M = 67, N = 45, K = 129;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const auto a = rnd(M * K, 31), b = rnd(K * N, 32), c0 = rnd(M * N, 33);
      std::vector<float> c = c0;
      gemm_cpu<float>(ta, tb, M, N, K, 0.7f, a.data(), b.data(), 0.3f, c.data());
      DeviceBuffer da(0, a.size() * 4), db(0, b.size() * 4), dc(0, c0.size() * 4);
      da.upload(a.data(), a.size() * 4);
      db.upload(b.data(), b.size() * 4);
      dc.upload(c0.data(), c0.size() * 4);
      gemm_cuda(res, ta, tb, M, N, K, 0.7f, da.floats(), db.floats(), 0.3f, dc.floats());
      res.synchronize();
      std::vector<float> got(c.size());
      dc.download(got.data(), got.size() * 4);
      INFO("trans_a " << ta << " trans_b " << tb);
      expect_close(got, c, 1e-4, 1e-4);  // FP32 (no TF32): sums of 129 products
    }
  // Strided-batched on column blocks of wider matrices (a recurrent layer's gates): 3 products of
  // (M, K) blocks of a (M, 3K) matrix by K-row blocks, into column blocks of C, against the CPU.
  {
    const int64_t P = 3, lda = P * K, ldc = P * N;
    const auto a = rnd(M * lda, 34), b = rnd(P * K * N, 35), c0 = rnd(M * ldc, 36);
    std::vector<float> c = c0;
    gemm_batched_cpu<float>(false, false, M, N, K, 1.f, a.data(), lda, K, b.data(), N, K * N, 1.f, c.data(), ldc, N,
                            int(P));
    DevBuf da(a), db(b), dc(c0);
    gemm_batched_cuda(res, false, false, M, N, K, 1.f, da.p, lda, K, db.p, N, K * N, 1.f, dc.p, ldc, N, int(P));
    res.synchronize();
    expect_close(dc.get(c.size()), c, 1e-4, 1e-4);
    for (int64_t i = 0; i < M; ++i)  // the blocks' products, by hand (block 1, column 2)
      CHECK(c[size_t(i * ldc + N + 2)] - c0[size_t(i * ldc + N + 2)] == Approx([&] {
                                                                          double sum = 0;
                                                                          for (int64_t k = 0; k < K; ++k)
                                                                            sum += double(a[size_t(i * lda + K + k)]) *
                                                                                   b[size_t(K * N + k * N + 2)];
                                                                          return sum;
                                                                        }())
                                                                            .margin(1e-4));
  }
  DeviceBuffer moved(0, 64);
  DeviceBuffer other = std::move(moved);
  CHECK(moved.data() == nullptr);
  CHECK(other.bytes() == 64);
}

namespace {

struct TransposeCase {
  int64_t n, rows, cols;
};

// transpose_cuda against a loop over (sample, row, column), with each activation and with and
// without a bias where `epilogues`; a plain transpose must be exact.
void check_transposes(const std::vector<TransposeCase>& cases, bool epilogues) {
  for (const TransposeCase k : cases)
    for (Activation act : {Activation::linear, Activation::relu, Activation::sigmoid, Activation::tanh})
      for (bool with_bias : {false, true}) {
        if (!epilogues && (act != Activation::linear || with_bias)) continue;
        const size_t total = size_t(k.n * k.rows * k.cols);
        const auto x = rnd(total, unsigned(7 + k.rows + k.cols)), bias = rnd(size_t(k.rows), 77);
        std::vector<float> ref(total);
        for (int64_t s = 0; s < k.n; ++s)
          for (int64_t r = 0; r < k.rows; ++r)
            for (int64_t c = 0; c < k.cols; ++c) {
              float v = x[size_t((s * k.rows + r) * k.cols + c)];
              if (with_bias) v += bias[size_t(r)];
              ref[size_t((s * k.cols + c) * k.rows + r)] = activation_fwd(act, v);
            }
        DevBuf dx(x), dy(std::vector<float>(total, -7.f)), db(bias);
        transpose_cuda(dx.p, dy.p, k.n, k.rows, k.cols, nullptr, with_bias ? db.p : nullptr, act);
        DPT_CUDA_CHECK(cudaDeviceSynchronize());
        INFO("n " << k.n << " (" << k.rows << ", " << k.cols << ") activation " << act_str(act) << " bias "
                  << with_bias);
        if (act == Activation::linear) {
          const auto got = dy.get(total);
          size_t bad = 0;
          for (size_t i = 0; i < total; ++i) bad += got[i] != ref[i];
          REQUIRE(bad == 0);  // a transpose (and a float add) is exact
        } else {
          expect_close(dy.get(total), ref, 1e-6, 1e-6);
        }
      }
}

}  // namespace

// The layout changes around cuDNN (reorder_cuda.cu) against plain loops over the named indices.
TEST_CASE("CUDA transposes: both kernels, partial tiles, bias + activation epilogue", "[gpu][reorder]") {
  if (!have_gpu()) return;
  // (1024, 3) and (3, 1024): the RGB input's two transposes (one-thread-per-element kernel, each
  // index mode); (900, 32) / (32, 900): cifar10-cnn's conv1 output (tiled); (45, 77): partial
  // tiles both ways.
  check_transposes({{3, 1024, 3}, {3, 3, 1024}, {2, 900, 32}, {2, 32, 900}, {3, 45, 77}, {4, 7, 5}, {1, 1, 1}}, true);
  REQUIRE_THROWS_WITH(transpose_cuda(nullptr, nullptr, 1, 2, 2, nullptr, nullptr, Activation::softmax),
                      Catch::Contains("softmax is not an elementwise epilogue"));
}

// More samples than a grid's z dimension holds: the kernels' sample loop. Large (277 MB), so not
// run under compute-sanitizer ([big]).
TEST_CASE("CUDA transposes of more than 65535 samples", "[gpu][reorder][big]") {
  if (!have_gpu()) return;
  check_transposes({{65541, 2, 3}, {65538, 33, 32}}, false);
}

TEST_CASE("CUDA filter conversions (KRSC, KCRS) and their gradient adds follow Keras's kernel indices",
          "[gpu][reorder]") {
  if (!have_gpu()) return;
  struct Case {
    int64_t kh, kw, c, oc;
  };
  for (const Case k : {Case{3, 3, 3, 32}, Case{1, 1, 7, 5}, Case{3, 2, 64, 33}})
    for (FilterLayout layout : {FilterLayout::krsc, FilterLayout::kcrs}) {
      const int64_t rs = k.kh * k.kw, total = rs * k.c * k.oc;
      const auto kernel = rnd(size_t(total), 11), dfilter = rnd(size_t(total), 12), dk0 = rnd(size_t(total), 13);
      std::vector<float> filter(static_cast<size_t>(total)), dkernel = dk0;
      for (int64_t q = 0; q < rs; ++q)  // q = r * kw + s; Keras's kernel is (kh, kw, in, out)
        for (int64_t i = 0; i < k.c; ++i)
          for (int64_t o = 0; o < k.oc; ++o) {
            const size_t from = size_t((q * k.c + i) * k.oc + o);
            const size_t to =
                layout == FilterLayout::krsc ? size_t((o * rs + q) * k.c + i) : size_t((o * k.c + i) * rs + q);
            filter[to] = kernel[from];
            dkernel[from] += dfilter[to];
          }
      DevBuf dkern(kernel), dfilt(std::vector<float>(size_t(total), -7.f)), ddf(dfilter), ddk(dk0);
      filter_from_kernel_cuda(layout, dkern.p, dfilt.p, rs, k.c, k.oc, nullptr);
      kernel_grad_add_cuda(layout, ddf.p, ddk.p, rs, k.c, k.oc, nullptr);
      DPT_CUDA_CHECK(cudaDeviceSynchronize());
      INFO((layout == FilterLayout::krsc ? "KRSC" : "KCRS")
           << " kernel " << k.kh << "x" << k.kw << "x" << k.c << "x" << k.oc);
      REQUIRE(dfilt.get(size_t(total)) == filter);
      REQUIRE(ddk.get(size_t(total)) == dkernel);  // the same float adds in the same order
    }
}

TEST_CASE("CUDA NHWC zero-padding and cropping place the image at (top, left)", "[gpu][reorder]") {
  if (!have_gpu()) return;
  // TensorFlow's 'same' with an odd total puts the extra row/column at the bottom/right.
  const int64_t n = 3, h = 5, w = 4, c = 3, hp = 6, wp = 7, top = 0, left = 1;
  const auto x = rnd(size_t(n * h * w * c), 21), big = rnd(size_t(n * hp * wp * c), 22);
  std::vector<float> padded(size_t(n * hp * wp * c), 0.f), cropped(x.size());
  for (int64_t s = 0; s < n; ++s)
    for (int64_t yy = 0; yy < h; ++yy)
      for (int64_t xx = 0; xx < w; ++xx)
        for (int64_t k = 0; k < c; ++k) {
          const size_t in = size_t(((s * h + yy) * w + xx) * c + k);
          const size_t out = size_t(((s * hp + yy + top) * wp + xx + left) * c + k);
          padded[out] = x[in];
          cropped[in] = big[out];
        }
  DevBuf dx(x), dpad(std::vector<float>(padded.size(), -7.f)), dbig(big), dcrop(std::vector<float>(x.size(), -7.f));
  pad_nhwc_cuda(dx.p, dpad.p, n, h, w, c, hp, wp, top, left, nullptr);
  crop_nhwc_cuda(dbig.p, dcrop.p, n, h, w, c, hp, wp, top, left, nullptr);
  DPT_CUDA_CHECK(cudaDeviceSynchronize());
  REQUIRE(dpad.get(padded.size()) == padded);
  REQUIRE(dcrop.get(x.size()) == cropped);
}

// The GEMM route's patch matrix and its sums back into the image (conv2d_gemm_cuda.cu) against the
// CPU's im2col and col2im: the same copies, and the same float additions in the same order.
TEST_CASE("CUDA im2col and col2im give the CPU's patch matrix and sums, bit for bit (32- and 64-bit indices)",
          "[gpu][conv][reorder]") {
  if (!have_gpu()) return;
  struct Case {
    int64_t n, h, w, c, kh, kw, sh, sw;
    bool same;
  };
  // cifar10-cnn's three convolutions, TensorFlow's asymmetric 'same' at stride 2, 1x1, a 5x3
  // kernel with unequal strides, more channels than a warp has lanes.
  for (const Case& k :
       {Case{4, 32, 32, 3, 3, 3, 1, 1, false}, Case{3, 15, 15, 32, 3, 3, 1, 1, false},
        Case{3, 6, 6, 64, 3, 3, 1, 1, false}, Case{2, 10, 8, 2, 3, 3, 2, 2, true}, Case{2, 5, 5, 6, 1, 1, 1, 1, false},
        Case{2, 9, 7, 3, 5, 3, 2, 1, true}, Case{1, 7, 7, 40, 3, 3, 1, 1, true}}) {
    Conv2dGeom g;
    g.n = k.n, g.h = k.h, g.w = k.w, g.c = k.c, g.kh = k.kh, g.kw = k.kw, g.sh = k.sh, g.sw = k.sw;
    conv_out_size(k.h, k.kh, k.sh, k.same, &g.oh, &g.pad_top);
    conv_out_size(k.w, k.kw, k.sw, k.same, &g.ow, &g.pad_left);
    g.oc = 1;
    INFO("x (" << k.n << ", " << k.h << ", " << k.w << ", " << k.c << ") kernel " << k.kh << "x" << k.kw << " stride "
               << k.sh << "x" << k.sw << (k.same ? " same" : " valid"));
    const size_t xs = size_t(g.n * g.h * g.w * g.c), cs = conv_gemm_col_bytes(g) / sizeof(float);
    REQUIRE(cs == size_t(g.n * g.oh * g.ow * g.patch()));
    const auto x = rnd(xs, 81), dcol = rnd(cs, 82);
    std::vector<float> col(cs), dx(xs);
    im2col_nhwc_cpu<float>(g, x.data(), g.n, col.data(), g.patch());
    col2im_nhwc_cpu<float>(g, dcol.data(), g.n, dx.data());
    for (bool wide : {false, true}) {  // 32-bit indices, then the 64-bit ones taken past 2^31 elements
      INFO((wide ? "64-bit" : "32-bit") << " indices");
      const WideIndices indices(wide);
      DevBuf gx(x), gcol(std::vector<float>(cs, -7.f)), gdcol(dcol), gdx(std::vector<float>(xs, -7.f));
      im2col_nhwc_cuda(g, gx.p, gcol.p, nullptr);
      col2im_nhwc_cuda(g, gdcol.p, gdx.p, nullptr);
      DPT_CUDA_CHECK(cudaDeviceSynchronize());
      REQUIRE(gcol.get(cs) == col);
      REQUIRE(gdx.get(xs) == dx);
    }
  }
}
