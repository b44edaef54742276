// GEMM on raw row-major arrays: C(M,N) = alpha * op(A) * op(B) + beta * C.
// A is (M,K), or (K,M) when trans_a; B is (K,N), or (N,K) when trans_b.
#pragma once
#include <cstdint>

namespace dpt::kernels {

template <typename T>
void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
              const T* B, T beta, T* C);

// BLAS threads for the calling thread's GEMMs (OpenBLAS, OpenMP build: per calling thread).
void set_cpu_threads(int threads);
int cpu_thread_count();

}  // namespace dpt::kernels
