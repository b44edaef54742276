// Conv2D: channels_last, Keras kernel (kh, kw, in, filters), bias (filters), padding valid/same.
#pragma once
#include <memory>
#include <string>
#include "core/error.h"
#include "core/layer.h"
#include "kernels/conv2d.h"

namespace dpt {

struct Conv2DConfig {
  int64_t filters = 1;
  int64_t kh = 3, kw = 3;
  int64_t sh = 1, sw = 1;
  int64_t dh = 1, dw = 1;  // dilation_rate
  bool same = false;       // padding="same"
  Activation activation = Activation::linear;
  bool use_bias = true;
};

// What every windowed layer (Conv2D, DepthwiseConv2D, SeparableConv2D) checks of its sizes, as
// Keras does: kernel_size, strides and dilation_rate >= 1, and strides > 1 never with a dilation.
template <typename Config>
void check_window(const char* cls, const Config& c) {
  DPT_CHECK(c.kh >= 1 && c.kw >= 1, cls << " kernel_size must be >= 1, got (" << c.kh << ", " << c.kw << ")");
  DPT_CHECK(c.sh >= 1 && c.sw >= 1, cls << " strides must be >= 1, got (" << c.sh << ", " << c.sw << ")");
  DPT_CHECK(c.dh >= 1 && c.dw >= 1, cls << " dilation_rate must be >= 1, got (" << c.dh << ", " << c.dw << ")");
  DPT_CHECK((c.sh == 1 && c.sw == 1) || (c.dh == 1 && c.dw == 1),
            cls << ": strides > 1 are not supported with dilation_rate > 1 (as in Keras), got strides=(" << c.sh << ", "
                << c.sw << ") and dilation_rate=(" << c.dh << ", " << c.dw << ")");
  DPT_CHECK(c.activation.has_default_alpha(), cls << "'s activation " << activation_str(c.activation)
                                                  << " has a setting of its own: Keras puts that in a layer after it");
}

// "kernel_size=(3, 3), strides=(1, 1), padding=same", and the dilation_rate where it is not 1.
template <typename Config>
std::string window_str(const Config& c) {
  std::string s = "kernel_size=(" + std::to_string(c.kh) + ", " + std::to_string(c.kw) + "), strides=(" +
                  std::to_string(c.sh) + ", " + std::to_string(c.sw) + "), padding=" + (c.same ? "same" : "valid");
  if (c.dh != 1 || c.dw != 1) s += ", dilation_rate=(" + std::to_string(c.dh) + ", " + std::to_string(c.dw) + ")";
  return s;
}

// The same along one axis (Conv1D's family): "kernel_size=3, strides=1, padding=same".
template <typename Config>
std::string window_str_1d(const Config& c) {
  std::string s = "kernel_size=" + std::to_string(c.kw) + ", strides=" + std::to_string(c.sw) +
                  ", padding=" + (c.same ? "same" : "valid");
  if (c.dw != 1) s += ", dilation_rate=" + std::to_string(c.dw);
  return s;
}

// The output rows and columns of a window over an (h, w, ...) input, and the padding before them
// (TensorFlow's rules, the window spanning (k - 1) * dilation + 1 rows or columns).
template <typename Config>
void window_out(const Shape& in, const Config& c, int64_t* oh, int64_t* ow, int64_t* pad_top, int64_t* pad_left) {
  kernels::conv_out_size(in[0], (c.kh - 1) * c.dh + 1, c.sh, c.same, oh, pad_top);
  kernels::conv_out_size(in[1], (c.kw - 1) * c.dw + 1, c.sw, c.same, ow, pad_left);
}

// The geometry of a windowed layer (Conv2D, DepthwiseConv2D, SeparableConv2D's depthwise part) on n
// (in...) images giving (out[0], out[1], oc) ones.
template <typename Config>
kernels::Conv2dGeom window_geom(int64_t n, const Shape& in, const Shape& out, const Config& cfg, int64_t pad_top,
                                int64_t pad_left, int64_t oc) {
  kernels::Conv2dGeom g;
  g.n = n;
  g.h = in[0];
  g.w = in[1];
  g.c = in[2];
  g.kh = cfg.kh;
  g.kw = cfg.kw;
  g.sh = cfg.sh;
  g.sw = cfg.sw;
  g.dh = cfg.dh;
  g.dw = cfg.dw;
  g.pad_top = pad_top;
  g.pad_left = pad_left;
  g.oh = out[0];
  g.ow = out[1];
  g.oc = oc;
  return g;
}

class Conv2D : public Layer {
 public:
  explicit Conv2D(Conv2DConfig cfg) : Conv2D(cfg, "Conv2D") {}
  std::string class_name() const override { return "Conv2D"; }
  std::string default_name() const override { return "conv2d"; }
  std::unique_ptr<Layer> make_clone() const override { return std::make_unique<Conv2D>(cfg_); }
  std::string config_str() const override;
  std::vector<ParamSpec> params() const override;
  Activation output_activation() const override { return cfg_.activation; }
  int64_t workspace_elems(int64_t batch) const override;
  void prepare(int64_t max_batch, Context& ctx) override;
  const Conv2DConfig& config() const { return cfg_; }

 protected:
  Shape compute_output_shape(const Shape& in) override;
  void forward_cpu(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cpu(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  void forward_cuda(Context& ctx, const Tensor& x, Tensor& y, bool training) override;
  void backward_cuda(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 protected:
  Conv2D(Conv2DConfig cfg, const char* cls);  // cls: the class named in messages
  // The convolution's geometry on n samples (Conv2DTranspose: the convolution it transposes).
  virtual kernels::Conv2dGeom geom(int64_t n) const;
  // The layer's shapes as the (height, width, channels) images the kernels take (Conv1D: (1, steps,
  // channels)).
  virtual Shape image(const Shape& s) const { return s; }
  // Whether the plan needs backward-data (Conv2DTranspose's forward always does).
  virtual bool plan_needs_data() const { return input_grad_needed_; }
  Conv2DConfig cfg_;
  int64_t pad_top_ = 0, pad_left_ = 0;
  bool on_cuda_ = false;
  std::unique_ptr<kernels::ConvPlan, kernels::ConvPlanDeleter> plan_;  // cuDNN state (GPU replicas)
};

}  // namespace dpt
