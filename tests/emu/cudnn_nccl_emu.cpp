// The CPU emulation's cuDNN convolutions and single-rank NCCL (see cuda_emu.h): enough of both for
// the whole CUDA backend to run its layer and training tests on the emulated device.
//
// cuDNN: 4-d tensor and filter descriptors in NCHW or NHWC, 2-d cross-correlation descriptors, and
// the three convolution passes as plain loops over the descriptors' indices (an independent
// reference for the backend's descriptors, filter copies and layout changes); the algorithm
// queries offer one algorithm that needs no workspace. NCCL: communicators of one rank (the
// emulation has one device), where every collective is a copy.
#include <algorithm>
#include <cstring>
#include <vector>
#include "tests/emu/cuda_emu.h"

// ---- cuDNN descriptors -----------------------------------------------------------------------------
// A 4-d array (d0, d1, d2, d3) = (n, c, h, w) of a tensor or (k, c, r, s) of a filter, stored in
// that order (NCHW, and KCRS for a filter) or with the channels last (NHWC; KRSC).
struct Dims4 {
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  int d0 = 0, c = 0, d2 = 0, d3 = 0;
  size_t elements() const { return size_t(d0) * c * d2 * d3; }
  // Element strides of the four indices.
  size_t s0() const { return size_t(c) * d2 * d3; }
  size_t sc() const { return format == CUDNN_TENSOR_NHWC ? 1 : size_t(d2) * d3; }
  size_t s2() const { return format == CUDNN_TENSOR_NHWC ? size_t(d3) * c : size_t(d3); }
  size_t s3() const { return format == CUDNN_TENSOR_NHWC ? size_t(c) : 1; }
};
struct cudnnTensorStruct : Dims4 {};
struct cudnnFilterStruct : Dims4 {};
struct cudnnConvolutionStruct {
  int pad_h = 0, pad_w = 0, u = 1, v = 1, dil_h = 1, dil_w = 1;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
};

namespace {

template <typename D>
cudnnStatus_t create(D** d) {
  *d = new D{};
  return CUDNN_STATUS_SUCCESS;
}
template <typename D>
cudnnStatus_t destroy(D* d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}

// The geometry a pass runs over, checked against the descriptors (cuDNN's BAD_PARAM cases that
// matter here: shapes that do not agree, data types other than float, convolution not correlation).
// Copies of the descriptors: a pass reads them when it is called, and runs later on its stream.
struct ConvShape {
  Dims4 xv, wv;
  cudnnConvolutionStruct cdv;
  Dims4 yv;
  const Dims4* x = &xv;
  const Dims4* w = &wv;
  const cudnnConvolutionStruct* cd = &cdv;
  const Dims4* y = &yv;
  ConvShape(const Dims4* x_, const Dims4* w_, const cudnnConvolutionStruct* cd_, const Dims4* y_)
      : xv(*x_), wv(*w_), cdv(*cd_), yv(*y_) {}
  ConvShape(const ConvShape& o) : ConvShape(o.x, o.w, o.cd, o.y) {}
  ConvShape& operator=(const ConvShape&) = delete;
  int out_h(int h) const { return (h + 2 * cd->pad_h - ((w->d2 - 1) * cd->dil_h + 1)) / cd->u + 1; }
  int out_w(int wd) const { return (wd + 2 * cd->pad_w - ((w->d3 - 1) * cd->dil_w + 1)) / cd->v + 1; }
  bool ok() const {
    return cd->mode == CUDNN_CROSS_CORRELATION && x->c == w->c && y->c == w->d0 && x->d0 == y->d0 &&
           y->d2 == out_h(x->d2) && y->d3 == out_w(x->d3);
  }
  // f(x_at, w_at, y_at, x_c, w_c) for every (sample, output channel, output position, tap) whose
  // input is inside the image (the padding contributes zeros): the offsets of channel 0 and the
  // strides of the channels, over which the products of that tap run.
  template <typename F>
  void each(F&& f) const {
    for (int n = 0; n < y->d0; ++n)
      for (int k = 0; k < y->c; ++k)
        for (int oy = 0; oy < y->d2; ++oy)
          for (int ox = 0; ox < y->d3; ++ox) {
            const size_t y_at = n * y->s0() + k * y->sc() + oy * y->s2() + ox * y->s3();
            for (int r = 0; r < w->d2; ++r) {
              const int iy = oy * cd->u - cd->pad_h + r * cd->dil_h;
              if (iy < 0 || iy >= x->d2) continue;
              for (int s = 0; s < w->d3; ++s) {
                const int ix = ox * cd->v - cd->pad_w + s * cd->dil_w;
                if (ix < 0 || ix >= x->d3) continue;
                f(n * x->s0() + iy * x->s2() + ix * x->s3(), k * w->s0() + r * w->s2() + s * w->s3(), y_at, x->sc(),
                  w->sc());
              }
            }
          }
  }
};

// out = alpha * acc + beta * out, out not read where beta is 0 (cuDNN's blending).
float value(const void* scalar) { return *static_cast<const float*>(scalar); }
void blend(float* out, const std::vector<double>& acc, float a, float b) {
  for (size_t i = 0; i < acc.size(); ++i) out[i] = b == 0.f ? float(a * acc[i]) : float(a * acc[i] + b * out[i]);
}

template <typename Perf, typename Algo>
cudnnStatus_t one_algorithm(int requested, int* returned, Perf* perf) {
  if (requested < 1) return CUDNN_STATUS_BAD_PARAM;
  perf[0] = Perf{};
  perf[0].algo = Algo(0);
  perf[0].status = CUDNN_STATUS_SUCCESS;
  perf[0].time = 1.f;
  perf[0].memory = 0;
  perf[0].determinism = CUDNN_DETERMINISTIC;
  perf[0].mathType = CUDNN_FMA_MATH;
  *returned = 1;
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) { return create(d); }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) { return create(d); }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) { return create(d); }
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { return destroy(d); }

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format, cudnnDataType_t type,
                                         int n, int c, int h, int w) {
  if (type != CUDNN_DATA_FLOAT || (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC) || n <= 0 || c <= 0 ||
      h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *d = cudnnTensorStruct{{format, n, c, h, w}};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
  if (type != CUDNN_DATA_FLOAT || (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC) || k <= 0 || c <= 0 ||
      h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *d = cudnnFilterStruct{{format, k, c, h, w}};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                              int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t type) {
  if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 || dilation_w <= 0 || type != CUDNN_DATA_FLOAT)
    return CUDNN_STATUS_BAD_PARAM;
  *d = cudnnConvolutionStruct{pad_h, pad_w, u, v, dilation_h, dilation_w, mode};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t, cudnnMathType_t) {
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionNdForwardOutputDim(const cudnnConvolutionDescriptor_t cd,
                                                    const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
                                                    int dims, int out[]) {
  if (dims != 4 || x->c != w->c) return CUDNN_STATUS_BAD_PARAM;
  const ConvShape s(x, w, cd, x);
  out[0] = x->d0;
  out[1] = w->d0;
  out[2] = s.out_h(x->d2);
  out[3] = s.out_w(x->d3);
  return CUDNN_STATUS_SUCCESS;
}

// ---- the algorithm queries: one algorithm, no workspace ---------------------------------------------
cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                   const cudnnFilterDescriptor_t, const cudnnConvolutionDescriptor_t,
                                                   const cudnnTensorDescriptor_t, const int requested, int* returned,
                                                   cudnnConvolutionFwdAlgoPerf_t* perf) {
  return one_algorithm<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(requested, returned, perf);
}
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                     const cudnnFilterDescriptor_t w,
                                                     const cudnnConvolutionDescriptor_t cd,
                                                     const cudnnTensorDescriptor_t y, const int requested,
                                                     int* returned, cudnnConvolutionFwdAlgoPerf_t* perf) {
  return cudnnFindConvolutionForwardAlgorithm(h, x, w, cd, y, requested, returned, perf);
}
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithm(cudnnHandle_t, const cudnnFilterDescriptor_t,
                                                        const cudnnTensorDescriptor_t,
                                                        const cudnnConvolutionDescriptor_t,
                                                        const cudnnTensorDescriptor_t, const int requested,
                                                        int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
  return one_algorithm<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(requested, returned, perf);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, const cudnnFilterDescriptor_t w,
                                                          const cudnnTensorDescriptor_t dy,
                                                          const cudnnConvolutionDescriptor_t cd,
                                                          const cudnnTensorDescriptor_t dx, const int requested,
                                                          int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
  return cudnnFindConvolutionBackwardDataAlgorithm(h, w, dy, cd, dx, requested, returned, perf);
}
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithm(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                          const cudnnTensorDescriptor_t,
                                                          const cudnnConvolutionDescriptor_t,
                                                          const cudnnFilterDescriptor_t, const int requested,
                                                          int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
  return one_algorithm<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(requested, returned, perf);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                            const cudnnTensorDescriptor_t dy,
                                                            const cudnnConvolutionDescriptor_t cd,
                                                            const cudnnFilterDescriptor_t dw, const int requested,
                                                            int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
  return cudnnFindConvolutionBackwardFilterAlgorithm(h, x, dy, cd, dw, requested, returned, perf);
}
cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                      const cudnnFilterDescriptor_t, const cudnnConvolutionDescriptor_t,
                                                      const cudnnTensorDescriptor_t, cudnnConvolutionFwdAlgo_t,
                                                      size_t* bytes) {
  *bytes = 0;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t, const cudnnFilterDescriptor_t,
                                                           const cudnnTensorDescriptor_t,
                                                           const cudnnConvolutionDescriptor_t,
                                                           const cudnnTensorDescriptor_t, cudnnConvolutionBwdDataAlgo_t,
                                                           size_t* bytes) {
  *bytes = 0;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                             const cudnnTensorDescriptor_t,
                                                             const cudnnConvolutionDescriptor_t,
                                                             const cudnnFilterDescriptor_t,
                                                             cudnnConvolutionBwdFilterAlgo_t, size_t* bytes) {
  *bytes = 0;
  return CUDNN_STATUS_SUCCESS;
}

// ---- the three passes -------------------------------------------------------------------------------
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void* alpha, const cudnnTensorDescriptor_t xd,
                                      const void* x, const cudnnFilterDescriptor_t wd, const void* w,
                                      const cudnnConvolutionDescriptor_t cd, cudnnConvolutionFwdAlgo_t, void*, size_t,
                                      const void* beta, const cudnnTensorDescriptor_t yd, void* y) {
  const ConvShape s(xd, wd, cd, yd);
  if (!s.ok()) return CUDNN_STATUS_BAD_PARAM;
  const auto* xs = static_cast<const float*>(x);
  const auto* ws = static_cast<const float*>(w);
  dpt::emu::enqueue(dpt::emu::stream_of(h), [s, xs, ws, y, a = value(alpha), b = value(beta)] {
    std::vector<double> acc(s.y->elements(), 0.0);
    const int C = s.x->c;
    s.each([&](size_t xa, size_t wa, size_t ya, size_t xc, size_t wc) {
      double t = 0.0;
      for (int c = 0; c < C; ++c) t += double(xs[xa + c * xc]) * ws[wa + c * wc];
      acc[ya] += t;
    });
    blend(static_cast<float*>(y), acc, a, b);
  });
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void* alpha, const cudnnFilterDescriptor_t wd,
                                           const void* w, const cudnnTensorDescriptor_t dyd, const void* dy,
                                           const cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdDataAlgo_t, void*,
                                           size_t, const void* beta, const cudnnTensorDescriptor_t dxd, void* dx) {
  const ConvShape s(dxd, wd, cd, dyd);
  if (!s.ok()) return CUDNN_STATUS_BAD_PARAM;
  const auto* dys = static_cast<const float*>(dy);
  const auto* ws = static_cast<const float*>(w);
  dpt::emu::enqueue(dpt::emu::stream_of(h), [s, dys, ws, dx, a = value(alpha), b = value(beta)] {
    std::vector<double> acc(s.x->elements(), 0.0);
    const int C = s.x->c;
    s.each([&](size_t xa, size_t wa, size_t ya, size_t xc, size_t wc) {
      const double g = dys[ya];
      for (int c = 0; c < C; ++c) acc[xa + c * xc] += g * ws[wa + c * wc];
    });
    blend(static_cast<float*>(dx), acc, a, b);
  });
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void* alpha, const cudnnTensorDescriptor_t xd,
                                             const void* x, const cudnnTensorDescriptor_t dyd, const void* dy,
                                             const cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdFilterAlgo_t,
                                             void*, size_t, const void* beta, const cudnnFilterDescriptor_t dwd,
                                             void* dw) {
  const ConvShape s(xd, dwd, cd, dyd);
  if (!s.ok()) return CUDNN_STATUS_BAD_PARAM;
  const auto* xs = static_cast<const float*>(x);
  const auto* dys = static_cast<const float*>(dy);
  dpt::emu::enqueue(dpt::emu::stream_of(h), [s, xs, dys, dw, a = value(alpha), b = value(beta)] {
    std::vector<double> acc(s.w->elements(), 0.0);
    const int C = s.x->c;
    s.each([&](size_t xa, size_t wa, size_t ya, size_t xc, size_t wc) {
      const double g = dys[ya];
      for (int c = 0; c < C; ++c) acc[wa + c * wc] += double(xs[xa + c * xc]) * g;
    });
    blend(static_cast<float*>(dw), acc, a, b);
  });
  return CUDNN_STATUS_SUCCESS;
}

// ---- NCCL: communicators of one rank ----------------------------------------------------------------
struct ncclComm {
  int device = 0;
};
// NCCL refuses two ranks on one GPU with ncclInvalidUsage ("Duplicate GPU detected"); the
// emulation has one device, so any communicator of more than one rank is that case.
ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  if (ndev < 1) return ncclInvalidArgument;
  for (int i = 0; i < ndev; ++i)
    if (devlist && devlist[i] != 0) return ncclInvalidArgument;  // no such device
  if (ndev > 1) return ncclInvalidUsage;
  comms[0] = new ncclComm{0};
  return ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  delete comm;
  return ncclSuccess;
}
ncclResult_t ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }

namespace {
size_t type_bytes(ncclDataType_t t) {
  return t == ncclFloat64 || t == ncclInt64 || t == ncclUint64 ? 8 : t == ncclFloat16 || t == ncclBfloat16 ? 2 : 4;
}
ncclResult_t copy(const void* send, void* recv, size_t count, ncclDataType_t type, cudaStream_t stream) {
  const size_t bytes = count * type_bytes(type);
  if (send != recv && bytes) dpt::emu::enqueue(stream, [send, recv, bytes] { std::memmove(recv, send, bytes); });
  return ncclSuccess;
}
}  // namespace

// With one rank a sum, a reduction to the root and a broadcast from it are all copies.
ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t, ncclComm_t,
                           cudaStream_t stream) {
  return copy(send, recv, count, type, stream);
}
ncclResult_t ncclReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t, int root,
                        ncclComm_t, cudaStream_t stream) {
  return root == 0 ? copy(send, recv, count, type, stream) : ncclInvalidArgument;
}
ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type, int root, ncclComm_t,
                           cudaStream_t stream) {
  return root == 0 ? copy(send, recv, count, type, stream) : ncclInvalidArgument;
}
