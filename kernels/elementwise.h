// Small elementwise helpers on (rows, cols) arrays: bias add, bias gradient, fills and copies.
#pragma once
#include <cstddef>
#include <cstdint>
#include "kernels/activation_math.h"

namespace dpt::kernels {

class CudaResources;

// Column sums on the GPU reduce in two deterministic passes: the rows are cut into chunks, each
// block (32 columns x one chunk) writes partial sums (double) to the replica's scratch, then one
// ordered sum per column adds them in chunk order. The chunk count gives the GPU about
// kReduceTargetBlocks blocks (a tall, narrow conv-bias gradient would otherwise read hundreds of
// MB through a few dozen blocks) and depends only on (rows, cols): the same shapes give the same
// bits on every run.
constexpr int64_t kReduceTargetBlocks = 512;
constexpr int64_t kReduceMinRowsPerChunk = 64;
inline int64_t cuda_reduce_chunks(int64_t rows, int64_t cols) {
  const int64_t col_blocks = (cols + 31) / 32;
  const int64_t by_blocks = (kReduceTargetBlocks + col_blocks - 1) / col_blocks;
  const int64_t by_rows = (rows + kReduceMinRowsPerChunk - 1) / kReduceMinRowsPerChunk;
  const int64_t c = by_blocks < by_rows ? by_blocks : by_rows;
  return c > 1 ? c : 1;
}
// Scratch for K quantities over cols columns (kcols = K * cols, K <= 2) whatever the rows: the
// partials take chunks * kcols doubles, and chunks <= kReduceTargetBlocks / ceil(cols / 32) + 1,
// so chunks * kcols <= 2 * 32 * kReduceTargetBlocks + kcols.
inline size_t cuda_reduce_scratch_bytes(int64_t kcols) {
  return size_t(64 * kReduceTargetBlocks + kcols) * sizeof(double);
}

// y[r, c] = bias[c] (then a GEMM with beta = 1 adds the product: no separate zeroing or bias pass)
template <typename T>
void bias_fill_cpu(T* y, const T* bias, int64_t rows, int64_t cols);
// y[r, c] += bias[c]
template <typename T>
void bias_add_cpu(T* y, const T* bias, int64_t rows, int64_t cols);
// db[c] += sum_r dy[r, c]
template <typename T>
void bias_grad_cpu(const T* dy, T* db, int64_t rows, int64_t cols);

void bias_add_cuda(float* y, const float* bias, int64_t rows, int64_t cols, void* stream);
// db += column sums (scratch: cuda_reduce_scratch_bytes(cols)).
void bias_grad_cuda(const float* dy, float* db, int64_t rows, int64_t cols, CudaResources& r);
// Fused layer epilogues (one pass over the output instead of two):
// y = a(y + bias) (bias nullable); softmax adds the bias, then normalises each row.
void bias_activation_cuda(Activation a, float* y, const float* bias, int64_t rows, int64_t cols, CudaResources& r);
// dy = a'(y) * dy in place and db += its column sums (db nullable; scratch as bias_grad_cuda).
void activation_bias_grad_cuda(Activation a, const float* y, float* dy, float* db, int64_t rows, int64_t cols,
                               CudaResources& r);
// The same for a convolution whose backward passes run in NCHW, in one pass where it took two: dy
// (n, hw, cols) NHWC gives its activation gradient to dy_nchw (n, cols, hw), and also back to dy in
// place when keep_nhwc (a pass still reads NHWC); db += its column sums (db nullable; scratch as
// bias_grad_cuda).
void activation_bias_grad_nchw_cuda(Activation a, const float* y, float* dy, float* db, int64_t n, int64_t hw,
                                    int64_t cols, float* dy_nchw, bool keep_nhwc, CudaResources& r);

}  // namespace dpt::kernels
