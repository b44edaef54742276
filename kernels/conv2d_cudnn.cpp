// cuDNN's ranking of a Conv2D pass's algorithms (see conv2d_cudnn.h).
#include "kernels/conv2d_cudnn.h"
#include <cstdio>
#include <cstdlib>
#include <string>
#include "kernels/cuda_check.h"

// The legacy convolution API (cudnnFind*, the _v7 heuristics) is deprecated in cuDNN 9 but kept.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace dpt::kernels {

bool cudnn_log_on() {
  static const bool on = [] {
    const char* v = std::getenv("DPT_CUDNN_LOG");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}

namespace {

template <typename Perf>
Ranked first_fitting(const Perf* perf, int got, size_t limit, bool deterministic, const char* what, const char* layout,
                     const Conv2dGeom& g, int64_t n) {
  Ranked best;
  for (int i = 0; i < got && !best.ok(); ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= limit &&
        (!deterministic || perf[i].determinism == CUDNN_DETERMINISTIC))
      best = {int(perf[i].algo), perf[i].memory, double(perf[i].time)};
  if (cudnn_log_on()) {
    std::fprintf(stderr, "cuDNN %s %s (%lld,%lld,%lld,%lld)->%lld k%lldx%lld:", what, layout, (long long)n,
                 (long long)g.h, (long long)g.w, (long long)g.c, (long long)g.oc, (long long)g.kh, (long long)g.kw);
    for (int i = 0; i < got; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS)
        std::fprintf(stderr, " %s%d=%.3fms/%zuKiB%s", int(perf[i].algo) == best.algo ? "*" : "", int(perf[i].algo),
                     double(perf[i].time), perf[i].memory >> 10,
                     perf[i].determinism == CUDNN_DETERMINISTIC ? "" : "(nd)");
    std::fprintf(stderr, "\n");
  }
  return best;
}

}  // namespace

const char* conv_pass_name(ConvPass p) {
  return p == kConvForward ? "forward" : p == kConvBackwardData ? "backward-data" : "backward-filter";
}

Ranked cudnn_rank(CudaResources& r, ConvPass pass, cudnnTensorDescriptor_t xd, cudnnFilterDescriptor_t wd,
                  cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, size_t limit, bool nchw,
                  const Conv2dGeom& g, int64_t n) {
  const bool det = r.deterministic();
  const char* layout = nchw ? "NCHW" : "NHWC";
  constexpr int kMax = 16;
  int got = 0;
  Ranked best;
  if (pass == kConvForward) {
    cudnnConvolutionFwdAlgoPerf_t perf[kMax];
    DPT_CUDNN_CHECK(det ? cudnnGetConvolutionForwardAlgorithm_v7(r.cudnn(), xd, wd, cd, yd, kMax, &got, perf)
                        : cudnnFindConvolutionForwardAlgorithm(r.cudnn(), xd, wd, cd, yd, kMax, &got, perf));
    best = first_fitting(perf, got, limit, det, conv_pass_name(pass), layout, g, n);
    if (best.ok())
      DPT_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(r.cudnn(), xd, wd, cd, yd,
                                                              cudnnConvolutionFwdAlgo_t(best.algo), &best.ws));
  } else if (pass == kConvBackwardData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[kMax];
    DPT_CUDNN_CHECK(det ? cudnnGetConvolutionBackwardDataAlgorithm_v7(r.cudnn(), wd, yd, cd, xd, kMax, &got, perf)
                        : cudnnFindConvolutionBackwardDataAlgorithm(r.cudnn(), wd, yd, cd, xd, kMax, &got, perf));
    best = first_fitting(perf, got, limit, det, conv_pass_name(pass), layout, g, n);
    if (best.ok())
      DPT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(r.cudnn(), wd, yd, cd, xd,
                                                                   cudnnConvolutionBwdDataAlgo_t(best.algo), &best.ws));
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[kMax];
    DPT_CUDNN_CHECK(det ? cudnnGetConvolutionBackwardFilterAlgorithm_v7(r.cudnn(), xd, yd, cd, wd, kMax, &got, perf)
                        : cudnnFindConvolutionBackwardFilterAlgorithm(r.cudnn(), xd, yd, cd, wd, kMax, &got, perf));
    best = first_fitting(perf, got, limit, det, conv_pass_name(pass), layout, g, n);
    if (best.ok())
      DPT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
          r.cudnn(), xd, yd, cd, wd, cudnnConvolutionBwdFilterAlgo_t(best.algo), &best.ws));
  }
  return best;
}

}  // namespace dpt::kernels
