// Small elementwise helpers on (rows, cols) arrays: bias add, bias gradient, fills and copies.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dpt::kernels {

class CudaResources;

// Column sums on the GPU reduce in two deterministic passes: kReduceChunks partial sums per
// column (double) in the replica's scratch, then one ordered sum per column.
constexpr int64_t kReduceChunks = 64;
inline size_t cuda_reduce_scratch_bytes(int64_t cols) { return size_t(kReduceChunks * cols) * sizeof(double); }

// y[r, c] = bias[c] (then a GEMM with beta = 1 adds the product: no separate zeroing or bias pass)
template <typename T>
void bias_fill_cpu(T* y, const T* bias, int64_t rows, int64_t cols);
// y[r, c] += bias[c]
template <typename T>
void bias_add_cpu(T* y, const T* bias, int64_t rows, int64_t cols);
// db[c] += sum_r dy[r, c]
template <typename T>
void bias_grad_cpu(const T* dy, T* db, int64_t rows, int64_t cols);

void bias_fill_cuda(float* y, const float* bias, int64_t rows, int64_t cols, void* stream);
void bias_add_cuda(float* y, const float* bias, int64_t rows, int64_t cols, void* stream);
// db += column sums (scratch: cuda_reduce_scratch_bytes(cols)).
void bias_grad_cuda(const float* dy, float* db, int64_t rows, int64_t cols, CudaResources& r);

}  // namespace dpt::kernels
