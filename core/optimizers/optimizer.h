// Optimizers with Keras's names, defaults and update formulas (kernels/optimizer_math.h), applied
// to a whole gradient arena at once. Slots (momenta etc.) are arenas of the same layout.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include "core/context.h"
#include "core/optimizers/schedule.h"
#include "core/tensor.h"
#include "kernels/optimizer.h"

namespace dpt {

// Keras's base-optimizer arguments, which every optimizer takes (0: not set).
struct OptimizerCommon {
  double weight_decay = 0;     // before each step, w -= w * weight_decay * learning_rate
  double clipnorm = 0;         // each weight's gradient scaled to at most this L2 norm
  double clipvalue = 0;        // every gradient element clamped to [-clipvalue, clipvalue]
  double global_clipnorm = 0;  // all gradients together scaled to at most this L2 norm
  // Updates every N-th step, with the N steps' gradients averaged (0: every step; else >= 2).
  int64_t gradient_accumulation_steps = 0;
  // A moving average of the weights (use_ema), which replaces them at the end of fit and, with
  // ema_overwrite_frequency N >= 1, every N steps.
  bool use_ema = false;
  double ema_momentum = 0.99;
  int64_t ema_overwrite_frequency = 0;  // 0: None
};

// The optimizers dptrain has, by their --optimizer names ("sgd, rmsprop, ..."), and each one's
// Keras class name.
extern const char* const kOptimizerNames;
inline constexpr std::pair<const char*, const char*> kOptimizerClasses[] = {
    {"SGD", "sgd"},       {"RMSprop", "rmsprop"}, {"Adam", "adam"},         {"AdamW", "adamw"}, {"Adagrad", "adagrad"},
    {"Adamax", "adamax"}, {"Nadam", "nadam"},     {"Adadelta", "adadelta"}, {"Lion", "lion"}};

struct OptimizerConfig {
  std::string name = "adam";  // sgd | rmsprop | adam | adamw | adagrad | adamax | nadam | adadelta | lion
  double learning_rate = -1;  // < 0: Keras's default for the optimizer
  double momentum = -1;       // < 0: default (SGD 0, RMSprop 0)
  bool nesterov = false;      // SGD
  double rho = -1;            // RMSprop (default 0.9), Adadelta (0.95)
  bool centered = false;      // RMSprop
  double beta_1 = 0.9;        // Adam, AdamW, Adamax, Nadam, Lion
  double beta_2 = -1;         // the same (default 0.999; Lion 0.99)
  bool amsgrad = false;       // Adam, AdamW
  double epsilon = 1e-7;      // all but SGD and Lion
  double initial_accumulator_value = 0.1;                   // Adagrad
  double weight_decay = -1;                                 // < 0: default (AdamW 0.004, the others none)
  double clipnorm = 0, clipvalue = 0, global_clipnorm = 0;  // 0: not set
  int64_t gradient_accumulation_steps = 0;                  // 0: not set
  bool use_ema = false;
  double ema_momentum = 0.99;
  int64_t ema_overwrite_frequency = 0;  // 0: None
  // Keras's learning_rate=<a LearningRateSchedule>: its initial_learning_rate < 0 takes the
  // optimizer's learning rate.
  std::optional<LearningRateSchedule> schedule;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string class_name() const = 0;  // "SGD", "RMSprop", "Adam", ...
  // A fresh optimizer of the same class and settings (no state).
  std::unique_ptr<Optimizer> clone() const;
  // Allocates slots for n trainable elements on the device. weight_sizes: the trainable weights'
  // sizes in arena order (clipnorm clips each weight's gradient; empty: one weight of n).
  void build(int64_t n, Device device, const std::vector<int64_t>& weight_sizes = {});
  // One update of w (n elements) from g; iterations advances by one. Clipping scales g in place.
  void apply(Context& ctx, float* w, float* g);
  // Keras's finalize_variable_values at the end of fit: with use_ema, w takes the moving average.
  void finalize(Context& ctx, float* w);
  bool uses_ema() const { return common_.use_ema; }
  // The rate of the next step: with a schedule, the schedule at iterations() (Keras's
  // optimizer.learning_rate).
  double learning_rate() const { return schedule_ ? (*schedule_)(iterations_) : lr_; }
  // A constant rate; refused, with Keras's message, for an optimizer that follows a schedule.
  void set_learning_rate(double lr);
  // Keras's learning_rate=<a LearningRateSchedule>: the rate of every step is computed from it.
  void set_schedule(const LearningRateSchedule& s);
  const std::optional<LearningRateSchedule>& schedule() const { return schedule_; }
  // Steps taken, counting those that only accumulate (Keras's saved `iteration`).
  int64_t iterations() const { return iterations_; }
  void set_iterations(int64_t n) { iterations_ = n; }
  const OptimizerCommon& common() const { return common_; }
  // Checks them as Keras does (one clipping at most).
  void set_common(const OptimizerCommon& c);
  // Slots and iterations from another optimizer of the same class and size (resume, replicas).
  void copy_state_from(const Optimizer& other);
  // Keras's config: {"learning_rate": ..., "beta_1": ...} (for training_config / optimizer_config),
  // with the base arguments that are set (AdamW's weight_decay always).
  std::vector<std::pair<std::string, double>> config() const;
  // Slots by Keras 3's name ("momentum", "velocity", ...), for checkpoints; first, as Keras 3 builds
  // them, the moving average ("average") with use_ema, and the accumulator ("gradient_accumulator")
  // with gradient accumulation.
  std::vector<std::pair<std::string, Tensor*>> slots();
  size_t num_slots() const { return slot_names().size() + base_slots(); }  // per weight, built or not
  // How Keras 3 groups the slots it creates (one add_optimizer_variables call each): indices into
  // slots(), the slots of a group interleaved per weight in its files.
  std::vector<std::vector<size_t>> slot_groups() const;
  // Scalars Keras 3 keeps beside the slots (Nadam's u_product), by value, for its files.
  virtual std::vector<float> extra_scalars() const { return {}; }
  std::string describe() const;
  Device device() const { return device_; }

 protected:
  virtual std::unique_ptr<Optimizer> make_copy() const = 0;
  virtual std::vector<std::pair<std::string, double>> class_config() const = 0;
  virtual std::vector<std::string> slot_names() const = 0;
  // slot_groups() of the optimizer's own slots (default: one group each).
  virtual std::vector<std::vector<size_t>> own_slot_groups() const;
  virtual float slot_initial_value(size_t) const { return 0.f; }
  bool accumulates() const { return common_.gradient_accumulation_steps >= 2; }
  size_t base_slots() const { return (common_.use_ema ? 1 : 0) + (accumulates() ? 1 : 0); }
  // The updates made so far (iterations_ where every step updates): what Keras's update steps
  // count with (Adam's bias correction, Nadam's schedule).
  int64_t updates() const { return accumulates() ? iterations_ / common_.gradient_accumulation_steps : iterations_; }
  virtual bool default_weight_decay() const { return false; }  // AdamW: write weight_decay always
  // The step (iterations_ already advanced): on the CPU where stream is null, else as kernels on
  // the replica's stream with the same formulas (kernels/optimizer_cuda.cu).
  virtual void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) = 0;
  virtual std::string params_str() const = 0;
  // A step functor (kernels/optimizer_math.h) over the arena on this optimizer's device.
  template <class Step>
  void run_step(void* stream, const Step& step, float* w, const float* g, std::vector<float*>& s, int64_t n);
  double lr_ = 0.001;  // the step's rate (with a schedule, set by apply() before each step)
  int64_t iterations_ = 0;
  int64_t n_ = 0;
  Device device_;
  OptimizerCommon common_;
  std::vector<Tensor> slots_;
  std::vector<float*> slot_ptrs_;  // set by build(), so apply() never allocates
  bool built_ = false;

 private:
  void clip(Context& ctx, float* g);
  std::optional<LearningRateSchedule> schedule_;
  Tensor accum_;                   // gradient accumulation's sums
  std::vector<float*> accum_ptr_;  // {accum_.data()}, the average's slot
  Tensor ema_;                     // use_ema's moving average of the weights
  std::vector<float*> ema_ptr_;    // {ema_.data()}
  kernels::ClipPlan clip_plan_host_;
  std::vector<double> clip_partial_;  // CPU scratch
  Buffer clip_plan_, clip_scratch_;   // GPU: the plan's tables and the kernels' scratch
};

class SGD : public Optimizer {
 public:
  explicit SGD(double lr = 0.01, double momentum = 0.0, bool nesterov = false);
  std::string class_name() const override { return "SGD"; }

 protected:
  std::unique_ptr<Optimizer> make_copy() const override;
  std::vector<std::pair<std::string, double>> class_config() const override {
    return {{"learning_rate", lr_}, {"momentum", momentum_}, {"nesterov", nesterov_ ? 1.0 : 0.0}};
  }
  std::vector<std::string> slot_names() const override;
  void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;

 private:
  double momentum_;
  bool nesterov_;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(double lr = 0.001, double rho = 0.9, double momentum = 0.0, double epsilon = 1e-7,
                   bool centered = false);
  std::string class_name() const override { return "RMSprop"; }

 protected:
  std::unique_ptr<Optimizer> make_copy() const override;
  std::vector<std::pair<std::string, double>> class_config() const override {
    return {{"learning_rate", lr_},
            {"rho", rho_},
            {"momentum", momentum_},
            {"epsilon", epsilon_},
            {"centered", centered_ ? 1.0 : 0.0}};
  }
  std::vector<std::string> slot_names() const override;
  void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;

 private:
  double rho_, momentum_, epsilon_;
  bool centered_;
};

class Adam : public Optimizer {
 public:
  explicit Adam(double lr = 0.001, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7,
                bool amsgrad = false);
  std::string class_name() const override { return "Adam"; }

 protected:
  std::vector<std::vector<size_t>> own_slot_groups() const override;
  std::unique_ptr<Optimizer> make_copy() const override;
  std::vector<std::pair<std::string, double>> class_config() const override {
    return {{"learning_rate", lr_}, {"beta_1", b1_}, {"beta_2", b2_}, {"epsilon", epsilon_}, {"amsgrad", amsgrad_ ? 1.0 : 0.0}};
  }
  std::vector<std::string> slot_names() const override;
  void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;
  double b1_, b2_, epsilon_;
  bool amsgrad_;
};

// Adam with Keras's decoupled weight decay (weight_decay 0.004 unless given).
class AdamW : public Adam {
 public:
  explicit AdamW(double lr = 0.001, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7,
                 bool amsgrad = false)
      : Adam(lr, beta_1, beta_2, epsilon, amsgrad) {}
  std::string class_name() const override { return "AdamW"; }

 protected:
  std::unique_ptr<Optimizer> make_copy() const override;
  bool default_weight_decay() const override { return true; }
};

class Adagrad : public Optimizer {
 public:
  explicit Adagrad(double lr = 0.001, double initial_accumulator_value = 0.1, double epsilon = 1e-7);
  std::string class_name() const override { return "Adagrad"; }

 protected:
  std::unique_ptr<Optimizer> make_copy() const override;
  std::vector<std::pair<std::string, double>> class_config() const override {
    return {{"learning_rate", lr_}, {"initial_accumulator_value", initial_}, {"epsilon", epsilon_}};
  }
  std::vector<std::string> slot_names() const override { return {"accumulator"}; }
  float slot_initial_value(size_t) const override { return float(initial_); }
  void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;

 private:
  double initial_, epsilon_;
};

class Adamax : public Optimizer {
 public:
  explicit Adamax(double lr = 0.001, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7);
  std::string class_name() const override { return "Adamax"; }

 protected:
  std::unique_ptr<Optimizer> make_copy() const override;
  std::vector<std::pair<std::string, double>> class_config() const override {
    return {{"learning_rate", lr_}, {"beta_1", b1_}, {"beta_2", b2_}, {"epsilon", epsilon_}};
  }
  std::vector<std::string> slot_names() const override { return {"momentum", "norm"}; }
  std::vector<std::vector<size_t>> own_slot_groups() const override { return {{0, 1}}; }
  void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;

 private:
  kernels::AdamaxStep step() const;
  double b1_, b2_, epsilon_;
};

// Nadam's momentum schedule product (u_product) follows from the iteration count; dptrain keeps it
// in double and writes it where Keras 3 keeps its variable.
class Nadam : public Optimizer {
 public:
  explicit Nadam(double lr = 0.001, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7);
  std::string class_name() const override { return "Nadam"; }
  std::vector<float> extra_scalars() const override { return {float(u_product(updates()))}; }

 protected:
  std::unique_ptr<Optimizer> make_copy() const override;
  std::vector<std::pair<std::string, double>> class_config() const override {
    return {{"learning_rate", lr_}, {"beta_1", b1_}, {"beta_2", b2_}, {"epsilon", epsilon_}};
  }
  std::vector<std::string> slot_names() const override { return {"momentum", "velocity"}; }
  std::vector<std::vector<size_t>> own_slot_groups() const override { return {{0, 1}}; }
  void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;

 private:
  kernels::NadamStep step();
  double u_product(int64_t t) const;  // u_1 ... u_t
  double b1_, b2_, epsilon_;
  mutable int64_t product_at_ = 0;  // the iteration u_product_ is the product to
  mutable double product_ = 1.0;
};

class Adadelta : public Optimizer {
 public:
  explicit Adadelta(double lr = 0.001, double rho = 0.95, double epsilon = 1e-7);
  std::string class_name() const override { return "Adadelta"; }

 protected:
  std::unique_ptr<Optimizer> make_copy() const override;
  std::vector<std::pair<std::string, double>> class_config() const override {
    return {{"learning_rate", lr_}, {"rho", rho_}, {"epsilon", epsilon_}};
  }
  std::vector<std::string> slot_names() const override { return {"accumulated_grad", "accumulated_delta_var"}; }
  std::vector<std::vector<size_t>> own_slot_groups() const override { return {{0, 1}}; }
  void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;

 private:
  double rho_, epsilon_;
};

class Lion : public Optimizer {
 public:
  explicit Lion(double lr = 0.001, double beta_1 = 0.9, double beta_2 = 0.99);
  std::string class_name() const override { return "Lion"; }

 protected:
  std::unique_ptr<Optimizer> make_copy() const override;
  std::vector<std::pair<std::string, double>> class_config() const override {
    return {{"learning_rate", lr_}, {"beta_1", b1_}, {"beta_2", b2_}};
  }
  std::vector<std::string> slot_names() const override { return {"momentum"}; }
  void update(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;

 private:
  double b1_, b2_;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& cfg);

}  // namespace dpt
