// Keras's MultiHeadAttention(num_heads, key_dim, value_dim, dropout, use_bias, output_shape) on
// sequences (Keras tensors of rank 3: samples of (steps, features)), called on a query (T, Eq) and a
// value (S, Ev), and a key (S, Ek) when given (else the value is the key too); use_causal_mask
// (a call argument in Keras) keeps query step i from steps after i, and masks reaching the inputs
// (an Embedding's mask_zero) drop the steps they drop, as Keras's attention mask.
//
// As Keras computes it, H heads of key_dim D (value_dim Dv), per sample:
//   Q = query Wq + bq (T, H, D), K = key Wk + bk (S, H, D), V = value Wv + bv (S, H, Dv)
//   per head h: P_h = softmax(Q_h K_h^T / sqrt(D)) (T, S), its masked entries 0; dropout on P_h in
//   training (dptrain's draws, keyed per sample as Dropout's)
//   C_h = P_h V_h (T, Dv), output = C Wo + bo (T, O), O = output_shape or Eq.
// Keras's weights: query/kernel (Eq, H, D), query/bias (H, D), key/..., value/... (Ev, H, Dv),
// attention_output/kernel (H, Dv, O), attention_output/bias (O), each projection an EinsumDense
// (Keras 3's .weights.h5: query_dense, key_dense, value_dense, output_dense).
// Keras 3's GroupQueryAttention is the same with G key and value heads (K, V: (S, G, D)), query
// head h reading K_g and V_g, g = h / (H / G); its key and value kernels (E, G, D), its output
// kernel (H, D, Eq). Backward adds the group's heads' dK_g, dV_g in place (beta 1 after the first).
//
// The projections are GEMMs over every step of the batch; the per-head products are strided
// batched GEMMs over the samples, one call a head (the heads sit side by side in a step's row, so
// no transposes). The key's bias has no gradient (the softmax is blind to it: see backward). Q, K, V, the probabilities
// (before and after dropout) and C are kept per replica for backward; their gradients live in the model's shared
// workspace.
#pragma once
#include "core/layers/merge.h"
#include "core/tensor.h"
#include "kernels/attention.h"

namespace dpt {

struct AttentionConfig {
  int64_t num_heads = 1, key_dim = 1;
  // Keras 3's GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads): num_heads query
  // heads of key_dim (its head_dim) share kv_heads key and value heads, query head h reading key and
  // value head h / (num_heads / kv_heads) (Keras's ops.repeat); its values are key_dim wide and its
  // output the query's features.
  bool grouped = false;
  int64_t kv_heads = 0;    // 0: num_heads
  int64_t value_dim = 0;   // 0: key_dim (Keras's None)
  int64_t output_dim = 0;  // 0: the query's features (Keras's output_shape None)
  double dropout = 0;
  bool use_bias = true;
  bool causal = false;  // use_causal_mask=True at the call
};

class MultiHeadAttention : public MergeLayer {
 public:
  explicit MultiHeadAttention(AttentionConfig cfg);
  std::string class_name() const override { return cfg_.grouped ? "GroupQueryAttention" : "MultiHeadAttention"; }
  std::string default_name() const override {
    return cfg_.grouped ? "grouped_query_attention" : "multi_head_attention";
  }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<MultiHeadAttention>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  const AttentionConfig& config() const { return cfg_; }
  int64_t value_dim() const { return cfg_.value_dim ? cfg_.value_dim : cfg_.key_dim; }
  int64_t kv_heads() const { return cfg_.kv_heads ? cfg_.kv_heads : cfg_.num_heads; }
  int64_t output_dim() const { return out_.back(); }
  bool has_key() const { return ins_.size() == 3; }  // called on a key of its own
  void prepare(int64_t max_batch, Context& ctx) override;
  // Keras's masks: the query's and the value's (and key's) masks make the attention mask; the
  // output carries the query's.
  const Layer* wire_input_masks(const std::vector<const Layer*>& sources, const std::string& model) override;
  int64_t workspace_elems(int64_t batch) const override;
  int64_t kept_elems(int64_t batch) const override;

 protected:
  Shape output_shape_of(const std::vector<Shape>& inputs) override;
  void forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) override;
  void backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                       bool cuda) override;

 private:
  // Weight k (0 query, 1 key, 2 value, 3 output): its kernel's and bias's index in w_ / g_.
  size_t kernel_at(int k) const { return size_t(cfg_.use_bias ? 2 * k : k); }
  size_t bias_at(int k) const { return size_t(2 * k + 1); }
  kernels::AttentionMask masks(int64_t n) const;  // the causal mask and the inputs' masks of the last forward
  float* buf(const Buffer& b, int64_t n, int64_t per) const;  // checked against the prepared batch
  AttentionConfig cfg_;
  int64_t t_ = 0, s_ = 0;  // query and value steps
  std::vector<const Layer*> mask_sources_;  // per input: the layer whose mask reaches it (null: none)
  Buffer q_, k_, v_, p_, pd_, c_;
  int64_t max_batch_ = 0;
  bool last_training_ = false;
};

// Keras's Attention(use_scale, score_mode, dropout) and AdditiveAttention(use_scale, dropout),
// called on [query, value] or [query, value, key] of (steps, features) samples, the key's features
// the query's. Per sample, the scores S (T, S) are
//   Attention, score_mode="dot" (Luong's): Q K^T, times the trainable scalar `scale` where use_scale
//     (ones);
//   Attention, score_mode="concat": c sum_f tanh(a (Q[i,f] + K[j,f])), c the trainable scalar
//     `concat_score_weight` (ones) and a the scalar `scale` where use_scale (ones), else 1;
//   AdditiveAttention (Bahdanau's): sum_f w[f] tanh(Q[i,f] + K[j,f]), w the trainable vector
//     `scale` (features, glorot_uniform) where use_scale (its default), else 1;
// then P = softmax(S), its masked scores less 1e9 (the value's mask and use_causal_mask), dropout
// on P in training, output P V (T, value features), zeroed at the steps the query's mask drops,
// which it passes on (Keras's compute_mask).
struct ScoreAttentionConfig {
  bool use_scale = false;
  double dropout = 0;
  bool causal = false;
  enum Score { dot, concat, additive };
  Score score = dot;  // Attention's score_mode "dot" or "concat", or AdditiveAttention
};

class ScoreAttention : public MergeLayer {
 public:
  explicit ScoreAttention(ScoreAttentionConfig cfg);
  std::string class_name() const override { return additive() ? "AdditiveAttention" : "Attention"; }
  std::string default_name() const override { return additive() ? "additive_attention" : "attention"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<ScoreAttention>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  const ScoreAttentionConfig& config() const { return cfg_; }
  void prepare(int64_t max_batch, Context& ctx) override;
  int64_t workspace_elems(int64_t batch) const override;
  int64_t kept_elems(int64_t batch) const override;
  const Layer* wire_input_masks(const std::vector<const Layer*>& sources, const std::string& model) override;

 protected:
  Shape output_shape_of(const std::vector<Shape>& inputs) override;
  void forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) override;
  void backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                       bool cuda) override;

 private:
  kernels::AttentionMask masks(int64_t n) const;
  bool additive() const { return cfg_.score == ScoreAttentionConfig::additive; }
  // The concatenation scores' operands (concat and additive) for n samples.
  kernels::ConcatScores concat_scores(const float* q, const float* k, int64_t n) const;
  ScoreAttentionConfig cfg_;
  int64_t t_ = 0, s_ = 0, dim_ = 0, dv_ = 0;
  std::vector<const Layer*> mask_sources_;
  // The dot scores before the scale (use_scale), the probabilities, after dropout.
  Buffer r_, p_, pd_;
  int64_t max_batch_ = 0;
  bool last_training_ = false;
};

}  // namespace dpt
