// Communicator: collectives over the N replicas of one model. Each replica calls the same
// collectives in the same order with its rank and its own buffer. HostCommunicator serves
// in-process CPU replicas (one thread each); the NCCL communicator serves GPU replicas, one per
// GPU; the shared-GPU communicator serves several replicas on one GPU.
// On GPUs a collective is asynchronous: it runs on a communication stream after the work already
// queued on the rank's compute stream, and join(rank) makes the compute stream's later work wait
// for every collective issued so far (so gradient buckets reduce while backward goes on).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace dpt {

namespace kernels {
class CudaResources;
}

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int size() const = 0;
  // Afterwards every replica's buffer holds the elementwise sum (the same bits everywhere).
  virtual void all_reduce_sum(int rank, float* data, int64_t n) = 0;
  virtual void all_reduce_sum(int rank, double* data, int64_t n) = 0;
  // Afterwards root's buffer holds the sum; the others' are unchanged.
  virtual void reduce_sum(int rank, float* data, int64_t n, int root) = 0;
  // Afterwards every buffer holds root's values.
  virtual void broadcast(int rank, float* data, int64_t n, int root) = 0;
  virtual void barrier(int rank) = 0;
  // The rank's compute stream waits for its collectives so far (a no-op for host replicas).
  virtual void join(int rank) {}
  // Wakes every replica waiting in a collective with an error (a replica failed).
  virtual void abort() = 0;
};

// NCCL over GPU replicas: one communicator per device from ncclCommInitAll, one communication
// stream each, ordered against the rank's compute stream (compute[rank]) by events. Defined by
// the CUDA backend; a build without it says so.
std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<int>& devices,
                                                     const std::vector<kernels::CudaResources*>& compute);
// Several replicas on ONE GPU (NCCL allows one rank per device): the same asynchronous collectives
// through a communication stream and rank-ordered sum kernels, so a single-GPU machine runs the
// multi-replica GPU path. For tests and checks; the CLI gives each GPU one replica.
std::unique_ptr<Communicator> make_shared_gpu_communicator(int device,
                                                           const std::vector<kernels::CudaResources*>& compute);

// In-process collectives over shared memory. Sums run in rank order, so results are
// deterministic; each rank reduces its own share of the elements (reduce-scatter) and writes
// the sums to every buffer (all-gather), between two barriers.
class HostCommunicator : public Communicator {
 public:
  explicit HostCommunicator(int size);
  int size() const override { return size_; }
  void all_reduce_sum(int rank, float* data, int64_t n) override;
  void all_reduce_sum(int rank, double* data, int64_t n) override;
  void reduce_sum(int rank, float* data, int64_t n, int root) override;
  void broadcast(int rank, float* data, int64_t n, int root) override;
  void barrier(int rank) override;
  void abort() override;

 private:
  template <typename T>
  void reduce_impl(int rank, T* data, int64_t n, int root);  // root < 0: all ranks get the sum
  void wait_all();

  int size_;
  std::vector<void*> posted_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
  bool aborted_ = false;
};

}  // namespace dpt
