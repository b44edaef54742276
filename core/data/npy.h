// NumPy .npy (format 1.x/2.x/3.x, C order) reading and writing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "core/tensor.h"

namespace dpt {

struct NpyArray {
  std::string dtype;  // numpy descr without byte order: f4, f8, u1, i1, i2, i4, i8, u2, u4, u8, b1
  Shape shape;
  std::vector<double> values;  // converted element values, in C order
  bool is_integer() const { return dtype[0] == 'i' || dtype[0] == 'u' || dtype[0] == 'b'; }
};

NpyArray read_npy(const std::string& path);
// Writes a float32 array.
void write_npy(const std::string& path, const Shape& shape, const float* data);

}  // namespace dpt
