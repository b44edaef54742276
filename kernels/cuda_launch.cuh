// Launch shapes of the element-wise CUDA kernels: 256 threads a block and a capped grid that
// grid-stride loops walk, so any n is covered and each element is computed the same way whatever
// the grid. Include from the CUDA backend's files only.
#pragma once
#include <cstdint>

namespace dpt::kernels {

constexpr int kBlockThreads = 256;
constexpr int64_t kMaxGridBlocks = 16384;  // 4M threads: several waves of any GPU's resident threads

// Whether cuda_force_wide_indices (cuda_backend.h) has asked for 64-bit indices everywhere.
bool cuda_wide_indices_forced();

inline unsigned grid_blocks(int64_t n) {
  const int64_t b = (n + kBlockThreads - 1) / kBlockThreads;
  return unsigned(b < kMaxGridBlocks ? (b > 0 ? b : 1) : kMaxGridBlocks);
}

}  // namespace dpt::kernels

// for (I i = this thread's first element; i < n; i += the grid's thread count), in index type I:
// 32-bit indices need n + kMaxGridBlocks * kBlockThreads < 2^31 (one step past n must not overflow).
#define DPT_GRID_STRIDE_AS(I, i, n) \
  for (I i = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); i < (n); i += I(gridDim.x) * I(blockDim.x))
#define DPT_GRID_STRIDE(i, n) DPT_GRID_STRIDE_AS(int64_t, i, n)
