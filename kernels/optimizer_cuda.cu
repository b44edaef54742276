// CUDA optimizer updates over the flat arenas: one thread per element, the formulas of
// optimizer_math.h (the same ones the CPU loop calls).
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/optimizer.h"

namespace dpt::kernels {

__global__ void sgd_update_kernel(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                                  bool nesterov) {
  DPT_GRID_STRIDE(i, n) {
    float dummy = 0.f;
    sgd_step(w[i], g[i], v ? v[i] : dummy, lr, momentum, nesterov);
  }
}

__global__ void rmsprop_update_kernel(float* w, const float* g, float* ms, float* mom, float* mg, int64_t n, float lr,
                                      float rho, float momentum, float eps, bool centered) {
  DPT_GRID_STRIDE(i, n) {
    float d1 = 0.f, d2 = 0.f;
    rmsprop_step(w[i], g[i], ms[i], mom ? mom[i] : d1, mg ? mg[i] : d2, lr, rho, momentum, eps, centered);
  }
}

__global__ void adam_update_kernel(float* w, const float* g, float* m, float* v, float* vhat, int64_t n, float alpha,
                                   float b1, float b2, float eps, bool amsgrad) {
  DPT_GRID_STRIDE(i, n) {
    float d = 0.f;
    adam_step(w[i], g[i], m[i], v[i], vhat ? vhat[i] : d, alpha, b1, b2, eps, amsgrad);
  }
}

template <class Step>
__global__ void step_kernel(Step step, float* w, const float* g, float* s0, float* s1, int64_t n) {
  DPT_GRID_STRIDE(i, n) {
    if constexpr (Step::kSlots == 0)
      step(w[i], g[i]);
    else if constexpr (Step::kSlots == 1)
      step(w[i], g[i], s0[i]);
    else
      step(w[i], g[i], s0[i], s1[i]);
  }
}

template <class Step>
void update_cuda(const Step& step, float* w, const float* g, float* const* slots, int64_t n, void* stream) {
  if (n == 0) return;
  float* s0 = Step::kSlots > 0 ? slots[0] : nullptr;
  float* s1 = Step::kSlots > 1 ? slots[1] : nullptr;
  step_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(step, w, g, s0, s1, n);
  DPT_CUDA_LAUNCH_CHECK();
}
#define DPT_INSTANTIATE(S) template void update_cuda<S>(const S&, float*, const float*, float* const*, int64_t, void*);
DPT_OPTIMIZER_STEPS(DPT_INSTANTIATE)
#undef DPT_INSTANTIATE

// The block's kBlockThreads sums added through a fixed shared-memory tree (the same bits on every
// run); every thread gets the total. Called by every thread of the block.
__device__ double block_tree_sum(double s) {
  __shared__ double sh[kBlockThreads];
  sh[threadIdx.x] = s;
  __syncthreads();
  for (int half = kBlockThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) sh[threadIdx.x] += sh[threadIdx.x + half];
    __syncthreads();
  }
  const double total = sh[0];
  __syncthreads();  // every thread has read it: sh is free for a later call
  return total;
}

// Clipping (see clip_cpu): a block per chunk adds its squares in double, in a fixed order, so every
// replica computes the same factors from the same gradients.
__global__ void clip_partials_kernel(const float* g, const int64_t* begin, double* partial) {
  const int64_t c = blockIdx.x;
  double s = 0.0;
  for (int64_t i = begin[c] + threadIdx.x; i < begin[c + 1]; i += kBlockThreads) s += double(g[i]) * double(g[i]);
  const double total = block_tree_sum(s);
  if (threadIdx.x == 0) partial[c] = total;
}

// A thread per weight (norm) or one thread (global_norm) adds its chunks' partials in chunk order.
__global__ void clip_factors_kernel(ClipMode mode, float clip, const double* partial, const int64_t* first,
                                    int64_t groups, int64_t chunks, float* mul, float* div) {
  const int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= groups) return;
  const bool global = mode == ClipMode::global_norm;
  const int64_t c0 = global ? 0 : first[k], c1 = global ? chunks : first[k + 1];
  double s = 0.0;
  for (int64_t j = c0; j < c1; ++j) s += partial[j];
  clip_factors(mode, clip, s, mul[k], div[k]);
}

__global__ void clip_apply_kernel(ClipMode mode, float clip, float* g, const int64_t* begin, const int64_t* seg,
                                  const float* mul, const float* div) {
  const int64_t c = blockIdx.x;
  const int64_t k = mode == ClipMode::global_norm ? 0 : seg[c];
  for (int64_t i = begin[c] + threadIdx.x; i < begin[c + 1]; i += kBlockThreads)
    g[i] = mode == ClipMode::value ? clip_value(g[i], clip) : g[i] * mul[k] / div[k];
}

void clip_cuda(const int64_t* plan, int64_t chunks, int64_t weights, ClipMode mode, float c, float* g, void* scratch,
               void* stream) {
  if (mode == ClipMode::none || chunks == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t *begin = plan, *seg = plan + chunks + 1, *first = seg + chunks;
  double* partial = static_cast<double*>(scratch);
  float* mul = reinterpret_cast<float*>(partial + chunks);
  float* div = mul + weights;
  if (mode != ClipMode::value) {
    clip_partials_kernel<<<unsigned(chunks), kBlockThreads, 0, s>>>(g, begin, partial);
    DPT_CUDA_LAUNCH_CHECK();
    const int64_t groups = mode == ClipMode::global_norm ? 1 : weights;
    clip_factors_kernel<<<unsigned((groups + kBlockThreads - 1) / kBlockThreads), kBlockThreads, 0, s>>>(
        mode, c, partial, first, groups, chunks, mul, div);
    DPT_CUDA_LAUNCH_CHECK();
  }
  clip_apply_kernel<<<unsigned(chunks), kBlockThreads, 0, s>>>(mode, c, g, begin, seg, mul, div);
  DPT_CUDA_LAUNCH_CHECK();
}

// A block per chunk (see penalty_cpu): the penalty added in double in a fixed tree, so the sum
// comes out the same on every run.
__global__ void penalty_kernel(const PenaltyChunk* chunks, const float* w, float* g, double* partial) {
  const PenaltyChunk k = chunks[blockIdx.x];
  double s = 0.0;
  for (int64_t i = k.begin + threadIdx.x; i < k.end; i += kBlockThreads) {
    const float wi = w[i];
    s += penalty_value(wi, k.l1, k.l2);
    if (g) g[i] += penalty_slope(wi, k.l1, k.l2);
  }
  const double total = block_tree_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

void penalty_cuda(const PenaltyChunk* chunks, int64_t count, const float* w, float* g, double* partial, void* stream) {
  if (count == 0) return;
  penalty_kernel<<<unsigned(count), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(chunks, w, g, partial);
  DPT_CUDA_LAUNCH_CHECK();
}

// A block per chunk of the output, as penalty_kernel (the same sums as activity_cpu's chunks).
__global__ void activity_kernel(const float* y, int64_t n, float l1, float l2, float scale, float* dy,
                                double* partial) {
  const int64_t begin = int64_t(blockIdx.x) * kClipChunk, end = begin + kClipChunk < n ? begin + kClipChunk : n;
  double s = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kBlockThreads) {
    const float yi = y[i];
    s += penalty_value(yi, l1, l2);
    if (dy) dy[i] += scale * penalty_slope(yi, l1, l2);
  }
  if (!partial) return;  // (the same for the whole block)
  const double total = block_tree_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

void activity_cuda(const float* y, int64_t n, float l1, float l2, float scale, float* dy, double* partial,
                   void* stream) {
  if (n == 0) return;
  const int64_t blocks = activity_chunks(n);
  DPT_CHECK(blocks <= 2147483647, "an activity regularizer over " << n << " values is more than one launch takes");
  activity_kernel<<<unsigned(blocks), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, n, l1, l2, scale, dy,
                                                                                             partial);
  DPT_CUDA_LAUNCH_CHECK();
}

// A block per group (see constrain_cpu): its sum of squares through a fixed shared-memory tree,
// then its values scaled; NonNeg's values each alone.
__global__ void constrain_kernel(ConstraintPlan p, float* w) {
  const int64_t g = blockIdx.x;
  double s = 0.0;
  for (int64_t k = threadIdx.x; k < p.group_size; k += kBlockThreads) {
    const double v = w[constraint_index(p, g, k)];
    s += v * v;
  }
  const float norm = float(sqrt(block_tree_sum(s)));
  for (int64_t k = threadIdx.x; k < p.group_size; k += kBlockThreads) {
    float& v = w[constraint_index(p, g, k)];
    v = constrained(p.kind, v, norm, p.min_value, p.max_value, p.rate);
  }
}

__global__ void non_neg_kernel(float* w, int64_t n) {
  DPT_GRID_STRIDE(i, n) w[i] = constrained(ConstraintKind::non_neg, w[i], 0.f, 0.f, 0.f, 0.f);
}

void constrain_cuda(const ConstraintPlan& p, float* w, void* stream) {
  if (p.groups * p.group_size == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (p.kind == ConstraintKind::non_neg) {
    non_neg_kernel<<<grid_blocks(p.group_size), kBlockThreads, 0, s>>>(w + p.offset, p.group_size);
  } else {
    DPT_CHECK(p.groups <= 2147483647,
              "a weight constraint over " << p.groups << " groups is more than one launch takes");
    constrain_kernel<<<unsigned(p.groups), kBlockThreads, 0, s>>>(p, w);
  }
  DPT_CUDA_LAUNCH_CHECK();
}

void sgd_update_cuda(float* w, const float* g, float* v, int64_t n, float lr, float momentum, bool nesterov,
                     void* stream) {
  if (n == 0) return;
  sgd_update_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(w, g, v, n, lr, momentum,
                                                                                             nesterov);
  DPT_CUDA_LAUNCH_CHECK();
}

void rmsprop_update_cuda(float* w, const float* g, float* ms, float* mom, float* mg, int64_t n, float lr, float rho,
                         float momentum, float eps, bool centered, void* stream) {
  if (n == 0) return;
  rmsprop_update_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      w, g, ms, mom, mg, n, lr, rho, momentum, eps, centered);
  DPT_CUDA_LAUNCH_CHECK();
}

void adam_update_cuda(float* w, const float* g, float* m, float* v, float* vhat, int64_t n, float alpha, float b1,
                      float b2, float eps, bool amsgrad, void* stream) {
  if (n == 0) return;
  adam_update_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      w, g, m, v, vhat, n, alpha, b1, b2, eps, amsgrad);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
