// LSTM, GRU and SimpleRNN on the CPU and on CUDA: the same steps on either device (GEMMs, the cells' kernels).
#include "core/layers/recurrent.h"
#include "core/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/recurrent.h"

namespace dpt {

Recurrent::Recurrent(RecurrentConfig cfg, int gates, const char* cls) : cfg_(cfg), gates_(gates) {
  DPT_CHECK(cfg_.units >= 1, cls << " needs units >= 1, got " << cfg_.units);
}

std::string Recurrent::config_str() const {
  std::string s = "units=" + std::to_string(cfg_.units);
  if (cfg_.return_sequences) s += ", return_sequences=True";
  if (cfg_.go_backwards) s += ", go_backwards=True";
  if (!cfg_.use_bias) s += ", use_bias=False";
  return s;
}

std::unique_ptr<Recurrent> Recurrent::reversed() const {
  std::unique_ptr<Recurrent> r(static_cast<Recurrent*>(clone().release()));
  r->cfg_.go_backwards = !cfg_.go_backwards;
  return r;
}

std::vector<ParamSpec> Recurrent::in_cell(std::vector<ParamSpec> p) const {
  for (ParamSpec& s : p) {
    s.scope = s.keras3_path = cell_name();
    s.keras3_group = "cell";
  }
  return p;
}

std::vector<ParamSpec> LSTM::params() const {
  const int64_t U = cfg_.units;
  std::vector<ParamSpec> p{{"kernel", {in_[1], 4 * U}, Init::glorot_uniform},
                           {"recurrent_kernel", {U, 4 * U}, Init::orthogonal}};
  if (cfg_.use_bias) p.push_back({"bias", {4 * U}, Init::lstm_bias});
  return in_cell(p);
}

std::vector<ParamSpec> GRU::params() const {
  const int64_t U = cfg_.units;
  std::vector<ParamSpec> p{{"kernel", {in_[1], 3 * U}, Init::glorot_uniform},
                           {"recurrent_kernel", {U, 3 * U}, Init::orthogonal}};
  if (cfg_.use_bias) p.push_back({"bias", {2, 3 * U}, Init::zeros});  // input bias, then recurrent bias
  return in_cell(p);
}

std::vector<ParamSpec> SimpleRNN::params() const {
  const int64_t U = cfg_.units;
  std::vector<ParamSpec> p{{"kernel", {in_[1], U}, Init::glorot_uniform},
                           {"recurrent_kernel", {U, U}, Init::orthogonal}};
  if (cfg_.use_bias) p.push_back({"bias", {U}, Init::zeros});
  return in_cell(p);
}

Shape Recurrent::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 2, class_name() << " expects inputs of shape (steps, features), got " << shape_str(in));
  if (cfg_.return_sequences) return {in[0], cfg_.units};
  return {cfg_.units};
}

void Recurrent::prepare(int64_t max_batch, Context& ctx) {
  const int64_t T = in_[0], F = in_[1], U = cfg_.units, G = gates_ * U, n = std::max<int64_t>(max_batch, 1);
  max_rows_ = n;
  auto floats = [&](int64_t count) { return Buffer(ctx.device, size_t(std::max<int64_t>(count, 1)) * sizeof(float)); };
  xs_ = floats(T * n * F);
  pre_ = floats(T * n * G);
  hs_ = floats((T + 1) * n * U);
  state_ = floats(gates_ == 4 ? (T + 1) * n * U : gates_ == 3 ? T * n * G : 0);
  if (ctx.device.is_cuda()) kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(G));
}

// Backward's scratch: every step's gradients of the input parts (steps, n, gates units) and, for
// GRU, of the recurrent parts; dh and LSTM's dc (n, units); the output's gradient time-major or the
// input's (steps, n, max(units, features)), used one after the other.
int64_t Recurrent::workspace_elems(int64_t batch) const {
  const int64_t T = in_[0], F = in_[1], U = cfg_.units, G = gates_ * U;
  return (gates_ == 3 ? 2 : 1) * T * batch * G + 2 * batch * U + T * batch * std::max(U, F);
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
  // C (M, N) = A (M, K) W (K, N) + bias (nullable), the bias first on the CPU (the GEMM adds to
  // it), after on CUDA.
  void linear(int64_t M, int64_t N, int64_t K, const float* A, const float* W, const float* bias, float* C) const {
    if (bias && !gpu) kernels::bias_fill_cpu(C, bias, M, N);
    gemm(false, false, M, N, K, A, W, bias && !gpu ? 1.f : 0.f, C);
    if (bias && gpu) kernels::bias_add_cuda(C, bias, M, N, stream());
  }
  void bias_grad(const float* dz, float* db, int64_t rows, int64_t cols) const {
    if (gpu)
      kernels::bias_grad_cuda(dz, db, rows, cols, *ctx.cuda);
    else
      kernels::bias_grad_cpu(dz, db, rows, cols);
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

void Recurrent::run_forward(Context& ctx, const Tensor& x, Tensor& y) {
  const int64_t n = x.dim(0), T = in_[0], F = in_[1], U = cfg_.units, G = gates_ * U;
  DPT_CHECK(n <= max_rows_,
            class_name() << " '" << name_ << "': a batch of " << n << " exceeds the prepared " << max_rows_);
  rows_ = n;
  const Ops op{ctx, ctx.device.is_cuda()};
  const bool lstm = gates_ == 4;
  float *xs = floats(xs_), *pre = floats(pre_), *hs = floats(hs_), *st = floats(state_);
  const float *kernel = w_[0], *recurrent = w_[1], *bias = cfg_.use_bias ? w_[2] : nullptr;
  op.zero(hs, n * U);  // the zero state (a larger batch before may have left steps there)
  if (lstm) op.zero(st, n * U);
  op.to_time_major(n, T, F, cfg_.go_backwards, x.data(), xs);
  op.linear(T * n, G, F, xs, kernel, bias, pre);  // every step's input part at once
  for (int64_t t = 0; t < T; ++t) {
    float *pt = pre + t * n * G, *h = hs + t * n * U, *h_next = hs + (t + 1) * n * U;
    if (gates_ == 1) {  // SimpleRNN: h = tanh(pre + h recurrent_kernel)
      if (t > 0) op.gemm(false, false, n, U, U, h, recurrent, 1.f, pt);
      if (op.gpu)
        kernels::simple_rnn_step_forward_cuda(n * U, pt, h_next, op.stream());
      else
        kernels::simple_rnn_step_forward_cpu(n * U, pt, h_next);
    } else if (lstm) {
      if (t > 0) op.gemm(false, false, n, G, U, h, recurrent, 1.f, pt);  // h_0 is zero
      float *c = st + t * n * U, *c_next = st + (t + 1) * n * U;
      if (op.gpu)
        kernels::lstm_step_forward_cuda(n, U, pt, c, c_next, h_next, op.stream());
      else
        kernels::lstm_step_forward_cpu(n, U, pt, c, c_next, h_next);
    } else {
      float* q = st + t * n * G;  // h recurrent_kernel + the recurrent bias
      op.linear(n, G, U, h, recurrent, bias ? bias + G : nullptr, q);
      if (op.gpu)
        kernels::gru_step_forward_cuda(n, U, pt, q, h, h_next, op.stream());
      else
        kernels::gru_step_forward_cpu(n, U, pt, q, h, h_next);
    }
  }
  if (cfg_.return_sequences)
    op.to_sequence_major(n, T, U, flip_output_, hs + n * U, y.data());
  else
    op.copy(y.data(), hs + T * n * U, n * U);
}

void Recurrent::run_backward(Context& ctx, const Tensor& dy, Tensor* dx) {
  const int64_t n = rows_, T = in_[0], F = in_[1], U = cfg_.units, G = gates_ * U;
  DPT_CHECK(dy.dim(0) == n,
            class_name() << " '" << name_ << "': backward for " << dy.dim(0) << " rows after a forward of " << n);
  const Ops op{ctx, ctx.device.is_cuda()};
  const bool lstm = gates_ == 4, gru = gates_ == 3;
  const float *xs = floats(xs_), *gates = floats(pre_), *hs = floats(hs_), *st = floats(state_);
  const float *kernel = w_[0], *recurrent = w_[1];
  float* dzx = work_;                        // the input parts' gradients (LSTM, SimpleRNN: the only ones)
  float* dzq = gru ? dzx + T * n * G : dzx;  // GRU: the recurrent parts'
  float* dh = dzq + T * n * G;
  float* dc = dh + n * U;
  float* seq = dc + n * U;  // the output's gradient time-major, later the input's
  if (lstm) op.zero(dc, n * U);
  if (cfg_.return_sequences) {
    op.to_time_major(n, T, U, flip_output_, dy.data(), seq);
    op.zero(dh, n * U);
  } else {
    op.copy(dh, dy.data(), n * U);
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* dyt = cfg_.return_sequences ? seq + t * n * U : nullptr;
    float *dxt = dzx + t * n * G, *dqt = dzq + t * n * G;
    const float* gt = gates + t * n * G;
    if (gates_ == 1) {
      if (op.gpu)
        kernels::simple_rnn_step_backward_cuda(n * U, hs + (t + 1) * n * U, dh, dyt, dxt, op.stream());
      else
        kernels::simple_rnn_step_backward_cpu(n * U, hs + (t + 1) * n * U, dh, dyt, dxt);
      if (t > 0) op.gemm(false, true, n, U, U, dxt, recurrent, 0.f, dh);  // dh_{t-1} = dz_t recurrent^T
    } else if (lstm) {
      const float *c = st + t * n * U, *c_next = st + (t + 1) * n * U;
      if (op.gpu)
        kernels::lstm_step_backward_cuda(n, U, gt, c, c_next, dh, dyt, dc, dxt, op.stream());
      else
        kernels::lstm_step_backward_cpu(n, U, gt, c, c_next, dh, dyt, dc, dxt);
      if (t > 0) op.gemm(false, true, n, U, G, dxt, recurrent, 0.f, dh);  // dh_{t-1} = dz_t recurrent^T
    } else {
      const float *q = st + t * n * G, *h = hs + t * n * U;
      if (op.gpu)
        kernels::gru_step_backward_cuda(n, U, gt, q, h, dh, dyt, dxt, dqt, op.stream());
      else
        kernels::gru_step_backward_cpu(n, U, gt, q, h, dh, dyt, dxt, dqt);
      if (t > 0) op.gemm(false, true, n, U, G, dqt, recurrent, 1.f, dh);  // + dq_t recurrent^T
    }
  }
  // The weights' gradients over every step at once: kernel += xs^T dzx; recurrent += h_{t-1}^T dzq
  // (hs's first T steps are h_{-1}..h_{T-2}); the biases += the column sums of dzx (and dzq).
  op.gemm(true, false, F, G, T * n, xs, dzx, 1.f, g_[0]);
  op.gemm(true, false, U, G, T * n, hs, dzq, 1.f, g_[1]);
  if (cfg_.use_bias) {
    op.bias_grad(dzx, g_[2], T * n, G);
    if (gru) op.bias_grad(dzq, g_[2] + G, T * n, G);
  }
  if (dx) {
    op.gemm(false, true, T * n, F, G, dzx, kernel, 0.f, seq);  // dxs = dzx kernel^T
    op.to_sequence_major(n, T, F, cfg_.go_backwards, seq, dx->data());
  }
}

}  // namespace dpt
