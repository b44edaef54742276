// Checkpoint writing, pruning and discovery.
#include "parallel/checkpoint.h"
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include "core/error.h"

namespace fs = std::filesystem;

namespace dpt {

namespace {
const std::regex kName("ckpt_([0-9]{4,})(_step([0-9]{6,}))?\\.h5");

std::vector<CheckpointFile> list_checkpoints(const std::string& dir) {
  std::vector<CheckpointFile> out;
  if (!fs::is_directory(dir)) return out;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, kName)) continue;
    CheckpointFile c{e.path().string(), {}};
    try {
      if (!read_training_state(c.path, &c.state)) continue;
    } catch (const Error&) {
      continue;  // not a complete checkpoint
    }
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const CheckpointFile& a, const CheckpointFile& b) {
    return std::make_pair(a.state.epoch, a.state.step) < std::make_pair(b.state.epoch, b.state.step);
  });
  return out;
}
}  // namespace

Checkpointer::Checkpointer(Trainer& trainer, Sequential& model, std::string dir, int64_t every, int64_t keep,
                           TrainingState base)
    : trainer_(trainer), model_(model), dir_(std::move(dir)), every_(every), keep_(keep), base_(base) {
  DPT_CHECK(every >= 0 && keep >= 0, "--checkpoint-every and --keep must be >= 0");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  DPT_CHECK(fs::is_directory(dir_), "cannot create checkpoint folder '" << dir_ << "': " << ec.message());
}

void Checkpointer::on_epoch_end(int64_t epoch, const Logs&) {
  if (every_ > 0 && (epoch + 1) % every_ == 0) save(epoch + 1, 0);
}

std::string Checkpointer::save(int64_t epochs, int64_t step) {
  char name[64];
  if (step == 0)
    std::snprintf(name, sizeof name, "ckpt_%04lld.h5", (long long)epochs);
  else
    std::snprintf(name, sizeof name, "ckpt_%04lld_step%06lld.h5", (long long)epochs, (long long)step);
  const std::string path = (fs::path(dir_) / name).string();
  trainer_.sync_template();
  TrainingState st = base_;
  st.epoch = epochs;
  st.step = step;
  for (Callback* cb : stateful_)
    if (!cb->state_key().empty()) st.callbacks.emplace_back(cb->state_key(), cb->save_state());
  save_model(model_, path, trainer_.loss_spec(), trainer_.metric_requests(), &trainer_.optimizer(), &st);
  prune();
  return path;
}

void Checkpointer::prune() const {
  if (keep_ == 0) return;
  auto all = list_checkpoints(dir_);
  for (size_t i = 0; i + size_t(keep_) < all.size(); ++i) fs::remove(all[i].path);
}

std::optional<CheckpointFile> newest_checkpoint(const std::string& dir) {
  auto all = list_checkpoints(dir);
  if (all.empty()) return std::nullopt;
  return all.back();
}

}  // namespace dpt
