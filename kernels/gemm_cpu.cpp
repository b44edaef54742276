// CPU GEMM through OpenBLAS's cblas (row-major), float and double.
#include <cblas.h>
#include <omp.h>
#include <exception>
#include "kernels/gemm.h"

namespace dpt::kernels {

template <>
void gemm_ld_cpu<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                        const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // an empty product: C = beta * C
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

template <>
void gemm_ld_cpu<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                         const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[i * ldc + j];
    return;
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

template <typename T>
void gemm_cpu(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, const T* B, T beta, T* C) {
  gemm_ld_cpu<T>(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}
template void gemm_cpu<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, const float*, float, float*);
template void gemm_cpu<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, const double*, double,
                               double*);

template <typename T>
void gemm_batched_cpu(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                      int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc,
                      int64_t stride_c, int count) {
  // Small products (an attention head's scores: 200 x 200 x 32) run one to a thread: OpenBLAS
  // splitting each of them over the threads cost more than it gained (imdb-transformer on 2
  // threads: 620-760 samples/s that way, 1335-1827 this way). OpenBLAS splits a product's rows and
  // columns over threads, never its inner dimension, so the outputs keep their bits (checked on
  // the attention's shapes, every transpose). Only where the outputs do not overlap.
  const bool apart = stride_c >= (M - 1) * ldc + N;
  if (count > 1 && apart && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < count; ++i)
      gemm_ld_cpu<T>(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c, ldc);
    return;
  }
  for (int i = 0; i < count; ++i)
    gemm_ld_cpu<T>(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c, ldc);
}
template void gemm_batched_cpu<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                                      const float*, int64_t, int64_t, float, float*, int64_t, int64_t, int);
template void gemm_batched_cpu<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                       const double*, int64_t, int64_t, double, double*, int64_t, int64_t, int);

void set_cpu_threads(int threads) {
  if (threads < 1) threads = 1;
  // Per calling thread: the OpenMP build of OpenBLAS sizes its team from the caller's
  // omp_get_max_threads(), so each replica thread can have its own count.
  omp_set_num_threads(threads);
}

int cpu_thread_count() { return omp_get_max_threads(); }

void run_tasks_cpu(int count, int threads, CpuTask task, void* arg) {
  if (count < 2 || threads < count) {
    for (int i = 0; i < count; ++i) task(arg, i);
    return;
  }
  std::exception_ptr first;
#pragma omp parallel num_threads(count)
  {
    omp_set_num_threads(threads / count);  // this thread's own parallel regions (and OpenBLAS's)
    for (int i = omp_get_thread_num(); i < count; i += omp_get_num_threads()) {
      try {
        task(arg, i);
      } catch (...) {
#pragma omp critical(dpt_run_tasks)
        if (!first) first = std::current_exception();
      }
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace dpt::kernels
