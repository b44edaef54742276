// Deterministic column reductions over (rows, cols) data for the CUDA kernels: pass 1 writes
// cuda_reduce_chunks(rows, cols) partial sums (double) per column and quantity, pass 2 adds them
// in chunk order.
// The same input gives the same bits on every run (no atomics). Include from .cu files only.
#pragma once
#include "kernels/cuda_check.h"
#include "kernels/cuda_resources.h"
#include "kernels/elementwise.h"

namespace dpt::kernels {

constexpr int kReduceRowsPerBlock = 8;  // threads along the rows; 32 along the columns

// Load: __device__ void operator()(int64_t row, int64_t col, double* v) const (K values).
template <int K, typename Load>
__global__ void column_partials_kernel(Load load, int64_t rows, int64_t cols, double* partial) {
  __shared__ double sh[K][kReduceRowsPerBlock][33];
  const int64_t c = blockIdx.x * 32 + threadIdx.x;
  const int64_t chunk = blockIdx.y, per = (rows + gridDim.y - 1) / gridDim.y;
  const int64_t r0 = chunk * per, r1 = r0 + per < rows ? r0 + per : rows;
  double acc[K];
  for (int k = 0; k < K; ++k) acc[k] = 0.0;
  if (c < cols) {
#pragma unroll 4
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kReduceRowsPerBlock) {  // several loads in flight
      double v[K];
      load(r, c, v);
      for (int k = 0; k < K; ++k) acc[k] += v[k];
    }
  }
  for (int k = 0; k < K; ++k) sh[k][threadIdx.y][threadIdx.x] = acc[k];
  __syncthreads();
  if (threadIdx.y == 0 && c < cols)
    for (int k = 0; k < K; ++k) {
      double s = 0.0;
      for (int j = 0; j < kReduceRowsPerBlock; ++j) s += sh[k][j][threadIdx.x];
      partial[(chunk * K + k) * cols + c] = s;
    }
}

constexpr int kFinishThreads = 128;

// Store: __device__ void operator()(int k, int64_t col, double sum) const. One block per column and
// quantity: thread t adds chunks t, t + 128, ... in order, then a fixed tree adds the threads' sums
// (the same order on every run).
template <int K, typename Store>
__global__ void column_finish_kernel(Store store, int64_t cols, int64_t chunks, const double* partial) {
  __shared__ double sh[kFinishThreads];
  const int64_t i = blockIdx.x;  // k * cols + c
  const int k = int(i / cols);
  const int64_t c = i % cols;
  double s = 0.0;
  for (int64_t chunk = threadIdx.x; chunk < chunks; chunk += kFinishThreads) s += partial[(chunk * K + k) * cols + c];
  sh[threadIdx.x] = s;
  __syncthreads();
  for (int half = kFinishThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) sh[threadIdx.x] += sh[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) store(k, c, sh[0]);
}

template <int K, typename Load, typename Store>
void column_reduce_cuda(CudaResources& r, Load load, Store store, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  auto* partial = static_cast<double*>(r.scratch(cuda_reduce_scratch_bytes(K * cols)));
  const int64_t chunks = cuda_reduce_chunks(rows, cols);
  const dim3 grid(unsigned((cols + 31) / 32), unsigned(chunks)), block(32, kReduceRowsPerBlock);
  column_partials_kernel<K><<<grid, block, 0, r.stream()>>>(load, rows, cols, partial);
  DPT_CUDA_LAUNCH_CHECK();
  column_finish_kernel<K><<<unsigned(K * cols), kFinishThreads, 0, r.stream()>>>(store, cols, chunks, partial);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
