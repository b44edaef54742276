// TimeDistributed: the wrapped layer over (samples x steps) rows, on whichever device it runs.
#include "core/layers/time_distributed.h"
#include "core/error.h"
#include "core/layers/merge.h"

namespace dpt {

TimeDistributed::TimeDistributed(std::unique_ptr<Layer> layer) : inner_(std::move(layer)) {
  DPT_CHECK(inner_, "TimeDistributed needs a layer to wrap");
  DPT_CHECK(dynamic_cast<const MergeLayer*>(inner_.get()) == nullptr,
            "TimeDistributed wraps a layer of one input; " << inner_->class_name() << " merges several");
}

std::unique_ptr<Layer> TimeDistributed::make_clone() const {
  auto inner = inner_->clone();
  inner->set_name(inner_->name());
  return std::make_unique<TimeDistributed>(std::move(inner));
}

std::string TimeDistributed::config_str() const { return inner_->class_name() + "(" + inner_->config_str() + ")"; }

Shape TimeDistributed::compute_output_shape(const Shape& in) {
  DPT_CHECK(in.size() >= 2,
            "TimeDistributed expects inputs of shape (steps, ...) with at least one axis after the "
            "steps, got "
                << shape_str(in));
  Shape step;
  for (size_t a = 1; a < in.size(); ++a) step.push_back(in[a]);
  Shape out = inner_->build(step);
  out.insert_front(in[0]);
  return out;
}

std::vector<Layer::WeightOptions> TimeDistributed::param_options() const { return inner_->param_options(); }

std::vector<Layer::Refusal> TimeDistributed::training_refusals() const {
  std::vector<Refusal> out = Layer::training_refusals();
  for (const Refusal& r : inner_->training_refusals()) out.push_back(r);
  return out;
}

std::vector<ParamSpec> TimeDistributed::params() const {
  std::vector<ParamSpec> out = inner_->params();
  for (ParamSpec& p : out) {  // tf-keras leaves the wrapped layer out of the names; Keras 3 keeps it
    p.keras3_path = inner_->name() + (p.keras3_path.empty() ? "" : "/" + p.keras3_path);
    p.keras3_group = "layer" + (p.keras3_group.empty() ? "" : "/" + p.keras3_group);
  }
  return out;
}

void TimeDistributed::bind(std::vector<float*> weights, std::vector<float*> grads) {
  inner_->bind(weights, grads);
  Layer::bind(std::move(weights), std::move(grads));
}

void TimeDistributed::name_sublayers(const std::function<std::string(const std::string&)>& next_name) {
  inner_->name_sublayers(next_name);
  if (inner_->name().empty()) inner_->set_name(next_name(inner_->default_name()));
}

void TimeDistributed::prepare(int64_t max_batch, Context& ctx) {
  inner_->set_input_grad_needed(input_grad_needed_);
  Context c = per_step(ctx);
  inner_->prepare(max_batch * in_[0], c);
}

int64_t TimeDistributed::workspace_elems(int64_t batch) const { return inner_->workspace_elems(batch * in_[0]); }

Context TimeDistributed::per_step(const Context& ctx) const {
  Context c = ctx;
  c.key.row_offset = ctx.key.row_offset * in_[0];  // row r is step r % steps of sample r / steps
  return c;
}

Tensor TimeDistributed::steps_as_rows(const Tensor& t, const Shape& inner) const {
  Shape s = inner;
  s.insert_front(t.dim(0) * in_[0]);
  return Tensor::view(t.data(), s, t.device());
}

void TimeDistributed::run_forward(Context& ctx, const Tensor& x, Tensor& y, bool training) {
  Context c = per_step(ctx);
  inner_->set_workspace(work_, work_elems_);
  Tensor xs = steps_as_rows(x, inner_->input_shape()), ys = steps_as_rows(y, inner_->output_shape());
  inner_->forward(c, xs, ys, training);
}

void TimeDistributed::run_backward(Context& ctx, const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  Context c = per_step(ctx);
  inner_->set_workspace(work_, work_elems_);
  const Tensor xs = steps_as_rows(x, inner_->input_shape()), ys = steps_as_rows(y, inner_->output_shape());
  Tensor dys = steps_as_rows(dy, inner_->output_shape());
  if (!dx) {
    inner_->backward(c, xs, ys, dys, nullptr);
    return;
  }
  Tensor dxs = steps_as_rows(*dx, inner_->input_shape());
  inner_->backward(c, xs, ys, dys, &dxs);
}

}  // namespace dpt
