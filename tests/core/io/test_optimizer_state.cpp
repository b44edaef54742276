// Optimizer state from optimizer_weights, in each layout it is written in: Keras 3 and tf.keras 2.11+
// (our own Keras-written fixtures, tests/fixtures/make_keras_fixtures.py), and tf.keras's older
// OptimizerV2 names (dptrain's own checkpoints before it wrote Keras 3's). Arrays are matched by
// name and checked against the file's datasets; a file that does not match is a clear error that
// leaves the optimizer as it was.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include "core/data/readers.h"
#include "core/io/hdf5_util.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_config.h"
#include "core/io/keras_model.h"
#include "core/layers/dense.h"
#include "parallel/trainer.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {

const std::string kDir = std::string(DPT_SOURCE_DIR) + "/tests/fixtures/keras_written/";

// A float dataset of the file, read directly.
std::vector<float> dataset(const std::string& path, const std::string& name) {
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  REQUIRE(f.valid());
  h5::Id ds(H5Dopen2(f.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
  REQUIRE(ds.valid());
  int64_t n = 1;
  for (auto d : h5::dataset_dims(ds.get())) n *= int64_t(d);
  std::vector<float> v(size_t(n), 0.f);
  REQUIRE(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
  return v;
}

const WeightRef& weight(const Sequential& m, const std::string& layer, const std::string& name,
                        const std::string& scope = "") {
  for (auto& w : m.weights())
    if (w.layer->name() == layer && w.spec.name == name && (scope.empty() || w.spec.scope == scope)) return w;
  FAIL("no weight " << layer << "/" << name);
  throw 0;
}

// Slot `slot` of the optimizer for one weight.
std::vector<float> slot_of(Optimizer& opt, const WeightRef& w, size_t slot) {
  const float* p = opt.slots()[slot].second->data() + w.offset;
  return {p, p + shape_numel(w.spec.shape)};
}

// A file attribute holding a variable-length string (training_config), read directly.
std::string read_root_string_attr_for_test(const std::string& path, const char* name) {
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  REQUIRE(f.valid());
  h5::Id a(H5Aopen(f.get(), name, H5P_DEFAULT), H5Aclose);
  REQUIRE(a.valid());
  h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  char* text = nullptr;
  REQUIRE(H5Aread(a.get(), type.get(), &text) >= 0);
  std::string out = text ? text : "";
  H5free_memory(text);
  return out;
}

// Three steps (24 samples, batch 8) of the batch-norm test net with `opt`; the trainer holds the
// state to save.
struct Trained {
  std::unique_ptr<Sequential> model;
  std::unique_ptr<Trainer> trainer;
};
Trained three_steps(Optimizer& opt) {
  Trained r{test::bn_dropout_net(3), nullptr};
  Dataset data = make_synthetic({8, 8, 1}, 10, 24, 1);
  r.trainer = std::make_unique<Trainer>(*r.model, test::cpus(1), LossKind::categorical_crossentropy, opt, 1);
  FitOptions fo;
  fo.batch_size = 8;
  fo.verbose = 0;
  r.trainer->fit(data, nullptr, fo, {});
  return r;
}

// Every slot of `got` holds the bits of `want`'s (n elements each).
void check_same_slots(const Optimizer& want, Optimizer& got, int64_t n) {
  auto a = const_cast<Optimizer&>(want).slots(), b = got.slots();
  REQUIRE(a.size() == b.size());
  for (size_t s = 0; s < a.size(); ++s) {
    INFO("slot " << a[s].first);
    CHECK(std::memcmp(b[s].second->data(), a[s].second->data(), sizeof(float) * size_t(n)) == 0);
  }
}

bool all_zero(Optimizer& opt) {
  for (auto& [name, t] : opt.slots())
    for (int64_t i = 0; i < t->numel(); ++i)
      if (t->data()[i] != 0.f) return false;
  return opt.iterations() == 0;
}

}  // namespace

TEST_CASE("Keras-written optimizer state is restored by name: Keras 3 and tf.keras 2.11+ files", "[io][optstate]") {
  struct Case {
    const char* file;
    const char* layout;
    const char* layer;  // a layer whose slots are checked against the file's datasets
    const char* weight;
    std::string momentum;  // the datasets of its momentum and velocity
    std::string velocity;
    bool has_lr;
    int arrays = 16;  // 8 trainable weights, momentum and velocity each
    const char* scope = "";  // the weight's sublayers, where it has them
  };
  const Case cases[] = {
      {"mlp_legacy.h5", "Keras 3", "dense_1", "kernel", "optimizer_weights/adam/mlp_dense_1_kernel_momentum",
       "optimizer_weights/adam/mlp_dense_1_kernel_velocity", true},
      {"mlp_tfk_model.h5", "tf.keras 2.11+", "dense_3", "bias", "optimizer_weights/Adam/m/dense_3/bias:0",
       "optimizer_weights/Adam/v/dense_3/bias:0", false},
      {"cnn_legacy.h5", "Keras 3", "batch_normalization", "gamma",
       "optimizer_weights/adam_1/cnn_batch_normalization_gamma_momentum",
       "optimizer_weights/adam_1/cnn_batch_normalization_gamma_velocity", true},
      {"cnn_tfk_model.h5", "tf.keras 2.11+", "conv2d_1", "kernel", "optimizer_weights/Adam/m/conv2d_1/kernel:0",
       "optimizer_weights/Adam/v/conv2d_1/kernel:0", false},
      // DepthwiseConv2D's kernel: "kernel" in Keras 3 (a Functional model: no model name in front),
      // "depthwise_kernel" in tf.keras; 11 trainable weights.
      {"dil_legacy.h5", "Keras 3", "depthwise_conv2d", "depthwise_kernel",
       "optimizer_weights/adam/depthwise_conv2d_kernel_momentum",
       "optimizer_weights/adam/depthwise_conv2d_kernel_velocity", true, 22},
      {"dil_tfk_model.h5", "tf.keras 2.11+", "depthwise_conv2d", "depthwise_kernel",
       "optimizer_weights/Adam/m/depthwise_conv2d/depthwise_kernel:0",
       "optimizer_weights/Adam/v/depthwise_conv2d/depthwise_kernel:0", false, 22},
      // A Bidirectional's backward_layer of its own: Keras 3 keeps its name (gru_1), tf.keras
      // prefixes it (backward_gru_1); 26 trainable weights.
      {"bidir_legacy.h5", "Keras 3", "bidirectional_2", "kernel",
       "optimizer_weights/adam/bidir_bidirectional_2_gru_1_gru_cell_kernel_momentum",
       "optimizer_weights/adam/bidir_bidirectional_2_gru_1_gru_cell_kernel_velocity", true, 52, "gru_1/gru_cell"},
      {"bidir_tfk_model.h5", "tf.keras 2.11+", "bidirectional_2", "kernel",
       "optimizer_weights/Adam/m/bidirectional_2/backward_gru_1/gru_cell/kernel:0",
       "optimizer_weights/Adam/v/bidirectional_2/backward_gru_1/gru_cell/kernel:0", false, 52,
       "backward_gru_1/gru_cell"},
      // TimeDistributed: Keras 3 names the wrapped Dense in the path, tf.keras does not; 11 weights.
      {"tdist_legacy.h5", "Keras 3", "time_distributed_3", "kernel",
       "optimizer_weights/adam/tdist_time_distributed_3_dense_kernel_momentum",
       "optimizer_weights/adam/tdist_time_distributed_3_dense_kernel_velocity", true, 22},
      {"tdist_tfk_model.h5", "tf.keras 2.11+", "time_distributed_3", "kernel",
       "optimizer_weights/Adam/m/time_distributed_3/kernel:0", "optimizer_weights/Adam/v/time_distributed_3/kernel:0",
       false, 22},
  };
  for (const Case& c : cases) {
    SECTION(c.file) {
      const std::string path = kDir + c.file;
      auto m = load_keras_model(path, 1);
      Adam opt(0.001);
      opt.build(m->num_trainable(), Device::cpu());
      REQUIRE(has_optimizer_weights(path));
      const OptimizerState st = load_optimizer_state(path, *m, opt);
      CHECK(st.layout == c.layout);
      CHECK(st.iterations == 12);  // 3 epochs of 4 batches
      CHECK(opt.iterations() == 12);
      CHECK(st.arrays == c.arrays);
      if (c.has_lr)
        CHECK(st.learning_rate == Approx(0.01).epsilon(1e-6));  // Keras 3 keeps the learning rate
      else
        CHECK(st.learning_rate < 0);
      const WeightRef& w = weight(*m, c.layer, c.weight, c.scope);
      const auto mom = slot_of(opt, w, 0), vel = slot_of(opt, w, 1);
      CHECK(mom == dataset(path, c.momentum));
      CHECK(vel == dataset(path, c.velocity));
      CHECK(std::any_of(mom.begin(), mom.end(), [](float v) { return v != 0.f; }));
    }
  }
}

// tf-keras 2.21's files of the other optimizers (tests/fixtures/make_optimizer_fixtures.py): the
// class and settings from training_config, every slot by tf.keras's name for it.
TEST_CASE("AdamW, Adagrad, Adamax, Nadam, Adadelta and Lion state from tf.keras's files, by its slot names",
          "[io][optstate]") {
  struct Case {
    const char* name;
    const char* described;
    std::vector<std::string> slots;  // tf.keras's name of each dptrain slot
  };
  const Case cases[] = {
      {"adamw", "AdamW(learning_rate=0.01, weight_decay=0.05, beta_1=0.9, beta_2=0.999, clipnorm=0.5)", {"m", "v"}},
      {"adagrad", "Adagrad(learning_rate=0.1, initial_accumulator_value=0.05, epsilon=1e-07)", {"accumulator"}},
      {"adamax", "Adamax(learning_rate=0.01, beta_1=0.9, beta_2=0.999, global_clipnorm=1)", {"m", "u"}},
      {"nadam", "Nadam(learning_rate=0.01, beta_1=0.9, beta_2=0.999)", {"m", "v"}},
      {"adadelta",
       "Adadelta(learning_rate=1, rho=0.95, epsilon=1e-07, clipvalue=0.5)",
       {"accumulated_grad", "accumulated_delta_var"}},
      {"lion", "Lion(learning_rate=0.003, beta_1=0.9, beta_2=0.99)", {"m"}},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      const std::string path = kDir + "opt_" + c.name + "_tfk_model.h5";
      auto m = load_keras_model(path, 1);
      KerasCompileConfig k;
      REQUIRE(read_compile_config(path, &k));
      CHECK(k.optimizer.name == c.name);
      CHECK(k.ignored.empty());
      auto opt = make_optimizer(k.optimizer);
      CHECK(opt->describe() == c.described);
      opt->build(m->num_trainable(), Device::cpu());
      const OptimizerState st = load_optimizer_state(path, *m, *opt);
      CHECK(st.layout == "tf.keras 2.11+");
      CHECK(st.iterations == 4);  // 2 epochs of 2 batches
      CHECK(st.arrays == int64_t(4 * c.slots.size()));
      const std::string cls = opt->class_name();
      for (const auto& w : m->weights())
        for (size_t s = 0; s < c.slots.size(); ++s) {
          INFO(w.keras_name() << " slot " << c.slots[s]);
          const auto got = slot_of(*opt, w, s);
          CHECK(got == dataset(path, "optimizer_weights/" + cls + "/" + c.slots[s] + "/" + w.keras_name()));
          CHECK(std::any_of(got.begin(), got.end(), [](float v) { return v != 0.f; }));
        }
    }
  }
}

TEST_CASE("dptrain writes Keras 3's optimizer layout and reads it back exactly", "[io][optstate]") {
  const std::string dir = test::temp_dir("optstate");
  auto m = test::bn_dropout_net(3);
  RMSprop opt(0.01, 0.9, 0.5, 1e-7, true);  // velocity, momentum and average_gradient
  Dataset data = make_synthetic({8, 8, 1}, 10, 24, 1);
  Trainer t(*m, test::cpus(1), LossKind::categorical_crossentropy, opt, 1);
  FitOptions fo;
  fo.batch_size = 8;
  fo.verbose = 0;
  t.fit(data, nullptr, fo, {});
  save_model(*m, dir + "/m.h5", LossKind::categorical_crossentropy, {"accuracy"}, &t.optimizer(), nullptr);
  h5::Id f(H5Fopen((dir + "/m.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  h5::Id ow(H5Gopen2(f.get(), "optimizer_weights", H5P_DEFAULT), H5Gclose);
  const auto names = read_string_list(ow.get(), "weight_names", dir + "/m.h5");
  // Keras 3's RMSprop builds every velocity, then every momentum, then every average_gradient.
  const std::string model = m->name();
  const auto trainable = size_t(
      std::count_if(m->weights().begin(), m->weights().end(), [](const WeightRef& w) { return w.spec.trainable; }));
  REQUIRE(trainable + 2 == m->weights().size());  // BatchNormalization's moving statistics have no slots
  REQUIRE(names.size() == 2 + 3 * trainable);
  CHECK(names[0] == "rm_sprop/iteration");
  CHECK(names[1] == "rm_sprop/learning_rate");
  CHECK(names[2] == "rm_sprop/" + model + "_conv2d_kernel_velocity");
  CHECK(names[3] == "rm_sprop/" + model + "_conv2d_bias_velocity");
  const size_t n = (names.size() - 2) / 3;
  CHECK(names[2 + n] == "rm_sprop/" + model + "_conv2d_kernel_momentum");
  CHECK(names[2 + 2 * n] == "rm_sprop/" + model + "_conv2d_kernel_average_gradient");
  CHECK(dataset(dir + "/m.h5", "optimizer_weights/rm_sprop/learning_rate")[0] == 0.01f);

  RMSprop back(0.01, 0.9, 0.5, 1e-7, true);
  back.build(m->num_trainable(), Device::cpu());
  const OptimizerState st = load_optimizer_state(dir + "/m.h5", *m, back);
  CHECK(st.layout == "Keras 3");
  CHECK(st.iterations == 3);
  CHECK(back.iterations() == 3);
  CHECK(st.learning_rate == Approx(0.01));
  REQUIRE(back.slots().size() == 3);
  check_same_slots(t.optimizer(), back, m->num_trainable());
}

TEST_CASE("Nadam's u_product is written where Keras 3 keeps it and read past; Adamax's slots interleave",
          "[io][optstate]") {
  const std::string dir = test::temp_dir("optstate_nadam");
  for (const char* which : {"nadam", "adamax"}) {
    INFO(which);
    OptimizerConfig oc;
    oc.name = which;
    auto opt = make_optimizer(oc);
    const Trained r = three_steps(*opt);
    const auto& m = r.model;
    const Optimizer& trained = r.trainer->optimizer();
    for (const char* file : {"m.h5", "m.keras"}) {
      const std::string path = dir + "/" + which + "_" + file;
      save_model(*m, path, LossKind::categorical_crossentropy, {}, &trained, nullptr);
      auto back = make_optimizer(oc);
      back->build(m->num_trainable(), Device::cpu());
      const OptimizerState st = load_optimizer_state(path, *m, *back);
      CHECK(st.iterations == 3);
      CHECK(back->extra_scalars() == trained.extra_scalars());
      REQUIRE(back->slots().size() == 2);
      check_same_slots(trained, *back, m->num_trainable());
    }
    const std::string h5 = dir + "/" + which + "_m.h5";
    h5::Id f(H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    h5::Id ow(H5Gopen2(f.get(), "optimizer_weights", H5P_DEFAULT), H5Gclose);
    const auto names = read_string_list(ow.get(), "weight_names", h5);
    const std::string model = m->name();
    if (std::string(which) == "nadam") {  // momentum and velocity of each weight, then "variable"
      CHECK(names[2] == "nadam/" + model + "_conv2d_kernel_momentum");
      CHECK(names[3] == "nadam/" + model + "_conv2d_kernel_velocity");
      CHECK(names.back() == "variable");
      double p = 1;
      for (int k = 1; k <= 3; ++k) p *= 0.9 * (1 - 0.5 * std::pow(0.96, k));
      CHECK(dataset(h5, "optimizer_weights/variable")[0] == Approx(p).epsilon(1e-6));
    } else {
      CHECK(names[2] == "adamax/" + model + "_conv2d_kernel_momentum");
      CHECK(names[3] == "adamax/" + model + "_conv2d_kernel_norm");
      CHECK(names.back() == "adamax/" + model + "_dense_1_bias_norm");
    }
  }
}

// Keras 3 keeps a schedule in the optimizer's config, not as a variable: no learning_rate among the
// optimizer's arrays (so a .keras archive's numbered variables start their slots at 1).
TEST_CASE("a learning-rate schedule is saved as Keras 3 saves it and read back", "[io][optstate][schedule]") {
  const std::string dir = test::temp_dir("optstate_schedule");
  OptimizerConfig oc;
  oc.name = "nadam";
  LearningRateSchedule pc;
  pc.class_name = "PiecewiseConstantDecay";
  pc.boundaries = {1, 2};
  pc.values = {0.02, 0.01, 0.005};
  pc.name = "steps";
  oc.schedule = pc;
  auto opt = make_optimizer(oc);
  const Trained r = three_steps(*opt);
  const auto& m = r.model;
  const Optimizer& trained = r.trainer->optimizer();
  CHECK(trained.learning_rate() == 0.005f);  // after 3 steps
  for (const char* file : {"m.h5", "m.keras"}) {
    INFO(file);
    const std::string path = dir + "/" + file;
    save_model(*m, path, LossKind::categorical_crossentropy, {}, &trained, nullptr);
    KerasCompileConfig k;
    REQUIRE(read_compile_config(path, &k));
    CHECK(k.ignored.empty());
    REQUIRE(k.optimizer.schedule);
    auto back = make_optimizer(k.optimizer);
    CHECK(back->describe() == trained.describe());
    back->build(m->num_trainable(), Device::cpu());
    const OptimizerState st = load_optimizer_state(path, *m, *back);
    CHECK(st.iterations == 3);
    CHECK(st.learning_rate < 0);  // none saved
    CHECK(back->learning_rate() == 0.005f);
    CHECK(back->extra_scalars() == trained.extra_scalars());
    REQUIRE(back->slots().size() == 2);
    check_same_slots(trained, *back, m->num_trainable());
  }
  const std::string h5 = dir + "/m.h5";
  h5::Id f(H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  h5::Id ow(H5Gopen2(f.get(), "optimizer_weights", H5P_DEFAULT), H5Gclose);
  const auto names = read_string_list(ow.get(), "weight_names", h5);
  CHECK(names[0] == "nadam/iteration");
  CHECK(names[1] == "nadam/" + m->name() + "_conv2d_kernel_momentum");
  CHECK(std::find(names.begin(), names.end(), "nadam/learning_rate") == names.end());
  const std::string tc = read_root_string_attr_for_test(h5, "training_config");
  CHECK_THAT(tc, Contains(R"("learning_rate":{"module":"keras.optimizers.schedules","class_name":)"
                          R"("PiecewiseConstantDecay","config":{"boundaries":[1,2],"values":[0.02,0.01,0.005],)"
                          R"("name":"steps"},"registered_name":null})"));
}

// tf-keras 2.21's files trained 2 epochs with a schedule, or with Keras 2's decay on a legacy
// optimizer, and the same models after one more epoch (tests/fixtures/make_optimizer_fixtures.py):
// dptrain's epoch from the first file ends with the second's weights; held at the schedule's initial
// rate, it ends elsewhere (so the comparison can fail).
TEST_CASE("an epoch from tf.keras's files with a schedule or Keras 2's decay ends with tf.keras's next epoch",
          "[io][optstate][schedule]") {
  struct Case {
    const char* tag;
    const char* described;
  };
  const Case cases[] = {
      {"legacy_sgd_decay",
       "SGD(learning_rate=InverseTimeDecay(initial_learning_rate=0.2, decay_steps=1, decay_rate=0.3, staircase=False), "
       "momentum=0.5)"},
      {"legacy_sgd_piecewise",
       "SGD(learning_rate=PiecewiseConstantDecay(boundaries=[5, 9], values=[0.1, 0.05, 0.01]), momentum=0.9, "
       "nesterov=True)"},
      {"adam_cosine",
       "Adam(learning_rate=CosineDecay(initial_learning_rate=0.001, decay_steps=6, alpha=0.1, warmup_target=0.02, "
       "warmup_steps=4), beta_1=0.9, beta_2=0.999)"},
      {"lion_restarts",
       "Lion(learning_rate=CosineDecayRestarts(initial_learning_rate=0.003, first_decay_steps=3, t_mul=2, m_mul=0.5, "
       "alpha=0), beta_1=0.9, beta_2=0.99)"},
  };
  const Dataset data = load_npy_dataset(kDir + "sched_x.npy", kDir + "sched_y.npy");
  for (const Case& c : cases) {
    SECTION(c.tag) {
      const std::string path = kDir + "sched_" + c.tag + "_tfk_model.h5";
      const auto theirs = load_keras_model(kDir + "sched_" + c.tag + "_tfk_next.h5", 1);
      auto epoch = [&](bool held) {  // as `dptrain train --model FILE` (with --lr-decay none: held)
        auto m = load_keras_model(path, 1);
        KerasCompileConfig k;
        REQUIRE(read_compile_config(path, &k));
        CHECK(k.ignored.empty());
        REQUIRE(k.optimizer.schedule);
        if (held) k.optimizer.schedule.reset();
        auto opt = make_optimizer(k.optimizer);
        if (!held) CHECK(opt->describe() == c.described);
        opt->build(m->num_trainable(), Device::cpu());
        CHECK(load_optimizer_state(path, *m, *opt).iterations == 8);
        Trainer t(*m, test::cpus(1), LossKind::categorical_crossentropy, *opt, 1);
        t.set_optimizer_state(*opt);
        FitOptions fo;
        fo.batch_size = 8;
        fo.shuffle = false;
        fo.verbose = 0;
        t.fit(data, nullptr, fo, {});
        return test::rel_diff(*m, *theirs);
      };
      const double d = epoch(false), held = epoch(true);
      std::printf("tf-keras %s: dptrain's epoch vs tf-keras's max|dw|/max|w| = %.3g (held at the initial rate: %.3g)\n",
                  c.tag, d, held);
      CHECK(d <= 2e-6);
      CHECK(held > 100 * 2e-6);
    }
  }
}

TEST_CASE("DepthwiseConv2D's kernel slots under Keras 3's name (kernel); dptrain's earlier name still reads",
          "[io][optstate]") {
  const std::string dir = test::temp_dir("optstate_dw");
  auto m = load_keras_model(kDir + "dil_legacy.h5", 1);
  Adam opt(0.01);
  opt.build(m->num_trainable(), Device::cpu());
  load_optimizer_state(kDir + "dil_legacy.h5", *m, opt);
  save_model(*m, dir + "/m.h5", LossKind::categorical_crossentropy, {}, &opt, nullptr);
  const std::vector<std::string> renamed{"dil_depthwise_conv2d_kernel_momentum",
                                         "dil_depthwise_conv2d_kernel_velocity"};
  {  // dptrain's files before: depthwise_kernel in the slot's name
    h5::Id f(H5Fopen((dir + "/m.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    h5::Id ow(H5Gopen2(f.get(), "optimizer_weights", H5P_DEFAULT), H5Gclose);
    auto names = read_string_list(ow.get(), "weight_names", dir + "/m.h5");
    for (const std::string& n : renamed) {
      const auto at = std::find(names.begin(), names.end(), "adam/" + n);
      REQUIRE(at != names.end());  // Keras 3's name, as Keras 3 writes it
      const std::string old = "adam/dil_depthwise_conv2d_depthwise_kernel" + n.substr(n.rfind('_'));
      REQUIRE(H5Lmove(ow.get(), at->c_str(), ow.get(), old.c_str(), H5P_DEFAULT, H5P_DEFAULT) >= 0);
      *at = old;
    }
    REQUIRE(H5Adelete(ow.get(), "weight_names") >= 0);
    write_string_list(ow.get(), "weight_names", names);
  }
  Adam back(0.01);
  back.build(m->num_trainable(), Device::cpu());
  load_optimizer_state(dir + "/m.h5", *m, back);
  check_same_slots(opt, back, m->num_trainable());
}

TEST_CASE("Checkpoints in tf.keras's OptimizerV2 names (dptrain's earlier layout) still resume", "[io][optstate]") {
  const std::string dir = test::temp_dir("optstate_v2");
  auto m = test::bn_dropout_net(3);
  Adam opt(0.01);
  opt.build(m->num_trainable(), Device::cpu());
  // Distinct values in every slot, written as dptrain wrote them: Adam/iter:0 (int64), then every
  // weight's m, then every weight's v, as <Class>/<layer>/<weight>/<slot>:0.
  auto slots = opt.slots();
  for (size_t s = 0; s < slots.size(); ++s)
    for (int64_t i = 0; i < slots[s].second->numel(); ++i) slots[s].second->data()[i] = float(s + 1) + 1e-3f * float(i);
  write_h5_atomically(dir + "/old.h5", "the model", [&](hid_t f) {
    h5::Id ow(H5Gcreate2(f, "optimizer_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    std::vector<std::string> names{"Adam/iter:0"};
    h5::Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
    h5::Id it(H5Dcreate2(ow.get(), names[0].c_str(), H5T_STD_I64LE, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    const int64_t seven = 7;
    REQUIRE(H5Dwrite(it.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &seven) >= 0);
    for (const char* slot : {"m", "v"})
      for (auto& w : m->weights()) {
        if (!w.spec.trainable) continue;
        names.push_back("Adam/" + w.layer->name() + "/" + w.spec.name + "/" + slot + ":0");
        write_dataset(ow.get(), names.back(), w.spec.shape, slots[slot[0] == 'm' ? 0 : 1].second->data() + w.offset,
                      dir);
      }
    write_string_list(ow.get(), "weight_names", names);
  });
  Adam back(0.01);
  back.build(m->num_trainable(), Device::cpu());
  const OptimizerState st = load_optimizer_state(dir + "/old.h5", *m, back);
  CHECK(st.layout == "tf.keras 2 (OptimizerV2)");
  CHECK(st.name == "Adam");
  CHECK(back.iterations() == 7);
  const OptimizerState info = read_optimizer_state_info(dir + "/old.h5");  // dptrain inspect's view, no model
  CHECK(info.layout == st.layout);
  CHECK(info.name == "Adam");
  CHECK(info.iterations == 7);
  const auto trainable =
      std::count_if(m->weights().begin(), m->weights().end(), [](const WeightRef& w) { return w.spec.trainable; });
  CHECK(info.arrays == 2 * int64_t(trainable));
  CHECK(st.learning_rate < 0);
  auto got = back.slots();
  for (size_t s = 0; s < 2; ++s)
    CHECK(std::memcmp(got[s].second->data(), slots[s].second->data(), sizeof(float) * size_t(m->num_trainable())) == 0);
  SGD sgd(0.1, 0.9);
  sgd.build(m->num_trainable(), Device::cpu());
  CHECK_THROWS_WITH(load_optimizer_state(dir + "/old.h5", *m, sgd),
                    Contains("holds the state of another optimizer ('Adam/iter:0'; SGD expected)"));
}

TEST_CASE("Optimizer state that does not match is a clear error and changes nothing", "[io][optstate]") {
  const std::string path = kDir + "mlp_legacy.h5";  // Keras 3, Adam (no amsgrad), model "mlp"
  auto m = load_keras_model(path, 1);
  SECTION("another optimizer whose slots have the same names (RMSprop with momentum: velocity, momentum)") {
    RMSprop opt(0.01, 0.9, 0.5);
    opt.build(m->num_trainable(), Device::cpu());
    CHECK_THROWS_WITH(load_optimizer_state(path, *m, opt),
                      Contains("mlp_legacy.h5' holds the state of optimizer Adam, not RMSprop"));
    CHECK(all_zero(opt));
  }
  SECTION("the same optimizer with another setting (amsgrad adds a slot)") {
    Adam opt(0.01, 0.9, 0.999, 1e-7, true);
    opt.build(m->num_trainable(), Device::cpu());
    CHECK_THROWS_WITH(load_optimizer_state(path, *m, opt),
                      Contains("holds 16 optimizer slot arrays; Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, "
                               "amsgrad=True) has 24 for this model"));
    CHECK(all_zero(opt));
  }
  SECTION("another model: its weights' shapes") {
    Sequential other("mlp");
    other.add(std::make_unique<Dense>(8));
    other.add(std::make_unique<Dense>(9));  // dense_1: (8, 9), the file's (8, 8)
    other.add(std::make_unique<Dense>(5));
    other.add(std::make_unique<Dense>(4));
    other.build({6}, 1);
    Adam opt(0.01);
    opt.build(other.num_trainable(), Device::cpu());
    CHECK_THROWS_WITH(load_optimizer_state(path, other, opt),
                      Contains("optimizer weight 'adam/mlp_dense_1_kernel_momentum' has shape (8, 8), the model's "
                               "weight (8, 9)"));
    CHECK(all_zero(opt));
  }
  SECTION("another model: its name") {
    Sequential other("net");
    for (int64_t units : {8, 8, 5, 4}) other.add(std::make_unique<Dense>(units));
    other.build({6}, 1);
    Adam opt(0.01);
    opt.build(other.num_trainable(), Device::cpu());
    CHECK_THROWS_WITH(
        load_optimizer_state(path, other, opt),
        Contains("has no optimizer weight 'adam/net_dense_kernel_momentum': it holds the state of another "
                 "optimizer or model"));
    CHECK(all_zero(opt));
  }
  SECTION("a file without optimizer state") {
    CHECK_FALSE(has_optimizer_weights(kDir + "mlp_tfk.h5"));
    CHECK_FALSE(has_optimizer_weights(kDir + "mlp_x.npy"));
    CHECK_THROWS_WITH(read_optimizer_state_info(kDir + "mlp_tfk.h5"), Contains("mlp_tfk.h5' has no optimizer_weights"));
  }
  SECTION("a layout without an iteration counter") {
    const std::string odd = test::temp_dir("optstate_odd") + "/odd.h5";
    write_h5_atomically(odd, "the model", [&](hid_t f) {
      h5::Id ow(H5Gcreate2(f, "optimizer_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      const float v[2] = {1, 2};
      write_dataset(ow.get(), "steps", Shape{2}, v, odd);
      write_string_list(ow.get(), "weight_names", {"steps"});
    });
    CHECK_THROWS_WITH(read_optimizer_state_info(odd),
                      Contains("optimizer_weights names no iteration counter (iteration, iter:0): a layout dptrain "
                               "does not know (first array: 'steps')"));
    Adam opt(0.01);
    opt.build(m->num_trainable(), Device::cpu());
    CHECK_THROWS_WITH(load_optimizer_state(odd, *m, opt), Contains("names no iteration counter"));
    CHECK(all_zero(opt));
  }
}
