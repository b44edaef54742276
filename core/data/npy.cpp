// .npy parsing: magic, version, header dict ('descr', 'fortran_order', 'shape'), little-endian data.
#include "core/data/npy.h"
#include <cstring>
#include <fstream>
#include <regex>
#include "core/error.h"

namespace dpt {

template <typename T>
static void convert(const std::vector<char>& raw, std::vector<double>& out) {
  const size_t n = raw.size() / sizeof(T);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    out[i] = double(v);
  }
}

NpyArray read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  DPT_CHECK(f, "cannot open '" << path << "': no such file or not readable");
  char magic[8] = {};
  f.read(magic, 8);
  DPT_CHECK(f && std::memcmp(magic, "\x93NUMPY", 6) == 0, "'" << path << "' is not a NumPy .npy file (bad magic)");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    f.read(reinterpret_cast<char*>(b), 2);
    hlen = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    f.read(reinterpret_cast<char*>(b), 4);
    hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  }
  DPT_CHECK(f && hlen < (1u << 20), "'" << path << "': truncated .npy header");
  std::string header(hlen, '\0');
  f.read(header.data(), hlen);
  DPT_CHECK(f, "'" << path << "': truncated .npy header");

  std::smatch m;
  DPT_CHECK(std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([<>|=])([a-z])([0-9]+)'")),
            "'" << path << "': .npy header has no readable 'descr'");
  const std::string order = m[1], kind = m[2], size = m[3];
  DPT_CHECK(order != ">", "'" << path << "': big-endian .npy data is not supported; save it little-endian");
  NpyArray a;
  a.dtype = kind + size;
  DPT_CHECK(std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")) && m[1] == "False",
            "'" << path << "': Fortran-order arrays are not supported; save with np.ascontiguousarray");
  DPT_CHECK(std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")),
            "'" << path << "': .npy header has no 'shape'");
  const std::string dims = m[1];
  const std::regex number("[0-9]+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it)
    a.shape.push_back(std::stoll(it->str()));

  size_t esize = size_t(std::stoi(size));
  const size_t count = size_t(shape_numel(a.shape));
  std::vector<char> raw(count * esize);
  f.read(raw.data(), std::streamsize(raw.size()));
  DPT_CHECK(size_t(f.gcount()) == raw.size(), "'" << path << "' is truncated: expected " << raw.size()
                                                  << " bytes of data for shape " << shape_str(a.shape) << ", found "
                                                  << f.gcount());
  if (a.dtype == "f4") convert<float>(raw, a.values);
  else if (a.dtype == "f8") convert<double>(raw, a.values);
  else if (a.dtype == "u1" || a.dtype == "b1") convert<uint8_t>(raw, a.values);
  else if (a.dtype == "i1") convert<int8_t>(raw, a.values);
  else if (a.dtype == "i2") convert<int16_t>(raw, a.values);
  else if (a.dtype == "u2") convert<uint16_t>(raw, a.values);
  else if (a.dtype == "i4") convert<int32_t>(raw, a.values);
  else if (a.dtype == "u4") convert<uint32_t>(raw, a.values);
  else if (a.dtype == "i8") convert<int64_t>(raw, a.values);
  else if (a.dtype == "u8") convert<uint64_t>(raw, a.values);
  else DPT_FAIL("'" << path << "': unsupported .npy dtype '" << a.dtype << "' (use float32, float64, uint8 or integers)");
  return a;
}

void write_npy(const std::string& path, const Shape& shape, const float* data) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream f(path, std::ios::binary);
  DPT_CHECK(f, "cannot write '" << path << "': check that the folder exists and is writable");
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t hl = uint16_t(header.size());
  const char b[2] = {char(hl & 0xff), char(hl >> 8)};
  f.write(b, 2);
  f.write(header.data(), std::streamsize(header.size()));
  f.write(reinterpret_cast<const char*>(data), std::streamsize(sizeof(float) * size_t(shape_numel(shape))));
  f.close();
  DPT_CHECK(f, "writing '" << path << "' failed (disk full?)");
}

}  // namespace dpt
