// Layout changes on the GPU around cuDNN's convolutions: per-sample transposes (NHWC <-> NCHW, the
// NCHW -> NHWC one optionally carrying a bias and activation), Keras's (kh, kw, in, out) kernel to
// and from cuDNN's filter layouts, and zero-padding / cropping of NHWC images.
#pragma once
#include <cstdint>
#include "kernels/activation_math.h"

namespace dpt::kernels {

// Per sample, dst (cols, rows) = act(src (rows, cols) transposed + bias[row]): dst[s][c][r] =
// act(src[s][r][c] + bias[r]). bias is nullable; linear without a bias is a plain transpose.
// Softmax is a row operation and not an epilogue here (transpose, then bias_activation_cuda).
void transpose_cuda(const float* src, float* dst, int64_t n, int64_t rows, int64_t cols, void* stream,
                    const float* bias = nullptr, Activation act = Activation::linear);

// cuDNN's filter layouts, for (kh, kw, in, out) = (R, S, C, K): KRSC goes with NHWC tensors, KCRS
// with NCHW ones.
enum class FilterLayout { krsc, kcrs };

// filter = kernel in `layout` (rs = kh * kw).
void filter_from_kernel_cuda(FilterLayout layout, const float* kernel, float* filter, int64_t rs, int64_t c, int64_t oc,
                             void* stream);
// dkernel += dfilter brought back from `layout` (gradients accumulate).
void kernel_grad_add_cuda(FilterLayout layout, const float* dfilter, float* dkernel, int64_t rs, int64_t c, int64_t oc,
                          void* stream);

// xpad (n, hp, wp, c) = x (n, h, w, c) placed at (top, left), zeros around.
void pad_nhwc_cuda(const float* x, float* xpad, int64_t n, int64_t h, int64_t w, int64_t c, int64_t hp, int64_t wp,
                   int64_t top, int64_t left, void* stream);
// dx (n, h, w, c) = the (h, w) window of dxpad (n, hp, wp, c) at (top, left).
void crop_nhwc_cuda(const float* dxpad, float* dx, int64_t n, int64_t h, int64_t w, int64_t c, int64_t hp, int64_t wp,
                    int64_t top, int64_t left, void* stream);

}  // namespace dpt::kernels
