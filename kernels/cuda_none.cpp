// The CUDA backend's entry points in a build (or a binary, like the CPU test binary) without it:
// each one says so. Linked instead of the CUDA implementation, never beside it.
#include "kernels/activation.h"
#include "kernels/affine.h"
#include "kernels/attention.h"
#include "kernels/augment.h"
#include "kernels/batchnorm.h"
#include "kernels/conv2d.h"
#include "kernels/cuda_backend.h"
#include "kernels/depthwise.h"
#include "kernels/dot.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/error.h"
#include "kernels/gemm.h"
#include "kernels/layernorm.h"
#include "kernels/loss.h"
#include "kernels/merge.h"
#include "kernels/optimizer.h"
#include "kernels/pad2d.h"
#include "kernels/pooling.h"
#include "kernels/prelu.h"
#include "kernels/recurrent.h"
#include "kernels/seqmask.h"
#include "kernels/unit_norm.h"

namespace dpt::kernels {

namespace {
[[noreturn]] void no_cuda() {
  DPT_FAIL("this dptrain was built without CUDA (no nvcc at configure time), so it cannot use GPUs; "
           "rebuild where the CUDA toolkit is installed, or train on CPU replicas (--replicas N)");
}
}  // namespace

bool cuda_backend_linked() { return false; }
CudaResources* cuda_resources_create(int, bool, bool) { no_cuda(); }
void cuda_resources_destroy(CudaResources*) noexcept {}
void cuda_set_conv_layout(CudaResources&, ConvLayout) { no_cuda(); }
void* cuda_stream_of(CudaResources&) { no_cuda(); }
void cuda_stream_sync(CudaResources&) { no_cuda(); }
void cuda_reserve_scratch(CudaResources&, size_t) { no_cuda(); }
void cuda_set_device(int) { no_cuda(); }
void* cuda_malloc(int, size_t) { no_cuda(); }
int64_t cuda_malloc_count() { return 0; }
void cuda_profiler_range(bool) {}
void cuda_force_wide_indices(bool) {}
void cuda_free(int, void*) noexcept {}
void* cuda_host_alloc(size_t) { no_cuda(); }
void cuda_host_free(void*) noexcept {}
void cuda_copy(void*, const void*, size_t, CudaResources*) { no_cuda(); }
void cuda_upload(void*, const void*, size_t, CudaResources&) { no_cuda(); }
void cuda_uploads_queued(CudaResources&, int) { no_cuda(); }
void cuda_wait_uploads(CudaResources&, int) { no_cuda(); }
void cuda_zero(void*, size_t, CudaResources*) { no_cuda(); }
void scale_cuda(float*, int64_t, float, CudaResources&) { no_cuda(); }
void depthwise_forward_cuda(const Conv2dGeom&, const float*, const float*, const float*, float*, void*) { no_cuda(); }
void depthwise_backward_cuda(const Conv2dGeom&, const float*, const float*, const float*, float*, float*, float*,
                             CudaResources&) {
  no_cuda();
}
void embed2d_cuda(const Window2d&, const float*, float*, void*) { no_cuda(); }
void add_into_cuda(float*, const float*, int64_t, void*) { no_cuda(); }
void axpby_cuda(float*, float, const float*, float, int64_t, void*) { no_cuda(); }
void multiply_into_cuda(float*, const float*, int64_t, void*) { no_cuda(); }
void broadcast_axpby_cuda(float*, float, const float*, float, const BroadcastMap&, int64_t, void*) { no_cuda(); }
void broadcast_multiply_into_cuda(float*, const float*, const BroadcastMap&, int64_t, void*) { no_cuda(); }
void broadcast_sum_cuda(float*, float, const float*, const BroadcastMap&, int64_t, void*) { no_cuda(); }
void unit_norm_forward_cuda(const float*, float*, const NormRows&, void*) { no_cuda(); }
void unit_norm_backward_cuda(const float*, const float*, float*, const NormRows&, void*) { no_cuda(); }
void random_warp_cuda(const Warp2d&, const DropoutKey&, const float*, float*, void*) { no_cuda(); }
void random_warp_backward_cuda(const Warp2d&, const DropoutKey&, const float*, float*, void*) { no_cuda(); }
void resize_cuda(const Resize2d&, const float*, float*, void*) { no_cuda(); }
void resize_backward_cuda(const Resize2d&, const float*, float*, void*) { no_cuda(); }
void attention_fill_cuda(const AttentionMask&, float*, float, void*) { no_cuda(); }
void category_encode_cuda(const CategoryEncode&, const float*, float*, void*) { no_cuda(); }
void scale_by_cuda(const float*, float*, int64_t, const float*, void*) { no_cuda(); }
void multiply_cuda(const float*, const float*, float*, int64_t, void*) { no_cuda(); }
void concat_scores_cuda(const ConcatScores&, float*, void*) { no_cuda(); }
void concat_scores_backward_cuda(const ConcatScores&, const float*, const ConcatGrads&, float*, void*) { no_cuda(); }
void random_crop_cuda(const Resize2d&, const DropoutKey&, const float*, float*, void*) { no_cuda(); }
void random_crop_backward_cuda(const Resize2d&, const DropoutKey&, const float*, float*, void*) { no_cuda(); }
void random_grayscale_cuda(const Grayscale2d&, const DropoutKey&, const float*, const float*, float*, void*) {
  no_cuda();
}
void random_contrast_cuda(const Contrast2d&, const DropoutKey&, const float*, float*, void*) { no_cuda(); }
void random_contrast_backward_cuda(const Contrast2d&, const DropoutKey&, const float*, const float*, float*, void*) {
  no_cuda();
}
void contract_cuda(const float*, const float*, float*, int64_t, const Contraction&, void*) { no_cuda(); }
void prelu_forward_cuda(const float*, const float*, const BroadcastMap&, int64_t, int64_t, float*, void*) { no_cuda(); }
void prelu_backward_cuda(const float*, const float*, const BroadcastMap&, int64_t, int64_t, float*, float*, void*) {
  no_cuda();
}
void affine_forward_cuda(AffineForm, const float*, float*, int64_t, int64_t, const float*, int64_t, const float*,
                         int64_t, void*) {
  no_cuda();
}
void affine_backward_cuda(AffineForm, const float*, float*, int64_t, int64_t, const float*, int64_t, void*) {
  no_cuda();
}
void rownorm_forward_cuda(bool, double, const RowLayout&, const float*, const float*, const float*, float*, float*,
                          float*, void*) {
  no_cuda();
}
int64_t embedding_cuda_scratch_bytes(int64_t) { no_cuda(); }
void to_time_major_cuda(int64_t, int64_t, int64_t, bool, const float*, float*, void*) { no_cuda(); }
void to_sequence_major_cuda(int64_t, int64_t, int64_t, bool, const float*, float*, void*) { no_cuda(); }
void lstm_step_forward_cuda(const CellActs&, int64_t, int64_t, float*, const float*, float*, float*, void*) {
  no_cuda();
}
void simple_rnn_step_forward_cuda(const CellActs&, int64_t, const float*, float*, void*) { no_cuda(); }
void simple_rnn_step_backward_cuda(const CellActs&, int64_t, const float*, const float*, const float*, float*, void*) {
  no_cuda();
}
void gru_step_forward_cuda(const CellActs&, int64_t, int64_t, float*, const float*, const float*, float*, void*) {
  no_cuda();
}
void gru_step_backward_cuda(const CellActs&, int64_t, int64_t, const float*, const float*, const float*, float*,
                            const float*, float*, float*, void*) {
  no_cuda();
}
void lstm_step_backward_cuda(const CellActs&, int64_t, int64_t, const float*, const float*, const float*, const float*,
                             const float*, float*, float*, void*) {
  no_cuda();
}
void gru_v1_gates_forward_cuda(const CellActs&, int64_t, int64_t, float*, float*, const float*, void*) { no_cuda(); }
void gru_v1_blend_forward_cuda(const CellActs&, int64_t, int64_t, float*, const float*, float*, void*) { no_cuda(); }
void gru_v1_blend_backward_cuda(const CellActs&, int64_t, int64_t, const float*, const float*, float*, const float*,
                                float*, void*) {
  no_cuda();
}
void gru_v1_gates_backward_cuda(const CellActs&, int64_t, int64_t, const float*, const float*, const float*,
                                const float*, float*, float*, void*) {
  no_cuda();
}
void embedding_forward_cuda(const EmbeddingShape&, const float*, const float*, float*, void*) { no_cuda(); }
void embedding_backward_cuda(const EmbeddingShape&, const float*, const float*, float*, void*, void*) { no_cuda(); }
void rownorm_backward_cuda(bool, const RowLayout&, const float*, const float*, const float*, const float*, const float*,
                           float*, float*, float*, CudaResources&) {
  no_cuda();
}
void conv2d_backward_data_cuda(CudaResources&, ConvPlan&, const Conv2dGeom&, const float*, const float*, float*) {
  no_cuda();
}
void conv2d_backward_filter_cuda(CudaResources&, ConvPlan&, const Conv2dGeom&, const float*, const float*, float*) {
  no_cuda();
}
void extremum_forward_cuda(const ExtremumInputs&, float*, int64_t, void*) { no_cuda(); }
void extremum_backward_cuda(const ExtremumInputs&, const float*, int, float*, int64_t, void*) { no_cuda(); }
void copy_columns_cuda(const float*, int64_t, int64_t, float*, int64_t, int64_t, int64_t, int64_t, void*) { no_cuda(); }
void upsample2d_forward_cuda(const Upsample2d&, const float*, float*, void*) { no_cuda(); }
void upsample2d_backward_cuda(const Upsample2d&, const float*, float*, void*) { no_cuda(); }
void global_max_pool_forward_cuda(const float*, float*, int64_t, int64_t, int64_t, void*) { no_cuda(); }
void global_max_pool_backward_cuda(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t, void*) {
  no_cuda();
}
void extract2d_cuda(const Window2d&, const float*, float*, void*) { no_cuda(); }

void gemm_cuda(const CudaResources&, bool, bool, int64_t, int64_t, int64_t, float, const float*, const float*, float,
               float*) { no_cuda(); }
void gemm_ld_cuda(const CudaResources&, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                  const float*, int64_t, float, float*, int64_t) {
  no_cuda();
}
void gemm_batched_cuda(const CudaResources&, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                       int64_t, const float*, int64_t, int64_t, float, float*, int64_t, int64_t, int) {
  no_cuda();
}
void activation_forward_cuda(Activation, const float*, float*, int64_t, int64_t, void*) { no_cuda(); }
void activation_backward_cuda(Activation, const float*, const float*, const float*, float*, int64_t, int64_t, void*) {
  no_cuda();
}
void bias_add_cuda(float*, const float*, int64_t, int64_t, void*) { no_cuda(); }
void bias_grad_cuda(const float*, float*, int64_t, int64_t, CudaResources&) { no_cuda(); }
void bias_activation_cuda(Activation, float*, const float*, int64_t, int64_t, CudaResources&) { no_cuda(); }
void activation_bias_grad_cuda(Activation, const float*, float*, float*, int64_t, int64_t, CudaResources&) {
  no_cuda();
}
void dropout_cuda(const float*, float*, int64_t, int64_t, float, const DropoutKey&, const BroadcastMap*, void*) {
  no_cuda();
}
void dropout_mask_cuda(float*, int64_t, int64_t, float, const DropoutKey&, void*) { no_cuda(); }
void random_flip_cuda(const Flip2d&, const DropoutKey&, const float*, float*, void*) { no_cuda(); }
void alpha_dropout_cuda(const float*, float*, int64_t, int64_t, float, const DropoutKey&, const BroadcastMap*, bool,
                        void*) {
  no_cuda();
}
void gaussian_noise_cuda(const float*, float*, int64_t, int64_t, float, bool, const DropoutKey&, void*) { no_cuda(); }
void apply_masks_cuda(int64_t, const float*, const float*, int64_t, int, float*, int64_t, void*) { no_cuda(); }
void masked_sum_cuda(int64_t, const float*, const float*, int64_t, int, float*, bool, void*) { no_cuda(); }
void nonzero_mask_cuda(int64_t, const float*, float*, void*) { no_cuda(); }
void masking_forward_cuda(int64_t, int64_t, float, const float*, float*, float*, void*) { no_cuda(); }
void mask_rows_cuda(int64_t, int64_t, const float*, const float*, float*, void*) { no_cuda(); }
void mask_carry_cuda(int64_t, int64_t, const float*, const float*, float*, const float*, float*, void*) { no_cuda(); }
void mask_split_cuda(int64_t, int64_t, const float*, float*, float*, float*, float*, float*, void*) { no_cuda(); }
void mask_join_cuda(int64_t, int64_t, const float*, const float*, float*, const float*, float*, void*) { no_cuda(); }
void masked_mean_forward_cuda(int64_t, int64_t, int64_t, const float*, const float*, float*, void*) { no_cuda(); }
void masked_mean_backward_cuda(int64_t, int64_t, int64_t, const float*, const float*, float*, void*) { no_cuda(); }
void loss_rows_cuda(LossKind, bool, const float*, const float*, int64_t, int64_t, float, float*, float*, const float*,
                    void*, float, float, FocalParams) {
  no_cuda();
}
void metric_rows_cuda(const MetricFormula&, const float*, const float*, int64_t, int64_t, float*, void*, int64_t,
                      const float*) {
  no_cuda();
}
void sgd_update_cuda(float*, const float*, float*, int64_t, float, float, bool, void*) { no_cuda(); }
void rmsprop_update_cuda(float*, const float*, float*, float*, float*, int64_t, float, float, float, float, bool,
                         void*) { no_cuda(); }
void adam_update_cuda(float*, const float*, float*, float*, float*, int64_t, float, float, float, float, bool, void*) {
  no_cuda();
}
template <class Step>
void update_cuda(const Step&, float*, const float*, float* const*, int64_t, void*) {
  no_cuda();
}
#define DPT_INSTANTIATE(S) template void update_cuda<S>(const S&, float*, const float*, float* const*, int64_t, void*);
DPT_OPTIMIZER_STEPS(DPT_INSTANTIATE)
#undef DPT_INSTANTIATE
void clip_cuda(const int64_t*, int64_t, int64_t, ClipMode, float, float*, void*, void*) { no_cuda(); }
void penalty_cuda(const PenaltyChunk*, int64_t, const float*, float*, double*, void*) { no_cuda(); }
void activity_cuda(const float*, int64_t, float, float, float, float*, double*, void*) { no_cuda(); }
void constrain_cuda(const ConstraintPlan&, float*, void*) { no_cuda(); }
ConvPlan* conv2d_plan_create(CudaResources&, const Conv2dGeom&, bool) { no_cuda(); }
void conv2d_plan_destroy(ConvPlan*) noexcept {}
void conv2d_forward_cuda(CudaResources&, ConvPlan&, const Conv2dGeom&, const float*, const float*, const float*,
                         Activation, float*) { no_cuda(); }
void conv2d_backward_cuda(CudaResources&, ConvPlan&, const Conv2dGeom&, const float*, const float*, const float*,
                          Activation, float*, float*, float*, float*) {
  no_cuda();
}
void max_pool_forward_cuda(const Pool2dGeom&, const float*, float*, int32_t*, void*) { no_cuda(); }
void max_pool_backward_cuda(const Pool2dGeom&, const int32_t*, const float*, float*, void*) { no_cuda(); }
void avg_pool_forward_cuda(const Pool2dGeom&, const float*, float*, void*) { no_cuda(); }
void avg_pool_backward_cuda(const Pool2dGeom&, const float*, float*, void*) { no_cuda(); }
void global_avg_pool_forward_cuda(const float*, float*, int64_t, int64_t, int64_t, void*) { no_cuda(); }
void global_avg_pool_backward_cuda(const float*, float*, int64_t, int64_t, int64_t, void*) { no_cuda(); }
void bn_sums_cuda(const float*, int64_t, int64_t, double*, CudaResources&) { no_cuda(); }
void bn_stats_cuda(const double*, int64_t, double, float*, float*, float*, void*) { no_cuda(); }
void bn_invstd_cuda(const float*, int64_t, double, float*, void*) { no_cuda(); }
void bn_apply_cuda(const float*, int64_t, int64_t, const float*, const float*, const float*, const float*, float*,
                   void*) { no_cuda(); }
void bn_update_moving_cuda(float*, float*, const float*, const float*, float, int64_t, const double*, void*) {
  no_cuda();
}
void bn_backward_sums_cuda(const float*, const float*, int64_t, int64_t, const float*, const float*, double*, float*,
                           float*, CudaResources&) { no_cuda(); }
void bn_backward_apply_cuda(const float*, const float*, int64_t, int64_t, const float*, const float*, const float*,
                            const double*, const double*, float*, void*) { no_cuda(); }

}  // namespace dpt::kernels
