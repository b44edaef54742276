// Keras's LSTM and GRU cells, one (sample, unit) at a time, for the CPU loops and the CUDA kernels
// alike.
// LSTM: a step's pre-activations z (4 units: Keras's gate order i, f, c, o) become the gates
// i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_c), o = sigmoid(z_o); then
// c = f * c_prev + i * g and h = o * tanh(c).
// GRU (reset_after=True, Keras's default): the input part x (x kernel + input bias) and the
// recurrent part q (h_prev recurrent_kernel + recurrent bias), 3 units each in Keras's order z, r, h:
// z = sigmoid(x_z + q_z), r = sigmoid(x_r + q_r), hh = tanh(x_h + r q_h), h = z h_prev + (1 - z) hh.
#pragma once
#include <cmath>
#include "kernels/activation_math.h"

namespace dpt::kernels {

// The gates of one unit, in place in z[0], z[U], z[2U], z[3U]; c and h of this step.
template <typename T>
DPT_HD void lstm_cell(T* zi, T* zf, T* zg, T* zo, T c_prev, T* c, T* h) {
  const T i = sigmoid_fwd(*zi), f = sigmoid_fwd(*zf), g = std::tanh(*zg), o = sigmoid_fwd(*zo);
  *zi = i, *zf = f, *zg = g, *zo = o;
  const T cn = f * c_prev + i * g;
  *c = cn;
  *h = o * std::tanh(cn);
}

// Backward through one unit's step: dh is the gradient at h (from the output and the next step's
// recurrence), *dc the gradient at c from the next step, replaced by the gradient at c_prev; the
// pre-activations' gradients go to dz (i, f, c, o).
template <typename T>
DPT_HD void lstm_cell_grad(T i, T f, T g, T o, T c_prev, T c, T dh, T* dc, T* dzi, T* dzf, T* dzg, T* dzo) {
  const T tc = std::tanh(c);
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
  const T z = sigmoid_fwd(*xz + qz), r = sigmoid_fwd(*xr + qr), hh = std::tanh(*xh + r * qh);
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
