// Keras's learning-rate schedules (keras.optimizers.schedules): an optimizer created with one
// computes its learning rate before every step from its step counter, as Keras 3's optimizer does
// (`self._learning_rate(self._iterations)`: every step counted, those that only accumulate
// gradients too), in float32 and in Keras's order of operations.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dpt {

struct LearningRateSchedule {
  // ExponentialDecay | PiecewiseConstantDecay | PolynomialDecay | InverseTimeDecay | CosineDecay |
  // CosineDecayRestarts
  std::string class_name;
  std::string name;                        // Keras's `name` argument ("" : the class's default)
  double initial_learning_rate = -1;       // < 0: the optimizer's learning rate (set by make_optimizer)
  double decay_steps = 0;                  // CosineDecayRestarts: first_decay_steps
  double decay_rate = 0;                   // ExponentialDecay, InverseTimeDecay
  bool staircase = false;                  // ExponentialDecay, InverseTimeDecay
  double end_learning_rate = 0.0001;       // PolynomialDecay
  double power = 1.0;                      // PolynomialDecay
  bool cycle = false;                      // PolynomialDecay
  double alpha = 0;                        // CosineDecay, CosineDecayRestarts
  std::optional<double> warmup_target;     // CosineDecay (None: no warmup)
  double warmup_steps = 0;                 // CosineDecay
  double t_mul = 2.0, m_mul = 1.0;         // CosineDecayRestarts
  std::vector<double> boundaries, values;  // PiecewiseConstantDecay

  // The learning rate at optimizer step `step` (the steps taken before this one).
  double operator()(int64_t step) const;
  // "ExponentialDecay(initial_learning_rate=0.1, decay_steps=100, decay_rate=0.5, staircase=True)"
  std::string describe() const;
  // Keras's checks (decay_steps > 0, one more value than boundaries) and the arguments' ranges.
  void check() const;
  std::string default_name() const;  // Keras's default `name` for the class
};

// The schedules' class names, for messages: "ExponentialDecay, PiecewiseConstantDecay, ...".
extern const char* const kScheduleClasses;
bool is_schedule_class(const std::string& class_name);

}  // namespace dpt
