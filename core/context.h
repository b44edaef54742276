// Context: what one replica computes with (device, threads, the step's random key, CUDA handles).
// Passed explicitly to every forward/backward; never a global.
#pragma once
#include <cstdint>
#include "core/collective.h"
#include "core/device.h"

namespace dpt {

namespace kernels {
class CudaResources;  // the CUDA backend's per-replica stream and handles (opaque here)
}

// Keys every per-sample random draw (dropout masks): the same draw for a sample whatever the
// replica count, because it depends on the global sample index, never on the slice.
struct StepKey {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t step = 0;
  int64_t row_offset = 0;  // global index of this replica's first row in the global batch
};

struct Context {
  Device device;
  int threads = 1;          // CPU threads this replica may use (OpenMP + BLAS)
  StepKey key;
  kernels::CudaResources* cuda = nullptr;  // set for a replica on a GPU (core never sees CUDA headers)
  BatchSync* batch_sync = nullptr;  // set for synchronised BatchNormalization across replicas
};

}  // namespace dpt
