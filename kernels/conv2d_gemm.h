// Conv2D as im2col + one GEMM on the GPU, the CPU's formulation (conv2d_cpu.cpp): the patch matrix
// col (n*oh*ow, kh*kw*in), patch order (ky, kx, ci) = Keras's kernel order, times the kernel seen
// as a (kh*kw*in, out) matrix, through cuBLAS. One of the routes the CUDA backend may take per pass
// (conv2d_layout.h): no filter copy (Keras's kernel is the GEMM's operand, and the filter gradient
// accumulates straight into Keras's layout), no transposes, any padding. Include from CUDA backend
// files only.
#pragma once
#include <cstddef>
#include "kernels/conv2d.h"
#include "kernels/conv2d_layout.h"

namespace dpt::kernels {

// Bytes of the patch matrix for g.n samples.
size_t conv_gemm_col_bytes(const Conv2dGeom& g);

// col = the patches of x's g.n samples, zeros outside the image (TensorFlow's padding).
void im2col_nhwc_cuda(const Conv2dGeom& g, const float* x, float* col, void* stream);
// dx = dcol's patch gradients summed back into the image (overwritten), in the CPU's order.
void col2im_nhwc_cuda(const Conv2dGeom& g, const float* dcol, float* dx, void* stream);

// y = col(x) . kernel (bias and activation are the caller's pass); col is left holding x's patches.
void conv2d_gemm_forward_cuda(CudaResources& r, const Conv2dGeom& g, const float* x, const float* kernel, float* col,
                              float* y);
// dkernel += col(x)^T . dy; col_ready: col already holds x's patches (a GEMM forward made them).
void conv2d_gemm_backward_filter_cuda(CudaResources& r, const Conv2dGeom& g, const float* x, const float* dy,
                                      float* col, bool col_ready, float* dkernel);
// dx = col2im(dy . kernel^T), through col (overwritten).
void conv2d_gemm_backward_data_cuda(CudaResources& r, const Conv2dGeom& g, const float* dy, const float* kernel,
                                    float* col, float* dx);

// The route's measured times per sample (ms), at batch g.n: each pass's GEMM (backward-data only
// with needs_dx), and im2col and col2im on their own. Not ok where the patch matrix would exceed
// max_col_bytes, or it and the timing's operands half the GPU's free memory.
struct ConvGemmTimes {
  ConvPassTime pass[3];
  double im2col_ms = 0, col2im_ms = 0;
};
ConvGemmTimes time_conv_gemm(CudaResources& r, const Conv2dGeom& g, bool needs_dx, size_t max_col_bytes);

}  // namespace dpt::kernels
