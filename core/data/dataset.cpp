// Dataset slicing, one-hot expansion, validation and Keras's validation split.
#include "core/data/dataset.h"
#include <algorithm>
#include <cmath>
#include "core/error.h"

namespace dpt {

int64_t Dataset::size() const {
  const int64_t n = sample_numel();
  return n ? int64_t(x.size()) / n : 0;
}

Dataset Dataset::slice(int64_t begin, int64_t end) const {
  Dataset d;
  d.sample_shape = sample_shape;
  d.y_dim = y_dim;
  d.y_is_index = y_is_index;
  d.num_classes = num_classes;
  d.inputs = inputs;
  const int64_t s = sample_numel();
  d.x.assign(x.begin() + begin * s, x.begin() + end * s);
  d.y.assign(y.begin() + begin * y_dim, y.begin() + end * y_dim);
  if (!weight.empty()) d.weight.assign(weight.begin() + begin, weight.begin() + end);
  return d;
}

void Dataset::set_inputs(const std::vector<std::vector<float>>& xs, const std::vector<Shape>& shapes) {
  DPT_CHECK(!xs.empty() && xs.size() == shapes.size(), "set_inputs needs one shape per input");
  if (xs.size() == 1) {
    sample_shape = shapes[0];
    inputs.clear();
    x = xs[0];
    return;
  }
  int64_t width = 0;
  for (const Shape& s : shapes) width += shape_numel(s);
  const int64_t n = int64_t(xs[0].size()) / std::max<int64_t>(shape_numel(shapes[0]), 1);
  for (size_t k = 0; k < xs.size(); ++k)
    DPT_CHECK(int64_t(xs[k].size()) == n * shape_numel(shapes[k]),
              "input " << k << " holds " << int64_t(xs[k].size()) / std::max<int64_t>(shape_numel(shapes[k]), 1)
                       << " samples but input 0 holds " << n << ": every input needs one row a sample");
  sample_shape = {width};
  inputs = shapes;
  x.assign(size_t(n * width), 0.f);
  int64_t off = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const int64_t w = shape_numel(shapes[k]);
    for (int64_t i = 0; i < n; ++i)
      std::copy(xs[k].begin() + i * w, xs[k].begin() + (i + 1) * w, x.begin() + i * width + off);
    off += w;
  }
}

void Dataset::to_one_hot() {
  if (!y_is_index) return;
  DPT_CHECK(num_classes >= 1, "cannot one-hot encode labels: the number of classes is unknown");
  std::vector<float> oh(size_t(size() * num_classes), 0.f);
  for (int64_t i = 0; i < size(); ++i) oh[size_t(i * num_classes + int64_t(y[size_t(i)]))] = 1.f;
  y.swap(oh);
  y_dim = num_classes;
  y_is_index = false;
}

void Dataset::validate(const std::string& what) const {
  const int64_t s = sample_numel();
  DPT_CHECK(s > 0, what << ": samples have an empty shape " << shape_str(sample_shape));
  DPT_CHECK(int64_t(x.size()) % s == 0, what << ": data size " << x.size() << " is not a multiple of the sample size " << s);
  DPT_CHECK(size() > 0, what << ": no samples");
  if (!weight.empty()) {
    DPT_CHECK(int64_t(weight.size()) == size(),
              what << ": " << size() << " samples but " << weight.size() << " sample weights");
    for (size_t i = 0; i < weight.size(); ++i)
      DPT_CHECK(std::isfinite(weight[i]) && weight[i] >= 0, what << ": the weight of sample " << i << " is "
                                                                 << weight[i]
                                                                 << "; sample weights must be finite and >= 0");
  }
  if (!has_labels()) return;  // samples only (predict)
  DPT_CHECK(int64_t(y.size()) == size() * y_dim,
            what << ": " << size() << " samples but " << y.size() / std::max<int64_t>(y_dim, 1) << " labels");
  for (size_t i = 0; i < x.size(); ++i)
    DPT_CHECK(std::isfinite(x[i]), what << ": sample " << i / size_t(s) << " holds a NaN or Inf value");
  if (y_is_index) {
    for (size_t i = 0; i < y.size(); ++i) {
      const float v = y[i];
      DPT_CHECK(v >= 0 && v == std::floor(v) && (num_classes == 0 || v < num_classes),
                what << ": label " << v << " of sample " << i << " is outside the " << num_classes
                     << " classes [0, " << num_classes - 1 << "]");
    }
  }
}

void split_validation(Dataset& data, double fraction, Dataset* val) {
  DPT_CHECK(fraction >= 0 && fraction < 1, "validation split must be in [0, 1), got " << fraction);
  const int64_t n = data.size();
  const int64_t split_at = int64_t(double(n) * (1.0 - fraction));  // Keras: int(len(x) * (1 - split))
  DPT_CHECK(split_at >= 1, "validation split " << fraction << " leaves no training samples out of " << n);
  if (val) *val = data.slice(split_at, n);
  data = data.slice(0, split_at);
}

}  // namespace dpt
