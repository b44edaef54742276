// Keras's LSTM, GRU and SimpleRNN cells, one (sample, unit) at a time, for the CPU loops and the CUDA kernels
// alike.
// LSTM: a step's pre-activations z (4 units: Keras's gate order i, f, c, o) become the gates
// i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_c), o = sigmoid(z_o); then
// c = f * c_prev + i * g and h = o * tanh(c).
// GRU (reset_after=True, Keras's default): the input part x (x kernel + input bias) and the
// recurrent part q (h_prev recurrent_kernel + recurrent bias), 3 units each in Keras's order z, r, h:
// z = sigmoid(x_z + q_z), r = sigmoid(x_r + q_r), hh = tanh(x_h + r q_h), h = z h_prev + (1 - z) hh.
// SimpleRNN: h = tanh(x kernel + bias + h_prev recurrent_kernel).
//
// The cells' sigmoid and tanh are rnn_sigmoid and rnn_tanh: for float, branch-free polynomial forms
// (within 2 float ulps of the correctly rounded values; tests/kernels/test_recurrent_math.cpp) that
// the CPU loops vectorise, where glibc's scalar expf and tanhf took a quarter of an LSTM step; CUDA
// runs the same formulas. For double, the library's functions.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "kernels/hd.h"

namespace dpt::kernels {

// exp(x) for float: x = k ln2 + r with |r| <= ln2 / 2 (ln2 split in two parts so that k ln2 is
// exact), e^r by a degree-7 polynomial (Cephes's expf coefficients), times 2^k made in the exponent
// bits. x is clamped to [-87, 88], where 2^k stays a normal float.
DPT_HD float rnn_expf(float x) {
  x = x < -87.f ? -87.f : (x > 88.f ? 88.f : x);
  const float k = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (int32_t(k) + 127) << 23;
  float scale;
#if defined(__CUDA_ARCH__)
  scale = __int_as_float(bits);
#else
  std::memcpy(&scale, &bits, sizeof scale);
#endif
  return p * scale;
}

template <typename T>
DPT_HD T rnn_sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
template <>
DPT_HD float rnn_sigmoid<float>(float x) {  // e = exp(-|x|) never overflows: 1 / (1 + e), or e / (1 + e)
  const float e = rnn_expf(-(x < 0.f ? -x : x));
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
  const float e = rnn_expf(-2.f * a), big = (1.f - e) / (1.f + e);
  return a < 0.625f ? small : (x < 0.f ? -big : big);
}

// The gates of one unit, in place in z[0], z[U], z[2U], z[3U]; c and h of this step.
template <typename T>
DPT_HD void lstm_cell(T* zi, T* zf, T* zg, T* zo, T c_prev, T* c, T* h) {
  const T i = rnn_sigmoid(*zi), f = rnn_sigmoid(*zf), g = rnn_tanh(*zg), o = rnn_sigmoid(*zo);
  *zi = i, *zf = f, *zg = g, *zo = o;
  const T cn = f * c_prev + i * g;
  *c = cn;
  *h = o * rnn_tanh(cn);
}

// Backward through one unit's step: dh is the gradient at h (from the output and the next step's
// recurrence), *dc the gradient at c from the next step, replaced by the gradient at c_prev; the
// pre-activations' gradients go to dz (i, f, c, o).
template <typename T>
DPT_HD void lstm_cell_grad(T i, T f, T g, T o, T c_prev, T c, T dh, T* dc, T* dzi, T* dzf, T* dzg, T* dzo) {
  const T tc = rnn_tanh(c);
  const T dcell = *dc + dh * o * (T(1) - tc * tc);
  *dzi = dcell * g * i * (T(1) - i);
  *dzf = dcell * c_prev * f * (T(1) - f);
  *dzg = dcell * i * (T(1) - g * g);
  *dzo = dh * tc * o * (T(1) - o);
  *dc = dcell * f;
}

// GRU: the gates z, r and hh replace x's three parts (in place); h of this step.
template <typename T>
DPT_HD void gru_cell(T* xz, T* xr, T* xh, T qz, T qr, T qh, T h_prev, T* h) {
  const T z = rnn_sigmoid(*xz + qz), r = rnn_sigmoid(*xr + qr), hh = rnn_tanh(*xh + r * qh);
  *xz = z, *xr = r, *xh = hh;
  *h = z * h_prev + (T(1) - z) * hh;
}

// Backward through one GRU unit's step: dh the gradient at h; the gradients of x's parts (dx*) and
// of q's (dq*) written; *dh_prev gets the gradient at h_prev through z's blend alone (the
// recurrence's part, dq recurrent_kernel^T, is added by the caller).
template <typename T>
DPT_HD void gru_cell_grad(T z, T r, T hh, T qh, T h_prev, T dh, T* dxz, T* dxr, T* dxh, T* dqz, T* dqr, T* dqh,
                          T* dh_prev) {
  const T dpre_h = dh * (T(1) - z) * (T(1) - hh * hh);
  const T dpre_z = dh * (h_prev - hh) * z * (T(1) - z);
  const T dpre_r = dpre_h * qh * r * (T(1) - r);
  *dxz = dpre_z, *dxr = dpre_r, *dxh = dpre_h;
  *dqz = dpre_z, *dqr = dpre_r, *dqh = dpre_h * r;
  *dh_prev = dh * z;
}

}  // namespace dpt::kernels
