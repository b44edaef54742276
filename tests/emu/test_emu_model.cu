// The CPU emulation of CUDA (cuda_emu.h) against what a GPU does: every (block, thread) runs once
// with its indices, barriers hold every thread of a block, shared memory is per block and starts
// as NaN, launch limits are refused, and the misuses a GPU leaves undefined are reported. These
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
