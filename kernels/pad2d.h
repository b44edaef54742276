// Zero padding and cropping of NHWC images (Keras's ZeroPadding2D and Cropping2D), as two moves
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

}  // namespace dpt::kernels
