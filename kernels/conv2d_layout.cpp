// Which layout each Conv2D pass runs in on the GPU (see conv2d_layout.h): no CUDA here.
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
  DPT_FAIL("DPT_CONV_LAYOUT must be auto, nhwc or nchw, got '" << v << "'");
}

ConvLayoutChoice choose_conv_layouts(const ConvPassTime (&nhwc)[3], const ConvPassTime (&nchw)[3], double tx, double ty,
                                     bool needs_dx, bool forced_nchw) {
  ConvLayoutChoice c;
  const ConvPassTime& fn = nhwc[kConvForward];
  const ConvPassTime& fc = nchw[kConvForward];
  c.forward_nchw = fc.ok && (!fn.ok || forced_nchw || fc.ms + tx < fn.ms);
  const ConvPassTime none{true, 0.0};  // backward-data when no dx is wanted
  bool have = false;
  double best = 0;
  for (int dl = 0; dl < (needs_dx ? 2 : 1); ++dl)
    for (int fl = 0; fl < 2; ++fl) {
      const ConvPassTime& d = !needs_dx ? none : dl ? nchw[kConvBackwardData] : nhwc[kConvBackwardData];
      const ConvPassTime& f = fl ? nchw[kConvBackwardFilter] : nhwc[kConvBackwardFilter];
      if (!d.ok || !f.ok) continue;
      const double cost =
          forced_nchw ? double(2 - dl - fl)  // as many NCHW passes as there are
                      : d.ms + f.ms + ((dl || fl) ? ty : 0) + (dl ? tx : 0) + ((fl && !c.forward_nchw) ? tx : 0);
      if (!have || cost < best) {
        have = true;
        best = cost;
        c.backward_data_nchw = dl;
        c.backward_filter_nchw = fl;
      }
    }
  return c;
}

}  // namespace dpt::kernels
