// Keras 3's native model file, model.save('m.keras'): a zip archive holding config.json (the
// model's config, with its compile_config and build_config), metadata.json (keras_version,
// date_saved) and model.weights.h5 (the Keras 3 weights layout: layers/<key>/vars/<i>, and the
// optimizer's variables in optimizer/vars/<i>).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "core/io/hdf5_util.h"

namespace dpt {

struct KerasArchive {
  std::string config;         // config.json
  std::string metadata;       // metadata.json ("" when absent)
  std::vector<char> weights;  // model.weights.h5, whole
};

// True when the file starts as a zip archive does (a local file header).
bool is_keras_archive(const std::string& path);
// Reads the archive at `path`; throws naming the file and what is wrong (not a zip, a member
// missing, a compression other than stored or deflate, a CRC that does not match, truncation).
// The last archive read is kept and returned again while the file is unchanged.
std::shared_ptr<const KerasArchive> read_keras_archive(const std::string& path);
// The same from the archive's bytes; `where` names it in messages (the fuzz target's entry).
KerasArchive parse_keras_archive(const std::string& bytes, const std::string& where);
// Opens HDF5 bytes held in memory, read-only (HDF5 keeps its own copy); `where` names them.
h5::Id open_h5_image(const std::vector<char>& bytes, const std::string& where);

// An HDF5 file made in memory (no timestamps): `write` fills it; its bytes are returned.
std::vector<char> h5_image(const std::function<void(hid_t)>& write, const std::string& where);
// The zip archive of `a`, members stored as Keras stores them (metadata.json, config.json,
// model.weights.h5), each dated 1980-01-01 so that the same content gives the same bytes.
std::string keras_archive_bytes(const KerasArchive& a);
// Writes `bytes` to `path` through a temporary file in the same folder, flushed and renamed: a
// failed write leaves an existing file as it was. `what` names the content in messages.
void write_file_atomically(const std::string& path, const char* what, const std::string& bytes);

}  // namespace dpt
