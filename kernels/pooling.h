// 2-D max and average pooling in NHWC, TensorFlow's padding rules; global average and max pooling.
#pragma once
#include <cstdint>

namespace dpt::kernels {

struct Pool2dGeom {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int64_t ph = 2, pw = 2, sh = 2, sw = 2;
  int64_t pad_top = 0, pad_left = 0;
  int64_t oh = 0, ow = 0;
};

// Max pooling ignores padded cells; its gradient goes to the first maximum in scan order.
// Forward records, when argmax is given, each output's source offset within its sample;
// backward scatters dy through those offsets (dx is overwritten).
template <typename T>
void max_pool_forward_cpu(const Pool2dGeom& g, const T* x, T* y, int32_t* argmax);
template <typename T>
void max_pool_backward_cpu(const Pool2dGeom& g, const int32_t* argmax, const T* dy, T* dx);
// Average pooling divides by the number of real (unpadded) cells, as TF does with 'same'.
template <typename T>
void avg_pool_forward_cpu(const Pool2dGeom& g, const T* x, T* y);
template <typename T>
void avg_pool_backward_cpu(const Pool2dGeom& g, const T* dy, T* dx);
// x: (N, HW, C) -> y: (N, C)
template <typename T>
void global_avg_pool_forward_cpu(const T* x, T* y, int64_t n, int64_t hw, int64_t c);
template <typename T>
void global_avg_pool_backward_cpu(const T* dy, T* dx, int64_t n, int64_t hw, int64_t c);
// x: (N, HW, C) -> y: (N, C), the maximum; its gradient is shared equally by the positions that
// hold the maximum (the gradient of Keras 3's ops.max under JAX and TensorFlow alike). dx is
// overwritten.
template <typename T>
void global_max_pool_forward_cpu(const T* x, T* y, int64_t n, int64_t hw, int64_t c);
template <typename T>
void global_max_pool_backward_cpu(const T* x, const T* y, const T* dy, T* dx, int64_t n, int64_t hw, int64_t c);

// CUDA: one thread per output (forward) or per input cell (backward, gathering from the outputs
// whose windows cover it, in the CPU's order: deterministic, no atomics, the same tie rule).
void max_pool_forward_cuda(const Pool2dGeom& g, const float* x, float* y, int32_t* argmax, void* stream);
void max_pool_backward_cuda(const Pool2dGeom& g, const int32_t* argmax, const float* dy, float* dx, void* stream);
void avg_pool_forward_cuda(const Pool2dGeom& g, const float* x, float* y, void* stream);
void avg_pool_backward_cuda(const Pool2dGeom& g, const float* dy, float* dx, void* stream);
void global_avg_pool_forward_cuda(const float* x, float* y, int64_t n, int64_t hw, int64_t c, void* stream);
void global_avg_pool_backward_cuda(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c, void* stream);
// One thread per (sample, channel): coalesced along the channels, no scratch.
void global_max_pool_forward_cuda(const float* x, float* y, int64_t n, int64_t hw, int64_t c, void* stream);
void global_max_pool_backward_cuda(const float* x, const float* y, const float* dy, float* dx, int64_t n, int64_t hw,
                                   int64_t c, void* stream);

}  // namespace dpt::kernels
