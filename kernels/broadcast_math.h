// Broadcasting as numpy and Keras do it: an array whose shape has 1 where a larger array's has n is
// read as if repeated along that axis. A BroadcastMap says, for each element of the large array
// (row-major), which element of the small one it reads, and (for gradients) which elements of the
// large array read a given element of the small one.
#pragma once
#include <cstdint>
#include "kernels/hd.h"

namespace dpt::kernels {

struct BroadcastMap {
  static constexpr int kMaxRank = 12;  // a batch axis and Shape's 8, merged or not
  int rank = 0;                        // after merging neighbouring axes alike (both repeated, or both not)
  int64_t dim[kMaxRank] = {};          // the large array's extents
  int64_t stride[kMaxRank] = {};       // the small array's stride along each axis; 0 where it repeats

  // Whether the small array is the large one (nothing repeats).
  DPT_HD bool identity() const {
    for (int k = 0; k < rank; ++k)
      if (stride[k] == 0) return false;
    return true;
  }

  // The small array's element read at the large array's element i.
  DPT_HD int64_t source(int64_t i) const {
    int64_t off = 0;
    for (int k = rank - 1; k >= 0; --k) {
      const int64_t q = i / dim[k];
      off += (i - q * dim[k]) * stride[k];
      i = q;
    }
    return off;
  }

  // The sum of large[i] over the elements i that read small element j, in increasing i and in
  // double (the same order and rounding on every device, and float's kept out of long sums).
  template <typename T>
  DPT_HD double sum_onto(const T* large, int64_t j) const {
    int64_t full_stride[kMaxRank];
    int64_t s = 1, repeats = 1, base = 0;
    for (int k = rank - 1; k >= 0; --k) {
      full_stride[k] = s;
      s *= dim[k];
      if (stride[k] == 0) {
        repeats *= dim[k];
      } else {  // j's coordinate along a kept axis
        const int64_t q = j / dim[k];
        base += (j - q * dim[k]) * full_stride[k];
        j = q;
      }
    }
    double acc = 0.0;
    for (int64_t b = 0; b < repeats; ++b) {
      int64_t off = base, r = b;
      for (int k = rank - 1; k >= 0; --k) {
        if (stride[k] != 0) continue;
        const int64_t q = r / dim[k];
        off += (r - q * dim[k]) * full_stride[k];
        r = q;
      }
      acc += double(large[off]);
    }
    return acc;
  }
};

// The map from a large array of extents large[0..rank) to a small one of extents small[0..rank),
// each small[k] equal to large[k] or 1 (the caller has checked; pad the smaller rank with leading
// 1s as numpy does), rank <= BroadcastMap::kMaxRank. Axes of extent 1 are dropped and neighbours
// alike merged.
inline BroadcastMap broadcast_map(const int64_t* large, const int64_t* small, int rank) {
  BroadcastMap m;
  int64_t s = 1;
  int64_t stride[BroadcastMap::kMaxRank];
  for (int k = rank - 1; k >= 0; --k) {  // the small array's row-major strides, 0 where it repeats
    stride[k] = small[k] == 1 ? 0 : s;
    s *= small[k];
  }
  for (int k = 0; k < rank; ++k) {
    if (large[k] == 1) continue;
    const bool repeats = stride[k] == 0;
    if (m.rank > 0 && (m.stride[m.rank - 1] == 0) == repeats) {  // merge with the previous axis
      m.dim[m.rank - 1] *= large[k];
      if (!repeats) m.stride[m.rank - 1] = stride[k];
    } else {
      m.dim[m.rank] = large[k];
      m.stride[m.rank] = stride[k];
      ++m.rank;
    }
  }
  return m;
}

}  // namespace dpt::kernels
