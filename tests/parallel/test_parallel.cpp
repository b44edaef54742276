// Data parallelism on CPU replicas: N replicas equal one device (largest relative differences are
// printed for the notes), synchronised batch norm, ps == allreduce, replica checks, device errors,
// and the saved file is the template's, loadable into a one-device model.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include "core/callbacks/control.h"
#include "core/data/readers.h"
#include "core/io/hdf5_weights.h"
#include "core/layers/batch_norm.h"
#include "core/layers/conv2d.h"
#include "core/layers/dense.h"
#include "core/layers/dropout.h"
#include "core/layers/flatten.h"
#include "core/layers/pooling.h"
#include "core/presets.h"
#include "parallel/devices.h"
#include "parallel/parallel_model.h"
#include "parallel/slicing.h"
#include "test_util.h"

using namespace dpt;
using dpt::test::cpus;
using dpt::test::rel_diff;
using Catch::Contains;

namespace {



struct Case {
  int replicas;
  int64_t batch;
};
const Case kCases[] = {{2, 12}, {3, 12}, {4, 12}, {4, 10}, {4, 3}};

std::unique_ptr<Sequential> digits_cnn() {
  auto m = find_preset("digits-cnn").make();
  m->build({8, 8, 1}, 11);
  return m;
}

// The weights after 2 epochs of 3 steps on one CPU device and on cs.replicas, as max|dw|/max|w|.
double train_and_compare(const Case& cs, ParallelOptions po, const std::function<std::unique_ptr<Sequential>()>& make,
                         const Optimizer& opt) {
  Dataset data = make_synthetic({8, 8, 1}, 10, 41, 5);
  auto one = make(), many = make();
  FitOptions fo;
  fo.epochs = 2;
  fo.batch_size = cs.batch;
  fo.steps_per_epoch = 3;
  fo.verbose = 0;
  fo.seed = 3;
  ParallelOptions single = po;
  Trainer(*one, cpus(1), LossKind::categorical_crossentropy, opt, 1, single).fit(data, nullptr, fo, {});
  Trainer(*many, cpus(cs.replicas), LossKind::categorical_crossentropy, opt, 1, po).fit(data, nullptr, fo, {});
  return rel_diff(*one, *many);
}

}  // namespace

// Every replica clips the same all-reduced gradients, accumulates them and updates on the same steps,
// at the same scheduled rate.
TEST_CASE("N replicas equal one device with clipping, weight decay, gradient accumulation and a schedule",
          "[parallel][equivalence][optimizer]") {
  OptimizerConfig oc;  // SGD: an adaptive optimizer magnifies the sums' rounding where g is near 0
  oc.name = "sgd";
  oc.learning_rate = 0.1;
  oc.momentum = 0.9;
  oc.clipnorm = 0.05;
  oc.weight_decay = 0.1;
  oc.gradient_accumulation_steps = 2;
  LearningRateSchedule decay;
  decay.class_name = "ExponentialDecay";
  decay.decay_steps = 2;
  decay.decay_rate = 0.7;
  oc.schedule = decay;  // from the optimizer's 0.1
  auto opt = make_optimizer(oc);
  for (const Case& cs : kCases) {
    const double d = train_and_compare(cs, {}, digits_cnn, *opt);
    std::printf("equivalence digits-cnn %s R=%d B=%lld: max|dw|/max|w| = %.3g\n", opt->describe().c_str(), cs.replicas,
                (long long)cs.batch, d);
    INFO("R=" << cs.replicas << " B=" << cs.batch);
    CHECK(d <= 1e-5);
  }
  ParallelOptions ps;  // the server alone accumulates and updates; the workers take its weights
  ps.strategy = Strategy::parameter_server;
  CHECK(train_and_compare({3, 12}, ps, digits_cnn, *opt) <= 1e-5);
}

TEST_CASE("N replicas equal one device: weights after several steps (dropout; divisible, not, smaller than N)",
          "[parallel][equivalence]") {
  SGD opt(0.1, 0.9);
  for (const Case& cs : kCases) {
    const double d = train_and_compare(cs, {}, digits_cnn, opt);
    std::printf("equivalence digits-cnn (dropout) R=%d B=%lld: max|dw|/max|w| = %.3g\n", cs.replicas,
                (long long)cs.batch, d);
    INFO("R=" << cs.replicas << " B=" << cs.batch);
    CHECK(d <= 1e-5);
  }
}

TEST_CASE("N replicas equal one device for a graph model (residual Add, Concatenate, synced batch norm, dropout)",
          "[parallel][equivalence][graph]") {
  Adam opt(0.01);
  ParallelOptions sync;  // batch statistics over the global batch, as on one device
  sync.sync_batchnorm = true;
  for (const Case& cs : kCases) {
    const double d = train_and_compare(
        cs, sync, [] { return test::graph_net(11); }, opt);
    std::printf("equivalence graph-net R=%d B=%lld: max|dw|/max|w| = %.3g\n", cs.replicas, (long long)cs.batch, d);
    INFO("R=" << cs.replicas << " B=" << cs.batch);
    CHECK(d <= 1e-5);
  }
}

TEST_CASE("each replica is prepared for the most rows any batch up to the global one gives it", "[parallel][slices]") {
  for (int64_t n = 1; n <= 9; ++n)
    for (int64_t b = 1; b <= 40; ++b)
      for (int64_t r = 0; r < n; ++r) {
        int64_t most = 0;  // by brute force over every batch an epoch can end with
        for (int64_t rows = 1; rows <= b; ++rows) most = std::max(most, batch_slice(rows, n, r).count);
        INFO("N=" << n << " B=" << b << " r=" << r);
        CHECK(max_slice_rows(b, n, r) == most);
      }
  CHECK(max_slice_rows(8, 4, 3) == 4);  // a final batch of 7 over 4 replicas: 1, 1, 1, 4
  CHECK(max_slice_rows(512, 8, 7) == 70);
}

// An epoch's last batch can give the last replica more rows than a full batch does (15 samples,
// batch 8, 4 replicas: the last batch of 7 splits 1, 1, 1, 4). Once an error ("batch of 4 rows
// exceeds the prepared 2"); now the same weights as one device.
TEST_CASE("full epochs whose last batch gives the last replica more rows than a full one", "[parallel][slices]") {
  Dataset data = make_synthetic({8, 8, 1}, 10, 15, 5);
  auto one = find_preset("digits-cnn").make();
  auto many = find_preset("digits-cnn").make();
  one->build({8, 8, 1}, 11);
  many->build({8, 8, 1}, 11);
  FitOptions fo;
  fo.epochs = 2;
  fo.batch_size = 8;
  fo.verbose = 0;
  fo.seed = 3;
  SGD opt(0.1, 0.9);
  Trainer(*one, cpus(1), LossKind::categorical_crossentropy, opt, 1, {}).fit(data, nullptr, fo, {});
  Trainer(*many, cpus(4), LossKind::categorical_crossentropy, opt, 1, {}).fit(data, nullptr, fo, {});
  const double d = rel_diff(*one, *many);
  std::printf("equivalence digits-cnn R=4 B=8, 15 samples (last batch 7: 1, 1, 1, 4): max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
}

TEST_CASE("replicas and batches beyond the machine's memory are refused before allocating", "[parallel][memory]") {
  auto model = find_preset("digits-cnn").make();
  model->build({8, 8, 1}, 1);
  SGD sgd(0.1, 0.9);
  Adam adam(0.001);
  set_host_memory_limit(int64_t(64) << 20);
  // digits-cnn: 35914 weights; with gradients and Adam's two slots 16 bytes each a replica.
  CHECK_THROWS_WITH(Trainer(*model, cpus(200), LossKind::categorical_crossentropy, adam, 1, {}),
                    "model 'digits-cnn' on 200 CPU replicas (weights, gradients and optimizer state in each) needs "
                    "110 MiB of memory, more than this machine's 64 MiB: lower --replicas");
  Trainer t(*model, cpus(2), LossKind::categorical_crossentropy, sgd, 1, {});
  Dataset data = make_synthetic({8, 8, 1}, 10, 100000, 1);
  CHECK_THROWS_WITH(t.fit(data, nullptr, [] { FitOptions f; f.batch_size = 50000; f.verbose = 0; return f; }(), {}),
                    Contains("a global batch of 50000 over 2 CPU replicas of model 'digits-cnn' needs") &&
                        Contains("of memory, more than this machine's 64 MiB: lower --batch-size or --replicas"));
  set_host_memory_limit(0);
  // A batch larger than the data trains on all of it at once, as Keras does (nothing sized past it).
  Dataset few = make_synthetic({8, 8, 1}, 10, 20, 1);
  FitOptions fo;
  fo.batch_size = int64_t(1) << 40;
  fo.verbose = 0;
  CHECK(t.fit(few, nullptr, fo, {}).at("loss").size() == 1);
}

TEST_CASE("synchronised batch norm: N replicas equal one device, moving statistics included",
          "[parallel][equivalence][bn]") {
  Adam opt(0.01);
  ParallelOptions po;
  po.sync_batchnorm = true;
  for (const Case& cs : kCases) {
    const double d = train_and_compare(
        cs, po, [] { return test::bn_dropout_net(11); }, opt);
    std::printf("equivalence bn-net --sync-batchnorm R=%d B=%lld: max|dw|/max|w| = %.3g\n", cs.replicas,
                (long long)cs.batch, d);
    INFO("R=" << cs.replicas << " B=" << cs.batch);
    CHECK(d <= 1e-5);
  }
  // Without synchronisation each replica normalises its own slice, as multi_gpu_model does:
  // the result differs from one device (the flag is what makes them equal).
  const double unsynced = train_and_compare(
      {4, 12}, {}, [] { return test::bn_dropout_net(11); }, opt);
  CHECK(unsynced > 1e-4);
}

TEST_CASE("without sync, moving statistics are merged every step and replicas stay identical", "[parallel][bn]") {
  Dataset data = make_synthetic({8, 8, 1}, 10, 12, 9);
  data.to_one_hot();
  auto run = [&](int replicas, std::unique_ptr<Trainer>& t, std::unique_ptr<Sequential>& m) {
    m = test::bn_dropout_net(2);
    static Adam opt;
    t = std::make_unique<Trainer>(*m, cpus(replicas), LossKind::categorical_crossentropy, opt, 1);
    t->prepare(12, data);
    std::vector<int64_t> idx(12);
    for (int i = 0; i < 12; ++i) idx[size_t(i)] = i;
    t->load_batch(data, idx.data(), 12);
    for (int step = 0; step < 3; ++step) t->train_step(12, 0, step, nullptr);
  };
  std::unique_ptr<Trainer> t3, t1;
  std::unique_ptr<Sequential> m3, m1;
  run(3, t3, m3);
  run(1, t1, m1);
  const int64_t T = m3->num_trainable(), P = m3->num_params();
  REQUIRE(P > T);
  for (int r = 1; r < 3; ++r)  // the whole arena, moving statistics included
    CHECK(std::memcmp(t3->replica_model(r).params(), t3->replica_model(0).params(), sizeof(float) * size_t(P)) == 0);
  // Per-slice statistics: not what one device computes over the whole batch.
  CHECK(std::memcmp(t3->replica_model(0).params() + T, t1->replica_model(0).params() + T, sizeof(float) * size_t(P - T)) != 0);
  t3->check_replicas(0, 2);  // passes: nothing diverged
}

TEST_CASE("parameter server gives the same weights as all-reduce", "[parallel][ps]") {
  RMSprop opt(0.01, 0.9, 0.5);
  ParallelOptions ps;
  ps.strategy = Strategy::parameter_server;
  for (const Case& cs : {Case{3, 10}, Case{4, 3}}) {
    Dataset data = make_synthetic({8, 8, 1}, 10, 30, 1);
    const Preset& p = find_preset("digits-cnn");
    auto a = p.make(), b = p.make();
    a->build(p.input, 4);
    b->build(p.input, 4);
    FitOptions fo;
    fo.batch_size = cs.batch;
    fo.steps_per_epoch = 4;
    fo.verbose = 0;
    Trainer(*a, cpus(cs.replicas), LossKind::categorical_crossentropy, opt, 1).fit(data, nullptr, fo, {});
    Trainer tb(*b, cpus(cs.replicas), LossKind::categorical_crossentropy, opt, 1, ps);
    tb.fit(data, nullptr, fo, {});
    const double d = rel_diff(*a, *b);
    std::printf("ps vs allreduce R=%d B=%lld: max|dw|/max|w| = %.3g\n", cs.replicas, (long long)cs.batch, d);
    CHECK(d == 0.0);  // the same rank-ordered sums and the same update arithmetic
    for (int r = 1; r < cs.replicas; ++r)
      CHECK(std::memcmp(tb.replica_model(r).params(), tb.replica_model(0).params(),
                        sizeof(float) * size_t(b->num_trainable())) == 0);
  }
}

TEST_CASE("evaluate and predict give the same outputs for every replica count", "[parallel]") {
  auto m = test::bn_dropout_net(6);
  Dataset data = make_synthetic({8, 8, 1}, 10, 23, 9);
  Adam opt;
  Trainer t1(*m, cpus(1), LossKind::categorical_crossentropy, opt, 1);
  const auto p1 = t1.predict(data, 7);
  const EvalResult e1 = t1.evaluate(data, 7);
  for (int R : {2, 3, 4}) {
    Trainer tr(*m, cpus(R), LossKind::categorical_crossentropy, opt, 1);
    const auto pr = tr.predict(data, 7);
    REQUIRE(pr.size() == p1.size());
    for (size_t i = 0; i < pr.size(); ++i) REQUIRE(pr[i] == Catch::Detail::Approx(p1[i]).epsilon(1e-6));
    const EvalResult er = tr.evaluate(data, 7);
    CHECK(er.loss == Catch::Detail::Approx(e1.loss).epsilon(1e-6));
    CHECK(er.metrics == e1.metrics);
  }
}

TEST_CASE("replica consistency check names the replicas that diverged", "[parallel][check]") {
  const Preset& p = find_preset("digits-cnn");
  auto m = p.make();
  m->build(p.input, 1);
  Adam opt;
  ParallelOptions po;
  po.check_every = 1;
  Trainer t(*m, cpus(4), LossKind::categorical_crossentropy, opt, 1, po);
  Dataset data = make_synthetic({8, 8, 1}, 10, 16, 3);
  FitOptions fo;
  fo.batch_size = 8;
  fo.epochs = 1;
  fo.verbose = 0;
  t.fit(data, nullptr, fo, {});  // passes the check every step
  t.replica_model(2).params()[5] += 1.f;
  t.replica_model(3).params()[0] -= 1.f;
  CHECK_THROWS_WITH(t.check_replicas(0, 6),
                    "replica weights diverged at epoch 1, step 7: replica(s) 2, 3 differ from replica 0; training stopped");
}

TEST_CASE("device selection errors say what was asked and what exists", "[parallel][devices]") {
  CHECK(select_devices("", 0).size() == 1);
  CHECK(select_devices("", 3)[2] == Device::cpu(2));
  CHECK_THROWS_WITH(select_devices("", -2), "--replicas must be >= 1, got -2");
  CHECK_THROWS_WITH(select_devices("1", 2), "give either --gpus or --replicas, not both");
  CHECK_THROWS_WITH(select_devices("0", 0), "--gpus must ask for at least 1 GPU, got 0");
  CHECK_THROWS_WITH(select_devices("1,0,1", 0), "--gpus 1,0,1 names GPU 1 twice");
  CHECK_THROWS_WITH(select_devices("two", 0), "--gpus takes N, a list like 0,2, or 'all'; got 'two'");
  std::string why;
  if (visible_gpus(&why).empty()) {
    CHECK_THROWS_WITH(select_devices("2", 0), Contains("--gpus 2 asked for GPUs, but "));
    CHECK_THROWS_WITH(select_devices("all", 0), Contains(built_with_cuda() ? "CUDA_VISIBLE_DEVICES" : "built without CUDA"));
    const Preset& p = find_preset("digits-mlp");
    auto m = p.make();
    m->build(p.input, 1);
    CHECK_THROWS_WITH(multi_gpu_model(*m, 2), Contains("asked for GPUs"));
  } else {
    const int n = int(visible_gpus(nullptr).size());
    CHECK_THROWS_WITH(select_devices(std::to_string(n + 1), 0),
                      Contains("asked for " + std::to_string(n + 1) + " GPUs but only " + std::to_string(n)));
  }
}

TEST_CASE("ParallelModel: after fit the template holds the merged weights and saves for one device",
          "[parallel][template]") {
  const std::string dir = test::temp_dir("pm");
  auto tmpl = test::bn_dropout_net(8);
  ParallelModel pm(*tmpl, cpus(3), 2);
  RMSprop opt(0.01);
  pm.compile(LossKind::sparse_categorical_crossentropy, opt);
  Dataset data = make_synthetic({8, 8, 1}, 10, 30, 4);
  FitOptions fo;
  fo.batch_size = 10;
  fo.epochs = 2;
  fo.verbose = 0;
  pm.fit(data, nullptr, fo);
  const auto want = pm.predict(data, 10);
  save_weights(pm.template_model(), dir + "/merged.h5");
  auto single = test::bn_dropout_net(99);
  load_weights(*single, dir + "/merged.h5");
  Adam any;
  Trainer one(*single, cpus(1), LossKind::sparse_categorical_crossentropy, any, 1);
  const auto got = one.predict(data, 30);
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Catch::Detail::Approx(want[i]).epsilon(1e-6));
}

TEST_CASE("class weights: the same weights for 1 and 3 replicas, and not those of an unweighted run",
          "[parallel][class_weight]") {
  Dataset data = make_synthetic({8, 8, 1}, 10, 37, 5);
  FitOptions fo;
  fo.epochs = 2;
  fo.batch_size = 10;
  fo.steps_per_epoch = 3;
  fo.verbose = 0;
  fo.class_weight = {1, 2, 0.5, 1, 3, 1, 1, 0.25, 1, 1};
  SGD opt(0.1, 0.9);
  const Preset& p = find_preset("digits-cnn");
  auto one = p.make(), three = p.make(), plain = p.make();
  for (auto* m : {one.get(), three.get(), plain.get()}) m->build(p.input, 3);
  Trainer(*one, cpus(1), LossKind::categorical_crossentropy, opt, 1).fit(data, nullptr, fo, {});
  Trainer(*three, cpus(3), LossKind::categorical_crossentropy, opt, 1).fit(data, nullptr, fo, {});
  FitOptions unweighted = fo;
  unweighted.class_weight.clear();
  Trainer(*plain, cpus(1), LossKind::categorical_crossentropy, opt, 1).fit(data, nullptr, unweighted, {});
  const double d = rel_diff(*one, *three);
  std::printf("class weights R=3 vs R=1: max|dw|/max|w| = %.3g\n", d);
  CHECK(d <= 1e-5);
  CHECK(rel_diff(*one, *plain) > 1e-3);
}

TEST_CASE("callbacks run once per step on the host: identical runs for 1 and 3 replicas", "[parallel][callbacks]") {
  Dataset train = make_synthetic({8, 8, 1}, 10, 50, 5), val = make_synthetic({8, 8, 1}, 10, 20, 6);
  auto run = [&](int replicas, Sequential& m, std::vector<int64_t>* reduced) {
    SGD opt(0.05, 0.9);
    Trainer t(m, cpus(replicas), LossKind::categorical_crossentropy, opt, 1);
    LearningRateWarmup warm(0.05, 0.15, 1.5);
    auto sched = LearningRateScheduler::from_spec("step:2:0.5");
    ReduceLROnPlateau plateau("val_loss", 0.5, 1, MonitorMode::auto_, 0.0);
    EarlyStopping stop("val_loss", 0.0, 3);
    FitOptions fo;
    fo.epochs = 6;
    fo.batch_size = 10;
    fo.verbose = 0;
    fo.log_learning_rate = true;
    fo.class_weight = {1, 2, 1, 1, 0.5, 1, 1, 1, 3, 1};
    const History h = t.fit(train, &val, fo, {sched.get(), &warm, &plateau, &stop});
    *reduced = plateau.reductions();
    return h.at("learning_rate");
  };
  const Preset& p = find_preset("digits-cnn");
  auto a = p.make(), b = p.make();
  a->build(p.input, 8);
  b->build(p.input, 8);
  std::vector<int64_t> ra, rb;
  const auto lra = run(1, *a, &ra), lrb = run(3, *b, &rb);
  CHECK(lra == lrb);  // the same learning rate every epoch
  CHECK(ra == rb);    // the plateau rule acted at the same epochs
  CHECK(rel_diff(*a, *b) <= 1e-5);
}
