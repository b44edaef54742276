// Recurrent layers' pieces (Keras's LSTM, GRU and SimpleRNN): sequences moved between Keras's (samples, steps,
// features) and time-major (steps, samples, features), so that each step's rows are contiguous
// for its GEMM; and the cells over a step's rows (formulas in recurrent_math.h).
#pragma once
#include <cstdint>
#include "kernels/recurrent_math.h"

namespace dpt::kernels {

// dst (steps, n, feat) from src (n, steps, feat); reverse: step t of dst is step steps-1-t of src
// (Keras's go_backwards). to_sequence_major is its inverse (the same reverse undoes it).
template <typename T>
void to_time_major_cpu(int64_t n, int64_t steps, int64_t feat, bool reverse, const T* src, T* dst);
template <typename T>
void to_sequence_major_cpu(int64_t n, int64_t steps, int64_t feat, bool reverse, const T* src, T* dst);

// The cells take Keras's two activations first (k: CellActs, tanh and sigmoid by default).
// One step over `rows` samples of `units` units: z (rows, 4 units) pre-activations in, gates out;
// c_prev, c and h (rows, units).
template <typename T>
void lstm_step_forward_cpu(const CellActs& k, int64_t rows, int64_t units, T* z, const T* c_prev, T* c, T* h);
// Backward of one step: gates (rows, 4 units) as forward left them; dh (rows, units) the gradient at
// h, plus dy (nullable) the output's own gradient at this step; dc (rows, units) in: from the next
// step, out: at c_prev. dz (rows, 4 units) written.
template <typename T>
void lstm_step_backward_cpu(const CellActs& k, int64_t rows, int64_t units, const T* gates, const T* c_prev, const T* c,
                            const T* dh, const T* dy, T* dc, T* dz);

// GRU: x (rows, 3 units) the step's input parts in, gates (z, r, hh) out; q (rows, 3 units) its
// recurrent parts; h_prev and h (rows, units).
template <typename T>
void gru_step_forward_cpu(const CellActs& k, int64_t rows, int64_t units, T* x, const T* q, const T* h_prev, T* h);
// Backward: gates and q as forward left them; dh (rows, units) the gradient at h plus dy (nullable),
// replaced by the gradient at h_prev through the blend; dx and dq (rows, 3 units) written.
template <typename T>
void gru_step_backward_cpu(const CellActs& k, int64_t rows, int64_t units, const T* gates, const T* q, const T* h_prev,
                           T* dh, const T* dy, T* dx, T* dq);

// GRU with reset_after=False, a step in two halves around the GEMM x_h += (r h_src) U_h:
// gates: x (rows, 3 units) in, z and r out in their parts; q (rows, 3 units): h_{t-1} U_z and U_r
// in its first two parts, r h_src written to its third. blend: x's third part (x_h plus that
// product) becomes the candidate; h (rows, units) written.
template <typename T>
void gru_v1_gates_forward_cpu(const CellActs& k, int64_t rows, int64_t units, T* x, T* q, const T* h_src);
template <typename T>
void gru_v1_blend_forward_cpu(const CellActs& k, int64_t rows, int64_t units, T* x, const T* h_prev, T* h);
// Backward: blend: dh (rows, units) the gradient at h plus dy (nullable), replaced by h_prev's
// through the blend; dx's z and candidate parts written. gates: drh (rows, units) the gradient at
// r h_src; dx's r part written; dh += drh r, times mask (nullable: h_src's recurrent-dropout mask).
template <typename T>
void gru_v1_blend_backward_cpu(const CellActs& k, int64_t rows, int64_t units, const T* gates, const T* h_prev, T* dh,
                               const T* dy, T* dx);
template <typename T>
void gru_v1_gates_backward_cpu(const CellActs& k, int64_t rows, int64_t units, const T* gates, const T* h_src,
                               const T* drh, const T* mask, T* dh, T* dx);

// SimpleRNN: h = activation(z) over n (rows x units) values; backward dz = (dh + dy) times the
// activation's slope at h, dy nullable.
template <typename T>
void simple_rnn_step_forward_cpu(const CellActs& k, int64_t n, const T* z, T* h);
template <typename T>
void simple_rnn_step_backward_cpu(const CellActs& k, int64_t n, const T* h, const T* dh, const T* dy, T* dz);

// CUDA: one thread per element (the moves) or per (sample, unit) (the cell).
void to_time_major_cuda(int64_t n, int64_t steps, int64_t feat, bool reverse, const float* src, float* dst,
                        void* stream);
void to_sequence_major_cuda(int64_t n, int64_t steps, int64_t feat, bool reverse, const float* src, float* dst,
                            void* stream);
void lstm_step_forward_cuda(const CellActs& k, int64_t rows, int64_t units, float* z, const float* c_prev, float* c,
                            float* h, void* stream);
void lstm_step_backward_cuda(const CellActs& k, int64_t rows, int64_t units, const float* gates, const float* c_prev,
                             const float* c, const float* dh, const float* dy, float* dc, float* dz, void* stream);
void simple_rnn_step_forward_cuda(const CellActs& k, int64_t n, const float* z, float* h, void* stream);
void simple_rnn_step_backward_cuda(const CellActs& k, int64_t n, const float* h, const float* dh, const float* dy,
                                   float* dz, void* stream);
void gru_step_forward_cuda(const CellActs& k, int64_t rows, int64_t units, float* x, const float* q,
                           const float* h_prev, float* h, void* stream);
void gru_step_backward_cuda(const CellActs& k, int64_t rows, int64_t units, const float* gates, const float* q,
                            const float* h_prev, float* dh, const float* dy, float* dx, float* dq, void* stream);
void gru_v1_gates_forward_cuda(const CellActs& k, int64_t rows, int64_t units, float* x, float* q, const float* h_src,
                               void* stream);
void gru_v1_blend_forward_cuda(const CellActs& k, int64_t rows, int64_t units, float* x, const float* h_prev, float* h,
                               void* stream);
void gru_v1_blend_backward_cuda(const CellActs& k, int64_t rows, int64_t units, const float* gates, const float* h_prev,
                                float* dh, const float* dy, float* dx, void* stream);
void gru_v1_gates_backward_cuda(const CellActs& k, int64_t rows, int64_t units, const float* gates, const float* h_src,
                                const float* drh, const float* mask, float* dh, float* dx, void* stream);

}  // namespace dpt::kernels
