// DeviceBuffer, CudaResources and the cuBLAS GEMM.
#include "kernels/cuda_resources.h"
#include <cstdio>
#include <utility>
#include "kernels/cuda_check.h"

namespace dpt::kernels {

DeviceBuffer::DeviceBuffer(int device, size_t bytes) : device_(device), bytes_(bytes) {
  if (bytes == 0) return;
  DPT_CUDA_CHECK(cudaSetDevice(device));
  const cudaError_t e = cudaMalloc(&ptr_, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    DPT_FAIL("out of GPU memory on cuda:" << device << ": needed " << bytes / (1 << 20) << " MiB more with "
                                          << free_b / (1 << 20) << " MiB free of " << total_b / (1 << 20)
                                          << " MiB (try a smaller per-replica batch)");
  }
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
  if (!ptr_) return;
  const cudaError_t e = cudaFree(ptr_);  // destructors log, never throw
  if (e != cudaSuccess) std::fprintf(stderr, "dptrain: warning: cudaFree on cuda:%d: %s\n", device_, cudaGetErrorString(e));
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

CudaResources::CudaResources(int device, bool allow_tf32) : device_(device) {
  DPT_CUDA_CHECK(cudaSetDevice(device));
  DPT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  DPT_CUBLAS_CHECK(cublasCreate(&cublas_));
  DPT_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // FP32 results that track the CPU unless --tf32 allows TF32 tensor cores.
  DPT_CUBLAS_CHECK(cublasSetMathMode(cublas_, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
  DPT_CUDNN_CHECK(cudnnCreate(&cudnn_));
  DPT_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
}

CudaResources::~CudaResources() {
  cudaSetDevice(device_);
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) {
    const cudaError_t e = cudaStreamDestroy(stream_);
    if (e != cudaSuccess) std::fprintf(stderr, "dptrain: warning: cudaStreamDestroy: %s\n", cudaGetErrorString(e));
  }
}

void CudaResources::synchronize() const { DPT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

void gemm_cuda(const CudaResources& r, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               const float* B, float beta, float* C) {
  if (M == 0 || N == 0) return;
  // Leading dimensions of the row-major operands as stored: A is (M,K) or (K,M); B is (K,N) or (N,K).
  const int lda = int(ta ? M : K), ldb = int(tb ? K : N), ldc = int(N);
  DPT_CUBLAS_CHECK(cublasSgemm(r.cublas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M),
                               int(K), &alpha, B, ldb, A, lda, &beta, C, ldc));
}

}  // namespace dpt::kernels
