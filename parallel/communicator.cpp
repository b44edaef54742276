// HostCommunicator: a generation-counting barrier and rank-ordered sums over shared memory.
#include "parallel/communicator.h"
#include <algorithm>
#include <cstring>
#include "core/error.h"

namespace dpt {

HostCommunicator::HostCommunicator(int size) : size_(size), posted_(size_t(size), nullptr) {
  DPT_CHECK(size >= 1, "a communicator needs at least one replica");
}

void HostCommunicator::wait_all() {
  std::unique_lock<std::mutex> lock(m_);
  DPT_CHECK(!aborted_, "stopped: another replica failed");
  const uint64_t gen = generation_;
  if (++arrived_ == size_) {
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
    return;
  }
  cv_.wait(lock, [&] { return generation_ != gen || aborted_; });
  DPT_CHECK(!aborted_, "stopped: another replica failed");
}

void HostCommunicator::barrier(int) {
  if (size_ > 1) wait_all();
}

void HostCommunicator::abort() {
  std::lock_guard<std::mutex> lock(m_);
  aborted_ = true;
  cv_.notify_all();
}

template <typename T>
void HostCommunicator::reduce_impl(int rank, T* data, int64_t n, int root) {
  if (size_ == 1) return;
  posted_[size_t(rank)] = data;
  wait_all();  // every buffer is posted and final
  const int64_t share = (n + size_ - 1) / size_;
  const int64_t lo = std::min(n, rank * share), hi = std::min(n, lo + share);
  for (int64_t i = lo; i < hi; ++i) {
    T s = static_cast<T*>(posted_[0])[i];
    for (int r = 1; r < size_; ++r) s += static_cast<T*>(posted_[size_t(r)])[i];
    if (root < 0) {
      for (int r = 0; r < size_; ++r) static_cast<T*>(posted_[size_t(r)])[i] = s;
    } else {
      static_cast<T*>(posted_[size_t(root)])[i] = s;
    }
  }
  wait_all();  // every share is written before anyone reads its buffer again
}

void HostCommunicator::all_reduce_sum(int rank, float* data, int64_t n) { reduce_impl(rank, data, n, -1); }
void HostCommunicator::all_reduce_sum(int rank, double* data, int64_t n) { reduce_impl(rank, data, n, -1); }
void HostCommunicator::reduce_sum(int rank, float* data, int64_t n, int root) { reduce_impl(rank, data, n, root); }

void HostCommunicator::broadcast(int rank, float* data, int64_t n, int root) {
  if (size_ == 1) return;
  posted_[size_t(rank)] = data;
  wait_all();
  if (rank != root) std::memcpy(data, posted_[size_t(root)], sizeof(float) * size_t(n));
  wait_all();
}

}  // namespace dpt
