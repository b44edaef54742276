// Every layer's CUDA forward and backward against the CPU reference, on fresh random inputs
// (never zeros), weights and accumulated gradients, float32 tolerance abs + rel*|ref|: outputs,
// input gradients and parameter gradients (which must accumulate, +=, like the CPU's).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include "core/context.h"
#include "core/layers/activation.h"
#include "core/layers/augment.h"
#include "core/layers/batch_norm.h"
#include "core/layers/bidirectional.h"
#include "core/layers/conv1d.h"
#include "core/layers/conv2d.h"
#include "core/layers/conv2d_transpose.h"
#include "core/layers/dense.h"
#include "core/layers/depthwise_conv2d.h"
#include "core/layers/dropout.h"
#include "core/layers/embedding.h"
#include "core/layers/flatten.h"
#include "core/layers/layer_norm.h"
#include "core/layers/padding.h"
#include "core/layers/pooling.h"
#include "core/layers/prelu.h"
#include "core/layers/preprocessing.h"
#include "core/layers/recurrent.h"
#include "core/layers/reshaping.h"
#include "core/layers/separable_conv2d.h"
#include "core/layers/time_distributed.h"
#include "core/layers/unit_normalization.h"
#include "gpu/gpu_test_util.h"
#include "kernels/cuda_backend.h"
#include "test_util.h"

using namespace dpt;
using dpt::test::expect_close;
using dpt::test::random_vecf;

namespace {

struct LayerCase {
  std::string what;
  std::function<std::unique_ptr<Layer>()> make;
  Shape in;
  bool training = true;
};

// Prepares both layers for max(n, prepared) rows (a plan made for a larger batch, then used for a
// smaller one) and runs n. layout: where cuDNN runs convolutions (automatic: measured).
void compare_layer(const LayerCase& c, int64_t n, uint64_t seed,
                   kernels::ConvLayout layout = kernels::ConvLayout::automatic, int64_t prepared = 0) {
  INFO("layer " << c.what << " batch " << n << (c.training ? " training" : " inference") << " layout "
                << (layout == kernels::ConvLayout::nhwc   ? "NHWC"
                    : layout == kernels::ConvLayout::nchw ? "NCHW"
                    : layout == kernels::ConvLayout::gemm ? "GEMM"
                                                          : "measured")
                << " prepared for " << std::max(n, prepared));
  auto cpu = c.make(), gpu = c.make();
  cpu->set_name("layer");
  gpu->set_name("layer");
  const Shape out = cpu->build(c.in);
  gpu->build(c.in);
  // Weights and (non-zero) accumulated gradients, the same on both sides.
  std::vector<std::vector<float>> w, g;
  std::vector<Tensor> dw, dg;
  std::vector<float*> cw, cg, gw, gg;
  uint64_t s = seed;
  for (auto& p : cpu->params()) {
    const size_t k = size_t(shape_numel(p.shape));
    const bool positive = p.name == "moving_variance" || p.name == "gamma" || p.name == "variance";
    w.push_back(random_vecf(k, ++s, positive ? 0.5f : -1.f, positive ? 1.5f : 1.f));
    g.push_back(random_vecf(k, ++s));
  }
  for (size_t i = 0; i < w.size(); ++i) {
    dw.push_back(test::to_gpu(w[i], {int64_t(w[i].size())}));
    dg.push_back(test::to_gpu(g[i], {int64_t(g[i].size())}));
    cw.push_back(w[i].data());
    gw.push_back(dw[i].data());
    const bool trainable = cpu->params()[i].trainable;
    cg.push_back(trainable ? g[i].data() : nullptr);
    gg.push_back(trainable ? dg[i].data() : nullptr);
  }
  cpu->bind(cw, cg);
  gpu->bind(gw, gg);
  std::unique_ptr<kernels::CudaResources, kernels::CudaResourcesDeleter> res(kernels::cuda_resources_create(0, false));
  kernels::cuda_set_conv_layout(*res, layout);
  Context cctx, gctx;
  cctx.key = gctx.key = {7, 1, 2, 5};
  gctx.device = Device::cuda(0);
  gctx.cuda = res.get();
  cpu->prepare(std::max(n, prepared), cctx);
  gpu->prepare(std::max(n, prepared), gctx);
  Tensor cwork({std::max<int64_t>(cpu->workspace_elems(std::max(n, prepared)), 1)});
  cpu->set_workspace(cwork.data(), cwork.numel());
  Tensor gwork({std::max<int64_t>(gpu->workspace_elems(std::max(n, prepared)), 1)}, gctx.device);  // as Sequential
  gpu->set_workspace(gwork.data(), gwork.numel());
  Shape xs = c.in, ys = out;
  xs.insert_front(n);
  ys.insert_front(n);
  auto xh = random_vecf(size_t(shape_numel(xs)), ++s, -2.f, 2.f);
  if (const int64_t limit = cpu->input_index_limit())  // an Embedding's indices: whole numbers in [0, limit)
    for (float& v : xh) v = std::floor((v + 2.f) / 4.f * float(limit) * 0.999f);
  const auto dyh = random_vecf(size_t(shape_numel(ys)), ++s);
  Tensor x(xs), y(ys), dy(ys), dx(xs);
  std::copy(xh.begin(), xh.end(), x.data());
  std::copy(dyh.begin(), dyh.end(), dy.data());
  Tensor gx = test::to_gpu(xh, xs), gy(ys, gctx.device), gdy = test::to_gpu(dyh, ys), gdx(xs, gctx.device);
  cpu->forward(cctx, x, y, c.training);
  gpu->forward(gctx, gx, gy, c.training);
  kernels::cuda_stream_sync(*res);
  // Absolute tolerance on the scale of the outputs: a float32 sum of many terms rounds at the size
  // of its partial sums (an output near zero after cancellation carries their rounding).
  double scale = 1;
  for (int64_t i = 0; i < y.numel(); ++i) scale = std::max(scale, double(std::abs(y.data()[i])));
  expect_close(test::to_host(gy.data(), gctx.device, gy.numel()), std::vector<float>(y.data(), y.data() + y.numel()),
               1e-5 * scale, 1e-4, "forward output");
  if (!c.training) return;
  // An output the two devices put on either side of a ReLU's kink (one exactly 0, the other a
  // rounding away from it, within the forward's tolerance just checked) passes its gradient on one
  // side only: both take a zero gradient there, and such ties must stay rare. (GELU written as
  // 0.5 x (1 + erf(x / sqrt 2)) had ties too, up to 3 of 4,320 outputs on an H200: below about -5.5
  // that sum cancels to exactly 0, one ulp of erf apart on the two devices; erfc has no such edge.)
  const std::vector<float> gy_host = test::to_host(gy.data(), gctx.device, gy.numel());
  int64_t ties = 0;
  for (int64_t i = 0; i < y.numel(); ++i)
    if ((y.data()[i] == 0.f) != (gy_host[size_t(i)] == 0.f)) {
      dy.data()[i] = 0.f;
      ++ties;
    }
  if (ties > 0) {
    std::printf("%s, batch %lld: %lld output(s) at a ReLU's kink on one device only, given no gradient\n",
                c.what.c_str(), (long long)n, (long long)ties);
    gdy = test::to_gpu(std::vector<float>(dy.data(), dy.data() + dy.numel()), ys);
  }
  CHECK(ties <= 2);
  cpu->backward(cctx, x, y, dy, &dx);
  gpu->backward(gctx, gx, gy, gdy, &gdx);
  kernels::cuda_stream_sync(*res);
  expect_close(test::to_host(gdx.data(), gctx.device, gdx.numel()),
               std::vector<float>(dx.data(), dx.data() + dx.numel()), 1e-5, 1e-4, "input gradient");
  // A parameter's gradient sums one term per output row (sample and position): the CPU reference
  // adds them in float32, whose rounding grows with their number (the GPU's sums are in double).
  // At cifar10-cnn's batch 48, conv1's bias gradient sums 43200 terms and the CPU's float sum of
  // channel 11 is 1.6e-4 from the exact -0.1259269, which the GPU gives.
  const double terms = double(y.numel()) / double(std::max<int64_t>(ys.back(), 1));
  const double grad_atol = 1e-4 * std::max(1.0, terms / 1e4);
  for (size_t i = 0; i < w.size(); ++i) {
    expect_close(test::to_host(dw[i].data(), gctx.device, dw[i].numel()), w[i], 1e-5, 1e-4,
                 "weight " + cpu->params()[i].name + " (moving statistics update)");
    if (cpu->params()[i].trainable) {
      const double r = expect_close(test::to_host(dg[i].data(), gctx.device, dg[i].numel()), g[i], grad_atol, 1e-4,
                                    "gradient of " + cpu->params()[i].name);
      if (c.what.find("cifar10-cnn") != std::string::npos)
        std::printf("%s, batch %lld: gradient of %s at %.3g of its tolerance\n", c.what.c_str(), (long long)n,
                    cpu->params()[i].name.c_str(), r);
    }
  }
}

DepthwiseConv2DConfig depthwise(int64_t k, int64_t s, bool same, int64_t dm) {
  DepthwiseConv2DConfig c;
  c.kh = c.kw = k;
  c.sh = c.sw = s;
  c.same = same;
  c.depth_multiplier = dm;
  c.activation = Activation::relu6;
  return c;
}

Conv2DConfig conv(int64_t f, int64_t k, int64_t s, bool same, Activation a) {
  Conv2DConfig c;
  c.filters = f;
  c.kh = c.kw = k;
  c.sh = c.sw = s;
  c.same = same;
  c.activation = a;
  return c;
}

// cifar10-cnn's three convolutions at their shapes.
std::vector<LayerCase> cifar_conv_cases() {
  return {
      {"Conv2D 32 3x3 valid relu on 32x32x3 (cifar10-cnn)",
       [] { return std::make_unique<Conv2D>(conv(32, 3, 1, false, Activation::relu)); },
       {32, 32, 3}},
      {"Conv2D 64 3x3 valid relu on 15x15x32 (cifar10-cnn)",
       [] { return std::make_unique<Conv2D>(conv(64, 3, 1, false, Activation::relu)); },
       {15, 15, 32}},
      {"Conv2D 128 3x3 valid relu on 6x6x64 (cifar10-cnn)",
       [] { return std::make_unique<Conv2D>(conv(128, 3, 1, false, Activation::relu)); },
       {6, 6, 64}},
  };
}

// Pooling: TF's 'same' padding on odd sizes, dropped edges, overlapping windows, global average.
std::vector<LayerCase> pooling_cases() {
  Pool2DConfig max_same;
  max_same.same = true;
  Pool2DConfig avg3;
  avg3.ph = avg3.pw = 3;
  avg3.sh = avg3.sw = 2;
  avg3.same = true;
  Pool2DConfig overlap;
  overlap.ph = overlap.pw = 3;
  overlap.sh = overlap.sw = 1;
  return {
      {"MaxPooling2D 2x2", [] { return MaxPooling2D(); }, {8, 6, 5}},
      {"MaxPooling2D 2x2 on 13x13 (the last row and column dropped)", [] { return MaxPooling2D(); }, {13, 13, 6}},
      {"MaxPooling2D same on odd sizes", [max_same] { return MaxPooling2D(max_same); }, {7, 5, 3}},
      {"MaxPooling2D 3x3 stride 1 (overlapping)", [overlap] { return MaxPooling2D(overlap); }, {6, 6, 2}},
      {"AveragePooling2D 3x3 stride 2 same", [avg3] { return AveragePooling2D(avg3); }, {7, 8, 3}},
      {"GlobalAveragePooling2D", [] { return std::make_unique<GlobalAveragePooling2D>(); }, {5, 4, 6}},
  };
}

}  // namespace

TEST_CASE("CUDA layers match the CPU reference: forward, input and parameter gradients", "[gpu][layers]") {
  if (test::gpu_count() == 0) return;
  std::vector<LayerCase> cases = {
      {"Dense relu", [] { return std::make_unique<Dense>(37, Activation::relu); }, {53}},
      {"Dense softmax on (rows, 3, 20)", [] { return std::make_unique<Dense>(11, Activation::softmax); }, {3, 20}},
      {"Dense tanh no bias", [] { return std::make_unique<Dense>(9, Activation::tanh, false); }, {17}},
      // gelu and silu keep their pre-activation (their gradient needs it)
      {"Dense gelu", [] { return std::make_unique<Dense>(21, Activation::gelu); }, {30}},
      {"EinsumDense abcd,cde->abe gelu (two contracted axes)",
       [] {
         return std::make_unique<EinsumDense>("abcd,cde->abe", std::vector<int64_t>{-1, 7}, "e", Activation::gelu);
       },
       {5, 3, 4}},
      {"EinsumDense abc,cde->abde tanh (two new axes)",
       [] {
         return std::make_unique<EinsumDense>("abc,cde->abde", std::vector<int64_t>{-1, 2, 5}, "de", Activation::tanh);
       },
       {4, 6}},
      {"Dense silu no bias", [] { return std::make_unique<Dense>(8, Activation::silu, false); }, {2, 11}},
      {"Conv2D 3x3 same mish",
       [] { return std::make_unique<Conv2D>(conv(6, 3, 1, true, Activation::mish)); },
       {7, 9, 3}},
      {"Conv2D 3x3 same relu",
       [] { return std::make_unique<Conv2D>(conv(8, 3, 1, true, Activation::relu)); },
       {9, 10, 3}},
      {"Conv2D 3x3 valid sigmoid",
       [] { return std::make_unique<Conv2D>(conv(5, 3, 1, false, Activation::sigmoid)); },
       {8, 7, 4}},
      {"Conv2D 3x3 stride 2 same (asymmetric padding)",
       [] { return std::make_unique<Conv2D>(conv(6, 3, 2, true, Activation::linear)); },
       {10, 8, 2}},
      {"Conv2D 2x2 same (padding only bottom/right)",
       [] { return std::make_unique<Conv2D>(conv(4, 2, 1, true, Activation::relu)); },
       {6, 6, 3}},
      {"Conv2D 1x1", [] { return std::make_unique<Conv2D>(conv(7, 1, 1, false, Activation::linear)); }, {5, 5, 6}},
  };
  for (auto& c : pooling_cases()) cases.push_back(c);
  const std::vector<LayerCase> rest = {
      {"Flatten", [] { return std::make_unique<Flatten>(); }, {3, 4, 5}},
      {"Dropout 0.4", [] { return std::make_unique<Dropout>(0.4); }, {33}},
      {"Activation sigmoid", [] { return std::make_unique<ActivationLayer>(Activation::sigmoid); }, {4, 9}},
      {"Activation softmax", [] { return std::make_unique<ActivationLayer>(Activation::softmax); }, {12}},
      {"Activation hard_silu", [] { return std::make_unique<ActivationLayer>(Activation::hard_silu); }, {3, 7}},
      {"LeakyReLU(negative_slope=0.3)",
       [] { return std::make_unique<ActivationLayer>(Activation(Activation::leaky_relu, 0.3f)); },
       {15}},
      {"DepthwiseConv2D 3x3 same, dilation (2, 3), depth_multiplier 2",
       [] {
         DepthwiseConv2DConfig c = depthwise(3, 1, true, 2);
         c.dh = 2;
         c.dw = 3;
         return std::make_unique<DepthwiseConv2D>(c);
       },
       {8, 9, 3}},
      {"SeparableConv2D 2x2 same (asymmetric), dilation 2, tanh",
       [] {
         SeparableConv2DConfig c;
         c.filters = 5;
         c.kh = c.kw = 2;
         c.dh = c.dw = 2;
         c.same = true;
         c.activation = Activation::tanh;
         return std::make_unique<SeparableConv2D>(c);
       },
       {7, 6, 4}},
      {"DepthwiseConv1D 3 stride 2 valid, depth_multiplier 2",
       [] {
         DepthwiseConv2DConfig c = depthwise(3, 2, false, 2);
         c.spatial = 1;
         c.kh = c.sh = 1;
         return std::make_unique<DepthwiseConv2D>(c);
       },
       {11, 3}},
      {"SeparableConv1D 3 same, dilation 2, gelu",
       [] {
         SeparableConv2DConfig c;
         c.spatial = 1;
         c.filters = 4;
         c.kh = 1;
         c.kw = 3;
         c.dw = 2;
         c.same = true;
         c.activation = Activation::gelu;
         return std::make_unique<SeparableConv2D>(c);
       },
       {9, 5}},
      {"DepthwiseConv2D 3x3 same relu6",
       [] { return std::make_unique<DepthwiseConv2D>(depthwise(3, 1, true, 1)); },
       {9, 8, 6}},
      {"DepthwiseConv2D 3x3 stride 2 valid, depth_multiplier 2, no bias",
       [] {
         DepthwiseConv2DConfig c = depthwise(3, 2, false, 2);
         c.use_bias = false;
         return std::make_unique<DepthwiseConv2D>(c);
       },
       {9, 9, 5}},
      {"DepthwiseConv2D 2x2 same silu (pre-activation kept), depth_multiplier 3",
       [] {
         DepthwiseConv2DConfig c = depthwise(2, 1, true, 3);
         c.activation = Activation::silu;
         return std::make_unique<DepthwiseConv2D>(c);
       },
       {5, 6, 4}},
      {"ZeroPadding2D ((0, 1), (0, 1))",
       [] {
         return std::make_unique<Padding2D>(false, Padding2DConfig{0, 1, 0, 1});
       },
       {6, 5, 4}},
      {"ZeroPadding2D ((2, 1), (3, 0))",
       [] {
         return std::make_unique<Padding2D>(false, Padding2DConfig{2, 1, 3, 0});
       },
       {4, 5, 3}},
      {"Cropping2D ((1, 2), (0, 3))",
       [] {
         return std::make_unique<Padding2D>(true, Padding2DConfig{1, 2, 0, 3});
       },
       {7, 8, 3}},
      {"GlobalAveragePooling2D keepdims", [] { return std::make_unique<GlobalAveragePooling2D>(true); }, {4, 5, 6}},
      {"GlobalMaxPooling2D", [] { return std::make_unique<GlobalMaxPooling2D>(); }, {5, 4, 6}},
      {"GlobalMaxPooling2D keepdims", [] { return std::make_unique<GlobalMaxPooling2D>(true); }, {3, 3, 35}},
      {"MaxPooling1D 3, stride 2, same",
       [] {
         return std::make_unique<Pool2D>(true, Pool2DConfig{1, 3, 1, 2, true}, 1);
       },
       {11, 5}},
      {"AveragePooling1D 2",
       [] {
         return std::make_unique<Pool2D>(false, Pool2DConfig{1, 2, 1, 2, false}, 1);
       },
       {9, 4}},
      {"GlobalAveragePooling1D", [] { return std::make_unique<GlobalPooling2D>(false, false, 1); }, {13, 6}},
      {"ZeroPadding1D (2, 1)",
       [] {
         return std::make_unique<Padding2D>(false, Padding2DConfig{0, 0, 2, 1}, 1);
       },
       {7, 4}},
      {"Cropping1D (1, 3)",
       [] {
         return std::make_unique<Padding2D>(true, Padding2DConfig{0, 0, 1, 3}, 1);
       },
       {9, 4}},
      {"UpSampling1D 3", [] { return std::make_unique<UpSampling2D>(1, 3, 1); }, {5, 6}},
      {"UpSampling2D (3, 2) bilinear", [] { return std::make_unique<UpSampling2D>(3, 2, 2, true); }, {4, 5, 3}},
      {"GlobalMaxPooling1D keepdims", [] { return std::make_unique<GlobalPooling2D>(true, true, 1); }, {7, 5}},
      {"UpSampling2D (2, 3)", [] { return std::make_unique<UpSampling2D>(2, 3); }, {4, 3, 5}},
      {"SeparableConv2D 3x3 same, depth_multiplier 2, relu",
       [] {
         SeparableConv2DConfig c;
         c.filters = 7;
         c.same = true;
         c.depth_multiplier = 2;
         c.activation = Activation::relu;
         return std::make_unique<SeparableConv2D>(c);
       },
       {6, 7, 3}},
      {"SeparableConv2D 3x3 stride 2 valid gelu, no bias",
       [] {
         SeparableConv2DConfig c;
         c.filters = 4;
         c.sh = c.sw = 2;
         c.activation = Activation::gelu;
         c.use_bias = false;
         return std::make_unique<SeparableConv2D>(c);
       },
       {9, 8, 5}},
      {"PReLU (an alpha per element)", [] { return std::make_unique<PReLU>(); }, {4, 7}},
      {"PReLU shared_axes [1, 2] (an alpha per channel)",
       [] {
         return std::make_unique<PReLU>(std::vector<int>{1, 2});
       },
       {5, 6, 4}},
      {"PReLU shared_axes [2] (rows of alpha)", [] { return std::make_unique<PReLU>(std::vector<int>{2}); }, {3, 70}},
      {"RepeatVector 4", [] { return std::make_unique<RepeatVector>(4); }, {9}},
      {"Permute (3, 1, 2)",
       [] {
         return std::make_unique<Permute>(std::vector<int>{3, 1, 2});
       },
       {3, 4, 5}},
      {"Permute (2, 1)",
       [] {
         return std::make_unique<Permute>(std::vector<int>{2, 1});
       },
       {6, 7}},
      {"RandomFlip horizontal_and_vertical (training)",
       [] { return std::make_unique<RandomFlip>("horizontal_and_vertical"); },
       {5, 4, 3}},
      {"RandomFlip horizontal (training)", [] { return std::make_unique<RandomFlip>("horizontal"); }, {3, 7, 2}},
      {"AlphaDropout 0.3, noise_shape (None, 1, None)",
       [] {
         return std::make_unique<AlphaDropout>(0.3, Shape{1, 0});
       },
       {4, 9}},
      {"Conv1DTranspose 3, stride 2, same, tanh",
       [] {
         Conv2DConfig c = conv(5, 1, 1, true, Activation::tanh);
         c.kw = 3;
         c.sw = 2;
         return std::make_unique<Conv1DTranspose>(c);
       },
       {7, 4}},
      {"Conv1DTranspose 2, dilation 2, valid",
       [] {
         Conv2DConfig c = conv(3, 1, 1, false, Activation::linear);
         c.kw = 2;
         c.dw = 2;
         return std::make_unique<Conv1DTranspose>(c);
       },
       {6, 3}},
      {"UnitNormalization axis -1", [] { return std::make_unique<UnitNormalization>(); }, {3, 40}},
      {"UnitNormalization axis [2, 3]",
       [] {
         return std::make_unique<UnitNormalization>(std::vector<int>{2, 3}, true);
       },
       {3, 4, 5}},
      {"GaussianNoise 0.3 (training)", [] { return std::make_unique<GaussianNoise>(0.3, false); }, {5, 6}},
      {"GaussianDropout 0.4 (training)", [] { return std::make_unique<GaussianNoise>(0.4, true); }, {41}},
      {"RandomRotation 0.2, reflect, bilinear (training)",
       [] {
         return std::make_unique<RandomAffine>(kernels::WarpKind::rotation, augment_factor({0.2}, -1, 1, "f"),
                                               AugmentFactor{}, "reflect", "bilinear", 0);
       },
       {6, 7, 3}},
      {"RandomZoom (-0.3, 0.2) x 0.25, constant, nearest (training)",
       [] {
         return std::make_unique<RandomAffine>(kernels::WarpKind::zoom, augment_factor({-0.3, 0.2}, -1, 1, "f"),
                                               augment_factor({0.25}, -1, 1, "f"), "constant", "nearest", 0.5);
       },
       {5, 8, 2}},
      {"RandomTranslation 0.2 x (-0.1, 0.3), wrap, bilinear (training)",
       [] {
         return std::make_unique<RandomAffine>(kernels::WarpKind::translation, augment_factor({0.2}, -1, 1, "f"),
                                               augment_factor({-0.1, 0.3}, -1, 1, "f"), "wrap", "bilinear", 0);
       },
       {6, 6, 2}},
      {"RandomShear x 0.3, y (0.1, 0.2), nearest fill (training)",
       [] {
         return std::make_unique<RandomAffine>(kernels::WarpKind::shear, augment_factor({0.1, 0.2}, -1, 1, "f"),
                                               augment_factor({0.3}, -1, 1, "f"), "nearest", "bilinear", 0);
       },
       {6, 5, 2}},
      {"RandomContrast (0.2, 0.6) in (-1.5, 1.5) (training)",
       [] {
         return std::make_unique<RandomContrast>(augment_factor({0.2, 0.6}, 0, 1, "f"), -1.5, 1.5);
       },
       {4, 5, 3}},
      {"Resizing (5, 7) -> (8, 3) bilinear",
       [] {
         ResizeConfig r;
         r.height = 8;
         r.width = 3;
         return std::make_unique<Resizing>(r);
       },
       {5, 7, 2}},
      {"Resizing nearest, crop_to_aspect_ratio",
       [] {
         ResizeConfig r;
         r.height = 4;
         r.width = 6;
         r.interpolation = "nearest";
         r.crop_to_aspect_ratio = true;
         return std::make_unique<Resizing>(r);
       },
       {7, 5, 3}},
      {"Resizing pad_to_aspect_ratio, fill 0.5",
       [] {
         ResizeConfig r;
         r.height = 6;
         r.width = 6;
         r.pad_to_aspect_ratio = true;
         r.fill_value = 0.5;
         return std::make_unique<Resizing>(r);
       },
       {3, 5, 2}},
      {"RandomBrightness (-0.2, 0.3) in (-1, 1.5) (training)",
       [] {
         return std::make_unique<RandomContrast>(augment_factor({-0.2, 0.3}, -1, 1, "f"), -1, 1.5, true);
       },
       {4, 5, 3}},
      {"CenterCrop (3, 4) of (6, 7)",
       [] {
         ResizeConfig r;
         r.height = 3;
         r.width = 4;
         r.center_crop = true;
         return std::make_unique<Resizing>(r);
       },
       {6, 7, 2}},
      {"RandomCrop (3, 4) of (6, 7) (training: each sample's window)",
       [] {
         ResizeConfig r;
         r.height = 3;
         r.width = 4;
         r.random_crop = true;
         return std::make_unique<Resizing>(r);
       },
       {6, 7, 2}},
      {"RandomCrop (8, 4) of (6, 7) (an axis too short: smart_resize)",
       [] {
         ResizeConfig r;
         r.height = 8;
         r.width = 4;
         r.random_crop = true;
         return std::make_unique<Resizing>(r);
       },
       {6, 7, 2}},
      {"RandomGrayscale 0.5 (training)", [] { return std::make_unique<RandomGrayscale>(0.5); }, {4, 5, 3}},
      {"ActivityRegularization (an identity)", [] { return std::make_unique<ActivityRegularization>(0.1, 0.2); }, {8}},
      {"Dropout 0.3, noise_shape (None, 1, None, 1)",
       [] {
         return std::make_unique<Dropout>(0.3, Shape{1, 0, 1});
       },
       {4, 5, 6}},
      {"Rescaling per channel",
       [] {
         return std::make_unique<Rescaling>(std::vector<double>{0.5, -2, 3}, std::vector<double>{0.25});
       },
       {4, 5, 3}},
      {"Normalization (its weights)",
       [] { return std::make_unique<Normalization>(-1, std::vector<double>{}, std::vector<double>{}, false); },
       {3, 4, 5}},
      {"Normalization (constants, inverted)",
       [] { return std::make_unique<Normalization>(-1, std::vector<double>{0.5}, std::vector<double>{2.0}, true); },
       {9}},
      {"LayerNormalization per position (axis -1)", [] { return std::make_unique<LayerNormalization>(); }, {5, 4, 7}},
      {"LayerNormalization over the whole sample, gamma alone",
       [] {
         LayerNormConfig c;
         c.axis = {1, 2, 3};
         c.center = false;
         return std::make_unique<LayerNormalization>(c);
       },
       {3, 4, 5}},
      {"LayerNormalization over 1200-long rows (a block per row), beta alone",
       [] {
         LayerNormConfig c;
         c.axis = {-2, -1};
         c.scale = false;
         return std::make_unique<LayerNormalization>(c);
       },
       {2, 40, 30}},
      {"GroupNormalization, 3 groups of 2 channels over 5x4 positions",
       [] {
         LayerNormConfig c;
         c.groups = 3;
         return std::make_unique<LayerNormalization>(c);
       },
       {5, 4, 6}},
      {"GroupNormalization, one group per channel, rows of 1200 (a block per row), gamma alone",
       [] {
         LayerNormConfig c;
         c.groups = -1;
         c.center = false;
         return std::make_unique<LayerNormalization>(c);
       },
       {40, 30, 3}},
      {"RMSNormalization",
       [] {
         LayerNormConfig c;
         c.rms = true;
         c.epsilon = 1e-6;
         return std::make_unique<LayerNormalization>(c);
       },
       {3, 33}},
      {"LSTM(5, return_sequences) on (6, 3)",
       [] {
         LSTMConfig c;
         c.units = 5;
         c.return_sequences = true;
         return std::make_unique<LSTM>(c);
       },
       {6, 3}},
      {"LSTM(4, go_backwards) on (7, 5)",
       [] {
         LSTMConfig c;
         c.units = 4;
         c.go_backwards = true;
         return std::make_unique<LSTM>(c);
       },
       {7, 5}},
      {"LSTM(3, no bias, go_backwards, return_sequences) on (4, 2)",
       [] {
         LSTMConfig c;
         c.units = 3;
         c.use_bias = false;
         c.go_backwards = true;
         c.return_sequences = true;
         return std::make_unique<LSTM>(c);
       },
       {4, 2}},
      {"GRU(5, return_sequences) on (6, 3)",
       [] {
         RecurrentConfig c;
         c.units = 5;
         c.return_sequences = true;
         return std::make_unique<GRU>(c);
       },
       {6, 3}},
      {"GRU(4, go_backwards, no bias) on (7, 5)",
       [] {
         RecurrentConfig c;
         c.units = 4;
         c.go_backwards = true;
         c.use_bias = false;
         return std::make_unique<GRU>(c);
       },
       {7, 5}},
      {"SimpleRNN(6, return_sequences, go_backwards) on (5, 4)",
       [] {
         RecurrentConfig c;
         c.units = 6;
         c.return_sequences = true;
         c.go_backwards = true;
         return std::make_unique<SimpleRNN>(c);
       },
       {5, 4}},
      {"Bidirectional(LSTM(4, return_sequences)), concat, on (6, 3)",
       [] {
         RecurrentConfig c;
         c.units = 4;
         c.return_sequences = true;
         return std::make_unique<Bidirectional>(std::make_unique<LSTM>(c));
       },
       {6, 3}},
      {"Bidirectional(GRU(3)), mul, on (5, 2)",
       [] {
         RecurrentConfig c;
         c.units = 3;
         return std::make_unique<Bidirectional>(std::make_unique<GRU>(c), MergeMode::mul);
       },
       {5, 2}},
      {"Bidirectional(SimpleRNN(3, return_sequences)), ave, backward_layer LSTM(3, go_backwards) on (4, 5)",
       [] {
         RecurrentConfig c;
         c.units = 3;
         c.return_sequences = true;
         RecurrentConfig b = c;
         b.go_backwards = true;
         return std::make_unique<Bidirectional>(std::make_unique<SimpleRNN>(c), MergeMode::ave,
                                                std::make_unique<LSTM>(b));
       },
       {4, 5}},
      {"LSTM(5, return_sequences, dropout 0.3, recurrent_dropout 0.4: a mask per gate) on (6, 3)",
       [] {
         LSTMConfig c;
         c.units = 5;
         c.return_sequences = true;
         c.dropout = 0.3;
         c.recurrent_dropout = 0.4;
         return std::make_unique<LSTM>(c);
       },
       {6, 3}},
      {"LSTM(4, go_backwards, dropout 0.25: one mask) on (5, 6)",
       [] {
         LSTMConfig c;
         c.units = 4;
         c.go_backwards = true;
         c.dropout = 0.25;
         return std::make_unique<LSTM>(c);
       },
       {5, 6}},
      {"GRU(4, return_sequences, dropout 0.2, recurrent_dropout 0.3) on (6, 3)",
       [] {
         RecurrentConfig c;
         c.units = 4;
         c.return_sequences = true;
         c.dropout = 0.2;
         c.recurrent_dropout = 0.3;
         return std::make_unique<GRU>(c);
       },
       {6, 3}},
      {"GRU(3, implementation 1, dropout 0.35, no bias) on (4, 5)",
       [] {
         RecurrentConfig c;
         c.units = 3;
         c.implementation = 1;
         c.dropout = 0.35;
         c.use_bias = false;
         return std::make_unique<GRU>(c);
       },
       {4, 5}},
      {"SimpleRNN(5, dropout 0.3, recurrent_dropout 0.3) on (6, 4)",
       [] {
         RecurrentConfig c;
         c.units = 5;
         c.dropout = 0.3;
         c.recurrent_dropout = 0.3;
         return std::make_unique<SimpleRNN>(c);
       },
       {6, 4}},
      {"LSTM(5, return_sequences, activation relu) on (6, 3)",
       [] {
         LSTMConfig c;
         c.units = 5;
         c.return_sequences = true;
         c.activation = Activation::relu;
         return std::make_unique<LSTM>(c);
       },
       {6, 3}},
      {"GRU(4, go_backwards, activation elu, recurrent_activation softsign) on (5, 3)",
       [] {
         RecurrentConfig c;
         c.units = 4;
         c.go_backwards = true;
         c.activation = Activation::elu;
         c.recurrent_activation = Activation::softsign;
         return std::make_unique<GRU>(c);
       },
       {5, 3}},
      {"SimpleRNN(4, return_sequences, activation relu, recurrent_dropout 0.3) on (6, 3)",
       [] {
         RecurrentConfig c;
         c.units = 4;
         c.return_sequences = true;
         c.activation = Activation::relu;
         c.recurrent_dropout = 0.3;
         return std::make_unique<SimpleRNN>(c);
       },
       {6, 3}},
      {"GRU(4, return_sequences, reset_after False) on (6, 3)",
       [] {
         RecurrentConfig c;
         c.units = 4;
         c.return_sequences = true;
         c.reset_after = false;
         return std::make_unique<GRU>(c);
       },
       {6, 3}},
      {"GRU(3, go_backwards, reset_after False, dropout 0.2, recurrent_dropout 0.3, relu) on (5, 4)",
       [] {
         RecurrentConfig c;
         c.units = 3;
         c.go_backwards = true;
         c.reset_after = false;
         c.dropout = 0.2;
         c.recurrent_dropout = 0.3;
         c.activation = Activation::relu;
         return std::make_unique<GRU>(c);
       },
       {5, 4}},
      {"TimeDistributed(Dense(5, tanh)) on (4, 6)",
       [] { return std::make_unique<TimeDistributed>(std::make_unique<Dense>(5, Activation::tanh)); },
       {4, 6}},
      {"TimeDistributed(Conv2D(3, 3x3, relu)) on 3 frames of (6, 5, 2)",
       [] {
         Conv2DConfig c;
         c.filters = 3;
         c.kh = c.kw = 3;
         c.activation = Activation::relu;
         return std::make_unique<TimeDistributed>(std::make_unique<Conv2D>(c));
       },
       {3, 6, 5, 2}},
      {"Embedding(40, 7) on (3, 5) indices", [] { return std::make_unique<Embedding>(40, 7); }, {3, 5}},
      {"Embedding(300, 4): two passes of the backward's sort", [] { return std::make_unique<Embedding>(300, 4); }, {9}},
      {"CategoryEncoding(6, count) on (4, 3) indices",
       [] { return std::make_unique<CategoryEncoding>(6, CategoryEncoding::count); },
       {4, 3}},
      {"CategoryEncoding(5, one_hot) on (3, 2) indices",
       [] { return std::make_unique<CategoryEncoding>(5, CategoryEncoding::one_hot); },
       {3, 2}},
      {"BatchNormalization (images)", [] { return std::make_unique<BatchNormalization>(); }, {5, 4, 7}},
      {"BatchNormalization (features)", [] { return std::make_unique<BatchNormalization>(); }, {19}},
  };
  cases.insert(cases.end(), rest.begin(), rest.end());
  for (auto& c : cifar_conv_cases()) cases.push_back(c);
  uint64_t seed = 100;
  for (const auto& c : cases) {
    if (c.what.find("cifar10-cnn") != std::string::npos) compare_layer(c, 48, seed += 50);
    compare_layer(c, 13, seed += 50);
    compare_layer(c, 1, seed += 50);
    LayerCase inference = c;
    inference.training = false;
    compare_layer(inference, 6, seed += 50);
  }
}

TEST_CASE("CUDA Conv2D on each route (cuDNN NHWC; cuDNN NCHW between transposes; im2col + GEMM) matches the CPU",
          "[gpu][layers]") {
  if (test::gpu_count() == 0) return;
  std::vector<LayerCase> cases = cifar_conv_cases();
  const std::vector<LayerCase> more = {
      {"Conv2D 3x3 same (symmetric padding) tanh, 40 filters on 9x11x5",
       [] { return std::make_unique<Conv2D>(conv(40, 3, 1, true, Activation::tanh)); },
       {9, 11, 5}},
      {"Conv2D 3x3 same gelu (the pre-activation kept, the activation its own pass)",
       [] { return std::make_unique<Conv2D>(conv(12, 3, 1, true, Activation::gelu)); },
       {8, 9, 5}},
      {"Conv2D 3x3 valid softmax over 6 filters",
       [] { return std::make_unique<Conv2D>(conv(6, 3, 1, false, Activation::softmax)); },
       {7, 6, 4}},
      {"Conv2D 3x3 stride 2 same (asymmetric padding: NHWC or GEMM)",
       [] { return std::make_unique<Conv2D>(conv(6, 3, 2, true, Activation::linear)); },
       {10, 8, 2}},
      {"Conv2D 1x1", [] { return std::make_unique<Conv2D>(conv(7, 1, 1, false, Activation::linear)); }, {5, 5, 6}},
  };
  cases.insert(cases.end(), more.begin(), more.end());
  // Dilated and transposed convolutions (their own seeds: the cases above keep their inputs). A
  // transposed convolution's forward is its convolution's backward-data on the plan's route, its
  // backward that convolution's forward and backward-filter.
  const std::vector<LayerCase> later = {
      {"Conv1D 3 causal, dilation 2, relu (padding before the sequence alone: NHWC or GEMM)",
       [] {
         Conv2DConfig c = conv(6, 1, 1, false, Activation::relu);
         c.kw = 3;
         c.dw = 2;
         return std::make_unique<Conv1D>(c, true);
       },
       {17, 4}},
      {"Conv1D 4 same, stride 2, tanh",
       [] {
         Conv2DConfig c = conv(5, 1, 1, true, Activation::tanh);
         c.kw = 4;
         c.sw = 2;
         return std::make_unique<Conv1D>(c, false);
       },
       {15, 3}},
      {"Conv2DTranspose 3x3 stride 2 same relu (its convolution's padding asymmetric: NHWC or GEMM)",
       [] { return std::make_unique<Conv2DTranspose>(conv(7, 3, 2, true, Activation::relu)); },
       {5, 4, 6}},
      {"Conv2DTranspose 4x4 stride 2 same tanh",
       [] { return std::make_unique<Conv2DTranspose>(conv(5, 4, 2, true, Activation::tanh)); },
       {4, 5, 3}},
      {"Conv2DTranspose 2x2 stride 2 valid gelu (the pre-activation kept)",
       [] { return std::make_unique<Conv2DTranspose>(conv(4, 2, 2, false, Activation::gelu)); },
       {4, 4, 5}},
      {"Conv2DTranspose 3x3 valid, dilation 2, softmax",
       [] {
         Conv2DConfig c = conv(3, 3, 1, false, Activation::softmax);
         c.dh = c.dw = 2;
         return std::make_unique<Conv2DTranspose>(c);
       },
       {5, 6, 3}},
      {"Conv2D 3x3 same, dilation (2, 3) (symmetric padding 2 and 3)",
       [] {
         Conv2DConfig c = conv(6, 3, 1, true, Activation::relu);
         c.dh = 2;
         c.dw = 3;
         return std::make_unique<Conv2D>(c);
       },
       {9, 10, 4}},
      {"Conv2D 2x2 same, dilation 2 (asymmetric padding: NHWC or GEMM)",
       [] {
         Conv2DConfig c = conv(5, 2, 1, true, Activation::linear);
         c.dh = c.dw = 2;
         return std::make_unique<Conv2D>(c);
       },
       {7, 8, 3}},
      {"Conv2D 3x3 valid, dilation (3, 2)",
       [] {
         Conv2DConfig c = conv(4, 3, 1, false, Activation::tanh);
         c.dh = 3;
         c.dw = 2;
         return std::make_unique<Conv2D>(c);
       },
       {10, 9, 5}},
  };
  uint64_t seed = 9000, later_seed = 90000;
  for (const auto layout : {kernels::ConvLayout::nhwc, kernels::ConvLayout::nchw, kernels::ConvLayout::gemm,
                            kernels::ConvLayout::automatic}) {
    for (const auto& c : cases) {
      compare_layer(c, 13, seed += 50, layout);
      compare_layer(c, 5, seed += 50, layout, 13);  // the plan's second batch size
      LayerCase inference = c;
      inference.training = false;
      compare_layer(inference, 6, seed += 50, layout);
    }
    for (const auto& c : later) {
      compare_layer(c, 13, later_seed += 50, layout);
      compare_layer(c, 5, later_seed += 50, layout, 13);
      LayerCase inference = c;
      inference.training = false;
      compare_layer(inference, 6, later_seed += 50, layout);
    }
  }
}

// The kernels with 32- and 64-bit index instantiations (pooling, im2col/col2im, the NCHW
// activation gradient) take the 64-bit ones only past 2^31 elements; forced here on small shapes,
// they must give what the 32-bit ones and the CPU give.
TEST_CASE("CUDA kernels' 64-bit-index instantiations (forced on small shapes) match the CPU", "[gpu][layers]") {
  if (test::gpu_count() == 0) return;
  struct Wide {
    Wide() { kernels::cuda_force_wide_indices(true); }
    ~Wide() { kernels::cuda_force_wide_indices(false); }
  } wide;
  uint64_t seed = 20000;
  for (const auto& c : pooling_cases()) {
    compare_layer(c, 13, seed += 50);
    LayerCase inference = c;
    inference.training = false;
    compare_layer(inference, 6, seed += 50);
  }
  const std::vector<LayerCase> convs = {
      {"Conv2D 3x3 same relu, 16 filters on 9x11x5",
       [] { return std::make_unique<Conv2D>(conv(16, 3, 1, true, Activation::relu)); },
       {9, 11, 5}},
      {"Conv2D 3x3 stride 2 same (asymmetric padding)",
       [] { return std::make_unique<Conv2D>(conv(6, 3, 2, true, Activation::tanh)); },
       {10, 8, 2}},
      {"Conv2D 3x3 same, dilation (2, 3)",
       [] {
         Conv2DConfig c = conv(5, 3, 1, true, Activation::linear);
         c.dh = 2;
         c.dw = 3;
         return std::make_unique<Conv2D>(c);
       },
       {8, 9, 3}},
  };
  for (const auto layout : {kernels::ConvLayout::nchw, kernels::ConvLayout::gemm, kernels::ConvLayout::automatic})
    for (const auto& c : convs) compare_layer(c, 13, seed += 50, layout);
}
