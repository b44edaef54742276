// Optimizer updates over flat parameter/gradient arenas (n elements). Slots are arrays of n.
#pragma once
#include <cstdint>
#include <vector>
#include "kernels/optimizer_math.h"

namespace dpt::kernels {

template <typename T>
void sgd_update_cpu(T* w, const T* g, T* v, int64_t n, T lr, T momentum, bool nesterov);
template <typename T>
void rmsprop_update_cpu(T* w, const T* g, T* ms, T* mom, T* mg, int64_t n, T lr, T rho, T momentum, T eps,
                        bool centered);
template <typename T>
void adam_update_cpu(T* w, const T* g, T* m, T* v, T* vhat, int64_t n, T alpha, T b1, T b2, T eps, bool amsgrad);

void sgd_update_cuda(float* w, const float* g, float* v, int64_t n, float lr, float momentum, bool nesterov,
                     void* stream);
void rmsprop_update_cuda(float* w, const float* g, float* ms, float* mom, float* mg, int64_t n, float lr,
                         float rho, float momentum, float eps, bool centered, void* stream);
void adam_update_cuda(float* w, const float* g, float* m, float* v, float* vhat, int64_t n, float alpha,
                      float b1, float b2, float eps, bool amsgrad, void* stream);

// One step functor of optimizer_math.h over n elements: step(w[i], g[i], slots[0][i], ...).
template <class Step>
void update_cpu(const Step& step, float* w, const float* g, float* const* slots, int64_t n);
template <class Step>
void update_cuda(const Step& step, float* w, const float* g, float* const* slots, int64_t n, void* stream);
// The step functors both are instantiated for.
#define DPT_OPTIMIZER_STEPS(X) \
  X(AdagradStep)               \
  X(AdamaxStep)                \
  X(NadamStep)                 \
  X(AdadeltaStep)              \
  X(LionStep)                  \
  X(DecayStep)                 \
  X(AccumulateStep) X(AverageStep) X(EmaStep) X(OverwriteStep)

// Gradient clipping over an arena of weights, in chunks of at most kClipChunk elements that never
// cross a weight's end: per chunk a sum of squares (double), per weight (norm) or over all
// (global_norm) the factors of clip_factors, then every element scaled; or (value) every element
// clamped. The plan is three tables: chunk c covers [begin[c], begin[c+1]) of weight seg[c];
// weight k's chunks are [first[k], first[k+1]).
constexpr int64_t kClipChunk = 16384;
struct ClipPlan {
  std::vector<int64_t> begin, seg, first;
  int64_t chunks() const { return int64_t(seg.size()); }
  int64_t weights() const { return int64_t(first.size()) - 1; }
};
ClipPlan make_clip_plan(const std::vector<int64_t>& weight_sizes);
// partial: plan.chunks() doubles of scratch.
void clip_cpu(const ClipPlan& plan, ClipMode mode, float c, float* g, double* partial);
// The plan's tables on the device (begin, seg, first, concatenated, as make_clip_plan made them);
// scratch: chunks() doubles, then 2 * weights() floats.
void clip_cuda(const int64_t* plan, int64_t chunks, int64_t weights, ClipMode mode, float c, float* g, void* scratch,
               void* stream);

// Keras's weight regularizers over an arena of weights, in chunks of at most kClipChunk elements
// inside one regularized weight: chunk c is [begin, end) of the arena with that weight's rates.
// For each chunk, partial[c] = the sum of penalty_value over it (double, in a fixed order, so
// every run and every replica gives the same bits); with g (not null), g[i] += penalty_slope.
struct PenaltyChunk {
  int64_t begin = 0, end = 0;
  float l1 = 0.f, l2 = 0.f;
};
struct PenaltyWeight {  // one regularized weight: its place in the arena and rates
  int64_t offset = 0, size = 0;
  float l1 = 0.f, l2 = 0.f;
};
std::vector<PenaltyChunk> make_penalty_chunks(const std::vector<PenaltyWeight>& weights);
void penalty_cpu(const PenaltyChunk* chunks, int64_t count, const float* w, float* g, double* partial);
// chunks and partial in the device's memory.
void penalty_cuda(const PenaltyChunk* chunks, int64_t count, const float* w, float* g, double* partial, void* stream);

// Keras's activity regularizer of a layer's output y (n values): partial[c] (not null) = the sum of
// penalty_value over the values of chunk c (kClipChunk values each, activity_chunks(n) of them, in a
// fixed order); with dy (not null), dy[i] += scale * penalty_slope(y[i]) (scale: 1 / the batch size,
// as Keras divides the penalty).
constexpr int64_t activity_chunks(int64_t n) { return (n + kClipChunk - 1) / kClipChunk; }
void activity_cpu(const float* y, int64_t n, float l1, float l2, float scale, float* dy, double* partial);
// partial in the device's memory.
void activity_cuda(const float* y, int64_t n, float l1, float l2, float scale, float* dy, double* partial,
                   void* stream);

// A weight constraint over one weight of an arena: its values in `groups` groups of `group_size`
// (the elements sharing their coordinates on the `kept` axes; the constraint's axes are the
// `reduced` ones), each element at offset + the kept coordinates' and the reduced ones' strides.
// Each group's norm is its sum of squares (double, in a fixed order), then every value takes
// `constrained`. NonNeg has no groups (one of every element).
constexpr int kConstraintRank = 8;
struct ConstraintPlan {
  ConstraintKind kind = ConstraintKind::max_norm;
  float min_value = 0.f, max_value = 0.f, rate = 1.f;
  int64_t offset = 0, groups = 0, group_size = 0;
  int kept = 0, reduced = 0;
  int64_t kept_dim[kConstraintRank] = {}, kept_stride[kConstraintRank] = {};
  int64_t red_dim[kConstraintRank] = {}, red_stride[kConstraintRank] = {};
};
// shape: the weight's (row-major) shape; axes: the constraint's, each in [0, rank) (empty: all).
ConstraintPlan make_constraint_plan(ConstraintKind kind, float min_value, float max_value, float rate, int64_t offset,
                                    const std::vector<int64_t>& shape, const std::vector<int64_t>& axes);
// The arena index of a group's k-th element.
DPT_HD int64_t constraint_index(const ConstraintPlan& p, int64_t group, int64_t k) {
  int64_t at = p.offset;
  for (int d = p.kept - 1; d >= 0; --d) {
    at += (group % p.kept_dim[d]) * p.kept_stride[d];
    group /= p.kept_dim[d];
  }
  for (int d = p.reduced - 1; d >= 0; --d) {
    at += (k % p.red_dim[d]) * p.red_stride[d];
    k /= p.red_dim[d];
  }
  return at;
}
void constrain_cpu(const ConstraintPlan& p, float* w);
void constrain_cuda(const ConstraintPlan& p, float* w, void* stream);

}  // namespace dpt::kernels
