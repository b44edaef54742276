// CUDA device discovery. cudaGetDeviceCount may fail (no driver) and leave the count unwritten:
// it starts at 0 and any error means "no GPU".
#include "kernels/cuda_devices.h"
#include <cuda_runtime.h>
#include <cstdlib>

namespace dpt::kernels {

static std::string visible_env() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return std::string("CUDA_VISIBLE_DEVICES=") + (v ? v : "<unset>");
}

std::vector<CudaDeviceInfo> cuda_devices(std::string* why_none) {
  std::vector<CudaDeviceInfo> out;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    if (why_none)
      *why_none = std::string("the CUDA runtime reports: ") + cudaGetErrorString(e) +
                  " (is the NVIDIA driver installed? " + visible_env() + ")";
    cudaGetLastError();  // clear the error
    return out;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    out.push_back({i, p.name, p.totalGlobalMem, p.major, p.minor});
  }
  if (out.empty() && why_none) *why_none = "the driver sees no GPU (" + visible_env() + ")";
  return out;
}

bool cuda_peer_access(int a, int b) {
  int ok = 0;
  return cudaDeviceCanAccessPeer(&ok, a, b) == cudaSuccess && ok;
}

}  // namespace dpt::kernels
