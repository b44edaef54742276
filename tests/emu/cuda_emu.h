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
// (DPT_EMU_ORDER), so that a missing __syncthreads changes the result. Device memory is host memory
// and every stream is synchronous. What it does not model: warps (no shuffles or votes are used),
// atomics, the memory model, timing, and nvcc's code generation: code that passes here still has
// to be run on a GPU.
#pragma once
#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>
#include <cstddef>
#include <cstdint>
#include <tuple>
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

// The launch: the arguments are copied once, as a launch copies them, and every thread calls the
// kernel (through `call`, a lambda emulate.pl writes, so that template arguments are deduced as
// nvcc deduces them) on its own copy of them.
template <typename F>
class Launcher {
 public:
  Launcher(F call, dim3 grid, dim3 block, size_t shmem) : call_(call), grid_(grid), block_(block), shmem_(shmem) {}
  template <typename... A>
  void operator()(A&&... args) const {
    struct Call {
      F f;
      std::tuple<std::decay_t<A>...> params;
    } c{call_, std::tuple<std::decay_t<A>...>(std::forward<A>(args)...)};
    run_grid(
        grid_, block_, shmem_,
        [](void* p) {
          auto* c = static_cast<Call*>(p);
          std::tuple<std::decay_t<A>...> mine = c->params;
          std::apply(c->f, mine);
        },
        &c);
  }

 private:
  F call_;
  dim3 grid_, block_;
  size_t shmem_;
};

template <typename F>
Launcher<F> launch_with(F call, dim3 grid, dim3 block, size_t shmem = 0, cudaStream_t = nullptr) {
  return Launcher<F>(call, grid, block, shmem);
}

}  // namespace dpt::emu

inline void __syncthreads() { ::dpt::emu::syncthreads(); }
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}
