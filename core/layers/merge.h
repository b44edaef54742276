// Layers of several inputs, as Keras's merge layers: Add, Subtract, Multiply and Average (broadcasting
// as numpy does), Maximum and Minimum (same shapes) and Concatenate (along any of a sample's axes). A model with them
// is a graph: Sequential::add takes the inputs each layer reads.
#pragma once
#include <vector>
#include "core/layer.h"
#include "kernels/broadcast_math.h"

namespace dpt {

class MergeLayer : public Layer {
 public:
  // Builds from every input's shape (in_ is the first); returns the output shape.
  Shape build_inputs(const std::vector<Shape>& inputs);
  const std::vector<Shape>& input_shapes() const { return ins_; }
  // xs: one tensor per input, each (n, input_shapes()[k]...); y written whole.
  void forward_all(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool training);
  // dxs[k] (nullable: an input that needs no gradient) is overwritten with the gradient for input k.
  void backward_all(Context& ctx, const std::vector<Tensor>& xs, const Tensor& y, Tensor& dy,
                    const std::vector<Tensor*>& dxs);
  // At build: the layers whose masks reach each input (null: none); returns the one its output
  // carries. A merge passes on the mask its masked inputs share (Keras ANDs their masks: one mask,
  // or one where the other inputs have none, is itself) where its output keeps the steps
  // (keeps_masks); different masks, or a mask it cannot keep, are errors naming them (model: its
  // name, for them).
  virtual const Layer* wire_input_masks(const std::vector<const Layer*>& sources, const std::string& model);

 protected:
  virtual Shape output_shape_of(const std::vector<Shape>& inputs) = 0;
  virtual void forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) = 0;
  virtual void backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                               bool cuda) = 0;
  virtual bool keeps_masks() const { return false; }
  // The one-input forms are not these layers' (Sequential calls the forms above).
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  std::vector<Shape> ins_;
  bool training_ = false;  // the last forward_all's
};

// Add, Subtract (two inputs: the first minus the second), Multiply and Average: elementwise, with
// numpy's broadcasting (shapes aligned on the right; an axis of 1 is repeated), as Keras's.
class ElementwiseMerge : public MergeLayer {
 public:
  enum Op { add, subtract, multiply, average };
  explicit ElementwiseMerge(Op op) : op_(op) {}
  std::string class_name() const override;
  std::string default_name() const override;
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<ElementwiseMerge>(op_); }
  Op op() const { return op_; }
  int64_t workspace_elems(int64_t batch) const override;

 protected:
  bool keeps_masks() const override { return true; }
  Shape output_shape_of(const std::vector<Shape>& inputs) override;
  void forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) override;
  void backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                       bool cuda) override;

 private:
  // How input k is read at each element of a batch of outputs.
  kernels::BroadcastMap map_of(size_t k, int64_t batch) const;
  Op op_;
  bool broadcasts_ = false;  // some input is smaller than the output
};

class Add : public ElementwiseMerge {
 public:
  Add() : ElementwiseMerge(add) {}
};

// Maximum and Minimum of same-shaped inputs, elementwise. The gradient goes to the first input
// holding the extremum (ties: TensorFlow's rule, as Keras's TensorFlow backend; JAX would split it).
class Extremum : public MergeLayer {
 public:
  explicit Extremum(bool is_max) : max_(is_max) {}
  std::string class_name() const override { return max_ ? "Maximum" : "Minimum"; }
  std::string default_name() const override { return max_ ? "maximum" : "minimum"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Extremum>(max_); }
  bool is_max() const { return max_; }

 protected:
  bool keeps_masks() const override { return true; }
  Shape output_shape_of(const std::vector<Shape>& inputs) override;
  void forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) override;
  void backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                       bool cuda) override;

 private:
  bool max_;
};

class Concatenate : public MergeLayer {
 public:
  // axis: counted as Keras counts it (the batch is axis 0; negative from the end).
  explicit Concatenate(int64_t axis = -1) : axis_(axis) {}
  std::string class_name() const override { return "Concatenate"; }
  std::string default_name() const override { return "concatenate"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Concatenate>(axis_); }
  std::string config_str() const override { return "axis=" + std::to_string(axis_); }
  int64_t axis() const { return axis_; }

 protected:
  bool keeps_masks() const override { return dim_ + 1 == out_.size(); }  // joined along the features
  Shape output_shape_of(const std::vector<Shape>& inputs) override;
  void forward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& y, bool cuda) override;
  void backward_all_on(Context& ctx, const std::vector<Tensor>& xs, Tensor& dy, const std::vector<Tensor*>& dxs,
                       bool cuda) override;

 private:
  int64_t inner(const Shape& s) const;  // a sample's values from the joined axis on
  int64_t axis_;
  size_t dim_ = 0;  // the joined axis among a sample's
};

}  // namespace dpt
