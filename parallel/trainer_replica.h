// Inside the Trainer (parallel/trainer.cpp, trainer_fit.cpp): one replica's state, the gradient
// bucket reducer that backward feeds, the communicator-backed batch-norm sync, and running work on
// every replica. Not for use outside the Trainer.
#pragma once
#include <algorithm>
#include <chrono>
#include <memory>
#include "core/context.h"
#include "core/error.h"
#include "core/optimizers/optimizer.h"
#include "core/sequential.h"
#include "kernels/cuda_backend.h"
#include "kernels/gemm.h"
#include "parallel/communicator.h"
#include "parallel/replica_pool.h"
#include "parallel/trainer.h"

namespace dpt::detail {

// Gathers the gradient ranges backward reports (they arrive in reverse layer order, each ending
// where the pending bucket begins) and reduces a bucket once it is big enough.
class BucketReducer : public GradReadyHook {
 public:
  void setup(Communicator* comm, int rank, float* grads, int64_t bucket_elems, bool to_root) {
    comm_ = comm;
    rank_ = rank;
    grads_ = grads;
    bucket_ = std::max<int64_t>(bucket_elems, 1);
    to_root_ = to_root;
  }
  void begin_step() {
    lo_ = hi_ = -1;
    seconds_ = 0;
    bytes_ = 0;
  }
  void ready(int64_t begin, int64_t end) override {
    if (hi_ < 0) hi_ = end;
    DPT_CHECK(end == (lo_ < 0 ? hi_ : lo_), "gradient ranges must arrive in reverse arena order");
    lo_ = begin;
    if (hi_ - lo_ >= bucket_) flush();
  }
  void flush() {
    if (lo_ < 0 || hi_ <= lo_) return;
    const auto t =
        std::chrono::steady_clock::now();  // on GPUs: the time to enqueue (the reduction runs on the comm stream)
    if (to_root_)
      comm_->reduce_sum(rank_, grads_ + lo_, hi_ - lo_, 0);
    else
      comm_->all_reduce_sum(rank_, grads_ + lo_, hi_ - lo_);
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    bytes_ += (hi_ - lo_) * int64_t(sizeof(float));
    hi_ = lo_;
  }
  double seconds_ = 0;
  int64_t bytes_ = 0;

 private:
  Communicator* comm_ = nullptr;
  int rank_ = 0;
  float* grads_ = nullptr;
  int64_t bucket_ = 1;
  bool to_root_ = false;
  int64_t lo_ = -1, hi_ = -1;
};

class CommBatchSync : public BatchSync {
 public:
  CommBatchSync(Communicator* comm, int rank) : comm_(comm), rank_(rank) {}
  void sum(double* data, int64_t n) override {
    comm_->all_reduce_sum(rank_, data, n);
    comm_->join(rank_);  // the statistics are needed right away
  }

 private:
  Communicator* comm_;
  int rank_;
};

}  // namespace dpt::detail

namespace dpt {

struct Trainer::Replica {
  // Declared first, destroyed last: the model's GPU state is released on its device first.
  std::unique_ptr<kernels::CudaResources, kernels::CudaResourcesDeleter> cuda;
  std::unique_ptr<Sequential> model;
  std::unique_ptr<Optimizer> opt;
  Context ctx;
  detail::BucketReducer reducer;
  std::unique_ptr<detail::CommBatchSync> sync;
  // GPU replicas: the batch slices on the GPU (one per host slot), and per-row loss | metric 0 |
  // metric 1 ... (cap rows each; device, pinned host).
  Tensor x[2], y[2], w[2], rows_dev, rows_host;
  int64_t cap = 0;  // rows these hold
  int64_t metric_rows = 0;  // metrics whose rows the step copies back
  // Keras's weight regularizers: the chunks on the GPU, and each chunk's penalty (CPU: a vector;
  // GPU: on the device, then pinned on the host); penalty, their sum at the last step's weights.
  Buffer penalty_chunks, penalty_dev, penalty_host;
  std::vector<double> penalty_cpu;
  double penalty = 0;
  double loss = 0;
  double activity = 0;  // Keras's activity regularizers' penalty of this replica's rows, summed
  std::vector<double> metric_sums;
  void clear_sums(size_t metrics) {
    loss = 0;
    activity = 0;
    metric_sums.assign(metrics, 0.0);
  }
  void enter() const {  // the calling thread works on this replica's GPU
    if (cuda) kernels::cuda_set_device(ctx.device.index);
  }
};

template <typename F>
void Trainer::on_replicas(F& f) {
  if (pool_) {
    pool_->run(f);
  } else {
    kernels::set_cpu_threads(replicas_[0]->ctx.threads);
    replicas_[0]->enter();
    f(0);
  }
}

}  // namespace dpt
