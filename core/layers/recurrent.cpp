// LSTM, GRU and SimpleRNN on the CPU and on CUDA: the same steps on either device (GEMMs, the cells' kernels).
#include "core/layers/recurrent.h"
#include <functional>
#include "core/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/recurrent.h"
#include "kernels/seqmask.h"

namespace dpt {

Recurrent::Recurrent(RecurrentConfig cfg, int gates, const char* cls) : cfg_(cfg), gates_(gates) {
  DPT_CHECK(cfg_.units >= 1, cls << " needs units >= 1, got " << cfg_.units);
  DPT_CHECK(cfg_.dropout >= 0 && cfg_.dropout < 1, cls << " dropout must be in [0, 1), got " << cfg_.dropout);
  DPT_CHECK(cfg_.recurrent_dropout >= 0 && cfg_.recurrent_dropout < 1,
            cls << " recurrent_dropout must be in [0, 1), got " << cfg_.recurrent_dropout);
  DPT_CHECK(cfg_.implementation == 1 || cfg_.implementation == 2,
            cls << " implementation must be 1 or 2, got " << cfg_.implementation);
  for (const Activation a : {cfg_.activation, cfg_.recurrent_activation})
    DPT_CHECK(!a.needs_input() && a != Activation::softmax,
              cls << " runs activations whose slope their output gives, not " << activation_name(a));
}

std::string Recurrent::config_str() const {
  std::string s = "units=" + std::to_string(cfg_.units);
  if (cfg_.return_sequences) s += ", return_sequences=True";
  if (cfg_.go_backwards) s += ", go_backwards=True";
  if (!cfg_.use_bias) s += ", use_bias=False";
  if (gates_ == 3 && !cfg_.reset_after) s += ", reset_after=False";
  auto num = [](double v) {
    std::string t = std::to_string(v);
    while (t.size() > 3 && t.back() == '0') t.pop_back();
    return t;
  };
  if (cfg_.dropout > 0) s += ", dropout=" + num(cfg_.dropout);
  if (cfg_.recurrent_dropout > 0) s += ", recurrent_dropout=" + num(cfg_.recurrent_dropout);
  if (gates_ > 1 && cfg_.implementation == 1 && cfg_.recurrent_dropout == 0) s += ", implementation=1";
  if (cfg_.activation != Activation::tanh) s += ", activation=" + activation_name(cfg_.activation);
  if (gates_ > 1 && cfg_.recurrent_activation != Activation::sigmoid)
    s += ", recurrent_activation=" + activation_name(cfg_.recurrent_activation);
  if (cfg_.zero_output_for_mask && !zero_output_implied_) s += ", zero_output_for_mask=True";
  return s;
}

int Recurrent::input_masks() const {
  if (cfg_.dropout == 0) return 0;
  return gates_ > 1 && (cfg_.implementation == 1 || cfg_.recurrent_dropout > 0) ? gates_ : 1;
}

int Recurrent::recurrent_masks() const {
  if (cfg_.recurrent_dropout == 0) return 0;
  return gates_;  // LSTM and GRU run implementation 1 with recurrent_dropout: a mask per gate
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
  if (cfg_.use_bias) p.push_back({"bias", {4 * U}, cfg_.unit_forget_bias ? Init::lstm_bias : Init::zeros});
  return in_cell(p);
}

std::vector<ParamSpec> GRU::params() const {
  const int64_t U = cfg_.units;
  std::vector<ParamSpec> p{{"kernel", {in_[1], 3 * U}, Init::glorot_uniform},
                           {"recurrent_kernel", {U, 3 * U}, Init::orthogonal}};
  if (cfg_.use_bias && cfg_.reset_after)
    p.push_back({"bias", {2, 3 * U}, Init::zeros});  // input bias, then recurrent bias
  else if (cfg_.use_bias)
    p.push_back({"bias", {3 * U}, Init::zeros});  // reset_after=False: the input bias alone
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
  xs_ = floats(std::max(input_masks(), 1) * T * n * F);
  pre_ = floats(T * n * G);
  hs_ = floats((T + 1) * n * U);
  state_ = floats(gates_ == 4 ? (T + 1) * n * U : gates_ == 3 ? T * n * G : 0);
  masks_ = floats(input_masks() * n * F + recurrent_masks() * n * U);
  hm_ = floats(recurrent_masks() * T * n * U);
  steps_mask_ = floats(mask_source_ ? T * n : 0);
  out_mask_ = floats(mask_source_ && cfg_.zero_output_for_mask ? T * n : 0);
  if (ctx.device.is_cuda()) kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(G));
}

// Backward's scratch: every step's gradients of the input parts (steps, n, gates units) and, for
// GRU, of the recurrent parts; dh and LSTM's dc (n, units); the output's gradient time-major or the
// input's (steps, n, max(units, features)), used one after the other. With recurrent masks, each
// gate's part of dh (n, units); with an input mask per gate, each gate's part of the input's
// gradient (steps, n, features); GRU with reset_after=False: the gradient at r h_{t-1} (n, units);
// with Keras's mask, the gradients carried past a skipped step, at h and at LSTM's c (n, units each).
int64_t Recurrent::workspace_elems(int64_t batch) const {
  const int64_t T = in_[0], F = in_[1], U = cfg_.units, G = gates_ * U;
  const bool v1 = gates_ == 3 && !cfg_.reset_after;
  return (gates_ == 3 && !v1 ? 2 : 1) * T * batch * G + 2 * batch * U + T * batch * std::max(U, F) +
         recurrent_masks() * batch * U + (input_masks() > 1 ? input_masks() * T * batch * F : 0) +
         (v1 ? batch * U : 0) + (mask_source_ ? 2 * batch * U : 0);
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
  // On blocks of columns: leading dimensions lda, ldb and ldc.
  void gemm_ld(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
               int64_t ldb, float beta, float* C, int64_t ldc) const {
    if (gpu)
      kernels::gemm_ld_cuda(*ctx.cuda, ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
    else
      kernels::gemm_ld_cpu<float>(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  }
  // count products at once, the i-th's operands and result stride_a, stride_b and stride_c on.
  void gemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, int64_t stride_a,
                    const float* B, int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                    int count) const {
    if (gpu)
      kernels::gemm_batched_cuda(*ctx.cuda, ta, tb, M, N, K, 1.f, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc,
                                 stride_c, count);
    else
      kernels::gemm_batched_cpu<float>(ta, tb, M, N, K, 1.f, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c,
                                       count);
  }
  // C (M, N) = A (M, K) W (K, N) + bias (nullable), the bias first on the CPU (the GEMM adds to
  // it), after on CUDA. With parts > 1, part g of C's columns (N / parts of them) comes from its
  // own A, A + g a_stride: a gate's part from the input's copy under that gate's mask (one batched
  // GEMM over the gates).
  void linear(int64_t M, int64_t N, int64_t K, const float* A, const float* W, const float* bias, float* C,
              int parts = 1, int64_t a_stride = 0) const {
    if (bias && !gpu) kernels::bias_fill_cpu(C, bias, M, N);
    const float beta = bias && !gpu ? 1.f : 0.f;
    if (parts <= 1) {
      gemm(false, false, M, N, K, A, W, beta, C);
    } else {
      const int64_t P = N / parts;
      gemm_batched(false, false, M, P, K, A, K, a_stride, W, N, P, beta, C, N, P, parts);
    }
    if (bias && gpu) kernels::bias_add_cuda(C, bias, M, N, stream());
  }
  void mask(float* mask, int64_t rows, int64_t cols, float rate, const kernels::DropoutKey& key) const {
    if (gpu)
      kernels::dropout_mask_cuda(mask, rows, cols, rate, key, stream());
    else
      kernels::dropout_mask_cpu(mask, rows, cols, rate, key);
  }
  void apply_masks(int64_t count, const float* in, const float* masks, int64_t period, int copies, float* out,
                   int64_t out_stride) const {
    if (gpu)
      kernels::apply_masks_cuda(count, in, masks, period, copies, out, out_stride, stream());
    else
      kernels::apply_masks_cpu(count, in, masks, period, copies, out, out_stride);
  }
  void masked_sum(int64_t count, const float* parts, const float* masks, int64_t period, int copies, float* out,
                  bool accumulate) const {
    if (gpu)
      kernels::masked_sum_cuda(count, parts, masks, period, copies, out, accumulate, stream());
    else
      kernels::masked_sum_cpu(count, parts, masks, period, copies, out, accumulate);
  }
  void bias_grad(const float* dz, float* db, int64_t rows, int64_t cols) const {
    if (gpu)
      kernels::bias_grad_cuda(dz, db, rows, cols, *ctx.cuda);
    else
      kernels::bias_grad_cpu(dz, db, rows, cols);
  }
  void* stream() const { return kernels::cuda_stream_of(*ctx.cuda); }
  // Keras's mask (kernels/seqmask.h).
  void mask_rows(int64_t rows, int64_t cols, const float* mask, float* x) const {
    if (gpu)
      kernels::mask_rows_cuda(rows, cols, mask, x, x, stream());
    else
      kernels::mask_rows_cpu(rows, cols, mask, x, x);
  }
  void mask_carry(int64_t rows, int64_t units, const float* mask, const float* h_prev, float* h, const float* c_prev,
                  float* c) const {
    if (gpu)
      kernels::mask_carry_cuda(rows, units, mask, h_prev, h, c_prev, c, stream());
    else
      kernels::mask_carry_cpu(rows, units, mask, h_prev, h, c_prev, c);
  }
  void mask_split(int64_t rows, int64_t units, const float* mask, float* dh, float* dy, float* dc, float* carry_h,
                  float* carry_c) const {
    if (gpu)
      kernels::mask_split_cuda(rows, units, mask, dh, dy, dc, carry_h, carry_c, stream());
    else
      kernels::mask_split_cpu(rows, units, mask, dh, dy, dc, carry_h, carry_c);
  }
  void mask_join(int64_t rows, int64_t units, const float* mask, const float* carry_h, float* dh, const float* carry_c,
                 float* dc) const {
    if (gpu)
      kernels::mask_join_cuda(rows, units, mask, carry_h, dh, carry_c, dc, stream());
    else
      kernels::mask_join_cpu(rows, units, mask, carry_h, dh, carry_c, dc);
  }
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

// Mask g of the inputs (which 0) or of the recurrent state (which 1): keyed as Dropout keys its
// masks, the layer's name, which and g salting the seed.
static kernels::DropoutKey mask_key(const Context& ctx, const std::string& layer, int which, int g) {
  const uint64_t salt = kernels::mix64(std::hash<std::string>{}(layer) ^ kernels::mix64(uint64_t(which * 16 + g + 1)));
  return {ctx.key.seed ^ salt, ctx.key.epoch, ctx.key.step, ctx.key.row_offset};
}

void Recurrent::run_forward(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  const int64_t n = x.dim(0), T = in_[0], F = in_[1], U = cfg_.units, G = gates_ * U;
  DPT_CHECK(n <= max_rows_,
            class_name() << " '" << name_ << "': a batch of " << n << " exceeds the prepared " << max_rows_);
  rows_ = n;
  const Ops op{ctx, ctx.device.is_cuda()};
  const bool lstm = gates_ == 4;
  const kernels::CellActs acts{cfg_.activation, cfg_.recurrent_activation};
  masked_ = training && (input_masks() > 0 || recurrent_masks() > 0);
  const int kin = masked_ ? input_masks() : 0, krec = masked_ ? recurrent_masks() : 0;
  float *xs = floats(xs_), *pre = floats(pre_), *hs = floats(hs_), *st = floats(state_);
  float *min = floats(masks_), *mrec = min + kin * n * F, *hm = floats(hm_);
  const float *kernel = w_[0], *recurrent = w_[1], *bias = cfg_.use_bias ? w_[2] : nullptr;
  // Keras's mask, time-major in the order the steps are read: a skipped step carries the state.
  const float* seq_mask = input_mask();
  seq_masked_ = seq_mask != nullptr;
  float* sm = floats(steps_mask_);
  if (seq_masked_) op.to_time_major(n, T, 1, cfg_.go_backwards, seq_mask, sm);
  for (int g = 0; g < kin; ++g) op.mask(min + g * n * F, n, F, float(cfg_.dropout), mask_key(ctx, name_, 0, g));
  for (int g = 0; g < krec; ++g)
    op.mask(mrec + g * n * U, n, U, float(cfg_.recurrent_dropout), mask_key(ctx, name_, 1, g));
  op.zero(hs, n * U);  // the zero state (a larger batch before may have left steps there)
  if (lstm) op.zero(st, n * U);
  // The input time-major, in the last of its copies; each mask makes its copy from it (the last in
  // place), the same mask at every step.
  const int64_t seq = T * n * F;
  float* last = xs + std::max(kin - 1, 0) * seq;
  op.to_time_major(n, T, F, cfg_.go_backwards, x.data(), last);
  op.apply_masks(seq, last, min, n * F, kin, xs, seq);
  op.linear(T * n, G, F, xs, kernel, bias, pre, kin, seq);  // every step's input part at once
  for (int64_t t = 0; t < T; ++t) {
    float *pt = pre + t * n * G, *h = hs + t * n * U, *h_next = hs + (t + 1) * n * U;
    // With recurrent masks, the recurrence reads h_{t-1} times each gate's mask (kept for backward).
    op.apply_masks(n * U, h, mrec, n * U, krec, hm + t * n * U, T * n * U);
    const float* hr = krec ? hm + t * n * U : h;  // gate 0's, the others T n U apart
    const int64_t hr_stride = T * n * U;
    if (gates_ == 1) {  // SimpleRNN: h = activation(pre + h recurrent_kernel)
      if (t > 0) op.gemm(false, false, n, U, U, hr, recurrent, 1.f, pt);
      if (op.gpu)
        kernels::simple_rnn_step_forward_cuda(acts, n * U, pt, h_next, op.stream());
      else
        kernels::simple_rnn_step_forward_cpu(acts, n * U, pt, h_next);
    } else if (lstm) {
      if (t > 0) {  // h_0 is zero
        if (krec)
          op.gemm_batched(false, false, n, U, U, hr, U, hr_stride, recurrent, G, U, 1.f, pt, G, U, krec);
        else
          op.gemm(false, false, n, G, U, h, recurrent, 1.f, pt);
      }
      float *c = st + t * n * U, *c_next = st + (t + 1) * n * U;
      if (op.gpu)
        kernels::lstm_step_forward_cuda(acts, n, U, pt, c, c_next, h_next, op.stream());
      else
        kernels::lstm_step_forward_cpu(acts, n, U, pt, c, c_next, h_next);
    } else if (!cfg_.reset_after) {  // GRU, reset gate before the recurrent kernel
      float* q = st + t * n * G;     // h U_z and h U_r, then r h (kept for backward)
      if (krec)
        op.gemm_batched(false, false, n, U, U, hr, U, hr_stride, recurrent, G, U, 0.f, q, G, U, 2);
      else
        op.gemm_ld(false, false, n, 2 * U, U, h, U, recurrent, G, 0.f, q, G);
      const float* h_src = krec ? hr + 2 * hr_stride : h;  // under the candidate's mask
      if (op.gpu)
        kernels::gru_v1_gates_forward_cuda(acts, n, U, pt, q, h_src, op.stream());
      else
        kernels::gru_v1_gates_forward_cpu(acts, n, U, pt, q, h_src);
      op.gemm_ld(false, false, n, U, U, q + 2 * U, G, recurrent + 2 * U, G, 1.f, pt + 2 * U, G);  // x_h += (r h) U_h
      if (op.gpu)
        kernels::gru_v1_blend_forward_cuda(acts, n, U, pt, h, h_next, op.stream());
      else
        kernels::gru_v1_blend_forward_cpu(acts, n, U, pt, h, h_next);
    } else {
      float* q = st + t * n * G;  // h recurrent_kernel + the recurrent bias
      op.linear(n, G, U, hr, recurrent, bias ? bias + G : nullptr, q, krec, hr_stride);
      if (op.gpu)
        kernels::gru_step_forward_cuda(acts, n, U, pt, q, h, h_next, op.stream());
      else
        kernels::gru_step_forward_cpu(acts, n, U, pt, q, h, h_next);
    }
    if (seq_masked_)
      op.mask_carry(n, U, sm + t * n, h, h_next, lstm ? st + t * n * U : nullptr,
                    lstm ? st + (t + 1) * n * U : nullptr);
  }
  const bool zero_out = seq_masked_ && cfg_.zero_output_for_mask;
  if (cfg_.return_sequences) {
    op.to_sequence_major(n, T, U, flip_output_, hs + n * U, y.data());
    if (zero_out) {  // the mask in the output's order: the same move as the states'
      op.to_sequence_major(n, T, 1, flip_output_, sm, floats(out_mask_));
      op.mask_rows(n * T, U, floats(out_mask_), y.data());
    }
  } else {
    op.copy(y.data(), hs + T * n * U, n * U);
    if (zero_out) op.mask_rows(n, U, sm + (T - 1) * n, y.data());
  }
}

void Recurrent::run_backward(Context& ctx, const Tensor& dy, Tensor* dx) {
  const int64_t n = rows_, T = in_[0], F = in_[1], U = cfg_.units, G = gates_ * U;
  DPT_CHECK(dy.dim(0) == n,
            class_name() << " '" << name_ << "': backward for " << dy.dim(0) << " rows after a forward of " << n);
  const Ops op{ctx, ctx.device.is_cuda()};
  const bool lstm = gates_ == 4, gru = gates_ == 3 && cfg_.reset_after, v1 = gates_ == 3 && !cfg_.reset_after;
  const kernels::CellActs acts{cfg_.activation, cfg_.recurrent_activation};
  const int kin = masked_ ? input_masks() : 0, krec = masked_ ? recurrent_masks() : 0;
  const float *xs = floats(xs_), *gates = floats(pre_), *hs = floats(hs_), *st = floats(state_);
  const float *min = floats(masks_), *mrec = min + kin * n * F, *hm = floats(hm_);
  const float *kernel = w_[0], *recurrent = w_[1];
  float* dzx = work_;                        // the input parts' gradients (LSTM, SimpleRNN: the only ones)
  float* dzq = gru ? dzx + T * n * G : dzx;  // GRU: the recurrent parts'
  float* dh = dzq + T * n * G;
  float* dc = dh + n * U;
  float* seq = dc + n * U;                        // the output's gradient time-major, later the input's
  float* dh_parts = seq + T * n * std::max(U, F);          // with recurrent masks: each gate's part of dh
  float* dx_parts = dh_parts + recurrent_masks() * n * U;  // with a mask per gate: each gate's part of dxs
  float* drh = dx_parts + (input_masks() > 1 ? input_masks() * T * n * F : 0);  // GRU reset before: at r h
  float* carry_h = drh + (v1 ? n * U : 0);  // with Keras's mask: past a skipped step, at h and at c
  float* carry_c = carry_h + n * U;
  const float* sm = floats(steps_mask_);
  // dh_{t-1} += the recurrence's gradient dz_t recurrent_kernel^T (dz_t the step's gates' gradients,
  // rows G apart); with recurrent masks, each gate's part through its mask.
  auto recurrence_grad = [&](const float* dzt, bool accumulate) {
    if (!krec) {
      op.gemm(false, true, n, U, G, dzt, recurrent, accumulate ? 1.f : 0.f, dh);
      return;
    }
    op.gemm_batched(false, true, n, U, U, dzt, G, U, recurrent, G, U, 0.f, dh_parts, U, n * U, krec);
    op.masked_sum(n * U, dh_parts, mrec, n * U, krec, dh, accumulate);
  };
  if (lstm) op.zero(dc, n * U);
  if (cfg_.return_sequences) {
    op.to_time_major(n, T, U, flip_output_, dy.data(), seq);
    op.zero(dh, n * U);
  } else {
    op.copy(dh, dy.data(), n * U);
  }
  if (seq_masked_ && cfg_.zero_output_for_mask) {  // a skipped step's output was 0: it takes no gradient
    if (cfg_.return_sequences)
      op.mask_rows(T * n, U, sm, seq);
    else
      op.mask_rows(n, U, sm + (T - 1) * n, dh);
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    float* dyt = cfg_.return_sequences ? seq + t * n * U : nullptr;
    // A skipped step: its gradients pass to the state before it (join, below), the cell gets none.
    if (seq_masked_) op.mask_split(n, U, sm + t * n, dh, dyt, lstm ? dc : nullptr, carry_h, lstm ? carry_c : nullptr);
    float *dxt = dzx + t * n * G, *dqt = dzq + t * n * G;
    const float* gt = gates + t * n * G;
    if (gates_ == 1) {
      if (op.gpu)
        kernels::simple_rnn_step_backward_cuda(acts, n * U, hs + (t + 1) * n * U, dh, dyt, dxt, op.stream());
      else
        kernels::simple_rnn_step_backward_cpu(acts, n * U, hs + (t + 1) * n * U, dh, dyt, dxt);
      if (t > 0) recurrence_grad(dxt, false);  // dh_{t-1} = dz_t recurrent^T
    } else if (lstm) {
      const float *c = st + t * n * U, *c_next = st + (t + 1) * n * U;
      if (op.gpu)
        kernels::lstm_step_backward_cuda(acts, n, U, gt, c, c_next, dh, dyt, dc, dxt, op.stream());
      else
        kernels::lstm_step_backward_cpu(acts, n, U, gt, c, c_next, dh, dyt, dc, dxt);
      if (t > 0) recurrence_grad(dxt, false);  // dh_{t-1} = dz_t recurrent^T
    } else if (v1) {
      const float *h = hs + t * n * U, *h_src = krec ? hm + (2 * T + t) * n * U : h;
      if (op.gpu)
        kernels::gru_v1_blend_backward_cuda(acts, n, U, gt, h, dh, dyt, dxt, op.stream());
      else
        kernels::gru_v1_blend_backward_cpu(acts, n, U, gt, h, dh, dyt, dxt);
      op.gemm_ld(false, true, n, U, U, dxt + 2 * U, G, recurrent + 2 * U, G, 0.f, drh, U);  // at r h: dx_h U_h^T
      const float* mask_h = krec ? mrec + 2 * n * U : nullptr;
      if (op.gpu)
        kernels::gru_v1_gates_backward_cuda(acts, n, U, gt, h_src, drh, mask_h, dh, dxt, op.stream());
      else
        kernels::gru_v1_gates_backward_cpu(acts, n, U, gt, h_src, drh, mask_h, dh, dxt);
      if (t > 0 && krec) {  // + z's and r's recurrences, each through its mask
        op.gemm_batched(false, true, n, U, U, dxt, G, U, recurrent, G, U, 0.f, dh_parts, U, n * U, 2);
        op.masked_sum(n * U, dh_parts, mrec, n * U, 2, dh, true);
      } else if (t > 0) {
        op.gemm_ld(false, true, n, U, 2 * U, dxt, G, recurrent, G, 1.f, dh, U);
      }
    } else {
      const float *q = st + t * n * G, *h = hs + t * n * U;
      if (op.gpu)
        kernels::gru_step_backward_cuda(acts, n, U, gt, q, h, dh, dyt, dxt, dqt, op.stream());
      else
        kernels::gru_step_backward_cpu(acts, n, U, gt, q, h, dh, dyt, dxt, dqt);
      if (t > 0) recurrence_grad(dqt, true);  // + dq_t recurrent^T
    }
    if (seq_masked_ && t > 0) op.mask_join(n, U, sm + t * n, carry_h, dh, carry_c, lstm ? dc : nullptr);
  }
  // The weights' gradients over every step at once: kernel += xs^T dzx; recurrent += h_{t-1}^T dzq
  // (hs's first T steps are h_{-1}..h_{T-2}); the biases += the column sums of dzx (and dzq). Under
  // a mask per gate, each gate's columns from its own masked copy.
  if (kin > 1)
    op.gemm_batched(true, false, F, U, T * n, xs, F, T * n * F, dzx, G, U, 1.f, g_[0], G, U, kin);
  else
    op.gemm(true, false, F, G, T * n, xs, dzx, 1.f, g_[0]);
  if (v1) {  // z's and r's columns from h_{t-1} (or its masked copies); the candidate's from r h_{t-1}
    if (krec)
      op.gemm_batched(true, false, U, U, T * n, hm, U, T * n * U, dzx, G, U, 1.f, g_[1], G, U, 2);
    else
      op.gemm_ld(true, false, U, 2 * U, T * n, hs, U, dzx, G, 1.f, g_[1], G);
    op.gemm_ld(true, false, U, U, T * n, st + 2 * U, G, dzx + 2 * U, G, 1.f, g_[1] + 2 * U, G);
  } else if (krec) {
    op.gemm_batched(true, false, U, U, T * n, hm, U, T * n * U, dzq, G, U, 1.f, g_[1], G, U, krec);
  } else {
    op.gemm(true, false, U, G, T * n, hs, dzq, 1.f, g_[1]);
  }
  if (cfg_.use_bias) {
    op.bias_grad(dzx, g_[2], T * n, G);
    if (gru) op.bias_grad(dzq, g_[2] + G, T * n, G);
  }
  if (dx) {
    if (kin > 1) {  // dxs = the sum over gates of (dzx_g kernel_g^T) times mask g
      op.gemm_batched(false, true, T * n, F, U, dzx, G, U, kernel, G, U, 0.f, dx_parts, F, T * n * F, kin);
      op.masked_sum(T * n * F, dx_parts, min, n * F, kin, seq, false);
    } else {
      op.gemm(false, true, T * n, F, G, dzx, kernel, 0.f, seq);  // dxs = dzx kernel^T
      if (kin == 1) op.masked_sum(T * n * F, seq, min, n * F, 1, seq, false);
    }
    op.to_sequence_major(n, T, F, cfg_.go_backwards, seq, dx->data());
  }
}

}  // namespace dpt
