// The zip reading of .keras archives: the end-of-central-directory record (and its zip64 form), the
// central directory's entries, each member's local header, then its bytes, stored or deflated
// (zlib, raw), checked against the CRC-32 the directory records.
#include "core/io/keras_archive.h"
#include <unistd.h>
#include <zlib.h>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include "core/tensor.h"

namespace dpt {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50, kEnd64LocatorSig = 0x07064b50;

// Little-endian fields of a byte range, each read checked against its end.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& where) : b_(bytes), where_(where) {}
  uint64_t u(uint64_t at, int width, const char* what) const {
    DPT_CHECK(at <= b_.size() && uint64_t(width) <= b_.size() - at,
              where_ << " is truncated or not a zip archive (" << what << " lies past its end)");
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | uint8_t(b_[size_t(at) + size_t(i)]);
    return v;
  }
  size_t size() const { return b_.size(); }
  const std::string& bytes() const { return b_; }

 private:
  const std::string& b_;
  const std::string& where_;
};

struct Member {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t packed = 0, size = 0, local = 0;
};

// The central directory's members.
std::vector<Member> directory(const Reader& r, const std::string& where) {
  const std::string& b = r.bytes();
  // The end record is the last 22 bytes, or earlier by its comment (at most 65535 bytes).
  DPT_CHECK(b.size() >= 22, where << " is not a zip archive (too short)");
  uint64_t end = std::numeric_limits<uint64_t>::max();
  const size_t lowest = b.size() > 22 + 65535 ? b.size() - 22 - 65535 : 0;
  for (size_t at = b.size() - 22 + 1; at-- > lowest;)
    if (r.u(at, 4, "the end record") == kEndSig) {
      end = at;
      break;
    }
  DPT_CHECK(end != std::numeric_limits<uint64_t>::max(),
            where << " is not a zip archive (no end-of-central-directory record): a .keras file is the zip "
                     "archive Keras 3's model.save writes");
  uint64_t count = r.u(end + 10, 2, "the entry count"), cd_size = r.u(end + 12, 4, "the directory size");
  uint64_t cd_at = r.u(end + 16, 4, "the directory offset");
  if ((count == 0xffff || cd_size == 0xffffffff || cd_at == 0xffffffff) && end >= 20 &&
      r.u(end - 20, 4, "the zip64 locator") == kEnd64LocatorSig) {
    const uint64_t end64 = r.u(end - 20 + 8, 8, "the zip64 end record's offset");
    DPT_CHECK(r.u(end64, 4, "the zip64 end record") == kEnd64Sig, where << " has a damaged zip64 end record");
    count = r.u(end64 + 32, 8, "the zip64 entry count");
    cd_size = r.u(end64 + 40, 8, "the zip64 directory size");
    cd_at = r.u(end64 + 48, 8, "the zip64 directory offset");
  }
  DPT_CHECK(cd_at <= b.size() && cd_size <= b.size() - cd_at,
            where << " is truncated or damaged (its central directory lies past its end)");
  // Each entry takes 46 bytes at least: a count the directory cannot hold is damage.
  DPT_CHECK(count <= cd_size / 46,
            where << " is damaged (" << count << " entries in a " << cd_size << "-byte central directory)");
  std::vector<Member> members;
  uint64_t at = cd_at;
  for (uint64_t i = 0; i < count; ++i) {
    DPT_CHECK(r.u(at, 4, "a directory entry") == kCentralSig,
              where << " is damaged (directory entry " << i << " has no signature)");
    Member m;
    m.flags = uint16_t(r.u(at + 8, 2, "a directory entry"));
    m.method = uint16_t(r.u(at + 10, 2, "a directory entry"));
    m.crc = uint32_t(r.u(at + 16, 4, "a directory entry"));
    m.packed = r.u(at + 20, 4, "a directory entry");
    m.size = r.u(at + 24, 4, "a directory entry");
    const uint64_t name_len = r.u(at + 28, 2, "a directory entry"), extra_len = r.u(at + 30, 2, "a directory entry");
    const uint64_t comment_len = r.u(at + 32, 2, "a directory entry");
    m.local = r.u(at + 42, 4, "a directory entry");
    DPT_CHECK(at + 46 + name_len <= b.size(), where << " is truncated (a member's name lies past its end)");
    m.name = b.substr(size_t(at + 46), size_t(name_len));
    // zip64: the fields written as 0xffffffff follow in the extra field 0x0001, in this order.
    for (uint64_t e = at + 46 + name_len; e + 4 <= at + 46 + name_len + extra_len;) {
      const uint64_t id = r.u(e, 2, "an extra field"), len = r.u(e + 2, 2, "an extra field");
      if (id == 1) {
        uint64_t f = e + 4;
        for (uint64_t* v : {&m.size, &m.packed, &m.local})
          if (*v == 0xffffffff && f + 8 <= e + 4 + len) {
            *v = r.u(f, 8, "a zip64 field");
            f += 8;
          }
      }
      e += 4 + len;
    }
    members.push_back(m);
    at += 46 + name_len + extra_len + comment_len;
  }
  return members;
}

// A member's bytes, unpacked and checked.
std::string extract(const Reader& r, const Member& m, const std::string& where) {
  const std::string what = where + " (member " + m.name + ")";
  DPT_CHECK(!(m.flags & 1), what << " is encrypted");
  DPT_CHECK(r.u(m.local, 4, "a member's local header") == kLocalSig, what << " is damaged (no local header)");
  const uint64_t data = m.local + 30 + r.u(m.local + 26, 2, "a local header") + r.u(m.local + 28, 2, "a local header");
  DPT_CHECK(data <= r.size() && m.packed <= r.size() - data,
            what << " is truncated (" << m.packed << " bytes expected)");
  const char* src = r.bytes().data() + data;
  std::string out;
  if (m.method == 0) {
    DPT_CHECK(m.packed == m.size, what << " is damaged (stored, yet " << m.packed << " bytes hold " << m.size << ")");
    out.assign(src, size_t(m.packed));
  } else if (m.method == 8) {
    // Deflate expands at most ~1032x: a larger claim is damage (or a zip bomb), refused before allocating.
    DPT_CHECK(m.size <= 1032 * m.packed + 64,
              what << " claims " << m.size << " bytes from " << m.packed << " compressed: damaged");
    check_host_bytes(int64_t(m.size), what + " inflated");
    out.resize(size_t(m.size));
    z_stream z{};
    DPT_CHECK(inflateInit2(&z, -MAX_WBITS) == Z_OK, "zlib could not start inflating " << what);
    uint64_t in_left = m.packed, out_done = 0;
    int rc = Z_OK;
    const auto* in = reinterpret_cast<const Bytef*>(src);
    while (rc == Z_OK) {  // uInt chunks: members may exceed 4 GiB
      const uInt in_chunk = uInt(std::min<uint64_t>(in_left, 1u << 30));
      const uInt out_chunk = uInt(std::min<uint64_t>(m.size - out_done, 1u << 30));
      z.next_in = const_cast<Bytef*>(in);
      z.avail_in = in_chunk;
      z.next_out = reinterpret_cast<Bytef*>(out.data()) + out_done;
      z.avail_out = out_chunk;
      rc = inflate(&z, Z_NO_FLUSH);
      in += in_chunk - z.avail_in;
      in_left -= in_chunk - z.avail_in;
      out_done += out_chunk - z.avail_out;
      if (rc == Z_OK && in_chunk == z.avail_in && out_chunk == z.avail_out) rc = Z_DATA_ERROR;  // no progress
      if (rc == Z_BUF_ERROR) rc = Z_DATA_ERROR;
    }
    inflateEnd(&z);
    DPT_CHECK(rc == Z_STREAM_END && out_done == m.size,
              what << " does not inflate to its " << m.size << " bytes: the archive is damaged");
  } else {
    DPT_FAIL(what << " is compressed with method " << m.method
                  << "; dptrain reads stored (Keras's own) and deflated members");
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t off = 0; off < out.size(); off += 1u << 30)
    crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data()) + off,
                uInt(std::min<size_t>(out.size() - off, 1u << 30)));
  DPT_CHECK(uint32_t(crc) == m.crc, what << " fails its CRC check: the archive is damaged");
  return out;
}

}  // namespace

bool is_keras_archive(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[4] = {};
  return f.read(sig, 4) && std::memcmp(sig, "PK\x03\x04", 4) == 0;
}

KerasArchive parse_keras_archive(const std::string& bytes, const std::string& where) {
  const Reader r(bytes, where);
  const std::vector<Member> members = directory(r, where);
  auto find = [&](const char* name) -> const Member* {
    for (const Member& m : members)
      if (m.name == name) return &m;
    return nullptr;
  };
  const Member* config = find("config.json");
  const Member* weights = find("model.weights.h5");
  DPT_CHECK(config, where << " has no config.json: not a Keras 3 .keras archive");
  DPT_CHECK(weights, where << " has no model.weights.h5: not a Keras 3 .keras archive");
  KerasArchive a;
  a.config = extract(r, *config, where);
  if (const Member* meta = find("metadata.json")) a.metadata = extract(r, *meta, where);
  const std::string w = extract(r, *weights, where);
  a.weights.assign(w.begin(), w.end());
  return a;
}

std::shared_ptr<const KerasArchive> read_keras_archive(const std::string& path) {
  const std::string where = "'" + path + "'";
  DPT_CHECK(std::filesystem::exists(path), "cannot load model: " << where << " does not exist");
  // Loading a model reads its archive for the config, the weights, the compile_config and the
  // optimizer state: the last archive read is kept while the file is unchanged (same path, size and
  // modification time), so it is read and CRC-checked once.
  struct Last {
    std::string path;
    std::uintmax_t size = 0;
    std::filesystem::file_time_type time;
    std::shared_ptr<const KerasArchive> archive;
  };
  static std::mutex mu;
  static Last last;
  const std::uintmax_t size = std::filesystem::file_size(path);
  const auto time = std::filesystem::last_write_time(path);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (last.archive && last.path == path && last.size == size && last.time == time) return last.archive;
  }
  std::ifstream f(path, std::ios::binary);
  DPT_CHECK(f, "cannot open " << where);
  std::stringstream ss;
  ss << f.rdbuf();
  auto archive = std::make_shared<const KerasArchive>(parse_keras_archive(ss.str(), where));
  std::lock_guard<std::mutex> lock(mu);
  last = Last{path, size, time, archive};
  return archive;
}

h5::Id open_h5_image(const std::vector<char>& bytes, const std::string& where) {
  h5::quiet_errors();
  h5::Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  DPT_CHECK(fapl.valid() && H5Pset_fapl_core(fapl.get(), 1 << 20, 0) >= 0 &&
                H5Pset_file_image(fapl.get(), const_cast<char*>(bytes.data()), bytes.size()) >= 0,
            "HDF5 could not take " << where << " into memory");
  h5::Id f(H5Fopen(where.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  DPT_CHECK(f.valid(), where << " is not an HDF5 file (or is damaged)");
  return f;
}

std::vector<char> h5_image(const std::function<void(hid_t)>& write, const std::string& where) {
  h5::quiet_errors();
  h5::Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  DPT_CHECK(fapl.valid() && H5Pset_fapl_core(fapl.get(), 1 << 20, 0) >= 0,
            "HDF5 could not make " << where << " in memory");
  h5::Id fcpl = h5::untimed_file_create();
  h5::Id f(H5Fcreate(where.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose);
  DPT_CHECK(f.valid(), "HDF5 could not make " << where << " in memory");
  write(f.get());
  DPT_CHECK(H5Fflush(f.get(), H5F_SCOPE_GLOBAL) >= 0, "flushing " << where << " failed");
  const ssize_t size = H5Fget_file_image(f.get(), nullptr, 0);
  DPT_CHECK(size > 0, "HDF5 could not give the bytes of " << where);
  std::vector<char> bytes(static_cast<size_t>(size));
  DPT_CHECK(H5Fget_file_image(f.get(), bytes.data(), bytes.size()) == size,
            "HDF5 could not give the bytes of " << where);
  return bytes;
}

namespace {

void put(std::string& out, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}

}  // namespace

std::string keras_archive_bytes(const KerasArchive& a) {
  struct Entry {
    std::string name;
    const char* data;
    size_t size;
  };
  const std::vector<Entry> entries = {{"metadata.json", a.metadata.data(), a.metadata.size()},
                                      {"config.json", a.config.data(), a.config.size()},
                                      {"model.weights.h5", a.weights.data(), a.weights.size()}};
  uint64_t total = 0;
  for (const Entry& e : entries) total += e.size + 200;
  DPT_CHECK(total < 0xffffffffu, "a .keras archive of " << total / (1u << 20)
                                                        << " MiB needs zip64, which dptrain "
                                                           "does not write; save the model to a .h5 path");
  constexpr uint16_t kDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, 00:00:00
  std::string out, dir;
  for (const Entry& e : entries) {
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(e.data), uInt(e.size));
    const uint64_t local = out.size();
    put(out, kLocalSig, 4);
    put(out, 20, 2);  // version needed: 2.0
    put(out, 0, 2);   // flags
    put(out, 0, 2);   // method: stored
    put(out, 0, 2);   // time
    put(out, kDate, 2);
    put(out, crc, 4);
    put(out, e.size, 4);  // compressed
    put(out, e.size, 4);  // uncompressed
    put(out, e.name.size(), 2);
    put(out, 0, 2);  // extra
    out += e.name;
    out.append(e.data, e.size);
    put(dir, kCentralSig, 4);
    put(dir, (3u << 8) | 20, 2);  // made by: Unix, 2.0
    put(dir, 20, 2);
    put(dir, 0, 2);
    put(dir, 0, 2);
    put(dir, 0, 2);
    put(dir, kDate, 2);
    put(dir, crc, 4);
    put(dir, e.size, 4);
    put(dir, e.size, 4);
    put(dir, e.name.size(), 2);
    put(dir, 0, 2);                        // extra
    put(dir, 0, 2);                        // comment
    put(dir, 0, 2);                        // disk
    put(dir, 0, 2);                        // internal attributes
    put(dir, uint64_t(0100644) << 16, 4);  // external attributes: a regular file, rw-r--r--
    put(dir, local, 4);
    dir += e.name;
  }
  const uint64_t dir_at = out.size();
  out += dir;
  put(out, kEndSig, 4);
  put(out, 0, 2);
  put(out, 0, 2);
  put(out, entries.size(), 2);
  put(out, entries.size(), 2);
  put(out, dir.size(), 4);
  put(out, dir_at, 4);
  put(out, 0, 2);  // comment
  return out;
}

void write_file_atomically(const std::string& path, const char* what, const std::string& bytes) {
  const std::filesystem::path target = std::filesystem::absolute(path);
  const std::filesystem::path dir = target.parent_path();
  DPT_CHECK(std::filesystem::is_directory(dir),
            "cannot save " << what << " to '" << path << "': folder '" << dir.string() << "' does not exist");
  const std::string tmp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(getpid()))).string();
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  DPT_CHECK(f, "cannot save " << what << " to '" << path << "': folder '" << dir.string() << "' is not writable");
  const bool ok =
      std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  std::error_code ec;
  if (!ok || !closed) {
    std::filesystem::remove(tmp, ec);  // never leave a torn file behind; the previous file is untouched
    DPT_FAIL("writing '" << tmp << "' failed (disk full?)");
  }
  std::filesystem::rename(tmp, target, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    DPT_FAIL("cannot save " << what << " to '" << path << "': " << ec.message());
  }
}

}  // namespace dpt
