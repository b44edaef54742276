// Prefetcher: a single persistent worker thread.
#include "parallel/prefetcher.h"

namespace dpt {

Prefetcher::Prefetcher() : thread_([this] { loop(); }) {}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Prefetcher::wait() {
  std::unique_lock<std::mutex> lock(m_);
  cv_.wait(lock, [&] { return !busy_; });
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void Prefetcher::loop() {
  std::unique_lock<std::mutex> lock(m_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || busy_; });
    if (busy_) {
      lock.unlock();
      std::exception_ptr err;
      try {
        call_(obj_);
      } catch (...) {
        err = std::current_exception();
      }
      lock.lock();
      error_ = err;
      busy_ = false;
      cv_.notify_all();
    } else if (stop_) {
      return;
    }
  }
}

}  // namespace dpt
