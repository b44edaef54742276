// Keras's Dot (batch_dot): per sample, a sum of products along one axis of each input. Both its
// passes are one strided contraction: for each sample n and i < I, j < J,
//   C[n sc + i ci + j cj] = sum over t < T of A[n sa + i ai + t at] B[n sb + j bj + t bt],
// summed in double in t's order (on CUDA one thread an output through the same loop: the CPU's
// bits). Forward: A, B the inputs, t their dot axis. Backward: A the output's gradient, B the other
// input, C an input's gradient (each of its elements written once).
#pragma once
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

struct Contraction {
  int64_t I = 1, J = 1, T = 1;
  int64_t sa = 0, ai = 0, at = 0;
  int64_t sb = 0, bj = 0, bt = 0;
  int64_t sc = 0, ci = 0, cj = 0;
};

template <typename T>
DPT_HD T contract_one(const T* a, const T* b, const Contraction& d, int64_t n, int64_t i, int64_t j) {
  const T* ar = a + n * d.sa + i * d.ai;
  const T* br = b + n * d.sb + j * d.bj;
  double s = 0;
  for (int64_t t = 0; t < d.T; ++t) s += double(ar[t * d.at]) * double(br[t * d.bt]);
  return T(s);
}

template <typename T>
void contract_cpu(const T* a, const T* b, T* c, int64_t batch, const Contraction& d);
void contract_cuda(const float* a, const float* b, float* c, int64_t batch, const Contraction& d, void* stream);

}  // namespace dpt::kernels
