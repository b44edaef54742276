// Embedding on the CPU and on CUDA through kernels/embedding.
#include "core/layers/embedding.h"
#include <algorithm>
#include "core/error.h"
#include "kernels/embedding.h"
#include "kernels/seqmask.h"
#include "kernels/seqmask_math.h"

namespace dpt {

Embedding::Embedding(int64_t input_dim, int64_t output_dim, bool mask_zero)
    : input_dim_(input_dim), output_dim_(output_dim), mask_zero_(mask_zero) {
  DPT_CHECK(input_dim >= 1 && output_dim >= 1,
            "Embedding needs input_dim >= 1 and output_dim >= 1, got " << input_dim << " and " << output_dim);
  // Indices travel as floats: every whole number up to 2^24 is exact there.
  DPT_CHECK(input_dim <= (int64_t(1) << 24),
            "Embedding input_dim " << input_dim << " is past 2^24 = 16777216, the indices a float input holds exactly");
}

std::string Embedding::config_str() const {
  return "input_dim=" + std::to_string(input_dim_) + ", output_dim=" + std::to_string(output_dim_) +
         (mask_zero_ ? ", mask_zero=True" : "");
}

std::vector<ParamSpec> Embedding::params() const { return {{"embeddings", {input_dim_, output_dim_}, Init::uniform}}; }

Shape Embedding::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() < Shape::kMaxRank, "Embedding's input " << shape_str(in) << " has too many axes");
  Shape out = in;
  out.push_back(output_dim_);
  return out;
}

int64_t Embedding::count_kept(const float* x, int64_t n) const {
  const int64_t count = n * shape_numel(in_);
  int64_t kept = 0;  // the kernels' test (seqmask_math.h)
  for (int64_t i = 0; i < count; ++i) kept += int64_t(kernels::nonzero_flag(x[i]));
  return kept;
}

void Embedding::prepare(int64_t max_batch, Context& ctx) {
  max_tokens_ = max_batch * shape_numel(in_);
  mask_ = mask_zero_ ? Buffer(ctx.device, size_t(std::max<int64_t>(max_tokens_, 1)) * sizeof(float)) : Buffer();
  sort_ = Buffer();
  if (ctx.device.is_cuda())
    sort_ = Buffer(ctx.device, size_t(std::max<int64_t>(kernels::embedding_cuda_scratch_bytes(max_tokens_), 4)));
}

static kernels::EmbeddingShape shape_of(const Tensor& x, int64_t vocab, int64_t dim) { return {x.numel(), vocab, dim}; }

void Embedding::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  kernels::embedding_forward_cpu(shape_of(x, input_dim_, output_dim_), x.data(), w_[0], y.data());
  if (mask_zero_) kernels::nonzero_mask_cpu(x.numel(), x.data(), static_cast<float*>(mask_.data()));
}

void Embedding::backward_cpu(Context&, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  kernels::embedding_backward_cpu(shape_of(x, input_dim_, output_dim_), x.data(), dy.data(), g_[0]);
  if (dx) zero_floats(dx->data(), dx->device(), dx->numel());
}

void Embedding::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  kernels::embedding_forward_cuda(shape_of(x, input_dim_, output_dim_), x.data(), w_[0], y.data(), stream(ctx));
  if (mask_zero_) kernels::nonzero_mask_cuda(x.numel(), x.data(), static_cast<float*>(mask_.data()), stream(ctx));
}

void Embedding::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  DPT_CHECK(x.numel() <= max_tokens_,
            "Embedding '" << name_ << "': " << x.numel() << " indices exceed the prepared " << max_tokens_);
  kernels::embedding_backward_cuda(shape_of(x, input_dim_, output_dim_), x.data(), dy.data(), g_[0], sort_.data(),
                                   stream(ctx));
  if (dx) zero_floats(dx->data(), dx->device(), dx->numel(), ctx.cuda);
}

}  // namespace dpt
