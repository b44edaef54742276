// A CPU emulation of the CUDA execution model, for running dptrain's CUDA backend where there is
// no GPU (tests/emu/README.md). Force-included (-include) into the backend's sources; its .cu files
// are first rewritten by tests/emu/emulate.pl: launches (k<<<grid, block, shmem, stream>>>(args) ->
// ::dpt::emu::launch_with([](auto... a) { k(a...); }, grid, block, shmem, stream)(args)) and
// __shared__ declarations.
//
// What it models: a grid of blocks run one block at a time; a block's threads run as fibers on one
// OS thread, each to its next __syncthreads, all of them past it before any goes on; __shared__
// memory per block (filled with NaN bytes at each block's start, so a read of a slot no thread of
// this block wrote shows up); dynamic shared memory; CUDA's launch-configuration limits (reported
// by cudaGetLastError, as a GPU does). Threads of a block can be run forwards, backwards or shuffled
// (DPT_EMU_ORDER), so that a missing __syncthreads changes the result. Device memory is host memory,
// on 1 to 8 devices (DPT_EMU_DEVICES) with CUDA's rules across them. Streams hold their work until
// something waits for it, so a missing synchronisation reads stale data. What it does not model: warps (no shuffles or
// votes are used), atomics, the memory model, streams running at the same time, timing, and nvcc's code generation:
// code that passes here still has to be run on a GPU.
#pragma once
#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __host__
#define __host__
#undef __shared__
#define __shared__ static thread_local

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local uint3 blockDim;
extern thread_local uint3 gridDim;

namespace dpt::emu {

// How a block's threads take turns between barriers: 0 forwards, 1 backwards, 2 shuffled
// (DPT_EMU_ORDER=forward|reverse|shuffle; forward by default).
int thread_order();
void set_thread_order(int order);

// Runs body(thread) for every thread of every block of the grid (thread indices and dimensions set
// as the kernel sees them), with `shmem` bytes of dynamic shared memory a block. Returns false (and
// records the CUDA error cudaGetLastError returns) where the configuration is one a GPU refuses.
void run_grid(dim3 grid, dim3 block, size_t shmem, void (*body)(void*), void* arg);

// Inside a kernel: wait for every thread of the block (__syncthreads).
void syncthreads();
// The block's dynamic shared memory (extern __shared__ T name[]).
void* dynamic_shared();
// Fills a __shared__ array with NaN bytes the first time a thread of the current block declares it.
void poison_shared(void* p, size_t bytes);

template <typename T>
T* dynamic_shared_as() {
  return static_cast<T*>(dynamic_shared());
}

// A kernel or library call the emulator cannot run as CUDA would (undefined on a GPU, or outside
// the model): throws std::logic_error("dpt CUDA emulator: " + what).
[[noreturn]] void fail(const std::string& what);

// Devices: DPT_EMU_DEVICES (1 to 8, 1 by default) emulated GPUs of 4 GiB each, hidden and
// renumbered by CUDA_VISIBLE_DEVICES as the driver does. The device whose memory p points into
// (-1: none).
int device_of_pointer(const void* p);

// Streams: work queued on a stream runs, in order, when something waits for it (a stream or event
// synchronisation, a blocking copy, cudaFree, another stream waiting on an event), on the waiting
// host thread; DPT_EMU_STREAMS=immediate runs it as it is queued. Returns the stream's position
// after the work (nullptr is the current device's legacy default stream).
uint64_t enqueue(cudaStream_t s, std::function<void()> work);
// Queues on s a wait for `after`'s work up to position `upto` (cudaStreamWaitEvent).
uint64_t enqueue_wait(cudaStream_t s, cudaStream_t after, uint64_t upto);
// Runs s's queued work up to position `upto` (all of it by default), and the work of the streams
// it waits for. Where another host thread is inside a stream's work (waiting in a collective),
// drain waits for it; try_drain returns false instead.
void drain(cudaStream_t s, uint64_t upto = UINT64_MAX);
bool try_drain(cudaStream_t s, uint64_t upto);
// A count that grows whenever work is queued or finished on any stream (a wait_until condition
// that needs another stream to move on compares it).
uint64_t progress();
void drain_device(int device);
void drain_all();
cudaStream_t new_stream();
void delete_stream(cudaStream_t s);
int device_of(cudaStream_t s);
// The stream itself (nullptr: the current device's legacy stream).
cudaStream_t resolve_stream(cudaStream_t s);
// The stream a cuDNN handle queues its work on (a handle used off its device is reported).
cudaStream_t stream_of(cudnnHandle_t h);
// False (and the error cudaGetLastError returns recorded) for a configuration a GPU refuses, and
// for a launch on a stream of a device other than the current one.
bool check_launch(dim3 grid, dim3 block, size_t shmem);
bool check_stream(cudaStream_t s);
// A kernel on stream s given a pointer into another device's memory (no peer access is enabled):
// reported.
void check_pointer_arg(const void* p, cudaStream_t s);

// One host thread at a time works on the emulated GPUs: queues work, runs it, changes the state
// of a collective. GpuGuard holds them (recursively). wait_until, from work run on a stream, lets
// other host threads in until ready() holds (evaluated while no thread holds them), then holds
// them again; a wait of five minutes is reported as a deadlock, naming `what`.
class GpuGuard {
 public:
  GpuGuard();
  ~GpuGuard();
  GpuGuard(const GpuGuard&) = delete;
  GpuGuard& operator=(const GpuGuard&) = delete;
};
void wait_until(const std::function<bool()>& ready, const std::string& what);

// The launch: checked as it is made, then queued on its stream. The arguments are copied once, as
// a launch copies them, and every thread calls the kernel (through `call`, a lambda emulate.pl
// writes, so that template arguments are deduced as nvcc deduces them) on its own copy of them.
template <typename F>
class Launcher {
 public:
  Launcher(F call, dim3 grid, dim3 block, size_t shmem, cudaStream_t stream)
      : call_(call), grid_(grid), block_(block), shmem_(shmem), stream_(stream) {}
  template <typename... A>
  void operator()(A&&... args) const {
    if (!check_launch(grid_, block_, shmem_) || !check_stream(stream_)) return;
    (check_arg(args), ...);
    using Params = std::tuple<std::decay_t<A>...>;
    struct Call {
      F f;
      Params params;
    };
    auto c = std::make_shared<Call>(Call{call_, Params(std::forward<A>(args)...)});
    enqueue(stream_, [c, grid = grid_, block = block_, shmem = shmem_] {
      run_grid(
          grid, block, shmem,
          [](void* p) {
            auto* call = static_cast<Call*>(p);
            Params mine = call->params;
            std::apply(call->f, mine);
          },
          c.get());
    });
  }

 private:
  template <typename A>
  void check_arg(const A& a) const {
    if constexpr (std::is_pointer_v<A> && std::is_object_v<std::remove_pointer_t<A>>)
      check_pointer_arg(static_cast<const void*>(a), stream_);
  }

  F call_;
  dim3 grid_, block_;
  size_t shmem_;
  cudaStream_t stream_;
};

template <typename F>
Launcher<F> launch_with(F call, dim3 grid, dim3 block, size_t shmem = 0, cudaStream_t stream = nullptr) {
  return Launcher<F>(call, grid, block, shmem, stream);
}

}  // namespace dpt::emu

inline void __syncthreads() { ::dpt::emu::syncthreads(); }
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}
