// LayerNormalization, RMSNormalization and GroupNormalization on CUDA: T threads per row (a warp, or
// the whole block for long rows), each row's sums in double through a fixed tree in shared memory
// (the same order on every run); the weights' gradients through the column reductions, per channel
// over every sample and position. Formulas and row layout: layernorm_math.h.
#include "kernels/cuda_launch.cuh"
#include "kernels/cuda_reduce.cuh"
#include "kernels/layernorm.h"

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

struct LoadWeightSums {  // dy and dy * xhat of element (sample-position pr, channel c)
  RowLayout L;
  const float *x, *dy, *mean, *rstd;
  __device__ void operator()(int64_t pr, int64_t c, double* v) const {
    const int64_t i = pr * L.channels() + c, r = L.row_of(pr, c);
    const float g = dy[i];
    v[0] = g;
    v[1] = double(g) * double(rownorm_xhat(x[i], mean[r], rstd[r]));
  }
};

struct StoreWeightSums {
  float *dgamma, *dbeta;
  __device__ void operator()(int k, int64_t c, double s) const {
    if (k == 0 && dbeta) dbeta[c] += float(s);
    if (k == 1 && dgamma) dgamma[c] += float(s);
  }
};

}  // namespace

// Block-uniform loop over groups of kBlockThreads / T rows: every thread reaches every group_sum.
template <int T>
__global__ void rownorm_forward_kernel(bool centered, double eps, RowLayout L, const float* __restrict__ x,
                                       const float* __restrict__ gamma, const float* __restrict__ beta,
                                       float* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd) {
  __shared__ double sh[kBlockThreads];
  constexpr int kRows = kBlockThreads / T;
  const int lane = int(threadIdx.x) % T;
  const int64_t D = L.len();
  for (int64_t r0 = int64_t(blockIdx.x) * kRows; r0 < L.rows; r0 += int64_t(gridDim.x) * kRows) {
    const int64_t r = r0 + int64_t(threadIdx.x) / T;
    const bool live = r < L.rows;
    double m = 0.0;
    if (centered) {
      double s = 0.0;
      if (live)
        for (int64_t e = lane; e < D; e += T) s += double(x[L.offset(r, e)]);
      m = group_sum<T>(s, sh) / double(D);
    }
    double q = 0.0;
    if (live)
      for (int64_t e = lane; e < D; e += T) {
        const double d = double(x[L.offset(r, e)]) - m;
        q += d * d;
      }
    const float rs = float(rownorm_rstd(group_sum<T>(q, sh) / double(D), eps)), mr = float(m);
    if (!live) continue;
    if (lane == 0) {
      mean[r] = mr;
      rstd[r] = rs;
    }
    for (int64_t e = lane; e < D; e += T) {
      const int64_t c = L.channel(r, e), i = L.offset(r, e);
      y[i] = rownorm_out(x[i], mr, rs, gamma ? gamma[c] : 1.f, beta ? beta[c] : 0.f);
    }
  }
}

template <int T>
__global__ void rownorm_backward_kernel(bool centered, RowLayout L, const float* __restrict__ x,
                                        const float* __restrict__ dy, const float* __restrict__ gamma,
                                        const float* __restrict__ mean, const float* __restrict__ rstd,
                                        float* __restrict__ dx) {
  __shared__ double sh[kBlockThreads];
  constexpr int kRows = kBlockThreads / T;
  const int lane = int(threadIdx.x) % T;
  const int64_t D = L.len();
  for (int64_t r0 = int64_t(blockIdx.x) * kRows; r0 < L.rows; r0 += int64_t(gridDim.x) * kRows) {
    const int64_t r = r0 + int64_t(threadIdx.x) / T;
    const bool live = r < L.rows;
    const int64_t rr = live ? r : 0;
    const float mr = mean[rr], rs = rstd[rr];
    double a = 0.0, b = 0.0;
    if (live)
      for (int64_t e = lane; e < D; e += T) {
        const int64_t i = L.offset(r, e);
        const float g = dy[i] * (gamma ? gamma[L.channel(r, e)] : 1.f);
        a += double(g);
        b += double(g) * double(rownorm_xhat(x[i], mr, rs));
      }
    const double mean_g = centered ? group_sum<T>(a, sh) / double(D) : 0.0;
    const double mean_gx = group_sum<T>(b, sh) / double(D);
    if (!live) continue;
    for (int64_t e = lane; e < D; e += T) {
      const int64_t i = L.offset(r, e);
      dx[i] =
          rownorm_dx(dy[i] * (gamma ? gamma[L.channel(r, e)] : 1.f), rownorm_xhat(x[i], mr, rs), mean_g, mean_gx, rs);
    }
  }
}

namespace {
unsigned row_blocks(int64_t rows, int threads_per_row) {
  const int64_t per = kBlockThreads / threads_per_row, b = (rows + per - 1) / per;
  return unsigned(b < kMaxGridBlocks ? b : kMaxGridBlocks);
}
}  // namespace

void rownorm_forward_cuda(bool centered, double eps, const RowLayout& L, const float* x, const float* gamma,
                          const float* beta, float* y, float* mean, float* rstd, void* stream) {
  if (L.rows == 0 || L.len() == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (L.len() <= kLongRow)
    rownorm_forward_kernel<32>
        <<<row_blocks(L.rows, 32), kBlockThreads, 0, s>>>(centered, eps, L, x, gamma, beta, y, mean, rstd);
  else
    rownorm_forward_kernel<kBlockThreads>
        <<<row_blocks(L.rows, kBlockThreads), kBlockThreads, 0, s>>>(centered, eps, L, x, gamma, beta, y, mean, rstd);
  DPT_CUDA_LAUNCH_CHECK();
}

void rownorm_backward_cuda(bool centered, const RowLayout& L, const float* x, const float* dy, const float* gamma,
                           const float* mean, const float* rstd, float* dx, float* dgamma, float* dbeta,
                           CudaResources& r) {
  if (L.rows == 0 || L.len() == 0) return;
  if (dx) {
    if (L.len() <= kLongRow)
      rownorm_backward_kernel<32>
          <<<row_blocks(L.rows, 32), kBlockThreads, 0, r.stream()>>>(centered, L, x, dy, gamma, mean, rstd, dx);
    else
      rownorm_backward_kernel<kBlockThreads><<<row_blocks(L.rows, kBlockThreads), kBlockThreads, 0, r.stream()>>>(
          centered, L, x, dy, gamma, mean, rstd, dx);
    DPT_CUDA_LAUNCH_CHECK();
  }
  if (dgamma || dbeta)
    column_reduce_cuda<2>(r, LoadWeightSums{L, x, dy, mean, rstd}, StoreWeightSums{dgamma, dbeta},
                          L.rows / L.groups * L.positions, L.channels());
}

}  // namespace dpt::kernels
