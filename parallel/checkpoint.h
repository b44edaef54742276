// Checkpoints: DIR/ckpt_{epoch:04d}.h5 every N epochs (and DIR/ckpt_{epoch:04d}_step{step:06d}.h5
// when a run is stopped mid-epoch), each a full-model file written atomically, the oldest removed
// beyond --keep; and the newest complete checkpoint of a folder, to resume from.
#pragma once
#include <optional>
#include <string>
#include <vector>
#include "core/callbacks/callback.h"
#include "core/io/keras_model.h"
#include "parallel/trainer.h"

namespace dpt {

class Checkpointer : public Callback {
 public:
  // every: epochs between checkpoints (0: only on demand); keep: how many to keep (0: all).
  Checkpointer(Trainer& trainer, Sequential& model, std::string dir, int64_t every, int64_t keep, TrainingState base);
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  // Writes the checkpoint for `epochs` completed epochs and `step` steps into the next; returns its path.
  std::string save(int64_t epochs, int64_t step);
  // Callbacks whose state each checkpoint keeps (those with a state_key), for --resume.
  void keep_state_of(std::vector<Callback*> callbacks) { stateful_ = std::move(callbacks); }

 private:
  void prune() const;
  Trainer& trainer_;
  Sequential& model_;
  std::string dir_;
  int64_t every_, keep_;
  TrainingState base_;
  std::vector<Callback*> stateful_;
};

struct CheckpointFile {
  std::string path;
  TrainingState state;
};
// The checkpoint with the most progress in dir (files that do not read as checkpoints are skipped).
std::optional<CheckpointFile> newest_checkpoint(const std::string& dir);

}  // namespace dpt
