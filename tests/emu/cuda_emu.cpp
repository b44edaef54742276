// The CPU emulation's grid runner (block threads as ucontext fibers, barriers, shared memory) and the
// part of the CUDA runtime, cuBLAS and cuDNN APIs the backend's own kernels and their tests call
// (see cuda_emu.h). cuBLAS's SGEMM is emulated by a plain column-major loop, an independent
// reference for the row-major mapping in gemm_cuda; nothing of cuDNN is computed here.
#include "tests/emu/cuda_emu.h"
#if !defined(__x86_64__)
#include <ucontext.h>
#endif
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define DPT_EMU_ASAN 1
#endif

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local uint3 blockDim;
thread_local uint3 gridDim;

namespace dpt::emu {

namespace {

thread_local cudaError_t g_last_error = cudaSuccess;

// A kernel the emulator cannot run as CUDA would (UB on a GPU, or outside the model): thrown from
// the scheduler, or from a thread called straight from it, never across a fiber switch.
[[noreturn]] void emu_fail(const std::string& what) { throw std::logic_error("dpt CUDA emulator: " + what); }

enum class State { ready, at_barrier, done };

constexpr size_t kStackBytes = 128 * 1024;

// Switching between the scheduler and a thread's fiber. On x86-64 a few instructions that keep the
// callee-saved registers and the FP control words on the stack being left (ucontext's swapcontext
// also saves the signal mask, a system call each way); elsewhere ucontext.
#if defined(__x86_64__)
struct Context {
  void* sp = nullptr;
};
extern "C" void dpt_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .p2align 4
  .globl dpt_emu_switch
  .type dpt_emu_switch, @function
dpt_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size dpt_emu_switch, .-dpt_emu_switch
)");
void switch_context(Context* from, Context* to) { dpt_emu_switch(&from->sp, to->sp); }
// A stack that dpt_emu_switch "returns" into entry(), entered as if called (rsp = 8 mod 16).
void make_context(Context* c, char* stack, size_t bytes, void (*entry)()) {
  auto top = reinterpret_cast<uintptr_t>(stack + bytes) & ~uintptr_t(15);
  auto* slots = reinterpret_cast<uint64_t*>(top);
  slots[-1] = 0;                                  // entry's return address: it never returns
  slots[-2] = reinterpret_cast<uint64_t>(entry);  // popped by ret
  for (int r = 3; r <= 8; ++r) slots[-r] = 0;     // rbp, rbx, r12..r15
  slots[-9] = uint64_t(0x037f) << 32 | 0x1f80;    // x87 control word, MXCSR (the defaults)
  c->sp = &slots[-9];
}
#else
struct Context {
  ucontext_t uc;
};
void switch_context(Context* from, Context* to) {
  if (swapcontext(&from->uc, &to->uc) != 0) emu_fail("swapcontext failed");
}
void make_context(Context* c, char* stack, size_t bytes, void (*entry)()) {
  if (getcontext(&c->uc) != 0) emu_fail("getcontext failed");
  c->uc.uc_stack.ss_sp = stack;
  c->uc.uc_stack.ss_size = bytes;
  c->uc.uc_link = nullptr;
  makecontext(&c->uc, entry, 0);
}
#endif

struct Fiber {
  Context ctx;
  char* stack = nullptr;
  State state = State::ready;
  uint3 tid;
};

struct Block {
  std::vector<Fiber> fibers;
  Context scheduler;
  int current = -1;
  bool direct = false;  // threads called straight from the scheduler: no barrier may be reached
  void (*body)(void*) = nullptr;
  void* arg = nullptr;
  std::vector<unsigned char> dynamic_shared;
  std::vector<void*> poisoned;  // __shared__ arrays already filled with NaN bytes in this block
#if DPT_EMU_ASAN
  void* fake_stack = nullptr;
  const void* sched_bottom = nullptr;  // the scheduler's stack, for the switches back to it
  size_t sched_size = 0;
#endif
};

thread_local Block* g_block = nullptr;

// Fiber stacks, kept from launch to launch (touched pages stay mapped).
char* fiber_stack(int t) {
  thread_local std::vector<std::unique_ptr<char[]>> stacks;
  while (stacks.size() <= size_t(t)) stacks.emplace_back(new char[kStackBytes]);
  return stacks[size_t(t)].get();
}

void fiber_entry() {
  Block* b = g_block;
#if DPT_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &b->sched_bottom, &b->sched_size);
#endif
  b->body(b->arg);
  Fiber& f = b->fibers[size_t(b->current)];
  f.state = State::done;
#if DPT_EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, b->sched_bottom, b->sched_size);  // this fiber's run is over
#endif
  switch_context(&f.ctx, &b->scheduler);
  std::abort();  // a finished thread is never resumed
}

// A fiber's stack is reused by the next launch: its last run ended by a switch, not a return,
// so ASan's marks for that run's frames are cleared first.
void start_fiber(Fiber& f) {
#if DPT_EMU_ASAN
  __asan_unpoison_memory_region(f.stack, kStackBytes);
#endif
  make_context(&f.ctx, f.stack, kStackBytes, fiber_entry);
}

void resume(Block& b, int t) {
  Fiber& f = b.fibers[size_t(t)];
  b.current = t;
  threadIdx = f.tid;
#if DPT_EMU_ASAN
  __sanitizer_start_switch_fiber(&b.fake_stack, f.stack, kStackBytes);
#endif
  switch_context(&b.scheduler, &f.ctx);
#if DPT_EMU_ASAN
  __sanitizer_finish_switch_fiber(b.fake_stack, nullptr, nullptr);
#endif
}

std::vector<int> turn_order(int threads, std::mt19937& rng) {
  std::vector<int> order(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) order[size_t(t)] = t;
  if (thread_order() == 1) std::reverse(order.begin(), order.end());
  if (thread_order() == 2) std::shuffle(order.begin(), order.end(), rng);
  return order;
}

std::string dims(dim3 d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}

std::atomic<int> g_order{-1};  // -1: not read from DPT_EMU_ORDER yet

}  // namespace

int thread_order() {
  if (g_order.load() < 0) {
    const char* v = std::getenv("DPT_EMU_ORDER");
    if (!v || !*v || std::strcmp(v, "forward") == 0)
      g_order = 0;
    else if (std::strcmp(v, "reverse") == 0)
      g_order = 1;
    else if (std::strcmp(v, "shuffle") == 0)
      g_order = 2;
    else
      emu_fail(std::string("DPT_EMU_ORDER=") + v + ": expected forward, reverse or shuffle");
  }
  return g_order.load();
}

void set_thread_order(int order) { g_order = order; }

// CUDA's limits on every current GPU (compute capability 7.0 and up): 1024 threads a block, block
// dimensions (1024, 1024, 64), grid dimensions (2^31 - 1, 65535, 65535), 48 KiB of dynamic shared
// memory without opting in. A launch past them fails with cudaErrorInvalidConfiguration and runs nothing.
bool check_launch(dim3 grid, dim3 block, size_t shmem) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  const bool ok = grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 2147483647u && grid.y <= 65535 &&
                  grid.z <= 65535 && block.x >= 1 && block.y >= 1 && block.z >= 1 && block.x <= 1024 &&
                  block.y <= 1024 && block.z <= 64 && threads <= 1024 && shmem <= 48 * 1024;
  if (!ok) {
    std::fprintf(stderr, "dpt CUDA emulator: launch refused: grid %s, block %s, %zu bytes of shared memory\n",
                 dims(grid).c_str(), dims(block).c_str(), shmem);
    g_last_error = cudaErrorInvalidConfiguration;
  }
  return ok;
}

// Runs a launch check_launch accepted.
void run_grid(dim3 grid, dim3 block, size_t shmem, void (*body)(void*), void* arg) {
  if (g_block) emu_fail("a kernel launched a kernel (dynamic parallelism is not emulated)");
  const int threads = int(block.x * block.y * block.z);
  Block b;
  b.body = body;
  b.arg = arg;
  b.fibers.resize(size_t(threads));
  for (int t = 0; t < threads; ++t) {
    b.fibers[size_t(t)].stack = fiber_stack(t);
    b.fibers[size_t(t)].tid =
        uint3{unsigned(t) % block.x, (unsigned(t) / block.x) % block.y, unsigned(t) / (block.x * block.y)};
  }
  b.dynamic_shared.resize(shmem);
  std::mt19937 rng(12345);
  gridDim = grid;
  blockDim = block;
  g_block = &b;
  struct Clear {
    ~Clear() { g_block = nullptr; }
  } clear;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = uint3{bx, by, bz};
        std::fill(b.dynamic_shared.begin(), b.dynamic_shared.end(), 0xff);
        b.poisoned.clear();
        const std::vector<int> order = turn_order(threads, rng);
        for (Fiber& f : b.fibers) f.state = State::ready;
        // The first thread runs as a fiber. If it returns without reaching a barrier, so must every
        // other (a barrier is reached by all of a block's threads or by none): they are called
        // straight from here, and one that reaches a barrier all the same is reported.
        start_fiber(b.fibers[size_t(order[0])]);
        resume(b, order[0]);
        if (b.fibers[size_t(order[0])].state == State::done) {
          b.direct = true;
          for (size_t i = 1; i < order.size(); ++i) {
            b.current = order[i];
            threadIdx = b.fibers[size_t(order[i])].tid;
            body(arg);
          }
          b.direct = false;
          continue;
        }
        for (size_t i = 1; i < order.size(); ++i) start_fiber(b.fibers[size_t(order[i])]);
        // Each round runs every ready thread to its next barrier or its end; then, if some wait at
        // the barrier, all must (a barrier some threads of the block never reach is a bug).
        for (;;) {
          for (int t : order)
            if (b.fibers[size_t(t)].state == State::ready) resume(b, t);
          int waiting = 0;
          for (const Fiber& f : b.fibers) waiting += f.state == State::at_barrier;
          if (waiting == 0) break;
          if (waiting != threads)
            emu_fail("__syncthreads reached by " + std::to_string(waiting) + " of the " + std::to_string(threads) +
                     " threads of block " + dims(dim3(bx, by, bz)) + ": the others had returned");
          for (Fiber& f : b.fibers) f.state = State::ready;
        }
      }
}

void syncthreads() {
  Block* b = g_block;
  if (!b) emu_fail("__syncthreads outside a kernel");
  if (b->direct)
    emu_fail("__syncthreads reached by thread " + std::to_string(b->current) + " of block " +
             dims(dim3(blockIdx.x, blockIdx.y, blockIdx.z)) + " after another thread had returned without reaching it");
  Fiber& f = b->fibers[size_t(b->current)];
  f.state = State::at_barrier;
#if DPT_EMU_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, b->sched_bottom, b->sched_size);
#endif
  switch_context(&f.ctx, &b->scheduler);
#if DPT_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, &b->sched_bottom, &b->sched_size);
#endif
  threadIdx = f.tid;
}

void* dynamic_shared() {
  if (!g_block) emu_fail("extern __shared__ outside a kernel");
  return g_block->dynamic_shared.data();
}

void poison_shared(void* p, size_t bytes) {
  if (!g_block) emu_fail("__shared__ outside a kernel");
  auto& seen = g_block->poisoned;
  if (std::find(seen.begin(), seen.end(), p) != seen.end()) return;
  seen.push_back(p);
  std::memset(p, 0xff, bytes);
}

}  // namespace dpt::emu

// ---- streams: queues of work, run when waited for ------------------------------------------------
struct CUstream_st {
  std::deque<std::function<void()>> work;
  uint64_t queued = 0, done = 0;
};

namespace dpt::emu {
namespace {
std::recursive_mutex g_gpu;  // the one device: every queue, and the work run from them
CUstream_st g_legacy;        // the legacy default stream (nullptr)
std::set<CUstream_st*>& streams() {
  static std::set<CUstream_st*> s;
  return s;
}
CUstream_st* resolve(cudaStream_t s) { return s ? s : &g_legacy; }
bool deferred() {
  static const bool d = [] {
    const char* v = std::getenv("DPT_EMU_STREAMS");
    if (!v || !*v || std::strcmp(v, "deferred") == 0) return true;
    if (std::strcmp(v, "immediate") == 0) return false;
    emu_fail(std::string("DPT_EMU_STREAMS=") + v + ": expected deferred or immediate");
  }();
  return d;
}
}  // namespace

uint64_t enqueue(cudaStream_t s, std::function<void()> work) {
  const std::lock_guard<std::recursive_mutex> lock(g_gpu);
  CUstream_st* st = resolve(s);
  st->work.push_back(std::move(work));
  const uint64_t position = ++st->queued;
  if (!deferred()) drain(s);
  return position;
}

void drain(cudaStream_t s, uint64_t upto) {
  const std::lock_guard<std::recursive_mutex> lock(g_gpu);
  // A destroyed stream ran all its work first (an event recorded on it outlives it, as in CUDA).
  if (s && streams().count(s) == 0) return;
  CUstream_st* st = resolve(s);
  while (st->done < upto && !st->work.empty()) {
    std::function<void()> w = std::move(st->work.front());
    st->work.pop_front();
    ++st->done;  // before it runs: a wait inside it on this stream's own earlier work returns at once
    w();
  }
}

void drain_all() {
  const std::lock_guard<std::recursive_mutex> lock(g_gpu);
  drain(nullptr);
  for (CUstream_st* st : streams()) drain(st);
}

cudaStream_t new_stream() {
  const std::lock_guard<std::recursive_mutex> lock(g_gpu);
  auto* st = new CUstream_st;
  streams().insert(st);
  return st;
}

void delete_stream(cudaStream_t s) {
  const std::lock_guard<std::recursive_mutex> lock(g_gpu);
  if (!s) return;
  drain(s);
  streams().erase(s);
  delete s;
}
}  // namespace dpt::emu

// ---- the CUDA runtime API: one emulated device, host memory, the streams above ---------------------
namespace {
thread_local int g_device = 0;
constexpr size_t kEmuMemory = size_t(4) << 30;  // what cudaMemGetInfo reports

cudaError_t set_error(cudaError_t e) {
  if (e != cudaSuccess) dpt::emu::g_last_error = e;
  return e;
}
}  // namespace

cudaError_t cudaGetLastError() { return std::exchange(dpt::emu::g_last_error, cudaSuccess); }
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return "emulated CUDA error";
  }
}
// One device, hidden as the driver hides it: CUDA_VISIBLE_DEVICES lists the devices to show, up to
// the first entry that names none (so "" and "1" show nothing, "0" and "0,1" show device 0).
cudaError_t cudaGetDeviceCount(int* count) {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  if (v && std::strncmp(v, "0", 1) != 0) return set_error(cudaErrorNoDevice);
  if (v && v[1] != '\0' && v[1] != ',') return set_error(cudaErrorNoDevice);  // "01", "0x"...
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof(p->name), "dpt CPU emulation of a CUDA device");
  p->totalGlobalMem = kEmuMemory;
  p->major = 9;
  p->minor = 0;
  p->maxThreadsPerBlock = 1024;
  p->multiProcessorCount = 1;
  p->warpSize = 32;
  return cudaSuccess;
}
cudaError_t cudaDeviceCanAccessPeer(int* ok, int, int) {
  *ok = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  g_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = g_device;
  return cudaSuccess;
}
// Device memory is host memory, with the device's capacity enforced: an allocation past what is
// free fails as cudaMalloc does.
// Replicas call from several host threads, as on a GPU.
std::mutex g_alloc_mutex;
std::map<void*, size_t>& allocations() {
  static std::map<void*, size_t> a;
  return a;
}
size_t g_allocated = 0;
cudaError_t cudaMalloc(void** p, size_t bytes) {
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  *p = nullptr;
  if (bytes > kEmuMemory - g_allocated) return set_error(cudaErrorMemoryAllocation);
  *p = std::aligned_alloc(256, std::max<size_t>(256, (bytes + 255) / 256 * 256));
  if (!*p) return set_error(cudaErrorMemoryAllocation);
  allocations()[*p] = bytes;
  g_allocated += bytes;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  dpt::emu::drain_all();  // cudaFree waits for the device
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  const auto it = allocations().find(p);
  if (it == allocations().end()) return set_error(cudaErrorInvalidValue);  // not from cudaMalloc
  g_allocated -= it->second;
  allocations().erase(it);
  std::free(p);
  return cudaSuccess;
}
// Pinned host memory: the only host memory an asynchronous copy reads or writes when it runs
// rather than when it is queued.
std::map<void*, size_t>& pinned() {
  static std::map<void*, size_t> a;
  return a;
}
bool is_pinned(const void* p) {
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  auto it = pinned().upper_bound(const_cast<void*>(p));
  if (it == pinned().begin()) return false;
  --it;
  return static_cast<const char*>(p) < static_cast<const char*>(it->first) + it->second;
}
bool is_device(const void* p) {
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  auto it = allocations().upper_bound(const_cast<void*>(p));
  if (it == allocations().begin()) return false;
  --it;
  return static_cast<const char*>(p) < static_cast<const char*>(it->first) + std::max<size_t>(it->second, 1);
}
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned int) {
  *p = std::aligned_alloc(256, std::max<size_t>(256, (bytes + 255) / 256 * 256));
  if (!*p) return set_error(cudaErrorMemoryAllocation);
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  pinned()[*p] = bytes;
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  dpt::emu::drain_all();  // as cudaFreeHost, which waits for the device
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  if (pinned().erase(p) == 0) return set_error(cudaErrorInvalidValue);
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  *free_b = kEmuMemory - g_allocated;
  *total_b = kEmuMemory;
  return cudaSuccess;
}

// Copies as CUDA orders them (the runtime's "API synchronization behavior"): a copy to pageable
// host memory returns once done; one from pageable host memory takes the data when it is queued;
// pinned host memory and device memory are read and written when the copy runs on its stream.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t s) {
  if (bytes == 0) return cudaSuccess;
  const bool dst_pageable = !is_device(dst) && !is_pinned(dst);
  const bool src_pageable = !is_device(src) && !is_pinned(src);
  if (src_pageable) {
    auto data =
        std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + bytes);
    dpt::emu::enqueue(s, [dst, data] { std::memcpy(dst, data->data(), data->size()); });
  } else {
    dpt::emu::enqueue(s, [dst, src, bytes] { std::memmove(dst, src, bytes); });
  }
  if (dst_pageable) dpt::emu::drain(s);
  return cudaSuccess;
}
// The synchronous forms run on the legacy default stream and return when done (that stream does
// not wait for the non-blocking streams the backend creates).
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  const cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
  dpt::emu::drain(nullptr);
  return e;
}
cudaError_t cudaMemsetAsync(void* p, int v, size_t bytes, cudaStream_t s) {
  if (bytes) dpt::emu::enqueue(s, [p, v, bytes] { std::memset(p, v, bytes); });
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int v, size_t bytes) {
  cudaMemsetAsync(p, v, bytes, nullptr);
  dpt::emu::drain(nullptr);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  dpt::emu::drain_all();
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  *s = dpt::emu::new_stream();
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  dpt::emu::delete_stream(s);  // after its work, as CUDA does
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  dpt::emu::drain(s);
  return cudaSuccess;
}

// An event is a position in a stream's work (and the host time that work reached it).
struct CUevent_st {
  cudaStream_t stream = nullptr;
  uint64_t position = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point at;
};
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  if (e->recorded) dpt::emu::drain(e->stream, e->position);  // its time stamp is still queued
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  e->stream = s;
  e->recorded = true;
  e->position = dpt::emu::enqueue(s, [e] { e->at = std::chrono::steady_clock::now(); });
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int) {
  if (!e->recorded) return cudaSuccess;  // waits for nothing, as in CUDA
  dpt::emu::enqueue(s, [from = e->stream, upto = e->position] { dpt::emu::drain(from, upto); });
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (e->recorded) dpt::emu::drain(e->stream, e->position);
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  cudaEventSynchronize(a);
  cudaEventSynchronize(b);
  *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
  return cudaSuccess;
}
cudaError_t cudaProfilerStart() { return cudaSuccess; }
cudaError_t cudaProfilerStop() { return cudaSuccess; }

// ---- library handles: a stream and nothing else ---------------------------------------------------
struct cublasContext {
  cudaStream_t stream = nullptr;
};
struct cudnnContext {
  cudaStream_t stream = nullptr;
};
namespace {
template <typename H>
void new_handle(H* h) {
  *h = new std::remove_pointer_t<H>{};
}
}  // namespace

// ---- cuBLAS: handles, and SGEMM as a plain column-major loop ---------------------------------------
cublasStatus_t cublasCreate_v2(cublasHandle_t* h) { return new_handle(h), CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy_v2(cublasHandle_t h) { return delete h, CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s) { return h->stream = s, CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }

// C (m x n, leading dimension ldc) = alpha op(A) op(B) + beta C, every matrix column-major:
// element (i, j) of X is X[i + j * ldx]; op(A) is m x k, op(B) is k x n.
cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                              float* C, int ldc) {
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, ta == CUBLAS_OP_N ? m : k) ||
      ldb < std::max(1, tb == CUBLAS_OP_N ? k : n) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  // alpha and beta are host values, read as the call is made; the product runs on the handle's stream.
  dpt::emu::enqueue(h->stream, [=, alpha = *alpha, beta = *beta] {
    // op(A)'s rows and op(B)'s columns copied out contiguous, then one dot product per element of C,
    // its k products added in order in float.
    std::vector<float> a(size_t(m) * k), b(size_t(n) * k);
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p)
        a[size_t(i) * k + p] = ta == CUBLAS_OP_N ? A[i + size_t(p) * lda] : A[p + size_t(i) * lda];
    for (int j = 0; j < n; ++j)
      for (int p = 0; p < k; ++p)
        b[size_t(j) * k + p] = tb == CUBLAS_OP_N ? B[p + size_t(j) * ldb] : B[j + size_t(p) * ldb];
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        const float* ar = a.data() + size_t(i) * k;
        const float* bc = b.data() + size_t(j) * k;
        float acc = 0.f;
        for (int p = 0; p < k; ++p) acc += ar[p] * bc[p];
        float& c = C[i + size_t(j) * ldc];
        c = beta == 0.f ? alpha * acc : alpha * acc + beta * c;  // beta 0: C is not read (cuBLAS)
      }
  });
  return CUBLAS_STATUS_SUCCESS;
}

// ---- cuDNN: handles only (its convolutions are not emulated) ----------------------------------------
cudnnStatus_t cudnnCreate(cudnnHandle_t* h) { return new_handle(h), CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { return delete h, CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s) { return h->stream = s, CUDNN_STATUS_SUCCESS; }
cudaStream_t dpt::emu::stream_of(cudnnHandle_t h) { return h->stream; }
const char* cudnnGetErrorString(cudnnStatus_t s) {
  switch (s) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    default: return "CUDNN_STATUS (emulated)";
  }
}
// NCCL's own wording of its results.
const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "no error";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    default: return "unknown result code";
  }
}
