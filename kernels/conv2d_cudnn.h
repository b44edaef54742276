// cuDNN's ranking of a Conv2D pass's algorithms for the CUDA backend (conv2d_cuda.cu): measured
// (cudnnFind*) or, with --deterministic, cuDNN's heuristic ranking of bit-reproducible algorithms.
// Include from CUDA backend files only.
#pragma once
#include <cudnn.h>
#include <cstddef>
#include <cstdint>
#include "kernels/conv2d.h"
#include "kernels/conv2d_layout.h"
#include "kernels/cuda_resources.h"

namespace dpt::kernels {

// cuDNN's ranking of one pass: by default cudnnFind* (each algorithm timed, as PyTorch's
// cudnn.benchmark and TensorFlow's autotuning), even where it adds with atomics (backward-filter's
// fastest often does: a few ulps from run to run); with r.deterministic() (--deterministic) the
// heuristic ranking (_v7), untimed, bit-reproducible algorithms only. The first usable one whose
// workspace fits `limit`: its algorithm, workspace and time (ms; 0 when not timed).
struct Ranked {
  int algo = -1;
  size_t ws = 0;
  double ms = 0;
  bool ok() const { return algo >= 0; }
};

// DPT_CUDNN_LOG=1 prints each ranking to stderr (which algorithm, time, workspace, determinism).
bool cudnn_log_on();
const char* conv_pass_name(ConvPass p);

// One pass's ranking with the given descriptors (x, filter, y); its workspace as cuDNN sizes it.
// nchw, g and n name the convolution in the log.
Ranked cudnn_rank(CudaResources& r, ConvPass pass, cudnnTensorDescriptor_t xd, cudnnFilterDescriptor_t wd,
                  cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, size_t limit, bool nchw,
                  const Conv2dGeom& g, int64_t n);

}  // namespace dpt::kernels
