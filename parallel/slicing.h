// Keras's get_slice: with global batch B and N replicas, step = B / N; replicas 0..N-2 take `step`
// contiguous rows, the last takes the rest.
#pragma once
#include <algorithm>
#include <cstdint>

namespace dpt {

struct Slice {
  int64_t offset;
  int64_t count;
};

inline Slice batch_slice(int64_t batch, int64_t replicas, int64_t r) {
  const int64_t step = batch / replicas;
  return {r * step, r + 1 == replicas ? batch - r * step : step};
}

// The most rows replica r gets from any batch of 1..batch rows (what it must be prepared for): the
// first N-1 take at most batch / N; the last takes step + remainder, which a smaller batch (an
// epoch's last) can make larger than the full batch does: with N = 4 and batch 8 the last takes 2,
// but of a final batch of 7 it takes 4. Its peak is at the batch itself or at the largest smaller
// batch with remainder N-1: (batch / N - 1) + (N - 1).
inline int64_t max_slice_rows(int64_t batch, int64_t replicas, int64_t r) {
  const int64_t q = batch / replicas, rem = batch % replicas;
  if (r + 1 < replicas) return q;
  return q >= 1 ? std::max(q + rem, q + replicas - 2) : rem;
}

}  // namespace dpt
