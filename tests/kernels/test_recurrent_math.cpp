// The recurrent cells' float exp, sigmoid and tanh (kernels/recurrent_math.h) against double
// precision: within 2 float ulps of the exact value everywhere the cells evaluate them, and what
// they give at the ends of their ranges.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include "kernels/recurrent_math.h"

using namespace dpt::kernels;

namespace {
// |got - want| in units of the float spacing at want (2^-23 |want|, and at least the smallest normal).
double ulps(float got, double want) {
  const double spacing = std::max(std::abs(want) * std::ldexp(1.0, -23), double(std::numeric_limits<float>::min()));
  return std::abs(double(got) - want) / spacing;
}
}  // namespace

TEST_CASE("the recurrent cells' exp, sigmoid and tanh are within 2 float ulps of double precision",
          "[kernels][recurrent]") {
  double worst_exp = 0, worst_sig = 0, worst_tanh = 0;
  for (float x = -87.f; x <= 88.f; x += 0.0137f)
    worst_exp = std::max(worst_exp, ulps(poly_expf(x), std::exp(double(x))));
  for (float x = -40.f; x <= 40.f; x += 0.00137f) {
    worst_sig = std::max(worst_sig, ulps(rnn_sigmoid(x), 1.0 / (1.0 + std::exp(-double(x)))));
    worst_tanh = std::max(worst_tanh, ulps(rnn_tanh(x), std::tanh(double(x))));
  }
  for (float x : {0.f, 1e-30f, -1e-20f, 1e-7f, 0.6249f, 0.625f, -0.625f, 0.6251f})  // tanh's branch edge, tiny values
    worst_tanh = std::max(worst_tanh, ulps(rnn_tanh(x), std::tanh(double(x))));
  std::printf("recurrent cells' float functions: worst exp %.2f ulp, sigmoid %.2f ulp, tanh %.2f ulp\n", worst_exp,
              worst_sig, worst_tanh);
  CHECK(worst_exp <= 2.0);
  CHECK(worst_sig <= 2.0);
  CHECK(worst_tanh <= 2.0);
  // The ends: no overflow, no NaN; exp is 0 below -87.34 and clamps at 88.
  CHECK(rnn_sigmoid(1000.f) == 1.f);
  CHECK(rnn_sigmoid(-1000.f) >= 0.f);
  CHECK(rnn_sigmoid(-1000.f) < 1e-37f);
  CHECK(rnn_tanh(1000.f) == 1.f);
  CHECK(rnn_tanh(-1000.f) == -1.f);
  CHECK(std::isfinite(poly_expf(1000.f)));
  CHECK(poly_expf(0.f) == 1.f);
  // Double keeps the library's functions.
  CHECK(rnn_tanh(0.3) == std::tanh(0.3));
  CHECK(rnn_sigmoid(-2.0) == 1.0 / (1.0 + std::exp(2.0)));
}
