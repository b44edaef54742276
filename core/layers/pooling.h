// MaxPooling2D, AveragePooling2D (pool_size, strides = pool_size by default, valid/same),
// GlobalAveragePooling2D and GlobalMaxPooling2D, channels_last; with spatial rank 1, Keras's 1-D
// layers (MaxPooling1D, ..., GlobalMaxPooling1D) on (steps, channels), seen as (1, steps, channels).
#pragma once
#include "core/layer.h"
#include "kernels/pooling.h"

namespace dpt {

struct Pool2DConfig {
  int64_t ph = 2, pw = 2;
  int64_t sh = 0, sw = 0;  // 0: same as the pool size (Keras's strides=None)
  bool same = false;
};

class Pool2D : public Layer {
 public:
  // spatial 1: MaxPooling1D / AveragePooling1D, with cfg's ph and sh 1.
  Pool2D(bool is_max, Pool2DConfig cfg, int spatial = 2);
  std::string class_name() const override {
    return std::string(max_ ? "MaxPooling" : "AveragePooling") + (spatial_ == 1 ? "1D" : "2D");
  }
  std::string default_name() const override {
    return std::string(max_ ? "max_pooling" : "average_pooling") + (spatial_ == 1 ? "1d" : "2d");
  }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Pool2D>(max_, cfg_, spatial_); }
  std::string config_str() const override;
  const Pool2DConfig& config() const { return cfg_; }
  bool is_max() const { return max_; }
  int spatial() const { return spatial_; }
  void prepare(int64_t max_batch, Context& ctx) override;
  // Max pooling's routing in the last training forward: for each output of the first n rows,
  // the offset within its sample of the input it took (the first maximum in scan order). Where
  // two inputs of a window are within rounding of each other, two devices may route differently;
  // set_routing makes the next backward scatter through another device's choice (tests use it
  // to compare GPU and CPU gradients through the same routing). Both copy synchronously: call
  // them between steps (after fit or a forward on the CPU), not while the replica's stream runs.
  std::vector<int32_t> routing(int64_t n) const;
  void set_routing(const std::vector<int32_t>& r);

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  kernels::Pool2dGeom geom(int64_t n) const;
  bool max_;
  Pool2DConfig cfg_;
  int spatial_;
  int64_t pad_top_ = 0, pad_left_ = 0;
  // Per output element of the last training forward (max pooling), on the replica's device.
  Buffer argmax_;
};

inline std::unique_ptr<Layer> MaxPooling2D(Pool2DConfig c = {}) { return std::make_unique<Pool2D>(true, c); }
inline std::unique_ptr<Layer> AveragePooling2D(Pool2DConfig c = {}) { return std::make_unique<Pool2D>(false, c); }

// GlobalAveragePooling2D and GlobalMaxPooling2D: the mean or the maximum over the positions, per
// channel; keepdims gives (1, 1, channels), as Keras's keepdims=True (MobileNet's head), else
// (channels). The maximum's gradient is shared by the positions that hold it (Keras 3's ops.max).
class GlobalPooling2D : public Layer {
 public:
  // spatial 1: GlobalAveragePooling1D / GlobalMaxPooling1D over the steps.
  GlobalPooling2D(bool is_max, bool keepdims, int spatial = 2) : max_(is_max), keepdims_(keepdims), spatial_(spatial) {}
  std::string class_name() const override {
    return std::string(max_ ? "GlobalMaxPooling" : "GlobalAveragePooling") + (spatial_ == 1 ? "1D" : "2D");
  }
  std::string default_name() const override {
    return std::string(max_ ? "global_max_pooling" : "global_average_pooling") + (spatial_ == 1 ? "1d" : "2d");
  }
  std::unique_ptr<Layer> make_clone() const override {
    return std::make_unique<GlobalPooling2D>(max_, keepdims_, spatial_);
  }
  std::string config_str() const override { return keepdims_ ? "keepdims=True" : ""; }
  bool is_max() const { return max_; }
  bool keepdims() const { return keepdims_; }
  int spatial() const { return spatial_; }
  // GlobalAveragePooling1D averages the steps Keras's mask keeps (0/0, NaN, where it keeps none, as
  // Keras); Keras 3's GlobalMaxPooling1D and the 2-D ones do not support masking.
  MaskUse mask_use() const override { return spatial_ == 1 && !max_ ? MaskUse::reads : MaskUse::drops; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  int64_t positions() const { return spatial_ == 1 ? in_[0] : in_[0] * in_[1]; }
  bool max_, keepdims_;
  int spatial_;
};

class GlobalAveragePooling2D : public GlobalPooling2D {
 public:
  explicit GlobalAveragePooling2D(bool keepdims = false) : GlobalPooling2D(false, keepdims) {}
};
class GlobalMaxPooling2D : public GlobalPooling2D {
 public:
  explicit GlobalMaxPooling2D(bool keepdims = false) : GlobalPooling2D(true, keepdims) {}
};

}  // namespace dpt
