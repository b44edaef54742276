// Embedding on the CPU: forward gathers rows in parallel; backward splits the table's rows among
// the threads, each walking every token in order and adding those whose index it owns.
#include <omp.h>
#include <algorithm>
#include <cstring>
#include "kernels/embedding.h"
#include "kernels/error.h"

namespace dpt::kernels {

template <typename T>
void embedding_forward_cpu(const EmbeddingShape& s, const T* ids, const T* table, T* y) {
  for (int64_t t = 0; t < s.tokens; ++t)
    DPT_CHECK(embedding_row(ids[t], s.vocab) >= 0, "Embedding: index " << double(ids[t]) << " (input " << t
                                                                       << " of the batch) is outside [0, " << s.vocab
                                                                       << "), the layer's input_dim");
#pragma omp parallel for schedule(static) if (s.tokens * s.dim >= 65536)
  for (int64_t t = 0; t < s.tokens; ++t)
    std::memcpy(y + t * s.dim, table + embedding_row(ids[t], s.vocab) * s.dim, size_t(s.dim) * sizeof(T));
}

template <typename T>
void embedding_backward_cpu(const EmbeddingShape& s, const T* ids, const T* dy, T* dtable) {
  const int threads = int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), s.vocab)));
#pragma omp parallel num_threads(threads) if (s.tokens * s.dim >= 65536)
  {
    const int64_t nt = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t lo = s.vocab * me / nt, hi = s.vocab * (me + 1) / nt;
    for (int64_t t = 0; t < s.tokens; ++t) {
      const int64_t v = embedding_row(ids[t], s.vocab);
      if (v < lo || v >= hi) continue;  // another thread's row, or no row at all
      T* row = dtable + v * s.dim;
      const T* g = dy + t * s.dim;
      for (int64_t j = 0; j < s.dim; ++j) row[j] += g[j];
    }
  }
}

template void embedding_forward_cpu<float>(const EmbeddingShape&, const float*, const float*, float*);
template void embedding_forward_cpu<double>(const EmbeddingShape&, const double*, const double*, double*);
template void embedding_backward_cpu<float>(const EmbeddingShape&, const float*, const float*, float*);
template void embedding_backward_cpu<double>(const EmbeddingShape&, const double*, const double*, double*);

void category_encode_cpu(const CategoryEncode& e, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (e.rows * e.classes > 65536)
  for (int64_t r = 0; r < e.rows; ++r) category_encode_row(e, x, y, r);
}

}  // namespace dpt::kernels
