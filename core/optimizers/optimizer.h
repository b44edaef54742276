// Optimizers with Keras's names, defaults and update formulas (kernels/optimizer_math.h), applied
// to a whole gradient arena at once. Slots (momenta etc.) are arenas of the same layout.
#pragma once
#include <memory>
#include <string>
#include <vector>
#include "core/context.h"
#include "core/tensor.h"

namespace dpt {

struct OptimizerConfig {
  std::string name = "adam";  // sgd | rmsprop | adam
  double learning_rate = -1;  // < 0: Keras's default for the optimizer
  double momentum = -1;       // < 0: default (SGD 0, RMSprop 0)
  bool nesterov = false;      // SGD
  double rho = 0.9;           // RMSprop
  bool centered = false;      // RMSprop
  double beta_1 = 0.9, beta_2 = 0.999;  // Adam
  bool amsgrad = false;       // Adam
  double epsilon = 1e-7;      // RMSprop, Adam
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string class_name() const = 0;  // "SGD", "RMSprop", "Adam"
  virtual std::unique_ptr<Optimizer> clone() const = 0;
  // Allocates slots for n trainable elements on the device.
  void build(int64_t n, Device device);
  // One update of w (n elements) from g; iterations advances by one.
  void apply(Context& ctx, float* w, const float* g);
  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr) { lr_ = lr; }
  int64_t iterations() const { return iterations_; }
  void set_iterations(int64_t n) { iterations_ = n; }
  // Slots and iterations from another optimizer of the same class and size (resume, replicas).
  void copy_state_from(const Optimizer& other);
  // Keras's config: {"learning_rate": ..., "beta_1": ...} (for training_config / optimizer_config).
  virtual std::vector<std::pair<std::string, double>> config() const = 0;
  // Slots by Keras 3's name ("momentum", "velocity", ...), for checkpoints.
  std::vector<std::pair<std::string, Tensor*>> slots();
  size_t num_slots() const { return slot_names().size(); }  // per weight, built or not
  std::string describe() const;
  Device device() const { return device_; }

 protected:
  virtual std::vector<std::string> slot_names() const = 0;
  virtual void update_cpu(float* w, const float* g, std::vector<float*>& s, int64_t n) = 0;
  // The same formulas as kernels on the replica's stream (kernels/optimizer_cuda.cu).
  virtual void update_cuda(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) = 0;
  virtual std::string params_str() const = 0;
  double lr_ = 0.001;
  int64_t iterations_ = 0;
  int64_t n_ = 0;
  Device device_;
  std::vector<Tensor> slots_;
  std::vector<float*> slot_ptrs_;  // set by build(), so apply() never allocates
  bool built_ = false;
};

class SGD : public Optimizer {
 public:
  explicit SGD(double lr = 0.01, double momentum = 0.0, bool nesterov = false);
  std::string class_name() const override { return "SGD"; }
  std::unique_ptr<Optimizer> clone() const override;
  std::vector<std::pair<std::string, double>> config() const override {
    return {{"learning_rate", lr_}, {"momentum", momentum_}, {"nesterov", nesterov_ ? 1.0 : 0.0}};
  }

 protected:
  std::vector<std::string> slot_names() const override;
  void update_cpu(float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  void update_cuda(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
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
  std::unique_ptr<Optimizer> clone() const override;
  std::vector<std::pair<std::string, double>> config() const override {
    return {{"learning_rate", lr_}, {"rho", rho_}, {"momentum", momentum_}, {"epsilon", epsilon_}, {"centered", centered_ ? 1.0 : 0.0}};
  }

 protected:
  std::vector<std::string> slot_names() const override;
  void update_cpu(float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  void update_cuda(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
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
  std::unique_ptr<Optimizer> clone() const override;
  std::vector<std::pair<std::string, double>> config() const override {
    return {{"learning_rate", lr_}, {"beta_1", b1_}, {"beta_2", b2_}, {"epsilon", epsilon_}, {"amsgrad", amsgrad_ ? 1.0 : 0.0}};
  }

 protected:
  std::vector<std::string> slot_names() const override;
  void update_cpu(float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  void update_cuda(void* stream, float* w, const float* g, std::vector<float*>& s, int64_t n) override;
  std::string params_str() const override;

 private:
  double b1_, b2_, epsilon_;
  bool amsgrad_;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& cfg);

}  // namespace dpt
