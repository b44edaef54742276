// GEMM on raw row-major arrays: C(M,N) = alpha * op(A) * op(B) + beta * C.
// A is (M,K), or (K,M) when trans_a; B is (K,N), or (N,K) when trans_b.
#pragma once
#include <cstdint>

namespace dpt::kernels {

class CudaResources;

template <typename T>
void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
              const T* B, T beta, T* C);

// The same with leading dimensions (row-major: the elements from one row to the next) lda, ldb
// and ldc, at least the stored rows' widths: blocks of columns of wider matrices (a recurrent
// layer's per-gate parts).
template <typename T>
void gemm_ld_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                 const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// count products at once (a recurrent layer's gates): for i < count, C + i stride_c = alpha
// op(A + i stride_a) op(B + i stride_b) + beta (C + i stride_c), leading dimensions as gemm_ld's.
template <typename T>
void gemm_batched_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                      int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc,
                      int64_t stride_c, int count);

// Row-major C(M,N) = alpha * op(A) * op(B) + beta * C on the GPU through cuBLAS, the same contract
// as gemm_cpu. cuBLAS is column-major: a row-major matrix read column-major is its transpose, so
// row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, i.e. cublasSgemm with the
// operands swapped (B first), M and N swapped, and each operand's transpose flag kept.
void gemm_cuda(const CudaResources& r, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, const float* B, float beta, float* C);
void gemm_ld_cuda(const CudaResources& r, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// One cublasSgemmStridedBatched call.
void gemm_batched_cuda(const CudaResources& r, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                       float beta, float* C, int64_t ldc, int64_t stride_c, int count);

// BLAS threads for the calling thread's GEMMs (OpenBLAS, OpenMP build: per calling thread).
void set_cpu_threads(int threads);
int cpu_thread_count();
// Runs task(arg, 0), ..., task(arg, count - 1): at once, one OpenMP thread each, where the caller
// may use `threads` >= count (each task's own loops and GEMMs then get threads / count); else one
// after the other. The first exception a task throws is rethrown once every task has returned. (A
// plain function and its argument: a training step calls it, and a std::function may allocate.)
using CpuTask = void (*)(void* arg, int index);
void run_tasks_cpu(int count, int threads, CpuTask task, void* arg);

}  // namespace dpt::kernels
