// Keras's LSTM cell, one (sample, unit) at a time, for the CPU loops and the CUDA kernels alike.
// A step's pre-activations z (4 units: Keras's gate order i, f, c, o) become the gates
// i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_c), o = sigmoid(z_o); then
// c = f * c_prev + i * g and h = o * tanh(c).
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

}  // namespace dpt::kernels
