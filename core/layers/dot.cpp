// Dot through kernels/dot.h's contraction (and kernels/unit_norm.h when it normalizes).
#include "core/layers/dot.h"
#include "core/error.h"

namespace dpt {

Dot::Dot(std::vector<int64_t> axes, bool normalize, bool axes_is_pair)
    : axes_(std::move(axes)), normalize_(normalize), pair_(axes_is_pair) {
  DPT_CHECK(axes_.size() == (pair_ ? 2u : 1u), "Dot takes one axis or a pair of axes, got " << axes_.size());
}

std::string Dot::config_str() const {
  std::string s = pair_ ? "axes=(" + std::to_string(axes_[0]) + ", " + std::to_string(axes_[1]) + ")"
                        : "axes=" + std::to_string(axes_[0]);
  return normalize_ ? s + ", normalize=True" : s;
}

// (None, 3, 4): a Keras tensor's shape, with its batch.
static std::string with_batch(const Shape& s) {
  std::string out = "(None";
  for (int64_t d : s) out += ", " + std::to_string(d);
  return out + ")";
}

Shape Dot::output_shape_of(const std::vector<Shape>& inputs) {
  const std::string me = "layer '" + name_ + "' (Dot)";
  DPT_CHECK(inputs.size() == 2, me << " takes exactly 2 inputs, got " << inputs.size());
  Side* sides[2] = {&x_, &y_};
  int64_t dims[2] = {0, 0};
  Shape out;
  for (size_t k = 0; k < 2; ++k) {
    const Shape& s = inputs[k];
    DPT_CHECK(s.size() == 1 || s.size() == 2,
              me << ": input " << k << " has samples of shape " << shape_str(s)
                 << "; dptrain's Dot takes samples of 1 or 2 axes (Keras tensors of rank 2 or 3)");
    const int64_t rank = int64_t(s.size()) + 1;  // Keras's, with the batch
    const int64_t given = axes_[pair_ ? k : 0];
    // Keras: a negative axis counts from the end of each input's axes (Python's modulo).
    const int64_t axis = given < 0 ? ((given % rank) + rank) % rank : given;
    DPT_CHECK(axis >= 1 && axis < rank, me << " " << config_str() << ": input " << k << " of shape " << with_batch(s)
                                           << " has no axis " << given
                                           << (axis == 0 ? " to sum over (axis 0 is the batch)" : ""));
    const size_t a = size_t(axis - 1);  // among the sample's axes
    Side& side = *sides[k];
    side.numel = shape_numel(s);
    side.k = s[a];
    if (s.size() == 1) {
      side.other = 1;
      side.other_stride = 0;
      side.k_stride = 1;
    } else {
      side.other = s[1 - a];
      side.other_stride = a == 0 ? 1 : s[1];
      side.k_stride = a == 0 ? s[1] : 1;
      out.push_back(side.other);
    }
    dims[k] = side.k;
  }
  DPT_CHECK(dims[0] == dims[1], me << " " << config_str() << ": the inputs' dot axes differ in size (input 0 "
                                   << with_batch(inputs[0]) << " has " << dims[0] << ", input 1 "
                                   << with_batch(inputs[1]) << " has " << dims[1] << ")");
  if (out.empty()) out.push_back(1);
  return out;
}

int64_t Dot::workspace_elems(int64_t batch) const {
  // normalize: the normalized inputs and their gradients, recomputed in backward
  return normalize_ ? 2 * batch * (x_.numel + y_.numel) : 0;
}

kernels::NormRows Dot::rows_of(const Side& s, int64_t batch) const {
  kernels::NormRows r;
  r.outer = batch;
  r.outer_stride = s.numel;
  r.inner = s.other;
  r.inner_stride = s.other_stride;
  r.cols = s.k;
  r.col_stride = s.k_stride;
  r.max_inv = kernels::kDotNormMaxInv;
  return r;
}

void Dot::contract(Context& ctx, bool cuda, const float* a, const float* b, float* c, int64_t batch,
                   const kernels::Contraction& d) const {
  if (cuda)
    kernels::contract_cuda(a, b, c, batch, d, stream(ctx));
  else
    kernels::contract_cpu(a, b, c, batch, d);
}

static void normalize_rows(bool cuda, const float* x, float* y, const kernels::NormRows& r, void* stream) {
  if (cuda)
    kernels::unit_norm_forward_cuda(x, y, r, stream);
  else
    kernels::unit_norm_forward_cpu(x, y, r);
}

void Dot::forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) {
  const int64_t n = y.dim(0);
  const float *a = xs[0].data(), *b = xs[1].data();
  if (normalize_) {
    float* an = work_;
    float* bn = work_ + n * x_.numel;
    void* s = cuda ? stream(ctx) : nullptr;
    normalize_rows(cuda, a, an, rows_of(x_, n), s);
    normalize_rows(cuda, b, bn, rows_of(y_, n), s);
    a = an;
    b = bn;
  }
  kernels::Contraction d;
  d.I = x_.other;
  d.J = y_.other;
  d.T = x_.k;
  d.sa = x_.numel, d.ai = x_.other_stride, d.at = x_.k_stride;
  d.sb = y_.numel, d.bj = y_.other_stride, d.bt = y_.k_stride;
  d.sc = x_.other * y_.other, d.ci = y_.other, d.cj = 1;
  contract(ctx, cuda, a, b, y.data(), n, d);
}

void Dot::backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                          bool cuda) {
  const int64_t n = dy.dim(0);
  const int64_t P = x_.other, Q = y_.other;
  const float *a = xs[0].data(), *b = xs[1].data();
  float *an = nullptr, *bn = nullptr, *dan = nullptr, *dbn = nullptr;
  void* s = cuda ? stream(ctx) : nullptr;
  if (normalize_) {  // the forward's normalized inputs again, and room for their gradients
    an = work_;
    bn = an + n * x_.numel;
    dan = bn + n * y_.numel;
    dbn = dan + n * x_.numel;
    normalize_rows(cuda, a, an, rows_of(x_, n), s);
    normalize_rows(cuda, b, bn, rows_of(y_, n), s);
  }
  const float* use_a = normalize_ ? an : a;
  const float* use_b = normalize_ ? bn : b;
  // An input's gradient: the contraction d of dC with the other input, into dx or (normalize) into
  // scratch dn and back through the normalization of x.
  auto input_grad = [&](const kernels::Contraction& d, const float* other, const float* x, float* dn, Tensor* dx,
                        const Side& side) {
    contract(ctx, cuda, dy.data(), other, normalize_ ? dn : dx->data(), n, d);
    if (!normalize_) return;
    if (cuda)
      kernels::unit_norm_backward_cuda(x, dn, dx->data(), rows_of(side, n), s);
    else
      kernels::unit_norm_backward_cpu(x, dn, dx->data(), rows_of(side, n));
  };
  if (dxs[0]) {  // dA[p, k] = sum over q of dC[p, q] B[q, k]
    kernels::Contraction d;
    d.I = P, d.J = x_.k, d.T = Q;
    d.sa = P * Q, d.ai = Q, d.at = 1;
    d.sb = y_.numel, d.bj = y_.k_stride, d.bt = y_.other_stride;
    d.sc = x_.numel, d.ci = x_.other_stride, d.cj = x_.k_stride;
    input_grad(d, use_b, a, dan, dxs[0], x_);
  }
  if (dxs[1]) {  // dB[q, k] = sum over p of dC[p, q] A[p, k]
    kernels::Contraction d;
    d.I = Q, d.J = y_.k, d.T = P;
    d.sa = P * Q, d.ai = 1, d.at = Q;
    d.sb = x_.numel, d.bj = x_.k_stride, d.bt = x_.other_stride;
    d.sc = y_.numel, d.ci = y_.other_stride, d.cj = y_.k_stride;
    input_grad(d, use_a, b, dbn, dxs[1], y_);
  }
}

}  // namespace dpt
