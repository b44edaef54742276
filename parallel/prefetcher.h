// One background thread that runs one job at a time: the input pipeline loads the next batch into
// the spare (pinned) buffers while the replicas train on the current one. wait() returns when the
// job is done and rethrows its error. Dispatch never allocates.
#pragma once
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace dpt {

class Prefetcher {
 public:
  Prefetcher();
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  template <typename F>
  void start(F& f) {  // f must outlive the job (wait() before it goes)
    wait();
    std::lock_guard<std::mutex> lock(m_);
    call_ = [](void* obj) { (*static_cast<F*>(obj))(); };
    obj_ = &f;
    busy_ = true;
    cv_.notify_all();
  }
  void wait();

 private:
  void loop();
  std::mutex m_;
  std::condition_variable cv_;
  void (*call_)(void*) = nullptr;
  void* obj_ = nullptr;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once the members it uses exist
};

}  // namespace dpt
