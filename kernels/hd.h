// DPT_HD marks a formula usable from both the CPU loops and CUDA kernels.
#pragma once
#include <cstdint>
#if defined(__CUDACC__)
#define DPT_HD __host__ __device__ __forceinline__
#else
#define DPT_HD inline
#endif
