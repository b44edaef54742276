// Keras's sequence masks (Embedding's mask_zero=True, Masking): a (samples, steps) mask of 1 (the
// step is read) and 0 (skipped), made by one layer and read by the recurrent layers and
// GlobalAveragePooling1D (core/layer.h). Formulas in seqmask_math.h; the CUDA versions take the
// replica's stream and run one thread per element, or per (sample, channel) for the mean.
#pragma once
#include <cstdint>

namespace dpt::kernels {

// Embedding(mask_zero=True): mask[i] = 1 where the index x[i] is not 0, for count indices.
template <typename T>
void nonzero_mask_cpu(int64_t count, const T* x, T* mask);
void nonzero_mask_cuda(int64_t count, const float* x, float* mask, void* stream);

// Masking(mask_value): over rows rows of cols values, mask[r] = 1 where any x[r, c] differs from
// value, and y[r, :] = x[r, :] there, else 0.
template <typename T>
void masking_forward_cpu(int64_t rows, int64_t cols, float value, const T* x, T* y, T* mask);
void masking_forward_cuda(int64_t rows, int64_t cols, float value, const float* x, float* y, float* mask, void* stream);

// y[r, :] = x[r, :] where mask[r] is 1, else 0 (y may be x): Masking's backward, and a recurrent
// layer's zero_output_for_mask.
template <typename T>
void mask_rows_cpu(int64_t rows, int64_t cols, const T* mask, const T* x, T* y);
void mask_rows_cuda(int64_t rows, int64_t cols, const float* mask, const float* x, float* y, void* stream);

// A recurrent step over rows samples of units units: where mask[r] is 0 the step is skipped, h[r]
// = h_prev[r] (and c[r] = c_prev[r]; c nullable: LSTM's cell state only).
template <typename T>
void mask_carry_cpu(int64_t rows, int64_t units, const T* mask, const T* h_prev, T* h, const T* c_prev, T* c);
void mask_carry_cuda(int64_t rows, int64_t units, const float* mask, const float* h_prev, float* h, const float* c_prev,
                     float* c, void* stream);

// The carry's backward, around a step's backward. split, before the cell: where mask[r] is 0,
// carry_h[r] = dh[r] + dy[r] (dy nullable) and carry_c[r] = dc[r] (dc, carry_c nullable), then dh,
// dy and dc are zeroed there, so the cell gives the skipped step no gradient. join, after the
// recurrence's GEMM: where mask[r] is 0, dh[r] = carry_h[r] and dc[r] = carry_c[r], the gradients
// passing straight to the previous step's state.
template <typename T>
void mask_split_cpu(int64_t rows, int64_t units, const T* mask, T* dh, T* dy, T* dc, T* carry_h, T* carry_c);
template <typename T>
void mask_join_cpu(int64_t rows, int64_t units, const T* mask, const T* carry_h, T* dh, const T* carry_c, T* dc);
void mask_split_cuda(int64_t rows, int64_t units, const float* mask, float* dh, float* dy, float* dc, float* carry_h,
                     float* carry_c, void* stream);
void mask_join_cuda(int64_t rows, int64_t units, const float* mask, const float* carry_h, float* dh,
                    const float* carry_c, float* dc, void* stream);

// GlobalAveragePooling1D under a mask: x (n, steps, ch), mask (n, steps), y (n, ch) =
// masked_mean_value; backward dx[r, t, c] = dy[r, c] mask[r, t] / (the sum of mask[r, :]).
template <typename T>
void masked_mean_forward_cpu(int64_t n, int64_t steps, int64_t ch, const T* mask, const T* x, T* y);
template <typename T>
void masked_mean_backward_cpu(int64_t n, int64_t steps, int64_t ch, const T* mask, const T* dy, T* dx);
void masked_mean_forward_cuda(int64_t n, int64_t steps, int64_t ch, const float* mask, const float* x, float* y,
                              void* stream);
void masked_mean_backward_cuda(int64_t n, int64_t steps, int64_t ch, const float* mask, const float* dy, float* dx,
                               void* stream);

}  // namespace dpt::kernels
