// History (the per-epoch logs, as Keras's History.history) and CSVLogger (Keras's columns:
// epoch, then the log names sorted).
#pragma once
#include <cstdio>
#include <map>
#include <string>
#include <vector>
#include "core/callbacks/callback.h"

namespace dpt {

class History : public Callback {
 public:
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  const std::vector<std::string>& keys() const { return keys_; }
  const std::vector<double>& at(const std::string& key) const { return values_.at(key); }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  std::string to_json() const;  // {"loss": [...], "accuracy": [...], ...}
  void save_json(const std::string& path) const;

 private:
  std::vector<std::string> keys_;
  std::map<std::string, std::vector<double>> values_;
};

class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path);  // opens (and truncates) at train begin
  ~CSVLogger() override;
  void on_train_begin(const TrainInfo&) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  void on_train_end() override;

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  std::vector<std::string> columns_;
};

}  // namespace dpt
