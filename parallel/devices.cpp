// Device discovery and selection.
#include "parallel/devices.h"
#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>
#include "core/error.h"
#ifdef DPT_HAVE_CUDA
#include "kernels/cuda_devices.h"
#endif

namespace dpt {

bool built_with_cuda() {
#ifdef DPT_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::vector<GpuInfo> visible_gpus(std::string* why_none) {
  std::vector<GpuInfo> out;
#ifdef DPT_HAVE_CUDA
  for (auto& d : kernels::cuda_devices(why_none)) out.push_back({d.index, d.name, d.memory_bytes, d.cc_major, d.cc_minor});
#else
  if (why_none) *why_none = "this dptrain was built without CUDA (configure with -DDPT_WITH_CUDA=ON on a machine with nvcc)";
#endif
  return out;
}

static std::string cvd() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? std::string("CUDA_VISIBLE_DEVICES=") + v : "CUDA_VISIBLE_DEVICES is unset";
}

std::vector<Device> select_devices(const std::string& gpus, int replicas) {
  DPT_CHECK(gpus.empty() || replicas == 0, "give either --gpus or --replicas, not both");
  if (!gpus.empty()) {
    std::string why;
    const auto vis = visible_gpus(&why);
    DPT_CHECK(built_with_cuda(), "--gpus " << gpus << " asked for GPUs, but " << why);
    DPT_CHECK(!vis.empty(), "--gpus " << gpus << " asked for GPUs, but none is visible: " << why);
    std::vector<int> idx;
    if (gpus == "all") {
      for (auto& g : vis) idx.push_back(g.index);
    } else if (gpus.find(',') == std::string::npos) {
      int n = 0;
      try {
        n = std::stoi(gpus);
      } catch (...) {
        DPT_FAIL("--gpus takes N, a list like 0,2, or 'all'; got '" << gpus << "'");
      }
      DPT_CHECK(n >= 1, "--gpus must ask for at least 1 GPU, got " << n);
      DPT_CHECK(n <= int(vis.size()), "--gpus " << n << " asked for " << n << " GPUs but only " << vis.size()
                                                << " are visible (" << cvd() << ")");
      for (int i = 0; i < n; ++i) idx.push_back(i);
    } else {
      std::stringstream ss(gpus);
      std::string part;
      while (std::getline(ss, part, ',')) {
        try {
          idx.push_back(std::stoi(part));
        } catch (...) {
          DPT_FAIL("--gpus list must hold GPU indices like 0,1; got '" << gpus << "'");
        }
      }
    }
    std::set<int> seen;
    for (int i : idx) {
      DPT_CHECK(seen.insert(i).second, "--gpus " << gpus << " names GPU " << i << " twice");
      DPT_CHECK(i >= 0 && i < int(vis.size()), "--gpus " << gpus << " names GPU " << i << " but the visible GPUs are 0.."
                                                         << vis.size() - 1 << " (" << cvd() << ")");
    }
    std::vector<Device> d;
    for (int i : idx) d.push_back(Device::cuda(i));
    return d;
  }
  DPT_CHECK(replicas >= 0, "--replicas must be >= 1, got " << replicas);
  const int n = replicas == 0 ? 1 : replicas;
  std::vector<Device> d;
  for (int i = 0; i < n; ++i) d.push_back(Device::cpu(i));
  return d;
}

}  // namespace dpt
