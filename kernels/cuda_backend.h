// The CUDA backend's entry points for core/ and parallel/, declared without CUDA headers (core
// never sees them). Exactly one implementation is linked into a binary, chosen by CMake: the CUDA
// one (kernels/cuda_resources.cpp and the *_cuda.cu files) or kernels/cuda_none.cpp, whose every
// entry throws "built without CUDA". The CPU test binary always links the latter (no cuBLAS).
#pragma once
#include <cstddef>
#include <cstdint>
#include "kernels/conv2d_layout.h"

namespace dpt::kernels {

class CudaResources;  // one replica's stream, cuBLAS/cuDNN handles and scratch (cuda_resources.h)

bool cuda_backend_linked();
// Owned by the caller; destroy with cuda_resources_destroy (synchronises, logs, never throws).
// deterministic: only algorithms that repeat bit for bit, chosen by a ranking that does not depend
// on timings (--deterministic); otherwise the fastest measured ones (as cudnn.benchmark).
CudaResources* cuda_resources_create(int device, bool allow_tf32, bool deterministic = false);
void cuda_resources_destroy(CudaResources* r) noexcept;
struct CudaResourcesDeleter {
  void operator()(CudaResources* r) const noexcept { cuda_resources_destroy(r); }
};
// Where cuDNN runs convolutions (ConvLayout, kernels/conv2d_layout.h); resources start with
// DPT_CONV_LAYOUT's.
void cuda_set_conv_layout(CudaResources& r, ConvLayout layout);  // for plans created afterwards
void* cuda_stream_of(CudaResources& r);
void cuda_stream_sync(CudaResources& r);
// Scratch shared by one replica's layers (used one kernel at a time on its stream): grown here,
// at prepare time, never during a step.
void cuda_reserve_scratch(CudaResources& r, size_t bytes);
void cuda_set_device(int device);

// Device memory (errors name the device, the bytes asked and the bytes free).
void* cuda_malloc(int device, size_t bytes);
// How many device allocations this process has made (tests: none in a steady-state step).
int64_t cuda_malloc_count();
// Marks the region a profiler attached with --profile-from-start off records (Nsight Compute, nsys):
// dptrain bench brackets its timed steps. Without a profiler attached it does nothing.
void cuda_profiler_range(bool start);
// Kernels index in 32 bits where every index of a launch fits, in 64 bits beyond that (> 2^31
// elements). Tests force the 64-bit instantiations on small shapes so both are checked against the
// CPU; nothing else calls this.
void cuda_force_wide_indices(bool on);
void cuda_free(int device, void* p) noexcept;
// Page-locked host memory (fast, asynchronous host <-> device copies).
void* cuda_host_alloc(size_t bytes);
void cuda_host_free(void* p) noexcept;
// Copies between any two memories (unified addressing). With r: ordered on r's stream
// (asynchronous); without: complete on return.
void cuda_copy(void* dst, const void* src, size_t bytes, CudaResources* r);
// Input uploads on r's copy stream (any thread; from pinned memory they overlap r's compute
// stream). cuda_uploads_queued marks the uploads queued so far as input slot `slot` (0 or 1);
// cuda_wait_uploads makes the compute stream's later work wait for that slot's uploads only.
void cuda_upload(void* dst, const void* src, size_t bytes, CudaResources& r);
void cuda_uploads_queued(CudaResources& r, int slot);
void cuda_wait_uploads(CudaResources& r, int slot);
void cuda_zero(void* p, size_t bytes, CudaResources* r);
// x *= s on the device.
void scale_cuda(float* x, int64_t n, float s, CudaResources& r);

}  // namespace dpt::kernels
