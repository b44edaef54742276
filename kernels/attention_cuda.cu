// Keras's masks on attention scores on CUDA (attention.h): one thread a score.
#include "kernels/attention.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"

namespace dpt::kernels {

__global__ void attention_fill_kernel(AttentionMask m, float* __restrict__ scores, float value, int64_t total) {
  DPT_GRID_STRIDE(e, total) {
    const int64_t j = e % m.s, i = (e / m.s) % m.t, b = e / (m.s * m.t * m.heads);
    if (attention_masked(m, b, i, j)) scores[e] = value;
  }
}

void attention_fill_cuda(const AttentionMask& m, float* scores, float value, void* stream) {
  const int64_t total = m.n * m.heads * m.t * m.s;
  if (total == 0) return;
  attention_fill_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(m, scores, value,
                                                                                                     total);
  DPT_CUDA_LAUNCH_CHECK();
}

__global__ void scale_by_kernel(const float* x, float* y, int64_t n, const float* __restrict__ s) {
  const float v = s[0];
  DPT_GRID_STRIDE(e, n) {
    y[e] = x[e] * v;
  }
}

__global__ void multiply_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ prod,
                                int64_t n) {
  DPT_GRID_STRIDE(e, n) {
    prod[e] = a[e] * b[e];
  }
}

void scale_by_cuda(const float* x, float* y, int64_t n, const float* s, void* stream) {
  if (n == 0) return;
  scale_by_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, y, n, s);
  DPT_CUDA_LAUNCH_CHECK();
}

void multiply_cuda(const float* a, const float* b, float* prod, int64_t n, void* stream) {
  if (n == 0) return;
  multiply_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(a, b, prod, n);
  DPT_CUDA_LAUNCH_CHECK();
}

// Concatenation scores: one thread a score, its features in order.
__global__ void concat_scores_kernel(ConcatScores m, float* __restrict__ scores, int64_t total) {
  DPT_GRID_STRIDE(e, total) {
    scores[e] = concat_score(m, e / (m.s * m.t), (e / m.s) % m.t, e % m.s);
  }
}

// dq: one thread a query feature (b, i, f), over the keys j; dk (key_side): one a key feature (b, j,
// f), over the queries i. Neighbouring threads read neighbouring features.
__global__ void concat_input_grad_kernel(ConcatScores m, const float* __restrict__ ds, float* __restrict__ dx,
                                         bool key_side, bool add, int64_t total) {
  const int64_t steps = key_side ? m.s : m.t, over = key_side ? m.t : m.s;
  DPT_GRID_STRIDE(e, total) {
    const int64_t f = e % m.d, x = (e / m.d) % steps, b = e / (m.d * steps);
    float g = 0.f;
    for (int64_t y = 0; y < over; ++y) {
      const int64_t i = key_side ? y : x, j = key_side ? x : y;
      g += ds[(b * m.t + i) * m.s + j] * concat_input_slope(m, f, concat_tanh(m, b, i, j, f));
    }
    dx[e] = add ? dx[e] + g : g;
  }
}

// The weights' per-sample sums: one thread a (b, f), over every (i, j).
__global__ void concat_partials_kernel(ConcatScores m, const float* __restrict__ ds, float* __restrict__ pw,
                                       float* __restrict__ pa, int64_t total) {
  DPT_GRID_STRIDE(e, total) {
    const int64_t f = e % m.d, b = e / m.d;
    float sw = 0.f, sa = 0.f;
    for (int64_t i = 0; i < m.t; ++i)
      for (int64_t j = 0; j < m.s; ++j) {
        const float dsij = ds[(b * m.t + i) * m.s + j];
        const float th = concat_tanh(m, b, i, j, f);
        sw += dsij * th;
        sa += dsij * (1.f - th * th) * concat_sum(m, b, i, j, f);
      }
    pw[e] = sw;
    pa[e] = sa;
  }
}

// One block: thread t adds features t, t + 256, ... over the samples in order, then a fixed tree
// adds the threads' shares of dc and da (the same order every run).
__global__ void concat_weight_grads_kernel(ConcatScores m, const float* __restrict__ pw, const float* __restrict__ pa,
                                           float* da, float* dw, float* dc) {
  __shared__ double sh_c[kBlockThreads], sh_a[kBlockThreads];
  double pc = 0, pa_sum = 0;
  for (int64_t f = threadIdx.x; f < m.d; f += kBlockThreads) {
    double sw = 0, sa = 0;
    for (int64_t b = 0; b < m.n; ++b) {
      sw += pw[b * m.d + f];
      sa += pa[b * m.d + f];
    }
    concat_weight_shares(m, f, sw, sa, dw, &pc, &pa_sum);
  }
  sh_c[threadIdx.x] = pc;
  sh_a[threadIdx.x] = pa_sum;
  __syncthreads();
  for (int half = kBlockThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) {
      sh_c[threadIdx.x] += sh_c[threadIdx.x + half];
      sh_a[threadIdx.x] += sh_a[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (dc) dc[0] += float(sh_c[0]);
    if (da) da[0] += float(sh_a[0]);
  }
}

void concat_scores_cuda(const ConcatScores& m, float* scores, void* stream) {
  const int64_t total = m.n * m.t * m.s;
  if (total == 0) return;
  concat_scores_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(m, scores, total);
  DPT_CUDA_LAUNCH_CHECK();
}

void concat_scores_backward_cuda(const ConcatScores& m, const float* ds, const ConcatGrads& g, float* work,
                                 void* stream) {
  if (m.n == 0) return;
  const auto st = static_cast<cudaStream_t>(stream);
  if (g.dq) {
    const int64_t total = m.n * m.t * m.d;
    concat_input_grad_kernel<<<grid_blocks(total), kBlockThreads, 0, st>>>(m, ds, g.dq, false, false, total);
    DPT_CUDA_LAUNCH_CHECK();
  }
  if (g.dk) {
    const int64_t total = m.n * m.s * m.d;
    concat_input_grad_kernel<<<grid_blocks(total), kBlockThreads, 0, st>>>(m, ds, g.dk, true, g.add_dk, total);
    DPT_CUDA_LAUNCH_CHECK();
  }
  if (!(g.da || g.dw || g.dc)) return;
  float* pw = work;
  float* pa = work + m.n * m.d;
  const int64_t total = m.n * m.d;
  concat_partials_kernel<<<grid_blocks(total), kBlockThreads, 0, st>>>(m, ds, pw, pa, total);
  DPT_CUDA_LAUNCH_CHECK();
  concat_weight_grads_kernel<<<1, kBlockThreads, 0, st>>>(m, pw, pa, g.da, g.dw, g.dc);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
