// Keras's masks on attention scores on CUDA (attention.h): one thread a score.
#include "kernels/attention.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"

namespace dpt::kernels {

__global__ void attention_fill_kernel(AttentionMask m, float* __restrict__ scores, float value, int64_t total) {
  DPT_GRID_STRIDE(e, total) {
    const int64_t j = e % m.s, i = (e / m.s) % m.t, b = e / (m.s * m.t * m.heads);
    if (attention_masked(m, b, i, j)) scores[e] = value;
  }
}

void attention_fill_cuda(const AttentionMask& m, float* scores, float value, void* stream) {
  const int64_t total = m.n * m.heads * m.t * m.s;
  if (total == 0) return;
  attention_fill_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(m, scores, value,
                                                                                                     total);
  DPT_CUDA_LAUNCH_CHECK();
}

__global__ void scale_by_kernel(const float* x, float* y, int64_t n, const float* __restrict__ s) {
  const float v = s[0];
  DPT_GRID_STRIDE(e, n) {
    y[e] = x[e] * v;
  }
}

__global__ void multiply_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ prod,
                                int64_t n) {
  DPT_GRID_STRIDE(e, n) {
    prod[e] = a[e] * b[e];
  }
}

void scale_by_cuda(const float* x, float* y, int64_t n, const float* s, void* stream) {
  if (n == 0) return;
  scale_by_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n, s);
  DPT_CUDA_LAUNCH_CHECK();
}

void multiply_cuda(const float* a, const float* b, float* prod, int64_t n, void* stream) {
  if (n == 0) return;
  multiply_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(a, b, prod, n);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
