// exp_math.h's poly_expf against double's exp, and the float softmax rows that use it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>
#include "kernels/activation.h"
#include "kernels/exp_math.h"
#include "test_util.h"

using namespace dpt::kernels;

TEST_CASE("poly_expf is within 1.1 ulp of exp on [-87.34, 88], 0 below, exp(88) above, NaN kept", "[kernels][math]") {
  double worst = 0;  // in units of the exact value's ulp
  int64_t count = 0;
  auto check = [&](uint32_t bits) {
    float x;
    std::memcpy(&x, &bits, sizeof x);
    const double exact = std::exp(double(x));
    const double ulp = std::ldexp(1.0, std::ilogb(exact) - 23);
    worst = std::max(worst, std::fabs(double(poly_expf(x)) - exact) / ulp);
    ++count;
  };
  // Every 4099th float from -0 down to ln(2^-126) and from +0 up to 88: about 530,000 points. (Every
  // float of the range, checked once: 1.02 ulp at worst with fused multiply-adds, 0.99 without.)
  for (uint32_t bits = 0x80000000u; bits <= 0xC2AEAC50u; bits += 4099) check(bits);
  for (uint32_t bits = 0x00000000u; bits <= 0x42B00000u; bits += 4099) check(bits);
  INFO(count << " points");
  CHECK(count > 500000);
  CHECK(worst <= 1.1);
  CHECK(poly_expf(0.f) == 1.f);
  CHECK(poly_expf(-0.f) == 1.f);
  CHECK(poly_expf(-87.3365478515625f) > 0.f);
  CHECK(poly_expf(-87.34f) == 0.f);
  CHECK(poly_expf(-1e9f) == 0.f);
  CHECK(poly_expf(-std::numeric_limits<float>::infinity()) == 0.f);
  CHECK(poly_expf(1000.f) == poly_expf(88.f));
  CHECK(std::isfinite(poly_expf(std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(poly_expf(std::numeric_limits<float>::quiet_NaN())));
  std::printf("poly_expf: worst %.3f ulp over %lld points\n", worst, (long long)count);
}

TEST_CASE("float softmax rows (vectorised exp): each score's share against exact exp, rows summing to 1",
          "[kernels][math]") {
  // Row lengths around the vector widths, and scores far apart (a masked score's -1e9). A row's
  // float sum rounds by up to (cols - 1) float epsilons in any order (lanes or one by one), so
  // each output is checked through its ratio to the row's largest (both scaled by the same 1 / sum:
  // the exp and two roundings), and the row's sum against 1 within that bound.
  for (int64_t cols : {1, 3, 8, 17, 200, 1000}) {
    const int64_t rows = 7;
    std::vector<float> x = dpt::test::random_vecf(size_t(rows * cols), uint64_t(cols), -30.f, 30.f);
    if (cols > 3) x[2] = -1e9f;
    std::vector<float> y(x.size());
    activation_forward_cpu<float>(Activation::softmax, x.data(), y.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data() + r * cols;
      const float* yr = y.data() + r * cols;
      const int64_t top = std::max_element(xr, xr + cols) - xr;
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        // exp of the kernel's float difference x - max (its rounding is float's, not the exp's)
        const double want = std::exp(double(xr[c] - xr[top])), got = double(yr[c]) / double(yr[top]);
        INFO("cols " << cols << " row " << r << " col " << c << ": " << got << " vs " << want);
        CHECK(std::fabs(got - want) <= 4e-7 * want + 1e-37);
        sum += yr[c];
      }
      CHECK(std::fabs(sum - 1.0) <= double(cols + 2) * 6e-8);
    }
    if (cols > 3) CHECK(y[2] == 0.f);
  }
}
