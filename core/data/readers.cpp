// CIFAR-10 binary, MNIST IDX (zlib reads plain and .gz alike), HDF5 x/y, .npy pairs, synthetic.
#include "core/data/readers.h"
#include <zlib.h>
#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include "core/data/npy.h"
#include "core/error.h"
#include "core/io/hdf5_util.h"

namespace fs = std::filesystem;

namespace dpt {

// ---- CIFAR-10 ----------------------------------------------------------------------------------
static void append_cifar_file(const fs::path& p, Dataset& d) {
  constexpr int64_t kRec = 1 + 3072;
  std::ifstream f(p, std::ios::binary);
  DPT_CHECK(f, "cannot open '" << p.string() << "'");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  DPT_CHECK(!bytes.empty() && bytes.size() % kRec == 0,
            "'" << p.string() << "' is truncated or not a CIFAR-10 binary batch: " << bytes.size()
                << " bytes is not a whole number of 3073-byte records");
  const int64_t n = int64_t(bytes.size()) / kRec;
  const size_t base = d.x.size();
  d.x.resize(base + size_t(n) * 3072);
  for (int64_t i = 0; i < n; ++i) {
    const unsigned char* r = bytes.data() + i * kRec;
    DPT_CHECK(r[0] < 10, "'" << p.string() << "': record " << i << " has label " << int(r[0]) << ", outside 0..9");
    d.y.push_back(float(r[0]));
    float* dst = d.x.data() + base + size_t(i) * 3072;
    for (int c = 0; c < 3; ++c)  // CHW planes -> HWC
      for (int px = 0; px < 1024; ++px) dst[px * 3 + c] = float(r[1 + c * 1024 + px]) / 255.f;
  }
}

DataSplits load_cifar10(const std::string& dir) {
  fs::path root = dir;
  if (!fs::exists(root / "data_batch_1.bin") && fs::exists(root / "cifar-10-batches-bin")) root /= "cifar-10-batches-bin";
  DPT_CHECK(fs::exists(root / "data_batch_1.bin") || fs::exists(root / "test_batch.bin"),
            "no CIFAR-10 binary files in '" << dir << "': expected data_batch_1.bin ... data_batch_5.bin and "
                                               "test_batch.bin (the 'CIFAR-10 binary version')");
  DataSplits s;
  s.train.sample_shape = {32, 32, 3};
  s.train.num_classes = 10;
  for (int b = 1; b <= 5; ++b)
    if (fs::exists(root / ("data_batch_" + std::to_string(b) + ".bin")))
      append_cifar_file(root / ("data_batch_" + std::to_string(b) + ".bin"), s.train);
  if (fs::exists(root / "test_batch.bin")) {
    Dataset t;
    t.sample_shape = {32, 32, 3};
    t.num_classes = 10;
    append_cifar_file(root / "test_batch.bin", t);
    s.test = std::move(t);
  }
  DPT_CHECK(s.train.size() > 0, "no CIFAR-10 training batches (data_batch_*.bin) in '" << root.string() << "'");
  s.description = "cifar10 (" + std::to_string(s.train.size()) + " train" +
                  (s.test ? ", " + std::to_string(s.test->size()) + " test" : std::string()) + ")";
  return s;
}

// ---- MNIST IDX ---------------------------------------------------------------------------------
static std::vector<unsigned char> read_gz_or_plain(const fs::path& p) {
  gzFile f = gzopen(p.string().c_str(), "rb");
  DPT_CHECK(f, "cannot open '" << p.string() << "'");
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  const bool bad = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  const std::string what = msg ? msg : "";
  gzclose(f);
  DPT_CHECK(!bad, "'" << p.string() << "' is corrupt or truncated (" << what << ")");
  return out;
}

static uint32_t be32(const unsigned char* p) { return (uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }

static fs::path find_idx(const fs::path& dir, const std::string& stem) {
  for (const std::string& name : {stem, stem + ".gz"})
    if (fs::exists(dir / name)) return dir / name;
  std::string alt = stem;  // some mirrors use "train-images.idx3-ubyte"
  alt[alt.find('-', 6)] = '.';
  for (const std::string& name : {alt, alt + ".gz"})
    if (fs::exists(dir / name)) return dir / name;
  return {};
}

static Dataset read_mnist_pair(const fs::path& images, const fs::path& labels) {
  auto img = read_gz_or_plain(images);
  auto lab = read_gz_or_plain(labels);
  DPT_CHECK(img.size() >= 16 && be32(img.data()) == 2051,
            "'" << images.string() << "' is not an IDX image file (magic 2051 expected)");
  DPT_CHECK(lab.size() >= 8 && be32(lab.data()) == 2049,
            "'" << labels.string() << "' is not an IDX label file (magic 2049 expected)");
  const int64_t n = be32(img.data() + 4), h = be32(img.data() + 8), w = be32(img.data() + 12);
  // Each factor is below 2^32: n * h * w fits 128 bits.
  const unsigned __int128 pixels = (unsigned __int128)uint64_t(n) * uint64_t(h) * uint64_t(w);
  DPT_CHECK(pixels == img.size() - 16, "'" << images.string() << "' is truncated or corrupt: its header says " << n
                                                       << " images of " << h << "x" << w << ", file holds "
                                                       << img.size() - 16 << " pixel bytes");
  const int64_t nl = be32(lab.data() + 4);
  DPT_CHECK(int64_t(lab.size()) == 8 + nl, "'" << labels.string() << "' is truncated");
  DPT_CHECK(nl == n, "'" << images.string() << "' has " << n << " images but '" << labels.string() << "' has " << nl << " labels");
  Dataset d;
  d.sample_shape = {h, w, 1};
  d.num_classes = 10;
  d.x.resize(size_t(n * h * w));
  for (size_t i = 0; i < d.x.size(); ++i) d.x[i] = float(img[16 + i]) / 255.f;
  d.y.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    DPT_CHECK(lab[8 + i] < 10, "'" << labels.string() << "': label " << int(lab[8 + i]) << " at " << i << " is outside 0..9");
    d.y[size_t(i)] = float(lab[8 + i]);
  }
  return d;
}

DataSplits load_mnist(const std::string& dir) {
  const fs::path root = dir;
  const fs::path ti = find_idx(root, "train-images-idx3-ubyte"), tl = find_idx(root, "train-labels-idx1-ubyte");
  DPT_CHECK(!ti.empty() && !tl.empty(), "no MNIST files in '" << dir << "': expected train-images-idx3-ubyte and "
                                                                  "train-labels-idx1-ubyte (plain or .gz)");
  DataSplits s;
  s.train = read_mnist_pair(ti, tl);
  const fs::path vi = find_idx(root, "t10k-images-idx3-ubyte"), vl = find_idx(root, "t10k-labels-idx1-ubyte");
  if (!vi.empty() && !vl.empty()) s.test = read_mnist_pair(vi, vl);
  s.description = "mnist (" + std::to_string(s.train.size()) + " train" +
                  (s.test ? ", " + std::to_string(s.test->size()) + " test" : std::string()) + ")";
  return s;
}

// ---- labels shared by HDF5 and npy --------------------------------------------------------------
// Labels of shape (N,) or (N, 1) are class indices where every one is a whole number in
// [0, 2^31), else one column of targets (binary cross-entropy's soft labels, a regression's
// values: the trainer checks them against the model's output); (N, C>1) are one-hot / probability
// rows or targets.
static void set_labels(Dataset& d, const std::vector<double>& y, const Shape& yshape, int64_t n, const std::string& what) {
  DPT_CHECK(!yshape.empty() && yshape[0] == n, what << ": " << n << " samples but labels of shape " << shape_str(yshape));
  const int64_t cols = n ? int64_t(y.size()) / n : 1;
  d.y.assign(y.begin(), y.end());
  if (cols == 1) {
    d.y_dim = 1;
    double mx = 0;
    bool indices = true;
    for (double v : y) {
      DPT_CHECK(std::isfinite(v), what << ": label " << v << " is not a number");
      indices = indices && v >= 0 && v == std::floor(v) && v < double(INT32_MAX);
      mx = std::max(mx, v);
    }
    d.y_is_index = indices;
    d.num_classes = indices ? int64_t(mx) + 1 : 0;
  } else {
    d.y_dim = cols;
    d.y_is_index = false;
    d.num_classes = cols;
  }
}

// Keras's sample_weight: one weight a sample, (samples,) or (samples, 1); `what` names the source.
static void set_weights(Dataset& d, const std::vector<double>& w, const Shape& shape, int64_t samples,
                        const std::string& what) {
  DPT_CHECK((shape.size() == 1 || (shape.size() == 2 && shape[1] == 1)) && shape[0] == samples,
            what << " must hold one weight a sample, (" << samples << ",), got " << shape_str(shape));
  d.weight.assign(w.begin(), w.end());
}

// ---- HDF5 --------------------------------------------------------------------------------------
static std::vector<double> read_h5_doubles(hid_t file, const std::string& name, const std::string& path, Shape* shape,
                                           bool* is_u8) {
  DPT_CHECK(H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0,
            "'" << path << "' has no dataset '" << name << "' (name the datasets with h5:FILE:XNAME,YNAME)");
  h5::Id ds(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  DPT_CHECK(ds.valid(), "cannot open dataset '" << name << "' in '" << path << "'");
  h5::Id type(H5Dget_type(ds.get()), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.get());
  DPT_CHECK(cls == H5T_INTEGER || cls == H5T_FLOAT, "dataset '" << name << "' in '" << path << "' is not numeric");
  *is_u8 = cls == H5T_INTEGER && H5Tget_size(type.get()) == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE;
  shape->clear();
  for (hsize_t d : h5::dataset_dims(ds.get())) shape->push_back(int64_t(d));
  const int64_t count = shape_numel(*shape);
  check_host_bytes(checked_mul(count, int64_t(sizeof(double)), "dataset"),
                   "dataset '" + name + "' " + shape_str(*shape) + " of '" + path + "'");
  std::vector<double> v(static_cast<size_t>(count));
  DPT_CHECK(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0,
            "reading dataset '" << name << "' of '" << path << "' failed: the file is corrupt or truncated");
  return v;
}

// "a+b+c" -> {a, b, c}: a model's several inputs, each named in turn.
static std::vector<std::string> input_parts(const std::string& list, const std::string& what) {
  std::vector<std::string> parts;
  size_t at = 0;
  while (true) {
    const size_t plus = list.find('+', at);
    parts.push_back(list.substr(at, plus == std::string::npos ? std::string::npos : plus - at));
    DPT_CHECK(!parts.back().empty(), "bad " << what << " '" << list << "': an empty name among the inputs (A+B+...)");
    if (plus == std::string::npos) return parts;
    at = plus + 1;
  }
}

// Each input's values (uint8 pixels scaled by 1/255), checked to hold n samples; an array of one
// axis is one value a sample.
static void add_input(std::vector<std::vector<float>>& xs, std::vector<Shape>& shapes, const std::vector<double>& v,
                      const Shape& shape, bool u8, const std::string& what, int64_t* n) {
  DPT_CHECK(shape.size() >= 1, what << " must be (samples, ...), got " << shape_str(shape));
  DPT_CHECK(*n < 0 || shape[0] == *n, what << " holds " << shape[0] << " samples but the first input holds " << *n
                                           << ": every input needs one row a sample");
  *n = shape[0];
  std::vector<float> x(v.size());
  for (size_t i = 0; i < v.size(); ++i) x[i] = float(u8 ? v[i] / 255.0 : v[i]);
  xs.push_back(std::move(x));
  // (samples,): one value a sample, as (samples, 1) (Keras adds the axis for an input of shape (1,))
  shapes.emplace_back(shape.size() == 1 ? Shape{1} : Shape(shape.begin() + 1, shape.end()));
}

Dataset load_hdf5_dataset(const std::string& file, const std::string& xn, const std::string& yn,
                          const std::string& wn) {
  h5::quiet_errors();
  DPT_CHECK(fs::exists(file), "cannot open '" << file << "': no such file");
  DPT_CHECK(H5Fis_hdf5(file.c_str()) > 0, "'" << file << "' is not an HDF5 file (or is truncated)");
  h5::Id f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  DPT_CHECK(f.valid(), "cannot open HDF5 file '" << file << "' (corrupt or truncated?)");
  std::vector<std::vector<float>> xs;
  std::vector<Shape> shapes;
  int64_t n = -1;
  for (const std::string& name : input_parts(xn, "list of datasets")) {
    Shape s;
    bool u8 = false;
    const auto v = read_h5_doubles(f.get(), name, file, &s, &u8);
    add_input(xs, shapes, v, s, u8, "dataset '" + name + "' in '" + file + "'", &n);
  }
  Shape ys;
  bool yu8 = false;
  auto y = read_h5_doubles(f.get(), yn, file, &ys, &yu8);
  Dataset d;
  d.set_inputs(xs, shapes);
  set_labels(d, y, ys, n, "'" + file + "'");
  if (!wn.empty()) {
    Shape ws;
    bool wu8 = false;
    const auto w = read_h5_doubles(f.get(), wn, file, &ws, &wu8);
    set_weights(d, w, ws, n, "dataset '" + wn + "' in '" + file + "'");
  }
  return d;
}

// ---- npy ---------------------------------------------------------------------------------------
Dataset load_npy_dataset(const std::string& xf, const std::string& yf, const std::string& wf) {
  std::vector<std::vector<float>> xs;
  std::vector<Shape> shapes;
  int64_t n = -1;
  for (const std::string& file : input_parts(xf, "list of files")) {
    NpyArray x = read_npy(file);
    DPT_CHECK(x.dtype != "b1", "'" << file << "': samples must be numbers (float or integer), got booleans");
    add_input(xs, shapes, x.values, x.shape, x.dtype == "u1", "'" + file + "'", &n);
  }
  Dataset d;
  d.set_inputs(xs, shapes);
  if (yf.empty()) {  // samples only: enough to predict
    d.y_dim = 0;
    d.y_is_index = false;
    return d;
  }
  NpyArray y = read_npy(yf);
  set_labels(d, y.values, y.shape, n, "'" + yf + "'");
  if (!wf.empty()) {  // Keras's sample_weight: (samples,) or (samples, 1)
    NpyArray w = read_npy(wf);
    DPT_CHECK(w.dtype != "b1", "'" << wf << "': sample weights must be numbers, got booleans");
    set_weights(d, w.values, w.shape, n, "'" + wf + "'");
  }
  return d;
}

Dataset make_synthetic(const Shape& shape, int64_t classes, int64_t n, uint64_t seed, int64_t index_limit) {
  DPT_CHECK(classes >= 1 && n >= 1, "synthetic data needs >= 1 class and >= 1 sample");
  Dataset d;
  d.sample_shape = shape;
  d.num_classes = classes;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int64_t numel = checked_mul(n, shape_numel(shape), "synthetic data");
  check_host_bytes(checked_mul(numel, int64_t(sizeof(float)), "synthetic data"),
                   "synthetic data of " + std::to_string(n) + " samples of shape " + shape_str(shape));
  d.x.resize(size_t(numel));
  if (index_limit > 0)
    for (auto& v : d.x) v = float(rng() % uint64_t(index_limit));
  else
    for (auto& v : d.x) v = u(rng);
  d.y.resize(size_t(n));
  for (auto& v : d.y) v = float(rng() % uint64_t(classes));
  return d;
}

}  // namespace dpt
