// Conv2D on the GPU. Activations stay NHWC and Keras's (kh, kw, in, out) kernel stays the canonical
// copy. Each pass (forward, backward-data, backward-filter) takes the route measured fastest for its
// shape and batch (conv2d_layout.h): cuDNN on NHWC (its KRSC filter, out, kh, kw, in); cuDNN on NCHW
// with tiled transposes around it (its KCRS filter, out, in, kh, kw); or im2col + one cuBLAS GEMM
// against Keras's kernel (conv2d_gemm_cuda.cu). FP32 NHWC kernels are often slower than NCHW ones
// (on an H100, cifar10-cnn's forward took 545 us NHWC where PyTorch's NCHW took 297 us), and a
// transpose costs one pass over the tensor. The forward's transpose back to NHWC carries the bias
// and activation, in place of their own pass. The plan keeps the filter copies (refreshed by each
// forward) and turns the filter gradient back into Keras's layout (adding, as gradients
// accumulate). TensorFlow's 'same' padding puts an odd extra row/column at the bottom/right, which
// cuDNN's symmetric padding cannot express: then cuDNN convolves a zero-padded copy of the input
// (NHWC only), or the GEMM's patches hold the padding. The layout changes themselves are
// reorder_cuda.cu's, and cuDNN's algorithm ranking conv2d_cudnn.cpp's.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>
#include "kernels/activation_math.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/conv2d_gemm.h"
#include "kernels/conv2d_layout.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_resources.h"
#include "kernels/elementwise.h"
#include "kernels/reorder.h"

// The legacy convolution API (cudnnConvolutionForward, ..._v7 heuristics) is deprecated in cuDNN 9
// but kept; it is the direct way to run one convolution in a given layout.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace dpt::kernels {

namespace {
constexpr size_t kMaxWorkspace = size_t(512) << 20;
}  // namespace

struct ConvAlgos {
  int64_t n = -1;
  ConvLayoutChoice route;  // each pass's route; cuDNN's algorithm and workspace for those it runs
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
};

struct ConvPlan {
  int device = 0;
  cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;    // NHWC
  cudnnTensorDescriptor_t xdt = nullptr, ydt = nullptr;  // NCHW
  cudnnFilterDescriptor_t wd = nullptr, wdt = nullptr;   // KRSC, KCRS
  cudnnConvolutionDescriptor_t cd = nullptr;
  ConvAlgos algos;               // for desc_n
  std::vector<ConvAlgos> known;  // one per batch size seen
  size_t reserved = 0;           // scratch bytes reserved on the resources
  int64_t desc_n = -1;           // the batch the descriptors and algorithms are set for
  bool needs_dx = true;          // false: backward-data is never run (a model's first weighted layer)
  bool padded = false;           // asymmetric 'same' padding: convolve an explicitly padded copy
  int64_t hp = 0, wp = 0;
  ConvLayout layout = ConvLayout::automatic;
  // Measured at plan creation (largest batch), per sample: one transpose of x and of y; the GEMM
  // route's passes, im2col and col2im.
  double x_transpose_ms = 0, y_transpose_ms = 0;
  ConvGemmTimes gemm;
  DeviceBuffer filter, dfilter, xpad, dxpad;
  // NCHW passes: the KCRS filter, x (forward to backward-filter; then backward-data's dx), y / dy.
  // GEMM passes: the patch matrix (forward to backward-filter; then backward-data's patch
  // gradients). Allocated when the largest batch's choice uses the route; smaller batches use it
  // only then.
  DeviceBuffer filter_t, x_t, y_t, col;
  ~ConvPlan() {
    for (cudnnTensorDescriptor_t t : {xd, yd, xdt, ydt})
      if (t) cudnnDestroyTensorDescriptor(t);
    for (cudnnFilterDescriptor_t f : {wd, wdt})
      if (f) cudnnDestroyFilterDescriptor(f);
    if (cd) cudnnDestroyConvolutionDescriptor(cd);
  }
};

namespace {

// Milliseconds per sample of one transpose of an (n, rows, cols) tensor, timed on r's stream.
double time_transpose(CudaResources& r, int64_t n, int64_t rows, int64_t cols) {
  const size_t bytes = size_t(n * rows * cols) * sizeof(float);
  DeviceBuffer a(r.device(), bytes), b(r.device(), bytes);
  return time_on_stream(r, [&] { transpose_cuda(a.floats(), b.floats(), n, rows, cols, r.stream()); }) / double(n);
}

// Descriptors for batch n and its algorithms and layouts, remembered per batch size (a plan sees
// two at most in a fit: the batch and the last, smaller one). cudnnFind* runs every algorithm on
// memory of its own and synchronises the device: a plan-time cost (milliseconds), never a
// steady-state one.
void set_batch(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, int64_t n, size_t limit) {
  if (p.desc_n == n) return;
  const int64_t h = p.padded ? p.hp : g.h, w = p.padded ? p.wp : g.w;
  DPT_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p.xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, int(n), int(g.c), int(h), int(w)));
  DPT_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p.yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, int(n), int(g.oc), int(g.oh), int(g.ow)));
  DPT_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p.xdt, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(n), int(g.c), int(h), int(w)));
  DPT_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p.ydt, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(n), int(g.oc), int(g.oh), int(g.ow)));
  p.desc_n = n;
  for (const ConvAlgos& a : p.known)
    if (a.n == n) {
      p.algos = a;
      return;
    }
  int outs[4] = {0, 0, 0, 0};
  DPT_CUDNN_CHECK(cudnnGetConvolutionNdForwardOutputDim(p.cd, p.xd, p.wd, 4, outs));
  DPT_CHECK(outs[0] == n && outs[1] == g.oc && outs[2] == g.oh && outs[3] == g.ow,
            "cuDNN computes a convolution output of (" << outs[0] << ", " << outs[2] << ", " << outs[3] << ", "
                                                       << outs[1] << ") where TensorFlow's rules give (" << n << ", "
                                                       << g.oh << ", " << g.ow << ", " << g.oc << ")");
  // Which routes may run: NCHW needs an unpadded convolution, GEMM a patch matrix within the
  // workspace limit, and after the largest batch each its buffers; automatic choice needs timings
  // (not --deterministic).
  const bool first = p.known.empty();
  const bool timed = p.layout == ConvLayout::automatic && !r.deterministic();
  const bool nchw_possible = !p.padded && (first || p.x_t.data() != nullptr);
  const bool gemm_possible = p.gemm.pass[kConvForward].ok && (first || p.col.data() != nullptr);
  const bool try_nchw = nchw_possible && (p.layout == ConvLayout::nchw || timed);
  const bool try_gemm = gemm_possible && (p.layout == ConvLayout::gemm || timed);
  const bool try_nhwc =
      (p.layout != ConvLayout::nchw || !nchw_possible) && (p.layout != ConvLayout::gemm || !gemm_possible);
  Ranked nhwc[3], nchw[3];
  ConvTimes t;
  for (ConvPass pass : {kConvForward, kConvBackwardData, kConvBackwardFilter}) {
    const int k = pass;
    if (pass == kConvBackwardData && !p.needs_dx) continue;
    if (try_nhwc) nhwc[k] = cudnn_rank(r, pass, p.xd, p.wd, p.cd, p.yd, limit, false, g, n);
    if (try_nchw) nchw[k] = cudnn_rank(r, pass, p.xdt, p.wdt, p.cd, p.ydt, limit, true, g, n);
    t[int(ConvRoute::nhwc)][k] = {nhwc[k].ok(), nhwc[k].ms};
    t[int(ConvRoute::nchw)][k] = {nchw[k].ok(), nchw[k].ms};
    t[int(ConvRoute::gemm)][k] = {try_gemm && p.gemm.pass[k].ok, p.gemm.pass[k].ms * double(n)};
    DPT_CHECK(nhwc[k].ok() || nchw[k].ok() || t[int(ConvRoute::gemm)][k].ok,
              "cuDNN offers no " << (r.deterministic() ? "deterministic " : "") << conv_pass_name(pass)
                                 << " algorithm for this Conv2D within " << (limit >> 20) << " MiB of workspace");
  }
  // Costs: each route's times plus the transposes or patch matrices it adds (measured per sample).
  // dy's NCHW copy is written by the activation-gradient pass that runs anyway, so its full
  // transpose (ty) is an upper bound: NCHW backward passes are chosen only when they win even so.
  const double dn = double(n);
  const ConvExtraCosts extra{p.x_transpose_ms * dn, p.y_transpose_ms * dn, p.gemm.im2col_ms * dn,
                             p.gemm.col2im_ms * dn};
  ConvAlgos a;
  a.n = n;
  a.route = choose_conv_layouts(t, extra, p.needs_dx, p.layout);
  if (!p.needs_dx) nhwc[1] = {0, 0, 0.0};              // never run: any algorithm, no workspace
  auto pick = [&](ConvRoute route, int k) -> Ranked {  // GEMM: no cuDNN algorithm, no workspace
    return route == ConvRoute::nchw ? nchw[k] : route == ConvRoute::gemm ? Ranked{0, 0, 0.0} : nhwc[k];
  };
  const Ranked f = pick(a.route.forward, 0), d = pick(a.route.backward_data, 1), wf = pick(a.route.backward_filter, 2);
  a.fwd = cudnnConvolutionFwdAlgo_t(f.algo);
  a.bwd_data = cudnnConvolutionBwdDataAlgo_t(d.algo);
  a.bwd_filter = cudnnConvolutionBwdFilterAlgo_t(wf.algo);
  a.fwd_ws = f.ws;
  a.bwd_data_ws = d.ws;
  a.bwd_filter_ws = wf.ws;
  if (cudnn_log_on())
    std::fprintf(stderr,
                 "cuDNN layouts for batch %lld: forward %s, backward-data %s, backward-filter %s "
                 "(transposes %.3f ms x, %.3f ms y; im2col %.3f ms, col2im %.3f ms)\n",
                 (long long)n, conv_route_name(a.route.forward), conv_route_name(a.route.backward_data),
                 conv_route_name(a.route.backward_filter), extra.tx, extra.ty, extra.im2col, extra.col2im);
  if (first && a.route.any(ConvRoute::nchw)) {  // buffers for the largest batch
    p.filter_t = DeviceBuffer(r.device(), p.filter.bytes());
    p.x_t = DeviceBuffer(r.device(), size_t(n * g.h * g.w * g.c) * sizeof(float));
    p.y_t = DeviceBuffer(r.device(), size_t(n * g.oh * g.ow * g.oc) * sizeof(float));
  }
  if (first && a.route.any(ConvRoute::gemm)) p.col = DeviceBuffer(r.device(), conv_gemm_col_bytes(g));
  p.known.push_back(a);
  p.algos = a;
}

}  // namespace

ConvPlan* conv2d_plan_create(CudaResources& r, const Conv2dGeom& g, bool needs_dx) {
  auto p = std::make_unique<ConvPlan>();
  p->device = r.device();
  DPT_CUDA_CHECK(cudaSetDevice(r.device()));
  DPT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->xd));
  DPT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->yd));
  DPT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->xdt));
  DPT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->ydt));
  DPT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->wd));
  DPT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->wdt));
  DPT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->cd));
  // TensorFlow: pad_total = max((out - 1) * stride + k - in, 0), the odd one at the bottom/right.
  const int64_t pad_h = std::max<int64_t>((g.oh - 1) * g.sh + g.span_h() - g.h, 0);
  const int64_t pad_w = std::max<int64_t>((g.ow - 1) * g.sw + g.span_w() - g.w, 0);
  const int64_t bottom = pad_h - g.pad_top, right = pad_w - g.pad_left;
  p->padded =
      (g.pad_top > 0 || g.pad_left > 0 || bottom > 0 || right > 0) && (bottom != g.pad_top || right != g.pad_left);
  p->hp = g.h + g.pad_top + std::max<int64_t>(bottom, 0);
  p->wp = g.w + g.pad_left + std::max<int64_t>(right, 0);
  p->layout = r.conv_layout();
  p->needs_dx = needs_dx;
  DPT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, int(g.oc), int(g.c), int(g.kh),
                                             int(g.kw)));
  DPT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->wdt, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(g.oc), int(g.c),
                                             int(g.kh), int(g.kw)));
  DPT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->cd, p->padded ? 0 : int(g.pad_top),
                                                  p->padded ? 0 : int(g.pad_left), int(g.sh), int(g.sw), int(g.dh),
                                                  int(g.dw), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // FP32 FMA math tracks the CPU; TF32 tensor cores only when --tf32 allows them.
  DPT_CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, r.tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  const size_t kernel_bytes = size_t(g.kh * g.kw * g.c * g.oc) * sizeof(float);
  p->filter = DeviceBuffer(r.device(), kernel_bytes);
  p->dfilter = DeviceBuffer(r.device(), kernel_bytes);
  if (p->padded) {
    const size_t bytes = size_t(g.n * p->hp * p->wp * g.c) * sizeof(float);
    p->xpad = DeviceBuffer(r.device(), bytes);
    p->dxpad = DeviceBuffer(r.device(), bytes);
  }
  const bool timed = p->layout == ConvLayout::automatic && !r.deterministic();
  if (!p->padded && timed) {
    p->x_transpose_ms = time_transpose(r, g.n, g.h * g.w, g.c);
    p->y_transpose_ms = time_transpose(r, g.n, g.oc, g.oh * g.ow);
  }
  if (timed || p->layout == ConvLayout::gemm) p->gemm = time_conv_gemm(r, g, needs_dx, kMaxWorkspace);
  set_batch(r, *p, g, g.n, kMaxWorkspace);
  p->reserved = std::max<size_t>(
      {p->algos.fwd_ws, p->algos.bwd_data_ws, p->algos.bwd_filter_ws, cuda_reduce_scratch_bytes(g.oc)});
  r.reserve(p->reserved);
  return p.release();
}

void conv2d_plan_destroy(ConvPlan* p) noexcept {
  if (!p) return;
  cudaSetDevice(p->device);
  delete p;
}

void conv2d_forward_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* x, const float* kernel,
                         const float* bias, Activation act, float* y) {
  if (g.n == 0) return;
  set_batch(r, p, g, g.n, p.reserved);
  const ConvAlgos& a = p.algos;
  const int64_t rs = g.kh * g.kw;
  // The filter copies the passes of this step read (backward-data reads the forward's); the GEMM
  // route reads Keras's kernel itself.
  const ConvLayoutChoice& route = a.route;
  const bool data_runs = p.needs_dx;
  if (route.forward == ConvRoute::nhwc || (data_runs && route.backward_data == ConvRoute::nhwc))
    filter_from_kernel_cuda(FilterLayout::krsc, kernel, p.filter.floats(), rs, g.c, g.oc, r.stream());
  if (route.forward == ConvRoute::nchw || (data_runs && route.backward_data == ConvRoute::nchw))
    filter_from_kernel_cuda(FilterLayout::kcrs, kernel, p.filter_t.floats(), rs, g.c, g.oc, r.stream());
  if (route.forward == ConvRoute::gemm) {  // y = patches . kernel, then bias and activation in one pass
    conv2d_gemm_forward_cuda(r, g, x, kernel, p.col.floats(), y);
    bias_activation_cuda(act, y, bias, g.n * g.oh * g.ow, g.oc, r);
    return;
  }
  const float one = 1.f, zero = 0.f;
  if (route.forward == ConvRoute::nchw) {
    // x (n, h*w, c) -> (n, c, h*w); y_t (n, oc, oh*ow) -> y (n, oh*ow, oc) with bias and activation.
    transpose_cuda(x, p.x_t.floats(), g.n, g.h * g.w, g.c, r.stream());
    DPT_CUDNN_CHECK(cudnnConvolutionForward(r.cudnn(), &one, p.xdt, p.x_t.data(), p.wdt, p.filter_t.data(), p.cd, a.fwd,
                                            r.scratch(a.fwd_ws), a.fwd_ws, &zero, p.ydt, p.y_t.data()));
    if (act == Activation::softmax) {  // a row operation: transpose, then the fused pass
      transpose_cuda(p.y_t.floats(), y, g.n, g.oc, g.oh * g.ow, r.stream());
      bias_activation_cuda(act, y, bias, g.n * g.oh * g.ow, g.oc, r);
    } else {
      transpose_cuda(p.y_t.floats(), y, g.n, g.oc, g.oh * g.ow, r.stream(), bias, act);
    }
    return;
  }
  const float* in = x;
  if (p.padded) {
    pad_nhwc_cuda(x, p.xpad.floats(), g.n, g.h, g.w, g.c, p.hp, p.wp, g.pad_top, g.pad_left, r.stream());
    in = p.xpad.floats();
  }
  DPT_CUDNN_CHECK(cudnnConvolutionForward(r.cudnn(), &one, p.xd, in, p.wd, p.filter.data(), p.cd, a.fwd,
                                          r.scratch(a.fwd_ws), a.fwd_ws, &zero, p.yd, y));
  bias_activation_cuda(act, y, bias, g.n * g.oh * g.ow, g.oc, r);  // one pass for both
}

namespace {

// Backward-filter on the plan's route: dkernel += the gradient from x and dy. What earlier passes
// of the step left in the plan's buffers: y_t_ready, dy in NCHW in y_t; x_t_ready, x in NCHW in
// x_t; col_ready, x's patches in col; xpad_ready, x's padded copy in xpad.
void filter_pass(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* x, const float* dy, float* dkernel,
                 bool y_t_ready, bool x_t_ready, bool col_ready, bool xpad_ready) {
  const ConvAlgos& a = p.algos;
  const float one = 1.f, zero = 0.f;
  const int64_t rs = g.kh * g.kw;
  const ConvRoute route = a.route.backward_filter;
  if (route == ConvRoute::gemm) {  // straight into Keras's kernel gradient
    conv2d_gemm_backward_filter_cuda(r, g, x, dy, p.col.floats(), col_ready, dkernel);
  } else if (route == ConvRoute::nchw) {
    if (!x_t_ready) transpose_cuda(x, p.x_t.floats(), g.n, g.h * g.w, g.c, r.stream());
    if (!y_t_ready) transpose_cuda(dy, p.y_t.floats(), g.n, g.oh * g.ow, g.oc, r.stream());
    DPT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(r.cudnn(), &one, p.xdt, p.x_t.data(), p.ydt, p.y_t.data(), p.cd,
                                                   a.bwd_filter, r.scratch(a.bwd_filter_ws), a.bwd_filter_ws, &zero,
                                                   p.wdt, p.dfilter.data()));
    kernel_grad_add_cuda(FilterLayout::kcrs, p.dfilter.floats(), dkernel, rs, g.c, g.oc, r.stream());
  } else {
    if (p.padded && !xpad_ready)
      pad_nhwc_cuda(x, p.xpad.floats(), g.n, g.h, g.w, g.c, p.hp, p.wp, g.pad_top, g.pad_left, r.stream());
    const float* in = p.padded ? p.xpad.floats() : x;
    DPT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(r.cudnn(), &one, p.xd, in, p.yd, dy, p.cd, a.bwd_filter,
                                                   r.scratch(a.bwd_filter_ws), a.bwd_filter_ws, &zero, p.wd,
                                                   p.dfilter.data()));
    kernel_grad_add_cuda(FilterLayout::krsc, p.dfilter.floats(), dkernel, rs, g.c, g.oc, r.stream());
  }
}

// Backward-data on the plan's route: dx = the input gradient from dy, through the filter copy the
// route reads (refreshed by the caller). y_t_ready: dy in NCHW in y_t. x_t, col and dxpad are
// overwritten.
void data_pass(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* kernel, const float* dy, float* dx,
               bool y_t_ready) {
  const ConvAlgos& a = p.algos;
  const float one = 1.f, zero = 0.f;
  const ConvRoute route = a.route.backward_data;
  if (route == ConvRoute::gemm) {
    conv2d_gemm_backward_data_cuda(r, g, dy, kernel, p.col.floats(), dx);
  } else if (route == ConvRoute::nchw) {  // into x_t, then to NHWC
    if (!y_t_ready) transpose_cuda(dy, p.y_t.floats(), g.n, g.oh * g.ow, g.oc, r.stream());
    DPT_CUDNN_CHECK(cudnnConvolutionBackwardData(r.cudnn(), &one, p.wdt, p.filter_t.data(), p.ydt, p.y_t.data(), p.cd,
                                                 a.bwd_data, r.scratch(a.bwd_data_ws), a.bwd_data_ws, &zero, p.xdt,
                                                 p.x_t.data()));
    transpose_cuda(p.x_t.floats(), dx, g.n, g.c, g.h * g.w, r.stream());
  } else {
    float* out = p.padded ? p.dxpad.floats() : dx;
    DPT_CUDNN_CHECK(cudnnConvolutionBackwardData(r.cudnn(), &one, p.wd, p.filter.data(), p.yd, dy, p.cd, a.bwd_data,
                                                 r.scratch(a.bwd_data_ws), a.bwd_data_ws, &zero, p.xd, out));
    if (p.padded) crop_nhwc_cuda(out, dx, g.n, g.h, g.w, g.c, p.hp, p.wp, g.pad_top, g.pad_left, r.stream());
  }
}

}  // namespace

void conv2d_backward_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* x, const float* kernel,
                          const float* y, Activation act, float* dy, float* dx, float* dkernel, float* dbias) {
  if (g.n == 0) return;
  set_batch(r, p, g, g.n, p.reserved);
  DPT_CHECK(!dx || p.needs_dx, "Conv2D: an input gradient was asked of a plan made without one");
  // The activation's gradient and the bias gradient in one pass, before cuDNN reads dy: in place, and
  // when an NCHW pass reads dy, to y_t (n, oc, oh*ow) too (in place only if an NHWC pass reads it).
  const ConvLayoutChoice& route = p.algos.route;
  const bool filter_nchw = route.backward_filter == ConvRoute::nchw;
  const bool data_nchw = dx && route.backward_data == ConvRoute::nchw;
  if (filter_nchw || data_nchw)
    activation_bias_grad_nchw_cuda(act, y, dy, dbias, g.n, g.oh * g.ow, g.oc, p.y_t.floats(),
                                   !filter_nchw || (dx && !data_nchw), r);
  else
    activation_bias_grad_cuda(act, y, dy, dbias, g.n * g.oh * g.ow, g.oc, r);
  // The forward left x's NCHW copy, patches or padded copy where it ran on that route; backward-data
  // reads the filter copies the forward refreshed, and overwrites x_t and col after backward-filter.
  filter_pass(r, p, g, x, dy, dkernel, filter_nchw || data_nchw, route.forward == ConvRoute::nchw,
              route.forward == ConvRoute::gemm, route.forward == ConvRoute::nhwc);
  if (dx) data_pass(r, p, g, kernel, dy, dx, filter_nchw || data_nchw);
}

void conv2d_backward_data_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* kernel, const float* dy,
                               float* dx) {
  if (g.n == 0) return;
  set_batch(r, p, g, g.n, p.reserved);
  DPT_CHECK(p.needs_dx, "Conv2D: an input gradient was asked of a plan made without one");
  const ConvRoute route = p.algos.route.backward_data;
  if (route == ConvRoute::nhwc)
    filter_from_kernel_cuda(FilterLayout::krsc, kernel, p.filter.floats(), g.kh * g.kw, g.c, g.oc, r.stream());
  if (route == ConvRoute::nchw)
    filter_from_kernel_cuda(FilterLayout::kcrs, kernel, p.filter_t.floats(), g.kh * g.kw, g.c, g.oc, r.stream());
  data_pass(r, p, g, kernel, dy, dx, false);
}

void conv2d_backward_filter_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* x, const float* dy,
                                 float* dkernel) {
  if (g.n == 0) return;
  set_batch(r, p, g, g.n, p.reserved);
  filter_pass(r, p, g, x, dy, dkernel, false, false, false, false);
}

}  // namespace dpt::kernels
