// 2-D convolution, NHWC activations and Keras's (kh, kw, in, out) kernel, as im2col + one GEMM:
// the kernel seen as a (kh*kw*in, out) matrix multiplies the (N*oh*ow, kh*kw*in) patch matrix.
#pragma once
#include <cstddef>
#include <cstdint>
#include "kernels/activation_math.h"

namespace dpt::kernels {

class CudaResources;

struct Conv2dGeom {
  int64_t n = 0, h = 0, w = 0, c = 0;      // input (N, H, W, C)
  int64_t kh = 1, kw = 1, sh = 1, sw = 1;  // kernel size and strides
  int64_t dh = 1, dw = 1;                  // dilation: tap (ky, kx) reads row ky * dh, column kx * dw
  int64_t pad_top = 0, pad_left = 0;       // 'same' padding (extra rows/cols go bottom/right, as TF)
  int64_t oh = 0, ow = 0, oc = 0;          // output (N, oh, ow, oc)
  int64_t patch() const { return kh * kw * c; }
  int64_t span_h() const { return (kh - 1) * dh + 1; }  // the rows and columns one window covers
  int64_t span_w() const { return (kw - 1) * dw + 1; }
  int64_t out_pixels() const { return oh * ow; }
  bool is_pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pad_top == 0 && pad_left == 0; }
};

// Output size and padding for one spatial dim, TensorFlow's rules: valid -> floor((in-k)/s)+1,
// same -> ceil(in/s) with pad_total = max((out-1)*s + k - in, 0), pad_before = pad_total/2; k is
// the window's span, (kernel size - 1) * dilation + 1.
void conv_out_size(int64_t in, int64_t k, int64_t s, bool same, int64_t* out, int64_t* pad_before);

// Elements of scratch the forward/backward need to process at least one sample at a time.
int64_t conv2d_min_workspace(const Conv2dGeom& g);

// y = conv(x, kernel) + bias; work holds work_elems scratch elements (>= conv2d_min_workspace).
// When bias directly follows kernel in memory (as in a model's arena), [kernel; bias] is used as
// one (kh*kw*in + 1, out) matrix against patches with a trailing 1: the bias costs no extra pass,
// and backward gets dbias from the same GEMM (when dbias directly follows dkernel).
template <typename T>
void conv2d_forward_cpu(const Conv2dGeom& g, const T* x, const T* kernel, const T* bias, T* y, T* work,
                        int64_t work_elems);
// dkernel += ..., dbias += ...; dx (if not null) is overwritten. work as for forward (x2 inside).
// dkernel null: the input gradient alone (a transposed convolution's forward), x unread.
template <typename T>
void conv2d_backward_cpu(const Conv2dGeom& g, const T* x, const T* kernel, const T* dy, T* dx, T* dkernel, T* dbias,
                         T* work, int64_t work_elems);

// Patch rows of length ld (>= patch()); when ld > patch() the extra column holds 1.
template <typename T>
void im2col_nhwc_cpu(const Conv2dGeom& g, const T* x, int64_t samples, T* col, int64_t ld);
template <typename T>
void col2im_nhwc_cpu(const Conv2dGeom& g, const T* col, int64_t samples, T* dx);

// CUDA: each pass through cuDNN (NHWC, or NCHW between transposes) or as im2col + a cuBLAS GEMM,
// by measurement (conv2d_layout.h). A plan (per layer and replica) holds the descriptors, the
// chosen routes and algorithms (FP32 FMA math unless the resources allow TF32), the private copies
// of the kernel in cuDNN's filter layouts and their gradient, the buffers its routes need, and,
// where TensorFlow's 'same' padding is asymmetric (cuDNN pads symmetrically), a zero-padded copy
// of the input. Created with g.n = the largest batch; reserves r's scratch for cuDNN's workspace.
// Without needs_dx (a model's first weighted layer) backward-data is never planned and backward
// takes no dx.
struct ConvPlan;
ConvPlan* conv2d_plan_create(CudaResources& r, const Conv2dGeom& g, bool needs_dx = true);
void conv2d_plan_destroy(ConvPlan* p) noexcept;
struct ConvPlanDeleter {
  void operator()(ConvPlan* p) const noexcept { conv2d_plan_destroy(p); }
};
// y = act(conv(x, kernel) + bias) (bias nullable; bias and activation in one pass); refreshes
// the plan's filter copies of kernel.
void conv2d_forward_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* x, const float* kernel,
                         const float* bias, Activation act, float* y);
// dy = act'(y) * dy (act linear when the loss already gave the pre-activation gradient), fused
// with dbias += ... (nullable); then dkernel += ...; dx (nullable) is overwritten. kernel: the
// weights of the forward, whose filter copies it also uses. dy is scratch afterwards.
void conv2d_backward_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* x, const float* kernel,
                          const float* y, Activation act, float* dy, float* dx, float* dkernel, float* dbias);
// The passes alone, for a transposed convolution (whose forward is this convolution's backward-data,
// and whose backward is its forward and its backward-filter with x and dy as each other's roles):
// dx = the input gradient from dy (dy unchanged), and dkernel += the kernel gradient from x and dy.
void conv2d_backward_data_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* kernel, const float* dy,
                               float* dx);
void conv2d_backward_filter_cuda(CudaResources& r, ConvPlan& p, const Conv2dGeom& g, const float* x, const float* dy,
                                 float* dkernel);

}  // namespace dpt::kernels
