// The one collective a layer may need inside a step: summing small double arrays across the
// replicas (synchronised BatchNormalization). Implemented in parallel/ by the communicators.
#pragma once
#include <cstdint>

namespace dpt {

class BatchSync {
 public:
  virtual ~BatchSync() = default;
  // Every replica calls this with its own array; afterwards each holds the elementwise sum.
  virtual void sum(double* data, int64_t n) = 0;
};

// Told by Sequential::backward when a layer's parameter gradients are final: [begin, end) of the
// gradient arena (ranges arrive in reverse layer order), so they can be reduced while backward goes on.
class GradReadyHook {
 public:
  virtual ~GradReadyHook() = default;
  virtual void ready(int64_t begin, int64_t end) = 0;
};

}  // namespace dpt
