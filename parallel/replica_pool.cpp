// ReplicaPool: generation-counted dispatch to persistent threads.
#include "parallel/replica_pool.h"

namespace dpt {

ReplicaPool::ReplicaPool(int size, std::function<void(int)> on_start, std::function<void()> on_error)
    : on_start_(std::move(on_start)), on_error_(std::move(on_error)) {
  for (int r = 0; r < size; ++r) threads_.emplace_back([this, r] { loop(r); });
}

ReplicaPool::~ReplicaPool() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ReplicaPool::dispatch() {
  std::unique_lock<std::mutex> lock(m_);
  error_ = nullptr;
  pending_ = int(threads_.size());
  ++generation_;
  work_cv_.notify_all();
  done_cv_.wait(lock, [&] { return pending_ == 0; });
  if (error_) std::rethrow_exception(error_);
}

void ReplicaPool::loop(int rank) {
  if (on_start_) on_start_(rank);
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(m_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    try {
      call_(obj_, rank);
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_);
      if (!error_) error_ = std::current_exception();  // the first error is the one reported
      if (on_error_) on_error_();                        // wake replicas waiting in collectives
    }
    std::lock_guard<std::mutex> lock(m_);
    if (--pending_ == 0) done_cv_.notify_all();
  }
}

}  // namespace dpt
