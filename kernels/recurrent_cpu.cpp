// Recurrent layers' pieces on the CPU (kernels/recurrent.h).
#include <cstring>
#include "kernels/recurrent.h"

namespace dpt::kernels {

namespace {
// Between (n, steps, feat) and (steps, n, feat): one feat row at a time, time-major row (t, s) to or
// from sequence row (s, t or steps-1-t).
template <typename T>
void move_steps(int64_t n, int64_t steps, int64_t feat, bool reverse, bool to_time, const T* src, T* dst) {
#pragma omp parallel for schedule(static) if (n * steps * feat >= 65536)
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t q = reverse ? steps - 1 - t : t;
    for (int64_t s = 0; s < n; ++s) {
      const int64_t time_row = t * n + s, seq_row = s * steps + q;
      std::memcpy(dst + (to_time ? time_row : seq_row) * feat, src + (to_time ? seq_row : time_row) * feat,
                  size_t(feat) * sizeof(T));
    }
  }
}
}  // namespace

template <typename T>
void to_time_major_cpu(int64_t n, int64_t steps, int64_t feat, bool reverse, const T* src, T* dst) {
  move_steps(n, steps, feat, reverse, true, src, dst);
}

template <typename T>
void to_sequence_major_cpu(int64_t n, int64_t steps, int64_t feat, bool reverse, const T* src, T* dst) {
  move_steps(n, steps, feat, reverse, false, src, dst);
}

namespace {
// The cells' loops over a step's rows, for one pair of activations (DefaultActs: vectorised).
template <typename Acts, typename T>
void lstm_forward_rows(const Acts& k, int64_t rows, int64_t U, T* z, const T* c_prev, T* c, T* h) {
#pragma omp parallel for schedule(static) if (rows * U >= 16384)
  for (int64_t r = 0; r < rows; ++r) {
    T* zr = z + r * 4 * U;
#pragma omp simd
    for (int64_t u = 0; u < U; ++u)
      lstm_cell(k, zr + u, zr + U + u, zr + 2 * U + u, zr + 3 * U + u, c_prev[r * U + u], c + r * U + u, h + r * U + u);
  }
}

template <typename Acts, typename T>
void lstm_backward_rows(const Acts& k, int64_t rows, int64_t U, const T* gates, const T* c_prev, const T* c,
                        const T* dh, const T* dy, T* dc, T* dz) {
#pragma omp parallel for schedule(static) if (rows * U >= 16384)
  for (int64_t r = 0; r < rows; ++r) {
    const T* a = gates + r * 4 * U;
    T* d = dz + r * 4 * U;
#pragma omp simd
    for (int64_t u = 0; u < U; ++u) {
      const int64_t e = r * U + u;
      lstm_cell_grad(k, a[u], a[U + u], a[2 * U + u], a[3 * U + u], c_prev[e], c[e], dy ? dh[e] + dy[e] : dh[e], dc + e,
                     d + u, d + U + u, d + 2 * U + u, d + 3 * U + u);
    }
  }
}

template <typename Acts, typename T>
void gru_forward_rows(const Acts& k, int64_t rows, int64_t U, T* x, const T* q, const T* h_prev, T* h) {
#pragma omp parallel for schedule(static) if (rows * U >= 16384)
  for (int64_t r = 0; r < rows; ++r) {
    T* xr = x + r * 3 * U;
    const T* qr = q + r * 3 * U;
#pragma omp simd
    for (int64_t u = 0; u < U; ++u)
      gru_cell(k, xr + u, xr + U + u, xr + 2 * U + u, qr[u], qr[U + u], qr[2 * U + u], h_prev[r * U + u],
               h + r * U + u);
  }
}

template <typename Acts, typename T>
void gru_backward_rows(const Acts& k, int64_t rows, int64_t U, const T* gates, const T* q, const T* h_prev, T* dh,
                       const T* dy, T* dx, T* dq) {
#pragma omp parallel for schedule(static) if (rows * U >= 16384)
  for (int64_t r = 0; r < rows; ++r) {
    const T* a = gates + r * 3 * U;
    T *gx = dx + r * 3 * U, *gq = dq + r * 3 * U;
#pragma omp simd
    for (int64_t u = 0; u < U; ++u) {
      const int64_t e = r * U + u;
      gru_cell_grad(k, a[u], a[U + u], a[2 * U + u], q[r * 3 * U + 2 * U + u], h_prev[e], dy ? dh[e] + dy[e] : dh[e],
                    gx + u, gx + U + u, gx + 2 * U + u, gq + u, gq + U + u, gq + 2 * U + u, dh + e);
    }
  }
}

template <typename Acts, typename T>
void gru_v1_gates_rows(const Acts& k, int64_t rows, int64_t U, T* x, T* q, const T* h_src) {
#pragma omp parallel for schedule(static) if (rows * U >= 16384)
  for (int64_t r = 0; r < rows; ++r) {
    T *xr = x + r * 3 * U, *qr = q + r * 3 * U;
#pragma omp simd
    for (int64_t u = 0; u < U; ++u)
      gru_v1_gates(k, xr + u, xr + U + u, qr[u], qr[U + u], h_src[r * U + u], qr + 2 * U + u);
  }
}

template <typename Acts, typename T>
void gru_v1_blend_rows(const Acts& k, int64_t rows, int64_t U, T* x, const T* h_prev, T* h) {
#pragma omp parallel for schedule(static) if (rows * U >= 16384)
  for (int64_t r = 0; r < rows; ++r) {
    T* xr = x + r * 3 * U;
#pragma omp simd
    for (int64_t u = 0; u < U; ++u) gru_v1_blend(k, xr[u], xr + 2 * U + u, h_prev[r * U + u], h + r * U + u);
  }
}

template <typename Acts, typename T>
void gru_v1_blend_backward_rows(const Acts& k, int64_t rows, int64_t U, const T* gates, const T* h_prev, T* dh,
                                const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (rows * U >= 16384)
  for (int64_t r = 0; r < rows; ++r) {
    const T* a = gates + r * 3 * U;
    T* d = dx + r * 3 * U;
#pragma omp simd
    for (int64_t u = 0; u < U; ++u) {
      const int64_t e = r * U + u;
      gru_v1_blend_grad(k, a[u], a[2 * U + u], h_prev[e], dy ? dh[e] + dy[e] : dh[e], d + u, d + 2 * U + u, dh + e);
    }
  }
}

template <typename Acts, typename T>
void gru_v1_gates_backward_rows(const Acts& k, int64_t rows, int64_t U, const T* gates, const T* h_src, const T* drh,
                                const T* mask, T* dh, T* dx) {
#pragma omp parallel for schedule(static) if (rows * U >= 16384)
  for (int64_t r = 0; r < rows; ++r) {
    const T* a = gates + r * 3 * U;
    T* d = dx + r * 3 * U;
#pragma omp simd
    for (int64_t u = 0; u < U; ++u) {
      const int64_t e = r * U + u;
      const T share = gru_v1_gates_grad(k, a[U + u], h_src[e], drh[e], d + U + u);
      dh[e] += mask ? share * mask[e] : share;
    }
  }
}

template <typename Acts, typename T>
void simple_rnn_forward_all(const Acts& k, int64_t n, const T* z, T* h) {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
  for (int64_t e = 0; e < n; ++e) h[e] = k.act(z[e]);
}

template <typename Acts, typename T>
void simple_rnn_backward_all(const Acts& k, int64_t n, const T* h, const T* dh, const T* dy, T* dz) {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
  for (int64_t e = 0; e < n; ++e) dz[e] = (dy ? dh[e] + dy[e] : dh[e]) * k.act_slope(h[e]);
}

// Runs f with the activations: as the defaults' type, whose loops vectorise, where they are tanh
// and sigmoid.
template <typename F>
void with_acts(const CellActs& k, F&& f) {
  if (k.is_default())
    f(DefaultActs{});
  else
    f(k);
}
}  // namespace

template <typename T>
void lstm_step_forward_cpu(const CellActs& k, int64_t rows, int64_t units, T* z, const T* c_prev, T* c, T* h) {
  with_acts(k, [&](const auto& a) { lstm_forward_rows(a, rows, units, z, c_prev, c, h); });
}

template <typename T>
void lstm_step_backward_cpu(const CellActs& k, int64_t rows, int64_t units, const T* gates, const T* c_prev, const T* c,
                            const T* dh, const T* dy, T* dc, T* dz) {
  with_acts(k, [&](const auto& a) { lstm_backward_rows(a, rows, units, gates, c_prev, c, dh, dy, dc, dz); });
}

template <typename T>
void gru_step_forward_cpu(const CellActs& k, int64_t rows, int64_t units, T* x, const T* q, const T* h_prev, T* h) {
  with_acts(k, [&](const auto& a) { gru_forward_rows(a, rows, units, x, q, h_prev, h); });
}

template <typename T>
void gru_step_backward_cpu(const CellActs& k, int64_t rows, int64_t units, const T* gates, const T* q, const T* h_prev,
                           T* dh, const T* dy, T* dx, T* dq) {
  with_acts(k, [&](const auto& a) { gru_backward_rows(a, rows, units, gates, q, h_prev, dh, dy, dx, dq); });
}

template <typename T>
void gru_v1_gates_forward_cpu(const CellActs& k, int64_t rows, int64_t units, T* x, T* q, const T* h_src) {
  with_acts(k, [&](const auto& a) { gru_v1_gates_rows(a, rows, units, x, q, h_src); });
}

template <typename T>
void gru_v1_blend_forward_cpu(const CellActs& k, int64_t rows, int64_t units, T* x, const T* h_prev, T* h) {
  with_acts(k, [&](const auto& a) { gru_v1_blend_rows(a, rows, units, x, h_prev, h); });
}

template <typename T>
void gru_v1_blend_backward_cpu(const CellActs& k, int64_t rows, int64_t units, const T* gates, const T* h_prev, T* dh,
                               const T* dy, T* dx) {
  with_acts(k, [&](const auto& a) { gru_v1_blend_backward_rows(a, rows, units, gates, h_prev, dh, dy, dx); });
}

template <typename T>
void gru_v1_gates_backward_cpu(const CellActs& k, int64_t rows, int64_t units, const T* gates, const T* h_src,
                               const T* drh, const T* mask, T* dh, T* dx) {
  with_acts(k, [&](const auto& a) { gru_v1_gates_backward_rows(a, rows, units, gates, h_src, drh, mask, dh, dx); });
}

template <typename T>
void simple_rnn_step_forward_cpu(const CellActs& k, int64_t n, const T* z, T* h) {
  with_acts(k, [&](const auto& a) { simple_rnn_forward_all(a, n, z, h); });
}

template <typename T>
void simple_rnn_step_backward_cpu(const CellActs& k, int64_t n, const T* h, const T* dh, const T* dy, T* dz) {
  with_acts(k, [&](const auto& a) { simple_rnn_backward_all(a, n, h, dh, dy, dz); });
}

#define DPT_RECURRENT_CPU(T)                                                                                           \
  template void to_time_major_cpu<T>(int64_t, int64_t, int64_t, bool, const T*, T*);                                   \
  template void to_sequence_major_cpu<T>(int64_t, int64_t, int64_t, bool, const T*, T*);                               \
  template void lstm_step_forward_cpu<T>(const CellActs&, int64_t, int64_t, T*, const T*, T*, T*);                     \
  template void lstm_step_backward_cpu<T>(const CellActs&, int64_t, int64_t, const T*, const T*, const T*, const T*,   \
                                          const T*, T*, T*);                                                           \
  template void gru_step_forward_cpu<T>(const CellActs&, int64_t, int64_t, T*, const T*, const T*, T*);                \
  template void gru_step_backward_cpu<T>(const CellActs&, int64_t, int64_t, const T*, const T*, const T*, T*,          \
                                         const T*, T*, T*);                                                            \
  template void gru_v1_gates_forward_cpu<T>(const CellActs&, int64_t, int64_t, T*, T*, const T*);                      \
  template void gru_v1_blend_forward_cpu<T>(const CellActs&, int64_t, int64_t, T*, const T*, T*);                      \
  template void gru_v1_blend_backward_cpu<T>(const CellActs&, int64_t, int64_t, const T*, const T*, T*, const T*, T*); \
  template void gru_v1_gates_backward_cpu<T>(const CellActs&, int64_t, int64_t, const T*, const T*, const T*,          \
                                             const T*, T*, T*);                                                        \
  template void simple_rnn_step_forward_cpu<T>(const CellActs&, int64_t, const T*, T*);                                \
  template void simple_rnn_step_backward_cpu<T>(const CellActs&, int64_t, const T*, const T*, const T*, T*);
DPT_RECURRENT_CPU(float)
DPT_RECURRENT_CPU(double)

}  // namespace dpt::kernels
