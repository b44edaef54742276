// Keras's learning-rate schedules, computed as keras/src/optimizers/schedules computes them: in the
// dtype of initial_learning_rate (float32), step by step in Keras's order, so that a schedule gives
// Keras's rate (the restarts' floor of a logarithm included) and not a float64 neighbour of it.
#include "core/optimizers/schedule.h"
#include <algorithm>
#include <cmath>
#include <sstream>
#include "core/error.h"

namespace dpt {

const char* const kScheduleClasses =
    "ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts";

bool is_schedule_class(const std::string& c) {
  return c == "ExponentialDecay" || c == "PiecewiseConstantDecay" || c == "PolynomialDecay" ||
         c == "InverseTimeDecay" || c == "CosineDecay" || c == "CosineDecayRestarts";
}

std::string LearningRateSchedule::default_name() const {
  if (class_name == "PiecewiseConstantDecay") return "PiecewiseConstant";
  if (class_name == "CosineDecayRestarts") return "SGDRDecay";
  return class_name;
}

namespace {

float cosine_decayed(float completed, float alpha_one_minus, float alpha) {  // CosineDecay's _decay_function
  const float pi = float(M_PI);
  const float c = 0.5f * (1.0f + std::cos(pi * completed));
  return alpha_one_minus * c + alpha;
}

}  // namespace

double LearningRateSchedule::operator()(int64_t step) const {
  const float lr0 = float(initial_learning_rate);
  const float s = float(step);
  const float steps = float(decay_steps);
  if (class_name == "ExponentialDecay") {
    float p = s / steps;
    if (staircase) p = std::floor(p);
    return lr0 * std::pow(float(decay_rate), p);
  }
  if (class_name == "InverseTimeDecay") {
    float p = s / steps;
    if (staircase) p = std::floor(p);
    return lr0 / (1.0f + float(decay_rate) * p);
  }
  if (class_name == "PiecewiseConstantDecay") {  // the boundaries cast to the step's integer type
    size_t i = 0;
    while (i < boundaries.size() && step > int64_t(boundaries[i])) ++i;
    return float(values[i]);
  }
  if (class_name == "PolynomialDecay") {
    const float end = float(end_learning_rate);
    float at = s, over = steps;
    if (cycle)
      over = steps * (s == 0 ? 1.0f : std::ceil(s / float(decay_steps)));
    else
      at = std::min(s, steps);
    const float p = at / over;
    return (lr0 - end) * std::pow(1 - p, float(power)) + end;
  }
  if (class_name == "CosineDecay") {
    // (1 - alpha) and alpha are Python numbers there, each cast once to float32.
    const float one_minus = float(1 - alpha), a = float(alpha);
    if (!warmup_target) return lr0 * cosine_decayed(std::min(s, steps) / steps, one_minus, a);
    const float target = float(*warmup_target), warm = float(warmup_steps);
    const float at = std::min(s, steps + warm);
    if (at < warm) return (target - lr0) * (at / warm) + lr0;
    return target * cosine_decayed((at - warm) / steps, one_minus, a);
  }
  if (class_name == "CosineDecayRestarts") {
    const float a = float(alpha), t = float(t_mul), m = float(m_mul);
    float completed = s / steps, restart = 0;
    if (t == 1.0f) {
      restart = std::floor(completed);
      completed -= restart;
    } else {
      restart = std::floor(std::log(1.0f - completed * (1.0f - t)) / std::log(t));
      const float sum_r = (1.0f - std::pow(t, restart)) / (1.0f - t);
      completed = (completed - sum_r) / std::pow(t, restart);
    }
    const float m_fac = std::pow(m, restart);
    const float c = 0.5f * m_fac * (1.0f + std::cos(float(M_PI) * completed));
    return lr0 * ((1 - a) * c + a);
  }
  DPT_FAIL("unknown learning-rate schedule '" << class_name << "' (Keras's: " << kScheduleClasses << ")");
}

void LearningRateSchedule::check() const {
  DPT_CHECK(is_schedule_class(class_name),
            "unknown learning-rate schedule '" << class_name << "' (Keras's: " << kScheduleClasses << ")");
  const bool restarts = class_name == "CosineDecayRestarts";
  if (class_name == "PiecewiseConstantDecay") {
    DPT_CHECK(boundaries.size() + 1 == values.size(),
              "The length of boundaries should be 1 less than the length of values (PiecewiseConstantDecay, as in "
              "Keras); got "
                  << boundaries.size() << " boundaries and " << values.size() << " values");
    for (double v : values)
      DPT_CHECK(std::isfinite(v) && v > 0, "PiecewiseConstantDecay's values must be learning rates > 0, got " << v);
    for (double b : boundaries) DPT_CHECK(std::isfinite(b), "PiecewiseConstantDecay's boundaries must be numbers");
    return;
  }
  const char* steps_name = restarts ? "first_decay_steps" : "decay_steps";
  DPT_CHECK(std::isfinite(decay_steps) && decay_steps > 0, "Argument `" << steps_name << "` must be > 0 (" << class_name
                                                                        << ", as in Keras). Received: " << steps_name
                                                                        << "=" << decay_steps);
  DPT_CHECK(std::isfinite(initial_learning_rate) && initial_learning_rate > 0,
            class_name << "'s initial_learning_rate must be > 0, got " << initial_learning_rate);
  auto at_least = [&](double v, double lo, const char* what) {
    DPT_CHECK(std::isfinite(v) && v >= lo, class_name << "'s " << what << " must be >= " << lo << ", got " << v);
  };
  if (class_name == "ExponentialDecay" || class_name == "InverseTimeDecay") at_least(decay_rate, 0, "decay_rate");
  if (class_name == "PolynomialDecay") {
    at_least(end_learning_rate, 0, "end_learning_rate");
    at_least(power, 0, "power");
  }
  if (class_name == "CosineDecay" || restarts) at_least(alpha, 0, "alpha");
  if (class_name == "CosineDecay" && warmup_target) {
    DPT_CHECK(std::isfinite(*warmup_target) && *warmup_target > 0,
              "CosineDecay's warmup_target must be > 0 or None, got " << *warmup_target);
    DPT_CHECK(std::isfinite(warmup_steps) && warmup_steps > 0,
              "CosineDecay's warmup_steps must be > 0 with a warmup_target, got " << warmup_steps);
  }
  if (restarts) {
    DPT_CHECK(std::isfinite(t_mul) && t_mul > 0, "CosineDecayRestarts's t_mul must be > 0, got " << t_mul);
    at_least(m_mul, 0, "m_mul");
  }
}

std::string LearningRateSchedule::describe() const {
  std::ostringstream os;
  auto list = [&](const std::vector<double>& v) {
    os << "[";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    os << "]";
  };
  auto flag = [](bool b) { return b ? "True" : "False"; };
  os << class_name << "(";
  if (class_name == "PiecewiseConstantDecay") {
    os << "boundaries=";
    list(boundaries);
    os << ", values=";
    list(values);
  } else {
    os << "initial_learning_rate=" << initial_learning_rate << ", "
       << (class_name == "CosineDecayRestarts" ? "first_decay_steps=" : "decay_steps=") << decay_steps;
    if (class_name == "ExponentialDecay" || class_name == "InverseTimeDecay")
      os << ", decay_rate=" << decay_rate << ", staircase=" << flag(staircase);
    if (class_name == "PolynomialDecay")
      os << ", end_learning_rate=" << end_learning_rate << ", power=" << power << ", cycle=" << flag(cycle);
    if (class_name == "CosineDecay") {
      os << ", alpha=" << alpha;
      if (warmup_target) os << ", warmup_target=" << *warmup_target << ", warmup_steps=" << warmup_steps;
    }
    if (class_name == "CosineDecayRestarts") os << ", t_mul=" << t_mul << ", m_mul=" << m_mul << ", alpha=" << alpha;
  }
  if (!name.empty() && name != default_name()) os << ", name='" << name << "'";
  os << ")";
  return os.str();
}

}  // namespace dpt
