// Conv2D on the GPU through cuDNN, NHWC. Keras's (kh, kw, in, out) kernel stays the canonical
// copy; the plan keeps cuDNN's KRSC filter (out, kh, kw, in), refreshed by each forward, and turns
// its gradient back into Keras's layout (adding, as gradients accumulate). TensorFlow's 'same'
// padding puts an odd extra row/column at the bottom/right, which cuDNN's symmetric padding cannot
// express: then the input is copied into a zero-padded buffer and convolved without padding.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>
#include "kernels/conv2d.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_resources.h"
#include "kernels/elementwise.h"

// The legacy convolution API (cudnnConvolutionForward, ..._v7 heuristics) is deprecated in cuDNN 9
// but kept; it is the direct way to run one NHWC convolution.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace dpt::kernels {

namespace {
constexpr size_t kMaxWorkspace = size_t(512) << 20;

unsigned blocks(int64_t n) {
  const int64_t b = (n + 255) / 256;
  return unsigned(b < 16384 ? (b > 0 ? b : 1) : 16384);
}
}  // namespace

struct ConvAlgos {
  int64_t n = -1;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
};

struct ConvPlan {
  int device = 0;
  cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
  cudnnFilterDescriptor_t wd = nullptr;
  cudnnConvolutionDescriptor_t cd = nullptr;
  ConvAlgos algos;              // for desc_n
  std::vector<ConvAlgos> known;  // measured, one per batch size seen
  size_t reserved = 0;   // scratch bytes reserved on the resources
  int64_t desc_n = -1;   // the batch the descriptors and algorithms are set for
  bool padded = false;   // asymmetric 'same' padding: convolve an explicitly padded copy
  int64_t hp = 0, wp = 0;
  DeviceBuffer filter, dfilter, xpad, dxpad;
  ~ConvPlan() {
    if (xd) cudnnDestroyTensorDescriptor(xd);
    if (yd) cudnnDestroyTensorDescriptor(yd);
    if (wd) cudnnDestroyFilterDescriptor(wd);
    if (cd) cudnnDestroyConvolutionDescriptor(cd);
  }
};

#define DPT_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// filter[o][r][s][i] = kernel[r][s][i][o]
__global__ void kernel_to_krsc_kernel(const float* kernel, float* filter, int64_t rsc, int64_t oc) {
  DPT_GRID_STRIDE(j, rsc * oc) {
    const int64_t o = j / rsc, q = j % rsc;
    filter[j] = kernel[q * oc + o];
  }
}

// dkernel[r][s][i][o] += dfilter[o][r][s][i]
__global__ void krsc_grad_add_kernel(const float* dfilter, float* dkernel, int64_t rsc, int64_t oc) {
  DPT_GRID_STRIDE(j, rsc * oc) {
    const int64_t q = j / oc, o = j % oc;
    dkernel[j] += dfilter[o * rsc + q];
  }
}

// xpad (n, hp, wp, c) = x placed at (pad_top, pad_left), zeros around.
__global__ void pad_kernel(const float* x, float* xpad, int64_t n, int64_t h, int64_t w, int64_t c, int64_t hp,
                           int64_t wp, int64_t top, int64_t left) {
  DPT_GRID_STRIDE(j, n * hp * wp * c) {
    const int64_t k = j % c, xx = (j / c) % wp - left, yy = (j / (c * wp)) % hp - top, s = j / (c * wp * hp);
    xpad[j] = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? x[((s * h + yy) * w + xx) * c + k] : 0.f;
  }
}

// dx (n, h, w, c) = the interior of dxpad.
__global__ void crop_kernel(const float* dxpad, float* dx, int64_t n, int64_t h, int64_t w, int64_t c, int64_t hp,
                            int64_t wp, int64_t top, int64_t left) {
  DPT_GRID_STRIDE(j, n * h * w * c) {
    const int64_t k = j % c, xx = (j / c) % w, yy = (j / (c * w)) % h, s = j / (c * w * h);
    dx[j] = dxpad[((s * hp + yy + top) * wp + xx + left) * c + k];
  }
}

namespace {

// The first usable algorithm of cuDNN's ranking whose workspace fits `limit` (deterministic ones
// only when asked).
template <typename Perf>
decltype(Perf::algo) pick_algo(const Perf* perf, int got, size_t limit, bool deterministic, const char* what) {
  for (int i = 0; i < got; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= limit &&
        (!deterministic || perf[i].determinism == CUDNN_DETERMINISTIC))
      return perf[i].algo;
  DPT_FAIL("cuDNN offers no " << (deterministic ? "deterministic " : "") << what
                              << " algorithm for this Conv2D within " << (limit >> 20) << " MiB of workspace");
}

// DPT_CUDNN_LOG=1 prints each measured ranking to stderr (which algorithm, time, workspace, determinism).
template <typename Perf>
void log_ranking(const Perf* perf, int got, int picked, const char* what, const Conv2dGeom& g, int64_t n) {
  static const bool on = [] {
    const char* v = std::getenv("DPT_CUDNN_LOG");
    return v && *v && std::string(v) != "0";
  }();
  if (!on) return;
  std::fprintf(stderr, "cuDNN %s (%lld,%lld,%lld,%lld)->%lld k%lldx%lld:", what, (long long)n, (long long)g.h,
               (long long)g.w, (long long)g.c, (long long)g.oc, (long long)g.kh, (long long)g.kw);
  for (int i = 0; i < got; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS)
      std::fprintf(stderr, " %s%d=%.3fms/%zuKiB%s", int(perf[i].algo) == picked ? "*" : "", int(perf[i].algo),
                   double(perf[i].time), perf[i].memory >> 10, perf[i].determinism == CUDNN_DETERMINISTIC ? "" : "(nd)");
  std::fprintf(stderr, "\n");
}

// Descriptors for batch n and its algorithms, remembered per batch size (a plan sees two at most in
// a fit: the batch and the last, smaller one). By default the fastest whose workspace fits `limit`
// bytes, timed by cuDNN (cudnnFind*, as PyTorch's cudnn.benchmark and TensorFlow's autotuning), even
// where it adds with atomics (backward-filter's fastest often does: a few ulps from run to run).
// With r.deterministic() (--deterministic), only algorithms that repeat bit for bit, taken from
// cuDNN's heuristic ranking: a choice that timings cannot change between runs.
void set_batch(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, int64_t n, size_t limit) {
  if (p.desc_n == n) return;
  const int64_t h = p.padded ? p.hp : g.h, w = p.padded ? p.wp : g.w;
  DPT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, int(n), int(g.c), int(h), int(w)));
  DPT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, int(n), int(g.oc), int(g.oh),
                                             int(g.ow)));
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
                                                        << outs[1] << ") where TensorFlow's rules give (" << n
                                                        << ", " << g.oh << ", " << g.ow << ", " << g.oc << ")");
  // cudnnFind* runs every algorithm on memory of its own and synchronises the device: a plan-time
  // cost (milliseconds), never a steady-state one.
  const bool det = r.deterministic();
  const int kMax = 16;
  int got = 0;
  ConvAlgos a;
  a.n = n;
  cudnnConvolutionFwdAlgoPerf_t fp[kMax];
  if (det)
    DPT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(r.cudnn(), p.xd, p.wd, p.cd, p.yd, kMax, &got, fp));
  else
    DPT_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(r.cudnn(), p.xd, p.wd, p.cd, p.yd, kMax, &got, fp));
  a.fwd = pick_algo(fp, got, limit, det, "forward");
  log_ranking(fp, got, int(a.fwd), "forward", g, n);
  DPT_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(r.cudnn(), p.xd, p.wd, p.cd, p.yd, a.fwd, &a.fwd_ws));

  cudnnConvolutionBwdDataAlgoPerf_t dp[kMax];
  if (det)
    DPT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(r.cudnn(), p.wd, p.yd, p.cd, p.xd, kMax, &got, dp));
  else
    DPT_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(r.cudnn(), p.wd, p.yd, p.cd, p.xd, kMax, &got, dp));
  a.bwd_data = pick_algo(dp, got, limit, det, "backward-data");
  log_ranking(dp, got, int(a.bwd_data), "backward-data", g, n);
  DPT_CUDNN_CHECK(
      cudnnGetConvolutionBackwardDataWorkspaceSize(r.cudnn(), p.wd, p.yd, p.cd, p.xd, a.bwd_data, &a.bwd_data_ws));

  cudnnConvolutionBwdFilterAlgoPerf_t wp[kMax];
  if (det)
    DPT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(r.cudnn(), p.xd, p.yd, p.cd, p.wd, kMax, &got, wp));
  else
    DPT_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(r.cudnn(), p.xd, p.yd, p.cd, p.wd, kMax, &got, wp));
  a.bwd_filter = pick_algo(wp, got, limit, det, "backward-filter");
  log_ranking(wp, got, int(a.bwd_filter), "backward-filter", g, n);
  DPT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(r.cudnn(), p.xd, p.yd, p.cd, p.wd, a.bwd_filter,
                                                                 &a.bwd_filter_ws));
  p.known.push_back(a);
  p.algos = a;
}

}  // namespace

ConvPlan* conv2d_plan_create(CudaResources& r, const Conv2dGeom& g) {
  auto p = std::make_unique<ConvPlan>();
  p->device = r.device();
  DPT_CUDA_CHECK(cudaSetDevice(r.device()));
  DPT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->xd));
  DPT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->yd));
  DPT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->wd));
  DPT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->cd));
  // TensorFlow: pad_total = max((out - 1) * stride + k - in, 0), the odd one at the bottom/right.
  const int64_t pad_h = std::max<int64_t>((g.oh - 1) * g.sh + g.kh - g.h, 0);
  const int64_t pad_w = std::max<int64_t>((g.ow - 1) * g.sw + g.kw - g.w, 0);
  const int64_t bottom = pad_h - g.pad_top, right = pad_w - g.pad_left;
  p->padded = (g.pad_top > 0 || g.pad_left > 0 || bottom > 0 || right > 0) && (bottom != g.pad_top || right != g.pad_left);
  p->hp = g.h + g.pad_top + std::max<int64_t>(bottom, 0);
  p->wp = g.w + g.pad_left + std::max<int64_t>(right, 0);
  DPT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, int(g.oc), int(g.c),
                                             int(g.kh), int(g.kw)));
  DPT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->cd, p->padded ? 0 : int(g.pad_top), p->padded ? 0 : int(g.pad_left),
                                                  int(g.sh), int(g.sw), 1, 1, CUDNN_CROSS_CORRELATION,
                                                  CUDNN_DATA_FLOAT));
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
  set_batch(r, *p, g, g.n, kMaxWorkspace);
  p->reserved = std::max<size_t>({p->algos.fwd_ws, p->algos.bwd_data_ws, p->algos.bwd_filter_ws, cuda_reduce_scratch_bytes(g.oc)});
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
  const int64_t rsc = g.kh * g.kw * g.c;
  kernel_to_krsc_kernel<<<blocks(rsc * g.oc), 256, 0, r.stream()>>>(kernel, p.filter.floats(), rsc, g.oc);
  DPT_CUDA_LAUNCH_CHECK();
  const float* in = x;
  if (p.padded) {
    pad_kernel<<<blocks(g.n * p.hp * p.wp * g.c), 256, 0, r.stream()>>>(x, p.xpad.floats(), g.n, g.h, g.w, g.c, p.hp,
                                                                        p.wp, g.pad_top, g.pad_left);
    DPT_CUDA_LAUNCH_CHECK();
    in = p.xpad.floats();
  }
  const float one = 1.f, zero = 0.f;
  DPT_CUDNN_CHECK(cudnnConvolutionForward(r.cudnn(), &one, p.xd, in, p.wd, p.filter.data(), p.cd, p.algos.fwd,
                                          r.scratch(p.algos.fwd_ws), p.algos.fwd_ws, &zero, p.yd, y));
  bias_activation_cuda(act, y, bias, g.n * g.oh * g.ow, g.oc, r);  // one pass for both
}

void conv2d_backward_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* x, const float* y,
                          Activation act, float* dy, float* dx, float* dkernel, float* dbias) {
  if (g.n == 0) return;
  set_batch(r, p, g, g.n, p.reserved);
  // The activation's gradient (in place) and the bias gradient in one pass, before cuDNN reads dy.
  activation_bias_grad_cuda(act, y, dy, dbias, g.n * g.oh * g.ow, g.oc, r);
  const float one = 1.f, zero = 0.f;
  const int64_t rsc = g.kh * g.kw * g.c;
  const float* in = p.padded ? p.xpad.floats() : x;  // the forward's padded copy of this x
  DPT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(r.cudnn(), &one, p.xd, in, p.yd, dy, p.cd, p.algos.bwd_filter,
                                                 r.scratch(p.algos.bwd_filter_ws), p.algos.bwd_filter_ws, &zero, p.wd,
                                                 p.dfilter.data()));
  krsc_grad_add_kernel<<<blocks(rsc * g.oc), 256, 0, r.stream()>>>(p.dfilter.floats(), dkernel, rsc, g.oc);
  DPT_CUDA_LAUNCH_CHECK();
  if (!dx) return;
  float* out = p.padded ? p.dxpad.floats() : dx;
  DPT_CUDNN_CHECK(cudnnConvolutionBackwardData(r.cudnn(), &one, p.wd, p.filter.data(), p.yd, dy, p.cd, p.algos.bwd_data,
                                               r.scratch(p.algos.bwd_data_ws), p.algos.bwd_data_ws, &zero, p.xd, out));
  if (p.padded) {
    crop_kernel<<<blocks(g.n * g.h * g.w * g.c), 256, 0, r.stream()>>>(out, dx, g.n, g.h, g.w, g.c, p.hp, p.wp,
                                                                       g.pad_top, g.pad_left);
    DPT_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace dpt::kernels
