// Optimizers: Keras defaults, slot management, dispatch to the flat update kernels.
#include "core/optimizers/optimizer.h"
#include <algorithm>
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

void Optimizer::build(int64_t n, Device device) {
  n_ = n;
  device_ = device;
  slots_.clear();
  slot_ptrs_.clear();
  for (size_t i = 0; i < slot_names().size(); ++i) {
    slots_.emplace_back(Shape{n}, device);
    slot_ptrs_.push_back(slots_.back().data());
  }
  built_ = true;
}

void Optimizer::apply(Context& ctx, float* w, const float* g) {
  DPT_CHECK(built_, class_name() << " used before build()");
  DPT_CHECK(ctx.device.same_memory(device_), class_name() << " state lives on " << device_.str()
                                                          << " but the replica runs on " << ctx.device.str());
  ++iterations_;
  if (ctx.device.is_cuda())
    update_cuda(kernels::cuda_stream_of(*ctx.cuda), w, g, slot_ptrs_, n_);
  else
    update_cpu(w, g, slot_ptrs_, n_);
}

void Optimizer::copy_state_from(const Optimizer& other) {
  DPT_CHECK(other.class_name() == class_name() && other.slots_.size() == slots_.size() && other.n_ == n_,
            "cannot take the state of " << other.describe() << " into " << describe());
  for (size_t i = 0; i < slots_.size(); ++i)
    copy_floats(slots_[i].data(), device_, other.slots_[i].data(), other.device_, n_);
  iterations_ = other.iterations_;
}

std::vector<std::pair<std::string, Tensor*>> Optimizer::slots() {
  std::vector<std::pair<std::string, Tensor*>> r;
  auto names = slot_names();
  for (size_t i = 0; i < slots_.size(); ++i) r.push_back({names[i], &slots_[i]});
  return r;
}

std::string Optimizer::describe() const {
  std::ostringstream os;
  os << class_name() << "(learning_rate=" << lr_ << params_str() << ")";
  return os.str();
}

// ---- SGD ----
SGD::SGD(double lr, double momentum, bool nesterov) : momentum_(momentum), nesterov_(nesterov) {
  lr_ = lr;
  DPT_CHECK(momentum >= 0 && momentum <= 1, "SGD momentum must be in [0, 1], got " << momentum);
}
std::unique_ptr<Optimizer> SGD::clone() const { return std::make_unique<SGD>(lr_, momentum_, nesterov_); }
std::vector<std::string> SGD::slot_names() const {
  return momentum_ > 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
}
void SGD::update_cpu(float* w, const float* g, std::vector<float*>& s, int64_t n) {
  kernels::sgd_update_cpu<float>(w, g, s.empty() ? nullptr : s[0], n, float(lr_), float(momentum_), nesterov_);
}
void SGD::update_cuda(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  kernels::sgd_update_cuda(w, g, s.empty() ? nullptr : s[0], n, float(lr_), float(momentum_), nesterov_, stream);
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
std::unique_ptr<Optimizer> RMSprop::clone() const {
  return std::make_unique<RMSprop>(lr_, rho_, momentum_, epsilon_, centered_);
}
std::vector<std::string> RMSprop::slot_names() const {
  std::vector<std::string> s{"velocity"};
  if (momentum_ > 0) s.push_back("momentum");
  if (centered_) s.push_back("average_gradient");
  return s;
}
void RMSprop::update_cpu(float* w, const float* g, std::vector<float*>& s, int64_t n) {
  float* mom = momentum_ > 0 ? s[1] : nullptr;
  float* mg = centered_ ? s.back() : nullptr;
  kernels::rmsprop_update_cpu<float>(w, g, s[0], mom, mg, n, float(lr_), float(rho_), float(momentum_),
                                     float(epsilon_), centered_);
}
void RMSprop::update_cuda(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  float* mom = momentum_ > 0 ? s[1] : nullptr;
  float* mg = centered_ ? s.back() : nullptr;
  kernels::rmsprop_update_cuda(w, g, s[0], mom, mg, n, float(lr_), float(rho_), float(momentum_), float(epsilon_),
                               centered_, stream);
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
std::unique_ptr<Optimizer> Adam::clone() const { return std::make_unique<Adam>(lr_, b1_, b2_, epsilon_, amsgrad_); }
std::vector<std::string> Adam::slot_names() const {
  std::vector<std::string> s{"momentum", "velocity"};
  if (amsgrad_) s.push_back("velocity_hat");
  return s;
}
void Adam::update_cpu(float* w, const float* g, std::vector<float*>& s, int64_t n) {
  const double alpha = kernels::adam_alpha(lr_, b1_, b2_, iterations_);
  kernels::adam_update_cpu<float>(w, g, s[0], s[1], amsgrad_ ? s[2] : nullptr, n, float(alpha), float(b1_),
                                  float(b2_), float(epsilon_), amsgrad_);
}
void Adam::update_cuda(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) {
  const double alpha = kernels::adam_alpha(lr_, b1_, b2_, iterations_);
  kernels::adam_update_cuda(w, g, s[0], s[1], amsgrad_ ? s[2] : nullptr, n, float(alpha), float(b1_), float(b2_),
                            float(epsilon_), amsgrad_, stream);
}

std::string Adam::params_str() const {
  return ", beta_1=" + num(b1_) + ", beta_2=" + num(b2_) + (amsgrad_ ? ", amsgrad=True" : "");
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& c) {
  const double lr = c.learning_rate;
  DPT_CHECK(lr < 0 || lr > 0, "learning rate must be > 0, got " << lr);
  if (c.name == "sgd") return std::make_unique<SGD>(lr > 0 ? lr : 0.01, c.momentum < 0 ? 0.0 : c.momentum, c.nesterov);
  if (c.name == "rmsprop")
    return std::make_unique<RMSprop>(lr > 0 ? lr : 0.001, c.rho, c.momentum < 0 ? 0.0 : c.momentum, c.epsilon,
                                     c.centered);
  if (c.name == "adam") return std::make_unique<Adam>(lr > 0 ? lr : 0.001, c.beta_1, c.beta_2, c.epsilon, c.amsgrad);
  DPT_FAIL("unknown optimizer '" << c.name << "' (supported: sgd, rmsprop, adam)");
}

}  // namespace dpt
