// LSTM on the CPU and on CUDA: the same steps on either device (GEMMs, the cell's kernels).
#include "core/layers/lstm.h"
#include "core/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/recurrent.h"

namespace dpt {

LSTM::LSTM(LSTMConfig cfg) : cfg_(cfg) { DPT_CHECK(cfg_.units >= 1, "LSTM needs units >= 1, got " << cfg_.units); }

std::string LSTM::config_str() const {
  std::string s = "units=" + std::to_string(cfg_.units);
  if (cfg_.return_sequences) s += ", return_sequences=True";
  if (cfg_.go_backwards) s += ", go_backwards=True";
  if (!cfg_.use_bias) s += ", use_bias=False";
  return s;
}

std::vector<ParamSpec> LSTM::params() const {
  const int64_t U = cfg_.units;
  std::vector<ParamSpec> p{{"kernel", {in_[1], 4 * U}, Init::glorot_uniform},
                           {"recurrent_kernel", {U, 4 * U}, Init::orthogonal}};
  if (cfg_.use_bias) p.push_back({"bias", {4 * U}, Init::lstm_bias});
  return p;
}

Shape LSTM::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 2, "LSTM expects inputs of shape (steps, features), got " << shape_str(in));
  if (cfg_.return_sequences) return {in[0], cfg_.units};
  return {cfg_.units};
}

void LSTM::prepare(int64_t max_batch, Context& ctx) {
  const int64_t T = in_[0], F = in_[1], U = cfg_.units, n = std::max<int64_t>(max_batch, 1);
  max_rows_ = n;
  auto floats = [&](int64_t count) { return Buffer(ctx.device, size_t(count) * sizeof(float)); };
  xs_ = floats(T * n * F);
  gates_ = floats(T * n * 4 * U);
  hs_ = floats((T + 1) * n * U);  // zero-filled: step 0 stays the zero state
  cs_ = floats((T + 1) * n * U);
  if (ctx.device.is_cuda()) kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(4 * U));
}

// Backward's scratch: every step's dz (steps, n, 4 units), dh and dc (n, units), and the output's
// gradient time-major or the input's (steps, n, max(units, features)), used one after the other.
int64_t LSTM::workspace_elems(int64_t batch) const {
  const int64_t T = in_[0], F = in_[1], U = cfg_.units;
  return T * batch * 4 * U + 2 * batch * U + T * batch * std::max(U, F);
}

namespace {
// The few operations the steps need, on the replica's device.
struct Ops {
  Context& ctx;
  bool gpu;
  void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float beta,
            float* C) const {
    if (gpu)
      kernels::gemm_cuda(*ctx.cuda, ta, tb, M, N, K, 1.f, A, B, beta, C);
    else
      kernels::gemm_cpu<float>(ta, tb, M, N, K, 1.f, A, B, beta, C);
  }
  void* stream() const { return kernels::cuda_stream_of(*ctx.cuda); }
  void to_time_major(int64_t n, int64_t T, int64_t F, bool rev, const float* src, float* dst) const {
    if (gpu)
      kernels::to_time_major_cuda(n, T, F, rev, src, dst, stream());
    else
      kernels::to_time_major_cpu(n, T, F, rev, src, dst);
  }
  void to_sequence_major(int64_t n, int64_t T, int64_t F, bool rev, const float* src, float* dst) const {
    if (gpu)
      kernels::to_sequence_major_cuda(n, T, F, rev, src, dst, stream());
    else
      kernels::to_sequence_major_cpu(n, T, F, rev, src, dst);
  }
  void copy(float* dst, const float* src, int64_t count) const {
    copy_floats(dst, ctx.device, src, ctx.device, count, gpu ? ctx.cuda : nullptr);
  }
  void zero(float* p, int64_t count) const { zero_floats(p, ctx.device, count, gpu ? ctx.cuda : nullptr); }
};

float* floats(const Buffer& b) { return static_cast<float*>(b.data()); }
}  // namespace

void LSTM::run_forward(Context& ctx, const Tensor& x, Tensor& y) {
  const int64_t n = x.dim(0), T = in_[0], F = in_[1], U = cfg_.units, G = 4 * U;
  DPT_CHECK(n <= max_rows_, "LSTM '" << name_ << "': a batch of " << n << " exceeds the prepared " << max_rows_);
  rows_ = n;
  const Ops op{ctx, ctx.device.is_cuda()};
  float *xs = floats(xs_), *z = floats(gates_), *hs = floats(hs_), *cs = floats(cs_);
  const float *kernel = w_[0], *recurrent = w_[1], *bias = cfg_.use_bias ? w_[2] : nullptr;
  op.zero(hs, n * U);  // the zero state (a larger batch before may have left steps there)
  op.zero(cs, n * U);
  op.to_time_major(n, T, F, cfg_.go_backwards, x.data(), xs);
  // Every step's input part at once; the bias first on the CPU (the GEMM adds to it), after on CUDA.
  if (bias && !op.gpu) kernels::bias_fill_cpu(z, bias, T * n, G);
  op.gemm(false, false, T * n, G, F, xs, kernel, bias && !op.gpu ? 1.f : 0.f, z);
  if (bias && op.gpu) kernels::bias_add_cuda(z, bias, T * n, G, op.stream());
  for (int64_t t = 0; t < T; ++t) {
    float* zt = z + t * n * G;
    if (t > 0) op.gemm(false, false, n, G, U, hs + t * n * U, recurrent, 1.f, zt);  // h_0 is zero
    if (op.gpu)
      kernels::lstm_step_forward_cuda(n, U, zt, cs + t * n * U, cs + (t + 1) * n * U, hs + (t + 1) * n * U,
                                      op.stream());
    else
      kernels::lstm_step_forward_cpu(n, U, zt, cs + t * n * U, cs + (t + 1) * n * U, hs + (t + 1) * n * U);
  }
  if (cfg_.return_sequences)
    op.to_sequence_major(n, T, U, false, hs + n * U, y.data());
  else
    op.copy(y.data(), hs + T * n * U, n * U);
}

void LSTM::run_backward(Context& ctx, const Tensor& dy, Tensor* dx) {
  const int64_t n = rows_, T = in_[0], F = in_[1], U = cfg_.units, G = 4 * U;
  DPT_CHECK(dy.dim(0) == n, "LSTM '" << name_ << "': backward for " << dy.dim(0) << " rows after a forward of " << n);
  const Ops op{ctx, ctx.device.is_cuda()};
  const float *xs = floats(xs_), *gates = floats(gates_), *hs = floats(hs_), *cs = floats(cs_);
  const float *kernel = w_[0], *recurrent = w_[1];
  float* dz = work_;
  float* dh = dz + T * n * G;
  float* dc = dh + n * U;
  float* seq = dc + n * U;  // the output's gradient time-major, later the input's
  op.zero(dc, n * U);
  if (cfg_.return_sequences) {
    op.to_time_major(n, T, U, false, dy.data(), seq);
    op.zero(dh, n * U);
  } else {
    op.copy(dh, dy.data(), n * U);
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* dyt = cfg_.return_sequences ? seq + t * n * U : nullptr;
    float* dzt = dz + t * n * G;
    if (op.gpu)
      kernels::lstm_step_backward_cuda(n, U, gates + t * n * G, cs + t * n * U, cs + (t + 1) * n * U, dh, dyt, dc, dzt,
                                       op.stream());
    else
      kernels::lstm_step_backward_cpu(n, U, gates + t * n * G, cs + t * n * U, cs + (t + 1) * n * U, dh, dyt, dc, dzt);
    if (t > 0) op.gemm(false, true, n, U, G, dzt, recurrent, 0.f, dh);  // dh_{t-1} = dz_t recurrent^T
  }
  // The weights' gradients over every step at once: kernel += xs^T dz; recurrent += h_{t-1}^T dz
  // (hs's first T steps are h_{-1}..h_{T-2}); bias += the column sums of dz.
  op.gemm(true, false, F, G, T * n, xs, dz, 1.f, g_[0]);
  op.gemm(true, false, U, G, T * n, hs, dz, 1.f, g_[1]);
  if (cfg_.use_bias) {
    if (op.gpu)
      kernels::bias_grad_cuda(dz, g_[2], T * n, G, *ctx.cuda);
    else
      kernels::bias_grad_cpu(dz, g_[2], T * n, G);
  }
  if (dx) {
    op.gemm(false, true, T * n, F, G, dz, kernel, 0.f, seq);  // dxs = dz kernel^T
    op.to_sequence_major(n, T, F, cfg_.go_backwards, seq, dx->data());
  }
}

}  // namespace dpt
