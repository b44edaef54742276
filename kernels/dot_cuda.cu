// Dot's contraction on CUDA: one thread an output through dot.h's loop (the CPU's bits).
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/dot.h"

namespace dpt::kernels {

__global__ void contract_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c,
                                int64_t total, Contraction d) {
  DPT_GRID_STRIDE(k, total) {
    const int64_t j = k % d.J, i = (k / d.J) % d.I, n = k / (d.J * d.I);
    c[n * d.sc + i * d.ci + j * d.cj] = contract_one(a, b, d, n, i, j);
  }
}

void contract_cuda(const float* a, const float* b, float* c, int64_t batch, const Contraction& d, void* stream) {
  const int64_t total = batch * d.I * d.J;
  if (total == 0) return;
  contract_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(a, b, c, total, d);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
