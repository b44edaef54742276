// Keras's causal mask on attention scores: blocks of (t, s) scores (one per sample and head), entry
// (i, j) with j > i set to -1e9 (Keras's large negative for float32), so the softmax after it gives
// exactly 0 there: query step i attends to steps 0..i (Keras's lower-triangular mask, also for t != s).
#pragma once
#include <cstdint>

namespace dpt::kernels {

void causal_fill_cpu(float* scores, int64_t blocks, int64_t t, int64_t s);
void causal_fill_cuda(float* scores, int64_t blocks, int64_t t, int64_t s, void* stream);

}  // namespace dpt::kernels
