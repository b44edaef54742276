// Recurrent layers' pieces on CUDA (kernels/recurrent.h): one thread per element moved, one per
// (sample, unit) of a step's cell, each calling recurrent_math.h's formulas as the CPU does.
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/recurrent.h"

namespace dpt::kernels {

__global__ void to_time_major_kernel(int64_t n, int64_t steps, int64_t feat, bool reverse,
                                     const float* __restrict__ src, float* __restrict__ dst) {
  DPT_GRID_STRIDE(e, n * steps * feat) {  // e indexes dst (steps, n, feat)
    const int64_t k = e % feat, row = e / feat, s = row % n, t = row / n;
    dst[e] = src[(s * steps + (reverse ? steps - 1 - t : t)) * feat + k];
  }
}

__global__ void to_sequence_major_kernel(int64_t n, int64_t steps, int64_t feat, bool reverse,
                                         const float* __restrict__ src, float* __restrict__ dst) {
  DPT_GRID_STRIDE(e, n * steps * feat) {  // e indexes dst (n, steps, feat)
    const int64_t k = e % feat, row = e / feat, t = row % steps, s = row / steps;
    dst[e] = src[((reverse ? steps - 1 - t : t) * n + s) * feat + k];
  }
}

template <typename Acts>
__global__ void lstm_step_forward_kernel(Acts k, int64_t rows, int64_t U, float* __restrict__ z,
                                         const float* __restrict__ c_prev, float* __restrict__ c,
                                         float* __restrict__ h) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    float* zr = z + r * 4 * U;
    lstm_cell(k, zr + u, zr + U + u, zr + 2 * U + u, zr + 3 * U + u, c_prev[e], c + e, h + e);
  }
}

template <typename Acts>
__global__ void lstm_step_backward_kernel(Acts k, int64_t rows, int64_t U, const float* __restrict__ gates,
                                          const float* __restrict__ c_prev, const float* __restrict__ c,
                                          const float* __restrict__ dh, const float* __restrict__ dy,
                                          float* __restrict__ dc, float* __restrict__ dz) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    const float* a = gates + r * 4 * U;
    float* d = dz + r * 4 * U;
    lstm_cell_grad(k, a[u], a[U + u], a[2 * U + u], a[3 * U + u], c_prev[e], c[e], dy ? dh[e] + dy[e] : dh[e], dc + e,
                   d + u, d + U + u, d + 2 * U + u, d + 3 * U + u);
  }
}

template <typename Acts>
__global__ void simple_rnn_step_forward_kernel(Acts k, int64_t n, const float* __restrict__ z, float* __restrict__ h) {
  DPT_GRID_STRIDE(e, n) {
    h[e] = k.act(z[e]);
  }
}

template <typename Acts>
__global__ void simple_rnn_step_backward_kernel(Acts k, int64_t n, const float* __restrict__ h,
                                                const float* __restrict__ dh, const float* __restrict__ dy,
                                                float* __restrict__ dz) {
  DPT_GRID_STRIDE(e, n) {
    dz[e] = (dy ? dh[e] + dy[e] : dh[e]) * k.act_slope(h[e]);
  }
}

template <typename Acts>
__global__ void gru_step_forward_kernel(Acts k, int64_t rows, int64_t U, float* __restrict__ x,
                                        const float* __restrict__ q, const float* __restrict__ h_prev,
                                        float* __restrict__ h) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    float* xr = x + r * 3 * U;
    const float* qr = q + r * 3 * U;
    gru_cell(k, xr + u, xr + U + u, xr + 2 * U + u, qr[u], qr[U + u], qr[2 * U + u], h_prev[e], h + e);
  }
}

template <typename Acts>
__global__ void gru_step_backward_kernel(Acts k, int64_t rows, int64_t U, const float* __restrict__ gates,
                                         const float* __restrict__ q, const float* __restrict__ h_prev,
                                         float* __restrict__ dh, const float* __restrict__ dy, float* __restrict__ dx,
                                         float* __restrict__ dq) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    const float* a = gates + r * 3 * U;
    float *gx = dx + r * 3 * U, *gq = dq + r * 3 * U;
    gru_cell_grad(k, a[u], a[U + u], a[2 * U + u], q[r * 3 * U + 2 * U + u], h_prev[e], dy ? dh[e] + dy[e] : dh[e],
                  gx + u, gx + U + u, gx + 2 * U + u, gq + u, gq + U + u, gq + 2 * U + u, dh + e);
  }
}

template <typename Acts>
__global__ void gru_v1_gates_forward_kernel(Acts k, int64_t rows, int64_t U, float* __restrict__ x,
                                            float* __restrict__ q, const float* __restrict__ h_src) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    float *xr = x + r * 3 * U, *qr = q + r * 3 * U;
    gru_v1_gates(k, xr + u, xr + U + u, qr[u], qr[U + u], h_src[e], qr + 2 * U + u);
  }
}

template <typename Acts>
__global__ void gru_v1_blend_forward_kernel(Acts k, int64_t rows, int64_t U, float* __restrict__ x,
                                            const float* __restrict__ h_prev, float* __restrict__ h) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    float* xr = x + r * 3 * U;
    gru_v1_blend(k, xr[u], xr + 2 * U + u, h_prev[e], h + e);
  }
}

template <typename Acts>
__global__ void gru_v1_blend_backward_kernel(Acts k, int64_t rows, int64_t U, const float* __restrict__ gates,
                                             const float* __restrict__ h_prev, float* __restrict__ dh,
                                             const float* __restrict__ dy, float* __restrict__ dx) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    const float* a = gates + r * 3 * U;
    float* d = dx + r * 3 * U;
    gru_v1_blend_grad(k, a[u], a[2 * U + u], h_prev[e], dy ? dh[e] + dy[e] : dh[e], d + u, d + 2 * U + u, dh + e);
  }
}

template <typename Acts>
__global__ void gru_v1_gates_backward_kernel(Acts k, int64_t rows, int64_t U, const float* __restrict__ gates,
                                             const float* __restrict__ h_src, const float* __restrict__ drh,
                                             const float* __restrict__ mask, float* __restrict__ dh,
                                             float* __restrict__ dx) {
  DPT_GRID_STRIDE(e, rows * U) {
    const int64_t r = e / U, u = e % U;
    const float* a = gates + r * 3 * U;
    float* d = dx + r * 3 * U;
    const float share = gru_v1_gates_grad(k, a[U + u], h_src[e], drh[e], d + U + u);
    dh[e] += mask ? share * mask[e] : share;
  }
}

void to_time_major_cuda(int64_t n, int64_t steps, int64_t feat, bool reverse, const float* src, float* dst,
                        void* stream) {
  const int64_t total = n * steps * feat;
  if (total == 0) return;
  to_time_major_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, steps, feat,
                                                                                                    reverse, src, dst);
  DPT_CUDA_LAUNCH_CHECK();
}

void to_sequence_major_cuda(int64_t n, int64_t steps, int64_t feat, bool reverse, const float* src, float* dst,
                            void* stream) {
  const int64_t total = n * steps * feat;
  if (total == 0) return;
  to_sequence_major_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      n, steps, feat, reverse, src, dst);
  DPT_CUDA_LAUNCH_CHECK();
}

// Launches a cell kernel with the defaults fixed at compile time where the activations are tanh
// and sigmoid, else with the pair as arguments.
#define DPT_LAUNCH_CELL(kernel, count, ...)                                                          \
  do {                                                                                               \
    const cudaStream_t st = static_cast<cudaStream_t>(stream);                                       \
    if (k.is_default())                                                                              \
      kernel<DefaultActs><<<grid_blocks(count), kBlockThreads, 0, st>>>(DefaultActs{}, __VA_ARGS__); \
    else                                                                                             \
      kernel<CellActs><<<grid_blocks(count), kBlockThreads, 0, st>>>(k, __VA_ARGS__);                \
    DPT_CUDA_LAUNCH_CHECK();                                                                         \
  } while (0)

void lstm_step_forward_cuda(const CellActs& k, int64_t rows, int64_t units, float* z, const float* c_prev, float* c,
                            float* h, void* stream) {
  if (rows * units == 0) return;
  DPT_LAUNCH_CELL(lstm_step_forward_kernel, rows * units, rows, units, z, c_prev, c, h);
}

void lstm_step_backward_cuda(const CellActs& k, int64_t rows, int64_t units, const float* gates, const float* c_prev,
                             const float* c, const float* dh, const float* dy, float* dc, float* dz, void* stream) {
  if (rows * units == 0) return;
  DPT_LAUNCH_CELL(lstm_step_backward_kernel, rows * units, rows, units, gates, c_prev, c, dh, dy, dc, dz);
}

void simple_rnn_step_forward_cuda(const CellActs& k, int64_t n, const float* z, float* h, void* stream) {
  if (n == 0) return;
  DPT_LAUNCH_CELL(simple_rnn_step_forward_kernel, n, n, z, h);
}

void simple_rnn_step_backward_cuda(const CellActs& k, int64_t n, const float* h, const float* dh, const float* dy,
                                   float* dz, void* stream) {
  if (n == 0) return;
  DPT_LAUNCH_CELL(simple_rnn_step_backward_kernel, n, n, h, dh, dy, dz);
}

void gru_step_forward_cuda(const CellActs& k, int64_t rows, int64_t units, float* x, const float* q,
                           const float* h_prev, float* h, void* stream) {
  if (rows * units == 0) return;
  DPT_LAUNCH_CELL(gru_step_forward_kernel, rows * units, rows, units, x, q, h_prev, h);
}

void gru_step_backward_cuda(const CellActs& k, int64_t rows, int64_t units, const float* gates, const float* q,
                            const float* h_prev, float* dh, const float* dy, float* dx, float* dq, void* stream) {
  if (rows * units == 0) return;
  DPT_LAUNCH_CELL(gru_step_backward_kernel, rows * units, rows, units, gates, q, h_prev, dh, dy, dx, dq);
}

void gru_v1_gates_forward_cuda(const CellActs& k, int64_t rows, int64_t units, float* x, float* q, const float* h_src,
                               void* stream) {
  if (rows * units == 0) return;
  DPT_LAUNCH_CELL(gru_v1_gates_forward_kernel, rows * units, rows, units, x, q, h_src);
}

void gru_v1_blend_forward_cuda(const CellActs& k, int64_t rows, int64_t units, float* x, const float* h_prev, float* h,
                               void* stream) {
  if (rows * units == 0) return;
  DPT_LAUNCH_CELL(gru_v1_blend_forward_kernel, rows * units, rows, units, x, h_prev, h);
}

void gru_v1_blend_backward_cuda(const CellActs& k, int64_t rows, int64_t units, const float* gates, const float* h_prev,
                                float* dh, const float* dy, float* dx, void* stream) {
  if (rows * units == 0) return;
  DPT_LAUNCH_CELL(gru_v1_blend_backward_kernel, rows * units, rows, units, gates, h_prev, dh, dy, dx);
}

void gru_v1_gates_backward_cuda(const CellActs& k, int64_t rows, int64_t units, const float* gates, const float* h_src,
                                const float* drh, const float* mask, float* dh, float* dx, void* stream) {
  if (rows * units == 0) return;
  DPT_LAUNCH_CELL(gru_v1_gates_backward_kernel, rows * units, rows, units, gates, h_src, drh, mask, dh, dx);
}

}  // namespace dpt::kernels
