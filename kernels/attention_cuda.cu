// The causal mask on attention scores on CUDA (attention.h): one thread a score.
#include "kernels/attention.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"

namespace dpt::kernels {

__global__ void causal_fill_kernel(float* __restrict__ scores, int64_t total, int64_t t, int64_t s) {
  DPT_GRID_STRIDE(e, total) {
    const int64_t j = e % s, i = (e / s) % t;
    if (j > i) scores[e] = -1e9f;
  }
}

void causal_fill_cuda(float* scores, int64_t blocks, int64_t t, int64_t s, void* stream) {
  const int64_t total = blocks * t * s;
  if (total == 0) return;
  causal_fill_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(scores, total, t, s);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
