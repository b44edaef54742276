// Where cuDNN runs a Conv2D pass. dptrain's activations are NHWC at every layer boundary; the CUDA
// backend may run a pass (forward, backward-data, backward-filter) in NCHW with transposes around
// cuDNN when that measures faster. The choice is plain arithmetic on measured times, kept apart from
// CUDA so that the CPU tests check it.
#pragma once

namespace dpt::kernels {

// automatic picks per plan, batch size and pass by measured time (NHWC only with --deterministic);
// nhwc and nchw force one (for tests and comparisons; a convolution whose 'same' padding is
// asymmetric always runs NHWC). New CUDA resources take DPT_CONV_LAYOUT=auto|nhwc|nchw from the
// environment (auto when unset or empty).
enum class ConvLayout { automatic, nhwc, nchw };
// Throws naming the variable and its value when it is not one of the three.
ConvLayout conv_layout_from_env();

enum ConvPass { kConvForward = 0, kConvBackwardData = 1, kConvBackwardFilter = 2 };
// A pass's best algorithm in one layout: whether one fits the workspace, and cuDNN's time for it (ms).
struct ConvPassTime {
  bool ok = false;
  double ms = 0;
};
struct ConvLayoutChoice {
  bool forward_nchw = false, backward_data_nchw = false, backward_filter_nchw = false;
};

// Per pass, the layout whose cuDNN time plus the transposes it adds is smaller (NHWC on a tie).
// tx and ty: one transpose of x and of y at this batch (ms).
// - Forward in NCHW transposes x (tx). Its transpose back to NHWC carries the bias and activation,
//   which NHWC does in a pass of its own, so that one is not counted.
// - Backward: one transpose of dy (ty) serves both NCHW passes; backward-data in NCHW transposes dx
//   back (tx); backward-filter in NCHW needs x in NCHW (tx), unless the forward left it there.
// - Without needs_dx backward-data never runs and costs nothing.
// - forced_nchw: every pass NCHW where NCHW has an algorithm.
// A layout whose pass has no algorithm (not ok) is never chosen for it; the caller makes sure one
// of the two has.
ConvLayoutChoice choose_conv_layouts(const ConvPassTime (&nhwc)[3], const ConvPassTime (&nchw)[3], double tx, double ty,
                                     bool needs_dx, bool forced_nchw);

}  // namespace dpt::kernels
