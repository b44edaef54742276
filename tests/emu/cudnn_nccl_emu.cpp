// The CPU emulation's cuDNN convolutions and NCCL collectives (see cuda_emu.h): enough of both for
// the whole CUDA backend to run its layer and training tests on the emulated devices.
//
// cuDNN: 4-d tensor and filter descriptors in NCHW or NHWC, 2-d cross-correlation descriptors, and
// the three convolution passes as plain loops over the descriptors' indices (an independent
// reference for the backend's descriptors, filter copies and layout changes); the algorithm
// queries offer one algorithm that needs no workspace. NCCL: communicators over the emulated
// devices (DPT_EMU_DEVICES), whose float and double sums, reductions to a root and broadcasts are
// computed in rank order when every rank's stream has reached its part.
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
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
namespace {
// The handle's stream, its device current and every buffer on that device.
cudaStream_t pass_stream(cudnnHandle_t h, std::initializer_list<const void*> buffers) {
  cudaStream_t st = dpt::emu::stream_of(h);
  for (const void* p : buffers) dpt::emu::check_pointer_arg(p, st);
  return st;
}
}  // namespace

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void* alpha, const cudnnTensorDescriptor_t xd,
                                      const void* x, const cudnnFilterDescriptor_t wd, const void* w,
                                      const cudnnConvolutionDescriptor_t cd, cudnnConvolutionFwdAlgo_t, void*, size_t,
                                      const void* beta, const cudnnTensorDescriptor_t yd, void* y) {
  const ConvShape s(xd, wd, cd, yd);
  if (!s.ok()) return CUDNN_STATUS_BAD_PARAM;
  const auto* xs = static_cast<const float*>(x);
  const auto* ws = static_cast<const float*>(w);
  dpt::emu::enqueue(pass_stream(h, {x, w, y}), [s, xs, ws, y, a = value(alpha), b = value(beta)] {
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
  dpt::emu::enqueue(pass_stream(h, {w, dy, dx}), [s, dys, ws, dx, a = value(alpha), b = value(beta)] {
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
  dpt::emu::enqueue(pass_stream(h, {x, dy, dw}), [s, xs, dys, dw, a = value(alpha), b = value(beta)] {
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

// ---- NCCL: communicators over the emulated devices ---------------------------------------------------
// ncclCommInitAll makes a clique of communicators, one a device. Every rank calls the same
// collectives in the same order; the k-th call of each rank is one collective (a mismatch, which
// on GPUs hangs or corrupts, is reported). A call queues the rank's part on its stream. When the
// stream reaches it (that rank's earlier work done), the part waits for every other rank's part to
// be reached too, running their streams up to their parts itself where no other host thread is
// inside them; the last part reached computes the result for all, summing in rank order. A rank's
// stream goes past its part only once the collective is done, as behind NCCL's kernels.
// ncclCommAbort wakes the parts waiting for a rank that will not come.
namespace {
struct Collective {
  uint64_t seq = 0;
  std::string call;
  size_t count = 0;
  ncclDataType_t type = ncclFloat32;
  int root = -1;
  std::vector<const void*> send;
  std::vector<void*> recv;
  std::vector<cudaStream_t> stream;
  std::vector<uint64_t> position;
  std::vector<char> posted, arrived;
  bool done = false;
};
struct Clique {
  int ranks = 0;
  std::vector<uint64_t> issued;                          // each rank's calls so far
  std::map<uint64_t, std::shared_ptr<Collective>> open;  // by sequence number, until done
  bool aborted = false;
};
}  // namespace

struct ncclComm {
  std::shared_ptr<Clique> clique;
  int rank = 0;
  int device = 0;
  bool aborted = false;
};

namespace {
// ncclCommAbort frees a communicator. The emulation keeps it, marked, so that a later call on it
// is reported rather than read after it is freed.
std::vector<std::unique_ptr<ncclComm>>& aborted_comms() {
  static std::vector<std::unique_ptr<ncclComm>> c;
  return c;
}

size_t type_bytes(ncclDataType_t t) {
  return t == ncclFloat64 || t == ncclInt64 || t == ncclUint64 ? 8 : t == ncclFloat16 || t == ncclBfloat16 ? 2 : 4;
}

std::string describe(const std::string& call, size_t count, ncclDataType_t type, int root) {
  return call + "(" + std::to_string(count) + (type == ncclFloat64 ? " doubles" : " floats") +
         (root >= 0 ? ", root " + std::to_string(root) : "") + ")";
}

template <typename T>
void compute(Collective& c) {
  const size_t ranks = c.send.size();
  std::vector<T> out(c.count);
  if (c.call == "ncclBroadcast") {
    std::memcpy(out.data(), c.send[size_t(c.root)], c.count * sizeof(T));
  } else {
    for (size_t i = 0; i < c.count; ++i) {
      T s = static_cast<const T*>(c.send[0])[i];
      for (size_t r = 1; r < ranks; ++r) s += static_cast<const T*>(c.send[r])[i];
      out[i] = s;
    }
  }
  for (size_t r = 0; r < ranks; ++r)
    if (c.call != "ncclReduce" || int(r) == c.root) std::memcpy(c.recv[r], out.data(), c.count * sizeof(T));
}

// Rank `rank`'s part, run holding the GPUs as work on its stream. The other ranks' streams are run
// up to their parts from here where no other host thread is inside them (or inside a stream they
// wait for); otherwise this waits until some stream has moved on, or the collective is done.
void take_part(const std::shared_ptr<Collective>& c, const std::shared_ptr<Clique>& clique, int rank) {
  c->arrived[size_t(rank)] = 1;
  for (;;) {
    const uint64_t seen = dpt::emu::progress();
    bool all = true;
    for (int p = 0; p < clique->ranks && !c->done && !clique->aborted; ++p) {
      if (c->arrived[size_t(p)]) continue;
      all = false;
      if (c->posted[size_t(p)]) dpt::emu::try_drain(c->stream[size_t(p)], c->position[size_t(p)]);
    }
    if (c->done || clique->aborted) return;  // completed by a part run from here, or given up
    if (all) {
      if (c->type == ncclFloat64)
        compute<double>(*c);
      else
        compute<float>(*c);
      c->done = true;
      clique->open.erase(c->seq);
      return;
    }
    if (dpt::emu::progress() == seen)
      dpt::emu::wait_until(
          [&] { return c->done || clique->aborted || dpt::emu::progress() != seen; },
          "the other ranks of " + describe(c->call, c->count, c->type, c->root) + " #" + std::to_string(c->seq));
  }
}

ncclResult_t post(const char* call, const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                  int root, ncclComm_t comm, cudaStream_t stream) {
  if (!comm) return ncclInvalidArgument;
  if (comm->aborted) dpt::emu::fail(std::string(call) + " on a communicator ncclCommAbort has freed");
  if (type != ncclFloat32 && type != ncclFloat64)
    dpt::emu::fail(std::string(call) + ": only float and double collectives are emulated");
  if (op != ncclSum) dpt::emu::fail(std::string(call) + ": only ncclSum is emulated");
  const dpt::emu::GpuGuard hold;
  Clique& clique = *comm->clique;
  if (root < -1 || root >= clique.ranks || (count > 0 && (!send || !recv))) return ncclInvalidArgument;
  const int r = comm->rank;
  const std::string here =
      std::string(call) + " of rank " + std::to_string(r) + " (cuda:" + std::to_string(comm->device) + ")";
  if (dpt::emu::device_of(stream) != comm->device)
    dpt::emu::fail(here + " queued on a stream of cuda:" + std::to_string(dpt::emu::device_of(stream)));
  for (const void* p : {send, static_cast<const void*>(recv)})
    if (count > 0 && dpt::emu::device_of_pointer(p) != comm->device)
      dpt::emu::fail(here + " given a buffer that is not cuda:" + std::to_string(comm->device) + "'s memory");
  const uint64_t seq = clique.issued[size_t(r)]++;
  std::shared_ptr<Collective>& c = clique.open[seq];
  const size_t ranks = size_t(clique.ranks);
  if (!c) {
    c = std::make_shared<Collective>();
    c->seq = seq;
    c->call = call;
    c->count = count;
    c->type = type;
    c->root = root;
    c->send.assign(ranks, nullptr);
    c->recv.assign(ranks, nullptr);
    c->stream.assign(ranks, nullptr);
    c->position.assign(ranks, 0);
    c->posted.assign(ranks, 0);
    c->arrived.assign(ranks, 0);
  } else if (c->call != call || c->count != count || c->type != type || c->root != root) {
    dpt::emu::fail("collective #" + std::to_string(seq) +
                   " of a communicator: " + describe(c->call, c->count, c->type, c->root) + " on one rank, " +
                   describe(call, count, type, root) + " on rank " + std::to_string(r) +
                   " (every rank must call the same collectives in the same order)");
  }
  c->send[size_t(r)] = send;
  c->recv[size_t(r)] = recv;
  c->stream[size_t(r)] = dpt::emu::resolve_stream(stream);
  c->posted[size_t(r)] = 1;
  // The part may run (and wait, letting other threads change `open`) before enqueue returns.
  const std::shared_ptr<Collective> mine = c;
  mine->position[size_t(r)] =
      dpt::emu::enqueue(stream, [mine, clique = comm->clique, r] { take_part(mine, clique, r); });
  return ncclSuccess;
}
}  // namespace

// NCCL refuses two ranks on one GPU with ncclInvalidUsage ("Duplicate GPU detected").
ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  if (!comms || ndev < 1) return ncclInvalidArgument;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return ncclUnhandledCudaError;
  }
  std::vector<int> devices;
  for (int i = 0; i < ndev; ++i) {
    const int d = devlist ? devlist[i] : i;
    if (d < 0 || d >= count) return ncclInvalidArgument;  // no such device
    if (std::find(devices.begin(), devices.end(), d) != devices.end()) return ncclInvalidUsage;
    devices.push_back(d);
  }
  auto clique = std::make_shared<Clique>();
  clique->ranks = ndev;
  clique->issued.assign(size_t(ndev), 0);
  for (int i = 0; i < ndev; ++i) comms[i] = new ncclComm{clique, i, devices[size_t(i)], false};
  return ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm) return ncclInvalidArgument;
  if (comm->aborted) dpt::emu::fail("ncclCommDestroy of a communicator ncclCommAbort has freed");
  delete comm;
  return ncclSuccess;
}
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (!comm) return ncclInvalidArgument;
  const dpt::emu::GpuGuard hold;  // parts waiting for a peer see the abort when it is let go
  if (comm->aborted) dpt::emu::fail("ncclCommAbort of a communicator ncclCommAbort has freed");
  comm->aborted = true;
  comm->clique->aborted = true;
  aborted_comms().emplace_back(comm);
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
  return post("ncclAllReduce", send, recv, count, type, op, -1, comm, stream);
}
ncclResult_t ncclReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op, int root,
                        ncclComm_t comm, cudaStream_t stream) {
  if (root < 0) return ncclInvalidArgument;
  return post("ncclReduce", send, recv, count, type, op, root, comm, stream);
}
ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type, int root, ncclComm_t comm,
                           cudaStream_t stream) {
  if (root < 0) return ncclInvalidArgument;
  return post("ncclBroadcast", send, recv, count, type, ncclSum, root, comm, stream);
}
