// .npy parsing: magic, version, header dict ('descr', 'fortran_order', 'shape'), little-endian data.
#include "core/data/npy.h"
#include <algorithm>
#include <cstring>
#include <fstream>
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

// The text of key's value in a .npy header dict ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"):
// a quoted string, a bare word, or a parenthesised tuple, as numpy writes them.
static std::string header_value(const std::string& h, const std::string& key, const std::string& where) {
  size_t p = h.find("'" + key + "'");
  DPT_CHECK(p != std::string::npos, where << " has no '" << key << "'");
  p = h.find_first_not_of(' ', p + key.size() + 2);
  DPT_CHECK(p != std::string::npos && h[p] == ':', where << ": '" << key << "' has no value");
  p = h.find_first_not_of(' ', p + 1);
  DPT_CHECK(p != std::string::npos, where << ": '" << key << "' has no value");
  size_t e = std::string::npos;
  if (h[p] == '\'') e = h.find('\'', p + 1);
  else if (h[p] == '(') e = h.find(')', p + 1);
  else {
    e = h.find_first_of(",}", p);
    if (e != std::string::npos)
      for (--e; e > p && h[e] == ' ';) --e;
  }
  DPT_CHECK(e != std::string::npos && e < h.size() && e >= p, where << ": '" << key << "' has no readable value");
  return h.substr(p, e - p + 1);
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

  const std::string where = "'" + path + "': .npy header";
  const std::string descr = header_value(header, "descr", where);
  DPT_CHECK(descr.size() >= 4 && descr.front() == '\'' && descr.back() == '\'',
            where << " has no readable 'descr' (a dtype string such as '<f4')");
  const char order = descr[1];
  DPT_CHECK(order != '>', "'" << path << "': big-endian .npy data is not supported; save it little-endian");
  DPT_CHECK(order == '<' || order == '|' || order == '=', where << " has no readable 'descr' (got " << descr << ")");
  NpyArray a;
  a.dtype = descr.substr(2, descr.size() - 3);
  const std::string fortran = header_value(header, "fortran_order", where);
  DPT_CHECK(fortran == "True" || fortran == "False", where << ": 'fortran_order' is neither True nor False");
  DPT_CHECK(fortran == "False", "'" << path << "': Fortran-order arrays are not supported; save with np.ascontiguousarray");
  const std::string dims = header_value(header, "shape", where);
  DPT_CHECK(dims.size() >= 2 && dims.front() == '(' && dims.back() == ')', where << " has no readable 'shape' (a tuple)");
  // "(3, 32, 32)", "(5,)", "()": whole numbers separated by commas (Python 2 wrote "3L").
  const std::string inner = dims.substr(1, dims.size() - 2);
  size_t from = 0;
  while (inner.find_first_not_of(' ', from) != std::string::npos) {
    const size_t comma = std::min(inner.find(',', from), inner.size());
    std::string tok = inner.substr(from, comma - from);
    tok.erase(0, tok.find_first_not_of(' '));
    tok.erase(tok.find_last_not_of(' ') + 1);
    if (!tok.empty() && tok.back() == 'L') tok.pop_back();
    DPT_CHECK(!tok.empty() && tok.size() <= 18 && tok.find_first_not_of("0123456789") == std::string::npos,
              where << ": 'shape' " << dims << " is not a tuple of whole numbers");
    a.shape.push_back(std::stoll(tok));
    from = comma + 1;
  }

  const bool known = a.dtype == "f4" || a.dtype == "f8" || a.dtype == "u1" || a.dtype == "b1" || a.dtype == "i1" ||
                     a.dtype == "i2" || a.dtype == "u2" || a.dtype == "i4" || a.dtype == "u4" || a.dtype == "i8" ||
                     a.dtype == "u8";
  DPT_CHECK(known, "'" << path << "': unsupported .npy dtype '" << a.dtype << "' (use float32, float64, uint8 or integers)");
  const int64_t esize = a.dtype[1] - '0';  // every supported dtype has a one-digit size
  // The data must be in the file before any of it is allocated.
  const std::streamoff start = f.tellg();
  f.seekg(0, std::ios::end);
  const int64_t have = int64_t(f.tellg() - start);
  f.seekg(start);
  const int64_t want = checked_mul(shape_numel(a.shape), esize, "the .npy data");
  DPT_CHECK(have >= want, "'" << path << "' is truncated: expected " << want << " bytes of data for shape "
                              << shape_str(a.shape) << ", found " << have);
  check_host_bytes(checked_mul(want / esize, int64_t(sizeof(double)), "the .npy data"),
                   "'" + path + "' " + shape_str(a.shape));
  std::vector<char> raw(size_t(want), '\0');
  f.read(raw.data(), std::streamsize(raw.size()));
  DPT_CHECK(f.gcount() == want, "'" << path << "': reading " << want << " bytes of data failed");
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
  else DPT_FAIL("'" << path << "': unsupported .npy dtype '" << a.dtype << "'");  // excluded above
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
