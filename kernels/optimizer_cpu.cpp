// CPU optimizer loops: each element through the shared formula in optimizer_math.h.
#include <algorithm>
#include <cmath>
#include "kernels/cpu_loops.h"
#include "kernels/optimizer.h"

namespace dpt::kernels {

// The loops are specialised on the optimizer's flags so each compiles to one branch-free,
// vectorised pass; the per-element arithmetic is the shared formula of optimizer_math.h.

template <typename T>
void sgd_update_cpu(T* w, const T* g, T* v, int64_t n, T lr, T momentum, bool nesterov) {
  if (momentum == T(0) || !v) {
    parallel_elementwise(n, [=](int64_t i) {
      T unused = 0;
      sgd_step(w[i], g[i], unused, lr, T(0), false);
    });
  } else if (nesterov) {
    parallel_elementwise(n, [=](int64_t i) { sgd_step(w[i], g[i], v[i], lr, momentum, true); });
  } else {
    parallel_elementwise(n, [=](int64_t i) { sgd_step(w[i], g[i], v[i], lr, momentum, false); });
  }
}

template <typename T>
void rmsprop_update_cpu(T* w, const T* g, T* ms, T* mom, T* mg, int64_t n, T lr, T rho, T momentum, T eps,
                        bool centered) {
  const bool use_mom = momentum > T(0) && mom;
  if (centered && use_mom) {
    parallel_elementwise(n, [=](int64_t i) { rmsprop_step(w[i], g[i], ms[i], mom[i], mg[i], lr, rho, momentum, eps, true); });
  } else if (centered) {
    parallel_elementwise(n, [=](int64_t i) {
      T unused = 0;
      rmsprop_step(w[i], g[i], ms[i], unused, mg[i], lr, rho, T(0), eps, true);
    });
  } else if (use_mom) {
    parallel_elementwise(n, [=](int64_t i) {
      T unused = 0;
      rmsprop_step(w[i], g[i], ms[i], mom[i], unused, lr, rho, momentum, eps, false);
    });
  } else {
    parallel_elementwise(n, [=](int64_t i) {
      T u1 = 0, u2 = 0;
      rmsprop_step(w[i], g[i], ms[i], u1, u2, lr, rho, T(0), eps, false);
    });
  }
}

template <typename T>
void adam_update_cpu(T* w, const T* g, T* m, T* v, T* vhat, int64_t n, T alpha, T b1, T b2, T eps, bool amsgrad) {
  if (amsgrad && vhat) {
    parallel_elementwise(n, [=](int64_t i) { adam_step(w[i], g[i], m[i], v[i], vhat[i], alpha, b1, b2, eps, true); });
  } else {
    parallel_elementwise(n, [=](int64_t i) {
      T unused = 0;
      adam_step(w[i], g[i], m[i], v[i], unused, alpha, b1, b2, eps, false);
    });
  }
}

template <class Step>
void update_cpu(const Step& step, float* w, const float* g, float* const* slots, int64_t n) {
  if constexpr (Step::kSlots == 0) {
    parallel_elementwise(n, [=](int64_t i) { step(w[i], g[i]); });
  } else if constexpr (Step::kSlots == 1) {
    float* s0 = slots[0];
    parallel_elementwise(n, [=](int64_t i) { step(w[i], g[i], s0[i]); });
  } else {
    static_assert(Step::kSlots == 2, "a step with 0, 1 or 2 slots");
    float *s0 = slots[0], *s1 = slots[1];
    parallel_elementwise(n, [=](int64_t i) { step(w[i], g[i], s0[i], s1[i]); });
  }
}
#define DPT_INSTANTIATE(S) template void update_cpu<S>(const S&, float*, const float*, float* const*, int64_t);
DPT_OPTIMIZER_STEPS(DPT_INSTANTIATE)
#undef DPT_INSTANTIATE

ClipPlan make_clip_plan(const std::vector<int64_t>& weight_sizes) {
  ClipPlan p;
  int64_t at = 0;
  p.begin.push_back(0);
  for (size_t k = 0; k < weight_sizes.size(); ++k) {
    p.first.push_back(p.chunks());
    const int64_t end = at + weight_sizes[k];
    for (; at < end; at = std::min(at + kClipChunk, end)) {
      p.begin.push_back(std::min(at + kClipChunk, end));
      p.seg.push_back(int64_t(k));
    }
  }
  p.first.push_back(p.chunks());
  return p;
}

void clip_cpu(const ClipPlan& plan, ClipMode mode, float c, float* g, double* partial) {
  const int64_t chunks = plan.chunks();
  const int64_t* begin = plan.begin.data();
  if (mode == ClipMode::value) {
    parallel_elementwise(begin[chunks], [=](int64_t i) { g[i] = clip_value(g[i], c); });
    return;
  }
  if (mode == ClipMode::none) return;
#pragma omp parallel for schedule(static) if (begin[chunks] >= 65536)
  for (int64_t k = 0; k < chunks; ++k) {
    double s = 0.0;
    for (int64_t i = begin[k]; i < begin[k + 1]; ++i) s += double(g[i]) * double(g[i]);
    partial[k] = s;
  }
  // The factors from the partial sums in chunk order, as the CUDA kernel adds them.
  const bool global = mode == ClipMode::global_norm;
  const int64_t groups = global ? 1 : plan.weights();
  for (int64_t k = 0; k < groups; ++k) {
    const int64_t c0 = global ? 0 : plan.first[size_t(k)], c1 = global ? chunks : plan.first[size_t(k) + 1];
    double s = 0.0;
    for (int64_t j = c0; j < c1; ++j) s += partial[j];
    float mul = 1.f, div = 1.f;
    clip_factors(mode, c, s, mul, div);
    float* gk = g + begin[c0];
    parallel_elementwise(begin[c1] - begin[c0], [=](int64_t i) { gk[i] = gk[i] * mul / div; });
  }
}

std::vector<PenaltyChunk> make_penalty_chunks(const std::vector<PenaltyWeight>& weights) {
  std::vector<PenaltyChunk> out;
  for (const PenaltyWeight& p : weights)
    for (int64_t b = p.offset; b < p.offset + p.size; b += kClipChunk)
      out.push_back({b, std::min(b + kClipChunk, p.offset + p.size), p.l1, p.l2});
  return out;
}

void penalty_cpu(const PenaltyChunk* chunks, int64_t count, const float* w, float* g, double* partial) {
#pragma omp parallel for schedule(static) if (count >= 4)
  for (int64_t c = 0; c < count; ++c) {
    const PenaltyChunk k = chunks[c];
    double s = 0.0;
    for (int64_t i = k.begin; i < k.end; ++i) {
      s += penalty_value(w[i], k.l1, k.l2);
      if (g) g[i] += penalty_slope(w[i], k.l1, k.l2);
    }
    partial[c] = s;
  }
}

void activity_cpu(const float* y, int64_t n, float l1, float l2, float scale, float* dy, double* partial) {
  const int64_t chunks = activity_chunks(n);
#pragma omp parallel for schedule(static) if (chunks >= 4)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t end = std::min(n, (c + 1) * kClipChunk);
    double s = 0.0;
    for (int64_t i = c * kClipChunk; i < end; ++i) {
      if (partial) s += penalty_value(y[i], l1, l2);
      if (dy) dy[i] += scale * penalty_slope(y[i], l1, l2);
    }
    if (partial) partial[c] = s;
  }
}

ConstraintPlan make_constraint_plan(ConstraintKind kind, float min_value, float max_value, float rate, int64_t offset,
                                    const std::vector<int64_t>& shape, const std::vector<int64_t>& axes) {
  ConstraintPlan p;
  p.kind = kind;
  p.min_value = min_value;
  p.max_value = max_value;
  p.rate = rate;
  p.offset = offset;
  const int rank = int(shape.size());
  std::vector<int64_t> stride(size_t(rank), 1);
  for (int d = rank - 2; d >= 0; --d) stride[size_t(d)] = stride[size_t(d) + 1] * shape[size_t(d) + 1];
  p.groups = p.group_size = 1;
  for (int d = 0; d < rank; ++d) {
    const bool reduce = axes.empty() || std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end();
    if (reduce) {
      p.red_dim[p.reduced] = shape[size_t(d)];
      p.red_stride[p.reduced++] = stride[size_t(d)];
      p.group_size *= shape[size_t(d)];
    } else {
      p.kept_dim[p.kept] = shape[size_t(d)];
      p.kept_stride[p.kept++] = stride[size_t(d)];
      p.groups *= shape[size_t(d)];
    }
  }
  if (kind == ConstraintKind::non_neg) {  // every element alone: one group of all, no norm
    p.groups = 1;
    p.group_size = 1;
    for (int64_t d : shape) p.group_size *= d;
    p.kept = 0;
    p.reduced = 1;
    p.red_dim[0] = p.group_size;
    p.red_stride[0] = 1;
  }
  return p;
}

void constrain_cpu(const ConstraintPlan& p, float* w) {
#pragma omp parallel for schedule(static) if (p.groups * p.group_size >= 65536 && p.groups > 1)
  for (int64_t g = 0; g < p.groups; ++g) {
    double s = 0.0;
    if (p.kind != ConstraintKind::non_neg)
      for (int64_t k = 0; k < p.group_size; ++k) {
        const double v = w[constraint_index(p, g, k)];
        s += v * v;
      }
    const float norm = float(std::sqrt(s));
    for (int64_t k = 0; k < p.group_size; ++k) {
      float& v = w[constraint_index(p, g, k)];
      v = constrained(p.kind, v, norm, p.min_value, p.max_value, p.rate);
    }
  }
}

template void sgd_update_cpu<float>(float*, const float*, float*, int64_t, float, float, bool);
template void sgd_update_cpu<double>(double*, const double*, double*, int64_t, double, double, bool);
template void rmsprop_update_cpu<float>(float*, const float*, float*, float*, float*, int64_t, float, float, float,
                                        float, bool);
template void rmsprop_update_cpu<double>(double*, const double*, double*, double*, double*, int64_t, double, double,
                                         double, double, bool);
template void adam_update_cpu<float>(float*, const float*, float*, float*, float*, int64_t, float, float, float,
                                     float, bool);
template void adam_update_cpu<double>(double*, const double*, double*, double*, double*, int64_t, double, double,
                                      double, double, bool);

}  // namespace dpt::kernels
