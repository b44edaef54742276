// NCCL collectives for GPU replicas (one host thread per GPU, as DESIGN.md prescribes). Each rank
// owns a communicator from ncclCommInitAll and a communication stream: a collective waits (by an
// event) for the work already queued on the rank's compute stream, runs on the communication
// stream, and join() makes the compute stream wait for it. Every NCCL call is checked; errors
// name ncclGetErrorString and the device.
#include <nccl.h>
#include <atomic>
#include <cstdio>
#include <string>
#include "kernels/cuda_check.h"
#include "kernels/cuda_resources.h"
#include "parallel/communicator.h"

namespace dpt {

namespace {

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(const std::vector<int>& devices, const std::vector<kernels::CudaResources*>& compute)
      : devices_(devices), compute_(compute) {
    const int n = int(devices.size());
    DPT_CHECK(n >= 1 && compute.size() == devices.size(), "NCCL: one compute stream per device is needed");
    comms_.assign(size_t(n), nullptr);
    const ncclResult_t rc = ncclCommInitAll(comms_.data(), n, devices_.data());
    DPT_CHECK(rc == ncclSuccess, "NCCL could not create communicators over " << n << " GPUs (" << list()
                                                                              << "): " << ncclGetErrorString(rc));
    for (int r = 0; r < n; ++r) {
      DPT_CUDA_CHECK(cudaSetDevice(devices_[size_t(r)]));
      cudaStream_t s = nullptr;
      DPT_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      streams_.push_back(s);
      cudaEvent_t a = nullptr, b = nullptr;
      DPT_CUDA_CHECK(cudaEventCreateWithFlags(&a, cudaEventDisableTiming));
      DPT_CUDA_CHECK(cudaEventCreateWithFlags(&b, cudaEventDisableTiming));
      ready_.push_back(a);
      done_.push_back(b);
    }
  }

  ~NcclCommunicator() override {  // destructors log, never throw
    for (size_t r = 0; r < comms_.size(); ++r) {
      cudaSetDevice(devices_[r]);
      if (r < streams_.size()) cudaStreamSynchronize(streams_[r]);
      if (comms_[r] && !aborted_) {
        const ncclResult_t rc = ncclCommDestroy(comms_[r]);
        if (rc != ncclSuccess)
          std::fprintf(stderr, "dptrain: warning: NCCL on cuda:%d: %s\n", devices_[r], ncclGetErrorString(rc));
      }
      if (r < streams_.size()) cudaStreamDestroy(streams_[r]);
      if (r < ready_.size()) cudaEventDestroy(ready_[r]);
      if (r < done_.size()) cudaEventDestroy(done_[r]);
    }
  }

  int size() const override { return int(comms_.size()); }

  void all_reduce_sum(int rank, float* data, int64_t n) override {
    run(rank, [&](cudaStream_t s) { return ncclAllReduce(data, data, size_t(n), ncclFloat32, ncclSum, comms_[rank], s); },
        "ncclAllReduce");
  }
  void all_reduce_sum(int rank, double* data, int64_t n) override {
    run(rank, [&](cudaStream_t s) { return ncclAllReduce(data, data, size_t(n), ncclFloat64, ncclSum, comms_[rank], s); },
        "ncclAllReduce");
  }
  void reduce_sum(int rank, float* data, int64_t n, int root) override {
    run(rank, [&](cudaStream_t s) { return ncclReduce(data, data, size_t(n), ncclFloat32, ncclSum, root, comms_[rank], s); },
        "ncclReduce");
  }
  void broadcast(int rank, float* data, int64_t n, int root) override {
    run(rank, [&](cudaStream_t s) { return ncclBroadcast(data, data, size_t(n), ncclFloat32, root, comms_[rank], s); },
        "ncclBroadcast");
  }
  void barrier(int rank) override {  // an all-reduce of nothing, then wait for it
    join(rank);
    DPT_CUDA_CHECK(cudaStreamSynchronize(streams_[size_t(rank)]));
  }
  void join(int rank) override {
    const size_t r = size_t(rank);
    DPT_CUDA_CHECK(cudaEventRecord(done_[r], streams_[r]));
    DPT_CUDA_CHECK(cudaStreamWaitEvent(compute_[r]->stream(), done_[r], 0));
  }
  // A replica failed: abort every communicator so peers blocked in a collective return with an
  // error instead of hanging (NCCL's advice for a failed rank).
  void abort() override {
    if (aborted_.exchange(true)) return;
    for (size_t r = 0; r < comms_.size(); ++r) {
      const ncclResult_t rc = ncclCommAbort(comms_[r]);
      if (rc != ncclSuccess)
        std::fprintf(stderr, "dptrain: warning: ncclCommAbort on cuda:%d: %s\n", devices_[r], ncclGetErrorString(rc));
    }
  }

 private:
  std::string list() const {
    std::string s;
    for (int d : devices_) s += (s.empty() ? "cuda:" : ", cuda:") + std::to_string(d);
    return s;
  }

  template <typename F>
  void run(int rank, F call, const char* what) {
    const size_t r = size_t(rank);
    // After abort() NCCL has freed the communicators: a replica that reaches its next collective
    // stops as host replicas do, rather than call NCCL with a freed communicator.
    DPT_CHECK(!aborted_, "stopped: another replica failed");
    DPT_CUDA_CHECK(cudaEventRecord(ready_[r], compute_[r]->stream()));
    DPT_CUDA_CHECK(cudaStreamWaitEvent(streams_[r], ready_[r], 0));
    const ncclResult_t rc = call(streams_[r]);
    DPT_CHECK(rc == ncclSuccess, what << " failed on cuda:" << devices_[r] << " (rank " << rank << " of " << size()
                                      << "): " << ncclGetErrorString(rc));
  }

  std::vector<int> devices_;
  std::vector<kernels::CudaResources*> compute_;
  std::vector<ncclComm_t> comms_;
  std::vector<cudaStream_t> streams_;
  std::vector<cudaEvent_t> ready_, done_;
  std::atomic<bool> aborted_{false};
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<int>& devices,
                                                     const std::vector<kernels::CudaResources*>& compute) {
  return std::make_unique<NcclCommunicator>(devices, compute);
}

}  // namespace dpt
