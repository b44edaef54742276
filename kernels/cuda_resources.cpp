// DeviceBuffer, CudaResources, the backend's memory entry points (cuda_backend.h) and the cuBLAS GEMM.
#include "kernels/cuda_resources.h"
#include <cuda_profiler_api.h>
#include <atomic>
#include <cstdio>
#include <utility>
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/gemm.h"

namespace dpt::kernels {

namespace {
std::atomic<int64_t> g_cuda_mallocs{0};
std::atomic<bool> g_wide_indices{false};
}

int64_t cuda_malloc_count() { return g_cuda_mallocs.load(); }

void cuda_force_wide_indices(bool on) { g_wide_indices.store(on); }
bool cuda_wide_indices_forced() { return g_wide_indices.load(std::memory_order_relaxed); }

void cuda_profiler_range(bool start) { DPT_CUDA_CHECK(start ? cudaProfilerStart() : cudaProfilerStop()); }

void* cuda_malloc(int device, size_t bytes) {
  if (bytes == 0) return nullptr;
  ++g_cuda_mallocs;
  DPT_CUDA_CHECK(cudaSetDevice(device));
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free allocation error
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    DPT_FAIL("out of GPU memory on cuda:" << device << ": asked for " << (bytes + (1 << 20) - 1) / (1 << 20)
                                          << " MiB with " << free_b / (1 << 20) << " MiB free of "
                                          << total_b / (1 << 20) << " MiB");
  }
  return p;
}

void cuda_free(int device, void* p) noexcept {
  if (!p) return;
  cudaSetDevice(device);
  const cudaError_t e = cudaFree(p);  // destructors log, never throw
  if (e != cudaSuccess) std::fprintf(stderr, "dptrain: warning: cudaFree on cuda:%d: %s\n", device, cudaGetErrorString(e));
}

void* cuda_host_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  DPT_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocPortable));
  return p;
}

void cuda_host_free(void* p) noexcept {
  if (!p) return;
  const cudaError_t e = cudaFreeHost(p);
  if (e != cudaSuccess) std::fprintf(stderr, "dptrain: warning: cudaFreeHost: %s\n", cudaGetErrorString(e));
}

void cuda_copy(void* dst, const void* src, size_t bytes, CudaResources* r) {
  if (bytes == 0) return;
  if (r) {
    DPT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, r->stream()));
  } else {
    DPT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
  }
}

void cuda_upload(void* dst, const void* src, size_t bytes, CudaResources& r) {
  if (bytes == 0) return;
  DPT_CUDA_CHECK(cudaSetDevice(r.device()));  // the calling thread may be the input pipeline's
  DPT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, r.copy_stream()));
}

void cuda_uploads_queued(CudaResources& r, int slot) {
  DPT_CUDA_CHECK(cudaSetDevice(r.device()));
  DPT_CUDA_CHECK(cudaEventRecord(r.uploads_done(slot), r.copy_stream()));
}

void cuda_wait_uploads(CudaResources& r, int slot) {
  DPT_CUDA_CHECK(cudaSetDevice(r.device()));
  DPT_CUDA_CHECK(cudaStreamWaitEvent(r.stream(), r.uploads_done(slot), 0));
}

void cuda_zero(void* p, size_t bytes, CudaResources* r) {
  if (bytes == 0) return;
  if (r) {
    DPT_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, r->stream()));
  } else {
    DPT_CUDA_CHECK(cudaMemset(p, 0, bytes));
    DPT_CUDA_CHECK(cudaDeviceSynchronize());
  }
}

bool cuda_backend_linked() { return true; }
void cuda_set_device(int device) { DPT_CUDA_CHECK(cudaSetDevice(device)); }
CudaEvent::CudaEvent(bool timing) {
  DPT_CUDA_CHECK(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

CudaEvent::~CudaEvent() {
  if (e_) cudaEventDestroy(e_);
}

CudaEvent& CudaEvent::operator=(CudaEvent&& o) noexcept {
  if (this != &o) {
    if (e_) cudaEventDestroy(e_);
    e_ = o.e_;
    o.e_ = nullptr;
  }
  return *this;
}

void cuda_set_conv_layout(CudaResources& r, ConvLayout layout) { r.set_conv_layout(layout); }

CudaResources* cuda_resources_create(int device, bool allow_tf32, bool deterministic) {
  return new CudaResources(device, allow_tf32, deterministic);
}
void cuda_resources_destroy(CudaResources* r) noexcept {
  if (!r) return;
  cudaSetDevice(r->device());
  for (cudaStream_t s : {r->copy_stream(), r->stream()}) {
    const cudaError_t e = cudaStreamSynchronize(s);
    if (e != cudaSuccess) std::fprintf(stderr, "dptrain: warning: on cuda:%d: %s\n", r->device(), cudaGetErrorString(e));
  }
  delete r;
}
void* cuda_stream_of(CudaResources& r) { return r.stream(); }
void cuda_stream_sync(CudaResources& r) { r.synchronize(); }
void cuda_reserve_scratch(CudaResources& r, size_t bytes) { r.reserve(bytes); }

DeviceBuffer::DeviceBuffer(int device, size_t bytes) : device_(device), bytes_(bytes) {
  ptr_ = cuda_malloc(device, bytes);
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    release();
    device_ = std::exchange(o.device_, -1);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  cuda_free(device_, ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

void DeviceBuffer::upload(const void* host, size_t bytes, cudaStream_t stream) {
  DPT_CHECK(bytes <= bytes_, "upload of " << bytes << " bytes into a buffer of " << bytes_);
  DPT_CUDA_CHECK(cudaMemcpyAsync(ptr_, host, bytes, cudaMemcpyHostToDevice, stream));
  if (!stream) DPT_CUDA_CHECK(cudaStreamSynchronize(nullptr));
}

void DeviceBuffer::download(void* host, size_t bytes, cudaStream_t stream) const {
  DPT_CHECK(bytes <= bytes_, "download of " << bytes << " bytes from a buffer of " << bytes_);
  DPT_CUDA_CHECK(cudaMemcpyAsync(host, ptr_, bytes, cudaMemcpyDeviceToHost, stream));
  DPT_CUDA_CHECK(cudaStreamSynchronize(stream));
}

CudaResources::CudaResources(int device, bool allow_tf32, bool deterministic)
    : device_(device), tf32_(allow_tf32), deterministic_(deterministic), conv_layout_(conv_layout_from_env()) {
  DPT_CUDA_CHECK(cudaSetDevice(device));
  DPT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  DPT_CUBLAS_CHECK(cublasCreate(&cublas_));
  DPT_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // FP32 results that track the CPU unless --tf32 allows TF32 tensor cores (cuBLAS's default math
  // computes FP32 GEMMs in FP32; PEDANTIC would also forbid its faster FP32 kernels).
  DPT_CUBLAS_CHECK(cublasSetMathMode(cublas_, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  DPT_CUDNN_CHECK(cudnnCreate(&cudnn_));
  DPT_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  DPT_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  for (cudaEvent_t& e : uploads_done_) DPT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
}

CudaResources::~CudaResources() {
  cudaSetDevice(device_);
  scratch_ = DeviceBuffer();
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublas_) cublasDestroy(cublas_);
  for (cudaEvent_t e : uploads_done_)
    if (e) cudaEventDestroy(e);
  for (cudaStream_t s : {copy_stream_, stream_}) {
    if (!s) continue;
    const cudaError_t e = cudaStreamDestroy(s);
    if (e != cudaSuccess) std::fprintf(stderr, "dptrain: warning: cudaStreamDestroy: %s\n", cudaGetErrorString(e));
  }
}

void CudaResources::synchronize() const {
  DPT_CUDA_CHECK(cudaSetDevice(device_));
  DPT_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaResources::reserve(size_t bytes) {
  if (bytes <= scratch_.bytes()) return;
  synchronize();
  scratch_ = DeviceBuffer();
  scratch_ = DeviceBuffer(device_, (bytes + 255) / 256 * 256);
}

void* CudaResources::scratch(size_t bytes) const {
  DPT_CHECK(bytes <= scratch_.bytes(), "cuda:" << device_ << ": a kernel needs " << bytes << " bytes of scratch but "
                                              << scratch_.bytes() << " were reserved at prepare time");
  return scratch_.data();
}

void gemm_ld_cuda(const CudaResources& r, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  // A row-major matrix's leading dimension is its column-major transpose's: the same numbers.
  DPT_CUBLAS_CHECK(cublasSgemm(r.cublas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(N),
                               int(M), int(K), &alpha, B, int(ldb), A, int(lda), &beta, C, int(ldc)));
}

void gemm_batched_cuda(const CudaResources& r, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                       float beta, float* C, int64_t ldc, int64_t stride_c, int count) {
  if (M == 0 || N == 0 || count == 0) return;
  DPT_CUBLAS_CHECK(cublasSgemmStridedBatched(r.cublas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                             int(N), int(M), int(K), &alpha, B, int(ldb), stride_b, A, int(lda),
                                             stride_a, &beta, C, int(ldc), stride_c, count));
}

void gemm_cuda(const CudaResources& r, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               const float* B, float beta, float* C) {
  // Leading dimensions of the row-major operands as stored: A is (M,K) or (K,M); B is (K,N) or (N,K).
  gemm_ld_cuda(r, ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

}  // namespace dpt::kernels
