// CUDA batch normalisation (channels last): column reductions for the sums, pointwise kernels
// for the rest, all through batchnorm_math.h (the CPU's formulas).
#include "kernels/batchnorm.h"
#include "kernels/batchnorm_math.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/cuda_reduce.cuh"

namespace dpt::kernels {

namespace {

struct LoadSums {  // x and x^2
  const float* x;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t c, double* v) const {
    const double a = x[r * C + c];
    v[0] = a;
    v[1] = a * a;
  }
};

struct StoreSums {  // sums[k*C + c]; the first column also records the row count
  double* sums;
  int64_t C;
  double rows;
  __device__ void operator()(int k, int64_t c, double s) const {
    sums[k * C + c] = s;
    if (k == 0 && c == 0) sums[2 * C] = rows;
  }
};

struct LoadBackwardSums {  // dy and dy * xhat
  const float *x, *dy, *mean, *invstd;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t c, double* v) const {
    const double g = dy[r * C + c];
    v[0] = g;
    v[1] = g * (double(x[r * C + c]) - mean[c]) * invstd[c];
  }
};

struct StoreBackwardSums {  // this replica's share of dbeta/dgamma, and the sums for dx
  double* sums;
  float *dgamma, *dbeta;
  int64_t C;
  __device__ void operator()(int k, int64_t c, double s) const {
    sums[k * C + c] = s;
    if (k == 0)
      dbeta[c] += float(s);
    else
      dgamma[c] += float(s);
  }
};

}  // namespace

__global__ void bn_stats_kernel(const double* sums, int64_t C, double eps, float* mean, float* var, float* invstd) {
  DPT_GRID_STRIDE(c, C) bn_stat(sums[c], sums[C + c], sums[2 * C], eps, mean + c, var + c, invstd + c);
}

__global__ void bn_invstd_kernel(const float* var, int64_t C, double eps, float* invstd) {
  DPT_GRID_STRIDE(c, C) invstd[c] = float(1.0 / sqrt(double(var[c]) + eps));
}

__global__ void bn_apply_kernel(const float* x, int64_t rows, int64_t C, const float* mean, const float* invstd,
                                const float* gamma, const float* beta, float* y) {
  DPT_GRID_STRIDE(i, rows * C) {
    const int64_t c = i % C;
    y[i] = gamma[c] * (x[i] - mean[c]) * invstd[c] + beta[c];
  }
}

__global__ void bn_update_moving_kernel(float* mm, float* mv, const float* mean, const float* var, float momentum,
                                        int64_t C, const double* count) {
  if (*count <= 0) return;
  DPT_GRID_STRIDE(c, C) {
    mm[c] = bn_moving(mm[c], mean[c], momentum);
    mv[c] = bn_moving(mv[c], var[c], momentum);
  }
}

__global__ void bn_backward_apply_kernel(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                                         const float* invstd, const float* gamma, const double* sums,
                                         const double* count, float* dx) {
  const double n = *count;
  DPT_GRID_STRIDE(i, rows * C) {
    const int64_t c = i % C;
    dx[i] = bn_dx(x[i], dy[i], mean[c], invstd[c], gamma[c], sums[c], sums[C + c], n);
  }
}

void bn_sums_cuda(const float* x, int64_t rows, int64_t C, double* sums, CudaResources& r) {
  column_reduce_cuda<2>(r, LoadSums{x, C}, StoreSums{sums, C, double(rows)}, rows, C);
}

void bn_stats_cuda(const double* sums, int64_t C, double eps, float* mean, float* var, float* invstd, void* stream) {
  bn_stats_kernel<<<grid_blocks(C), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(sums, C, eps, mean, var,
                                                                                           invstd);
  DPT_CUDA_LAUNCH_CHECK();
}

void bn_invstd_cuda(const float* var, int64_t C, double eps, float* invstd, void* stream) {
  bn_invstd_kernel<<<grid_blocks(C), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(var, C, eps, invstd);
  DPT_CUDA_LAUNCH_CHECK();
}

void bn_apply_cuda(const float* x, int64_t rows, int64_t C, const float* mean, const float* invstd, const float* gamma,
                   const float* beta, float* y, void* stream) {
  if (rows * C == 0) return;
  bn_apply_kernel<<<grid_blocks(rows * C), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, rows, C, mean, invstd, gamma, beta, y);
  DPT_CUDA_LAUNCH_CHECK();
}

void bn_update_moving_cuda(float* moving_mean, float* moving_var, const float* mean, const float* var, float momentum,
                           int64_t C, const double* count, void* stream) {
  bn_update_moving_kernel<<<grid_blocks(C), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      moving_mean, moving_var, mean, var, momentum, C, count);
  DPT_CUDA_LAUNCH_CHECK();
}

void bn_backward_sums_cuda(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                           const float* invstd, double* sums, float* dgamma, float* dbeta, CudaResources& r) {
  column_reduce_cuda<2>(r, LoadBackwardSums{x, dy, mean, invstd, C}, StoreBackwardSums{sums, dgamma, dbeta, C}, rows,
                        C);
}

void bn_backward_apply_cuda(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                            const float* invstd, const float* gamma, const double* sums, const double* count, float* dx,
                            void* stream) {
  if (rows * C == 0) return;
  bn_backward_apply_kernel<<<grid_blocks(rows * C), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, dy, rows, C, mean, invstd, gamma, sums, count, dx);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
