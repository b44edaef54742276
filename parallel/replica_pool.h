// One host thread per replica, kept for the whole run. run(f) calls f(rank) on every replica's
// thread and returns when all are done, rethrowing the first error. Dispatch never allocates.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dpt {

class ReplicaPool {
 public:
  // on_start(rank) runs once on each thread first (per-thread setup: CPU thread counts, device).
  ReplicaPool(int size, std::function<void(int)> on_start, std::function<void()> on_error);
  ~ReplicaPool();
  ReplicaPool(const ReplicaPool&) = delete;
  ReplicaPool& operator=(const ReplicaPool&) = delete;

  template <typename F>
  void run(F& f) {
    call_ = [](void* obj, int rank) { (*static_cast<F*>(obj))(rank); };
    obj_ = &f;
    dispatch();
  }
  int size() const { return int(threads_.size()); }

 private:
  void dispatch();
  void loop(int rank);

  std::vector<std::thread> threads_;
  std::function<void(int)> on_start_;
  std::function<void()> on_error_;
  void (*call_)(void*, int) = nullptr;
  void* obj_ = nullptr;
  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace dpt
