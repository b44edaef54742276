// The GPU's per-pass convolution route choice (kernels/conv2d_layout.h): each route's times plus
// the transposes or patch matrices it adds, and DPT_CONV_LAYOUT. Plain arithmetic, so checked here.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include "kernels/conv2d_layout.h"
#include "kernels/error.h"

using namespace dpt::kernels;

namespace {

struct Times {
  ConvTimes t;
};

// Times (ms) for forward, backward-data, backward-filter on NHWC, NCHW and GEMM; a negative time:
// no algorithm (GEMM has none unless given).
Times times(double f_nhwc, double d_nhwc, double w_nhwc, double f_nchw, double d_nchw, double w_nchw,
            double f_gemm = -1, double d_gemm = -1, double w_gemm = -1) {
  Times t;
  const double v[9] = {f_nhwc, d_nhwc, w_nhwc, f_nchw, d_nchw, w_nchw, f_gemm, d_gemm, w_gemm};
  for (int r = 0; r < kConvRoutes; ++r)
    for (int k = 0; k < 3; ++k) t.t[r][k] = {v[3 * r + k] >= 0, v[3 * r + k] >= 0 ? v[3 * r + k] : 0};
  return t;
}

ConvLayoutChoice pick(const Times& t, double tx, double ty, bool needs_dx = true,
                      ConvLayout forced = ConvLayout::automatic, double im2col = 0, double col2im = 0) {
  return choose_conv_layouts(t.t, {tx, ty, im2col, col2im}, needs_dx, forced);
}

constexpr ConvRoute kNhwc = ConvRoute::nhwc, kNchw = ConvRoute::nchw, kGemm = ConvRoute::gemm;

}  // namespace

TEST_CASE("conv layout: the forward runs NCHW only when cuDNN's time and the x transpose beat NHWC", "[conv][layout]") {
  // 0.545 ms NHWC against 0.297 NCHW (cifar10-cnn's forwards on an H100): worth a 0.1 ms transpose,
  // not a 0.3 ms one; a tie stays NHWC.
  CHECK(pick(times(0.545, 1, 1, 0.297, 1, 1), 0.1, 0.1).forward == kNchw);
  CHECK(pick(times(0.545, 1, 1, 0.297, 1, 1), 0.3, 0.1).forward == kNhwc);
  CHECK(pick(times(0.5, 1, 1, 0.25, 1, 1), 0.25, 0.1).forward == kNhwc);
  // y's transpose back carries the bias and activation (NHWC's own pass): not counted against NCHW.
  CHECK(pick(times(0.5, 1, 1, 0.4, 1, 1), 0.05, 10.0).forward == kNchw);
}

TEST_CASE("conv layout: backward-filter in NCHW reuses the forward's NCHW x", "[conv][layout]") {
  // Filter pass: 1.0 NHWC, 0.7 NCHW; dy transpose 0.1, x transpose 0.25.
  // Forward NHWC (its NCHW is slow): NCHW filter costs 0.7 + 0.1 + 0.25 = 1.05 > 1.0.
  const auto nhwc_fwd = pick(times(0.5, 1, 1.0, 2.0, 5, 0.7), 0.25, 0.1);
  CHECK(nhwc_fwd.forward == kNhwc);
  CHECK(nhwc_fwd.backward_filter == kNhwc);
  // Forward NCHW: x is there already, 0.7 + 0.1 = 0.8 < 1.0.
  const auto nchw_fwd = pick(times(0.5, 1, 1.0, 0.2, 5, 0.7), 0.25, 0.1);
  CHECK(nchw_fwd.forward == kNchw);
  CHECK(nchw_fwd.backward_filter == kNchw);
  CHECK(nchw_fwd.backward_data == kNhwc);  // 5 ms in NCHW
}

TEST_CASE("conv layout: one dy transpose serves both backward passes", "[conv][layout]") {
  // 1.0 + 1.0 in NHWC. Data alone in NCHW: 0.625 + 1.0 + ty 0.5 + tx 0.125 = 2.25; filter alone
  // (forward NCHW): 1.0 + 0.625 + 0.5 = 2.125; both: 0.625 + 0.625 + 0.5 + 0.125 = 1.875.
  // (Binary fractions: the sums are exact.)
  const auto c = pick(times(1, 1.0, 1.0, 0.5, 0.625, 0.625), 0.125, 0.5);
  CHECK(c.forward == kNchw);
  CHECK(c.backward_data == kNchw);
  CHECK(c.backward_filter == kNchw);
  // Same, but the pair costs 0.6875 * 2 + 0.5 + 0.125 = 2.0, a tie with NHWC: NHWC stays.
  const auto tie = pick(times(1, 1.0, 1.0, 0.5, 0.6875, 0.6875), 0.125, 0.5);
  CHECK(tie.forward == kNchw);
  CHECK(tie.backward_data == kNhwc);
  CHECK(tie.backward_filter == kNhwc);
}

TEST_CASE("conv layout: without an input gradient backward-data never runs nor counts", "[conv][layout]") {
  // Backward-data would be far cheaper in NCHW, but the first weighted layer has no dx to compute.
  const auto c = pick(times(1, 9.0, 1.0, 2, 0.1, 2.0), 0.1, 0.1, /*needs_dx=*/false);
  CHECK(c.backward_data == kNhwc);
  CHECK(c.backward_filter == kNhwc);
  // No backward-data algorithm at all is fine then.
  const auto none = pick(times(1, -1, 1.0, 2, -1, 0.5), 0.1, 0.1, false);
  CHECK(none.backward_data == kNhwc);
  CHECK(none.backward_filter == kNchw);  // 0.5 + 0.1 + 0.1 < 1.0
}

TEST_CASE("conv layout: a layout without an algorithm is never chosen; forcing NCHW takes every NCHW pass",
          "[conv][layout]") {
  // NHWC has no forward and no backward-filter algorithm: NCHW, however slow.
  const auto only_nchw = pick(times(-1, 1, -1, 50, 50, 50), 1, 1);
  CHECK(only_nchw.forward == kNchw);
  CHECK(only_nchw.backward_data == kNhwc);
  CHECK(only_nchw.backward_filter == kNchw);
  // NCHW has none: NHWC, however slow.
  const auto only_nhwc = pick(times(50, 50, 50, -1, -1, -1), 0, 0);
  CHECK(only_nhwc.forward == kNhwc);
  CHECK(only_nhwc.backward_data == kNhwc);
  CHECK(only_nhwc.backward_filter == kNhwc);
  // Forced: NCHW wherever it has an algorithm, whatever the times (as DPT_CONV_LAYOUT=nchw asks).
  const auto forced = pick(times(-1, -1, -1, 9, 9, 9), 9, 9, true, ConvLayout::nchw);
  CHECK(forced.forward == kNchw);
  CHECK(forced.backward_data == kNchw);
  CHECK(forced.backward_filter == kNchw);
  const auto partly = pick(times(0.1, 0.1, -1, 9, -1, 9), 9, 9, true, ConvLayout::nchw);
  CHECK(partly.forward == kNchw);
  CHECK(partly.backward_data == kNhwc);  // no NCHW algorithm for it
  CHECK(partly.backward_filter == kNchw);
}

TEST_CASE("conv layout: GEMM counts its patch matrix, made once for forward and backward-filter, and col2im",
          "[conv][layout]") {
  // Forward: NHWC 1.0, NCHW 0.75 + tx 0.125 = 0.875, GEMM 0.5 + im2col 0.25 = 0.75: GEMM.
  const auto f = pick(times(1.0, 9, 9, 0.75, 9, 9, 0.5, 9, 9), 0.125, 0.125, true, ConvLayout::automatic, 0.25, 0.25);
  CHECK(f.forward == kGemm);
  // ... but not when im2col costs 0.5 (1.0, a tie with NHWC: NHWC).
  CHECK(pick(times(1.0, 9, 9, 2, 9, 9, 0.5, 9, 9), 0, 0, true, ConvLayout::automatic, 0.5, 0).forward == kNhwc);
  // Backward-filter: NHWC 1.0, GEMM 0.625. After a GEMM forward the patches are there: GEMM. After an
  // NHWC forward it costs 0.625 + im2col 0.5 = 1.125: NHWC.
  const auto reuse = pick(times(1.0, 1, 1.0, -1, -1, -1, 0.25, 9, 0.625), 0, 0, true, ConvLayout::automatic, 0.5, 0);
  CHECK(reuse.forward == kGemm);  // 0.25 + 0.5 = 0.75 < 1.0
  CHECK(reuse.backward_filter == kGemm);
  CHECK(reuse.backward_data == kNhwc);  // 9 in GEMM
  // The routes are chosen together: a forward of 0.5 in NHWC beats 0.75 in GEMM alone, but the
  // GEMM forward's patches make backward-filter 0.625 instead of 1.0 (or 1.125 with its own im2col):
  // 0.75 + 1 + 0.625 = 2.375 < 0.5 + 1 + 1.0 = 2.5.
  const auto joint = pick(times(0.5, 1, 1.0, -1, -1, -1, 0.25, 9, 0.625), 0, 0, true, ConvLayout::automatic, 0.5, 0);
  CHECK(joint.forward == kGemm);
  CHECK(joint.backward_filter == kGemm);
  // With a 0.25 forward in NHWC: 0.25 + 1 + 1.0 = 2.25 < 2.375.
  const auto fresh = pick(times(0.25, 1, 1.0, -1, -1, -1, 0.25, 9, 0.625), 0, 0, true, ConvLayout::automatic, 0.5, 0);
  CHECK(fresh.forward == kNhwc);
  CHECK(fresh.backward_filter == kNhwc);  // 0.625 + im2col 0.5 = 1.125 > 1.0
  // Backward-data: GEMM 0.5 + col2im 0.25 = 0.75 beats NHWC 1.0 and NCHW 0.25 + ty 0.25 + tx 0.5 = 1.0.
  const auto d = pick(times(1, 1.0, 1, 2, 0.25, 2, 2, 0.5, 2), 0.5, 0.25, true, ConvLayout::automatic, 0, 0.25);
  CHECK(d.backward_data == kGemm);
  CHECK(d.backward_filter == kNhwc);
  // A first layer (no dx): backward-data's GEMM neither chosen nor counted.
  CHECK(pick(times(1, 1, 1, -1, -1, -1, 2, 0.1, 2), 0, 0, false).backward_data == kNhwc);
  // Mixed: filter NCHW after an NCHW forward, data GEMM.
  const auto mixed =
      pick(times(1, 1, 1, 0.5, 2, 0.5, 2, 0.5, 2), 0.125, 0.125, true, ConvLayout::automatic, 0.125, 0.125);
  CHECK(mixed.forward == kNchw);
  CHECK(mixed.backward_filter == kNchw);  // 0.5 + ty 0.125
  CHECK(mixed.backward_data == kGemm);    // 0.5 + col2im 0.125
}

TEST_CASE("conv layout: forcing GEMM takes every pass GEMM has; a GEMM without a pass falls back", "[conv][layout]") {
  const auto all = pick(times(0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 9, 9, 9), 0, 0, true, ConvLayout::gemm);
  CHECK(all.forward == kGemm);
  CHECK(all.backward_data == kGemm);
  CHECK(all.backward_filter == kGemm);
  CHECK(all.any(kGemm));
  CHECK_FALSE(all.any(kNchw));
  // Forcing NHWC keeps NHWC even where NCHW and GEMM are faster.
  const auto nhwc = pick(times(9, 9, 9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1), 0, 0, true, ConvLayout::nhwc);
  CHECK_FALSE(nhwc.any(kNchw));
  CHECK_FALSE(nhwc.any(kGemm));
  // GEMM unavailable (its patch matrix too large): forced GEMM falls back to the others.
  const auto none = pick(times(0.5, 0.5, 0.5, 9, 9, 9), 0, 0, true, ConvLayout::gemm);
  CHECK_FALSE(none.any(kGemm));
  CHECK(std::string(conv_route_name(kGemm)) == "GEMM");
  CHECK(std::string(conv_route_name(kNchw)) == "NCHW");
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
  setenv("DPT_CONV_LAYOUT", "gemm", 1);
  CHECK(conv_layout_from_env() == ConvLayout::gemm);
  setenv("DPT_CONV_LAYOUT", "NCHW4", 1);
  CHECK_THROWS_WITH(conv_layout_from_env(),
                    Catch::Contains("DPT_CONV_LAYOUT must be auto, nhwc, nchw or gemm, got 'NCHW4'"));
  if (old)
    setenv("DPT_CONV_LAYOUT", saved.c_str(), 1);
  else
    unsetenv("DPT_CONV_LAYOUT");
}
