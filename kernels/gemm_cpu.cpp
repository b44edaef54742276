// CPU GEMM through OpenBLAS's cblas (row-major), float and double.
#include <cblas.h>
#include <omp.h>
#include <exception>
#include "kernels/gemm.h"

namespace dpt::kernels {

template <>
void gemm_cpu<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     const float* B, float beta, float* C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // an empty product: C = beta * C
    for (int64_t i = 0; i < M * N; ++i) C[i] = beta == 0.f ? 0.f : beta * C[i];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)(ta ? M : K), B,
              (blasint)(tb ? K : N), beta, C, (blasint)N);
}

template <>
void gemm_cpu<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                      const double* B, double beta, double* C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M * N; ++i) C[i] = beta == 0.0 ? 0.0 : beta * C[i];
    return;
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)(ta ? M : K), B,
              (blasint)(tb ? K : N), beta, C, (blasint)N);
}

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
