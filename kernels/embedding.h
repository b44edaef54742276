// Keras's Embedding: each index of the input picks one row of a (vocab, dim) table. Indices arrive
// as floats (the model's input) and are cast to whole numbers as Keras's cast to int32 does
// (toward zero). Forward gathers rows; backward adds each token's gradient row into its index's
// row of the table's gradient, for each index in the tokens' order (the same order, and so the
// same bits, on every device; no atomics).
#pragma once
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

struct EmbeddingShape {
  int64_t tokens = 0;  // indices in the batch (samples x the sample's indices)
  int64_t vocab = 0;   // the table's rows (Keras's input_dim)
  int64_t dim = 0;     // each row's length (output_dim)
};

// An index's row, or -1 where it is outside [0, vocab) (not a number included).
template <typename T>
DPT_HD int64_t embedding_row(T x, int64_t vocab) {
  return x >= T(0) && x < T(vocab) ? int64_t(x) : -1;
}

// y (tokens, dim) = table[ids]. An index outside [0, vocab) is an error naming it and its place.
template <typename T>
void embedding_forward_cpu(const EmbeddingShape& s, const T* ids, const T* table, T* y);
// dtable += each token's dy row at its index's row, tokens in order (threads own ranges of rows).
template <typename T>
void embedding_backward_cpu(const EmbeddingShape& s, const T* ids, const T* dy, T* dtable);

// CUDA. Forward: one thread per output element; a row outside the table gives zeros (the CPU's
// error is the data check's job before training: Trainer checks every index). Backward: the
// tokens sorted by index with a stable radix sort (8 bits a pass; per 1024-token tile, one thread
// per digit counts and places that digit's tokens in order, so nothing depends on timing), then one
// thread per (index, column) adds its tokens' rows in token order, as the CPU does: the same bits.
// scratch: embedding_cuda_scratch_bytes(tokens) bytes of device memory.
int64_t embedding_cuda_scratch_bytes(int64_t tokens);
// Keras's CategoryEncoding: y (rows, classes) row r marks the classes of indices x[r * group, (r +
// 1) * group): 1 where present (one_hot: group 1; multi_hot), or how many times (count). Indices
// outside [0, classes) mark nothing (the data check refuses them first). CUDA: one thread a row.
struct CategoryEncode {
  int64_t rows = 0, group = 1, classes = 0;
  bool count = false;
};
template <typename T>
DPT_HD void category_encode_row(const CategoryEncode& e, const T* x, T* y, int64_t r) {
  T* yr = y + r * e.classes;
  for (int64_t c = 0; c < e.classes; ++c) yr[c] = T(0);
  for (int64_t k = 0; k < e.group; ++k) {
    const int64_t c = embedding_row(x[r * e.group + k], e.classes);
    if (c >= 0) yr[c] = e.count ? yr[c] + T(1) : T(1);
  }
}
void category_encode_cpu(const CategoryEncode& e, const float* x, float* y);
void category_encode_cuda(const CategoryEncode& e, const float* x, float* y, void* stream);
void embedding_forward_cuda(const EmbeddingShape& s, const float* ids, const float* table, float* y, void* stream);
void embedding_backward_cuda(const EmbeddingShape& s, const float* ids, const float* dy, float* dtable, void* scratch,
                             void* stream);

}  // namespace dpt::kernels
