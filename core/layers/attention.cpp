// MultiHeadAttention through GEMMs (the projections) and strided batched GEMMs (each head's scores
// and their product with the values), softmax, dropout and the causal mask: one code path, each
// primitive on the CPU (OpenBLAS, the CPU kernels) or on a GPU (cuBLAS, the CUDA kernels).
#include "core/layers/attention.h"
#include <cmath>
#include <sstream>
#include "core/error.h"
#include "core/layers/dropout.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/cuda_backend.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/merge.h"
#include "kernels/seqmask.h"

namespace dpt {

namespace {

// The primitives, on the CPU or on the replica's GPU.
struct Ops {
  Context& ctx;
  bool cuda;
  void* stream() const { return kernels::cuda_stream_of(*ctx.cuda); }
  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b, float beta,
            float* c) const {
    if (cuda)
      kernels::gemm_cuda(*ctx.cuda, ta, tb, m, n, k, alpha, a, b, beta, c);
    else
      kernels::gemm_cpu<float>(ta, tb, m, n, k, alpha, a, b, beta, c);
  }
  // count products, the operands' matrices stride_* apart, rows ld* apart (row-major).
  // beta: 0 writes c, 1 adds to it.
  void batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, int64_t sa,
               const float* b, int64_t ldb, int64_t sb, float* c, int64_t ldc, int64_t sc, int64_t count,
               float beta = 0.f) const {
    if (count == 0) return;
    if (cuda)
      kernels::gemm_batched_cuda(*ctx.cuda, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc,
                                 int(count));
    else
      kernels::gemm_batched_cpu<float>(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, int(count));
  }
  // out (rows, cols) = x (rows, in) w (in, cols) + bias (nullable).
  void project(const float* x, int64_t rows, int64_t in, const float* w, const float* bias, float* out,
               int64_t cols) const {
    if (cuda) {
      gemm(false, false, rows, cols, in, 1.f, x, w, 0.f, out);
      if (bias) kernels::bias_add_cuda(out, bias, rows, cols, stream());
      return;
    }
    if (bias) kernels::bias_fill_cpu(out, bias, rows, cols);
    gemm(false, false, rows, cols, in, 1.f, x, w, bias ? 1.f : 0.f, out);
  }
  // The projection's gradients from d(out): dw += x^T dout, db += its column sums, dx = dout w^T
  // (+ dx where accumulate). Each of dw, db, dx nullable.
  void project_back(const float* x, int64_t rows, int64_t in, const float* w, float* dw, float* db, const float* dout,
                    int64_t cols, float* dx, bool accumulate) const {
    if (dw) gemm(true, false, in, cols, rows, 1.f, x, dout, 1.f, dw);
    if (db) {
      if (cuda)
        kernels::bias_grad_cuda(dout, db, rows, cols, *ctx.cuda);
      else
        kernels::bias_grad_cpu(dout, db, rows, cols);
    }
    if (dx) gemm(false, true, rows, in, cols, 1.f, dout, w, accumulate ? 1.f : 0.f, dx);
  }
  void softmax(float* p, int64_t rows, int64_t cols) const {
    if (cuda)
      kernels::activation_forward_cuda(Activation::softmax, p, p, rows, cols, stream());
    else
      kernels::activation_forward_cpu<float>(Activation::softmax, p, p, rows, cols);
  }
  // dp = softmax's gradient from the probabilities p and d(p) (in place).
  void softmax_back(const float* p, float* dp, int64_t rows, int64_t cols) const {
    if (cuda)
      kernels::activation_backward_cuda(Activation::softmax, nullptr, p, dp, dp, rows, cols, stream());
    else
      kernels::activation_backward_cpu<float>(Activation::softmax, nullptr, p, dp, dp, rows, cols);
  }
  void dropout(const float* x, float* y, int64_t rows, int64_t cols, float rate, const kernels::DropoutKey& key) const {
    if (cuda)
      kernels::dropout_cuda(x, y, rows, cols, rate, key, nullptr, stream());
    else
      kernels::dropout_cpu<float>(x, y, rows, cols, rate, key);
  }
  void scale_by(const float* x, float* y, int64_t n, const float* scale) const {
    if (cuda)
      kernels::scale_by_cuda(x, y, n, scale, stream());
    else
      kernels::scale_by_cpu(x, y, n, scale);
  }
  // *into += sum(a b) over n values (work: n floats of scratch).
  void dot_into(const float* a, const float* b, int64_t n, float* work, float* into) const {
    if (cuda) {
      kernels::multiply_cuda(a, b, work, n, stream());
      kernels::bias_grad_cuda(work, into, n, 1, *ctx.cuda);
      return;
    }
    kernels::multiply_cpu(a, b, work, n);
    kernels::bias_grad_cpu(work, into, n, 1);
  }
  // rows of x zeroed where mask is 0 (in place).
  void mask_rows(float* x, int64_t rows, int64_t cols, const float* mask) const {
    if (cuda)
      kernels::mask_rows_cuda(rows, cols, mask, x, x, stream());
    else
      kernels::mask_rows_cpu(rows, cols, mask, x, x);
  }
  void fill(const kernels::AttentionMask& m, float* scores, float value) const {
    if (cuda)
      kernels::attention_fill_cuda(m, scores, value, stream());
    else
      kernels::attention_fill_cpu(m, scores, value);
  }
};

// The masks reaching an attention layer's first `count` inputs (query, value, key) must have their steps.
void check_mask_steps(const Layer& layer, const std::vector<const Layer*>& sources, const std::vector<Shape>& ins,
                      size_t count, const std::string& model) {
  const char* what[] = {"query", "value", "key"};
  for (size_t k = 0; k < count && k < sources.size(); ++k)
    if (const Layer* m = sources[k])
      DPT_CHECK(m->mask_shape() == Shape{ins[k][0]},
                "model '" << model << "': the mask of layer '" << m->name() << "' (" << m->class_name()
                          << "), of shape " << shape_str(m->mask_shape()) << " a sample, reaches the " << what[k]
                          << " of layer '" << layer.name() << "' (" << layer.class_name() << "), of " << ins[k][0]
                          << " steps");
}

}  // namespace

MultiHeadAttention::MultiHeadAttention(AttentionConfig cfg) : cfg_(cfg) {
  if (cfg_.grouped) {  // Keras's names and checks
    DPT_CHECK(cfg_.num_heads >= 1,
              "GroupQueryAttention num_query_heads must be a positive integer, got " << cfg_.num_heads);
    DPT_CHECK(cfg_.kv_heads >= 1,
              "GroupQueryAttention num_key_value_heads must be a positive integer, got " << cfg_.kv_heads);
    DPT_CHECK(cfg_.num_heads % cfg_.kv_heads == 0,
              "GroupQueryAttention num_query_heads ("
                  << cfg_.num_heads << ") must be divisible by num_key_value_heads (" << cfg_.kv_heads << ")");
    DPT_CHECK(cfg_.key_dim >= 1, "GroupQueryAttention head_dim must be a positive integer, got " << cfg_.key_dim);
    DPT_CHECK(cfg_.value_dim == 0 && cfg_.output_dim == 0,
              "GroupQueryAttention's values are head_dim wide and its output the query's features");
    DPT_CHECK(std::isfinite(cfg_.dropout) && cfg_.dropout >= 0 && cfg_.dropout < 1,
              "GroupQueryAttention dropout must be in [0, 1), got " << cfg_.dropout);
    return;
  }
  DPT_CHECK(cfg_.kv_heads == 0, "MultiHeadAttention has as many key and value heads as query heads");
  DPT_CHECK(cfg_.num_heads >= 1, "MultiHeadAttention num_heads must be a positive integer, got " << cfg_.num_heads);
  DPT_CHECK(cfg_.key_dim >= 1, "MultiHeadAttention key_dim must be a positive integer, got " << cfg_.key_dim);
  DPT_CHECK(cfg_.value_dim >= 0, "MultiHeadAttention value_dim must be a positive integer, got " << cfg_.value_dim);
  DPT_CHECK(cfg_.output_dim >= 0,
            "MultiHeadAttention output_shape must be a positive integer, got " << cfg_.output_dim);
  DPT_CHECK(std::isfinite(cfg_.dropout) && cfg_.dropout >= 0 && cfg_.dropout < 1,
            "MultiHeadAttention dropout must be in [0, 1), got " << cfg_.dropout);
}

std::string MultiHeadAttention::config_str() const {
  std::ostringstream os;
  if (cfg_.grouped)
    os << "head_dim=" << cfg_.key_dim << ", num_query_heads=" << cfg_.num_heads
       << ", num_key_value_heads=" << cfg_.kv_heads;
  else
    os << "num_heads=" << cfg_.num_heads << ", key_dim=" << cfg_.key_dim;
  if (cfg_.value_dim && cfg_.value_dim != cfg_.key_dim) os << ", value_dim=" << cfg_.value_dim;
  if (cfg_.output_dim) os << ", output_shape=" << cfg_.output_dim;
  if (cfg_.dropout > 0) os << ", dropout=" << cfg_.dropout;
  if (!cfg_.use_bias) os << ", use_bias=False";
  if (cfg_.causal) os << ", use_causal_mask=True";
  return os.str();
}

Shape MultiHeadAttention::output_shape_of(const std::vector<Shape>& in) {
  const std::string who = "layer '" + name_ + "' (" + class_name() + ")";
  DPT_CHECK(in.size() == 2 || in.size() == 3,
            who << " is called on a query and a value (and a key), not " << in.size() << " tensors");
  const char* what[] = {"query", "value", "key"};
  for (size_t k = 0; k < in.size(); ++k)
    DPT_CHECK(in[k].size() == 2, who << " expects a " << what[k] << " of shape (steps, features), got "
                                     << shape_str(in[k])
                                     << " (dptrain attends over one axis of sequences: Keras's attention_axes None)");
  if (in.size() == 3)
    DPT_CHECK(in[2][0] == in[1][0], who << " has a key of " << in[2][0] << " steps but a value of " << in[1][0]
                                        << "; they must have the same steps");
  if (cfg_.grouped)
    DPT_CHECK(in[0][1] == in[1][1], who << " has a query of " << in[0][1] << " features but a value of " << in[1][1]
                                        << "; Keras's GroupQueryAttention needs the same");
  t_ = in[0][0];
  s_ = in[1][0];
  return {t_, cfg_.output_dim ? cfg_.output_dim : in[0][1]};
}

std::vector<ParamSpec> MultiHeadAttention::params() const {
  const int64_t H = cfg_.num_heads, G = kv_heads(), D = cfg_.key_dim, Dv = value_dim();
  const int64_t key_in = (ins_.size() == 3 ? ins_[2] : ins_[1])[1];
  std::vector<ParamSpec> p;
  // (Keras's scope in the variable names, its Keras 3 attribute in the weights file)
  auto dense = [&](const char* scope, const char* group, Shape kernel, Shape bias) {
    ParamSpec k{"kernel", kernel, Init::glorot_uniform};
    k.scope = k.keras3_path = scope;
    k.keras3_group = group;
    p.push_back(k);
    if (!cfg_.use_bias) return;
    ParamSpec b{"bias", bias, Init::zeros};
    b.scope = b.keras3_path = scope;
    b.keras3_group = group;
    p.push_back(b);
  };
  // (GroupQueryAttention's weights file keeps its attributes' underscore: _query_dense, ...)
  const bool u = cfg_.grouped;
  dense("query", u ? "_query_dense" : "query_dense", {ins_[0][1], H, D}, {H, D});
  dense("key", u ? "_key_dense" : "key_dense", {key_in, G, D}, {G, D});
  dense("value", u ? "_value_dense" : "value_dense", {ins_[1][1], G, Dv}, {G, Dv});
  dense("attention_output", u ? "_output_dense" : "output_dense", {H, Dv, out_.back()}, {out_.back()});
  return p;
}

void MultiHeadAttention::prepare(int64_t max_batch, Context& ctx) {
  const int64_t H = cfg_.num_heads, G = kv_heads(), D = cfg_.key_dim, Dv = value_dim();
  if (ctx.cuda)
    kernels::cuda_reserve_scratch(*ctx.cuda,
                                  kernels::cuda_reduce_scratch_bytes(std::max({H * D, H * Dv, out_.back()})));
  auto floats = [&](int64_t per) { return Buffer(ctx.device, size_t(max_batch * per) * sizeof(float)); };
  for (Buffer* b : {&q_, &k_, &v_, &p_, &pd_, &c_}) *b = Buffer();  // the old ones go first
  max_batch_ = 0;
  q_ = floats(t_ * H * D);
  k_ = floats(s_ * G * D);
  v_ = floats(s_ * G * Dv);
  p_ = floats(H * t_ * s_);
  pd_ = floats(H * t_ * s_);
  c_ = floats(t_ * H * Dv);
  max_batch_ = max_batch;
}

int64_t MultiHeadAttention::workspace_elems(int64_t batch) const {
  const int64_t H = cfg_.num_heads, G = kv_heads(), D = cfg_.key_dim, Dv = value_dim();
  return batch * (t_ * H * D + s_ * G * D + s_ * G * Dv + H * t_ * s_ + t_ * H * Dv);
}

const Layer* MultiHeadAttention::wire_input_masks(const std::vector<const Layer*>& sources, const std::string& model) {
  mask_sources_ = sources;
  check_mask_steps(*this, sources, ins_, sources.size(), model);
  return sources[0];  // Keras's compute_mask: the query's mask
}

kernels::AttentionMask MultiHeadAttention::masks(int64_t n) const {
  kernels::AttentionMask m;
  m.n = n;
  m.heads = cfg_.num_heads;
  m.t = t_;
  m.s = s_;
  m.causal = cfg_.causal;
  auto of = [&](size_t k) { return k < mask_sources_.size() && mask_sources_[k] ? mask_sources_[k]->mask() : nullptr; };
  m.query = of(0);
  m.value = of(1);
  m.key = of(2);
  return m;
}

int64_t MultiHeadAttention::kept_elems(int64_t batch) const {  // Q, K, V, P twice, C
  const int64_t H = cfg_.num_heads, G = kv_heads(), D = cfg_.key_dim, Dv = value_dim();
  return batch * (t_ * H * D + s_ * G * D + s_ * G * Dv + 2 * H * t_ * s_ + t_ * H * Dv);
}

float* MultiHeadAttention::buf(const Buffer& b, int64_t n, int64_t per) const {
  DPT_CHECK(n <= max_batch_ && size_t(n * per) * sizeof(float) <= b.bytes(),
            "layer '" << name_ << "': " << n << " rows exceed the prepared batch (or it was not prepared)");
  return static_cast<float*>(b.data());
}

void MultiHeadAttention::forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) {
  const Ops op{ctx, cuda};
  const int64_t n = y.dim(0), H = cfg_.num_heads, G = kv_heads(), D = cfg_.key_dim, Dv = value_dim(), O = out_.back();
  const int64_t T = t_, S = s_, R = H / G;  // R query heads a key and value head
  const Tensor& query = xs[0];
  const Tensor& value = xs[1];
  const Tensor& key = xs.size() == 3 ? xs[2] : xs[1];
  float *q = buf(q_, n, T * H * D), *k = buf(k_, n, S * G * D), *v = buf(v_, n, S * G * Dv);
  float *p = buf(p_, n, H * T * S), *pd = buf(pd_, n, H * T * S), *c = buf(c_, n, T * H * Dv);
  auto bias = [&](int w) { return cfg_.use_bias ? w_[bias_at(w)] : nullptr; };
  op.project(query.data(), n * T, ins_[0][1], w_[kernel_at(0)], bias(0), q, H * D);
  op.project(key.data(), n * S, (xs.size() == 3 ? ins_[2] : ins_[1])[1], w_[kernel_at(1)], bias(1), k, G * D);
  op.project(value.data(), n * S, ins_[1][1], w_[kernel_at(2)], bias(2), v, G * Dv);
  // Scores per head, for every sample at once: P[b, h] (T, S) = Q[b, :, h] K[b, :, h / R]^T / sqrt(D).
  const float scale = float(1.0 / std::sqrt(double(D)));
  for (int64_t h = 0; h < H; ++h)
    op.batched(false, true, T, S, D, scale, q + h * D, H * D, T * H * D, k + (h / R) * D, G * D, S * G * D,
               p + h * T * S, S, H * T * S, n);
  const kernels::AttentionMask mask = masks(n);
  if (mask.any()) op.fill(mask, p, -1e9f);
  op.softmax(p, n * H * T, S);
  last_training_ = training_ && cfg_.dropout > 0;
  const float* used = p;
  if (last_training_) {
    op.dropout(p, pd, n, H * T * S, float(cfg_.dropout), draw_key(ctx, name_));
    used = pd;
  }
  // C[b, :, h] (T, Dv) = P[b, h] V[b, :, h / R]; the output C Wo + bo over every step.
  for (int64_t h = 0; h < H; ++h)
    op.batched(false, false, T, Dv, S, 1.f, used + h * T * S, S, H * T * S, v + (h / R) * Dv, G * Dv, S * G * Dv,
               c + h * Dv, H * Dv, T * H * Dv, n);
  op.project(c, n * T, H * Dv, w_[kernel_at(3)], bias(3), y.data(), O);
}

void MultiHeadAttention::backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy,
                                         const std::vector<Tensor*>& dxs, bool cuda) {
  const Ops op{ctx, cuda};
  const int64_t n = dy.dim(0), H = cfg_.num_heads, G = kv_heads(), D = cfg_.key_dim, Dv = value_dim(), O = out_.back();
  const int64_t T = t_, S = s_, R = H / G;
  DPT_CHECK(work_ && work_elems_ >= workspace_elems(n), class_name() << " '" << name_ << "': workspace not prepared");
  const bool own_key = xs.size() == 3;
  const Tensor& query = xs[0];
  const Tensor& value = xs[1];
  const Tensor& key = own_key ? xs[2] : xs[1];
  const float *q = buf(q_, n, T * H * D), *k = buf(k_, n, S * G * D), *v = buf(v_, n, S * G * Dv);
  const float *p = buf(p_, n, H * T * S), *c = buf(c_, n, T * H * Dv);
  float* pd = buf(pd_, n, H * T * S);
  const float* used = last_training_ ? pd : p;
  float* dq = work_;
  float* dk = dq + n * T * H * D;
  float* dv = dk + n * S * G * D;
  float* dp = dv + n * S * G * Dv;
  float* dc = dp + n * H * T * S;
  auto grad = [&](size_t at) { return at < g_.size() ? g_[at] : nullptr; };
  auto dbias = [&](int w) { return cfg_.use_bias ? grad(bias_at(w)) : nullptr; };
  // The output projection: dWo, dbo, and d(C).
  op.project_back(c, n * T, H * Dv, w_[kernel_at(3)], grad(kernel_at(3)), dbias(3), dy.data(), O, dc, false);
  // Per head: d(P used) = dC V^T, dV = (P used)^T dC (a group's heads add theirs to the first's).
  for (int64_t h = 0; h < H; ++h) {
    op.batched(false, true, T, S, Dv, 1.f, dc + h * Dv, H * Dv, T * H * Dv, v + (h / R) * Dv, G * Dv, S * G * Dv,
               dp + h * T * S, S, H * T * S, n);
    op.batched(true, false, S, Dv, T, 1.f, used + h * T * S, S, H * T * S, dc + h * Dv, H * Dv, T * H * Dv,
               dv + (h / R) * Dv, G * Dv, S * G * Dv, n, h % R ? 1.f : 0.f);
  }
  float* ds = dp;
  if (last_training_) {  // through dropout's mask (the same draws), into the probabilities' buffer it no longer needs
    op.dropout(dp, pd, n, H * T * S, float(cfg_.dropout), draw_key(ctx, name_));
    ds = pd;
  }
  op.softmax_back(p, ds, n * H * T, S);
  const kernels::AttentionMask mask = masks(n);
  if (mask.any()) op.fill(mask, ds, 0.f);  // a masked score is a constant (in a row masked throughout, p is not 0)
  // dQ = dS K / sqrt(D), dK = dS^T Q / sqrt(D), per head.
  const float scale = float(1.0 / std::sqrt(double(D)));
  for (int64_t h = 0; h < H; ++h) {
    op.batched(false, false, T, D, S, scale, ds + h * T * S, S, H * T * S, k + (h / R) * D, G * D, S * G * D,
               dq + h * D, H * D, T * H * D, n);
    op.batched(true, false, S, D, T, scale, ds + h * T * S, S, H * T * S, q + h * D, H * D, T * H * D, dk + (h / R) * D,
               G * D, S * G * D, n, h % R ? 1.f : 0.f);
  }
  float* dquery = dxs[0] ? dxs[0]->data() : nullptr;
  float* dvalue = dxs[1] ? dxs[1]->data() : nullptr;
  float* dkey = own_key ? (dxs[2] ? dxs[2]->data() : nullptr) : dvalue;  // no key of its own: the value's
  op.project_back(query.data(), n * T, ins_[0][1], w_[kernel_at(0)], grad(kernel_at(0)), dbias(0), dq, H * D, dquery,
                  false);
  op.project_back(value.data(), n * S, ins_[1][1], w_[kernel_at(2)], grad(kernel_at(2)), dbias(2), dv, G * Dv, dvalue,
                  false);
  // The key's bias adds q . b to every score of a query's row, which the softmax takes away: its
  // gradient is 0 in exact arithmetic, and left at 0 (the sum of dK's rows would be rounding noise,
  // which Adam's step, dividing by its own size, would turn into moves of about the learning rate).
  op.project_back(key.data(), n * S, (own_key ? ins_[2] : ins_[1])[1], w_[kernel_at(1)], grad(kernel_at(1)), nullptr,
                  dk, G * D, dkey, !own_key);
}

ScoreAttention::ScoreAttention(ScoreAttentionConfig cfg) : cfg_(cfg) {
  DPT_CHECK(std::isfinite(cfg_.dropout) && cfg_.dropout >= 0 && cfg_.dropout < 1,
            "Attention dropout must be in [0, 1), got " << cfg_.dropout);
}

std::string ScoreAttention::config_str() const {
  std::vector<std::string> parts;  // the settings other than Keras's defaults (use_scale: True for AdditiveAttention)
  if (!additive()) parts.push_back(cfg_.score == ScoreAttentionConfig::concat ? "score_mode=concat" : "score_mode=dot");
  if (cfg_.use_scale != additive()) parts.push_back(cfg_.use_scale ? "use_scale=True" : "use_scale=False");
  if (cfg_.dropout > 0) {
    std::ostringstream d;
    d << "dropout=" << cfg_.dropout;
    parts.push_back(d.str());
  }
  if (cfg_.causal) parts.push_back("use_causal_mask=True");
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

Shape ScoreAttention::output_shape_of(const std::vector<Shape>& in) {
  const std::string who = "layer '" + name_ + "' (" + class_name() + ")";
  DPT_CHECK(in.size() == 2 || in.size() == 3,
            who << " is called on [query, value] or [query, value, key], not " << in.size() << " tensors");
  const char* what[] = {"query", "value", "key"};
  for (size_t k = 0; k < in.size(); ++k)
    DPT_CHECK(in[k].size() == 2,
              who << " expects a " << what[k] << " of shape (steps, features), got " << shape_str(in[k]));
  const Shape& key = in.size() == 3 ? in[2] : in[1];
  DPT_CHECK(key[0] == in[1][0], who << " has a key of " << key[0] << " steps but a value of " << in[1][0]
                                    << "; they must have the same steps");
  DPT_CHECK(key[1] == in[0][1], who << " has a query of " << in[0][1] << " features but a key of " << key[1]
                                    << (cfg_.score == ScoreAttentionConfig::dot ? "; their dot products need the same"
                                                                                : "; their sums need the same"));
  t_ = in[0][0];
  s_ = in[1][0];
  dim_ = in[0][1];
  dv_ = in[1][1];
  return {t_, dv_};
}

std::vector<ParamSpec> ScoreAttention::params() const {
  std::vector<ParamSpec> p;
  if (cfg_.use_scale)
    p.push_back(additive() ? ParamSpec{"scale", {dim_}, Init::glorot_uniform} : ParamSpec{"scale", {}, Init::ones});
  if (cfg_.score == ScoreAttentionConfig::concat) p.push_back({"concat_score_weight", {}, Init::ones});
  return p;
}

void ScoreAttention::prepare(int64_t max_batch, Context& ctx) {
  if (ctx.cuda) kernels::cuda_reserve_scratch(*ctx.cuda, kernels::cuda_reduce_scratch_bytes(1));
  auto floats = [&](int64_t per) { return Buffer(ctx.device, size_t(max_batch * per) * sizeof(float)); };
  for (Buffer* b : {&r_, &p_, &pd_}) *b = Buffer();
  max_batch_ = 0;
  if (cfg_.use_scale && cfg_.score == ScoreAttentionConfig::dot) r_ = floats(t_ * s_);
  p_ = floats(t_ * s_);
  pd_ = floats(t_ * s_);
  max_batch_ = max_batch;
}

// dP, then scratch: dot scores' (the scale's products, or dK), or the concatenation scores' weights' sums.
int64_t ScoreAttention::workspace_elems(int64_t batch) const {
  if (cfg_.score != ScoreAttentionConfig::dot) return batch * (t_ * s_ + 2 * dim_);
  return batch * (t_ * s_ + std::max(t_ * s_, s_ * dim_));
}

int64_t ScoreAttention::kept_elems(int64_t batch) const {
  return batch * (cfg_.use_scale && cfg_.score == ScoreAttentionConfig::dot ? 3 : 2) * t_ * s_;
}

kernels::ConcatScores ScoreAttention::concat_scores(const float* q, const float* k, int64_t n) const {
  kernels::ConcatScores m;
  m.n = n;
  m.t = t_;
  m.s = s_;
  m.d = dim_;
  m.q = q;
  m.k = k;
  if (additive()) {
    if (cfg_.use_scale) m.w = w_[0];
  } else {
    if (cfg_.use_scale) m.a = w_[0];
    m.c = w_[cfg_.use_scale ? 1 : 0];
  }
  return m;
}

const Layer* ScoreAttention::wire_input_masks(const std::vector<const Layer*>& sources, const std::string& model) {
  mask_sources_ = sources;
  check_mask_steps(*this, sources, ins_, 2, model);  // (Keras reads the query's and the value's masks)
  return sources[0];
}

kernels::AttentionMask ScoreAttention::masks(int64_t n) const {
  kernels::AttentionMask m;
  m.n = n;
  m.t = t_;
  m.s = s_;
  m.causal = cfg_.causal;
  m.value = mask_sources_.size() > 1 && mask_sources_[1] ? mask_sources_[1]->mask() : nullptr;
  return m;
}

void ScoreAttention::forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) {
  const Ops op{ctx, cuda};
  const int64_t n = y.dim(0), T = t_, S = s_;
  DPT_CHECK(n <= max_batch_, "layer '" << name_ << "': " << n << " rows exceed the prepared batch");
  const float* q = xs[0].data();
  const float* v = xs[1].data();
  const float* k = (xs.size() == 3 ? xs[2] : xs[1]).data();
  float* p = static_cast<float*>(p_.data());
  if (cfg_.score != ScoreAttentionConfig::dot) {
    const kernels::ConcatScores cs = concat_scores(q, k, n);
    if (cuda)
      kernels::concat_scores_cuda(cs, p, op.stream());
    else
      kernels::concat_scores_cpu(cs, p);
  } else {
    float* raw = cfg_.use_scale ? static_cast<float*>(r_.data()) : p;
    op.batched(false, true, T, S, dim_, 1.f, q, dim_, T * dim_, k, dim_, S * dim_, raw, S, T * S, n);
    if (cfg_.use_scale) op.scale_by(raw, p, n * T * S, w_[0]);  // Keras: (q k^T) scale
  }
  const kernels::AttentionMask mask = masks(n);
  if (mask.any()) op.fill(mask, p, -1e9f);
  op.softmax(p, n * T, S);
  last_training_ = training_ && cfg_.dropout > 0;
  const float* used = p;
  if (last_training_) {
    op.dropout(p, static_cast<float*>(pd_.data()), n, T * S, float(cfg_.dropout), draw_key(ctx, name_));
    used = static_cast<float*>(pd_.data());
  }
  op.batched(false, false, T, dv_, S, 1.f, used, S, T * S, v, dv_, S * dv_, y.data(), dv_, T * dv_, n);
  if (const Layer* qm = mask_sources_.empty() ? nullptr : mask_sources_[0])
    op.mask_rows(y.data(), n * T, dv_, qm->mask());
}

void ScoreAttention::backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy,
                                     const std::vector<Tensor*>& dxs, bool cuda) {
  const Ops op{ctx, cuda};
  const int64_t n = dy.dim(0), T = t_, S = s_;
  DPT_CHECK(work_ && work_elems_ >= workspace_elems(n), "Attention '" << name_ << "': workspace not prepared");
  const bool own_key = xs.size() == 3;
  const float* q = xs[0].data();
  const float* v = xs[1].data();
  const float* k = (own_key ? xs[2] : xs[1]).data();
  const float* p = static_cast<const float*>(p_.data());
  float* pd = static_cast<float*>(pd_.data());
  const float* used = last_training_ ? pd : p;
  float* dp = work_;
  float* scratch = dp + n * T * S;
  if (const Layer* qm = mask_sources_.empty() ? nullptr : mask_sources_[0])
    op.mask_rows(dy.data(), n * T, dv_, qm->mask());
  // d(P used) = dY V^T; dV = (P used)^T dY.
  op.batched(false, true, T, S, dv_, 1.f, dy.data(), dv_, T * dv_, v, dv_, S * dv_, dp, S, T * S, n);
  float* dvalue = dxs[1] ? dxs[1]->data() : nullptr;
  if (dvalue) op.batched(true, false, S, dv_, T, 1.f, used, S, T * S, dy.data(), dv_, T * dv_, dvalue, dv_, S * dv_, n);
  float* ds = dp;
  if (last_training_) {
    op.dropout(dp, pd, n, T * S, float(cfg_.dropout), draw_key(ctx, name_));
    ds = pd;
  }
  op.softmax_back(p, ds, n * T, S);
  const kernels::AttentionMask mask = masks(n);
  if (mask.any()) op.fill(mask, ds, 0.f);
  float* dkey = own_key ? (dxs[2] ? dxs[2]->data() : nullptr) : dvalue;
  if (cfg_.score != ScoreAttentionConfig::dot) {
    const kernels::ConcatScores cs = concat_scores(q, k, n);
    kernels::ConcatGrads g;
    g.dq = dxs[0] ? dxs[0]->data() : nullptr;
    g.dk = dkey;
    g.add_dk = !own_key;  // the value is the key: dV is there already
    auto grad = [&](size_t i) { return i < g_.size() ? g_[i] : nullptr; };
    if (additive()) {
      if (cfg_.use_scale) g.dw = grad(0);
    } else {
      if (cfg_.use_scale) g.da = grad(0);
      g.dc = grad(cfg_.use_scale ? 1 : 0);
    }
    if (cuda)
      kernels::concat_scores_backward_cuda(cs, ds, g, scratch, op.stream());
    else
      kernels::concat_scores_backward_cpu(cs, ds, g, scratch);
    return;
  }
  if (cfg_.use_scale) {  // d(scale) = sum(dS . q k^T); then dS scale is the raw scores' gradient
    if (g_.size() && g_[0]) op.dot_into(ds, static_cast<const float*>(r_.data()), n * T * S, scratch, g_[0]);
    op.scale_by(ds, ds, n * T * S, w_[0]);
  }
  // dQ = dS K; dK = dS^T Q (into the value's gradient where the value is the key).
  if (dxs[0])
    op.batched(false, false, T, dim_, S, 1.f, ds, S, T * S, k, dim_, S * dim_, dxs[0]->data(), dim_, T * dim_, n);
  if (!dkey) return;
  if (own_key || !dvalue) {
    op.batched(true, false, S, dim_, T, 1.f, ds, S, T * S, q, dim_, T * dim_, dkey, dim_, S * dim_, n);
    return;
  }
  // the value is the key too: add dS^T Q to dV (through scratch: batched GEMMs here overwrite)
  op.batched(true, false, S, dim_, T, 1.f, ds, S, T * S, q, dim_, T * dim_, scratch, dim_, S * dim_, n);
  if (cuda)
    kernels::add_into_cuda(dvalue, scratch, n * S * dim_, op.stream());
  else
    kernels::add_into_cpu(dvalue, scratch, n * S * dim_);
}

}  // namespace dpt
