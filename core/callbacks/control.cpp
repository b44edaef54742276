// EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, ModelCheckpoint (Keras 3 semantics).
#include "core/callbacks/control.h"
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <regex>
#include <sstream>
#include "core/error.h"

namespace dpt {

MonitorMode monitor_mode_from_name(const std::string& n) {
  if (n == "auto") return MonitorMode::auto_;
  if (n == "min") return MonitorMode::min;
  if (n == "max") return MonitorMode::max;
  DPT_FAIL("unknown mode '" << n << "' (supported: auto, min, max)");
}

Monitor::Monitor(std::string name, MonitorMode mode, double min_delta) : name_(std::move(name)), min_delta_(std::abs(min_delta)) {
  max_ = mode == MonitorMode::max ||
         (mode == MonitorMode::auto_ && (name_.find("acc") != std::string::npos || name_.find("auc") != std::string::npos));
  reset();
}

void Monitor::reset() {
  best = max_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  checked_ = false;
}

void Monitor::check_once(const std::vector<std::string>& available, const char* who) {
  if (!checked_ && !available.empty()) check_name(available, who);
}

void Monitor::check_name(const std::vector<std::string>& available, const char* who) {
  checked_ = true;
  for (auto& a : available)
    if (a == name_) return;
  std::string list;
  for (auto& a : available) list += (list.empty() ? "" : ", ") + a;
  DPT_FAIL(who << " monitors '" << name_ << "', which this run does not log (available: " << list << ")");
}

bool Monitor::improves(double v, double ref) const { return max_ ? v - min_delta_ > ref : v + min_delta_ < ref; }

double Monitor::read(const Logs& logs) const {
  const int i = log_index(logs, name_);
  return i >= 0 && logs.present[size_t(i)] ? logs.values[size_t(i)] : std::nan("");
}

// ---- EarlyStopping ----
EarlyStopping::EarlyStopping(std::string monitor, double min_delta, int64_t patience, MonitorMode mode, bool restore)
    : monitor_(std::move(monitor), mode, min_delta), patience_(patience), restore_(restore) {
  DPT_CHECK(patience >= 0, "EarlyStopping patience must be >= 0, got " << patience);
}

void EarlyStopping::on_train_begin(const TrainInfo& info) {
  info_ = info;
  const double best = monitor_.best;
  monitor_.reset();
  monitor_.check_once(info.log_names, "EarlyStopping");  // before any training
  stopped_epoch_ = 0;
  if (restored_) {  // a resumed run goes on with the checkpoint's counters
    monitor_.best = best;
    restored_ = false;
    return;
  }
  wait_ = best_epoch_ = 0;
  best_weights_.clear();
}

CallbackState EarlyStopping::save_state() const {
  CallbackState s;
  s.numbers = {{"wait", double(wait_)}, {"best", monitor_.best}, {"best_epoch", double(best_epoch_)}};
  if (restore_) s.weights = best_weights_;
  return s;
}

void EarlyStopping::restore_state(const CallbackState& s) {
  wait_ = int64_t(s.get("wait"));
  monitor_.best = s.has("best") ? s.get("best") : monitor_.best;
  best_epoch_ = int64_t(s.get("best_epoch"));
  best_weights_ = restore_ ? s.weights : std::vector<float>{};
  restored_ = true;
}

void EarlyStopping::on_epoch_end(int64_t epoch, const Logs& logs) {
  monitor_.check_once(logs.names, "EarlyStopping");
  const double current = monitor_.read(logs);
  if (std::isnan(current)) return;
  if (restore_ && best_weights_.empty() && info_.context) best_weights_ = info_.context->get_weights();
  ++wait_;
  if (monitor_.improves(current, monitor_.best)) {
    monitor_.best = current;
    best_epoch_ = epoch;
    if (restore_ && info_.context) best_weights_ = info_.context->get_weights();
    wait_ = 0;
    return;
  }
  if (wait_ >= patience_ && epoch > 0) {
    stopped_epoch_ = epoch;
    if (info_.context) {
      info_.context->stop_training();
      if (restore_ && !best_weights_.empty()) info_.context->set_weights(best_weights_);
    }
  }
}

void EarlyStopping::on_train_end() {
  if (stopped_epoch_ > 0 && info_.verbose > 0) {
    std::printf("Epoch %lld: early stopping\n", (long long)stopped_epoch_ + 1);
    if (restore_ && !best_weights_.empty())
      std::printf("Restoring model weights from the end of the best epoch: %lld.\n", (long long)best_epoch_ + 1);
  }
}

// ---- ReduceLROnPlateau ----
ReduceLROnPlateau::ReduceLROnPlateau(std::string monitor, double factor, int64_t patience, MonitorMode mode,
                                     double min_delta, int64_t cooldown, double min_lr)
    : monitor_(std::move(monitor), mode, min_delta), factor_(factor), min_lr_(min_lr), patience_(patience),
      cooldown_(cooldown) {
  DPT_CHECK(factor > 0 && factor < 1, "ReduceLROnPlateau factor must be in (0, 1), got " << factor);
  DPT_CHECK(patience >= 0, "ReduceLROnPlateau patience must be >= 0, got " << patience);
  DPT_CHECK(cooldown >= 0, "ReduceLROnPlateau cooldown must be >= 0, got " << cooldown);
  DPT_CHECK(min_lr >= 0, "ReduceLROnPlateau min_lr must be >= 0, got " << min_lr);
}

void ReduceLROnPlateau::on_train_begin(const TrainInfo& info) {
  info_ = info;
  const double best = monitor_.best;
  monitor_.reset();
  monitor_.check_once(info.log_names, "ReduceLROnPlateau");
  reduced_at_.clear();
  if (restored_) {  // a resumed run goes on with the checkpoint's counters
    monitor_.best = best;
    restored_ = false;
    return;
  }
  wait_ = cooldown_counter_ = 0;
}

CallbackState ReduceLROnPlateau::save_state() const {
  return {{{"wait", double(wait_)}, {"cooldown_counter", double(cooldown_counter_)}, {"best", monitor_.best}}, {}};
}

void ReduceLROnPlateau::restore_state(const CallbackState& s) {
  wait_ = int64_t(s.get("wait"));
  cooldown_counter_ = int64_t(s.get("cooldown_counter"));
  monitor_.best = s.has("best") ? s.get("best") : monitor_.best;
  restored_ = true;
}

void ReduceLROnPlateau::on_epoch_end(int64_t epoch, const Logs& logs) {
  monitor_.check_once(logs.names, "ReduceLROnPlateau");
  const double current = monitor_.read(logs);
  if (std::isnan(current)) return;
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (monitor_.improves(current, monitor_.best)) {
    monitor_.best = current;
    wait_ = 0;
  } else if (cooldown_counter_ == 0) {
    if (++wait_ >= patience_ && info_.context) {
      const double old_lr = info_.context->learning_rate();
      if (float(old_lr) > float(min_lr_)) {  // float32 both sides, as Keras compares them
        const double new_lr = std::max(old_lr * factor_, min_lr_);
        info_.context->set_learning_rate(new_lr);
        reduced_at_.push_back(epoch);
        if (info_.verbose > 0)
          std::printf("Epoch %lld: ReduceLROnPlateau reducing learning rate to %g.\n", (long long)epoch + 1, new_lr);
        cooldown_counter_ = cooldown_;
        wait_ = 0;
      }
    }
  }
}

// ---- LearningRateScheduler ----
LearningRateScheduler::LearningRateScheduler(Schedule schedule) : schedule_(std::move(schedule)) {}

void LearningRateScheduler::on_train_begin(const TrainInfo& info) { info_ = info; }

CallbackState LearningRateScheduler::save_state() const {
  return {{{"initial_learning_rate", base_ ? *base_ : -1.0}}, {}};
}

void LearningRateScheduler::restore_state(const CallbackState& s) {
  if (base_ && s.has("initial_learning_rate")) *base_ = s.get("initial_learning_rate");
}

void LearningRateScheduler::on_epoch_begin(int64_t epoch) {
  if (!info_.context) return;
  const double lr = schedule_(epoch, info_.context->learning_rate());
  DPT_CHECK(std::isfinite(lr) && lr > 0, "the learning-rate schedule gave " << lr << " for epoch " << epoch + 1);
  info_.context->set_learning_rate(lr);
}

std::unique_ptr<LearningRateScheduler> LearningRateScheduler::from_spec(const std::string& spec) {
  std::smatch m;
  auto base = std::make_shared<double>(-1);  // lr0: the learning rate when the schedule first runs
  auto lr0 = [base](double lr) {
    if (*base < 0) *base = lr;
    return *base;
  };
  auto with_base = [&](Schedule f) {
    auto sched = std::make_unique<LearningRateScheduler>(std::move(f));
    sched->base_ = base;
    return sched;
  };
  if (std::regex_match(spec, m, std::regex("step:([0-9]+):([0-9.eE+-]+)"))) {
    const int64_t every = std::stoll(m[1]);
    const double gamma = std::stod(m[2]);
    DPT_CHECK(every >= 1 && gamma > 0, "--lr-schedule " << spec << ": EVERY must be >= 1 and GAMMA > 0");
    return with_base([=](int64_t epoch, double lr) { return lr0(lr) * std::pow(gamma, double(epoch / every)); });
  }
  if (std::regex_match(spec, m, std::regex("exp:([0-9.eE+-]+)"))) {
    const double gamma = std::stod(m[1]);
    DPT_CHECK(gamma > 0, "--lr-schedule " << spec << ": GAMMA must be > 0");
    return with_base([=](int64_t epoch, double lr) { return lr0(lr) * std::pow(gamma, double(epoch)); });
  }
  if (spec == "cosine") {
    auto sched = with_base(nullptr);
    LearningRateScheduler* self = sched.get();
    sched->schedule_ = [=](int64_t epoch, double lr) {
      const double e = double(std::max<int64_t>(self->info_.epochs, 1));
      return std::max(lr0(lr) * 0.5 * (1 + std::cos(M_PI * double(epoch) / e)), lr0(lr) * 1e-6);
    };
    return sched;
  }
  DPT_FAIL("unknown --lr-schedule '" << spec << "' (expected step:EVERY:GAMMA, exp:GAMMA or cosine)");
}

// ---- TerminateOnNaN ----
void TerminateOnNaN::on_batch_end(int64_t step, const Logs& logs) {
  const int i = log_index(logs, "loss");
  if (i < 0 || std::isfinite(logs.values[size_t(i)])) return;
  std::printf("Batch %lld: Invalid loss, terminating training\n", (long long)step);
  terminated_ = true;
  if (info_.context) info_.context->stop_training();
}

// ---- warmup and scaling ----
LearningRateWarmup::LearningRateWarmup(double base_lr, double target_lr, double warmup_epochs)
    : base_(base_lr), target_(target_lr), epochs_(warmup_epochs) {
  DPT_CHECK(warmup_epochs >= 0, "--warmup-epochs must be >= 0, got " << warmup_epochs);
  DPT_CHECK(base_lr > 0 && target_lr > 0, "warmup learning rates must be > 0");
}

void LearningRateWarmup::on_train_begin(const TrainInfo& info) { info_ = info; }

double LearningRateWarmup::lr_at(int64_t t) const {
  const double total = epochs_ * double(std::max<int64_t>(info_.steps_per_epoch, 1));
  if (total <= 0 || double(t) >= total) return target_;
  return base_ + (target_ - base_) * double(t) / total;
}

void LearningRateWarmup::on_batch_begin(int64_t step) {
  const int64_t t = epoch_ * info_.steps_per_epoch + step;
  if (!info_.context || double(t) > epochs_ * double(info_.steps_per_epoch)) return;  // done: leave the rate alone
  info_.context->set_learning_rate(lr_at(t));
}

double scaled_learning_rate(double lr, const std::string& rule, int replicas) {
  if (rule == "none") return lr;
  if (rule == "linear") return lr * replicas;
  if (rule == "sqrt") return lr * std::sqrt(double(replicas));
  DPT_FAIL("unknown --scale-lr '" << rule << "' (supported: linear, sqrt, none)");
}

// ---- ModelCheckpoint ----
std::string format_checkpoint_path(const std::string& pattern, int64_t epoch, const Logs& logs) {
  static const std::regex field("\\{([A-Za-z_][A-Za-z0-9_]*)(:([0-9.]*)([dfeg]))?\\}");
  std::string out;
  auto begin = pattern.cbegin();
  for (std::sregex_iterator it(pattern.begin(), pattern.end(), field), end; it != end; ++it) {
    const std::smatch& m = *it;
    out.append(begin, m[0].first);
    begin = m[0].second;
    const std::string name = m[1];
    double value = 0;
    if (name == "epoch") {
      value = double(epoch + 1);
    } else {
      const int i = log_index(logs, name);
      DPT_CHECK(i >= 0 && logs.present[size_t(i)], "checkpoint path '" << pattern << "' names {" << name
                                                                       << "}, which this run does not log");
      value = logs.values[size_t(i)];
    }
    const std::string spec = m[3], conv = m[4];
    char buf[64];
    if (conv.empty() || conv == "d")
      std::snprintf(buf, sizeof buf, ("%" + spec + "lld").c_str(), (long long)std::llround(value));
    else
      std::snprintf(buf, sizeof buf, ("%" + spec + conv).c_str(), value);
    out += buf;
  }
  out.append(begin, pattern.cend());
  return out;
}

ModelCheckpoint::ModelCheckpoint(std::string filepath, std::string monitor, MonitorMode mode, bool best_only,
                                 bool weights_only)
    : filepath_(std::move(filepath)), monitor_(std::move(monitor), mode, 0), best_only_(best_only),
      weights_only_(weights_only) {}

void ModelCheckpoint::on_train_begin(const TrainInfo& info) {
  info_ = info;
  const double best = monitor_.best;
  monitor_.reset();
  if (best_only_) monitor_.check_once(info.log_names, "ModelCheckpoint");
  if (restored_) monitor_.best = best;  // a resumed run saves only what beats the best before it
  restored_ = false;
}

CallbackState ModelCheckpoint::save_state() const { return {{{"best", monitor_.best}}, {}}; }

void ModelCheckpoint::restore_state(const CallbackState& s) {
  if (s.has("best")) monitor_.best = s.get("best");
  restored_ = true;
}

void ModelCheckpoint::on_epoch_end(int64_t epoch, const Logs& logs) {
  if (best_only_) monitor_.check_once(logs.names, "ModelCheckpoint");
  if (best_only_) {
    const double current = monitor_.read(logs);
    if (std::isnan(current) || !monitor_.improves(current, monitor_.best)) return;
    monitor_.best = current;
  }
  const std::string path = format_checkpoint_path(filepath_, epoch, logs);
  if (info_.context) info_.context->save_template(path, weights_only_);
  saved_.push_back(path);
  if (info_.verbose > 0 && best_only_)
    std::printf("Epoch %lld: %s improved to %.5f, saving model to %s\n", (long long)epoch + 1, monitor_.name().c_str(),
                monitor_.best, path.c_str());
}

}  // namespace dpt
