// Device discovery and selection.
#include "parallel/devices.h"
#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>
#include "core/error.h"
#include "kernels/cuda_backend.h"
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
  for (auto& d : kernels::cuda_devices(why_none))
    out.push_back({d.index, d.name, d.memory_bytes, d.cc_major, d.cc_minor});
#else
  if (why_none)
    *why_none = "this dptrain was built without CUDA (configure with -DDPT_WITH_CUDA=ON on a machine with nvcc)";
#endif
  return out;
}

bool gpu_peer_access(int a, int b) {
#ifdef DPT_HAVE_CUDA
  return kernels::cuda_peer_access(a, b);
#else
  return false;
#endif
}

static std::string cvd() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? std::string("CUDA_VISIBLE_DEVICES=") + v : "CUDA_VISIBLE_DEVICES is unset";
}

std::vector<Device> select_devices(const std::string& gpus, int replicas) {
  DPT_CHECK(gpus.empty() || replicas == 0, "give either --gpus or --replicas, not both");
  // Keras's default (every visible GPU) where this binary has the CUDA backend; else one CPU replica.
  if (gpus.empty() && replicas == 0 && kernels::cuda_backend_linked()) {
    std::string why;
    if (!visible_gpus(&why).empty()) return select_devices("all", 0);  // Keras's default: every visible GPU
  }
  if (gpus.empty()) {
    DPT_CHECK(replicas >= 0, "--replicas must be >= 1, got " << replicas);
    std::vector<Device> d;
    for (int i = 0; i < std::max(replicas, 1); ++i) d.push_back(Device::cpu(i));
    return d;
  }
  // The request itself first: N (the first N GPUs), a list of indices, or all.
  int first_n = -1;
  std::vector<int> idx;
  if (gpus != "all" && gpus.find(',') == std::string::npos) {
    try {
      size_t pos = 0;
      first_n = std::stoi(gpus, &pos);
      DPT_CHECK(pos == gpus.size(), "");
    } catch (...) {
      DPT_FAIL("--gpus takes N, a list like 0,2, or 'all'; got '" << gpus << "'");
    }
    DPT_CHECK(first_n >= 1, "--gpus must ask for at least 1 GPU, got " << first_n);
  } else if (gpus != "all") {
    std::stringstream ss(gpus);
    std::string part;
    std::set<int> seen;
    while (std::getline(ss, part, ',')) {
      int i = -1;
      try {
        size_t pos = 0;
        i = std::stoi(part, &pos);
        DPT_CHECK(pos == part.size() && i >= 0, "");
      } catch (...) {
        DPT_FAIL("--gpus list must hold GPU indices like 0,1; got '" << gpus << "'");
      }
      DPT_CHECK(seen.insert(i).second, "--gpus " << gpus << " names GPU " << i << " twice");
      idx.push_back(i);
    }
  }
  // Then what exists.
  std::string why;
  const auto vis = visible_gpus(&why);
  DPT_CHECK(!vis.empty(), "--gpus " << gpus << " asked for GPUs, but " << why);
  if (gpus == "all")
    for (auto& g : vis) idx.push_back(g.index);
  if (first_n > 0) {
    DPT_CHECK(first_n <= int(vis.size()), "--gpus " << first_n << " asked for " << first_n << " GPUs but only "
                                                    << vis.size() << (vis.size() == 1 ? " is" : " are") << " visible ("
                                                    << cvd() << ")");
    for (int i = 0; i < first_n; ++i) idx.push_back(i);
  }
  for (int i : idx)
    DPT_CHECK(i < int(vis.size()), "--gpus " << gpus << " names GPU " << i << " but the visible GPUs are 0.."
                                             << vis.size() - 1 << " (" << cvd() << ")");
  std::vector<Device> d;
  for (int i : idx) d.push_back(Device::cuda(i));
  return d;
}

}  // namespace dpt
