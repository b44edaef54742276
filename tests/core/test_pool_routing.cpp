// Max pooling's gradient follows its routing (which input of each window was the maximum), and
// that choice is discontinuous: where a window's two largest inputs are within rounding of each
// other, devices that round differently (a GPU's summation order, a CPU's) route differently and
// their gradients legitimately differ. These tests pin that down on the CPU, and the replay of
// another device's routing (Pool2D::set_routing) that the GPU tests compare through.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include "core/data/readers.h"
#include "core/layers/pooling.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {

// Largest |a - b| over the largest |a|, for each trainable parameter of m, keyed "layer/param".
std::vector<std::pair<std::string, double>> per_param(const Sequential& m, const std::vector<float>& a,
                                                      const std::vector<float>& b) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& w : m.weights()) {
    if (!w.spec.trainable) continue;
    double d = 0, big = 0;
    for (int64_t i = w.offset; i < w.offset + shape_numel(w.spec.shape); ++i) {
      d = std::max(d, double(std::abs(a[size_t(i)] - b[size_t(i)])));
      big = std::max(big, double(std::abs(a[size_t(i)])));
    }
    out.push_back({w.layer->name() + "/" + w.spec.name, big > 0 ? d / big : d});
  }
  return out;
}

std::vector<std::vector<int32_t>> routings(const Sequential& m, int64_t n) {
  std::vector<std::vector<int32_t>> r;
  for (const auto& l : m.layers())
    if (auto* p = dynamic_cast<const Pool2D*>(l.get()); p && p->is_max()) r.push_back(p->routing(n));
  return r;
}

}  // namespace

TEST_CASE("one step by hand equals the Trainer's step, and replaying a model's own routing changes nothing",
          "[pooling][routing]") {
  auto mt = test::cifar_prefix(6, 11), mh = test::cifar_prefix(6, 11);
  const std::vector<float> w0(mt->params(), mt->params() + mt->num_trainable());
  const Dataset data = make_synthetic(mt->input_shape(), 10, 48, 5);
  test::sgd_one_step(*mt, test::cpus(1), data, 48);
  std::vector<float> trained(size_t(mt->num_trainable()));  // w0 - w1 = the gradient (SGD, lr 1)
  for (size_t i = 0; i < trained.size(); ++i) trained[i] = w0[i] - mt->params()[i];

  const std::vector<float> by_hand = test::cpu_step_gradients(*mh, data, 48);
  for (auto& [what, d] : per_param(*mh, by_hand, trained)) {
    INFO(what);
    CHECK(d < 1e-5);  // w0 - w1 rounds at the weights' size
  }
  const auto own = routings(*mh, 48);
  REQUIRE(own.size() == 3);
  auto mr = test::cifar_prefix(6, 11);
  std::vector<int64_t> differing;
  const std::vector<float> replayed = test::cpu_step_gradients(*mr, data, 48, &own, &differing);
  CHECK(differing == std::vector<int64_t>{0, 0, 0});
  CHECK(replayed == by_hand);
}

TEST_CASE("a max-pool window within rounding of a tie decides 1% of cifar10-cnn's third conv kernel gradient",
          "[pooling][routing]") {
  // Seed 5's third MaxPooling (4x4x128 -> 2x2x128, 48 samples) has a window whose two largest
  // inputs differ by ~5e-8 (float rounding of those sums is ~2e-7). Flipping that one window's
  // routing moves the kernel gradient of the conv before it by ~1.4% of its largest element but
  // leaves its bias gradient (the sum of the same dy values) unchanged: the signature first seen
  // on an H100, where the GPU's and the CPU's rounding chose differently.
  auto m = test::cifar_prefix(6, 11);
  const Dataset data = make_synthetic(m->input_shape(), 10, 48, 5);
  const std::vector<float> g0 = test::cpu_step_gradients(*m, data, 48);
  auto r = routings(*m, 48);
  const Tensor y = m->output_of(4);  // conv2d_2's relu output, (48, 4, 4, 128)
  REQUIRE(y.numel() == 48 * 4 * 4 * 128);
  const int64_t C = 128;
  size_t at = 0;
  int32_t second = -1;
  double gap = 1e30, ymax = 0;
  for (int64_t i = 0; i < y.numel(); ++i) ymax = std::max(ymax, double(y.data()[i]));
  for (size_t o = 0; o < r[2].size(); ++o) {
    const int64_t c = int64_t(o) % C, ox = int64_t(o) / C % 2, oy = int64_t(o) / C / 2 % 2, s = int64_t(o) / C / 4;
    const float* ys = y.data() + s * 4 * 4 * C;
    for (int64_t a = 0; a < 4; ++a) {
      const int32_t off = int32_t(((2 * oy + a / 2) * 4 + 2 * ox + a % 2) * C + c);
      if (off == r[2][o] || ys[off] <= 0.f) continue;
      const double g = double(ys[r[2][o]]) - double(ys[off]);
      if (g < gap) {
        gap = g;
        at = o;
        second = off;
      }
    }
  }
  std::printf("third MaxPooling: the closest window's two largest inputs differ by %.3g (largest output %.3g)\n", gap,
              ymax);
  REQUIRE(second >= 0);
  CHECK(gap < 1e-6 * ymax);  // within what two summation orders can round apart
  r[2][at] = second;
  auto mf = test::cifar_prefix(6, 11);
  std::vector<int64_t> differing;
  const std::vector<float> g1 = test::cpu_step_gradients(*mf, data, 48, &r, &differing);
  CHECK(differing == std::vector<int64_t>{0, 0, 1});
  std::printf("that window routed to its runner-up, max|dg|/max|g|:");
  for (auto& [what, d] : per_param(*mf, g0, g1)) {
    std::printf(" %s %.2g", what.c_str(), d);
    INFO(what);
    if (what == "conv2d_2/kernel")
      CHECK(d > 1e-2);
    else if (what == "conv2d_2/bias" || what.rfind("dense", 0) == 0)
      CHECK(d < 1e-5);
    else
      CHECK(d > 1e-4);  // the earlier layers follow through conv2d_2's input gradient
  }
  std::printf("\n");
}

TEST_CASE("Pool2D::set_routing refuses offsets outside a sample and routings longer than the batch",
          "[pooling][routing]") {
  auto m = test::cifar_prefix(2, 11);
  const Dataset data = make_synthetic(m->input_shape(), 10, 4, 5);
  test::cpu_step_gradients(*m, data, 4);
  auto* pool = dynamic_cast<Pool2D*>(m->layers()[1].get());
  REQUIRE(pool);
  std::vector<int32_t> r = pool->routing(4);
  REQUIRE(r.size() == size_t(4 * 15 * 15 * 32));
  r[7] = 30 * 30 * 32;
  CHECK_THROWS_WITH(pool->set_routing(r), Contains("routing offset 28800 is outside a sample"));
  r.resize(r.size() + 1, 0);
  CHECK_THROWS_WITH(pool->set_routing(r), Contains("exceeds the prepared batch"));
  CHECK_THROWS_WITH(pool->routing(5), Contains("5 rows exceed the prepared batch"));
}
