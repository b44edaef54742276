// GPU discovery through the CUDA runtime alone (no cuBLAS/cuDNN/NCCL), safe without a driver.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace dpt::kernels {

struct CudaDeviceInfo {
  int index;
  std::string name;
  size_t memory_bytes;
  int cc_major, cc_minor;
};

// Visible GPUs; empty (never an exception) when there is no driver or no device, with the reason.
std::vector<CudaDeviceInfo> cuda_devices(std::string* why_none);
// Whether GPU a can read GPU b's memory directly.
bool cuda_peer_access(int a, int b);

}  // namespace dpt::kernels
