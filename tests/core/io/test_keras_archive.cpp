// Keras 3's .keras archives (model.save('m.keras')), written by Keras itself
// (tests/fixtures/make_keras_fixtures.py): the model from config.json, the weights from the
// archive's model.weights.h5, the compile_config and the optimizer's numbered variables; the zip
// read stored (as Keras writes) or deflated; damaged archives are errors that say what is wrong.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include "core/data/npy.h"
#include "core/data/readers.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_archive.h"
#include "core/io/keras_config.h"
#include "core/io/keras_model.h"
#include "core/optimizers/optimizer.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {

const std::string kDir = std::string(DPT_SOURCE_DIR) + "/tests/fixtures/keras_written/";

std::string bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string archive_error(const std::string& bytes) {
  try {
    parse_keras_archive(bytes, "'m.keras'");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

double worst(const std::vector<float>& a, const std::vector<double>& b) { return test::max_abs_diff(a, b); }

}  // namespace

TEST_CASE(".keras archives build the model, load its weights and reproduce Keras's predictions", "[io][archive]") {
  for (const std::string name : {"kseq",  "fchain", "kseq_deflated", "acts2",   "prep",   "lnorm",  "dil",   "tconv",
                                 "seq",   "embed",  "rnn",           "gru",     "srnn",   "bidir",  "tdist", "rdrop",
                                 "racts", "gruv1",  "mask",          "masking", "seqout", "maskout"}) {
    const std::string data = name == "kseq_deflated" ? "kseq" : name;
    INFO(name);
    const std::string path = kDir + name + ".keras";
    CHECK(is_keras_archive(path));
    CHECK_FALSE(is_keras_archive(kDir + data + "_legacy.h5"));
    CHECK(weights_format(path) == WeightsFormat::keras3_archive);
    auto m = load_keras_model(path, 0);
    CHECK(m->name() == data);
    const NpyArray x = read_npy(kDir + data + "_x.npy"), y = read_npy(kDir + data + "_y.npy");
    CHECK(worst(test::infer(*m, x.values, x.shape[0]), y.values) <= 1e-5);
    // The same weights as the model.save .h5 file Keras wrote at the same moment.
    auto legacy = load_keras_model(kDir + data + "_legacy.h5", 3);
    REQUIRE(legacy->num_params() == m->num_params());
    CHECK(std::equal(m->params(), m->params() + m->num_params(), legacy->params()));
    // --weights FILE.keras loads into a model built elsewhere.
    auto w = load_keras_model(kDir + data + "_legacy.h5", 9);
    load_weights(*w, path);
    CHECK(std::equal(w->params(), w->params() + w->num_params(), m->params()));
    CHECK_THROWS_WITH(
        load_weights(*w, path, LoadOptions{true}),
        Contains("is a Keras 3 .keras file, which Keras loads by structure: --by-name applies to legacy"));
    CHECK_FALSE(read_training_state(path, nullptr));
  }
}

TEST_CASE(".keras archives: compile_config and the optimizer's numbered variables", "[io][archive][optstate]") {
  KerasCompileConfig c;
  REQUIRE(read_compile_config(kDir + "kseq.keras", &c));
  CHECK(c.loss == "categorical_crossentropy");
  CHECK(c.file_optimizer == "Adam");
  CHECK(c.optimizer.name == "adam");
  CHECK(c.optimizer.learning_rate == Approx(0.01).epsilon(1e-6));
  REQUIRE(c.metrics.size() == 2);
  CHECK((c.metrics[0].name == "accuracy" && c.metrics[1].name == "mae"));
  CHECK(c.ignored.empty());

  for (const std::string name : {"kseq", "fchain"}) {
    INFO(name);
    const std::string path = kDir + name + ".keras";
    REQUIRE(has_optimizer_weights(path));
    const OptimizerState info = read_optimizer_state_info(path);
    CHECK(info.iterations == 12);  // 3 epochs of 4 batches
    CHECK(info.learning_rate == Approx(0.01).epsilon(1e-6));
    // optimizer/vars: the counter, the learning rate, then Adam's two slots per trainable weight
    // in Keras's order: the same values as the .h5 file's named optimizer_weights.
    auto m = load_keras_model(path, 0);
    CHECK(info.arrays == (name == "kseq" ? 12 : 8));  // 6 and 4 trainable weights
    Adam from_archive(0.01), from_h5(0.01);
    from_archive.build(m->num_trainable(), Device::cpu());
    from_h5.build(m->num_trainable(), Device::cpu());
    const OptimizerState st = load_optimizer_state(path, *m, from_archive);
    load_optimizer_state(kDir + name + "_legacy.h5", *m, from_h5);
    CHECK(st.iterations == 12);
    CHECK(from_archive.iterations() == 12);
    for (size_t s = 0; s < 2; ++s) {
      const Tensor& a = *from_archive.slots()[s].second;
      const Tensor& b = *from_h5.slots()[s].second;
      REQUIRE(a.numel() == b.numel());
      CHECK(std::equal(a.data(), a.data() + a.numel(), b.data()));
      CHECK(std::any_of(a.data(), a.data() + a.numel(), [](float v) { return v != 0.f; }));
    }
    // Another optimizer's state is refused, leaving the optimizer as it was.
    RMSprop rms(0.01);
    rms.build(m->num_trainable(), Device::cpu());
    CHECK_THROWS_WITH(load_optimizer_state(path, *m, rms), Contains("holds the state of optimizer Adam, not RMSprop"));
    CHECK(rms.iterations() == 0);
  }
}

TEST_CASE("tf.keras's own .keras archives: no learning-rate variable, compile()'s optimizer string",
          "[io][archive][optstate]") {
  // tf-keras 2.21's model.save('m.keras'): optimizer/vars holds the counter, then the slots.
  const std::string path = kDir + "kseq_tfk.keras";
  auto m = load_keras_model(path, 0);
  const NpyArray x = read_npy(kDir + "kseq_tfk_x.npy"), y = read_npy(kDir + "kseq_tfk_y.npy");
  CHECK(worst(test::infer(*m, x.values, x.shape[0]), y.values) <= 1e-5);
  const OptimizerState info = read_optimizer_state_info(path);
  CHECK(info.iterations == 12);
  CHECK(info.learning_rate < 0);
  CHECK(info.arrays == 12);
  Adam from_archive(0.01), from_h5(0.01);
  from_archive.build(m->num_trainable(), Device::cpu());
  from_h5.build(m->num_trainable(), Device::cpu());
  load_optimizer_state(path, *m, from_archive);
  load_optimizer_state(kDir + "kseq_tfk_model.h5", *m, from_h5);  // by tf.keras's names
  for (size_t s = 0; s < 2; ++s) {
    const Tensor& a = *from_archive.slots()[s].second;
    const Tensor& b = *from_h5.slots()[s].second;
    CHECK(std::equal(a.data(), a.data() + a.numel(), b.data()));
  }
  // compile(optimizer="adam") is written as the string: Keras's defaults for that class.
  const KerasCompileConfig c = compile_config_from_json(R"({"optimizer": "adam", "loss": "mse"})", "t", false);
  CHECK((c.file_optimizer == "Adam" && c.optimizer.name == "adam" && c.optimizer.learning_rate < 0));
  const KerasCompileConfig other = compile_config_from_json(R"({"optimizer": "Ftrl"})", "t", false);
  CHECK((other.file_optimizer == "Ftrl" && other.optimizer.name.empty()));
  const KerasCompileConfig nadam = compile_config_from_json(R"({"optimizer": "Nadam"})", "t", false);
  CHECK((nadam.file_optimizer == "Nadam" && nadam.optimizer.name == "nadam"));
}

TEST_CASE("damaged or foreign .keras archives are errors that say what is wrong", "[io][archive]") {
  const std::string good = bytes_of(kDir + "kseq.keras");
  REQUIRE(archive_error(good) == "(no error)");
  CHECK(archive_error("PK") == "'m.keras' is not a zip archive (too short)");
  CHECK(archive_error(std::string(100, 'x')) ==
        "'m.keras' is not a zip archive (no end-of-central-directory record): a .keras file is the zip archive "
        "Keras 3's model.save writes");
  // Cut short: the central directory (at the end) is gone.
  CHECK(archive_error(good.substr(0, good.size() / 2)) == archive_error(std::string(good.size() / 2, 'x')));
  // A byte of the weights changed: the CRC catches it.
  {
    std::string bad = good;
    const size_t at = bad.find("HDF");
    REQUIRE(at != std::string::npos);
    bad[at + 200] = char(bad[at + 200] ^ 0x5a);
    CHECK(archive_error(bad) == "'m.keras' (member model.weights.h5) fails its CRC check: the archive is damaged");
  }
  // No config.json (renamed in the central directory).
  {
    std::string bad = good;
    const size_t at = bad.rfind("config.json");
    REQUIRE(at != std::string::npos);
    bad.replace(at, 6, "cfgxyz");
    CHECK(archive_error(bad) == "'m.keras' has no config.json: not a Keras 3 .keras archive");
  }
  // A compression method dptrain does not read (12, bzip2) in the directory entry of config.json.
  {
    std::string bad = good;
    const size_t name = bad.rfind("config.json");
    bad[name - 46 + 10] = 12;
    CHECK(
        archive_error(bad) ==
        "'m.keras' (member config.json) is compressed with method 12; dptrain reads stored (Keras's own) and deflated "
        "members");
  }
  // A directory that claims more entries than it can hold.
  {
    std::string bad = good;
    const size_t end = bad.rfind("PK\x05\x06");
    bad[end + 10] = char(0xff);
    bad[end + 11] = char(0x7f);
    CHECK_THAT(archive_error(bad), Contains("is damaged (32767 entries in a"));
  }
  // A deflated member whose data is damaged.
  {
    std::string bad = bytes_of(kDir + "kseq_deflated.keras");
    const size_t name = bad.find("model.weights.h5");  // the local header's name; the data follows it
    REQUIRE(name != std::string::npos);
    for (size_t i = 0; i < 64; ++i) bad[name + 16 + 100 + i] = char(0xff);
    CHECK_THAT(archive_error(bad), Contains("'m.keras' (member model.weights.h5) "));
  }
  // A member too large to inflate in this machine's memory is refused before allocating.
  set_host_memory_limit(10 << 10);
  CHECK(archive_error(bytes_of(kDir + "kseq_deflated.keras")) ==
        "'m.keras' (member model.weights.h5) inflated needs 23 KiB of memory, more than this machine's 10 KiB");
  set_host_memory_limit(0);
  // dptrain's error, not HDF5's, for an archive whose weights are not HDF5.
  CHECK_THROWS_WITH(open_h5_image(std::vector<char>(64, 'x'), "m.keras/model.weights.h5"),
                    "m.keras/model.weights.h5 is not an HDF5 file (or is damaged)");
}

TEST_CASE("dptrain writes .keras archives and Keras 3 .weights.h5 files that read back exactly", "[io][archive]") {
  const std::string dir = test::temp_dir("archive");
  auto m = test::bn_dropout_net(3);
  Adam opt(0.01);
  Dataset data = make_synthetic({8, 8, 1}, 10, 24, 1);
  Trainer t(*m, test::cpus(1), LossKind::categorical_crossentropy, opt, 1);
  FitOptions fo;
  fo.batch_size = 8;
  fo.verbose = 0;
  t.fit(data, nullptr, fo, {});
  const std::string path = dir + "/m.keras";
  MetricRequests metrics = parse_metrics(
      "accuracy,mae,top_k_categorical_accuracy:k=3,name=top3,"
      "CategoricalCrossentropy:label_smoothing=0.2,log_cosh_error");
  save_model(*m, path, LossKind::categorical_crossentropy, metrics, &t.optimizer(), nullptr);
  CHECK(is_keras_archive(path));
  CHECK(weights_format(path) == WeightsFormat::keras3_archive);
  // The model, its weights (BatchNormalization's moving statistics included) and its compile_config.
  auto back = load_keras_model(path, 5);
  CHECK(back->name() == m->name());
  REQUIRE(back->num_params() == m->num_params());
  CHECK(std::equal(m->params(), m->params() + m->num_params(), back->params()));
  KerasCompileConfig c;
  REQUIRE(read_compile_config(path, &c));
  CHECK(c.loss == "categorical_crossentropy");
  CHECK(c.file_optimizer == "Adam");
  CHECK(c.optimizer.learning_rate == Approx(0.01));
  REQUIRE(c.metrics.size() == 5);
  CHECK((c.metrics[0].name == "accuracy" && c.metrics[1].name == "mae"));  // as compile() logs them
  // Metrics with arguments come back as the objects they were, under their names.
  CHECK((c.metrics[2].name == "top3" && c.metrics[2].k == 3 && c.metrics[2].kind == "top_k_categorical_accuracy"));
  CHECK((c.metrics[3].name == "categorical_crossentropy" && c.metrics[3].label_smoothing == 0.2));
  CHECK((c.metrics[4].name == "log_cosh_error" && c.metrics[4].kind == "log_cosh_error"));
  CHECK(c.ignored.empty());
  // The optimizer: iteration count, learning rate and every slot, by position.
  Adam again(0.01);
  again.build(back->num_trainable(), Device::cpu());
  const OptimizerState st = load_optimizer_state(path, *back, again);
  CHECK(st.iterations == 3);
  CHECK(again.iterations() == 3);
  CHECK(st.learning_rate == Approx(0.01));
  for (size_t s = 0; s < 2; ++s) {
    const Tensor& a = *const_cast<Optimizer&>(t.optimizer()).slots()[s].second;
    const Tensor& b = *again.slots()[s].second;
    CHECK(std::equal(a.data(), a.data() + a.numel(), b.data()));
  }
  // The same content gives the same bytes (no dates, no times).
  save_model(*m, dir + "/m2.keras", LossKind::categorical_crossentropy, metrics, &t.optimizer(), nullptr);
  CHECK(bytes_of(path) == bytes_of(dir + "/m2.keras"));
  // A path ending in .weights.h5: Keras 3's layout, with the optimizer's variables.
  save_weights_as_keras(*m, dir + "/w.weights.h5", &t.optimizer());
  CHECK(weights_format(dir + "/w.weights.h5") == WeightsFormat::keras3_weights);
  auto w = test::bn_dropout_net(9);
  load_weights(*w, dir + "/w.weights.h5");
  CHECK(std::equal(m->params(), m->params() + m->num_params(), w->params()));
  CHECK(read_optimizer_state_info(dir + "/w.weights.h5").iterations == 3);
  // Any other .h5 name keeps the legacy layout.
  save_weights_as_keras(*m, dir + "/w.h5", &t.optimizer());
  CHECK(weights_format(dir + "/w.h5") == WeightsFormat::legacy_weights);
  // A failed save leaves the previous file as it was; resume state is refused (checkpoints are .h5).
  const TrainingState state;
  CHECK_THROWS_WITH(save_model(*m, path, LossKind::categorical_crossentropy, {}, &t.optimizer(), &state),
                    "cannot save '" + path + "': checkpoints with resume state are .h5 files");
  CHECK_THROWS_WITH(save_model(*m, dir + "/none/m.keras", LossKind::categorical_crossentropy, {}, nullptr, nullptr),
                    "cannot save the model to '" + dir + "/none/m.keras': folder '" + dir + "/none' does not exist");
  CHECK(bytes_of(path) == bytes_of(dir + "/m2.keras"));
  // An optimizer with nothing to continue (Keras saves a compiled, never-trained model's optimizer
  // unbuilt: the counter at 0, no slots) is no state; SGD's counter alone is.
  SGD plain(0.1);
  plain.build(m->num_trainable(), Device::cpu());
  save_model(*m, dir + "/fresh.keras", LossKind::categorical_crossentropy, {}, &plain, nullptr);
  CHECK_FALSE(has_optimizer_weights(dir + "/fresh.keras"));
  plain.set_iterations(7);
  save_model(*m, dir + "/sgd.keras", LossKind::categorical_crossentropy, {}, &plain, nullptr);
  CHECK(has_optimizer_weights(dir + "/sgd.keras"));
  CHECK(read_optimizer_state_info(dir + "/sgd.keras").iterations == 7);
  // The archive is read once while unchanged, and again once rewritten.
  const auto first = read_keras_archive(dir + "/sgd.keras");
  CHECK(read_keras_archive(dir + "/sgd.keras") == first);
  plain.set_iterations(8);
  save_model(*m, dir + "/sgd.keras", LossKind::categorical_crossentropy, {}, &plain, nullptr);
  CHECK(read_keras_archive(dir + "/sgd.keras") != first);
  CHECK(read_optimizer_state_info(dir + "/sgd.keras").iterations == 8);
}
