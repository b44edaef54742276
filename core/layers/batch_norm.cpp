// BatchNormalization on the CPU: sums -> statistics -> normalise; backward from the saved stats.
#include "core/layers/batch_norm.h"
#include <algorithm>
#include <cmath>
#include "core/error.h"
#include "kernels/batchnorm.h"
#include "kernels/cuda_backend.h"
#include "kernels/elementwise.h"

namespace dpt {

BatchNormalization::BatchNormalization(BatchNormConfig cfg) : cfg_(cfg) {
  DPT_CHECK(cfg.momentum >= 0 && cfg.momentum <= 1, "BatchNormalization momentum must be in [0, 1], got " << cfg.momentum);
  DPT_CHECK(cfg.epsilon > 0, "BatchNormalization epsilon must be > 0, got " << cfg.epsilon);
}

std::string BatchNormalization::config_str() const {
  return "momentum=" + std::to_string(cfg_.momentum) + ", epsilon=" + std::to_string(cfg_.epsilon);
}

std::vector<ParamSpec> BatchNormalization::params() const {
  const int64_t C = in_.back();
  return {{"gamma", {C}, Init::ones},
          {"beta", {C}, Init::zeros},
          {"moving_mean", {C}, Init::zeros, false},
          {"moving_variance", {C}, Init::ones, false}};
}

void BatchNormalization::prepare(int64_t, Context& ctx) {
  const size_t C = size_t(in_.back());
  if (ctx.device.is_cuda()) {
    stats_ = Buffer(ctx.device, 3 * C * sizeof(float));
    fsum_ = Buffer(ctx.device, (2 * C + 1) * sizeof(double));
    bsum_ = Buffer(ctx.device, 2 * C * sizeof(double));
    kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(2 * int64_t(C)));
    return;
  }
  mean_.assign(C, 0.f);
  var_.assign(C, 0.f);
  invstd_.assign(C, 0.f);
  sum_.assign(2 * C + 1, 0.0);
}

void BatchNormalization::forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  const int64_t C = in_.back(), rows = rows_of(x);
  float *gamma = w_[0], *beta = w_[1], *mmean = w_[2], *mvar = w_[3];
  if (!training) {
    for (int64_t c = 0; c < C; ++c) invstd_[c] = float(1.0 / std::sqrt(double(mvar[c]) + cfg_.epsilon));
    kernels::bn_apply_cpu(x.data(), rows, C, mmean, invstd_.data(), gamma, beta, y.data());
    return;
  }
  std::fill(sum_.begin(), sum_.end(), 0.0);
  kernels::bn_sums_cpu(x.data(), rows, C, sum_.data(), sum_.data() + C);
  sum_[size_t(2 * C)] = double(rows);
  if (ctx.batch_sync) ctx.batch_sync->sum(sum_.data(), 2 * C + 1);  // synchronised: global batch statistics
  count_ = sum_[size_t(2 * C)];
  kernels::bn_stats_from_sums(sum_.data(), sum_.data() + C, count_, C, cfg_.epsilon, mean_.data(), var_.data(),
                              invstd_.data());
  kernels::bn_apply_cpu(x.data(), rows, C, mean_.data(), invstd_.data(), gamma, beta, y.data());
  if (count_ > 0) kernels::bn_update_moving_cpu(mmean, mvar, mean_.data(), var_.data(), float(cfg_.momentum), C);
}

void BatchNormalization::backward_cpu(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  const int64_t C = in_.back(), rows = rows_of(x);
  double* sum_dy = sum_.data();
  double* sum_dy_xhat = sum_.data() + C;
  std::fill(sum_.begin(), sum_.end(), 0.0);
  kernels::bn_backward_sums_cpu(x.data(), dy.data(), rows, C, mean_.data(), invstd_.data(), sum_dy, sum_dy_xhat);
  // gamma/beta gradients are this replica's share (the gradient all-reduce sums the shares) ...
  for (int64_t c = 0; c < C; ++c) {
    g_[0][c] += float(sum_dy_xhat[c]);
    g_[1][c] += float(sum_dy[c]);
  }
  // ... while the input gradient needs the sums over the whole batch when statistics are shared.
  if (ctx.batch_sync) ctx.batch_sync->sum(sum_.data(), 2 * C);
  if (dx)
    kernels::bn_backward_apply_cpu(x.data(), dy.data(), rows, C, mean_.data(), invstd_.data(), w_[0], sum_dy,
                                   sum_dy_xhat, count_, dx->data());
}

// The same steps on the GPU: sums -> (all-reduce) -> statistics -> normalise, without the host.
void BatchNormalization::forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  const int64_t C = in_.back(), rows = rows_of(x);
  float *gamma = w_[0], *beta = w_[1], *mmean = w_[2], *mvar = w_[3];
  auto* st = static_cast<float*>(stats_.data());
  float *mean = st, *var = st + C, *invstd = st + 2 * C;
  void* s = stream(ctx);
  if (!training) {
    kernels::bn_invstd_cuda(mvar, C, cfg_.epsilon, invstd, s);
    kernels::bn_apply_cuda(x.data(), rows, C, mmean, invstd, gamma, beta, y.data(), s);
    return;
  }
  auto* sums = static_cast<double*>(fsum_.data());
  kernels::bn_sums_cuda(x.data(), rows, C, sums, *ctx.cuda);
  if (ctx.batch_sync) ctx.batch_sync->sum(sums, 2 * C + 1);  // synchronised: global batch statistics
  kernels::bn_stats_cuda(sums, C, cfg_.epsilon, mean, var, invstd, s);
  kernels::bn_apply_cuda(x.data(), rows, C, mean, invstd, gamma, beta, y.data(), s);
  kernels::bn_update_moving_cuda(mmean, mvar, mean, var, float(cfg_.momentum), C, sums + 2 * C, s);
}

void BatchNormalization::backward_cuda(Context& ctx, const Tensor& x, const Tensor&, Tensor& dy, Tensor* dx) {
  const int64_t C = in_.back(), rows = rows_of(x);
  auto* st = static_cast<float*>(stats_.data());
  auto* sums = static_cast<double*>(bsum_.data());
  kernels::bn_backward_sums_cuda(x.data(), dy.data(), rows, C, st, st + 2 * C, sums, g_[0], g_[1], *ctx.cuda);
  if (ctx.batch_sync) ctx.batch_sync->sum(sums, 2 * C);
  if (dx)
    kernels::bn_backward_apply_cuda(x.data(), dy.data(), rows, C, st, st + 2 * C, w_[0], sums,
                                    static_cast<const double*>(fsum_.data()) + 2 * C, dx->data(), stream(ctx));
}

}  // namespace dpt
