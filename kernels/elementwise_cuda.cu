// CUDA elementwise helpers (bias, scaling, the fused bias/activation epilogues of Dense and
// Conv2D) and dropout through the shared counter-based mask.
#include "kernels/activation.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/cuda_reduce.cuh"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"

namespace dpt::kernels {

__global__ void bias_add_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) y[i] += bias[i % cols];
}

struct LoadRows {
  const float* x;
  int64_t cols;
  __device__ void operator()(int64_t r, int64_t c, double* v) const { v[0] = x[r * cols + c]; }
};
struct AddToFloats {
  float* out;
  __device__ void operator()(int, int64_t c, double s) const { out[c] += float(s); }
};

// The activation's gradient, written back to dy as it is summed: each (r, c) is loaded once.
struct LoadActivationGrad {
  Activation a;
  const float* y;
  float* dy;
  int64_t cols;
  __device__ void operator()(int64_t r, int64_t c, double* v) const {
    const int64_t i = r * cols + c;
    const float g = activation_bwd(a, y[i], dy[i]);
    dy[i] = g;
    v[0] = g;
  }
};

__global__ void bias_activation_kernel(Activation a, float* y, const float* bias, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) y[i] = activation_fwd(a, bias ? y[i] + bias[i % cols] : y[i]);
}

__global__ void scale_kernel(float* x, int64_t n, float s) {
  DPT_GRID_STRIDE(i, n) x[i] *= s;
}

__global__ void dropout_kernel(const float* x, float* y, int64_t rows, int64_t cols, float rate, float scale,
                               DropoutKey key) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) {
    const int64_t r = i / cols, c = i % cols;
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    y[i] = dropout_value(x[i], uniform_in_row(k, uint32_t(c)), rate, scale);
  }
}

void bias_add_cuda(float* y, const float* bias, int64_t rows, int64_t cols, void* stream) {
  if (rows * cols == 0) return;
  bias_add_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, bias, rows,
                                                                                                     cols);
  DPT_CUDA_LAUNCH_CHECK();
}

void bias_grad_cuda(const float* dy, float* db, int64_t rows, int64_t cols, CudaResources& r) {
  column_reduce_cuda<1>(r, LoadRows{dy, cols}, AddToFloats{db}, rows, cols);
}

void bias_activation_cuda(Activation a, float* y, const float* bias, int64_t rows, int64_t cols, CudaResources& r) {
  if (rows * cols == 0) return;
  if (a == Activation::softmax) {  // a row operation: the bias first, then the rows
    if (bias) bias_add_cuda(y, bias, rows, cols, r.stream());
    activation_forward_cuda(a, y, y, rows, cols, r.stream());
    return;
  }
  if (a == Activation::linear && !bias) return;
  bias_activation_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, r.stream()>>>(a, y, bias, rows, cols);
  DPT_CUDA_LAUNCH_CHECK();
}

void activation_bias_grad_cuda(Activation a, const float* y, float* dy, float* db, int64_t rows, int64_t cols,
                               CudaResources& r) {
  if (db && a != Activation::linear && a != Activation::softmax) {  // softmax is a row operation
    column_reduce_cuda<1>(r, LoadActivationGrad{a, y, dy, cols}, AddToFloats{db}, rows, cols);
    return;
  }
  activation_backward_cuda(a, y, dy, dy, rows, cols, r.stream());  // linear: nothing to do
  if (db) bias_grad_cuda(dy, db, rows, cols, r);
}

void scale_cuda(float* x, int64_t n, float s, CudaResources& r) {
  if (n == 0) return;
  scale_kernel<<<grid_blocks(n), kBlockThreads, 0, r.stream()>>>(x, n, s);
  DPT_CUDA_LAUNCH_CHECK();
}

void dropout_cuda(const float* x, float* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                  void* stream) {
  if (rows * cols == 0) return;
  const float scale = float(1.0 / (1.0 - double(rate)));
  dropout_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, rows, cols,
                                                                                                    rate, scale, key);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
