// The CPU emulation of CUDA (cuda_emu.h) against what a GPU does: every (block, thread) runs once
// with its indices, barriers hold every thread of a block, shared memory is per block and starts
// as NaN, launch limits are refused, the misuses a GPU leaves undefined are reported, and (with
// DPT_EMU_DEVICES of 2 or more) devices, their streams, memory and NCCL follow CUDA's rules. These
// kernels exist only for the emulator (this file is not in the GPU build).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>
#include "kernels/cuda_check.h"

namespace {

// out[linear thread id] = its (block, thread) as one number; count[...] += 1.
__global__ void indices_kernel(int64_t* out, int* count) {
  const int64_t block = (int64_t(blockIdx.z) * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const int64_t thread = (int64_t(threadIdx.z) * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  const int64_t id = block * (int64_t(blockDim.x) * blockDim.y * blockDim.z) + thread;
  out[id] = block * 10000 + thread;
  count[id] += 1;
}

// Each block sums its 128 values through shared memory (a tree, a barrier a level).
__global__ void block_sum_kernel(const float* x, float* sums) {
  __shared__ float s[128];
  s[threadIdx.x] = x[blockIdx.x * 128 + threadIdx.x];
  __syncthreads();
  for (int half = 64; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) s[threadIdx.x] += s[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) sums[blockIdx.x] = s[0];
}

// Reads a neighbour's shared slot with the barrier left out (a race on a GPU).
__global__ void missing_barrier_kernel(float* out) {
  __shared__ float s[64];
  s[threadIdx.x] = float(threadIdx.x);
  out[threadIdx.x] = s[(threadIdx.x + 1) % 64];
}

// Dynamic shared memory: reversed within the block.
__global__ void dynamic_shared_kernel(const float* x, float* y) {
  extern __shared__ float buf[];
  buf[threadIdx.x] = x[blockIdx.x * blockDim.x + threadIdx.x];
  __syncthreads();
  y[blockIdx.x * blockDim.x + threadIdx.x] = buf[blockDim.x - 1 - threadIdx.x];
}

// A barrier only the even threads reach.
__global__ void divergent_barrier_kernel(float* out) {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
    out[threadIdx.x] = 1.f;
  }
}

}  // namespace

TEST_CASE("emulated grids run every (block, thread) once with CUDA's indices", "[emu]") {
  const dim3 grid(3, 2, 2), block(5, 4, 3);
  const size_t n = 12 * 60;
  std::vector<int64_t> out(n, -1);
  std::vector<int> count(n, 0);
  indices_kernel<<<grid, block>>>(out.data(), count.data());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  for (size_t i = 0; i < n; ++i) {
    INFO("thread " << i);
    REQUIRE(count[i] == 1);
    REQUIRE(out[i] == int64_t(i / 60) * 10000 + int64_t(i % 60));
  }
}

TEST_CASE("emulated barriers and shared memory: a block reduction in every thread order", "[emu]") {
  std::vector<float> x(5 * 128);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 13) - 6.f;
  const int saved = dpt::emu::thread_order();
  for (int order : {0, 1, 2}) {
    dpt::emu::set_thread_order(order);
    std::vector<float> sums(5, -1.f);
    block_sum_kernel<<<5, 128>>>(x.data(), sums.data());
    cudaDeviceSynchronize();
    for (int b = 0; b < 5; ++b) {
      float ref = 0.f;
      for (int i = 0; i < 128; ++i) ref += x[size_t(b * 128 + i)];
      INFO("order " << order << " block " << b);
      REQUIRE(sums[size_t(b)] == ref);
    }
  }
  dpt::emu::set_thread_order(saved);
}

TEST_CASE("emulated shared memory starts as NaN: a missing barrier reads it in one order or the other", "[emu]") {
  const int saved = dpt::emu::thread_order();
  int orders_caught = 0;
  for (int order : {0, 1}) {
    dpt::emu::set_thread_order(order);
    std::vector<float> out(64, 0.f);
    missing_barrier_kernel<<<1, 64>>>(out.data());
    cudaDeviceSynchronize();
    int nans = 0;
    for (float v : out) nans += std::isnan(v);
    // Forwards every thread but the last reads a slot not yet written; backwards only the last does.
    CHECK(nans == (order == 0 ? 63 : 1));
    orders_caught += nans > 0;
  }
  CHECK(orders_caught == 2);
  dpt::emu::set_thread_order(saved);
}

TEST_CASE("emulated dynamic shared memory is the launch's third argument", "[emu]") {
  std::vector<float> x(3 * 32), y(x.size(), 0.f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i);
  dynamic_shared_kernel<<<3, 32, 32 * sizeof(float)>>>(x.data(), y.data());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  cudaDeviceSynchronize();
  for (size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == x[i / 32 * 32 + 31 - i % 32]);
}

TEST_CASE("emulated launches past CUDA's limits are refused as a GPU refuses them", "[emu]") {
  std::vector<int64_t> out(4, -1);
  std::vector<int> count(4, 0);
  struct Bad {
    dim3 grid, block;
    size_t shmem;
  };
  for (const Bad& b : {Bad{dim3(1, 1, 65536), dim3(1), 0}, Bad{dim3(1, 65536), dim3(1), 0}, Bad{dim3(1), dim3(1025), 0},
                       Bad{dim3(1), dim3(32, 32, 2), 0}, Bad{dim3(1), dim3(1, 1, 65), 0}, Bad{dim3(0), dim3(32), 0},
                       Bad{dim3(1), dim3(32), 48 * 1024 + 4}}) {
    indices_kernel<<<b.grid, b.block, b.shmem>>>(out.data(), count.data());
    REQUIRE(cudaGetLastError() == cudaErrorInvalidConfiguration);
    REQUIRE(cudaGetLastError() == cudaSuccess);  // read once, then cleared
  }
  cudaDeviceSynchronize();
  CHECK(count == std::vector<int>(4, 0));  // nothing ran
  // Through the backend's check: a dpt::Error naming the call and CUDA's message.
  REQUIRE_THROWS_WITH(
      [&] {
        indices_kernel<<<dim3(1, 1, 70000), 1>>>(out.data(), count.data());
        DPT_CUDA_LAUNCH_CHECK();
      }(),
      Catch::Contains("CUDA error on cuda:0: invalid configuration argument (in cudaGetLastError())"));
}

TEST_CASE("emulated barriers that only some threads of a block reach are reported", "[emu]") {
  std::vector<float> out(64, 0.f);
  const int saved = dpt::emu::thread_order();
  // Forwards the first thread waits at the barrier and the odd ones return; backwards the first
  // thread returns without it and an even one reaches it afterwards.
  dpt::emu::set_thread_order(0);
  REQUIRE_THROWS_WITH((divergent_barrier_kernel<<<2, 64>>>(out.data()), cudaDeviceSynchronize()),
                      "dpt CUDA emulator: __syncthreads reached by 32 of the 64 threads of block (0, 0, 0): the "
                      "others had returned");
  dpt::emu::set_thread_order(1);
  REQUIRE_THROWS_WITH((divergent_barrier_kernel<<<2, 64>>>(out.data()), cudaDeviceSynchronize()),
                      "dpt CUDA emulator: __syncthreads reached by thread 62 of block (0, 0, 0) after another "
                      "thread had returned without reaching it");
  dpt::emu::set_thread_order(saved);
  // The emulator is usable again afterwards.
  std::vector<float> x(128, 1.f), sums(1, 0.f);
  block_sum_kernel<<<1, 128>>>(x.data(), sums.data());
  cudaDeviceSynchronize();
  CHECK(sums[0] == 128.f);
}

namespace {
__global__ void fill_kernel(float* x, int n, float v) {
  const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) x[i] = v;
}
}  // namespace

TEST_CASE("emulated streams run their work when it is waited for, in the order CUDA guarantees", "[emu]") {
  if (std::getenv("DPT_EMU_STREAMS") && std::string(std::getenv("DPT_EMU_STREAMS")) == "immediate") return;
  cudaStream_t a = nullptr, b = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking) == cudaSuccess);
  REQUIRE(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking) == cudaSuccess);
  float* d = nullptr;
  REQUIRE(cudaMalloc(&d, 64 * sizeof(float)) == cudaSuccess);
  std::vector<float> host(64, 0.f);
  // Queued on a and not waited for: a blocking copy on the legacy stream does not wait for a
  // non-blocking stream, so it reads what the memory held before.
  REQUIRE(cudaMemset(d, 0, 64 * sizeof(float)) == cudaSuccess);
  fill_kernel<<<1, 64, 0, a>>>(d, 64, 3.f);
  REQUIRE(cudaMemcpy(host.data(), d, 64 * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(host[5] == 0.f);
  REQUIRE(cudaStreamSynchronize(a) == cudaSuccess);
  REQUIRE(cudaMemcpy(host.data(), d, 64 * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(host[5] == 3.f);
  // b waits for a's event: draining b runs a's work up to the event first, not after it.
  cudaEvent_t e = nullptr;
  REQUIRE(cudaEventCreateWithFlags(&e, cudaEventDisableTiming) == cudaSuccess);
  fill_kernel<<<1, 64, 0, a>>>(d, 64, 5.f);
  REQUIRE(cudaEventRecord(e, a) == cudaSuccess);
  fill_kernel<<<1, 64, 0, a>>>(d, 32, 9.f);  // after the event: b does not wait for it
  REQUIRE(cudaStreamWaitEvent(b, e, 0) == cudaSuccess);
  float* pinned = nullptr;
  REQUIRE(cudaHostAlloc(reinterpret_cast<void**>(&pinned), 64 * sizeof(float), cudaHostAllocPortable) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(pinned, d, 64 * sizeof(float), cudaMemcpyDeviceToHost, b) == cudaSuccess);
  pinned[0] = -1.f;  // the copy into pinned memory has not run yet
  REQUIRE(cudaStreamSynchronize(b) == cudaSuccess);
  CHECK(pinned[0] == 5.f);
  CHECK(pinned[40] == 5.f);
  // A copy from pageable memory takes the data as it is queued; one into pageable memory is done
  // when it returns.
  std::vector<float> src(64, 7.f);
  REQUIRE(cudaMemcpyAsync(d, src.data(), 64 * sizeof(float), cudaMemcpyHostToDevice, a) == cudaSuccess);
  src.assign(64, 8.f);
  REQUIRE(cudaMemcpyAsync(host.data(), d, 64 * sizeof(float), cudaMemcpyDeviceToHost, a) == cudaSuccess);
  CHECK(host[0] == 7.f);
  CHECK(host[63] == 7.f);
  REQUIRE(cudaFreeHost(pinned) == cudaSuccess);
  REQUIRE(cudaFree(d) == cudaSuccess);
  REQUIRE(cudaEventDestroy(e) == cudaSuccess);
  REQUIRE(cudaStreamDestroy(a) == cudaSuccess);
  REQUIRE(cudaStreamDestroy(b) == cudaSuccess);
}

// ---- several emulated devices (DPT_EMU_DEVICES) -------------------------------------------------
namespace {

// The emulated devices when there are 2 or more; else says the test was skipped.
int emulated_devices() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
  cudaGetLastError();
  if (n < 2) WARN("SKIPPED: needs DPT_EMU_DEVICES=2 or more (the gpu_emu_devices test sets 4)");
  return n;
}

// CUDA_VISIBLE_DEVICES set for one scope.
struct VisibleDevices {
  std::string saved;
  bool had = false;
  explicit VisibleDevices(const char* v) {
    const char* old = std::getenv("CUDA_VISIBLE_DEVICES");
    had = old != nullptr;
    if (had) saved = old;
    if (v)
      setenv("CUDA_VISIBLE_DEVICES", v, 1);
    else
      unsetenv("CUDA_VISIBLE_DEVICES");
  }
  ~VisibleDevices() {
    if (had)
      setenv("CUDA_VISIBLE_DEVICES", saved.c_str(), 1);
    else
      unsetenv("CUDA_VISIBLE_DEVICES");
  }
};

int visible_count(const char* v) {
  const VisibleDevices scope(v);
  int n = -1;
  if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
  cudaGetLastError();
  return n;
}

}  // namespace

TEST_CASE("emulated devices: CUDA_VISIBLE_DEVICES hides and renumbers them as the driver does; memory is per device",
          "[emu][devices]") {
  const int n = emulated_devices();
  if (n < 2) return;
  CHECK(visible_count(nullptr) == n);
  CHECK(visible_count("1,0") == 2);
  CHECK(visible_count("1") == 1);
  CHECK(visible_count("0,0,1") == 1);  // up to the first entry that names no new device
  CHECK(visible_count("1,x,0") == 1);
  CHECK(visible_count("") == 0);
  CHECK(visible_count(std::to_string(n).c_str()) == 0);
  {
    const VisibleDevices scope("1");
    CHECK(cudaSetDevice(1) == cudaErrorInvalidDevice);
    cudaGetLastError();
  }
  // An allocation on cuda:1 uses cuda:1's memory only.
  size_t free0 = 0, free1 = 0, after0 = 0, after1 = 0, total = 0;
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  cudaMemGetInfo(&free0, &total);
  REQUIRE(cudaSetDevice(1) == cudaSuccess);
  cudaMemGetInfo(&free1, &total);
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, size_t(1) << 30) == cudaSuccess);
  cudaMemGetInfo(&after1, &total);
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  cudaMemGetInfo(&after0, &total);
  CHECK(after1 == free1 - (size_t(1) << 30));
  CHECK(after0 == free0);
  int ok = -1;
  REQUIRE(cudaDeviceCanAccessPeer(&ok, 0, 1) == cudaSuccess);
  CHECK(ok == 1);
  REQUIRE(cudaFree(p) == cudaSuccess);
}

TEST_CASE("emulated devices: CUDA's rules for streams, events and memory of another device", "[emu][devices]") {
  if (emulated_devices() < 2) return;
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  float* d0 = nullptr;
  REQUIRE(cudaMalloc(&d0, 64 * sizeof(float)) == cudaSuccess);
  cudaStream_t s0 = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&s0, cudaStreamNonBlocking) == cudaSuccess);
  cudaEvent_t e0 = nullptr;
  REQUIRE(cudaEventCreateWithFlags(&e0, cudaEventDisableTiming) == cudaSuccess);
  REQUIRE(cudaSetDevice(1) == cudaSuccess);
  float* d1 = nullptr;
  REQUIRE(cudaMalloc(&d1, 64 * sizeof(float)) == cudaSuccess);
  cudaStream_t s1 = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking) == cudaSuccess);
  // A kernel launch fails on a stream of a device other than the current one.
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  fill_kernel<<<1, 64, 0, s1>>>(d0, 64, 1.f);
  CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
  // An event cannot be recorded on another device's stream.
  CHECK(cudaEventRecord(e0, s1) == cudaErrorInvalidResourceHandle);
  cudaGetLastError();
  // A kernel given another device's memory is reported (peer access is not enabled).
  REQUIRE(cudaSetDevice(1) == cudaSuccess);
  REQUIRE_THROWS_WITH((fill_kernel<<<1, 64, 0, s1>>>(d0, 64, 1.f)),
                      "dpt CUDA emulator: a kernel on cuda:1 was given a pointer into cuda:0's memory (peer access is "
                      "not enabled)");
  // A stream may wait for another device's event, and copy another device's memory.
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  fill_kernel<<<1, 64, 0, s0>>>(d0, 64, 4.f);
  REQUIRE(cudaEventRecord(e0, s0) == cudaSuccess);
  REQUIRE(cudaSetDevice(1) == cudaSuccess);
  REQUIRE(cudaStreamWaitEvent(s1, e0, 0) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(d1, d0, 64 * sizeof(float), cudaMemcpyDeviceToDevice, s1) == cudaSuccess);
  std::vector<float> host(64, 0.f);
  REQUIRE(cudaMemcpyAsync(host.data(), d1, 64 * sizeof(float), cudaMemcpyDeviceToHost, s1) == cudaSuccess);
  CHECK(host[63] == 4.f);
  REQUIRE(cudaFree(d1) == cudaSuccess);
  REQUIRE(cudaStreamDestroy(s1) == cudaSuccess);
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  REQUIRE(cudaFree(d0) == cudaSuccess);
  REQUIRE(cudaEventDestroy(e0) == cudaSuccess);
  REQUIRE(cudaStreamDestroy(s0) == cudaSuccess);
}

TEST_CASE("emulated NCCL: a collective completes when every rank's stream reaches it; misuse is reported",
          "[emu][devices]") {
  if (emulated_devices() < 2) return;
  ncclComm_t comms[2] = {nullptr, nullptr};
  const int devs[2] = {0, 1};
  REQUIRE(ncclCommInitAll(comms, 2, devs) == ncclSuccess);
  float* buf[2] = {nullptr, nullptr};
  cudaStream_t s[2] = {nullptr, nullptr};
  for (int r = 0; r < 2; ++r) {
    REQUIRE(cudaSetDevice(r) == cudaSuccess);
    REQUIRE(cudaMalloc(&buf[r], 10 * sizeof(float)) == cudaSuccess);
    REQUIRE(cudaStreamCreateWithFlags(&s[r], cudaStreamNonBlocking) == cudaSuccess);
  }
  // One host thread drives both ranks: rank 0's part runs rank 1's stream up to rank 1's part.
  std::vector<float> a(10, 1.5f), b(10, 2.f), got(10, 0.f);
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(buf[0], a.data(), 10 * sizeof(float), cudaMemcpyHostToDevice, s[0]) == cudaSuccess);
  REQUIRE(ncclAllReduce(buf[0], buf[0], 10, ncclFloat32, ncclSum, comms[0], s[0]) == ncclSuccess);
  REQUIRE(cudaSetDevice(1) == cudaSuccess);
  fill_kernel<<<1, 10, 0, s[1]>>>(buf[1], 10, 2.f);  // rank 1's input is written on its stream before its part
  REQUIRE(ncclAllReduce(buf[1], buf[1], 10, ncclFloat32, ncclSum, comms[1], s[1]) == ncclSuccess);
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(got.data(), buf[0], 10 * sizeof(float), cudaMemcpyDeviceToHost, s[0]) == cudaSuccess);
  CHECK(got[9] == 3.5f);
  REQUIRE(cudaSetDevice(1) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(got.data(), buf[1], 10 * sizeof(float), cudaMemcpyDeviceToHost, s[1]) == cudaSuccess);
  CHECK(got[0] == 3.5f);
  // A buffer of another device, a stream of another device.
  REQUIRE_THROWS_WITH(ncclAllReduce(buf[1], buf[1], 10, ncclFloat32, ncclSum, comms[0], s[0]),
                      "dpt CUDA emulator: ncclAllReduce of rank 0 (cuda:0) given a buffer that is not cuda:0's memory");
  REQUIRE_THROWS_WITH(ncclAllReduce(buf[0], buf[0], 10, ncclFloat32, ncclSum, comms[0], s[1]),
                      "dpt CUDA emulator: ncclAllReduce of rank 0 (cuda:0) queued on a stream of cuda:1");
  // Ranks that call different collectives (on GPUs: a hang or wrong sums).
  REQUIRE(ncclAllReduce(buf[0], buf[0], 10, ncclFloat32, ncclSum, comms[0], s[0]) == ncclSuccess);
  REQUIRE_THROWS_WITH(ncclBroadcast(buf[1], buf[1], 10, ncclFloat32, 0, comms[1], s[1]),
                      "dpt CUDA emulator: collective #1 of a communicator: ncclAllReduce(10 floats) on one rank, "
                      "ncclBroadcast(10 floats, root 0) on rank 1 (every rank must call the same collectives in the "
                      "same order)");
  // Aborted, rank 0's part gives up waiting for rank 1; a call on an aborted communicator is reported.
  REQUIRE(ncclCommAbort(comms[0]) == ncclSuccess);
  REQUIRE(ncclCommAbort(comms[1]) == ncclSuccess);
  REQUIRE(cudaStreamSynchronize(s[0]) == cudaSuccess);
  REQUIRE_THROWS_WITH(ncclAllReduce(buf[0], buf[0], 10, ncclFloat32, ncclSum, comms[0], s[0]),
                      "dpt CUDA emulator: ncclAllReduce on a communicator ncclCommAbort has freed");
  for (int r = 0; r < 2; ++r) {
    REQUIRE(cudaSetDevice(r) == cudaSuccess);
    REQUIRE(cudaStreamDestroy(s[r]) == cudaSuccess);
    REQUIRE(cudaFree(buf[r]) == cudaSuccess);
  }
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
}
