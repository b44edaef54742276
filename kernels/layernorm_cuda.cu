// LayerNormalization and RMSNormalization on CUDA: T threads per row (a warp, or the whole block for
// long rows), each row's sums in double through a fixed tree in shared memory (the same order on
// every run); the weights' gradients through the column reductions. Formulas: layernorm_math.h.
#include "kernels/cuda_launch.cuh"
#include "kernels/cuda_reduce.cuh"
#include "kernels/layernorm.h"
#include "kernels/layernorm_math.h"

namespace dpt::kernels {

namespace {

constexpr int64_t kLongRow = 1024;  // rows longer than this take a whole block of threads

// The sum of v over the T threads of this thread's group (T a power of two dividing the block);
// every thread of the block must call it.
template <int T>
__device__ double group_sum(double v, double* sh) {
  const int t = int(threadIdx.x), lane = t % T;
  sh[t] = v;
  __syncthreads();
  for (int half = T / 2; half > 0; half /= 2) {
    if (lane < half) sh[t] += sh[t + half];
    __syncthreads();
  }
  const double s = sh[t - lane];
  __syncthreads();
  return s;
}

struct LoadWeightSums {  // dy and dy * xhat of one element
  const float *x, *dy, *mean, *rstd;
  int64_t D;
  __device__ void operator()(int64_t r, int64_t j, double* v) const {
    const float g = dy[r * D + j];
    v[0] = g;
    v[1] = double(g) * double(rownorm_xhat(x[r * D + j], mean[r], rstd[r]));
  }
};

struct StoreWeightSums {
  float *dgamma, *dbeta;
  __device__ void operator()(int k, int64_t j, double s) const {
    if (k == 0 && dbeta) dbeta[j] += float(s);
    if (k == 1 && dgamma) dgamma[j] += float(s);
  }
};

}  // namespace

// Block-uniform loop over groups of kBlockThreads / T rows: every thread reaches every group_sum.
template <int T>
__global__ void rownorm_forward_kernel(bool centered, double eps, const float* __restrict__ x, int64_t rows, int64_t D,
                                       const float* __restrict__ gamma, const float* __restrict__ beta,
                                       float* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd) {
  __shared__ double sh[kBlockThreads];
  constexpr int kRows = kBlockThreads / T;
  const int lane = int(threadIdx.x) % T;
  for (int64_t r0 = int64_t(blockIdx.x) * kRows; r0 < rows; r0 += int64_t(gridDim.x) * kRows) {
    const int64_t r = r0 + int64_t(threadIdx.x) / T;
    const bool live = r < rows;
    const float* xr = x + (live ? r : 0) * D;
    double m = 0.0;
    if (centered) {
      double s = 0.0;
      if (live)
        for (int64_t j = lane; j < D; j += T) s += double(xr[j]);
      m = group_sum<T>(s, sh) / double(D);
    }
    double q = 0.0;
    if (live)
      for (int64_t j = lane; j < D; j += T) {
        const double d = double(xr[j]) - m;
        q += d * d;
      }
    const float rs = float(rownorm_rstd(group_sum<T>(q, sh) / double(D), eps)), mr = float(m);
    if (!live) continue;
    if (lane == 0) {
      mean[r] = mr;
      rstd[r] = rs;
    }
    for (int64_t j = lane; j < D; j += T)
      y[r * D + j] = rownorm_out(xr[j], mr, rs, gamma ? gamma[j] : 1.f, beta ? beta[j] : 0.f);
  }
}

template <int T>
__global__ void rownorm_backward_kernel(bool centered, const float* __restrict__ x, const float* __restrict__ dy,
                                        int64_t rows, int64_t D, const float* __restrict__ gamma,
                                        const float* __restrict__ mean, const float* __restrict__ rstd,
                                        float* __restrict__ dx) {
  __shared__ double sh[kBlockThreads];
  constexpr int kRows = kBlockThreads / T;
  const int lane = int(threadIdx.x) % T;
  for (int64_t r0 = int64_t(blockIdx.x) * kRows; r0 < rows; r0 += int64_t(gridDim.x) * kRows) {
    const int64_t r = r0 + int64_t(threadIdx.x) / T;
    const bool live = r < rows;
    const int64_t rr = live ? r : 0;
    const float *xr = x + rr * D, *dyr = dy + rr * D, mr = mean[rr], rs = rstd[rr];
    double a = 0.0, b = 0.0;
    if (live)
      for (int64_t j = lane; j < D; j += T) {
        const float g = dyr[j] * (gamma ? gamma[j] : 1.f);
        a += double(g);
        b += double(g) * double(rownorm_xhat(xr[j], mr, rs));
      }
    const double mean_g = centered ? group_sum<T>(a, sh) / double(D) : 0.0;
    const double mean_gx = group_sum<T>(b, sh) / double(D);
    if (!live) continue;
    for (int64_t j = lane; j < D; j += T)
      dx[r * D + j] = rownorm_dx(dyr[j] * (gamma ? gamma[j] : 1.f), rownorm_xhat(xr[j], mr, rs), mean_g, mean_gx, rs);
  }
}

namespace {
unsigned row_blocks(int64_t rows, int threads_per_row) {
  const int64_t per = kBlockThreads / threads_per_row, b = (rows + per - 1) / per;
  return unsigned(b < kMaxGridBlocks ? b : kMaxGridBlocks);
}
}  // namespace

void rownorm_forward_cuda(bool centered, double eps, const float* x, int64_t rows, int64_t D, const float* gamma,
                          const float* beta, float* y, float* mean, float* rstd, void* stream) {
  if (rows == 0 || D == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (D <= kLongRow)
    rownorm_forward_kernel<32>
        <<<row_blocks(rows, 32), kBlockThreads, 0, s>>>(centered, eps, x, rows, D, gamma, beta, y, mean, rstd);
  else
    rownorm_forward_kernel<kBlockThreads><<<row_blocks(rows, kBlockThreads), kBlockThreads, 0, s>>>(
        centered, eps, x, rows, D, gamma, beta, y, mean, rstd);
  DPT_CUDA_LAUNCH_CHECK();
}

void rownorm_backward_cuda(bool centered, const float* x, const float* dy, int64_t rows, int64_t D, const float* gamma,
                           const float* mean, const float* rstd, float* dx, float* dgamma, float* dbeta,
                           CudaResources& r) {
  if (rows == 0 || D == 0) return;
  if (dx) {
    if (D <= kLongRow)
      rownorm_backward_kernel<32>
          <<<row_blocks(rows, 32), kBlockThreads, 0, r.stream()>>>(centered, x, dy, rows, D, gamma, mean, rstd, dx);
    else
      rownorm_backward_kernel<kBlockThreads><<<row_blocks(rows, kBlockThreads), kBlockThreads, 0, r.stream()>>>(
          centered, x, dy, rows, D, gamma, mean, rstd, dx);
    DPT_CUDA_LAUNCH_CHECK();
  }
  if (dgamma || dbeta)
    column_reduce_cuda<2>(r, LoadWeightSums{x, dy, mean, rstd, D}, StoreWeightSums{dgamma, dbeta}, rows, D);
}

}  // namespace dpt::kernels
