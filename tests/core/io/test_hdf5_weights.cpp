// Weights files: exact round trips, Keras's on-disk structure, clear errors, and the real
// Keras-written files of ../shared/fixtures/keras (skipped, saying so, where that folder is absent).
#include <catch2/catch.hpp>
#include <hdf5.h>
#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include "core/data/npy.h"
#include "core/io/hdf5_weights.h"
#include "core/layers/activation.h"
#include "core/layers/batch_norm.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/flatten.h"
#include "core/layers/pooling.h"
#include "core/presets.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {

std::vector<std::string> read_fixed_names(hid_t obj, const char* attr) {
  hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  std::vector<std::string> out;
  if (H5Tget_class(t) == H5T_STRING) {
    const size_t len = H5Tget_size(t);
    const hssize_t n = H5Sget_simple_extent_npoints(s);
    std::vector<char> buf(len * size_t(n));
    H5Aread(a, t, buf.data());
    for (hssize_t i = 0; i < n; ++i) out.emplace_back(buf.data() + i * len, strnlen(buf.data() + i * len, len));
  }
  H5Sclose(s), H5Tclose(t), H5Aclose(a);
  return out;
}

std::vector<double> read_h5(const std::string& file, const char* name, std::vector<hsize_t>* dims) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  dims->resize(size_t(H5Sget_simple_extent_ndims(s)));
  H5Sget_simple_extent_dims(s, dims->data(), nullptr);
  std::vector<double> v(size_t(H5Sget_simple_extent_npoints(s)));
  H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Sclose(s), H5Dclose(d), H5Fclose(f);
  return v;
}


}  // namespace

TEST_CASE("save_weights -> load_weights is exact, and the file has Keras's legacy structure", "[io][hdf5]") {
  const std::string dir = test::temp_dir("weights");
  const std::string path = dir + "/w.h5";
  const Preset& p = find_preset("digits-cnn");
  auto a = p.make();
  a->build(p.input, 1);
  save_weights(*a, path);
  auto b = p.make();
  b->build(p.input, 2);
  REQUIRE(std::memcmp(a->params(), b->params(), sizeof(float) * size_t(a->num_params())) != 0);
  load_weights(*b, path);
  CHECK(std::memcmp(a->params(), b->params(), sizeof(float) * size_t(a->num_params())) == 0);

  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(read_fixed_names(f, "layer_names") ==
        std::vector<std::string>{"conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense",
                                 "dropout", "dense_1"});
  CHECK(H5Aexists(f, "backend") > 0);
  CHECK(H5Aexists(f, "keras_version") > 0);
  hid_t g = H5Gopen2(f, "dense", H5P_DEFAULT);
  CHECK(read_fixed_names(g, "weight_names") == std::vector<std::string>{"dense/kernel:0", "dense/bias:0"});
  H5Gclose(g);
  H5Fclose(f);
  std::vector<hsize_t> dims;
  read_h5(path, "dense/dense/kernel:0", &dims);
  CHECK(dims == std::vector<hsize_t>{256, 64});
  read_h5(path, "conv2d/conv2d/kernel:0", &dims);
  CHECK(dims == std::vector<hsize_t>{3, 3, 1, 32});
  CHECK_FALSE(std::filesystem::exists(dir + "/.w.h5.tmp." + std::to_string(::getpid())));
}

TEST_CASE("weights errors: wrong model, missing file, missing folder", "[io][hdf5]") {
  const std::string dir = test::temp_dir("weights_err");
  const Preset& p = find_preset("digits-cnn");
  auto a = p.make();
  a->build(p.input, 1);
  save_weights(*a, dir + "/w.h5");
  const Preset& q = find_preset("digits-mlp");
  auto b = q.make();
  b->build(q.input, 1);
  CHECK_THROWS_WITH(load_weights(*b, dir + "/w.h5"), Contains("holds weights for 4 layers but the model has 3 layers with weights"));
  CHECK_THROWS_WITH(load_weights(*b, dir + "/none.h5"), Contains("does not exist"));
  CHECK_THROWS_WITH(save_weights(*a, dir + "/no/such/dir/w.h5"), Contains("does not exist"));
  std::ofstream(dir + "/text.h5") << "not hdf5";
  CHECK_THROWS_WITH(load_weights(*b, dir + "/text.h5"), Contains("is not an HDF5 file"));
}

TEST_CASE("real Keras files: weights load by order and reproduce Keras's predictions", "[io][hdf5][keras]") {
  const std::string fx = test::keras_fixtures();
  if (fx.empty()) {
    WARN("SKIPPED: ../shared/fixtures/keras is absent, so the real Keras-file tests did not run");
    return;
  }
  SECTION("kotlindl LeNet (tf.keras 2.2.4-tf save_weights)") {
    Sequential m("lenet");
    Conv2DConfig c;
    c.kh = c.kw = 3;
    c.same = true;
    c.activation = Activation::relu;
    c.filters = 32;
    m.add(std::make_unique<Conv2D>(c));
    m.add(MaxPooling2D({2, 2, 2, 2, true}));
    c.filters = 64;
    m.add(std::make_unique<Conv2D>(c));
    m.add(MaxPooling2D({2, 2, 2, 2, true}));
    m.add(std::make_unique<Flatten>());
    m.add(std::make_unique<Dense>(256, Activation::relu));
    m.add(std::make_unique<Dense>(84, Activation::relu));
    m.add(std::make_unique<Dense>(10));
    m.build({28, 28, 1}, 0);
    load_weights(m, fx + "/kotlindl_lenet/mnist_weights_only.h5");
    CHECK(m.weights()[0].data[0] == Catch::Detail::Approx(0.06445057).epsilon(1e-7));
    CHECK(m.weights()[1].data[15] == Catch::Detail::Approx(-0.25060207).epsilon(1e-7));
  }
  SECTION("dl4j simple sparse xent (Keras 2.3.1): Dense + softmax predictions") {
    Sequential m("mlp");
    m.add(std::make_unique<Dense>(3));
    m.add(std::make_unique<ActivationLayer>(Activation::softmax));
    m.build({4}, 0);
    const std::string dir = fx + "/dl4j_simple_sparse_xent/";
    load_weights(m, dir + "simple_sparse_xent_mlp_keras_2_weights.h5");
    std::vector<hsize_t> dims;
    auto x = read_h5(dir + "simple_sparse_xent_mlp_keras_2_inputs_and_outputs.h5", "inputs/dense_1_input", &dims);
    auto want = read_h5(dir + "simple_sparse_xent_mlp_keras_2_inputs_and_outputs.h5", "predictions/activation_1", &dims);
    auto got = test::infer(m, x, 3);
    for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Catch::Detail::Approx(want[i]).margin(1e-5));
    // The full-model file (model_weights group) loads the same weights.
    Sequential m2("mlp");
    m2.add(std::make_unique<Dense>(3));
    m2.add(std::make_unique<ActivationLayer>(Activation::softmax));
    m2.build({4}, 5);
    load_weights(m2, dir + "simple_sparse_xent_mlp_keras_2_model.h5");
    CHECK(std::memcmp(m.params(), m2.params(), sizeof(float) * size_t(m.num_params())) == 0);
  }
  SECTION("dl4j CNN with BatchNormalization (Keras 2.1.3 full model): predictions") {
    Sequential m("cnn_bn");
    Conv2DConfig c;
    c.filters = 1;
    c.kh = c.kw = 3;
    m.add(std::make_unique<Conv2D>(c));
    m.add(std::make_unique<BatchNormalization>());
    m.add(std::make_unique<ActivationLayer>(Activation::relu));
    m.add(std::make_unique<Conv2D>(c));
    m.add(std::make_unique<Flatten>());
    m.add(std::make_unique<Dense>(1));
    m.build({10, 10, 3}, 0);
    const std::string dir = fx + "/dl4j_cnn_batch_norm/";
    load_weights(m, dir + "cnn_batch_norm.h5");
    NpyArray x = read_npy(dir + "input.npy"), want = read_npy(dir + "predictions.npy");
    auto got = test::infer(m, x.values, x.shape[0]);
    REQUIRE(got.size() == want.values.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Catch::Detail::Approx(want.values[i]).epsilon(1e-5).margin(1e-5));
  }
}

TEST_CASE("layer_names split into layer_names0/1 chunks (as Keras writes long lists) still load", "[io][hdf5]") {
  const std::string dir = test::temp_dir("chunks");
  const Preset& p = find_preset("digits-mlp");
  auto a = p.make();
  a->build(p.input, 1);
  save_weights(*a, dir + "/w.h5");
  {  // rewrite the root attribute as two chunks, the way Keras splits attributes over 64 KiB
    hid_t f = H5Fopen((dir + "/w.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "layer_names");
    const std::vector<std::vector<std::string>> parts{{"flatten", "dense"}, {"dense_1", "dense_2"}};
    for (size_t k = 0; k < parts.size(); ++k) {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 8);
      hsize_t n = parts[k].size();
      hid_t sp = H5Screate_simple(1, &n, nullptr);
      std::vector<char> buf(8 * n, '\0');
      for (size_t i = 0; i < n; ++i) std::memcpy(buf.data() + 8 * i, parts[k][i].data(), parts[k][i].size());
      hid_t at = H5Acreate2(f, ("layer_names" + std::to_string(k)).c_str(), t, sp, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(at, t, buf.data());
      H5Aclose(at), H5Sclose(sp), H5Tclose(t);
    }
    H5Fclose(f);
  }
  auto b = p.make();
  b->build(p.input, 2);
  load_weights(*b, dir + "/w.h5");
  CHECK(std::memcmp(a->params(), b->params(), sizeof(float) * size_t(a->num_params())) == 0);
}
