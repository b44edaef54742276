// The CPU emulation's grid runner (block threads as fibers, barriers, shared memory), the lock and
// streams that host threads share, and the part of the CUDA runtime (devices, memory, streams,
// events), cuBLAS and cuDNN APIs the backend's own kernels and their tests call (see cuda_emu.h). cuBLAS's SGEMM is
// emulated by a plain column-major loop, an independent reference for the row-major mapping in gemm_cuda; nothing of
// cuDNN is computed here.
#include "tests/emu/cuda_emu.h"
#if !defined(__x86_64__)
#include <ucontext.h>
#endif
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
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
#include <thread>
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

// ---- the emulated GPUs: one lock over all of them -------------------------------------------------
namespace dpt::emu {

void fail(const std::string& what) { emu_fail(what); }

namespace {

// A recursive lock that work waiting inside a stream (a collective waiting for its peers) can let
// go of entirely, whatever depth it holds it at, and take back at that depth.
class GpuLock {
 public:
  void lock() {
    std::unique_lock<std::mutex> lk(m_);
    const std::thread::id me = std::this_thread::get_id();
    if (depth_ > 0 && owner_ == me) {
      ++depth_;
      return;
    }
    cv_.wait(lk, [&] { return depth_ == 0; });
    owner_ = me;
    depth_ = 1;
  }
  void unlock() {
    std::unique_lock<std::mutex> lk(m_);
    if (--depth_ > 0) return;
    owner_ = std::thread::id();
    lk.unlock();
    cv_.notify_all();  // a waiter's condition may hold now
  }
  // Called holding the lock. ready() is evaluated under m_ while no thread holds the lock, so it
  // reads state that only the holder changes.
  bool wait(const std::function<bool()>& ready, std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lk(m_);
    const int saved = depth_;
    depth_ = 0;
    owner_ = std::thread::id();
    cv_.notify_all();
    const bool ok = cv_.wait_for(lk, limit, [&] { return depth_ == 0 && ready(); });
    cv_.wait(lk, [&] { return depth_ == 0; });
    owner_ = std::this_thread::get_id();
    depth_ = saved;
    return ok;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::thread::id owner_;
  int depth_ = 0;
};

GpuLock g_gpu;

}  // namespace

GpuGuard::GpuGuard() { g_gpu.lock(); }
GpuGuard::~GpuGuard() { g_gpu.unlock(); }

// DPT_EMU_DEADLOCK_S: how long a wait may take before it is reported (300 s by default).
void wait_until(const std::function<bool()>& ready, const std::string& what) {
  static const long limit = [] {
    const char* v = std::getenv("DPT_EMU_DEADLOCK_S");
    return v && std::atol(v) > 0 ? std::atol(v) : 300L;
  }();
  if (!g_gpu.wait(ready, std::chrono::seconds(limit)))
    emu_fail("waited " + std::to_string(limit) + " s for " + what + " (a deadlock)");
}

}  // namespace dpt::emu

// ---- streams: queues of work, run when waited for ------------------------------------------------
// An item is work to run, or a wait for another stream's work up to a position (cudaStreamWaitEvent),
// which is resolved before the item is taken off the queue: a stream is "running" only while a
// host thread is inside real work (a kernel, a copy, a collective's part).
struct WorkItem {
  std::function<void()> run;
  CUstream_st* after = nullptr;
  uint64_t upto = 0;
};
struct CUstream_st {
  std::deque<WorkItem> work;
  uint64_t queued = 0, finished = 0;
  int device = 0;
  bool running = false;  // a host thread is inside the work at the queue's head
  std::thread::id runner;
};

namespace dpt::emu {
namespace {
constexpr int kMaxDevices = 8;
thread_local int g_device = 0;       // cudaSetDevice's
uint64_t g_progress = 0;             // work queued or finished on any stream, for waits on other streams
std::set<CUstream_st*>& streams() {  // every live stream, the legacy ones included
  static std::set<CUstream_st*> s;
  return s;
}
// Each device's legacy default stream (nullptr when that device is current).
CUstream_st* legacy(int device) {
  static CUstream_st* all[kMaxDevices] = {};
  CUstream_st*& st = all[device];
  if (!st) {
    st = new CUstream_st;
    st->device = device;
    streams().insert(st);
  }
  return st;
}
CUstream_st* resolve(cudaStream_t s) { return s ? s : legacy(g_device); }
bool alive(CUstream_st* st) { return streams().count(st) != 0; }
bool deferred() {
  static const bool d = [] {
    const char* v = std::getenv("DPT_EMU_STREAMS");
    if (!v || !*v || std::strcmp(v, "deferred") == 0) return true;
    if (std::strcmp(v, "immediate") == 0) return false;
    emu_fail(std::string("DPT_EMU_STREAMS=") + v + ": expected deferred or immediate");
  }();
  return d;
}

// Called holding the GPUs: runs st's work up to position `upto`, and the work of the streams it
// waits for. Work that waits for its own stream's earlier work returns at once (that work is done:
// positions run in order). Where another host thread is inside a stream's work (waiting in a
// collective), a blocking drain waits for it; a non-blocking one returns false at once.
bool drain_stream(CUstream_st* st, uint64_t upto, bool block) {
  for (;;) {
    if (st->finished >= upto) return true;
    if (st->running) {
      if (st->runner == std::this_thread::get_id()) return true;
      if (!block) return false;
      wait_until([st] { return !alive(st) || !st->running; }, "a stream's work another host thread is inside");
      if (!alive(st)) return true;
      continue;
    }
    if (st->work.empty()) return true;
    WorkItem& head = st->work.front();
    if (head.after && alive(head.after) && head.after->finished < head.upto) {
      CUstream_st* after = head.after;
      const uint64_t want = head.upto;
      if (!drain_stream(after, want, block)) return false;
      if (alive(after) && after->finished < want) {  // `after` is inside work on this thread's stack
        if (!block) return false;
        emu_fail("a stream waits for work that waits for it (a cycle of stream waits)");
      }
      continue;  // the head may have been taken meanwhile
    }
    std::function<void()> w = std::move(head.run);
    st->work.pop_front();
    st->running = true;
    st->runner = std::this_thread::get_id();
    struct Finish {
      CUstream_st* st;
      ~Finish() {
        st->running = false;
        st->runner = std::thread::id();
        ++st->finished;
        ++g_progress;
      }
    } finish{st};
    if (w) w();
  }
}

// The streams to drain, copied: waiting inside one lets other threads create and destroy streams.
std::vector<CUstream_st*> streams_of(int device) {
  std::vector<CUstream_st*> out;
  for (CUstream_st* st : streams())
    if (device < 0 || st->device == device) out.push_back(st);
  return out;
}
}  // namespace

namespace {
uint64_t push(cudaStream_t s, WorkItem item) {
  const GpuGuard hold;
  CUstream_st* st = resolve(s);
  st->work.push_back(std::move(item));
  const uint64_t position = ++st->queued;
  ++g_progress;
  if (!deferred()) drain_stream(st, position, true);
  return position;
}
}  // namespace

uint64_t enqueue(cudaStream_t s, std::function<void()> work) { return push(s, WorkItem{std::move(work), nullptr, 0}); }

uint64_t enqueue_wait(cudaStream_t s, cudaStream_t after, uint64_t upto) {
  return push(s, WorkItem{nullptr, after, upto});
}

void drain(cudaStream_t s, uint64_t upto) {
  const GpuGuard hold;
  // A destroyed stream ran all its work first (an event recorded on it outlives it, as in CUDA).
  if (s && !alive(s)) return;
  drain_stream(resolve(s), upto, true);
}

bool try_drain(cudaStream_t s, uint64_t upto) {
  const GpuGuard hold;
  if (s && !alive(s)) return true;
  return drain_stream(resolve(s), upto, false);
}

uint64_t progress() { return g_progress; }

void drain_device(int device) {
  const GpuGuard hold;
  for (CUstream_st* st : streams_of(device))
    if (alive(st)) drain_stream(st, UINT64_MAX, true);
}

void drain_all() { drain_device(-1); }

cudaStream_t new_stream() {
  const GpuGuard hold;
  auto* st = new CUstream_st;
  st->device = g_device;
  streams().insert(st);
  return st;
}

void delete_stream(cudaStream_t s) {
  const GpuGuard hold;
  if (!s || !alive(s)) return;
  drain_stream(s, UINT64_MAX, true);
  streams().erase(s);
  delete s;
}

int device_of(cudaStream_t s) {
  const GpuGuard hold;
  return resolve(s)->device;
}

cudaStream_t resolve_stream(cudaStream_t s) {
  const GpuGuard hold;
  return resolve(s);
}

bool check_stream(cudaStream_t s) {
  const int d = device_of(s);
  if (d == g_device) return true;
  std::fprintf(stderr, "dpt CUDA emulator: launch refused: a stream of cuda:%d while cuda:%d is current\n", d,
               g_device);
  g_last_error = cudaErrorInvalidResourceHandle;
  return false;
}

void check_pointer_arg(const void* p, cudaStream_t s) {
  const int owner = device_of_pointer(p);
  const int d = device_of(s);
  if (owner >= 0 && owner != d)
    emu_fail("a kernel on cuda:" + std::to_string(d) + " was given a pointer into cuda:" + std::to_string(owner) +
             "'s memory (peer access is not enabled)");
}
}  // namespace dpt::emu

// ---- the CUDA runtime API: emulated devices, host memory, the streams above ------------------------
namespace {
using dpt::emu::g_device;
using dpt::emu::kMaxDevices;
constexpr size_t kEmuMemory = size_t(4) << 30;  // each device's, as cudaMemGetInfo reports it

cudaError_t set_error(cudaError_t e) {
  if (e != cudaSuccess) dpt::emu::g_last_error = e;
  return e;
}

int emulated_devices() {
  static const int n = [] {
    const char* v = std::getenv("DPT_EMU_DEVICES");
    if (!v || !*v) return 1;
    char* end = nullptr;
    const long k = std::strtol(v, &end, 10);
    if (*end || k < 1 || k > kMaxDevices)
      dpt::emu::fail(std::string("DPT_EMU_DEVICES=") + v + ": expected 1 to " + std::to_string(kMaxDevices));
    return int(k);
  }();
  return n;
}

// The devices CUDA_VISIBLE_DEVICES shows, as the driver reads it: a comma-separated list of device
// indices, up to the first entry that names none (or names one again), renumbered from 0. Unset:
// all of them.
int visible_devices() {
  const int all = emulated_devices();
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  if (!v) return all;
  std::vector<bool> seen(size_t(all), false);
  int n = 0;
  const std::string s = v;
  size_t at = 0;
  while (at <= s.size()) {
    const size_t comma = std::min(s.find(',', at), s.size());
    const std::string entry = s.substr(at, comma - at);
    if (entry.empty() || entry.find_first_not_of("0123456789") != std::string::npos || entry.size() > 2) break;
    const int d = std::stoi(entry);
    if (d >= all || seen[size_t(d)]) break;
    seen[size_t(d)] = true;
    ++n;
    at = comma + 1;
  }
  return n;
}

bool valid_device(int d) { return d >= 0 && d < visible_devices(); }
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
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    default: return "emulated CUDA error";
  }
}
cudaError_t cudaGetDeviceCount(int* count) {
  const int n = visible_devices();
  if (n == 0) return set_error(cudaErrorNoDevice);
  *count = n;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (!valid_device(device)) return set_error(cudaErrorInvalidDevice);
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
// Every pair of distinct devices could reach each other's memory, as over NVLink; nothing enables
// it, so a kernel given another device's memory is still reported (check_pointer_arg).
cudaError_t cudaDeviceCanAccessPeer(int* ok, int a, int b) {
  if (!valid_device(a) || !valid_device(b)) return set_error(cudaErrorInvalidDevice);
  *ok = a != b;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (!valid_device(device)) return set_error(cudaErrorInvalidDevice);
  g_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = g_device;
  return cudaSuccess;
}
// Device memory is host memory, with each device's capacity enforced: an allocation past what is
// free fails as cudaMalloc does. Replicas call from several host threads, as on GPUs.
namespace {
struct Allocation {
  size_t bytes;
  int device;
};
std::mutex g_alloc_mutex;
std::map<void*, Allocation>& allocations() {
  static std::map<void*, Allocation> a;
  return a;
}
size_t g_allocated[kMaxDevices] = {};
// The allocation p points into (the map's end where none).
std::map<void*, Allocation>::iterator find_allocation(const void* p) {
  auto it = allocations().upper_bound(const_cast<void*>(p));
  if (it == allocations().begin()) return allocations().end();
  --it;
  const bool inside =
      static_cast<const char*>(p) < static_cast<const char*>(it->first) + std::max<size_t>(it->second.bytes, 1);
  return inside ? it : allocations().end();
}
}  // namespace
int dpt::emu::device_of_pointer(const void* p) {
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  const auto it = find_allocation(p);
  return it == allocations().end() ? -1 : it->second.device;
}
cudaError_t cudaMalloc(void** p, size_t bytes) {
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  *p = nullptr;
  size_t& used = g_allocated[g_device];
  if (bytes > kEmuMemory - used) return set_error(cudaErrorMemoryAllocation);
  *p = std::aligned_alloc(256, std::max<size_t>(256, (bytes + 255) / 256 * 256));
  if (!*p) return set_error(cudaErrorMemoryAllocation);
  allocations()[*p] = Allocation{bytes, g_device};
  used += bytes;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  int device = -1;
  {
    const std::lock_guard<std::mutex> lock(g_alloc_mutex);
    const auto it = allocations().find(p);
    if (it == allocations().end()) return set_error(cudaErrorInvalidValue);  // not from cudaMalloc
    device = it->second.device;
  }
  dpt::emu::drain_device(device);  // cudaFree waits for the device
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  const auto it = allocations().find(p);
  g_allocated[it->second.device] -= it->second.bytes;
  allocations().erase(it);
  std::free(p);
  return cudaSuccess;
}
// Pinned host memory: the only host memory an asynchronous copy reads or writes when it runs
// rather than when it is queued.
namespace {
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
bool is_device(const void* p) { return dpt::emu::device_of_pointer(p) >= 0; }
}  // namespace
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned int) {
  *p = std::aligned_alloc(256, std::max<size_t>(256, (bytes + 255) / 256 * 256));
  if (!*p) return set_error(cudaErrorMemoryAllocation);
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  pinned()[*p] = bytes;
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  dpt::emu::drain_all();  // any device's copy may still use it
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  if (pinned().erase(p) == 0) return set_error(cudaErrorInvalidValue);
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
  const std::lock_guard<std::mutex> lock(g_alloc_mutex);
  *free_b = kEmuMemory - g_allocated[g_device];
  *total_b = kEmuMemory;
  return cudaSuccess;
}

// Copies as CUDA orders them (the runtime's "API synchronization behavior"): a copy to pageable
// host memory returns once done; one from pageable host memory takes the data when it is queued;
// pinned host memory and device memory are read and written when the copy runs on its stream.
// A copy may be queued on a stream of any device (memory is unified), unlike a kernel.
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
// The synchronous forms run on the current device's legacy default stream and return when done
// (that stream does not wait for the non-blocking streams the backend creates).
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
  dpt::emu::drain_device(g_device);
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

// An event is a position in a stream's work (and the host time that work reached it). It belongs
// to the device current when it was created: recording it on another device's stream fails.
struct CUevent_st {
  cudaStream_t stream = nullptr;  // resolved: never nullptr once recorded
  uint64_t position = 0;
  bool recorded = false;
  int device = 0;
  std::chrono::steady_clock::time_point at;
};
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = new CUevent_st{};
  (*e)->device = g_device;
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  if (e->recorded) dpt::emu::drain(e->stream, e->position);  // its time stamp is still queued
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  const dpt::emu::GpuGuard hold;
  cudaStream_t st = dpt::emu::resolve(s);
  if (st->device != e->device) return set_error(cudaErrorInvalidResourceHandle);
  e->stream = st;
  e->recorded = true;
  e->position = dpt::emu::enqueue(st, [e] { e->at = std::chrono::steady_clock::now(); });
  return cudaSuccess;
}
// A stream may wait for an event of any device.
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int) {
  if (!e->recorded) return cudaSuccess;  // waits for nothing, as in CUDA
  dpt::emu::enqueue_wait(s, e->stream, e->position);
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

// ---- library handles: a stream, and the device current when they were made -------------------------
// cuBLAS and cuDNN tie a handle to that device; using it while another is current is undefined.
struct cublasContext {
  cudaStream_t stream = nullptr;
  int device = 0;
};
struct cudnnContext {
  cudaStream_t stream = nullptr;
  int device = 0;
};
namespace {
template <typename H>
void new_handle(H* h) {
  *h = new std::remove_pointer_t<H>{};
  (*h)->device = g_device;
}
template <typename H>
void check_handle(H h, const char* library) {
  if (h->device != g_device)
    dpt::emu::fail(std::string("a ") + library + " handle of cuda:" + std::to_string(h->device) +
                   " used while cuda:" + std::to_string(g_device) + " is current");
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
  check_handle(h, "cuBLAS");
  for (const void* p : {static_cast<const void*>(A), static_cast<const void*>(B), static_cast<const void*>(C)})
    dpt::emu::check_pointer_arg(p, h->stream);
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

// batchCount products, each a cublasSgemm on its stride's offsets, queued in order on the stream.
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float* alpha, const float* A, int lda, long long strideA,
                                         const float* B, int ldb, long long strideB, const float* beta, float* C,
                                         int ldc, long long strideC, int batchCount) {
  if (batchCount < 0) return CUBLAS_STATUS_INVALID_VALUE;
  for (int i = 0; i < batchCount; ++i) {
    const cublasStatus_t st = cublasSgemm_v2(h, ta, tb, m, n, k, alpha, A + i * strideA, lda, B + i * strideB, ldb,
                                             beta, C + i * strideC, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
  }
  return CUBLAS_STATUS_SUCCESS;
}

// ---- cuDNN: handles only (its convolutions are not emulated) ----------------------------------------
cudnnStatus_t cudnnCreate(cudnnHandle_t* h) { return new_handle(h), CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { return delete h, CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s) { return h->stream = s, CUDNN_STATUS_SUCCESS; }
cudaStream_t dpt::emu::stream_of(cudnnHandle_t h) {
  check_handle(h, "cuDNN");
  return h->stream;
}
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
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    default: return "unknown result code";
  }
}
