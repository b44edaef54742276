// Every reader on small files written here in that format, and on truncated/corrupt ones.
#include <hdf5.h>
#include <zlib.h>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include "core/data/digits.h"
#include "core/data/npy.h"
#include "core/data/readers.h"
#include "core/data/spec.h"
#include "core/error.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {
void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
void put_be32(std::vector<unsigned char>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back((unsigned char)(v >> s));
}
// Minimal .npy writer for integer labels (write_npy covers float32).
void write_npy_i64(const std::string& path, const std::vector<int64_t>& v) {
  std::string h = "{'descr': '<i8', 'fortran_order': False, 'shape': (" + std::to_string(v.size()) + ",), }";
  h += std::string(63 - (10 + h.size()) % 64, ' ') + "\n";
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const char hl[2] = {char(h.size() & 0xff), char(h.size() >> 8)};
  f.write(hl, 2);
  f.write(h.data(), std::streamsize(h.size()));
  f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * 8));
}
}  // namespace

TEST_CASE("embedded digits: 1797 samples, scikit-learn's class counts, pixels in [0, 1]", "[data]") {
  Dataset d = load_digits();
  REQUIRE(d.size() == 1797);
  CHECK(d.sample_shape == Shape{8, 8, 1});
  std::vector<int> counts(10, 0);
  for (float y : d.y) counts[size_t(y)]++;
  CHECK(counts == std::vector<int>{178, 182, 177, 183, 181, 182, 181, 179, 174, 180});
  CHECK(*std::max_element(d.x.begin(), d.x.end()) == 1.f);
  CHECK(*std::min_element(d.x.begin(), d.x.end()) == 0.f);
  // Stored in a fixed permutation of scikit-learn's order (scripts/make_digits_data.py).
  CHECK(d.y[0] == 6.f);
  CHECK(d.x[2] == 1.f / 16.f);
  CHECK(d.x[3] == 13.f / 16.f);
}

TEST_CASE("validation split takes the last fraction, as Keras", "[data]") {
  Dataset d = make_synthetic({2}, 3, 10, 1);
  const float first_val = d.x[8 * 2];
  Dataset val;
  split_validation(d, 0.2, &val);
  CHECK(d.size() == 8);
  CHECK(val.size() == 2);
  CHECK(val.x[0] == first_val);
  CHECK_THROWS_WITH(split_validation(d, 1.0, &val), "validation split must be in [0, 1), got 1");
}

TEST_CASE("CIFAR-10 binary: CHW planes become HWC, truncated files are errors", "[data][cifar]") {
  const std::string dir = test::temp_dir("cifar");
  std::vector<unsigned char> rec(2 * 3073);
  for (int r = 0; r < 2; ++r) {
    rec[r * 3073] = (unsigned char)(r + 3);
    for (int i = 0; i < 3072; ++i) rec[r * 3073 + 1 + i] = (unsigned char)((i / 1024) * 100 + i % 7);
  }
  write_bytes(dir + "/data_batch_1.bin", rec);
  write_bytes(dir + "/test_batch.bin", std::vector<unsigned char>(rec.begin(), rec.begin() + 3073));
  DataSplits s = load_cifar10(dir);
  REQUIRE(s.train.size() == 2);
  REQUIRE(s.test);
  CHECK(s.test->size() == 1);
  CHECK(s.train.sample_shape == Shape{32, 32, 3});
  CHECK(s.train.y == std::vector<float>{3, 4});
  // pixel 1 (row 0, col 1): R = 0*100 + 1, G = 100 + (1025 % 7), B = 200 + (2049 % 7)
  CHECK(s.train.x[3 + 0] == Catch::Detail::Approx(1 / 255.0));
  CHECK(s.train.x[3 + 1] == Catch::Detail::Approx((100 + 1025 % 7) / 255.0));
  CHECK(s.train.x[3 + 2] == Catch::Detail::Approx((200 + 2049 % 7) / 255.0));
  write_bytes(dir + "/data_batch_2.bin", std::vector<unsigned char>(rec.begin(), rec.begin() + 4000));
  CHECK_THROWS_WITH(load_cifar10(dir), Contains("data_batch_2.bin' is truncated or not a CIFAR-10 binary batch"));
  CHECK_THROWS_WITH(load_cifar10(dir + "/nothing"), Contains("no CIFAR-10 binary files in"));
}

TEST_CASE("MNIST IDX, plain and gzip; bad magic and truncation are errors", "[data][mnist]") {
  const std::string dir = test::temp_dir("mnist");
  std::vector<unsigned char> img, lab;
  put_be32(img, 2051), put_be32(img, 3), put_be32(img, 2), put_be32(img, 2);
  for (int i = 0; i < 12; ++i) img.push_back((unsigned char)(i * 20));
  put_be32(lab, 2049), put_be32(lab, 3);
  lab.insert(lab.end(), {7, 0, 9});
  write_bytes(dir + "/train-images-idx3-ubyte", img);
  gzFile gz = gzopen((dir + "/train-labels-idx1-ubyte.gz").c_str(), "wb");
  gzwrite(gz, lab.data(), unsigned(lab.size()));
  gzclose(gz);
  DataSplits s = load_mnist(dir);
  REQUIRE(s.train.size() == 3);
  CHECK(s.train.sample_shape == Shape{2, 2, 1});
  CHECK(s.train.y == std::vector<float>{7, 0, 9});
  CHECK(s.train.x[5] == Catch::Detail::Approx(100 / 255.0));
  CHECK_FALSE(s.test);
  img.resize(20);  // truncated pixel data
  write_bytes(dir + "/train-images-idx3-ubyte", img);
  CHECK_THROWS_WITH(load_mnist(dir), Contains("train-images-idx3-ubyte' is truncated"));
  img[3] = 0;  // bad magic
  write_bytes(dir + "/train-images-idx3-ubyte", img);
  CHECK_THROWS_WITH(load_mnist(dir), Contains("is not an IDX image file (magic 2051 expected)"));
  write_bytes(dir + "/train-labels-idx1-ubyte.gz", {0x1f, 0x8b, 8, 0, 0, 0});  // a torn gzip stream
  CHECK_THROWS(load_mnist(dir));
}

TEST_CASE("HDF5 x/y datasets, uint8 scaled, selectable names, errors", "[data][hdf5]") {
  const std::string dir = test::temp_dir("h5");
  const std::string path = dir + "/d.h5";
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t xd[4] = {3, 2, 2, 1}, yd[1] = {3};
    unsigned char x[12];
    for (int i = 0; i < 12; ++i) x[i] = (unsigned char)(i * 10);
    int64_t y[3] = {2, 0, 1};
    hid_t sx = H5Screate_simple(4, xd, nullptr), sy = H5Screate_simple(1, yd, nullptr);
    for (const char* n : {"x", "images"}) {
      hid_t ds = H5Dcreate2(f, n, H5T_STD_U8LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
      H5Dclose(ds);
    }
    for (const char* n : {"y", "labels"}) {
      hid_t ds = H5Dcreate2(f, n, H5T_STD_I64LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
      H5Dclose(ds);
    }
    H5Sclose(sx), H5Sclose(sy), H5Fclose(f);
  }
  Dataset d = load_hdf5_dataset(path);
  CHECK(d.size() == 3);
  CHECK(d.sample_shape == Shape{2, 2, 1});
  CHECK(d.x[11] == Catch::Detail::Approx(110 / 255.0));
  CHECK(d.y == std::vector<float>{2, 0, 1});
  CHECK(d.num_classes == 3);
  DataSplits s = load_data_spec("h5:" + path + ":images,labels", 0);
  CHECK(s.train.size() == 3);
  CHECK(s.train.weight.empty());
  // A third name: Keras's sample_weight, one a sample.
  CHECK(load_data_spec("h5:" + path + ":images,labels,y", 0).train.weight == std::vector<float>{2, 0, 1});
  CHECK_THROWS_WITH(load_hdf5_dataset(path, "x", "y", "images"),
                    "dataset 'images' in '" + path + "' must hold one weight a sample, (3,), got (3, 2, 2, 1)");
  CHECK_THROWS_WITH(load_data_spec("h5:" + path + ":x,y,", 0),
                    "bad data spec 'h5:" + path + ":x,y,': expected h5:FILE:XNAME,YNAME[,WNAME]");
  CHECK_THROWS_WITH(load_hdf5_dataset(path, "pixels", "y"), Contains("has no dataset 'pixels'"));
  // A model of several inputs: datasets joined by "+", each sample's inputs packed in its row.
  const Dataset two = load_data_spec("h5:" + path + ":x+images,y", 0).train;
  CHECK(two.inputs == std::vector<Shape>{{2, 2, 1}, {2, 2, 1}});
  CHECK(two.sample_shape == Shape{8});
  CHECK(two.x[8] == Catch::Detail::Approx(40 / 255.0));   // sample 1's first pixel in its first input
  CHECK(two.x[15] == Catch::Detail::Approx(70 / 255.0));  // and its last in its second
  CHECK(two.slice(1, 2).inputs == two.inputs);
  // An array of one axis is one value a sample, (samples, 1), as Keras feeds it to an input of shape (1,).
  const Dataset ids = load_data_spec("h5:" + path + ":x+labels,y", 0).train;
  CHECK(ids.inputs == std::vector<Shape>{{2, 2, 1}, {1}});
  CHECK(ids.x[4] == 2.f);  // each row ends with the sample's value of it: 2, 0, 1
  CHECK(ids.x[9] == 0.f);
  CHECK(ids.x[14] == 1.f);
  CHECK_THROWS_WITH(load_data_spec("h5:" + path + ":x++labels,y", 0),
                    "bad list of datasets 'x++labels': an empty name among the inputs (A+B+...)");
  write_bytes(dir + "/bad.h5", {1, 2, 3, 4});
  CHECK_THROWS_WITH(load_hdf5_dataset(dir + "/bad.h5"), Contains("is not an HDF5 file"));
}

TEST_CASE(".npy pairs: float32 samples, integer or one-hot labels, truncation", "[data][npy]") {
  const std::string dir = test::temp_dir("npy");
  std::vector<float> x{0.f, 0.5f, 1.f, 0.25f, 0.75f, 0.1f};
  write_npy(dir + "/x.npy", {3, 2}, x.data());
  write_npy_i64(dir + "/y.npy", {1, 0, 4});
  Dataset d = load_npy_dataset(dir + "/x.npy", dir + "/y.npy");
  CHECK(d.sample_shape == Shape{2});
  CHECK(d.x == x);
  CHECK(d.y == std::vector<float>{1, 0, 4});
  CHECK(d.num_classes == 5);
  std::vector<float> oh{0, 1, 1, 0, 0, 1};
  write_npy(dir + "/yoh.npy", {3, 2}, oh.data());
  Dataset o = load_npy_dataset(dir + "/x.npy", dir + "/yoh.npy");
  CHECK_FALSE(o.y_is_index);
  CHECK(o.y_dim == 2);
  NpyArray back = read_npy(dir + "/x.npy");
  CHECK(back.shape == Shape{3, 2});
  CHECK(back.dtype == "f4");
  // Truncate the data part.
  std::ifstream in(dir + "/x.npy", std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() - 5);
  write_bytes(dir + "/short.npy", bytes);
  CHECK_THROWS_WITH(read_npy(dir + "/short.npy"), Contains("short.npy' is truncated"));
  write_bytes(dir + "/junk.npy", {'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0, 0});
  CHECK_THROWS_WITH(read_npy(dir + "/junk.npy"), Contains("is not a NumPy .npy file"));
  CHECK_THROWS_WITH(load_npy_dataset(dir + "/x.npy", dir + "/missing.npy"), Contains("cannot open"));
  Dataset unlabelled = load_npy_dataset(dir + "/x.npy", "");  // enough to predict
  CHECK(unlabelled.size() == 3);
  CHECK_FALSE(unlabelled.has_labels());
  // Keras's sample_weight as a third file, (samples,) or (samples, 1); kept through slices.
  std::vector<float> w{0.5f, 2.f, 0.f};
  write_npy(dir + "/w.npy", {3}, w.data());
  write_npy(dir + "/w1.npy", {3, 1}, w.data());
  write_npy(dir + "/w2.npy", {1, 3}, w.data());
  CHECK(load_npy_dataset(dir + "/x.npy", dir + "/y.npy", dir + "/w.npy").weight == w);
  const Dataset dw = load_data_spec("npy:" + dir + "/x.npy," + dir + "/y.npy," + dir + "/w1.npy", 0).train;
  CHECK(dw.weight == w);
  CHECK(dw.slice(1, 3).weight == std::vector<float>{2.f, 0.f});
  CHECK_THROWS_WITH(load_npy_dataset(dir + "/x.npy", dir + "/y.npy", dir + "/w2.npy"),
                    Contains("w2.npy' must hold one weight a sample, (3,), got (1, 3)"));
  // A model of several inputs: one file an input, joined by "+"; each must hold every sample.
  const Dataset two = load_data_spec("npy:" + dir + "/x.npy+" + dir + "/w1.npy," + dir + "/y.npy", 0).train;
  CHECK(two.input_shapes() == std::vector<Shape>{{2}, {1}});
  CHECK(two.x == std::vector<float>{0.f, 0.5f, 0.5f, 1.f, 0.25f, 2.f, 0.75f, 0.1f, 0.f});
  CHECK(two.size() == 3);
  write_npy(dir + "/x4.npy", {2, 3}, x.data());
  CHECK_THROWS_WITH(load_npy_dataset(dir + "/x.npy+" + dir + "/x4.npy", dir + "/y.npy"),
                    "'" + dir +
                        "/x4.npy' holds 2 samples but the first input holds 3: every input needs one row a "
                        "sample");
}

TEST_CASE(".npy samples of integers other than uint8 are kept as they are (an Embedding's indices)", "[data][npy]") {
  // Keras's embed fixture: int32 indices in [0, 25), 5 samples of 12.
  const std::string x = std::string(DPT_SOURCE_DIR) + "/tests/fixtures/keras_written/embed_x.npy";
  REQUIRE(read_npy(x).dtype == "i4");
  const Dataset d = load_npy_dataset(x, "");
  CHECK(d.sample_shape == Shape{12});
  const NpyArray raw = read_npy(x);
  REQUIRE(d.x.size() == raw.values.size());
  double most = 0;
  for (size_t i = 0; i < d.x.size(); ++i) {
    CHECK(double(d.x[i]) == raw.values[i]);
    most = std::max(most, raw.values[i]);
  }
  CHECK(most >= 20);  // not scaled into [0, 1] as uint8 pixels are
}

TEST_CASE("data specs: synthetic, errors with the expected forms, labels out of range", "[data][spec]") {
  DataSplits s = load_data_spec("synthetic:4,4,3:5:20", 7);
  CHECK(s.train.size() == 20);
  CHECK(s.train.sample_shape == Shape{4, 4, 3});
  CHECK(s.train.num_classes == 5);
  CHECK_THROWS_WITH(
      load_data_spec("imagenet:/data", 0),
      "unknown data spec 'imagenet:/data' (expected digits | synthetic:H,W,C:CLASSES:N[:VOCAB] | cifar10:DIR | "
      "mnist:DIR | h5:FILE[:XNAME,YNAME[,WNAME]] | npy:XFILE[,YFILE[,WFILE]] (a model of several inputs: "
      "XNAME or XFILE as A+B+...))");
  CHECK_THROWS_WITH(load_data_spec("synthetic:4,x,3:5:20", 0), Contains("'x' is not a positive whole number"));
  Dataset d = make_synthetic({2}, 3, 4, 1);
  d.y[2] = 3;
  CHECK_THROWS_WITH(d.validate("mydata"), "mydata: label 3 of sample 2 is outside the 3 classes [0, 2]");
}

namespace {
// A .npy file of the given header dict and raw data bytes.
void write_npy_raw(const std::string& path, const std::string& dict, size_t data_bytes) {
  std::string h = dict;
  h += std::string(63 - (10 + h.size()) % 64, ' ') + "\n";
  std::vector<unsigned char> b{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(h.size() & 0xff),
                               (unsigned char)(h.size() >> 8)};
  b.insert(b.end(), h.begin(), h.end());
  b.resize(b.size() + data_bytes, 0);
  write_bytes(path, b);
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

// Found by scripts/fuzz.sh (or by reading for it): sizes in headers and specs are checked, without
// overflow, against the file or the machine's memory before anything is allocated.
TEST_CASE("sizes in headers and specs are checked before allocating", "[data][fuzz]") {
  const std::string dir = test::temp_dir("sizes");
  const std::string p = dir + "/a.npy";
  auto npy_error = [&](const std::string& dict, size_t bytes) {
    write_npy_raw(p, dict, bytes);
    return error_of([&] { read_npy(p); });
  };
  // A huge declared shape is truncation (the data must be in the file), not an allocation attempt.
  CHECK(npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 1000), }", 16) ==
        "'" + p + "' is truncated: expected 40000000000000 bytes of data for shape (100000, 100000, 1000), found 16");
  CHECK(npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 16) ==
        "shape (4294967296, 4294967296) has more elements than fit in 64 bits");
  CHECK(npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -1), }", 16) ==
        "'" + p + "': .npy header: 'shape' (3, -1) is not a tuple of whole numbers");
  CHECK(npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 16) ==
        "'" + p + "': .npy header: 'shape' (99999999999999999999,) is not a tuple of whole numbers");
  CHECK(npy_error("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16) ==
        "'" + p + "': unsupported .npy dtype 'c8' (use float32, float64, uint8 or integers)");
  CHECK(npy_error("{'descr': '<f4', 'shape': (2,), }", 16) == "'" + p + "': .npy header has no 'fortran_order'");
  CHECK(npy_error("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8) ==
        "'" + p + "': Fortran-order arrays are not supported; save with np.ascontiguousarray");
  // Forms numpy writes: scalars "()", one axis "(5,)", spaces, Python 2's "3L".
  write_npy_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4);
  CHECK(read_npy(p).shape == Shape{});
  write_npy_raw(p, "{'descr': '<u1', 'fortran_order': False, 'shape': ( 2L , 3 ), }", 6);
  CHECK(read_npy(p).shape == Shape{2, 3});
  write_npy_raw(p, "{'descr':'|u1','fortran_order':False,'shape':(5,)}", 5);
  CHECK(read_npy(p).shape == Shape{5});

  // Float labels far beyond any class count (once cast to int64 without a check): one column of
  // values (a regression's targets), never class indices.
  std::vector<float> xs{1, 2}, ys{4.7e30f, 0};
  write_npy(dir + "/x.npy", {2, 1}, xs.data());
  write_npy(dir + "/y.npy", {2}, ys.data());
  const Dataset big = load_npy_dataset(dir + "/x.npy", dir + "/y.npy");
  CHECK_FALSE(big.y_is_index);
  CHECK(big.num_classes == 0);
  CHECK(big.y == ys);
  ys[0] = std::numeric_limits<float>::quiet_NaN();
  write_npy(dir + "/y.npy", {2}, ys.data());
  CHECK(error_of([&] { load_npy_dataset(dir + "/x.npy", dir + "/y.npy"); }) ==
        "'" + dir + "/y.npy': label nan is not a number");

  // An IDX header of 2^32-1 images of 2^32-1 x 2^32-1 pixels: compared with the file, no overflow.
  std::vector<unsigned char> img, lab;
  put_be32(img, 2051), put_be32(img, 0xffffffffu), put_be32(img, 0xffffffffu), put_be32(img, 0xffffffffu);
  img.resize(img.size() + 4, 0);
  put_be32(lab, 2049), put_be32(lab, 1), lab.push_back(0);
  write_bytes(dir + "/train-images-idx3-ubyte", img);
  write_bytes(dir + "/train-labels-idx1-ubyte", lab);
  CHECK_THROWS_WITH(load_mnist(dir), Contains("train-images-idx3-ubyte' is truncated or corrupt: its header says "
                                              "4294967295 images of 4294967295x4294967295, file holds 4 pixel bytes"));

  // Synthetic data larger than memory is refused with its size; so is one past 64-bit sizes.
  set_host_memory_limit(int64_t(1) << 30);
  CHECK(error_of([] { load_data_spec("synthetic:1000,1000,3:10:100", 0); }) ==
        "synthetic data of 100 samples of shape (1000, 1000, 3) needs 1.1 GiB of memory, more than this machine's 1.0 GiB");
  CHECK(error_of([] { load_data_spec("synthetic:3037000500,3037000500:10:10", 0); }) ==
        "shape (3037000500, 3037000500) has more elements than fit in 64 bits");
  CHECK(error_of([] { load_data_spec("synthetic:100000,100000,100000:10:10", 0); }) ==
        "synthetic data of 10 samples of shape (100000, 100000, 100000) needs 36379.8 TiB of memory, more than this "
        "machine's 1.0 GiB");
  CHECK(error_of([] { load_data_spec("synthetic:1000000000,1000000000,5:10:10", 0); }) ==
        "synthetic data is too large: 10 x 5000000000000000000 exceeds 64-bit sizes");
  set_host_memory_limit(0);  // back to the machine's memory
  CHECK(host_memory_limit() > (int64_t(1) << 30));
}
