// Collectives for several replicas on ONE GPU (NCCL refuses two ranks on one device). It serves
// tests and checks on a single-GPU machine: the Trainer's multi-replica GPU path (gradient buckets
// on a communication stream, join before the update, parameter server, synchronised batch norm,
// merged moving statistics) then runs exactly as with NCCL, only the transport differs.
// A collective: each rank posts its buffer and records an event on its compute stream; after a
// host barrier rank 0 makes the communication stream wait for every rank's event and enqueues one
// kernel that sums the buffers in rank order (deterministic) and writes the sums back; a second
// barrier makes the "done" event visible before any rank joins.
#include <cstdio>
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/cuda_resources.h"
#include "parallel/communicator.h"

namespace dpt {

namespace {

constexpr int kMaxShared = 8;

template <typename T>
struct Buffers {
  T* p[kMaxShared];
};

// root < 0: every buffer gets the sum; otherwise only root's.
template <typename T>
__global__ void shared_sum_kernel(Buffers<T> b, int ranks, int64_t n, int root) {
  DPT_GRID_STRIDE(i, n) {
    T s = b.p[0][i];
    for (int r = 1; r < ranks; ++r) s += b.p[r][i];
    if (root >= 0) {
      b.p[root][i] = s;
    } else {
      for (int r = 0; r < ranks; ++r) b.p[r][i] = s;
    }
  }
}

class SharedGpuCommunicator : public Communicator {
 public:
  SharedGpuCommunicator(int device, const std::vector<kernels::CudaResources*>& compute)
      : device_(device), compute_(compute), host_(int(compute.size())), posted_(compute.size(), nullptr) {
    const int n = int(compute.size());
    DPT_CHECK(n >= 1 && n <= kMaxShared, "replicas sharing one GPU: 1 to " << kMaxShared << ", got " << n);
    DPT_CUDA_CHECK(cudaSetDevice(device_));
    DPT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    DPT_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    for (int r = 0; r < n; ++r) {
      cudaEvent_t e = nullptr;
      DPT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      ready_.push_back(e);
    }
  }

  ~SharedGpuCommunicator() override {  // destructors log, never throw
    cudaSetDevice(device_);
    const cudaError_t e = cudaStreamSynchronize(stream_);
    if (e != cudaSuccess) std::fprintf(stderr, "dptrain: warning: on cuda:%d: %s\n", device_, cudaGetErrorString(e));
    for (cudaEvent_t ev : ready_) cudaEventDestroy(ev);
    if (done_) cudaEventDestroy(done_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  int size() const override { return int(compute_.size()); }
  void all_reduce_sum(int rank, float* data, int64_t n) override { sum(rank, data, n, -1); }
  void all_reduce_sum(int rank, double* data, int64_t n) override { sum(rank, data, n, -1); }
  void reduce_sum(int rank, float* data, int64_t n, int root) override { sum(rank, data, n, root); }

  void broadcast(int rank, float* data, int64_t n, int root) override {
    collective(rank, data, [&] {
      for (int r = 0; r < size(); ++r)
        if (r != root && n > 0)
          DPT_CUDA_CHECK(cudaMemcpyAsync(posted_[size_t(r)], posted_[size_t(root)], sizeof(float) * size_t(n),
                                         cudaMemcpyDeviceToDevice, stream_));
    });
  }

  void barrier(int rank) override {
    join(rank);
    host_.barrier(rank);
  }

  void join(int rank) override { DPT_CUDA_CHECK(cudaStreamWaitEvent(compute_[size_t(rank)]->stream(), done_, 0)); }

  void abort() override { host_.abort(); }

 private:
  template <typename T>
  void sum(int rank, T* data, int64_t n, int root) {
    collective(rank, data, [&] {
      if (n == 0) return;
      Buffers<T> b{};
      for (int r = 0; r < size(); ++r) b.p[r] = static_cast<T*>(posted_[size_t(r)]);
      shared_sum_kernel<T><<<kernels::grid_blocks(n), kernels::kBlockThreads, 0, stream_>>>(b, size(), n, root);
      DPT_CUDA_LAUNCH_CHECK();
    });
  }

  // Posts the rank's buffer, then rank 0 enqueues `work` on the communication stream once every
  // rank's compute stream has reached this point.
  template <typename F>
  void collective(int rank, void* data, F work) {
    const size_t r = size_t(rank);
    posted_[r] = data;
    DPT_CUDA_CHECK(cudaEventRecord(ready_[r], compute_[r]->stream()));
    host_.barrier(rank);  // every buffer posted, every ready event recorded
    if (rank == 0) {
      try {
        for (cudaEvent_t e : ready_) DPT_CUDA_CHECK(cudaStreamWaitEvent(stream_, e, 0));
        work();
        DPT_CUDA_CHECK(cudaEventRecord(done_, stream_));
      } catch (...) {
        host_.abort();  // the other ranks wait in the barrier below: wake them with an error
        throw;
      }
    }
    host_.barrier(rank);  // "done" is recorded before any rank joins or posts again
  }

  int device_;
  std::vector<kernels::CudaResources*> compute_;
  HostCommunicator host_;  // its barrier (and abort) only
  std::vector<void*> posted_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t done_ = nullptr;
  std::vector<cudaEvent_t> ready_;
};

}  // namespace

std::unique_ptr<Communicator> make_shared_gpu_communicator(int device,
                                                           const std::vector<kernels::CudaResources*>& compute) {
  return std::make_unique<SharedGpuCommunicator>(device, compute);
}

}  // namespace dpt
