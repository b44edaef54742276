// Conv1D as the Conv2D of a (1, k) kernel over (1, steps, channels): only its shapes are its own.
#include "core/layers/conv1d.h"

namespace dpt {

Conv2DConfig Conv1D::one_row(Conv2DConfig cfg) {
  cfg.kh = cfg.sh = cfg.dh = 1;
  return cfg;
}

Conv1D::Conv1D(Conv2DConfig cfg, bool causal) : Conv2D(one_row(cfg), "Conv1D"), causal_(causal) {
  DPT_CHECK(!(causal && cfg.same), "Conv1D: padding is one of valid, same and causal");
}

std::string Conv1D::config_str() const {
  std::string s = "filters=" + std::to_string(cfg_.filters) + ", kernel_size=" + std::to_string(cfg_.kw) +
                  ", strides=" + std::to_string(cfg_.sw) + ", padding=" +
                  (causal_     ? "causal"
                   : cfg_.same ? "same"
                               : "valid");
  if (cfg_.dw != 1) s += ", dilation_rate=" + std::to_string(cfg_.dw);
  return s + ", activation=" + activation_str(cfg_.activation);
}

Shape Conv1D::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() == 2, "Conv1D expects inputs of shape (steps, channels), got " << shape_str(in));
  const int64_t span = (cfg_.kw - 1) * cfg_.dw + 1;
  int64_t out = 0;
  pad_top_ = 0;
  if (causal_) {  // Keras: pad (k - 1) * dilation before, then a valid convolution
    pad_left_ = span - 1;
    const int64_t padded = in[0] + pad_left_;
    out = padded >= span ? (padded - span) / cfg_.sw + 1 : 0;
  } else {
    kernels::conv_out_size(in[0], span, cfg_.sw, cfg_.same, &out, &pad_left_);
  }
  return {out, cfg_.filters};
}

std::vector<ParamSpec> Conv1D::params() const {
  std::vector<ParamSpec> p{{"kernel", {cfg_.kw, in_[1], cfg_.filters}, Init::glorot_uniform}};
  if (cfg_.use_bias) p.push_back({"bias", {cfg_.filters}, Init::zeros});
  return p;
}

}  // namespace dpt
