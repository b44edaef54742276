// Optimizers: Keras defaults, slot management, dispatch to the flat update kernels.
#include "core/optimizers/optimizer.h"
#include <algorithm>
#include <cmath>
#include <sstream>
#include "core/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/optimizer.h"

namespace dpt {

namespace {
std::string num(double v) {  // 0.9, 0.001, 1e-07: as Python prints them
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

const char* const kOptimizerNames = "sgd, rmsprop, adam, adamw, adagrad, adamax, nadam, adadelta, lion";

std::unique_ptr<Optimizer> Optimizer::clone() const {
  auto o = make_copy();
  o->common_ = common_;
  o->schedule_ = schedule_;
  return o;
}

void Optimizer::set_learning_rate(double lr) {
  DPT_CHECK(!schedule_, "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` ("
                            << schedule_->describe()
                            << "), hence its learning rate is not settable (as in Keras). For a settable learning "
                               "rate, give a constant one (--lr X or --lr-decay none)");
  lr_ = lr;
}

void Optimizer::set_schedule(const LearningRateSchedule& s) {
  s.check();
  schedule_ = s;
  lr_ = s(iterations_);
}

void Optimizer::set_common(const OptimizerCommon& c) {
  const std::pair<const char*, double> all[] = {{"weight_decay", c.weight_decay},
                                                {"clipnorm", c.clipnorm},
                                                {"clipvalue", c.clipvalue},
                                                {"global_clipnorm", c.global_clipnorm}};
  for (auto& [name, v] : all)
    DPT_CHECK(std::isfinite(v) && v >= 0, class_name() << " " << name << " must be >= 0, got " << v);
  const int clips = (c.clipnorm > 0) + (c.clipvalue > 0) + (c.global_clipnorm > 0);
  DPT_CHECK(clips <= 1, "only one of clipnorm, clipvalue and global_clipnorm can be set (as in Keras); got clipnorm="
                            << c.clipnorm << ", clipvalue=" << c.clipvalue
                            << ", global_clipnorm=" << c.global_clipnorm);
  DPT_CHECK(c.gradient_accumulation_steps == 0 || c.gradient_accumulation_steps >= 2,
            "gradient_accumulation_steps must be an integer >= 2 (as in Keras), got " << c.gradient_accumulation_steps);
  DPT_CHECK(c.ema_momentum >= 0 && c.ema_momentum <= 1,
            "ema_momentum must be in the range [0, 1] (as in Keras), got " << c.ema_momentum);
  DPT_CHECK(c.ema_overwrite_frequency >= 0,
            "ema_overwrite_frequency must be an integer >= 1 (as in Keras), got " << c.ema_overwrite_frequency);
  DPT_CHECK(!built_, class_name() << ": its settings are set before build()");
  common_ = c;
}

void Optimizer::build(int64_t n, Device device, const std::vector<int64_t>& weight_sizes) {
  n_ = n;
  device_ = device;
  slots_.clear();
  slot_ptrs_.clear();
  for (size_t i = 0; i < slot_names().size(); ++i) {
    slots_.emplace_back(Shape{n}, device);
    slot_ptrs_.push_back(slots_.back().data());
    if (const float v = slot_initial_value(i); v != 0.f) {  // Adagrad's initial accumulator
      std::vector<float> init(size_t(n), v);
      copy_floats(slots_.back().data(), device, init.data(), Device::cpu(), n);
    }
  }
  accum_ = accumulates() ? Tensor(Shape{n}, device) : Tensor();
  accum_ptr_ = {accum_.data()};
  ema_ = common_.use_ema ? Tensor(Shape{n}, device) : Tensor();
  ema_ptr_ = {ema_.data()};
  const std::vector<int64_t> sizes = weight_sizes.empty() ? std::vector<int64_t>{n} : weight_sizes;
  int64_t total = 0;
  for (int64_t k : sizes) total += k;
  DPT_CHECK(total == n, class_name() << ": the weights' sizes add up to " << total << ", not " << n);
  const kernels::ClipPlan& plan = clip_plan_host_ = kernels::make_clip_plan(sizes);
  clip_partial_.assign(size_t(plan.chunks()), 0.0);
  if (device.is_cuda()) {  // the tables once, and the clip kernels' scratch
    std::vector<int64_t> tables = plan.begin;
    tables.insert(tables.end(), plan.seg.begin(), plan.seg.end());
    tables.insert(tables.end(), plan.first.begin(), plan.first.end());
    clip_plan_ = Buffer(device, tables.size() * sizeof(int64_t));
    kernels::cuda_copy(clip_plan_.data(), tables.data(), tables.size() * sizeof(int64_t), nullptr);
    clip_scratch_ = Buffer(device, size_t(plan.chunks()) * sizeof(double) + 2 * size_t(plan.weights()) * sizeof(float));
  }
  built_ = true;
}

void Optimizer::clip(Context& ctx, float* g) {
  using kernels::ClipMode;
  const ClipMode mode = common_.clipnorm > 0          ? ClipMode::norm
                        : common_.global_clipnorm > 0 ? ClipMode::global_norm
                        : common_.clipvalue > 0       ? ClipMode::value
                                                      : ClipMode::none;
  if (mode == ClipMode::none) return;
  const float c = float(mode == ClipMode::norm          ? common_.clipnorm
                        : mode == ClipMode::global_norm ? common_.global_clipnorm
                                                        : common_.clipvalue);
  if (ctx.device.is_cuda())
    kernels::clip_cuda(static_cast<const int64_t*>(clip_plan_.data()), clip_plan_host_.chunks(),
                       clip_plan_host_.weights(), mode, c, g, clip_scratch_.data(), kernels::cuda_stream_of(*ctx.cuda));
  else
    kernels::clip_cpu(clip_plan_host_, mode, c, g, clip_partial_.data());
}

template <class Step>
void Optimizer::run_step(void* stream, const Step& step, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  if (stream)
    kernels::update_cuda(step, w, g, s.data(), n, stream);
  else
    kernels::update_cpu(step, w, g, s.data(), n);
}

void Optimizer::apply(Context& ctx, float* w, float* g) {
  DPT_CHECK(built_, class_name() << " used before build()");
  DPT_CHECK(ctx.device.same_memory(device_),
            class_name() << " state lives on " << device_.str() << " but the replica runs on " << ctx.device.str());
  void* stream = ctx.device.is_cuda() ? kernels::cuda_stream_of(*ctx.cuda) : nullptr;
  const int64_t before = updates();  // Keras's `iterations` during this call
  if (schedule_) {                   // Keras: the schedule at _iterations, every step counted
    lr_ = (*schedule_)(iterations_);
    DPT_CHECK(std::isfinite(lr_), "the learning-rate schedule " << schedule_->describe() << " gives "
                                                                << (std::isnan(lr_) ? std::fabs(lr_) : lr_)
                                                                << " at step " << iterations_);
  }
  bool step = true;
  if (accumulates()) {  // Keras's order: accumulate, or update from the average of the N steps
    step = (iterations_ + 1) % common_.gradient_accumulation_steps == 0;
    if (step)
      run_step(stream, kernels::AverageStep{float(common_.gradient_accumulation_steps)}, g, g, accum_ptr_, n_);
    else
      run_step(stream, kernels::AccumulateStep{}, accum_.data(), g, slot_ptrs_, n_);
  }
  if (step) {
    clip(ctx, g);
    if (common_.weight_decay > 0)  // before the step, at the step's learning rate
      run_step(stream, kernels::DecayStep{float(common_.weight_decay), float(lr_)}, w, g, slot_ptrs_, n_);
  }
  ++iterations_;
  if (step) update(stream, w, g, slot_ptrs_, n_);
  if (common_.use_ema) {  // after every call, as Keras's; the average starts as the weights
    const float momentum = before != 0 ? float(common_.ema_momentum) : 0.f;
    run_step(stream, kernels::EmaStep{momentum}, w, g, ema_ptr_, n_);
    const int64_t every = common_.ema_overwrite_frequency;
    if (every > 0 && (before + 1) % every == 0) run_step(stream, kernels::OverwriteStep{}, w, g, ema_ptr_, n_);
  }
}

void Optimizer::finalize(Context& ctx, float* w) {
  if (!common_.use_ema) return;
  DPT_CHECK(built_, class_name() << " used before build()");
  void* stream = ctx.device.is_cuda() ? kernels::cuda_stream_of(*ctx.cuda) : nullptr;
  run_step(stream, kernels::OverwriteStep{}, w, w, ema_ptr_, n_);
}

void Optimizer::copy_state_from(const Optimizer& other) {
  DPT_CHECK(other.class_name() == class_name() && other.slots_.size() == slots_.size() && other.n_ == n_,
            "cannot take the state of " << other.describe() << " into " << describe());
  DPT_CHECK(
      other.accum_.numel() == accum_.numel() && other.ema_.numel() == ema_.numel(),
      "cannot take the state of " << other.describe() << " into " << describe() << " (gradient accumulation, use_ema)");
  for (size_t i = 0; i < slots_.size(); ++i)
    copy_floats(slots_[i].data(), device_, other.slots_[i].data(), other.device_, n_);
  if (accumulates()) copy_floats(accum_.data(), device_, other.accum_.data(), other.device_, n_);
  if (common_.use_ema) copy_floats(ema_.data(), device_, other.ema_.data(), other.device_, n_);
  iterations_ = other.iterations_;
}

std::vector<std::pair<std::string, double>> Optimizer::config() const {
  auto c = class_config();
  if (common_.weight_decay > 0 || default_weight_decay()) c.push_back({"weight_decay", common_.weight_decay});
  if (common_.clipnorm > 0) c.push_back({"clipnorm", common_.clipnorm});
  if (common_.clipvalue > 0) c.push_back({"clipvalue", common_.clipvalue});
  if (common_.global_clipnorm > 0) c.push_back({"global_clipnorm", common_.global_clipnorm});
  if (accumulates()) c.push_back({"gradient_accumulation_steps", double(common_.gradient_accumulation_steps)});
  if (common_.use_ema) {
    c.push_back({"use_ema", 1.0});
    c.push_back({"ema_momentum", common_.ema_momentum});
    if (common_.ema_overwrite_frequency > 0)
      c.push_back({"ema_overwrite_frequency", double(common_.ema_overwrite_frequency)});
  }
  return c;
}

std::vector<std::vector<size_t>> Optimizer::own_slot_groups() const {
  std::vector<std::vector<size_t>> g;
  for (size_t s = 0; s < slot_names().size(); ++s) g.push_back({s});
  return g;
}

std::vector<std::vector<size_t>> Optimizer::slot_groups() const {
  std::vector<std::vector<size_t>> g;  // the averages, then the accumulators, built first
  for (size_t s = 0; s < base_slots(); ++s) g.push_back({s});
  for (auto group : own_slot_groups()) {
    for (size_t& s : group) s += base_slots();
    g.push_back(group);
  }
  return g;
}

std::vector<std::pair<std::string, Tensor*>> Optimizer::slots() {
  std::vector<std::pair<std::string, Tensor*>> r;
  if (common_.use_ema && built_) r.push_back({"average", &ema_});
  if (accumulates() && built_) r.push_back({"gradient_accumulator", &accum_});
  auto names = slot_names();
  for (size_t i = 0; i < slots_.size(); ++i) r.push_back({names[i], &slots_[i]});
  return r;
}

std::string Optimizer::describe() const {
  std::ostringstream os;
  os << class_name() << "(learning_rate=";
  if (schedule_)
    os << schedule_->describe();
  else
    os << lr_;
  if (common_.weight_decay > 0 || default_weight_decay()) os << ", weight_decay=" << common_.weight_decay;
  os << params_str();
  if (common_.clipnorm > 0) os << ", clipnorm=" << common_.clipnorm;
  if (common_.clipvalue > 0) os << ", clipvalue=" << common_.clipvalue;
  if (common_.global_clipnorm > 0) os << ", global_clipnorm=" << common_.global_clipnorm;
  if (accumulates()) os << ", gradient_accumulation_steps=" << common_.gradient_accumulation_steps;
  if (common_.use_ema) os << ", use_ema=True, ema_momentum=" << common_.ema_momentum;
  if (common_.ema_overwrite_frequency > 0) os << ", ema_overwrite_frequency=" << common_.ema_overwrite_frequency;
  os << ")";
  return os.str();
}

// ---- SGD ----
SGD::SGD(double lr, double momentum, bool nesterov) : momentum_(momentum), nesterov_(nesterov) {
  lr_ = lr;
  DPT_CHECK(momentum >= 0 && momentum <= 1, "SGD momentum must be in [0, 1], got " << momentum);
}
std::unique_ptr<Optimizer> SGD::make_copy() const { return std::make_unique<SGD>(lr_, momentum_, nesterov_); }
std::vector<std::string> SGD::slot_names() const {
  return momentum_ > 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
}
void SGD::update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  float* v = s.empty() ? nullptr : s[0];
  if (stream)
    kernels::sgd_update_cuda(w, g, v, n, float(lr_), float(momentum_), nesterov_, stream);
  else
    kernels::sgd_update_cpu<float>(w, g, v, n, float(lr_), float(momentum_), nesterov_);
}

std::string SGD::params_str() const {
  return ", momentum=" + num(momentum_) + (nesterov_ ? ", nesterov=True" : "");
}

// ---- RMSprop ----
RMSprop::RMSprop(double lr, double rho, double momentum, double epsilon, bool centered)
    : rho_(rho), momentum_(momentum), epsilon_(epsilon), centered_(centered) {
  lr_ = lr;
  DPT_CHECK(rho >= 0 && rho < 1, "RMSprop rho must be in [0, 1), got " << rho);
  DPT_CHECK(momentum >= 0 && momentum <= 1, "RMSprop momentum must be in [0, 1], got " << momentum);
}
std::unique_ptr<Optimizer> RMSprop::make_copy() const {
  return std::make_unique<RMSprop>(lr_, rho_, momentum_, epsilon_, centered_);
}
std::vector<std::string> RMSprop::slot_names() const {
  std::vector<std::string> s{"velocity"};
  if (momentum_ > 0) s.push_back("momentum");
  if (centered_) s.push_back("average_gradient");
  return s;
}
void RMSprop::update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  float* mom = momentum_ > 0 ? s[1] : nullptr;
  float* mg = centered_ ? s.back() : nullptr;
  if (stream)
    kernels::rmsprop_update_cuda(w, g, s[0], mom, mg, n, float(lr_), float(rho_), float(momentum_), float(epsilon_),
                                 centered_, stream);
  else
    kernels::rmsprop_update_cpu<float>(w, g, s[0], mom, mg, n, float(lr_), float(rho_), float(momentum_),
                                       float(epsilon_), centered_);
}

std::string RMSprop::params_str() const {
  return ", rho=" + num(rho_) + ", momentum=" + num(momentum_) +
         (centered_ ? ", centered=True" : "");
}

// ---- Adam ----
Adam::Adam(double lr, double b1, double b2, double epsilon, bool amsgrad)
    : b1_(b1), b2_(b2), epsilon_(epsilon), amsgrad_(amsgrad) {
  lr_ = lr;
  DPT_CHECK(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1, "Adam beta_1 and beta_2 must be in [0, 1)");
}
std::unique_ptr<Optimizer> Adam::make_copy() const { return std::make_unique<Adam>(lr_, b1_, b2_, epsilon_, amsgrad_); }
std::vector<std::vector<size_t>> Adam::own_slot_groups() const {  // momentum and velocity, then velocity_hat
  return amsgrad_ ? std::vector<std::vector<size_t>>{{0, 1}, {2}} : std::vector<std::vector<size_t>>{{0, 1}};
}
std::vector<std::string> Adam::slot_names() const {
  std::vector<std::string> s{"momentum", "velocity"};
  if (amsgrad_) s.push_back("velocity_hat");
  return s;
}
void Adam::update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  const float alpha = float(kernels::adam_alpha(lr_, b1_, b2_, updates()));
  float* vhat = amsgrad_ ? s[2] : nullptr;
  if (stream)
    kernels::adam_update_cuda(w, g, s[0], s[1], vhat, n, alpha, float(b1_), float(b2_), float(epsilon_), amsgrad_,
                              stream);
  else
    kernels::adam_update_cpu<float>(w, g, s[0], s[1], vhat, n, alpha, float(b1_), float(b2_), float(epsilon_),
                                    amsgrad_);
}

std::string Adam::params_str() const {
  return ", beta_1=" + num(b1_) + ", beta_2=" + num(b2_) + (amsgrad_ ? ", amsgrad=True" : "");
}

// ---- AdamW ----
std::unique_ptr<Optimizer> AdamW::make_copy() const {
  return std::make_unique<AdamW>(lr_, b1_, b2_, epsilon_, amsgrad_);
}

namespace {
void check_betas(const char* cls, double b1, double b2) {
  DPT_CHECK(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1,
            cls << " beta_1 and beta_2 must be in [0, 1), got " << b1 << " and " << b2);
}
}  // namespace

// ---- Adagrad ----
Adagrad::Adagrad(double lr, double initial_accumulator_value, double epsilon)
    : initial_(initial_accumulator_value), epsilon_(epsilon) {
  lr_ = lr;
  DPT_CHECK(initial_accumulator_value >= 0,
            "Adagrad initial_accumulator_value must be >= 0, got " << initial_accumulator_value);
}
std::unique_ptr<Optimizer> Adagrad::make_copy() const { return std::make_unique<Adagrad>(lr_, initial_, epsilon_); }
void Adagrad::update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  run_step(stream, kernels::AdagradStep{float(lr_), float(epsilon_)}, w, g, s, n);
}
std::string Adagrad::params_str() const {
  return ", initial_accumulator_value=" + num(initial_) + ", epsilon=" + num(epsilon_);
}

// ---- Adamax ----
Adamax::Adamax(double lr, double b1, double b2, double epsilon) : b1_(b1), b2_(b2), epsilon_(epsilon) {
  lr_ = lr;
  check_betas("Adamax", b1, b2);
}
std::unique_ptr<Optimizer> Adamax::make_copy() const { return std::make_unique<Adamax>(lr_, b1_, b2_, epsilon_); }
kernels::AdamaxStep Adamax::step() const {                            // at iteration t (already advanced)
  const float bias = 1.f - std::pow(float(b1_), float(updates()));    // Keras: 1 - b1^t in float32
  return {float(lr_), float(b1_), float(b2_), float(epsilon_), bias};
}
void Adamax::update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  run_step(stream, step(), w, g, s, n);
}
std::string Adamax::params_str() const { return ", beta_1=" + num(b1_) + ", beta_2=" + num(b2_); }

// ---- Nadam ----
Nadam::Nadam(double lr, double b1, double b2, double epsilon) : b1_(b1), b2_(b2), epsilon_(epsilon) {
  lr_ = lr;
  check_betas("Nadam", b1, b2);
}
std::unique_ptr<Optimizer> Nadam::make_copy() const { return std::make_unique<Nadam>(lr_, b1_, b2_, epsilon_); }
double Nadam::u_product(int64_t t) const {
  if (t < product_at_) {  // a state set back (loaded): from the start
    product_at_ = 0;
    product_ = 1.0;
  }
  for (; product_at_ < t; ++product_at_) product_ *= kernels::nadam_u(b1_, product_at_ + 1);
  return product_;
}
kernels::NadamStep Nadam::step() {  // at iteration t (already advanced), as Keras's update_step
  const int64_t t = updates();
  const double u_t = kernels::nadam_u(b1_, t), u_next = kernels::nadam_u(b1_, t + 1);
  const double p_t = u_product(t), p_next = p_t * u_next;
  kernels::NadamStep st{float(lr_),       float(b1_),       float(b2_),
                        float(epsilon_),  float(u_next),    float(1.0 - p_next),
                        float(1.0 - u_t), float(1.0 - p_t), float(1.0 - std::pow(b2_, double(t)))};
  return st;
}
void Nadam::update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  run_step(stream, step(), w, g, s, n);
}
std::string Nadam::params_str() const { return ", beta_1=" + num(b1_) + ", beta_2=" + num(b2_); }

// ---- Adadelta ----
Adadelta::Adadelta(double lr, double rho, double epsilon) : rho_(rho), epsilon_(epsilon) {
  lr_ = lr;
  DPT_CHECK(rho >= 0 && rho < 1, "Adadelta rho must be in [0, 1), got " << rho);
}
std::unique_ptr<Optimizer> Adadelta::make_copy() const { return std::make_unique<Adadelta>(lr_, rho_, epsilon_); }
void Adadelta::update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  run_step(stream, kernels::AdadeltaStep{float(lr_), float(rho_), float(epsilon_)}, w, g, s, n);
}
std::string Adadelta::params_str() const { return ", rho=" + num(rho_) + ", epsilon=" + num(epsilon_); }

// ---- Lion ----
Lion::Lion(double lr, double b1, double b2) : b1_(b1), b2_(b2) {
  lr_ = lr;
  DPT_CHECK(b1 > 0 && b1 <= 1,
            "Lion beta_1 must be in (0, 1] (otherwise it degenerates to SignSGD, as Keras says), got " << b1);
  DPT_CHECK(b2 >= 0 && b2 < 1, "Lion beta_2 must be in [0, 1), got " << b2);
}
std::unique_ptr<Optimizer> Lion::make_copy() const { return std::make_unique<Lion>(lr_, b1_, b2_); }
void Lion::update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  run_step(stream, kernels::LionStep{float(lr_), float(b1_), float(b2_)}, w, g, s, n);
}
std::string Lion::params_str() const { return ", beta_1=" + num(b1_) + ", beta_2=" + num(b2_); }

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& c) {
  const double lr = c.learning_rate;
  DPT_CHECK(lr < 0 || lr > 0, "learning rate must be > 0, got " << lr);
  const double rate = lr > 0 ? lr : c.name == "sgd" ? 0.01 : 0.001;  // Keras's defaults
  const double b2 = c.beta_2 >= 0 ? c.beta_2 : c.name == "lion" ? 0.99 : 0.999;
  const double mom = c.momentum < 0 ? 0.0 : c.momentum;
  std::unique_ptr<Optimizer> o;
  if (c.name == "sgd")
    o = std::make_unique<SGD>(rate, mom, c.nesterov);
  else if (c.name == "rmsprop")
    o = std::make_unique<RMSprop>(rate, c.rho >= 0 ? c.rho : 0.9, mom, c.epsilon, c.centered);
  else if (c.name == "adam")
    o = std::make_unique<Adam>(rate, c.beta_1, b2, c.epsilon, c.amsgrad);
  else if (c.name == "adamw")
    o = std::make_unique<AdamW>(rate, c.beta_1, b2, c.epsilon, c.amsgrad);
  else if (c.name == "adagrad")
    o = std::make_unique<Adagrad>(rate, c.initial_accumulator_value, c.epsilon);
  else if (c.name == "adamax")
    o = std::make_unique<Adamax>(rate, c.beta_1, b2, c.epsilon);
  else if (c.name == "nadam")
    o = std::make_unique<Nadam>(rate, c.beta_1, b2, c.epsilon);
  else if (c.name == "adadelta")
    o = std::make_unique<Adadelta>(rate, c.rho >= 0 ? c.rho : 0.95, c.epsilon);
  else if (c.name == "lion")
    o = std::make_unique<Lion>(rate, c.beta_1, b2);
  else
    DPT_FAIL("unknown optimizer '" << c.name << "' (supported: " << kOptimizerNames << ")");
  OptimizerCommon common;
  common.weight_decay = c.weight_decay >= 0 ? c.weight_decay : c.name == "adamw" ? 0.004 : 0.0;
  common.clipnorm = c.clipnorm;
  common.clipvalue = c.clipvalue;
  common.global_clipnorm = c.global_clipnorm;
  common.gradient_accumulation_steps = c.gradient_accumulation_steps;
  common.use_ema = c.use_ema;
  common.ema_momentum = c.ema_momentum;
  common.ema_overwrite_frequency = c.ema_overwrite_frequency;
  o->set_common(common);
  if (c.schedule) {
    LearningRateSchedule s = *c.schedule;
    if (s.initial_learning_rate < 0) s.initial_learning_rate = rate;
    o->set_schedule(s);
  }
  return o;
}

}  // namespace dpt
