// Zero padding, cropping and nearest upsampling of NHWC images (Keras's ZeroPadding2D, Cropping2D
// and UpSampling2D). Padding and cropping are two moves
// between a small image (n, h, w, c) and a window of a large one (n, H, W, c) whose top-left
// corner is at (top, left): embed writes the large image (the window from the small one, zeros
// around it), extract reads the window out. Padding is embed forward and extract backward;
// cropping the other way round.
#pragma once
#include <cstdint>

namespace dpt::kernels {

struct Window2d {
  int64_t n = 0, c = 0;
  int64_t h = 0, w = 0;  // the small image
  int64_t H = 0, W = 0;  // the large one
  int64_t top = 0, left = 0;
};

template <typename T>
void embed2d_cpu(const Window2d& g, const T* small, T* large);
template <typename T>
void extract2d_cpu(const Window2d& g, const T* large, T* small);
// CUDA: one thread per element written.
void embed2d_cuda(const Window2d& g, const float* small, float* large, void* stream);
void extract2d_cuda(const Window2d& g, const float* large, float* small, void* stream);

// Upsampling: (n, h, w, c) -> (n, h*sh, w*sw, c). Nearest: each value repeated over an (sh, sw)
// block; backward sums each block's gradients, in scan order. Bilinear (resize_math.h): each output
// from its 2x2 taps; backward gathers, for each input, the outputs that reach it, rows then
// columns in ascending order (the same order on every device, no atomics). dx is overwritten.
struct Upsample2d {
  int64_t n = 0, h = 0, w = 0, c = 0, sh = 2, sw = 2;
  bool bilinear = false;
};
template <typename T>
void upsample2d_forward_cpu(const Upsample2d& g, const T* x, T* y);
template <typename T>
void upsample2d_backward_cpu(const Upsample2d& g, const T* dy, T* dx);
void upsample2d_forward_cuda(const Upsample2d& g, const float* x, float* y, void* stream);
void upsample2d_backward_cuda(const Upsample2d& g, const float* dy, float* dx, void* stream);

}  // namespace dpt::kernels
