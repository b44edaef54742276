// Checks for CUDA, cuBLAS, cuDNN and NCCL return codes: each failure throws dpt::Error naming the
// call, the library's own error string and the device. Include only from CUDA backend files.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>
#include <string>
#include "kernels/error.h"

namespace dpt::kernels {

[[noreturn]] void throw_cuda_error(const char* lib, const char* call, const std::string& what, const char* file,
                                   int line);
const char* cublas_status_string(cublasStatus_t s);

}  // namespace dpt::kernels

#define DPT_CUDA_CHECK(call)                                                                       \
  do {                                                                                             \
    cudaError_t dpt_e_ = (call);                                                                   \
    if (dpt_e_ != cudaSuccess)                                                                     \
      ::dpt::kernels::throw_cuda_error("CUDA", #call, cudaGetErrorString(dpt_e_), __FILE__, __LINE__); \
  } while (0)
// After every kernel launch: launch-configuration errors surface here, not at the next sync.
#define DPT_CUDA_LAUNCH_CHECK() DPT_CUDA_CHECK(cudaGetLastError())
#define DPT_CUBLAS_CHECK(call)                                                                     \
  do {                                                                                             \
    cublasStatus_t dpt_s_ = (call);                                                                \
    if (dpt_s_ != CUBLAS_STATUS_SUCCESS)                                                           \
      ::dpt::kernels::throw_cuda_error("cuBLAS", #call, ::dpt::kernels::cublas_status_string(dpt_s_), \
                                       __FILE__, __LINE__);                                        \
  } while (0)
#define DPT_CUDNN_CHECK(call)                                                                      \
  do {                                                                                             \
    cudnnStatus_t dpt_s_ = (call);                                                                 \
    if (dpt_s_ != CUDNN_STATUS_SUCCESS)                                                            \
      ::dpt::kernels::throw_cuda_error("cuDNN", #call, cudnnGetErrorString(dpt_s_), __FILE__, __LINE__); \
  } while (0)
#define DPT_NCCL_CHECK(call)                                                                       \
  do {                                                                                             \
    ncclResult_t dpt_r_ = (call);                                                                  \
    if (dpt_r_ != ncclSuccess)                                                                     \
      ::dpt::kernels::throw_cuda_error("NCCL", #call, ncclGetErrorString(dpt_r_), __FILE__, __LINE__); \
  } while (0)
