// Full-model files and checkpoints: round trips of weights and optimizer state, and resuming (at an
// epoch boundary or mid-epoch after a stop request) gives bit-identical final weights for 1 and 3
// replicas, BatchNormalization and Dropout included.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include "core/callbacks/control.h"
#include "core/data/readers.h"
#include "core/io/hdf5_util.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_config.h"
#include "core/io/keras_model.h"
#include "core/layers/batch_norm.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/pooling.h"
#include "parallel/checkpoint.h"
#include "test_util.h"

using namespace dpt;
using dpt::test::cpus;

namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Every object of the file (root, groups, datasets) with its HDF5 timestamps; dptrain writes none.
struct Stamped {
  int objects = 0;
  std::vector<std::string> timed;
};
herr_t visit_times(hid_t, const char* name, const H5O_info_t* info, void* out) {
  auto* s = static_cast<Stamped*>(out);
  ++s->objects;
  if (info->atime || info->mtime || info->ctime || info->btime) s->timed.push_back(name);
  return 0;
}

}  // namespace

TEST_CASE("save_model -> file -> model: weights, config and optimizer state round trip exactly", "[io][model]") {
  const std::string dir = test::temp_dir("model");
  auto m = test::bn_dropout_net(3);
  Adam opt(0.01, 0.9, 0.999, 1e-7, true);
  Dataset data = make_synthetic({8, 8, 1}, 10, 24, 1);
  Trainer t(*m, cpus(1), LossKind::categorical_crossentropy, opt, 1);
  FitOptions fo;
  fo.batch_size = 8;
  fo.verbose = 0;
  t.fit(data, nullptr, fo, {});
  TrainingState st{1, 0, 42, 8, -1, {}};
  save_model(*m, dir + "/m.h5", LossKind::categorical_crossentropy, {"accuracy"}, &t.optimizer(), &st);
  auto back = load_keras_model(dir + "/m.h5", 9);  // config + weights from the file
  REQUIRE(back->num_params() == m->num_params());
  CHECK(std::memcmp(back->params(), m->params(), sizeof(float) * size_t(m->num_params())) == 0);
  CHECK(back->layers()[1]->name() == "batch_normalization");
  Adam restored(0.01, 0.9, 0.999, 1e-7, true);
  restored.build(m->num_trainable(), Device::cpu());
  load_optimizer_state(dir + "/m.h5", *back, restored);
  CHECK(restored.iterations() == 3);
  auto want = const_cast<Optimizer&>(t.optimizer()).slots(), got = restored.slots();
  REQUIRE(got.size() == 3);
  for (size_t s = 0; s < got.size(); ++s)
    CHECK(std::memcmp(got[s].second->data(), want[s].second->data(), sizeof(float) * size_t(m->num_trainable())) == 0);
  TrainingState read;
  REQUIRE(read_training_state(dir + "/m.h5", &read));
  CHECK(read.epoch == 1);
  CHECK(read.seed == 42);
  CHECK(read.batch_size == 8);
  SGD wrong(0.1, 0.9);
  wrong.build(m->num_trainable(), Device::cpu());
  CHECK_THROWS_WITH(load_optimizer_state(dir + "/m.h5", *back, wrong),
                    Catch::Contains("m.h5' holds the state of optimizer Adam, not SGD"));
}

TEST_CASE("checkpoints keep the learning rate in use and the callbacks' state", "[io][model][resume]") {
  const std::string dir = test::temp_dir("cbstate");
  auto m = test::bn_dropout_net(3);
  SGD opt(0.1, 0.9);
  opt.build(m->num_trainable(), Device::cpu());
  opt.set_learning_rate(0.0123456789012345);  // a double: Keras's float32 copy would round it
  TrainingState st{2, 0, 7, 8, -1, {}};
  CallbackState es;
  es.numbers = {{"wait", 1}, {"best", 0.25}, {"best_epoch", 1}};
  es.weights = {1.5f, -2.f, 3.25f};
  CallbackState rl;
  rl.numbers = {{"wait", 0}, {"cooldown_counter", 2}, {"best", std::numeric_limits<double>::infinity()}};
  st.callbacks = {{"EarlyStopping", es}, {"ReduceLROnPlateau", rl}};
  save_model(*m, dir + "/m.h5", LossKind::categorical_crossentropy, {"accuracy"}, &opt, &st);
  TrainingState back;
  REQUIRE(read_training_state(dir + "/m.h5", &back));
  CHECK(back.learning_rate == 0.0123456789012345);
  REQUIRE(back.callbacks.size() == 2);
  CHECK(back.callbacks[0].first == "EarlyStopping");
  CHECK(back.callbacks[0].second.get("best") == 0.25);
  CHECK(back.callbacks[0].second.get("best_epoch") == 1);
  CHECK(back.callbacks[0].second.weights == es.weights);
  CHECK(back.callbacks[1].first == "ReduceLROnPlateau");
  CHECK(back.callbacks[1].second.get("cooldown_counter") == 2);
  CHECK(std::isinf(back.callbacks[1].second.get("best")));
  CHECK(back.callbacks[1].second.weights.empty());
  // No timestamps anywhere, so the same state saved again gives the same bytes.
  Stamped stamped;
  {
    h5::Id f(H5Fopen((dir + "/m.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    REQUIRE(H5Ovisit2(f.get(), H5_INDEX_NAME, H5_ITER_INC, visit_times, &stamped, H5O_INFO_TIME) >= 0);
  }
  CHECK(stamped.objects > 30);  // root, model_weights/<layer>/<layer>/<weight>, optimizer_weights/sgd/..., dptrain/...
  CHECK(stamped.timed.empty());
  save_model(*m, dir + "/again.h5", LossKind::categorical_crossentropy, {"accuracy"}, &opt, &st);
  CHECK(file_bytes(dir + "/again.h5") == file_bytes(dir + "/m.h5"));
  // A callback restored from that state goes on from it: patience 2 with one epoch already waited
  // stops at the first epoch that does not beat the saved best.
  EarlyStopping stop("val_loss", 0, 2);
  stop.restore_state(back.callbacks[0].second);
  TrainInfo info;
  info.log_names = {"loss", "val_loss"};
  stop.on_train_begin(info);
  Logs logs;
  logs.add("loss");
  logs.add("val_loss");
  logs.set(0, 1.0);
  logs.set(1, 0.3);  // worse than the saved best 0.25
  stop.on_epoch_end(2, logs);
  CHECK(stop.stopped_epoch() == 2);
  CHECK(stop.save_state().get("best") == 0.25);
  EarlyStopping fresh("val_loss", 0, 2);
  fresh.on_train_begin(info);
  fresh.on_epoch_end(2, logs);
  CHECK(fresh.stopped_epoch() == 0);
}

TEST_CASE("resume from a checkpoint is bit-identical to an uninterrupted run", "[checkpoint][resume]") {
  for (int replicas : {1, 3}) {
    for (bool mid_epoch : {false, true}) {
      INFO("replicas " << replicas << (mid_epoch ? ", stopped mid-epoch" : ", stopped at an epoch end"));
      const std::string dir = test::temp_dir("resume" + std::to_string(replicas) + (mid_epoch ? "m" : "e"));
      const auto [a, c] = test::train_and_resume(cpus(replicas), {}, mid_epoch, dir);
      CHECK(std::memcmp(a->params(), c->params(), sizeof(float) * size_t(a->num_params())) == 0);
    }
  }
}

TEST_CASE(
    "resume is bit-identical with Nadam (its schedule product from the count), clipping, weight decay and "
    "gradient accumulation",
    "[checkpoint][resume][optimizer]") {
  OptimizerConfig nadam, adamw, adagrad;
  nadam.name = "nadam";
  nadam.clipnorm = 0.5;
  nadam.use_ema = true;  // the stopped run keeps its weights (no finalize); the average goes on
  nadam.ema_overwrite_frequency = 3;
  adamw.name = "adamw";
  adamw.global_clipnorm = 0.5;
  adamw.gradient_accumulation_steps = 3;  // stopped after step 10: one step's gradients accumulated
  adagrad.name = "adagrad";
  adagrad.learning_rate = 0.05;
  adagrad.clipvalue = 0.01;
  adagrad.weight_decay = 0.1;
  for (const OptimizerConfig* oc : {&nadam, &adamw, &adagrad})
    for (int replicas : {1, 3}) {
      INFO(oc->name << ", replicas " << replicas);
      const std::string dir = test::temp_dir("resume_" + oc->name + std::to_string(replicas));
      const auto [a, c] = test::train_and_resume(cpus(replicas), {}, true, dir, oc);
      CHECK(std::memcmp(a->params(), c->params(), sizeof(float) * size_t(a->num_params())) == 0);
    }
}

TEST_CASE("checkpoints: every N epochs, keep K, newest complete one found", "[checkpoint]") {
  const std::string dir = test::temp_dir("ckpts");
  auto m = test::bn_dropout_net(2);
  SGD opt(0.05, 0.9);
  Trainer t(*m, cpus(2), LossKind::categorical_crossentropy, opt, 1);
  Checkpointer ck(t, *m, dir, 2, 2, TrainingState{0, 0, 1, 8, -1, {}});
  Dataset data = make_synthetic({8, 8, 1}, 10, 16, 6);
  FitOptions fo;
  fo.epochs = 7;
  fo.batch_size = 8;
  fo.verbose = 0;
  t.fit(data, nullptr, fo, {&ck});
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"ckpt_0004.h5", "ckpt_0006.h5"});  // 2, 4, 6 written; 2 kept
  std::FILE* f = std::fopen((dir + "/ckpt_0009.h5").c_str(), "w");  // a torn file is ignored
  std::fputs("torn", f);
  std::fclose(f);
  auto newest = newest_checkpoint(dir);
  REQUIRE(newest);
  CHECK(newest->state.epoch == 6);
  CHECK_FALSE(newest_checkpoint(dir + "/nothing-here"));
}
