// Where the GPU runs each Conv2D pass. dptrain's activations are NHWC at every layer boundary; the
// CUDA backend may run a pass (forward, backward-data, backward-filter) through cuDNN on NHWC,
// through cuDNN on NCHW with transposes around it, or as im2col + one cuBLAS GEMM against Keras's
// kernel (the CPU's formulation), whichever measures fastest. The choice is plain arithmetic on
// measured times, kept apart from CUDA so that the CPU tests check it.
#pragma once

namespace dpt::kernels {

// automatic picks per plan, batch size and pass by measured time (NHWC only with --deterministic);
// nhwc, nchw and gemm force one route wherever it is possible (for tests and comparisons; a
// convolution whose 'same' padding is asymmetric never runs NCHW). New CUDA resources take
// DPT_CONV_LAYOUT=auto|nhwc|nchw|gemm from the environment (auto when unset or empty).
enum class ConvLayout { automatic, nhwc, nchw, gemm };
// Throws naming the variable and its value when it is not one of the four.
ConvLayout conv_layout_from_env();

// One pass's route: cuDNN on NHWC, cuDNN on NCHW, im2col + GEMM (NHWC).
enum class ConvRoute { nhwc = 0, nchw = 1, gemm = 2 };
constexpr int kConvRoutes = 3;
const char* conv_route_name(ConvRoute r);

enum ConvPass { kConvForward = 0, kConvBackwardData = 1, kConvBackwardFilter = 2 };
// A pass's best algorithm on one route: whether one fits the workspace, and its time (ms).
struct ConvPassTime {
  bool ok = false;
  double ms = 0;
};
// times[route][pass]
using ConvTimes = ConvPassTime[kConvRoutes][3];
// What the routes add around their passes, at this batch (ms).
struct ConvExtraCosts {
  double tx = 0, ty = 0;          // one transpose of x, of y
  double im2col = 0, col2im = 0;  // x into its patch matrix; the patches' gradient summed back into dx
};
struct ConvLayoutChoice {
  ConvRoute forward = ConvRoute::nhwc, backward_data = ConvRoute::nhwc, backward_filter = ConvRoute::nhwc;
  bool any(ConvRoute r) const { return forward == r || backward_data == r || backward_filter == r; }
};

// The three routes, one per pass, whose times plus what they add make the smallest training step
// (all three at once: a forward's route can save the backward a transpose or a patch matrix; ties
// go to NHWC, then NCHW, forward first):
// - NCHW forward transposes x (tx). Its transpose back to NHWC carries the bias and activation,
//   which NHWC does in a pass of its own, so that one is not counted.
// - NCHW backward: one transpose of dy (ty) serves both NCHW passes; backward-data transposes dx
//   back (tx); backward-filter needs x in NCHW (tx), unless the forward left it there.
// - GEMM forward and backward-filter read x's patch matrix (im2col), made once when both run
//   GEMM; GEMM backward-data sums its patch gradients back into dx (col2im).
// - Without needs_dx backward-data never runs and costs nothing.
// - forced (nhwc, nchw or gemm): every pass on that route where it has an algorithm; the passes
//   it has none for are chosen as above.
// A route whose pass has no algorithm (not ok) is never chosen for it; the caller makes sure one
// route has.
ConvLayoutChoice choose_conv_layouts(const ConvTimes& t, const ConvExtraCosts& c, bool needs_dx,
                                     ConvLayout forced = ConvLayout::automatic);

}  // namespace dpt::kernels
