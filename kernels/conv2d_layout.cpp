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
  ConvLayoutChoice ch;
  // Forward: alone (its cost does not depend on the backward's choice).
  bool have = false;
  double best = 0;
  for (int r = 0; r < kConvRoutes; ++r) {
    const ConvPassTime& f = t[r][kConvForward];
    if (!f.ok) continue;
    const double cost = f.ms + (r == int(ConvRoute::nchw) ? c.tx : 0) + (r == int(ConvRoute::gemm) ? c.im2col : 0) +
                        (want >= 0 && r != want ? kOffRoute : 0);
    if (!have || cost < best) {
      have = true;
      best = cost;
      ch.forward = ConvRoute(r);
    }
  }
  // Backward: the pair, given the forward.
  const ConvPassTime none{true, 0.0};  // backward-data when no dx is wanted
  const bool fwd_nchw = ch.forward == ConvRoute::nchw, fwd_gemm = ch.forward == ConvRoute::gemm;
  have = false;
  for (int dl = 0; dl < (needs_dx ? kConvRoutes : 1); ++dl)
    for (int fl = 0; fl < kConvRoutes; ++fl) {
      const ConvPassTime& d = needs_dx ? t[dl][kConvBackwardData] : none;
      const ConvPassTime& f = t[fl][kConvBackwardFilter];
      if (!d.ok || !f.ok) continue;
      const bool d_nchw = dl == int(ConvRoute::nchw), f_nchw = fl == int(ConvRoute::nchw);
      const bool d_gemm = dl == int(ConvRoute::gemm), f_gemm = fl == int(ConvRoute::gemm);
      const int off = want < 0 ? 0 : (needs_dx && dl != want) + (fl != want);
      const double cost = d.ms + f.ms + ((d_nchw || f_nchw) ? c.ty : 0) + (d_nchw ? c.tx : 0) +
                          ((f_nchw && !fwd_nchw) ? c.tx : 0) + (d_gemm ? c.col2im : 0) +
                          ((f_gemm && !fwd_gemm) ? c.im2col : 0) + off * kOffRoute;
      if (!have || cost < best) {
        have = true;
        best = cost;
        ch.backward_data = ConvRoute(dl);
        ch.backward_filter = ConvRoute(fl);
      }
    }
  return ch;
}

}  // namespace dpt::kernels
