// Device: where one replica computes. {cpu, 0} or {cuda, ordinal among the visible GPUs}.
#pragma once
#include <string>

namespace dpt {

enum class DeviceKind { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu(int index = 0) { return {DeviceKind::cpu, index}; }
  static Device cuda(int index) { return {DeviceKind::cuda, index}; }
  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool is_cuda() const { return kind == DeviceKind::cuda; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  // CPU replicas all share host memory; a GPU's memory is its own.
  bool same_memory(const Device& o) const { return kind == o.kind && (is_cpu() || index == o.index); }
  std::string str() const { return (is_cpu() ? "cpu:" : "cuda:") + std::to_string(index); }
};

}  // namespace dpt
