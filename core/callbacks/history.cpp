// History and CSVLogger.
#include "core/callbacks/history.h"
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include "core/error.h"

namespace dpt {

void History::on_epoch_end(int64_t, const Logs& logs) {
  for (size_t i = 0; i < logs.names.size(); ++i) {
    if (!logs.present[i]) continue;
    if (!values_.count(logs.names[i])) keys_.push_back(logs.names[i]);
    values_[logs.names[i]].push_back(logs.values[i]);
  }
}

std::string History::to_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (auto& k : keys_) j[k] = values_.at(k);
  return j.dump();
}

void History::save_json(const std::string& path) const {
  std::ofstream f(path);
  DPT_CHECK(f, "cannot write history to '" << path << "': check that the folder exists and is writable");
  f << to_json() << "\n";
  f.close();
  DPT_CHECK(f, "writing history to '" << path << "' failed (disk full?)");
}

CSVLogger::CSVLogger(std::string path) : path_(std::move(path)) {}
CSVLogger::~CSVLogger() { on_train_end(); }

void CSVLogger::on_train_begin(const TrainInfo&) {
  f_ = std::fopen(path_.c_str(), "w");
  DPT_CHECK(f_, "cannot write CSV log to '" << path_ << "': check that the folder exists and is writable");
  columns_.clear();
}

void CSVLogger::on_epoch_end(int64_t epoch, const Logs& logs) {
  if (!f_) return;
  if (columns_.empty()) {
    for (size_t i = 0; i < logs.names.size(); ++i)
      if (logs.present[i]) columns_.push_back(logs.names[i]);
    std::sort(columns_.begin(), columns_.end());
    std::fprintf(f_, "epoch");
    for (auto& c : columns_) std::fprintf(f_, ",%s", c.c_str());
    std::fprintf(f_, "\n");
  }
  std::fprintf(f_, "%lld", (long long)epoch);
  for (auto& c : columns_) {
    auto it = std::find(logs.names.begin(), logs.names.end(), c);
    const size_t i = size_t(it - logs.names.begin());
    if (it != logs.names.end() && logs.present[i])
      std::fprintf(f_, ",%.17g", logs.values[i]);
    else
      std::fprintf(f_, ",");
  }
  std::fprintf(f_, "\n");
  std::fflush(f_);
}

void CSVLogger::on_train_end() {
  if (f_) std::fclose(f_);
  f_ = nullptr;
}

}  // namespace dpt
