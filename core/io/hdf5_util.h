// Move-only owners for HDF5 ids and small helpers shared by the data reader and the weights files.
#pragma once
#include <hdf5.h>
#include <string>
#include <utility>
#include <vector>
#include "core/error.h"

namespace dpt::h5 {

// Owns one HDF5 id and closes it with the matching H5*close.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer close) : id_(id), close_(close) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, -1)), close_(o.close_) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, -1);
      close_ = o.close_;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);  // destructors never throw: a failed close is ignored
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// Silences HDF5's own error printing (we report errors ourselves) once per process.
void quiet_errors();

// Checks an HDF5 return (negative = failure) and throws with `what` and the file name.
#define DPT_HDF5_CHECK(expr, what)                                  \
  ([&]() {                                                          \
    auto dpt_r_ = (expr);                                           \
    DPT_CHECK(dpt_r_ >= 0, what);                                   \
    return dpt_r_;                                                  \
  }())

std::vector<hsize_t> dataset_dims(hid_t dset);

// Files dptrain writes hold no timestamps (HDF5 records each object's creation and modification
// times by default): the same content gives the same bytes, so saved files can be compared and
// reproduced. These creation property lists turn the times off; groups and datasets are created
// through them, their parent groups too (never HDF5's implicit intermediate groups).
Id untimed_file_create();
Id untimed_dataset_create();
// Creates group `name` (which may hold '/') below `parent`, and its missing parents; throws with
// `path` (the file) on failure.
Id create_group(hid_t parent, const std::string& name, const std::string& path);
// Creates the missing parent groups of `name` ("a/b/c": a and a/b).
void create_parents(hid_t parent, const std::string& name, const std::string& path);

}  // namespace dpt::h5
