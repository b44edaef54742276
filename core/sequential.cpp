// Sequential: building, arenas, initialisation, the per-replica forward/backward and summary.
#include "core/sequential.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include "core/error.h"
#include "core/layers/merge.h"
#include "kernels/cuda_backend.h"
#include "kernels/merge.h"
#include "kernels/optimizer.h"

namespace dpt {

Sequential& Sequential::add(std::unique_ptr<Layer> layer, std::vector<int> inputs) {
  DPT_CHECK(!built(), "cannot add layers to model '" << name_ << "' after it is built");
  const int me = int(layers_.size());
  if (inputs.empty()) inputs.push_back(me - 1);
  for (int k : inputs)
    DPT_CHECK(k < me, "layer " << me << " of model '" << name_ << "' reads layer " << k
                               << ", which is not an earlier layer (or -1, the input)");
  const bool merge = dynamic_cast<MergeLayer*>(layer.get()) != nullptr;
  DPT_CHECK(merge || inputs.size() == 1, "layer " << me << " (" << layer->class_name() << ") of model '" << name_
                                                  << "' takes one input, not " << inputs.size());
  layers_.push_back(std::move(layer));
  inputs_.push_back(std::move(inputs));
  return *this;
}

bool Sequential::is_chain() const {
  for (size_t i = 0; i < inputs_.size(); ++i)
    if (inputs_[i].size() != 1 || inputs_[i][0] != int(i) - 1) return false;
  return true;
}

int64_t Sequential::index_limit_of(size_t input) const {
  int64_t limit = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const int64_t l = layers_[i]->input_index_limit();
    if (l > 0 && std::find(inputs_[i].begin(), inputs_[i].end(), -1 - int(input)) != inputs_[i].end())
      limit = limit == 0 ? l : std::min(limit, l);
  }
  return limit;
}

int64_t Sequential::input_index_limit() const {
  int64_t limit = 0;
  for (size_t k = 0; k < std::max<size_t>(num_inputs(), 1); ++k) {
    const int64_t l = index_limit_of(k);
    if (l > 0) limit = limit == 0 ? l : std::min(limit, l);
  }
  return limit;
}

void Sequential::check_inputs(const float* x, int64_t count, const std::string& what) const {
  const size_t inputs = std::max<size_t>(num_inputs(), 1);
  const int64_t per = std::max<int64_t>(shape_numel(input_shape_), 1);
  for (size_t k = 0; k < inputs; ++k) {
    const int64_t limit = index_limit_of(k);
    if (limit == 0) continue;
    const int64_t from = inputs > 1 ? input_offsets_[k] : 0;
    const int64_t width = inputs > 1 ? shape_numel(input_shapes_[k]) : per;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t col = i % per;
      if (col < from || col >= from + width) continue;
      const float v = x[i];
      if (v >= 0.f && v < float(limit) && v == std::floor(v)) continue;
      std::string reader;
      for (size_t l = 0; l < layers_.size() && reader.empty(); ++l)
        if (layers_[l]->input_index_limit() == limit &&
            std::find(inputs_[l].begin(), inputs_[l].end(), -1 - int(k)) != inputs_[l].end())
          reader = layers_[l]->class_name() + " '" + layers_[l]->name() + "', " + layers_[l]->index_limit_name();
      DPT_FAIL(what << ": sample " << i / per << " holds " << v
                    << (inputs > 1 ? " in input '" + input_names_[k] + "'" : "") << ", but model '" << name_
                    << "' reads " << (inputs > 1 ? "it" : "its inputs") << " as indices (" << reader << " " << limit
                    << "): every " << (inputs > 1 ? "value" : "input") << " must be a whole number in [0, " << limit
                    << ")");
    }
  }
}

namespace {

// Keras's Orthogonal for (rows, cols) (a weight of more axes: all but the last as rows): a normal
// matrix, Q of its QR (columns made orthonormal in order, R's diagonal positive), as (rows, cols)
// with orthonormal rows or columns, times gain.
void fill_orthogonal(const Shape& shape, float* w, double gain, std::mt19937_64& rng) {
  const int64_t n = shape_numel(shape);
  const int64_t cols = shape.back(), rows = n / std::max<int64_t>(cols, 1);
  const int64_t tall = std::max(rows, cols), wide = std::min(rows, cols);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> q(size_t(tall * wide));  // wide columns of length tall, column-major
  for (auto& v : q) v = g(rng);
  for (int64_t j = 0; j < wide; ++j) {
    double* cj = q.data() + j * tall;
    for (int64_t k = 0; k < j; ++k) {
      const double* ck = q.data() + k * tall;
      double d = 0;
      for (int64_t i = 0; i < tall; ++i) d += ck[i] * cj[i];
      for (int64_t i = 0; i < tall; ++i) cj[i] -= d * ck[i];
    }
    double norm = 0;
    for (int64_t i = 0; i < tall; ++i) norm += cj[i] * cj[i];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < tall; ++i) cj[i] /= norm;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w[r * cols + c] = float(gain * (rows >= cols ? q[size_t(c * tall + r)] : q[size_t(r * tall + c)]));
}

// Keras's compute_fans: over the given axes, else (1-D) the size both ways, (2-D) rows and
// columns, (more) the last two axes times the receptive field (the others' product).
std::pair<double, double> fans_of(const Shape& shape, const Initializer& i, const std::string& what) {
  if (!i.input_axes.empty()) {
    const int64_t rank = int64_t(shape.size());
    auto product = [&](const std::vector<int64_t>& axes) {
      double p = 1;
      for (int64_t a : axes) {
        const int64_t k = a < 0 ? a + rank : a;
        DPT_CHECK(k >= 0 && k < rank, "weight '" << what << "' of shape " << shape_str(shape) << " has no axis " << a
                                                 << " for its initializer's fans");
        p *= double(shape[size_t(k)]);
      }
      return p;
    };
    return {product(i.input_axes), product(i.output_axes)};
  }
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  double receptive = 1;
  for (size_t k = 0; k + 2 < shape.size(); ++k) receptive *= double(shape[k]);
  return {double(shape[shape.size() - 2]) * receptive, double(shape.back()) * receptive};
}

// n draws of a normal (mean, stddev) truncated as TensorFlow's and JAX's: a draw more than two
// standard deviations from the mean is drawn again.
void fill_truncated(float* w, int64_t n, double mean, double stddev, std::mt19937_64& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  for (int64_t k = 0; k < n; ++k) {
    double z = g(rng);
    while (std::fabs(z) > 2.0) z = g(rng);
    w[k] = float(mean + stddev * z);
  }
}

void fill_initializer(const Initializer& i, const Shape& shape, float* w, std::mt19937_64& rng,
                      const std::string& what) {
  const int64_t n = shape_numel(shape);
  switch (i.kind) {
    case Initializer::constant: std::fill(w, w + n, float(i.a)); break;
    case Initializer::normal: {
      std::normal_distribution<double> g(i.a, i.b);
      for (int64_t k = 0; k < n; ++k) w[k] = float(g(rng));
      break;
    }
    case Initializer::truncated_normal: fill_truncated(w, n, i.a, i.b, rng); break;
    case Initializer::uniform: {
      std::uniform_real_distribution<double> u(i.a, i.b);
      for (int64_t k = 0; k < n; ++k) w[k] = float(u(rng));
      break;
    }
    case Initializer::orthogonal:
      DPT_CHECK(shape.size() >= 2, "weight '" << what
                                              << "': the Orthogonal initializer needs a weight of at least two "
                                                 "dimensions, as Keras's, got shape "
                                              << shape_str(shape));
      fill_orthogonal(shape, w, i.a, rng);
      break;
    case Initializer::identity:
      DPT_CHECK(shape.size() == 2, "weight '" << what
                                              << "': the Identity initializer needs a 2-D weight, as Keras's, "
                                                 "got shape "
                                              << shape_str(shape));
      std::fill(w, w + n, 0.f);
      for (int64_t k = 0; k < std::min(shape[0], shape[1]); ++k) w[k * shape[1] + k] = float(i.a);
      break;
    case Initializer::variance_scaling: {
      const auto [fan_in, fan_out] = fans_of(shape, i, what);
      const double fan = i.mode == Initializer::fan_in    ? fan_in
                         : i.mode == Initializer::fan_out ? fan_out
                                                          : (fan_in + fan_out) / 2.0;
      const double scale = i.scale / std::max(1.0, fan);
      if (i.distribution == Initializer::uniform_values) {
        const double limit = std::sqrt(3.0 * scale);
        std::uniform_real_distribution<double> u(-limit, limit);
        for (int64_t k = 0; k < n; ++k) w[k] = float(u(rng));
      } else if (i.distribution == Initializer::untruncated) {
        std::normal_distribution<double> g(0.0, std::sqrt(scale));
        for (int64_t k = 0; k < n; ++k) w[k] = float(g(rng));
      } else {  // Keras's constant: the standard deviation of a unit normal truncated at 2
        fill_truncated(w, n, 0.0, std::sqrt(scale) / 0.87962566103423978, rng);
      }
      break;
    }
  }
}

void init_weight(const ParamSpec& s, float* w, std::mt19937_64& rng, const std::string& what) {
  const int64_t n = shape_numel(s.shape);
  if (s.initializer) {
    if (s.init == Init::lstm_bias) {  // as Keras's LSTM: the initializer, the forget gate's at 1
      const int64_t units = n / 4;
      fill_initializer(*s.initializer, {units}, w, rng, what);
      std::fill(w + units, w + 2 * units, 1.f);
      fill_initializer(*s.initializer, {2 * units}, w + 2 * units, rng, what);
    } else {
      fill_initializer(*s.initializer, s.shape, w, rng, what);
    }
    return;
  }
  switch (s.init) {
    case Init::zeros: std::fill(w, w + n, 0.f); break;
    case Init::ones: std::fill(w, w + n, 1.f); break;
    case Init::lstm_bias: {
      const int64_t units = n / 4;
      std::fill(w, w + n, 0.f);
      std::fill(w + units, w + 2 * units, 1.f);
      break;
    }
    case Init::orthogonal: fill_orthogonal(s.shape, w, 1.0, rng); break;
    case Init::uniform: {
      std::uniform_real_distribution<double> u(-0.05, 0.05);
      for (int64_t i = 0; i < n; ++i) w[i] = float(u(rng));
      break;
    }
    case Init::glorot_uniform: {
      // Keras: fan_in = receptive * in, fan_out = receptive * out (a vector's both its length),
      // limit = sqrt(6 / (fan_in + fan_out)).
      const auto [fan_in, fan_out] = fans_of(s.shape, Initializer{}, what);
      const double limit = std::sqrt(6.0 / (fan_in + fan_out));
      std::uniform_real_distribution<double> u(-limit, limit);
      for (int64_t i = 0; i < n; ++i) w[i] = float(u(rng));
      break;
    }
  }
}

}  // namespace

void Sequential::bind_layers() {  // each layer's views into the arenas
  for (auto& l : layers_) {
    std::vector<float*> w, g;
    for (auto& ref : weights_)
      if (ref.layer == l.get()) {
        w.push_back(ref.data);
        g.push_back(ref.grad);
      }
    l->bind(w, g);
  }
}

void Sequential::build_inputs(const std::vector<Shape>& input_shapes, uint64_t seed, std::vector<std::string> names) {
  DPT_CHECK(!layers_.empty(), "model '" << name_ << "' has no layers");
  DPT_CHECK(!built(), "model '" << name_ << "' is already built");
  DPT_CHECK(!input_shapes.empty(), "model '" << name_ << "' needs at least one input");
  DPT_CHECK(names.empty() || names.size() == input_shapes.size(),
            "model '" << name_ << "' has " << input_shapes.size() << " inputs but " << names.size() << " input names");
  if (names.empty())
    for (size_t k = 0; k < input_shapes.size(); ++k)
      names.push_back(k == 0 ? "input_layer" : "input_layer_" + std::to_string(k));
  input_shapes_ = input_shapes;
  input_names_ = std::move(names);
  input_offsets_.clear();
  int64_t packed = 0;
  for (const Shape& s : input_shapes_) {
    input_offsets_.push_back(packed);
    packed += shape_numel(s);
  }
  input_shape_ = input_shapes_.size() == 1 ? input_shapes_[0] : Shape{packed};
  std::vector<bool> input_read(input_shapes_.size(), false);
  for (size_t i = 0; i < layers_.size(); ++i)
    for (int k : inputs_[i])
      if (k < 0) {
        DPT_CHECK(size_t(-1 - k) < input_shapes_.size(),
                  "layer " << i << " of model '" << name_ << "' reads input " << -1 - k << ", but the model has "
                           << input_shapes_.size() << " input" << (input_shapes_.size() == 1 ? "" : "s"));
        input_read[size_t(-1 - k)] = true;
      }
  for (size_t k = 0; k < input_read.size(); ++k)
    DPT_CHECK(input_read[k], "model '" << name_ << "': no layer reads its input '" << input_names_[k] << "'");
  std::map<std::string, int> counts;
  auto next_name = [&](const std::string& base) {
    int& k = counts[base];
    return k++ == 0 ? base : base + "_" + std::to_string(k - 1);
  };
  for (auto& l : layers_) {
    l->name_sublayers(next_name);  // Keras makes a wrapped layer before its wrapper
    if (l->name().empty()) l->set_name(next_name(l->default_name()));
  }
  std::vector<std::pair<Layer*, ParamSpec>> specs;
  std::vector<int> readers(layers_.size(), 0);
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = *layers_[i];
    std::vector<Shape> in;
    for (int k : inputs_[i]) {
      in.push_back(k < 0 ? input_shapes_[size_t(-1 - k)] : layers_[size_t(k)]->output_shape());
      if (k >= 0) ++readers[size_t(k)];
    }
    if (auto* m = dynamic_cast<MergeLayer*>(&l))
      m->build_inputs(in);
    else
      l.build(in[0]);
    const std::vector<ParamSpec> ps = l.params();
    const std::vector<Layer::WeightOptions> options = l.param_options();
    for (size_t k = 0; k < ps.size(); ++k) {
      specs.push_back({&l, ps[k]});
      if (k >= options.size()) continue;
      if (options[k].regularizer) specs.back().second.regularizer = *options[k].regularizer;
      specs.back().second.initializer = options[k].initializer;
      specs.back().second.constraint = options[k].constraint;
    }
  }
  wire_masks();
  for (size_t i = 0; i + 1 < layers_.size(); ++i)
    DPT_CHECK(readers[i] > 0, "model '" << name_ << "': nothing reads the output of layer '" << layers_[i]->name()
                                        << "', and only the last layer is the model's output");
  int64_t trainable = 0, total = 0, updated = 0;
  for (auto& [l, p] : specs) {
    const int64_t n = shape_numel(p.shape);
    DPT_CHECK(!__builtin_add_overflow(total, n, &total), "model '" << name_ << "' has more weights than fit in 64 bits");
    if (p.trainable) trainable += n;
    if (p.trainable || !p.constant) updated += n;
  }
  int64_t with_grads = 0;
  DPT_CHECK(!__builtin_add_overflow(total, trainable, &with_grads),
            "model '" << name_ << "' has more weights than fit in 64 bits");
  check_host_bytes(checked_mul(with_grads, int64_t(sizeof(float)), "the model's weights"),
                   "model '" + name_ + "' (" + std::to_string(total) + " weights and their gradients)");
  params_ = Tensor({total});
  grads_ = Tensor({trainable});
  // The arena: trainable weights, then what training updates otherwise (moving statistics), then
  // constants; each part in layer order.
  num_updated_ = updated;
  int64_t off_t = 0, off_m = trainable, off_c = updated;
  for (auto& [l, p] : specs) {
    int64_t& next = p.trainable ? off_t : p.constant ? off_c : off_m;
    const int64_t off = next;
    next += shape_numel(p.shape);
    weights_.push_back({l, p, params_.data() + off, p.trainable ? grads_.data() + off : nullptr, off});
  }
  bind_layers();
  std::mt19937_64 rng(seed);
  for (auto& ref : weights_) init_weight(ref.spec, ref.data, rng, ref.keras_name());
  grad_range_.assign(layers_.size(), {0, 0});
  for (size_t i = 0; i < layers_.size(); ++i) {
    int64_t lo = -1, hi = -1;
    for (auto& ref : weights_)
      if (ref.layer == layers_[i].get() && ref.spec.trainable) {
        if (lo < 0) lo = ref.offset;
        hi = ref.offset + shape_numel(ref.spec.shape);
      }
    if (lo >= 0) grad_range_[i] = {lo, hi};
  }
  // Layers before the first one with trainable weights need no gradient (the input needs none); in a graph,
  // a layer's output needs one when it or a layer it reads from has weights.
  auto trains = [](const Layer& l) {
    for (auto& p : l.params())
      if (p.trainable) return true;
    return false;
  };
  first_weighted_ = 0;
  while (first_weighted_ < layers_.size() && !trains(*layers_[first_weighted_])) ++first_weighted_;
  needs_grad_.assign(layers_.size(), false);
  for (size_t i = 0; i < layers_.size(); ++i) {
    bool any = trains(*layers_[i]);
    for (int k : inputs_[i]) any = any || (k >= 0 && needs_grad_[size_t(k)]);
    needs_grad_[i] = any;
  }
  std::vector<bool> written(layers_.size(), false);
  writes_grad_.assign(layers_.size(), {});
  for (size_t k = 0; k < layers_.size(); ++k) {  // backward's order
    const size_t i = layers_.size() - 1 - k;
    for (int s : inputs_[i]) {
      const bool first = s >= 0 && needs_grad_[size_t(s)] && !written[size_t(s)];
      writes_grad_[i].push_back(first);
      if (first) written[size_t(s)] = true;
    }
  }
}

void Sequential::wire_masks() {
  auto who = [](const Layer& l) { return "layer '" + l.name() + "' (" + l.class_name() + ")"; };
  std::vector<const Layer*> out(layers_.size(), nullptr);  // whose mask each layer's output carries
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = *layers_[i];
    if (auto* merge = dynamic_cast<MergeLayer*>(&l)) {  // several inputs: the layer says what it makes of their masks
      std::vector<const Layer*> sources;
      for (int k : inputs_[i]) sources.push_back(k < 0 ? nullptr : out[size_t(k)]);
      out[i] = merge->wire_input_masks(sources, name_);
      continue;
    }
    const Layer* in = inputs_[i][0] < 0 ? nullptr : out[size_t(inputs_[i][0])];
    l.set_mask_source(nullptr);
    const Layer* mine = nullptr;
    if (in) {
      const MaskUse use = l.mask_use();
      DPT_CHECK(use != MaskUse::refuses, "model '" << name_ << "': the mask of " << who(*in) << " reaches " << who(l)
                                                   << ", which " << l.mask_refusal());
      if (use == MaskUse::reads || use == MaskUse::reads_keeps) {
        const Shape steps(l.input_shape().begin(), l.input_shape().end() - 1);
        DPT_CHECK(steps == in->mask_shape(), "model '" << name_ << "': the mask of " << who(*in) << ", of shape "
                                                       << shape_str(in->mask_shape()) << " a sample, reaches " << who(l)
                                                       << ", whose input " << shape_str(l.input_shape())
                                                       << " has steps " << shape_str(steps));
        l.set_mask_source(in);
      }
      if (use == MaskUse::keeps || use == MaskUse::reads_keeps) mine = in;
      if (use == MaskUse::drops && !quiet_)
        std::fprintf(stderr,
                     "dptrain: warning: the mask of %s reaches %s, which does not support masking: as in Keras 3, "
                     "the mask ends there and later layers read every step (tf-keras refuses such a model)\n",
                     who(*in).c_str(), who(l).c_str());
    }
    if (l.makes_mask()) mine = &l;
    out[i] = mine;
  }
  // At the output, Keras leaves the masked steps out of the loss and the metrics: a row of the
  // output a step (core/layer.h's output steps), counted on the host from the model's input.
  output_mask_ = -1;
  if (const Layer* m = out.back()) {
    const Shape& o = output_shape();
    const Shape steps(o.begin(), o.end() - 1);
    DPT_CHECK(steps == m->mask_shape(), "model '" << name_ << "': the mask of " << who(*m) << ", of shape "
                                                  << shape_str(m->mask_shape())
                                                  << " a sample, reaches the model's output " << shape_str(o)
                                                  << ", whose steps " << shape_str(steps)
                                                  << " it cannot weigh; end the model with a layer that reads the "
                                                     "mask (a recurrent layer without return_sequences, "
                                                     "GlobalAveragePooling1D)");
    for (size_t i = 0; i < layers_.size(); ++i)
      if (layers_[i].get() == m) output_mask_ = int(i);
    DPT_CHECK(inputs_[size_t(output_mask_)] == std::vector<int>{-1} && input_shapes_.size() == 1,
              "model '" << name_ << "': the mask of " << who(*m)
                        << " reaches the model's output, where Keras leaves the masked steps out of the loss; "
                           "dptrain counts those steps from the model's input, so the layer making the mask must "
                           "read the input (of a model of one input)");
  }
}

std::unique_ptr<Sequential> Sequential::clone() const {
  auto m = std::make_unique<Sequential>(name_);
  m->quiet_ = true;
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto c = layers_[i]->clone();
    c->set_name(layers_[i]->name());
    m->add(std::move(c), inputs_[i]);
  }
  if (built()) {
    m->build_inputs(input_shapes_, 0, input_names_);
    m->copy_params_from(*this);
  }
  return m;
}

void Sequential::copy_params_from(const Sequential& other, kernels::CudaResources* r) {
  DPT_CHECK(other.num_params() == num_params() && other.num_trainable() == num_trainable(),
            "models '" << name_ << "' and '" << other.name_ << "' have different parameter layouts");
  copy_floats(params(), device(), other.params(), other.device(), num_params(), r);
}

std::vector<int64_t> Sequential::trainable_sizes() const {
  std::vector<std::pair<int64_t, int64_t>> at;  // (offset, size)
  for (const auto& ref : weights_)
    if (ref.spec.trainable) at.push_back({ref.offset, shape_numel(ref.spec.shape)});
  std::sort(at.begin(), at.end());
  std::vector<int64_t> sizes;
  int64_t next = 0;
  for (auto& [off, n] : at) {
    DPT_CHECK(off == next,
              "the trainable weights do not tile the gradient arena (at " << off << ", " << next << " expected)");
    sizes.push_back(n);
    next += n;
  }
  return sizes;
}

void Sequential::zero_grads(kernels::CudaResources* r) { zero_floats(grads(), device(), num_trainable(), r); }

void Sequential::to_device(Device device) {
  DPT_CHECK(built() && max_batch_ == 0, "model '" << name_ << "' moves to a device after build, before prepare");
  if (device.same_memory(this->device())) return;  // CPU replicas share host memory
  Tensor params(params_.shape(), device), grads(grads_.shape(), device);
  copy_floats(params.data(), device, params_.data(), params_.device(), params_.numel());
  for (auto& ref : weights_) {
    ref.data = params.data() + ref.offset;
    if (ref.grad) ref.grad = grads.data() + ref.offset;
  }
  bind_layers();
  params_ = std::move(params);
  grads_ = std::move(grads);
}

void Sequential::prepare(int64_t max_batch, Context* ctx_in) {
  DPT_CHECK(built(), "model '" << name_ << "' must be built before use");
  DPT_CHECK(max_batch >= 1, "batch size must be >= 1, got " << max_batch);
  if (max_batch <= max_batch_) return;
  Context cpu;
  Context& ctx = ctx_in ? *ctx_in : cpu;
  const Device dev = device();
  DPT_CHECK(ctx.device.same_memory(dev), "model '" << name_ << "' lives on " << dev.str() << " but is prepared for "
                                                   << ctx.device.str());
  max_batch_ = 0;  // until every buffer exists (an out-of-memory error leaves it unprepared)
  outputs_.clear();
  input_bufs_.clear();
  if (input_shapes_.size() > 1)
    for (const Shape& in : input_shapes_) {
      Shape s = in;
      s.insert_front(max_batch);
      input_bufs_.emplace_back(s, dev);
    }
  node_grad_.clear();
  share_.clear();
  const bool chain = is_chain();
  int64_t biggest = shape_numel(input_shape_), work = 0;
  size_t most_inputs = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = *layers_[i];
    Shape s = l.output_shape();
    s.insert_front(max_batch);
    outputs_.emplace_back(s, dev);
    if (!chain) node_grad_.emplace_back(needs_grad_[i] || i + 1 == layers_.size() ? s : Shape{0}, dev);
    biggest = std::max(biggest, shape_numel(l.output_shape()));
    most_inputs = std::max(most_inputs, inputs_[i].size());
    bool dx = i > first_weighted_;  // backward passes the first weighted layer no dx
    if (!chain) {
      dx = false;
      for (int k : inputs_[i]) dx = dx || (k >= 0 && needs_grad_[size_t(k)]);
    }
    l.set_input_grad_needed(dx);
    l.prepare(max_batch, ctx);
    work = std::max(work, l.workspace_elems(max_batch));
  }
  if (chain) {
    grad_buf_[0] = Tensor({max_batch * biggest}, dev);
    grad_buf_[1] = Tensor({max_batch * biggest}, dev);
  } else {
    for (size_t k = 0; k < most_inputs; ++k) share_.emplace_back(Shape{max_batch * biggest}, dev);
  }
  work_ = Tensor({std::max<int64_t>(work, 1)}, dev);
  for (auto& l : layers_) l->set_workspace(work_.data(), work_.numel());
  activity_.clear();
  activity_of_.assign(layers_.size(), -1);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const auto& r = layers_[i]->activity_regularizer();
    if (!r || !r->active()) continue;
    const size_t bytes =
        size_t(kernels::activity_chunks(max_batch * shape_numel(layers_[i]->output_shape()))) * sizeof(double);
    activity_of_[i] = int(activity_.size());
    activity_.push_back({i, float(r->l1), float(r->l2), Buffer(dev, bytes),
                         dev.is_cpu() ? Buffer() : Buffer(Device::cpu(), bytes, true), 0});
  }
  max_batch_ = max_batch;
}

bool Sequential::has_activity_regularizers() const {
  for (const auto& l : layers_)
    if (l->activity_regularizer() && l->activity_regularizer()->active()) return true;
  return false;
}

void Sequential::activity_forward(Context& ctx, size_t i, const Tensor& out) {
  if (activity_of_.empty() || activity_of_[i] < 0) return;
  Activity& a = activity_[size_t(activity_of_[i])];
  a.chunks = kernels::activity_chunks(out.numel());
  auto* partial = static_cast<double*>(a.partial.data());
  if (ctx.device.is_cpu()) {
    kernels::activity_cpu(out.data(), out.numel(), a.l1, a.l2, 0.f, nullptr, partial);
    return;
  }
  kernels::activity_cuda(out.data(), out.numel(), a.l1, a.l2, 0.f, nullptr, partial,
                         kernels::cuda_stream_of(*ctx.cuda));
  kernels::cuda_copy(a.host.data(), partial, size_t(a.chunks) * sizeof(double), ctx.cuda);
}

void Sequential::activity_backward(Context& ctx, size_t i, const Tensor& out, Tensor& dy) {
  if (activity_scale_ == 0.f || activity_of_.empty() || activity_of_[i] < 0) return;
  const Activity& a = activity_[size_t(activity_of_[i])];
  if (ctx.device.is_cpu())
    kernels::activity_cpu(out.data(), out.numel(), a.l1, a.l2, activity_scale_, dy.data(), nullptr);
  else
    kernels::activity_cuda(out.data(), out.numel(), a.l1, a.l2, activity_scale_, dy.data(), nullptr,
                           kernels::cuda_stream_of(*ctx.cuda));
}

double Sequential::activity_penalty() const {
  double sum = 0;  // layer order, chunk order: the same bits every run
  for (const Activity& a : activity_) {
    const auto* p = static_cast<const double*>(a.host.data() ? a.host.data() : a.partial.data());
    for (int64_t c = 0; c < a.chunks; ++c) sum += p[c];
  }
  return sum;
}

static Tensor with_batch(const Tensor& buf, int64_t n, const Shape& sample) {
  Shape s = sample;
  s.insert_front(n);
  return Tensor::view(buf.data(), s, buf.device());
}

Tensor Sequential::forward(Context& ctx, const Tensor& x, bool training) {
  const int64_t n = x.dim(0);
  DPT_CHECK(n <= max_batch_, "batch of " << n << " rows exceeds the prepared " << max_batch_);
  DPT_CHECK(x.rank() == input_shape_.size() + 1 && std::equal(input_shape_.begin(), input_shape_.end(), x.shape().begin() + 1),
            "model '" << name_ << "' expects input of shape (batch, " << shape_str(input_shape_).substr(1)
                      << " but the data has shape " << shape_str(x.shape()));
  last_n_ = n;
  // Several inputs: each one's columns of the rows, copied out for the layers reading it.
  const int64_t packed = shape_numel(input_shape_);
  for (size_t k = 0; k < input_bufs_.size(); ++k) {
    const int64_t w = shape_numel(input_shapes_[k]);
    if (ctx.device.is_cpu())
      kernels::copy_columns_cpu(x.data(), packed, input_offsets_[k], input_bufs_[k].data(), w, 0, n, w);
    else
      kernels::copy_columns_cuda(x.data(), packed, input_offsets_[k], input_bufs_[k].data(), w, 0, n, w,
                                 kernels::cuda_stream_of(*ctx.cuda));
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    Tensor out = outputs_[i].rows(0, n);
    if (auto* m = dynamic_cast<MergeLayer*>(layers_[i].get())) {
      views_.clear();
      for (int k : inputs_[i]) views_.push_back(k < 0 ? model_input(k, x, n) : outputs_[size_t(k)].rows(0, n));
      m->forward_all(ctx, views_, out, training);
      activity_forward(ctx, i, out);
      continue;
    }
    const int k = inputs_[i][0];
    Tensor in = k < 0 ? model_input(k, x, n) : outputs_[size_t(k)].rows(0, n);
    layers_[i]->forward(ctx, in, out, training);
    activity_forward(ctx, i, out);
  }
  return outputs_.back().rows(0, n);
}

Tensor Sequential::model_input(int k, const Tensor& x, int64_t n) const {
  if (input_bufs_.empty()) return x.view();
  return input_bufs_[size_t(-1 - k)].rows(0, n);
}

Tensor Sequential::output_of(size_t i) const {
  DPT_CHECK(i < outputs_.size(), "model '" << name_ << "' has " << layers_.size() << " layers, not " << i + 1
                                           << " (or was not prepared)");
  return outputs_[i].rows(0, last_n_);
}

Tensor Sequential::output_grad(int64_t n) {
  const size_t L = layers_.size();
  if (!node_grad_.empty()) return node_grad_[L - 1].rows(0, n);
  return with_batch(grad_buf_[0], n, layers_[L - 1]->output_shape());
}

// A graph's backward: layers in reverse order, each output's gradient summed over its readers (the
// first writes it, each later one adds its share), the gradient ranges reported as layers finish.
void Sequential::backward_graph(Context& ctx, const Tensor& x, GradReadyHook* hook) {
  const int64_t n = last_n_;
  const size_t L = layers_.size();
  for (size_t k = 0; k < L; ++k) {
    const size_t i = L - 1 - k;
    Layer& l = *layers_[i];
    if (needs_grad_[i]) {
      Tensor dy = node_grad_[i].rows(0, n);
      Tensor out = outputs_[i].rows(0, n);
      activity_backward(ctx, i, out, dy);
      const std::vector<int>& reads = inputs_[i];
      views_.clear();
      dx_views_.clear();
      dx_ptrs_.clear();
      for (size_t j = 0; j < reads.size(); ++j) {
        const int s = reads[j];
        views_.push_back(s < 0 ? model_input(s, x, n) : outputs_[size_t(s)].rows(0, n));
        if (s < 0 || !needs_grad_[size_t(s)]) {
          dx_views_.emplace_back();
          continue;
        }
        // The first gradient for an output is written in place; later ones (another reader's, or this
        // layer's for the same input again, as Add(x, x)) go through scratch and are added.
        if (writes_grad_[i][j]) {
          dx_views_.push_back(node_grad_[size_t(s)].rows(0, n));
        } else {
          Shape sh = layers_[size_t(s)]->output_shape();
          sh.insert_front(n);
          dx_views_.push_back(Tensor::view(share_[j].data(), sh, share_[j].device()));
        }
      }
      for (size_t j = 0; j < reads.size(); ++j)
        dx_ptrs_.push_back(reads[j] >= 0 && needs_grad_[size_t(reads[j])] ? &dx_views_[j] : nullptr);
      if (auto* m = dynamic_cast<MergeLayer*>(&l))
        m->backward_all(ctx, views_, out, dy, dx_ptrs_);
      else
        l.backward(ctx, views_[0], out, dy, dx_ptrs_[0]);
      for (size_t j = 0; j < reads.size(); ++j) {
        if (!dx_ptrs_[j] || writes_grad_[i][j]) continue;
        float* into = node_grad_[size_t(reads[j])].data();
        if (ctx.device.is_cpu())
          kernels::add_into_cpu(into, dx_views_[j].data(), dx_views_[j].numel());
        else
          kernels::add_into_cuda(into, dx_views_[j].data(), dx_views_[j].numel(), kernels::cuda_stream_of(*ctx.cuda));
      }
    }
    if (hook && grad_range_[i].second > grad_range_[i].first) hook->ready(grad_range_[i].first, grad_range_[i].second);
  }
}

void Sequential::backward(Context& ctx, const Tensor& x, GradReadyHook* hook) {
  if (!node_grad_.empty()) {
    backward_graph(ctx, x, hook);
    return;
  }
  const int64_t n = last_n_;
  const size_t L = layers_.size();
  const size_t first = first_weighted_;
  for (size_t k = 0; k + first < L; ++k) {
    const size_t i = L - 1 - k;
    Tensor dy = with_batch(grad_buf_[k % 2], n, layers_[i]->output_shape());
    Tensor in = i == 0 ? x.view() : outputs_[i - 1].rows(0, n);
    Tensor out = outputs_[i].rows(0, n);
    activity_backward(ctx, i, out, dy);
    if (i == first) {
      layers_[i]->backward(ctx, in, out, dy, nullptr);
    } else {
      Tensor dx = with_batch(grad_buf_[(k + 1) % 2], n, layers_[i]->input_shape());
      layers_[i]->backward(ctx, in, out, dy, &dx);
    }
    if (hook && grad_range_[i].second > grad_range_[i].first) hook->ready(grad_range_[i].first, grad_range_[i].second);
  }
}

void Sequential::emit_grad_ranges(GradReadyHook* hook) const {
  for (size_t k = 0; k < layers_.size(); ++k) {
    const size_t i = layers_.size() - 1 - k;
    if (grad_range_[i].second > grad_range_[i].first) hook->ready(grad_range_[i].first, grad_range_[i].second);
  }
}

// 35914 -> "35,914", as Keras's summary prints its totals ('{:,}').
static std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string Sequential::summary() const {
  // Keras's table; a graph's has Keras's "Connected to" column and its InputLayer row.
  const bool graph = !is_chain();
  const int width = graph ? 98 : 65;
  std::ostringstream os;
  auto line = [&](char c) { os << std::string(size_t(width), c) << "\n"; };
  auto cell = [&](const std::string& text, size_t w) {
    const std::string t = text.size() > w - 1 ? text.substr(0, w - 1) : text;
    os << t << std::string(w - t.size(), ' ');
  };
  auto row = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d) {
    cell(a, 29);
    cell(b, 26);
    if (!graph) {
      os << c << "\n";
      return;
    }
    cell(c, 12);
    os << d << "\n";
  };
  auto shape_of = [](const Shape& s) {
    return s.size() == 1 ? "(None, " + std::to_string(s[0]) + ")" : "(None, " + shape_str(s).substr(1);
  };
  auto source = [&](int k) { return (k < 0 ? input_names_[size_t(-1 - k)] : layers_[size_t(k)]->name()) + "[0][0]"; };
  os << "Model: \"" << name_ << "\"\n";
  line('_');
  row(" Layer (type)", "Output Shape", "Param #", "Connected to");
  line('=');
  for (size_t k = 0; graph && k < input_shapes_.size(); ++k) {
    row(" " + input_names_[k] + " (InputLayer)", shape_of(input_shapes_[k]), "0", "[]");
    os << "\n";
  }
  int64_t total = 0, trainable = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = *layers_[i];
    int64_t count = 0;
    for (auto& p : l.params()) {
      count += shape_numel(p.shape);
      if (p.trainable) trainable += shape_numel(p.shape);
    }
    total += count;
    const std::vector<int>& reads = inputs_.empty() ? std::vector<int>{int(i) - 1} : inputs_[i];
    row(" " + l.name() + " (" + l.class_name() + ")", shape_of(l.output_shape()), std::to_string(count),
        graph ? "[" + source(reads[0]) + (reads.size() > 1 ? "," : "]") : "");
    for (size_t k = 1; graph && k < reads.size(); ++k)
      row("", "", "", " " + source(reads[k]) + (k + 1 < reads.size() ? "," : "]"));
    if (i + 1 < layers_.size()) os << "\n";
  }
  line('=');
  os << "Total params: " << with_commas(total) << "\nTrainable params: " << with_commas(trainable)
     << "\nNon-trainable params: " << with_commas(total - trainable) << "\n";
  line('_');
  return os.str();
}

}  // namespace dpt
