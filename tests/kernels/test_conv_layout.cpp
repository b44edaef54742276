// The GPU's per-pass convolution layout choice (kernels/conv2d_layout.h): cuDNN's times plus the
// transposes each choice adds, and DPT_CONV_LAYOUT. Plain arithmetic, so checked here.
#include <catch2/catch.hpp>
#include <cstdlib>
#include "kernels/conv2d_layout.h"
#include "kernels/error.h"

using namespace dpt::kernels;

namespace {

struct Times {
  ConvPassTime nhwc[3], nchw[3];
};

// Times (ms) for forward, backward-data, backward-filter in each layout; a negative time: no algorithm.
Times times(double f_nhwc, double d_nhwc, double w_nhwc, double f_nchw, double d_nchw, double w_nchw) {
  Times t;
  const double v[6] = {f_nhwc, d_nhwc, w_nhwc, f_nchw, d_nchw, w_nchw};
  for (int k = 0; k < 3; ++k) {
    t.nhwc[k] = {v[k] >= 0, v[k] >= 0 ? v[k] : 0};
    t.nchw[k] = {v[3 + k] >= 0, v[3 + k] >= 0 ? v[3 + k] : 0};
  }
  return t;
}

ConvLayoutChoice pick(const Times& t, double tx, double ty, bool needs_dx = true, bool forced = false) {
  return choose_conv_layouts(t.nhwc, t.nchw, tx, ty, needs_dx, forced);
}

}  // namespace

TEST_CASE("conv layout: the forward runs NCHW only when cuDNN's time and the x transpose beat NHWC", "[conv][layout]") {
  // 0.545 ms NHWC against 0.297 NCHW (cifar10-cnn's forwards on an H100): worth a 0.1 ms transpose,
  // not a 0.3 ms one; a tie stays NHWC.
  CHECK(pick(times(0.545, 1, 1, 0.297, 1, 1), 0.1, 0.1).forward_nchw);
  CHECK_FALSE(pick(times(0.545, 1, 1, 0.297, 1, 1), 0.3, 0.1).forward_nchw);
  CHECK_FALSE(pick(times(0.5, 1, 1, 0.25, 1, 1), 0.25, 0.1).forward_nchw);
  // y's transpose back carries the bias and activation (NHWC's own pass): not counted against NCHW.
  CHECK(pick(times(0.5, 1, 1, 0.4, 1, 1), 0.05, 10.0).forward_nchw);
}

TEST_CASE("conv layout: backward-filter in NCHW reuses the forward's NCHW x", "[conv][layout]") {
  // Filter pass: 1.0 NHWC, 0.7 NCHW; dy transpose 0.1, x transpose 0.25.
  // Forward NHWC (its NCHW is slow): NCHW filter costs 0.7 + 0.1 + 0.25 = 1.05 > 1.0.
  const auto nhwc_fwd = pick(times(0.5, 1, 1.0, 2.0, 5, 0.7), 0.25, 0.1);
  CHECK_FALSE(nhwc_fwd.forward_nchw);
  CHECK_FALSE(nhwc_fwd.backward_filter_nchw);
  // Forward NCHW: x is there already, 0.7 + 0.1 = 0.8 < 1.0.
  const auto nchw_fwd = pick(times(0.5, 1, 1.0, 0.2, 5, 0.7), 0.25, 0.1);
  CHECK(nchw_fwd.forward_nchw);
  CHECK(nchw_fwd.backward_filter_nchw);
  CHECK_FALSE(nchw_fwd.backward_data_nchw);  // 5 ms in NCHW
}

TEST_CASE("conv layout: one dy transpose serves both backward passes", "[conv][layout]") {
  // 1.0 + 1.0 in NHWC. Data alone in NCHW: 0.625 + 1.0 + ty 0.5 + tx 0.125 = 2.25; filter alone
  // (forward NCHW): 1.0 + 0.625 + 0.5 = 2.125; both: 0.625 + 0.625 + 0.5 + 0.125 = 1.875.
  // (Binary fractions: the sums are exact.)
  const auto c = pick(times(1, 1.0, 1.0, 0.5, 0.625, 0.625), 0.125, 0.5);
  CHECK(c.forward_nchw);
  CHECK(c.backward_data_nchw);
  CHECK(c.backward_filter_nchw);
  // Same, but the pair costs 0.6875 * 2 + 0.5 + 0.125 = 2.0, a tie with NHWC: NHWC stays.
  const auto tie = pick(times(1, 1.0, 1.0, 0.5, 0.6875, 0.6875), 0.125, 0.5);
  CHECK(tie.forward_nchw);
  CHECK_FALSE(tie.backward_data_nchw);
  CHECK_FALSE(tie.backward_filter_nchw);
}

TEST_CASE("conv layout: without an input gradient backward-data never runs nor counts", "[conv][layout]") {
  // Backward-data would be far cheaper in NCHW, but the first weighted layer has no dx to compute.
  const auto c = pick(times(1, 9.0, 1.0, 2, 0.1, 2.0), 0.1, 0.1, /*needs_dx=*/false);
  CHECK_FALSE(c.backward_data_nchw);
  CHECK_FALSE(c.backward_filter_nchw);
  // No backward-data algorithm at all is fine then.
  const auto none = pick(times(1, -1, 1.0, 2, -1, 0.5), 0.1, 0.1, false);
  CHECK_FALSE(none.backward_data_nchw);
  CHECK(none.backward_filter_nchw);  // 0.5 + 0.1 + 0.1 < 1.0
}

TEST_CASE("conv layout: a layout without an algorithm is never chosen; forcing NCHW takes every NCHW pass",
          "[conv][layout]") {
  // NHWC has no forward and no backward-filter algorithm: NCHW, however slow.
  const auto only_nchw = pick(times(-1, 1, -1, 50, 50, 50), 1, 1);
  CHECK(only_nchw.forward_nchw);
  CHECK_FALSE(only_nchw.backward_data_nchw);
  CHECK(only_nchw.backward_filter_nchw);
  // NCHW has none: NHWC, however slow.
  const auto only_nhwc = pick(times(50, 50, 50, -1, -1, -1), 0, 0);
  CHECK_FALSE(only_nhwc.forward_nchw);
  CHECK_FALSE(only_nhwc.backward_data_nchw);
  CHECK_FALSE(only_nhwc.backward_filter_nchw);
  // Forced: NCHW wherever it has an algorithm, whatever the times (as DPT_CONV_LAYOUT=nchw asks).
  const auto forced = pick(times(-1, -1, -1, 9, 9, 9), 9, 9, true, true);
  CHECK(forced.forward_nchw);
  CHECK(forced.backward_data_nchw);
  CHECK(forced.backward_filter_nchw);
  const auto partly = pick(times(0.1, 0.1, -1, 9, -1, 9), 9, 9, true, true);
  CHECK(partly.forward_nchw);
  CHECK_FALSE(partly.backward_data_nchw);  // no NCHW algorithm for it
  CHECK(partly.backward_filter_nchw);
}

TEST_CASE("DPT_CONV_LAYOUT selects the convolution layout, and a bad value is an error naming it", "[conv][layout]") {
  const char* old = std::getenv("DPT_CONV_LAYOUT");
  const std::string saved = old ? old : "";
  unsetenv("DPT_CONV_LAYOUT");
  CHECK(conv_layout_from_env() == ConvLayout::automatic);
  setenv("DPT_CONV_LAYOUT", "", 1);
  CHECK(conv_layout_from_env() == ConvLayout::automatic);
  setenv("DPT_CONV_LAYOUT", "auto", 1);
  CHECK(conv_layout_from_env() == ConvLayout::automatic);
  setenv("DPT_CONV_LAYOUT", "nhwc", 1);
  CHECK(conv_layout_from_env() == ConvLayout::nhwc);
  setenv("DPT_CONV_LAYOUT", "nchw", 1);
  CHECK(conv_layout_from_env() == ConvLayout::nchw);
  setenv("DPT_CONV_LAYOUT", "NCHW4", 1);
  CHECK_THROWS_WITH(conv_layout_from_env(), Catch::Contains("DPT_CONV_LAYOUT must be auto, nhwc or nchw, got 'NCHW4'"));
  if (old)
    setenv("DPT_CONV_LAYOUT", saved.c_str(), 1);
  else
    unsetenv("DPT_CONV_LAYOUT");
}
