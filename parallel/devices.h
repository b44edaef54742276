// Choosing the replicas' devices: --gpus N|LIST|all among the GPUs CUDA_VISIBLE_DEVICES exposes,
// or N CPU replicas. Errors say which devices were asked for and which exist.
#pragma once
#include <string>
#include <vector>
#include "core/device.h"

namespace dpt {

struct GpuInfo {
  int index;
  std::string name;
  size_t memory_bytes;
  int cc_major, cc_minor;
};

bool built_with_cuda();
// Visible GPUs (empty when none); why_none says why (no driver, CUDA_VISIBLE_DEVICES, CPU-only build).
std::vector<GpuInfo> visible_gpus(std::string* why_none);
// Whether visible GPU a can access GPU b's memory directly (peer to peer).
bool gpu_peer_access(int a, int b);
// gpus: "" (not asked), "all", "N" (the first N) or "i,j,..."; replicas: CPU replica count (0: not asked).
std::vector<Device> select_devices(const std::string& gpus, int replicas);

}  // namespace dpt
