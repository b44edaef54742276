// Depthwise 2-D convolution (Keras's DepthwiseConv2D), NHWC: each input channel c has its own
// depth_multiplier filters, Keras's (kh, kw, in, depth_multiplier) kernel, and output channel
// c * depth_multiplier + m. The geometry is a Conv2dGeom with oc = c * depth_multiplier.
#pragma once
#include <cstdint>
#include "kernels/conv2d.h"

namespace dpt::kernels {

// y = depthwise(x, kernel) + bias (bias nullable); y is written whole.
template <typename T>
void depthwise_forward_cpu(const Conv2dGeom& g, const T* x, const T* kernel, const T* bias, T* y);
// dkernel += ..., dbias += ... (nullable); dx (nullable) is overwritten. The same order of
// additions whatever the thread count: the same bits on every run.
template <typename T>
void depthwise_backward_cpu(const Conv2dGeom& g, const T* x, const T* kernel, const T* dy, T* dx, T* dkernel, T* dbias);

// CUDA: one thread per output (forward) or per input element (dx, gathering over the taps that
// reach it: no atomics); dkernel and dbias through the deterministic column reductions (scratch:
// cuda_reduce_scratch_bytes(g.oc), reserved by the layer).
void depthwise_forward_cuda(const Conv2dGeom& g, const float* x, const float* kernel, const float* bias, float* y,
                            void* stream);
void depthwise_backward_cuda(const Conv2dGeom& g, const float* x, const float* kernel, const float* dy, float* dx,
                             float* dkernel, float* dbias, CudaResources& r);

}  // namespace dpt::kernels
