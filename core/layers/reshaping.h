// Keras's layers that pass values on unchanged or moved: Identity; ActivityRegularization (an
// identity whose output the model penalises, Layer::activity_regularizer); RepeatVector(n): (n_in,)
// -> (n, n_in), the vector repeated; Permute(dims): a sample's axes reordered (dims: 1-based, as
// Keras's). RepeatVector and Permute read their input through a kernels::BroadcastMap of strides
// (merge.h's gather), and their gradients go back the same way: RepeatVector's summed over the
// copies in double (broadcast_sum), Permute's through the inverse permutation. No atomics: the same
// bits on every device.
#pragma once
#include <vector>
#include "core/layer.h"
#include "core/layers/flatten.h"
#include "kernels/broadcast_math.h"

namespace dpt {

class Identity : public ShapeOnlyLayer {
 public:
  std::string class_name() const override { return "Identity"; }
  std::string default_name() const override { return "identity"; }
  MaskUse mask_use() const override { return MaskUse::keeps; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Identity>(); }

 protected:
  Shape compute_output_shape(const Shape& in) override { return in; }
};

// Keras's ActivityRegularization(l1, l2): L1L2(l1, l2) on its output, which it passes on unchanged.
class ActivityRegularization : public Identity {
 public:
  ActivityRegularization(double l1, double l2);
  std::string class_name() const override { return "ActivityRegularization"; }
  std::string default_name() const override { return "activity_regularization"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<ActivityRegularization>(l1_, l2_); }
  std::string config_str() const override;
  double l1() const { return l1_; }
  double l2() const { return l2_; }

 private:
  double l1_, l2_;
};

class RepeatVector : public Layer {
 public:
  explicit RepeatVector(int64_t n);
  std::string class_name() const override { return "RepeatVector"; }
  std::string default_name() const override { return "repeat_vector"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<RepeatVector>(n_); }
  std::string config_str() const override { return "n=" + std::to_string(n_); }
  int64_t n() const { return n_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::BroadcastMap map(int64_t batch) const;  // (batch, n, n_in) reading (batch, 1, n_in)
  int64_t n_;
};

// Whether dims is a permutation of 1..dims.size() (Keras's Permute dims).
bool is_permutation_of_axes(const std::vector<int>& dims);

class Permute : public Layer {
 public:
  // dims: a permutation of 1..rank (Keras's: output axis k is input axis dims[k - 1]).
  explicit Permute(std::vector<int> dims);
  std::string class_name() const override { return "Permute"; }
  std::string default_name() const override { return "permute"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Permute>(dims_); }
  std::string config_str() const override;
  const std::vector<int>& dims() const { return dims_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  // The gather that reads `from` (batch, from_shape...) into the order of to_axes: element i of the
  // result (batch, from_shape[to_axes[0]], ...) is from's element map.source(i).
  static kernels::BroadcastMap gather(int64_t batch, const Shape& from_shape, const std::vector<int>& to_axes);
  void move(Context& ctx, bool cuda, const float* from, float* to, int64_t batch, bool back) const;
  std::vector<int> dims_;
};

}  // namespace dpt
