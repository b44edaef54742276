// Embedding on CUDA (kernels/embedding.h): a gather forward; backward through a stable radix sort
// of the tokens by index, then per-(index, column) sums in token order. No atomics anywhere: every
// count and place is made by one thread, so the result never depends on timing.
#include <cstdint>
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/embedding.h"

namespace dpt::kernels {

namespace {

constexpr int kTile = 1024;  // tokens a block sorts per pass
constexpr int kRadix = 256;  // 8 bits a pass; one thread per digit value
constexpr int kScanThreads = 1024;

int64_t tiles_of(int64_t tokens) { return (tokens + kTile - 1) / kTile; }

}  // namespace

__global__ void embedding_forward_kernel(EmbeddingShape s, const float* __restrict__ ids,
                                         const float* __restrict__ table, float* __restrict__ y) {
  DPT_GRID_STRIDE(e, s.tokens * s.dim) {
    const int64_t t = e / s.dim, j = e % s.dim, v = embedding_row(ids[t], s.vocab);
    y[e] = v < 0 ? 0.f : table[v * s.dim + j];
  }
}

// The sort's keys: each token's row (vocab for a token with none, sorted last and never added) and
// its place.
__global__ void embedding_keys_kernel(EmbeddingShape s, const float* __restrict__ ids, uint32_t* __restrict__ key,
                                      uint32_t* __restrict__ pos) {
  DPT_GRID_STRIDE(t, s.tokens) {
    const int64_t v = embedding_row(ids[t], s.vocab);
    key[t] = uint32_t(v < 0 ? s.vocab : v);
    pos[t] = uint32_t(t);
  }
}

// Block b counts, for each digit d (thread d), the tokens of tile b whose key has digit d at
// `shift`: counts[d * tiles + b] (digit-major, so an exclusive scan gives each (tile, digit) its
// first place in the pass's output).
__global__ void embedding_digit_count_kernel(int64_t tokens, int64_t tiles, int shift, const uint32_t* __restrict__ key,
                                             uint32_t* __restrict__ counts) {
  __shared__ int digit[kTile];
  const int64_t first = int64_t(blockIdx.x) * kTile;
  for (int i = threadIdx.x; i < kTile; i += blockDim.x)
    digit[i] = first + i < tokens ? int((key[first + i] >> shift) & (kRadix - 1)) : kRadix;
  __syncthreads();
  const int d = threadIdx.x;
  uint32_t c = 0;
  for (int i = 0; i < kTile; ++i) c += digit[i] == d ? 1u : 0u;
  counts[int64_t(d) * tiles + blockIdx.x] = c;
}

// An exclusive prefix sum of n counts in place, by one block: each thread sums its run, thread 0
// scans the runs' totals, then each thread writes its run's prefixes.
__global__ void embedding_exclusive_scan_kernel(int64_t n, uint32_t* __restrict__ v) {
  __shared__ uint32_t run_total[kScanThreads];
  const int64_t per = (n + kScanThreads - 1) / kScanThreads;
  const int64_t lo = int64_t(threadIdx.x) * per, hi = lo + per < n ? lo + per : n;
  uint32_t sum = 0;
  for (int64_t i = lo; i < hi; ++i) sum += v[i];
  run_total[threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    uint32_t acc = 0;
    for (int i = 0; i < kScanThreads; ++i) {
      const uint32_t r = run_total[i];
      run_total[i] = acc;
      acc += r;
    }
  }
  __syncthreads();
  uint32_t acc = run_total[threadIdx.x];
  for (int64_t i = lo; i < hi; ++i) {
    const uint32_t c = v[i];
    v[i] = acc;
    acc += c;
  }
}

// Block b places tile b's tokens: thread d walks the tile in order and writes the tokens of digit
// d from its first place on, so equal digits keep their order (the sort is stable).
__global__ void embedding_digit_place_kernel(int64_t tokens, int64_t tiles, int shift, const uint32_t* __restrict__ key,
                                             const uint32_t* __restrict__ pos, const uint32_t* __restrict__ first_place,
                                             uint32_t* __restrict__ key_out, uint32_t* __restrict__ pos_out) {
  __shared__ uint32_t k[kTile];
  __shared__ uint32_t p[kTile];
  const int64_t first = int64_t(blockIdx.x) * kTile;
  const int n = int(tokens - first < kTile ? tokens - first : kTile);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    k[i] = key[first + i];
    p[i] = pos[first + i];
  }
  __syncthreads();
  const uint32_t d = threadIdx.x;
  int64_t at = first_place[int64_t(d) * tiles + blockIdx.x];
  for (int i = 0; i < n; ++i)
    if (((k[i] >> shift) & (kRadix - 1)) == d) {
      key_out[at] = k[i];
      pos_out[at] = p[i];
      ++at;
    }
}

// One thread per (sorted token, column): the first token of each row's run adds the run's dy rows,
// in token order, to that row of dtable.
__global__ void embedding_run_sum_kernel(EmbeddingShape s, const uint32_t* __restrict__ key,
                                         const uint32_t* __restrict__ pos, const float* __restrict__ dy,
                                         float* __restrict__ dtable) {
  DPT_GRID_STRIDE(e, s.tokens * s.dim) {
    const int64_t i = e / s.dim, j = e % s.dim;
    const uint32_t v = key[i];
    if (int64_t(v) >= s.vocab || (i > 0 && key[i - 1] == v)) continue;
    float acc = dtable[int64_t(v) * s.dim + j];
    for (int64_t k = i; k < s.tokens && key[k] == v; ++k) acc += dy[int64_t(pos[k]) * s.dim + j];
    dtable[int64_t(v) * s.dim + j] = acc;
  }
}

int64_t embedding_cuda_scratch_bytes(int64_t tokens) {
  // keys and places, twice (each pass reads one pair and writes the other), and the counts.
  return int64_t(sizeof(uint32_t)) * (4 * tokens + kRadix * tiles_of(tokens));
}

void embedding_forward_cuda(const EmbeddingShape& s, const float* ids, const float* table, float* y, void* stream) {
  const int64_t total = s.tokens * s.dim;
  if (total == 0) return;
  embedding_forward_kernel<<<grid_blocks(total), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(s, ids, table,
                                                                                                        y);
  DPT_CUDA_LAUNCH_CHECK();
}

void embedding_backward_cuda(const EmbeddingShape& s, const float* ids, const float* dy, float* dtable, void* scratch,
                             void* stream) {
  if (s.tokens == 0 || s.dim == 0) return;
  DPT_CHECK(s.tokens < (int64_t(1) << 31) && s.vocab < (int64_t(1) << 31),
            "Embedding on CUDA: " << s.tokens << " indices in a batch, or a table of " << s.vocab
                                  << " rows, is past 2^31 (use a smaller batch)");
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  const int64_t tiles = tiles_of(s.tokens);
  uint32_t* key[2] = {static_cast<uint32_t*>(scratch), nullptr};
  key[1] = key[0] + s.tokens;
  uint32_t* pos[2] = {key[1] + s.tokens, nullptr};
  pos[1] = pos[0] + s.tokens;
  uint32_t* counts = pos[1] + s.tokens;
  embedding_keys_kernel<<<grid_blocks(s.tokens), kBlockThreads, 0, st>>>(s, ids, key[0], pos[0]);
  DPT_CUDA_LAUNCH_CHECK();
  int bits = 1;  // enough for every key, vocab (no row) included
  while (bits < 32 && (uint64_t(s.vocab) >> bits) != 0) ++bits;
  int cur = 0;
  for (int shift = 0; shift < bits; shift += 8, cur ^= 1) {
    embedding_digit_count_kernel<<<unsigned(tiles), kRadix, 0, st>>>(s.tokens, tiles, shift, key[cur], counts);
    DPT_CUDA_LAUNCH_CHECK();
    embedding_exclusive_scan_kernel<<<1, kScanThreads, 0, st>>>(kRadix * tiles, counts);
    DPT_CUDA_LAUNCH_CHECK();
    embedding_digit_place_kernel<<<unsigned(tiles), kRadix, 0, st>>>(s.tokens, tiles, shift, key[cur], pos[cur], counts,
                                                                     key[cur ^ 1], pos[cur ^ 1]);
    DPT_CUDA_LAUNCH_CHECK();
  }
  const int64_t total = s.tokens * s.dim;
  embedding_run_sum_kernel<<<grid_blocks(total), kBlockThreads, 0, st>>>(s, key[cur], pos[cur], dy, dtable);
  DPT_CUDA_LAUNCH_CHECK();
}

__global__ void category_encode_kernel(CategoryEncode e, const float* __restrict__ x, float* __restrict__ y) {
  DPT_GRID_STRIDE(r, e.rows) {
    category_encode_row(e, x, y, r);
  }
}

void category_encode_cuda(const CategoryEncode& e, const float* x, float* y, void* stream) {
  if (e.rows == 0) return;
  category_encode_kernel<<<grid_blocks(e.rows), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(e, x, y);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
