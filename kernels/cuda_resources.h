// Move-only owners of CUDA resources: device memory (DeviceBuffer) and one replica's compute
// stream with its cuBLAS and cuDNN handles and an upload stream (CudaResources). Destructors log, never throw.
// Include only from CUDA backend files.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <cstddef>
#include <vector>
#include "kernels/cuda_backend.h"
#include "kernels/cuda_check.h"

namespace dpt::kernels {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(int device, size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;  // copies of device memory are never implicit
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* data() const { return ptr_; }
  float* floats() const { return static_cast<float*>(ptr_); }
  size_t bytes() const { return bytes_; }
  int device() const { return device_; }
  void upload(const void* host, size_t bytes, cudaStream_t stream = nullptr);
  void download(void* host, size_t bytes, cudaStream_t stream = nullptr) const;

 private:
  void release() noexcept;
  int device_ = -1;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A move-only CUDA event on the current device (timing on unless asked otherwise).
class CudaEvent {
 public:
  explicit CudaEvent(bool timing = true);
  ~CudaEvent();
  CudaEvent(CudaEvent&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
  CudaEvent& operator=(CudaEvent&& o) noexcept;
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

class CudaResources {
 public:
  // Creates a non-blocking stream and the handles on `device`; TF32 is off unless allow_tf32;
  // deterministic restricts cuDNN to bit-reproducible algorithms picked without timing them.
  explicit CudaResources(int device, bool allow_tf32 = false, bool deterministic = false);
  ~CudaResources();
  CudaResources(const CudaResources&) = delete;
  CudaResources& operator=(const CudaResources&) = delete;
  int device() const { return device_; }
  bool tf32() const { return tf32_; }
  bool deterministic() const { return deterministic_; }
  ConvLayout conv_layout() const { return conv_layout_; }
  void set_conv_layout(ConvLayout l) { conv_layout_ = l; }
  cudaStream_t stream() const { return stream_; }
  cudaStream_t copy_stream() const { return copy_stream_; }  // input uploads (cuda_upload)
  cudaEvent_t uploads_done(int slot) const { return uploads_done_[slot]; }
  cublasHandle_t cublas() const { return cublas_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  void synchronize() const;
  // Shared scratch (cuDNN workspace, partial sums): reserve() at prepare time grows it (after a
  // synchronise, so no pending kernel loses its memory); scratch(bytes) checks it is big enough.
  void reserve(size_t bytes);
  void* scratch(size_t bytes) const;

 private:
  int device_;
  bool tf32_;
  bool deterministic_;
  ConvLayout conv_layout_;
  DeviceBuffer scratch_;
  cudaStream_t stream_ = nullptr, copy_stream_ = nullptr;
  cudaEvent_t uploads_done_[2] = {nullptr, nullptr};  // per input slot
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
};

// Milliseconds one call of f() takes on r's stream (f queues its work there): a warm-up call, then
// the mean of three, timed by events. Synchronises the stream: for plan time, never a step.
template <typename F>
double time_on_stream(const CudaResources& r, F&& f) {
  CudaEvent start, stop;
  f();
  DPT_CUDA_CHECK(cudaEventRecord(start.get(), r.stream()));
  for (int i = 0; i < 3; ++i) f();
  DPT_CUDA_CHECK(cudaEventRecord(stop.get(), r.stream()));
  DPT_CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0;
  DPT_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return double(ms) / 3.0;
}

}  // namespace dpt::kernels
