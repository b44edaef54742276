// Readers for the data formats dptrain trains on. Each returns float samples in NHWC (uint8 pixel
// formats scaled to [0, 1]) and checks sizes, so a truncated or corrupt file is a clear error.
#pragma once
#include <string>
#include "core/data/dataset.h"

namespace dpt {

// CIFAR-10 binary version: DIR (or DIR/cifar-10-batches-bin) holding data_batch_1..5.bin and
// test_batch.bin; records of 1 label byte + 3072 bytes of CHW pixels.
DataSplits load_cifar10(const std::string& dir);
// MNIST IDX files in DIR: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-* (plain or .gz).
DataSplits load_mnist(const std::string& dir);
// HDF5 file with datasets `x_name` (samples) and `y_name` (class indices or one-hot rows). A model
// of several inputs reads several datasets: x_name "a+b" (Dataset::inputs).
// w_name: Keras's sample_weight, a dataset of one weight a sample ("": none).
Dataset load_hdf5_dataset(const std::string& file, const std::string& x_name = "x", const std::string& y_name = "y",
                          const std::string& w_name = "");
// NumPy .npy files: x float32/float64, uint8 (pixels: scaled by 1/255) or other integers (kept as they
// are: an Embedding's indices); y integer labels or one-hot (y_file empty: samples without labels,
// for predict). A model of several inputs reads several files: x_file "a.npy+b.npy".
// w_file: Keras's sample_weight, one weight a sample ("": none).
Dataset load_npy_dataset(const std::string& x_file, const std::string& y_file, const std::string& w_file = "");
// Random samples in [0, 1) with random labels, for benchmarks; with index_limit > 0, whole numbers
// in [0, index_limit) instead (the indices an Embedding reads).
Dataset make_synthetic(const Shape& sample_shape, int64_t classes, int64_t n, uint64_t seed, int64_t index_limit = 0);

}  // namespace dpt
