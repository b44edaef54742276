// Dataset: samples x (N, sample_shape...) in float, targets y (N, y_dim). Class labels are kept as
// indices (y_dim 1) and expanded to one-hot only where the loss wants it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include "core/tensor.h"

namespace dpt {

struct Dataset {
  Shape sample_shape;
  std::vector<float> x;
  std::vector<float> y;
  int64_t y_dim = 1;
  bool y_is_index = true;   // y holds class indices 0..num_classes-1
  int64_t num_classes = 0;  // 0 when unknown / regression
  // Keras's sample_weight: one weight a sample, each sample's loss times it (empty: none).
  std::vector<float> weight;
  // Several inputs (a model's x=[a, b, ...]): each one's sample shape. A row of x then holds a
  // sample's inputs one after another, and sample_shape is their total, flat. Empty: one input.
  std::vector<Shape> inputs;
  std::vector<Shape> input_shapes() const { return inputs.empty() ? std::vector<Shape>{sample_shape} : inputs; }
  // Sets x from several inputs' arrays (each n samples of its shape), packed row by row.
  void set_inputs(const std::vector<std::vector<float>>& xs, const std::vector<Shape>& shapes);
  bool has_labels() const { return y_dim > 0; }

  int64_t size() const;
  int64_t sample_numel() const { return shape_numel(sample_shape); }
  // Rows [begin, end) as a new dataset.
  Dataset slice(int64_t begin, int64_t end) const;
  // Class indices -> one-hot rows of width num_classes.
  void to_one_hot();
  // Checks sizes, label range and finiteness (and the weights'); `what` names the source in errors.
  void validate(const std::string& what) const;
};

// A loaded data spec: training samples and, where the format has one, a test split.
struct DataSplits {
  Dataset train;
  std::optional<Dataset> test;
  std::string description;
};

// Keras's validation_split: the last `fraction` of the samples (before any shuffling).
void split_validation(Dataset& data, double fraction, Dataset* val);

}  // namespace dpt
