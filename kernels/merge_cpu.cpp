// Merge arithmetic on the CPU.
#include <algorithm>
#include "kernels/cpu_loops.h"
#include "kernels/merge.h"

namespace dpt::kernels {

template <typename T>
void add_into_cpu(T* y, const T* x, int64_t n) {
  parallel_elementwise(n, [=](int64_t i) { y[i] += x[i]; });
}

template <typename T>
void axpby_cpu(T* y, T s, const T* x, T t, int64_t n) {
  parallel_elementwise(n, [=](int64_t i) { y[i] = s * y[i] + t * x[i]; });
}

template <typename T>
void multiply_into_cpu(T* y, const T* x, int64_t n) {
  parallel_elementwise(n, [=](int64_t i) { y[i] *= x[i]; });
}

template <typename T>
void copy_columns_cpu(const T* src, int64_t src_cols, int64_t src_off, T* dst, int64_t dst_cols, int64_t dst_off,
                      int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 262144)
  for (int64_t r = 0; r < rows; ++r)
    std::copy(src + r * src_cols + src_off, src + r * src_cols + src_off + cols, dst + r * dst_cols + dst_off);
}

template <typename T>
void broadcast_axpby_cpu(T* y, T s, const T* x, T t, const BroadcastMap& map, int64_t n) {
  if (s == T(0))
    parallel_elementwise(n, [=, &map](int64_t i) { y[i] = t * x[map.source(i)]; });
  else
    parallel_elementwise(n, [=, &map](int64_t i) { y[i] = s * y[i] + t * x[map.source(i)]; });
}

template <typename T>
void broadcast_multiply_into_cpu(T* y, const T* x, const BroadcastMap& map, int64_t n) {
  parallel_elementwise(n, [=, &map](int64_t i) { y[i] *= x[map.source(i)]; });
}

template <typename T>
void broadcast_sum_cpu(T* small, T s, const T* large, const BroadcastMap& map, int64_t m) {
#pragma omp parallel for schedule(static) if (m > 4096)
  for (int64_t j = 0; j < m; ++j) small[j] = T(double(s) * map.sum_onto(large, j));
}

template <typename T>
void extremum_forward_cpu(const T* const* xs, int count, bool is_max, T* y, int64_t n) {
  parallel_elementwise(n, [=](int64_t i) { y[i] = xs[extremum_winner(xs, count, is_max, i)][i]; });
}

template <typename T>
void extremum_backward_cpu(const T* const* xs, int count, bool is_max, const T* dy, int k, T* dx, int64_t n) {
  parallel_elementwise(n, [=](int64_t i) { dx[i] = extremum_winner(xs, count, is_max, i) == k ? dy[i] : T(0); });
}

template void extremum_forward_cpu<float>(const float* const*, int, bool, float*, int64_t);
template void extremum_forward_cpu<double>(const double* const*, int, bool, double*, int64_t);
template void extremum_backward_cpu<float>(const float* const*, int, bool, const float*, int, float*, int64_t);
template void extremum_backward_cpu<double>(const double* const*, int, bool, const double*, int, double*, int64_t);
template void add_into_cpu<float>(float*, const float*, int64_t);
template void add_into_cpu<double>(double*, const double*, int64_t);
template void axpby_cpu<float>(float*, float, const float*, float, int64_t);
template void axpby_cpu<double>(double*, double, const double*, double, int64_t);
template void multiply_into_cpu<float>(float*, const float*, int64_t);
template void multiply_into_cpu<double>(double*, const double*, int64_t);
template void copy_columns_cpu<float>(const float*, int64_t, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
template void copy_columns_cpu<double>(const double*, int64_t, int64_t, double*, int64_t, int64_t, int64_t, int64_t);
template void broadcast_axpby_cpu<float>(float*, float, const float*, float, const BroadcastMap&, int64_t);
template void broadcast_axpby_cpu<double>(double*, double, const double*, double, const BroadcastMap&, int64_t);
template void broadcast_multiply_into_cpu<float>(float*, const float*, const BroadcastMap&, int64_t);
template void broadcast_multiply_into_cpu<double>(double*, const double*, const BroadcastMap&, int64_t);
template void broadcast_sum_cpu<float>(float*, float, const float*, const BroadcastMap&, int64_t);
template void broadcast_sum_cpu<double>(double*, double, const double*, const BroadcastMap&, int64_t);

}  // namespace dpt::kernels
