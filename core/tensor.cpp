// Tensor and Buffer: allocation and views.
#include "core/tensor.h"
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include "core/error.h"
#include "kernels/cuda_backend.h"

namespace dpt {

namespace {
std::atomic<int64_t> g_buffer_allocations{0};
}

int64_t buffer_allocations() { return g_buffer_allocations.load(); }

void Shape::push_back(int64_t d) {
  DPT_CHECK(n_ < kMaxRank, "tensors have at most " << kMaxRank << " dimensions");
  d_[n_++] = d;
}

void Shape::insert_front(int64_t d) {
  DPT_CHECK(n_ < kMaxRank, "tensors have at most " << kMaxRank << " dimensions");
  for (size_t i = n_; i > 0; --i) d_[i] = d_[i - 1];
  d_[0] = d;
  ++n_;
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    DPT_CHECK(d >= 0, "shape " << shape_str(s) << " has a negative dimension");
    DPT_CHECK(!__builtin_mul_overflow(n, d, &n), "shape " << shape_str(s) << " has more elements than fit in 64 bits");
  }
  return n;
}

int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  DPT_CHECK(a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, &r), what << " is too large: " << a << " x " << b
                                                                         << " exceeds 64-bit sizes");
  return r;
}

namespace {
std::atomic<int64_t> g_host_limit{0};  // 0: physical memory
}  // namespace

int64_t host_memory_limit() {
  if (const int64_t l = g_host_limit.load()) return l;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? int64_t(pages) * page : INT64_MAX;
}

void set_host_memory_limit(int64_t bytes) { g_host_limit = bytes; }

std::string bytes_str(double b) {
  char out[32];
  if (b >= 1024.0 * double(1 << 30)) std::snprintf(out, sizeof out, "%.1f TiB", b / 1024.0 / double(1 << 30));
  else if (b >= double(1 << 30)) std::snprintf(out, sizeof out, "%.1f GiB", b / double(1 << 30));
  else if (b >= double(1 << 20)) std::snprintf(out, sizeof out, "%.0f MiB", b / double(1 << 20));
  else if (b >= 1024) std::snprintf(out, sizeof out, "%.0f KiB", b / 1024);
  else std::snprintf(out, sizeof out, "%.0f bytes", b);
  return out;
}

void check_host_bytes(int64_t bytes, const std::string& what, const std::string& hint) {
  const int64_t limit = host_memory_limit();
  DPT_CHECK(bytes <= limit, what << " needs " << bytes_str(double(bytes)) << " of memory, more than this machine's "
                                 << bytes_str(double(limit)) << (hint.empty() ? "" : ": ") << hint);
}

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

Buffer::Buffer(Device device, size_t bytes, bool pinned) : device_(device), bytes_(bytes), pinned_(pinned) {
  if (bytes == 0) return;
  ++g_buffer_allocations;
  if (device.is_cuda()) {
    ptr_ = kernels::cuda_malloc(device.index, bytes);
    kernels::cuda_zero(ptr_, bytes, nullptr);
    return;
  }
  ptr_ = pinned ? kernels::cuda_host_alloc(bytes) : std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  DPT_CHECK(ptr_, "out of host memory allocating " << bytes << " bytes");
  std::memset(ptr_, 0, bytes);
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    device_ = o.device_;
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    pinned_ = o.pinned_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() noexcept {
  if (ptr_) {
    if (device_.is_cuda())
      kernels::cuda_free(device_.index, ptr_);
    else if (pinned_)
      kernels::cuda_host_free(ptr_);
    else
      std::free(ptr_);
  }
  ptr_ = nullptr;
  bytes_ = 0;
}

Tensor::Tensor(Shape shape, Device device, bool pinned)
    : shape_(std::move(shape)), device_(device), buffer_(device, size_t(shape_numel(shape_)) * sizeof(float), pinned) {
  data_ = static_cast<float*>(buffer_.data());
}

Tensor Tensor::view(float* data, Shape shape, Device device) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.device_ = device;
  t.data_ = data;
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t count) const {
  DPT_CHECK(rank() >= 1 && begin >= 0 && count >= 0 && begin + count <= shape_[0],
            "rows [" << begin << ", " << begin + count << ") out of range for shape " << shape_str(shape_));
  Shape s = shape_;
  s[0] = count;
  const int64_t row = shape_[0] ? numel() / shape_[0] : 0;
  return view(data_ + begin * row, s, device_);
}

Tensor Tensor::reshaped(Shape shape) const {
  DPT_CHECK(shape_numel(shape) == numel(), "cannot view " << shape_str(shape_) << " as " << shape_str(shape));
  return view(data_, std::move(shape), device_);
}

void copy_floats(float* dst, Device dst_device, const float* src, Device src_device, int64_t n,
                 kernels::CudaResources* r) {
  if (n <= 0 || dst == src) return;
  if (dst_device.is_cpu() && src_device.is_cpu())
    std::memcpy(dst, src, sizeof(float) * size_t(n));
  else
    kernels::cuda_copy(dst, src, sizeof(float) * size_t(n), r);
}

void zero_floats(float* p, Device device, int64_t n, kernels::CudaResources* r) {
  if (n <= 0) return;
  if (device.is_cpu())
    std::memset(p, 0, sizeof(float) * size_t(n));
  else
    kernels::cuda_zero(p, sizeof(float) * size_t(n), r);
}

}  // namespace dpt
