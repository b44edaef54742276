// Keras's get_slice: with global batch B and N replicas, step = B / N; replicas 0..N-2 take `step`
// contiguous rows, the last takes the rest.
#pragma once
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

}  // namespace dpt
