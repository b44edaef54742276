// CUDA activations: the pointwise kernel calls activation_math.h, the same formula as the CPU loop;
// softmax is one block per row (max, sum of exp, scale).
#include <cfloat>
#include "kernels/activation.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"

namespace dpt::kernels {

__global__ void activation_forward_kernel(Activation a, const float* x, float* y, int64_t n) {
  DPT_GRID_STRIDE(i, n) y[i] = activation_fwd(a, x[i]);
}

__global__ void activation_backward_kernel(Activation a, const float* y, const float* dy, float* dx, int64_t n) {
  DPT_GRID_STRIDE(i, n) dx[i] = activation_bwd(a, y[i], dy[i]);
}

// gelu, silu, mish, hard_silu: the gradient from the forward input.
__global__ void activation_backward_x_kernel(Activation a, const float* x, const float* dy, float* dx, int64_t n) {
  DPT_GRID_STRIDE(i, n) dx[i] = activation_bwd_x(a, x[i], dy[i]);
}

// Block-wide reduction over the row; blockDim.x is a power of two <= 1024.
template <bool kMax>
__device__ float block_reduce(float v, float* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      shared[threadIdx.x] =
          kMax ? fmaxf(shared[threadIdx.x], shared[threadIdx.x + s]) : shared[threadIdx.x] + shared[threadIdx.x + s];
    __syncthreads();
  }
  float r = shared[0];
  __syncthreads();
  return r;
}

__global__ void softmax_forward_kernel(const float* x, float* y, int64_t cols) {
  extern __shared__ float shared[];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float m = -FLT_MAX;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, xr[c]);
  m = block_reduce<true>(m, shared);
  float s = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += expf(xr[c] - m);
  s = block_reduce<false>(s, shared);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = expf(xr[c] - m) / s;
}

__global__ void softmax_backward_kernel(const float* y, const float* dy, float* dx, int64_t cols) {
  extern __shared__ float shared[];
  const float* yr = y + blockIdx.x * cols;
  const float* dyr = dy + blockIdx.x * cols;
  float* dxr = dx + blockIdx.x * cols;
  float dot = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) dot += yr[c] * dyr[c];
  dot = block_reduce<false>(dot, shared);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) dxr[c] = yr[c] * (dyr[c] - dot);
}

static int row_threads(int64_t cols) {
  int t = 32;
  while (t < cols && t < 1024) t <<= 1;
  return t;
}

void activation_forward_cuda(Activation a, const float* x, float* y, int64_t rows, int64_t cols, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t n = rows * cols;
  if (n == 0) return;
  if (a == Activation::softmax) {
    const int t = row_threads(cols);
    softmax_forward_kernel<<<unsigned(rows), t, t * sizeof(float), s>>>(x, y, cols);
  } else if (a == Activation::linear) {
    if (x != y) DPT_CUDA_CHECK(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, s));
    return;
  } else {
    activation_forward_kernel<<<grid_blocks(n), kBlockThreads, 0, s>>>(a, x, y, n);
  }
  DPT_CUDA_LAUNCH_CHECK();
}

void activation_backward_cuda(Activation a, const float* x, const float* y, const float* dy, float* dx, int64_t rows,
                              int64_t cols, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t n = rows * cols;
  if (n == 0) return;
  if (a == Activation::softmax) {
    const int t = row_threads(cols);
    softmax_backward_kernel<<<unsigned(rows), t, t * sizeof(float), s>>>(y, dy, dx, cols);
  } else if (a == Activation::linear) {
    if (dx != dy) DPT_CUDA_CHECK(cudaMemcpyAsync(dx, dy, n * sizeof(float), cudaMemcpyDeviceToDevice, s));
    return;
  } else if (a.needs_input()) {
    activation_backward_x_kernel<<<grid_blocks(n), kBlockThreads, 0, s>>>(a, x, dy, dx, n);
  } else {
    activation_backward_kernel<<<grid_blocks(n), kBlockThreads, 0, s>>>(a, y, dy, dx, n);
  }
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
