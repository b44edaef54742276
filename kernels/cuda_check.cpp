// CUDA error reporting and device counting (safe on machines with no driver and no GPU).
#include "kernels/cuda_check.h"

namespace dpt::kernels {

void throw_cuda_error(const char* lib, const char* call, const std::string& what, const char* file, int line) {
  int dev = -1;
  cudaGetDevice(&dev);  // best effort: the device the failing thread was using
  throw Error(std::string(lib) + " error on cuda:" + std::to_string(dev) + ": " + what + " (in " + call + ")",
              file, line);
}

const char* cublas_status_string(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "unknown cuBLAS status";
  }
}

}  // namespace dpt::kernels
