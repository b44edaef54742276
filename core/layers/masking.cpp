// Masking on the CPU and on CUDA through kernels/seqmask.
#include "core/layers/masking.h"
#include <algorithm>
#include <sstream>
#include "core/error.h"
#include "kernels/seqmask.h"
#include "kernels/seqmask_math.h"

namespace dpt {

std::string Masking::config_str() const {
  std::ostringstream s;
  s << "mask_value=" << value_;
  return s.str();
}

Shape Masking::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() >= 2, "Masking expects inputs of shape (steps, features), got " << shape_str(in));
  return in;
}

int64_t Masking::count_kept(const float* x, int64_t n) const {
  const int64_t f = in_.back(), rows = n * shape_numel(mask_shape());
  int64_t kept = 0;  // the kernels' test (seqmask_math.h)
  for (int64_t r = 0; r < rows; ++r) kept += int64_t(kernels::any_differs(x + r * f, f, float(value_)));
  return kept;
}

void Masking::prepare(int64_t max_batch, Context& ctx) {
  const int64_t rows = max_batch * shape_numel(mask_shape());
  mask_ = Buffer(ctx.device, size_t(std::max<int64_t>(rows, 1)) * sizeof(float));
}

void Masking::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  kernels::masking_forward_cpu(rows_of(x), x.shape().back(), float(value_), x.data(), y.data(),
                               static_cast<float*>(mask_.data()));
}

void Masking::backward_cpu(Context&, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) kernels::mask_rows_cpu(rows_of(dy), dy.shape().back(), mask(), dy.data(), dx->data());
}

void Masking::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  kernels::masking_forward_cuda(rows_of(x), x.shape().back(), float(value_), x.data(), y.data(),
                                static_cast<float*>(mask_.data()), stream(ctx));
}

void Masking::backward_cuda(Context& ctx, const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) {
  if (dx) kernels::mask_rows_cuda(rows_of(dy), dy.shape().back(), mask(), dy.data(), dx->data(), stream(ctx));
}

}  // namespace dpt
