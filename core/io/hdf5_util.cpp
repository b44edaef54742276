// HDF5 helpers.
#include "core/io/hdf5_util.h"
#include <mutex>

namespace dpt::h5 {

void quiet_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

std::vector<hsize_t> dataset_dims(hid_t dset) {
  Id space(H5Dget_space(dset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(size_t(rank > 0 ? rank : 0));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

namespace {

Id untimed(hid_t cls) {
  Id p(H5Pcreate(cls), H5Pclose);
  DPT_CHECK(p.valid() && H5Pset_obj_track_times(p.get(), 0) >= 0, "HDF5: cannot create a property list");
  return p;
}

}  // namespace

Id untimed_file_create() { return untimed(H5P_FILE_CREATE); }
Id untimed_dataset_create() { return untimed(H5P_DATASET_CREATE); }

void create_parents(hid_t parent, const std::string& name, const std::string& path) {
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    const std::string prefix = name.substr(0, slash);
    if (prefix.empty() || H5Lexists(parent, prefix.c_str(), H5P_DEFAULT) > 0) continue;
    Id gcpl = untimed(H5P_GROUP_CREATE);
    Id g(H5Gcreate2(parent, prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
    DPT_CHECK(g.valid(), "writing group '" << prefix << "' to '" << path << "' failed");
  }
}

Id create_group(hid_t parent, const std::string& name, const std::string& path) {
  create_parents(parent, name, path);
  Id gcpl = untimed(H5P_GROUP_CREATE);
  Id g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
  DPT_CHECK(g.valid(), "writing group '" << name << "' to '" << path << "' failed");
  return g;
}

}  // namespace dpt::h5
