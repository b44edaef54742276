// Tensor: a float array with a shape on a device, owning its memory (move-only) or viewing
// memory owned elsewhere (a model's arenas, a batch buffer). Shapes: row-major, NHWC for images.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>
#include "core/device.h"

namespace dpt {

namespace kernels {
class CudaResources;
}

// A shape: up to kMaxRank dimensions stored inline, so making views (every layer, every step)
// never touches the heap.
class Shape {
 public:
  static constexpr size_t kMaxRank = 8;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  template <typename It>
  Shape(It first, It last) { assign(first, last); }
  template <typename It>
  void assign(It first, It last) {
    n_ = 0;
    for (; first != last; ++first) push_back(int64_t(*first));
  }
  void push_back(int64_t d);
  void insert_front(int64_t d);  // (batch, ...) from a sample shape
  void clear() { n_ = 0; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](size_t i) { return d_[i]; }
  int64_t operator[](size_t i) const { return d_[i]; }
  int64_t back() const { return d_[n_ - 1]; }
  int64_t& back() { return d_[n_ - 1]; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  bool operator==(const Shape& o) const { return n_ == o.n_ && std::equal(begin(), end(), o.begin()); }
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  int64_t d_[kMaxRank] = {};
  size_t n_ = 0;
};
// The product of the dimensions; an error where one is negative or the product exceeds int64.
int64_t shape_numel(const Shape& s);
// a * b for sizes (both >= 0); an error naming `what` where the product exceeds int64.
int64_t checked_mul(int64_t a, int64_t b, const char* what);
// Host memory that one allocation of user-sized data (a dataset, a model's weights) may take before
// it is refused with a message rather than attempted: the machine's physical memory by default.
int64_t host_memory_limit();
void set_host_memory_limit(int64_t bytes);  // tests and fuzzers: a smaller limit
// An error "WHAT needs X of memory, more than this machine's Y[: HINT]" where bytes exceeds the limit.
void check_host_bytes(int64_t bytes, const std::string& what, const std::string& hint = "");
// Bytes in words: "3.2 GiB", "512 MiB", "40 KiB", "12 bytes".
std::string bytes_str(double bytes);
// How many Buffers this process has allocated (tests check the steady-state step adds none).
int64_t buffer_allocations();
std::string shape_str(const Shape& s);  // "(8, 8, 1)"

// Move-only owner of memory on a device; remembers its device. CPU memory is 64-byte aligned, or
// page-locked (pinned: for asynchronous copies to GPUs); GPU memory comes from the CUDA backend.
// All of it is zero-filled.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Device device, size_t bytes, bool pinned = false);
  ~Buffer();
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;             // copies of device memory are never implicit
  Buffer& operator=(const Buffer&) = delete;
  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void release() noexcept;
  Device device_;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  bool pinned_ = false;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, Device device = Device::cpu(), bool pinned = false);  // owning, zero-filled
  static Tensor view(float* data, Shape shape, Device device = Device::cpu());
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  Tensor view() const { return view(data_, shape_, device_); }
  // Rows [begin, begin+count) of the first dimension, as a view.
  Tensor rows(int64_t begin, int64_t count) const;
  Tensor reshaped(Shape shape) const;  // a view with the same element count

  float* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_[i]; }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return shape_numel(shape_); }
  Device device() const { return device_; }
  bool owns() const { return buffer_.data() != nullptr; }

 private:
  Shape shape_;
  Device device_;
  float* data_ = nullptr;
  Buffer buffer_;
};

// Copies n floats between any two memories (host, pinned, GPU). With resources r, a copy that
// touches a GPU is ordered on r's stream (asynchronous); without, it is complete on return.
void copy_floats(float* dst, Device dst_device, const float* src, Device src_device, int64_t n,
                 kernels::CudaResources* r = nullptr);
void zero_floats(float* p, Device device, int64_t n, kernels::CudaResources* r = nullptr);

}  // namespace dpt
