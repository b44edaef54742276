// Which route each Conv2D pass takes on the GPU (see conv2d_layout.h): no CUDA here.
#include "kernels/conv2d_layout.h"
#include <cstdlib>
#include <string>
#include "kernels/error.h"

namespace dpt::kernels {

ConvLayout conv_layout_from_env() {
  const char* v = std::getenv("DPT_CONV_LAYOUT");
  if (!v || !*v || std::string(v) == "auto") return ConvLayout::automatic;
  if (std::string(v) == "nhwc") return ConvLayout::nhwc;
  if (std::string(v) == "nchw") return ConvLayout::nchw;
  if (std::string(v) == "gemm") return ConvLayout::gemm;
  DPT_FAIL("DPT_CONV_LAYOUT must be auto, nhwc, nchw or gemm, got '" << v << "'");
}

const char* conv_route_name(ConvRoute r) {
  return r == ConvRoute::nhwc ? "NHWC" : r == ConvRoute::nchw ? "NCHW" : "GEMM";
}

namespace {

// A forced route outweighs any time (ms): each pass off it costs this much more.
constexpr double kOffRoute = 1e9;

// The forced layout's route, or -1 for automatic.
int forced_route(ConvLayout l) {
  return l == ConvLayout::nhwc ? 0 : l == ConvLayout::nchw ? 1 : l == ConvLayout::gemm ? 2 : -1;
}

}  // namespace

ConvLayoutChoice choose_conv_layouts(const ConvTimes& t, const ConvExtraCosts& c, bool needs_dx, ConvLayout forced) {
  const int want = forced_route(forced);
  const ConvPassTime none{true, 0.0};  // backward-data when no dx is wanted
  ConvLayoutChoice ch;
  bool have = false;
  double best = 0;
  for (int fr = 0; fr < kConvRoutes; ++fr)
    for (int dr = 0; dr < (needs_dx ? kConvRoutes : 1); ++dr)
      for (int wr = 0; wr < kConvRoutes; ++wr) {
        const ConvPassTime& f = t[fr][kConvForward];
        const ConvPassTime& d = needs_dx ? t[dr][kConvBackwardData] : none;
        const ConvPassTime& w = t[wr][kConvBackwardFilter];
        if (!f.ok || !d.ok || !w.ok) continue;
        const bool f_nchw = fr == int(ConvRoute::nchw), d_nchw = dr == int(ConvRoute::nchw),
                   w_nchw = wr == int(ConvRoute::nchw);
        const bool f_gemm = fr == int(ConvRoute::gemm), d_gemm = dr == int(ConvRoute::gemm),
                   w_gemm = wr == int(ConvRoute::gemm);
        const int off = want < 0 ? 0 : (fr != want) + (needs_dx && dr != want) + (wr != want);
        const double cost = f.ms + d.ms + w.ms + (f_nchw ? c.tx : 0) + ((d_nchw || w_nchw) ? c.ty : 0) +
                            (d_nchw ? c.tx : 0) + ((w_nchw && !f_nchw) ? c.tx : 0) + (f_gemm ? c.im2col : 0) +
                            ((w_gemm && !f_gemm) ? c.im2col : 0) + (d_gemm ? c.col2im : 0) + off * kOffRoute;
        if (!have || cost < best) {
          have = true;
          best = cost;
          ch = {ConvRoute(fr), ConvRoute(dr), ConvRoute(wr)};
        }
      }
  return ch;
}

}  // namespace dpt::kernels
