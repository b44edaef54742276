// make_nccl_communicator and make_shared_gpu_communicator in a build (or binary) without the CUDA backend.
#include "core/error.h"
#include "parallel/communicator.h"

namespace dpt {

std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<int>&, const std::vector<kernels::CudaResources*>&) {
  DPT_FAIL("this dptrain was built without CUDA, so it has no NCCL communicator for GPU replicas");
}

std::unique_ptr<Communicator> make_shared_gpu_communicator(int, const std::vector<kernels::CudaResources*>&) {
  DPT_FAIL("this dptrain was built without CUDA, so it has no communicator for GPU replicas");
}

}  // namespace dpt
