// Optimizer updates over flat parameter/gradient arenas (n elements). Slots are arrays of n.
#pragma once
#include <cstdint>
#include "kernels/optimizer_math.h"

namespace dpt::kernels {

template <typename T>
void sgd_update_cpu(T* w, const T* g, T* v, int64_t n, T lr, T momentum, bool nesterov);
template <typename T>
void rmsprop_update_cpu(T* w, const T* g, T* ms, T* mom, T* mg, int64_t n, T lr, T rho, T momentum, T eps,
                        bool centered);
template <typename T>
void adam_update_cpu(T* w, const T* g, T* m, T* v, T* vhat, int64_t n, T alpha, T b1, T b2, T eps, bool amsgrad);

void sgd_update_cuda(float* w, const float* g, float* v, int64_t n, float lr, float momentum, bool nesterov,
                     void* stream);
void rmsprop_update_cuda(float* w, const float* g, float* ms, float* mom, float* mg, int64_t n, float lr,
                         float rho, float momentum, float eps, bool centered, void* stream);
void adam_update_cuda(float* w, const float* g, float* m, float* v, float* vhat, int64_t n, float alpha,
                      float b1, float b2, float eps, bool amsgrad, void* stream);

}  // namespace dpt::kernels
