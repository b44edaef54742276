// Tensor and Buffer: allocation and views.
#include "core/tensor.h"
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
  for (int64_t d : s) n *= d;
  return n;
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
