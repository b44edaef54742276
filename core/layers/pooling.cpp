// Pooling layers on the CPU and on CUDA through kernels/pooling.
#include "core/layers/pooling.h"
#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/cuda_backend.h"
#include "kernels/seqmask.h"

namespace dpt {

Pool2D::Pool2D(bool is_max, Pool2DConfig cfg, int spatial) : max_(is_max), cfg_(cfg), spatial_(spatial) {
  if (spatial_ == 1) cfg_.ph = cfg_.sh = 1;
  if (cfg_.sh == 0) cfg_.sh = cfg_.ph;
  if (cfg_.sw == 0) cfg_.sw = cfg_.pw;
  DPT_CHECK(cfg_.ph >= 1 && cfg_.pw >= 1 && cfg_.sh >= 1 && cfg_.sw >= 1,
            "pool_size and strides must be >= 1, got pool (" << cfg_.ph << ", " << cfg_.pw << ") strides (" << cfg_.sh
                                                             << ", " << cfg_.sw << ")");
}

std::string Pool2D::config_str() const {
  if (spatial_ == 1)
    return "pool_size=" + std::to_string(cfg_.pw) + ", strides=" + std::to_string(cfg_.sw) +
           ", padding=" + (cfg_.same ? "same" : "valid");
  return "pool_size=(" + std::to_string(cfg_.ph) + ", " + std::to_string(cfg_.pw) + "), strides=(" +
         std::to_string(cfg_.sh) + ", " + std::to_string(cfg_.sw) + "), padding=" + (cfg_.same ? "same" : "valid");
}

Shape Pool2D::compute_output_shape(const Shape& in) {
  if (spatial_ == 1)
    DPT_CHECK(in.size() == 2, class_name() << " expects inputs of shape (steps, channels), got " << shape_str(in));
  else
    DPT_CHECK(in.size() == 3, class_name()
                                  << " expects inputs of shape (height, width, channels), got " << shape_str(in));
  const Shape im = image_of(in, spatial_);
  int64_t oh, ow;
  kernels::conv_out_size(im[0], cfg_.ph, cfg_.sh, cfg_.same, &oh, &pad_top_);
  kernels::conv_out_size(im[1], cfg_.pw, cfg_.sw, cfg_.same, &ow, &pad_left_);
  if (spatial_ == 1) return {ow, in[1]};
  return {oh, ow, in[2]};
}

kernels::Pool2dGeom Pool2D::geom(int64_t n) const {
  kernels::Pool2dGeom g;
  const Shape in = image_of(in_, spatial_), out = image_of(out_, spatial_);
  g.n = n;
  g.h = in[0];
  g.w = in[1];
  g.c = in[2];
  g.ph = cfg_.ph;
  g.pw = cfg_.pw;
  g.sh = cfg_.sh;
  g.sw = cfg_.sw;
  g.pad_top = pad_top_;
  g.pad_left = pad_left_;
  g.oh = out[0];
  g.ow = out[1];
  return g;
}

void Pool2D::prepare(int64_t max_batch, Context& ctx) {
  if (max_) argmax_ = Buffer(ctx.device, size_t(max_batch * shape_numel(out_)) * sizeof(int32_t));
}

static int32_t* ints(const Buffer& b) { return static_cast<int32_t*>(b.data()); }

std::vector<int32_t> Pool2D::routing(int64_t n) const {
  DPT_CHECK(max_, name_ << ": only max pooling routes its gradient");
  const size_t count = size_t(n * shape_numel(out_));
  DPT_CHECK(count * sizeof(int32_t) <= argmax_.bytes(), name_ << ": " << n << " rows exceed the prepared batch");
  std::vector<int32_t> r(count);
  if (argmax_.device().is_cpu())
    std::copy(ints(argmax_), ints(argmax_) + count, r.data());
  else
    kernels::cuda_copy(r.data(), argmax_.data(), count * sizeof(int32_t), nullptr);
  return r;
}

void Pool2D::set_routing(const std::vector<int32_t>& r) {
  DPT_CHECK(max_, name_ << ": only max pooling routes its gradient");
  DPT_CHECK(r.size() * sizeof(int32_t) <= argmax_.bytes(),
            name_ << ": a routing of " << r.size() << " outputs exceeds the prepared batch");
  const int64_t in_sample = shape_numel(in_);
  for (int32_t v : r)
    DPT_CHECK(v >= 0 && v < in_sample,
              name_ << ": routing offset " << v << " is outside a sample (of " << in_sample << " inputs)");
  if (argmax_.device().is_cpu())
    std::copy(r.begin(), r.end(), ints(argmax_));
  else
    kernels::cuda_copy(argmax_.data(), r.data(), r.size() * sizeof(int32_t), nullptr);
}

void Pool2D::forward_cpu(Context&, const Tensor& x, Tensor& y, bool training) {
  if (max_)
    kernels::max_pool_forward_cpu(geom(x.dim(0)), x.data(), y.data(), training ? ints(argmax_) : nullptr);
  else
    kernels::avg_pool_forward_cpu(geom(x.dim(0)), x.data(), y.data());
}

void Pool2D::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (max_)
    kernels::max_pool_backward_cpu(geom(x.dim(0)), ints(argmax_), dy.data(), dx->data());
  else
    kernels::avg_pool_backward_cpu(geom(x.dim(0)), dy.data(), dx->data());
}

void Pool2D::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  if (max_)
    kernels::max_pool_forward_cuda(geom(x.dim(0)), x.data(), y.data(), training ? ints(argmax_) : nullptr, stream(ctx));
  else
    kernels::avg_pool_forward_cuda(geom(x.dim(0)), x.data(), y.data(), stream(ctx));
}

void Pool2D::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (max_)
    kernels::max_pool_backward_cuda(geom(x.dim(0)), ints(argmax_), dy.data(), dx->data(), stream(ctx));
  else
    kernels::avg_pool_backward_cuda(geom(x.dim(0)), dy.data(), dx->data(), stream(ctx));
}

Shape GlobalPooling2D::compute_output_shape(const Shape& in) {
  if (spatial_ == 1) {
    DPT_CHECK(in.size() == 2, class_name() << " expects (steps, channels), got " << shape_str(in));
    if (keepdims_) return {1, in[1]};
    return {in[1]};
  }
  DPT_CHECK(in.size() == 3, class_name() << " expects (height, width, channels), got " << shape_str(in));
  if (keepdims_) return {1, 1, in[2]};
  return {in[2]};
}

void GlobalPooling2D::forward_cpu(Context&, const Tensor& x, Tensor& y, bool) {
  if (const float* m = input_mask())
    kernels::masked_mean_forward_cpu(x.dim(0), positions(), in_.back(), m, x.data(), y.data());
  else if (max_)
    kernels::global_max_pool_forward_cpu(x.data(), y.data(), x.dim(0), positions(), in_.back());
  else
    kernels::global_avg_pool_forward_cpu(x.data(), y.data(), x.dim(0), positions(), in_.back());
}

void GlobalPooling2D::backward_cpu(Context&, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (const float* m = input_mask())
    kernels::masked_mean_backward_cpu(x.dim(0), positions(), in_.back(), m, dy.data(), dx->data());
  else if (max_)
    kernels::global_max_pool_backward_cpu(x.data(), y.data(), dy.data(), dx->data(), x.dim(0), positions(), in_.back());
  else
    kernels::global_avg_pool_backward_cpu(dy.data(), dx->data(), x.dim(0), positions(), in_.back());
}

void GlobalPooling2D::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool) {
  if (const float* m = input_mask())
    kernels::masked_mean_forward_cuda(x.dim(0), positions(), in_.back(), m, x.data(), y.data(), stream(ctx));
  else if (max_)
    kernels::global_max_pool_forward_cuda(x.data(), y.data(), x.dim(0), positions(), in_.back(), stream(ctx));
  else
    kernels::global_avg_pool_forward_cuda(x.data(), y.data(), x.dim(0), positions(), in_.back(), stream(ctx));
}

void GlobalPooling2D::backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (const float* m = input_mask())
    kernels::masked_mean_backward_cuda(x.dim(0), positions(), in_.back(), m, dy.data(), dx->data(), stream(ctx));
  else if (max_)
    kernels::global_max_pool_backward_cuda(x.data(), y.data(), dy.data(), dx->data(), x.dim(0), positions(), in_.back(),
                                           stream(ctx));
  else
    kernels::global_avg_pool_backward_cuda(dy.data(), dx->data(), x.dim(0), positions(), in_.back(), stream(ctx));
}

}  // namespace dpt
