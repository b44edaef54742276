// Keras's LSTM, GRU and SimpleRNN cells, one (sample, unit) at a time, for the CPU loops and the CUDA kernels
// alike. With the default activations (sigmoid for the gates, tanh elsewhere; see below):
// LSTM: a step's pre-activations z (4 units: Keras's gate order i, f, c, o) become the gates
// i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_c), o = sigmoid(z_o); then
// c = f * c_prev + i * g and h = o * tanh(c).
// GRU (reset_after=True, Keras's default): the input part x (x kernel + input bias) and the
// recurrent part q (h_prev recurrent_kernel + recurrent bias), 3 units each in Keras's order z, r, h:
// z = sigmoid(x_z + q_z), r = sigmoid(x_r + q_r), hh = tanh(x_h + r q_h), h = z h_prev + (1 - z) hh.
// SimpleRNN: h = tanh(x kernel + bias + h_prev recurrent_kernel).
//
// Keras's activation (the candidate's and the output's, tanh by default) and recurrent_activation
// (the gates', sigmoid by default) may be any activation whose slope its output gives
// (activation_math.h's kinds before gelu, softmax excepted): CellActs carries them, and the cells
// take them as a template parameter, DefaultActs being the defaults fixed at compile time.
//
// The cells' sigmoid and tanh are rnn_sigmoid and rnn_tanh: for float, branch-free polynomial forms
// (within 2 float ulps of the correctly rounded values; tests/kernels/test_recurrent_math.cpp) that
// the CPU loops vectorise, where glibc's scalar expf and tanhf took a quarter of an LSTM step; CUDA
// runs the same formulas. For double, the library's functions.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "kernels/activation_math.h"
#include "kernels/exp_math.h"
#include "kernels/hd.h"

namespace dpt::kernels {

template <typename T>
DPT_HD T rnn_sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
template <>
DPT_HD float rnn_sigmoid<float>(float x) {  // e = exp(-|x|) never overflows: 1 / (1 + e), or e / (1 + e)
  const float e = poly_expf(-(x < 0.f ? -x : x));
  return (x < 0.f ? e : 1.f) / (1.f + e);
}

template <typename T>
DPT_HD T rnn_tanh(T x) {
  return std::tanh(x);
}
template <>
DPT_HD float rnn_tanh<float>(float x) {
  // |x| < 0.625: Cephes's odd polynomial; else (1 - e) / (1 + e) with e = exp(-2|x|).
  const float a = x < 0.f ? -x : x, s = x * x;
  const float small =
      ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s + 1.33314422036e-1f) * s -
       3.33332819422e-1f) *
          s * x +
      x;
  const float e = poly_expf(-2.f * a), big = (1.f - e) / (1.f + e);
  return a < 0.625f ? small : (x < 0.f ? -big : big);
}

// tanh and sigmoid, the defaults: rnn_tanh and rnn_sigmoid, slopes from the outputs.
struct DefaultActs {
  template <typename T>
  DPT_HD T act(T x) const {
    return rnn_tanh(x);
  }
  template <typename T>
  DPT_HD T rec(T x) const {
    return rnn_sigmoid(x);
  }
  template <typename T>
  DPT_HD T act_slope(T y) const {
    return T(1) - y * y;
  }
  template <typename T>
  DPT_HD T rec_slope(T y) const {
    return y * (T(1) - y);
  }
};

// Any pair: tanh and sigmoid through the same forms as DefaultActs, the others through
// activation_math.h; each slope from the activation's output.
struct CellActs {
  Activation a = Activation::tanh;     // activation
  Activation r = Activation::sigmoid;  // recurrent_activation
  DPT_HD bool is_default() const { return a == Activation(Activation::tanh) && r == Activation(Activation::sigmoid); }
  template <typename T>
  DPT_HD static T apply(Activation k, T x) {
    return k == Activation::tanh ? rnn_tanh(x) : k == Activation::sigmoid ? rnn_sigmoid(x) : activation_fwd(k, x);
  }
  template <typename T>
  DPT_HD T act(T x) const {
    return apply(a, x);
  }
  template <typename T>
  DPT_HD T rec(T x) const {
    return apply(r, x);
  }
  template <typename T>
  DPT_HD T act_slope(T y) const {
    return activation_bwd(a, y, T(1));
  }
  template <typename T>
  DPT_HD T rec_slope(T y) const {
    return activation_bwd(r, y, T(1));
  }
};

// The gates of one unit, in place in z[0], z[U], z[2U], z[3U]; c and h of this step.
template <typename Acts, typename T>
DPT_HD void lstm_cell(const Acts& k, T* zi, T* zf, T* zg, T* zo, T c_prev, T* c, T* h) {
  const T i = k.rec(*zi), f = k.rec(*zf), g = k.act(*zg), o = k.rec(*zo);
  *zi = i, *zf = f, *zg = g, *zo = o;
  const T cn = f * c_prev + i * g;
  *c = cn;
  *h = o * k.act(cn);
}

// Backward through one unit's step: dh is the gradient at h (from the output and the next step's
// recurrence), *dc the gradient at c from the next step, replaced by the gradient at c_prev; the
// pre-activations' gradients go to dz (i, f, c, o).
template <typename Acts, typename T>
DPT_HD void lstm_cell_grad(const Acts& k, T i, T f, T g, T o, T c_prev, T c, T dh, T* dc, T* dzi, T* dzf, T* dzg,
                           T* dzo) {
  const T tc = k.act(c);
  const T dcell = *dc + dh * o * k.act_slope(tc);
  *dzi = dcell * g * k.rec_slope(i);
  *dzf = dcell * c_prev * k.rec_slope(f);
  *dzg = dcell * i * k.act_slope(g);
  *dzo = dh * tc * k.rec_slope(o);
  *dc = dcell * f;
}

// GRU: the gates z, r and hh replace x's three parts (in place); h of this step.
template <typename Acts, typename T>
DPT_HD void gru_cell(const Acts& k, T* xz, T* xr, T* xh, T qz, T qr, T qh, T h_prev, T* h) {
  const T z = k.rec(*xz + qz), r = k.rec(*xr + qr), hh = k.act(*xh + r * qh);
  *xz = z, *xr = r, *xh = hh;
  *h = z * h_prev + (T(1) - z) * hh;
}

// Backward through one GRU unit's step: dh the gradient at h; the gradients of x's parts (dx*) and
// of q's (dq*) written; *dh_prev gets the gradient at h_prev through z's blend alone (the
// recurrence's part, dq recurrent_kernel^T, is added by the caller).
template <typename Acts, typename T>
DPT_HD void gru_cell_grad(const Acts& k, T z, T r, T hh, T qh, T h_prev, T dh, T* dxz, T* dxr, T* dxh, T* dqz, T* dqr,
                          T* dqh, T* dh_prev) {
  const T dpre_h = dh * (T(1) - z) * k.act_slope(hh);
  const T dpre_z = dh * (h_prev - hh) * k.rec_slope(z);
  const T dpre_r = dpre_h * qh * k.rec_slope(r);
  *dxz = dpre_z, *dxr = dpre_r, *dxh = dpre_h;
  *dqz = dpre_z, *dqr = dpre_r, *dqh = dpre_h * r;
  *dh_prev = dh * z;
}

// GRU with reset_after=False (Keras 2.0-2.2's default): the reset gate scales h_{t-1} before the
// recurrent kernel, hh = act(x_h + (r h_{t-1}) U_h), so a step runs in two halves around that GEMM.
// First half: z and r (in place of x's parts) from x's and q's (h_{t-1} U_z, U_r); *rh = r h_src,
// h_src being h_{t-1} (times its recurrent-dropout mask where there is one).
template <typename Acts, typename T>
DPT_HD void gru_v1_gates(const Acts& k, T* xz, T* xr, T qz, T qr, T h_src, T* rh) {
  const T z = k.rec(*xz + qz), r = k.rec(*xr + qr);
  *xz = z, *xr = r;
  *rh = r * h_src;
}
// Second half: *xh holds x_h + (r h_src) U_h; the candidate replaces it; h of this step.
template <typename Acts, typename T>
DPT_HD void gru_v1_blend(const Acts& k, T z, T* xh, T h_prev, T* h) {
  const T hh = k.act(*xh);
  *xh = hh;
  *h = z * h_prev + (T(1) - z) * hh;
}
// Backward through the second half: dh the gradient at h; the pre-activations' gradients of z and
// of the candidate written; *dh_prev the gradient at h_prev through the blend.
template <typename Acts, typename T>
DPT_HD void gru_v1_blend_grad(const Acts& k, T z, T hh, T h_prev, T dh, T* dxz, T* dxh, T* dh_prev) {
  *dxh = dh * (T(1) - z) * k.act_slope(hh);
  *dxz = dh * (h_prev - hh) * k.rec_slope(z);
  *dh_prev = dh * z;
}
// Backward through the first half: drh the gradient at r h_src (dxh U_h^T): r's pre-activation's
// gradient written; the share of h_src (times its mask) returned, for h_prev's gradient.
template <typename Acts, typename T>
DPT_HD T gru_v1_gates_grad(const Acts& k, T r, T h_src, T drh, T* dxr) {
  *dxr = drh * h_src * k.rec_slope(r);
  return drh * r;
}

}  // namespace dpt::kernels
