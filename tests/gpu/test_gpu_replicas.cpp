// Several replicas on GPUs: replicas sharing one GPU (the multi-replica GPU path without NCCL, so
// a one-GPU machine checks it) and N GPUs over NCCL (as many as are visible) against one device,
// both communicators' collectives (NCCL with one rank where one GPU is visible), and NCCL's error
// message.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include "gpu/gpu_test_util.h"
#include "kernels/cuda_backend.h"
#include "parallel/communicator.h"
#include "parallel/replica_pool.h"
#include "test_util.h"

using namespace dpt;
using Catch::Contains;

namespace {

// The visible GPUs when NCCL can run across them (2 or more); else says the test was skipped. On
// one GPU the reason is "one GPU", not "no GPU": CTest marks a whole run skipped only for the latter.
int nccl_gpus() {
  const int n = test::gpu_count();
  if (n == 1) WARN("SKIPPED (one GPU): NCCL across GPUs needs 2 visible GPUs, this machine has 1");
  return n;
}

}  // namespace

TEST_CASE("N GPUs (NCCL) equal one device; ps and sync batch norm too", "[gpu][nccl]") {
  const int n = nccl_gpus();
  if (n < 2) return;
  for (int k = 2; k <= n; ++k) {
    for (int64_t batch : {int64_t(24), int64_t(4 * k - 1)}) {
      const double d = test::train_pair("digits-cnn", test::cpus(1), test::gpus(k), batch, {});
      std::printf("%d GPUs vs CPU digits-cnn B=%lld: max|dw|/max|w| = %.3g\n", k, (long long)batch, d);
      CHECK(d < 1e-4);
    }
    ParallelOptions ps;
    ps.strategy = Strategy::parameter_server;
    CHECK(test::train_pair("digits-cnn", test::cpus(1), test::gpus(k), 24, ps) < 1e-4);
    ParallelOptions sync;
    sync.sync_batchnorm = true;
    CHECK(test::train_pair("bn-net", test::cpus(1), test::gpus(k), 24, sync) < 1e-4);
    CHECK(test::train_pair("graph-net", test::cpus(1), test::gpus(k), 24, sync) < 1e-4);  // a residual graph
    CHECK(test::train_pair("embed-net", test::cpus(1), test::gpus(k), 24, {}) < 1e-4);    // each GPU sorts its indices
    CHECK(test::train_pair("bidir-net", test::cpus(1), test::gpus(k), 24, {}) < 1e-4);    // recurrent layers, merged
    CHECK(test::train_pair("tdist-net", test::cpus(1), test::gpus(k), 24, {}) < 1e-4);    // dropout keyed per step
    CHECK(test::train_pair("rnn-dropout-net", test::cpus(1), test::gpus(k), 24, {}) < 1e-4);  // masks per sample
  }
}

TEST_CASE("Replicas sharing one GPU equal one device: buckets, ps, sync batch norm, moving statistics",
          "[gpu][replicas]") {
  if (test::gpu_count() == 0) return;
  // The Trainer's multi-replica GPU path (comm stream, events, join, ps, sync BN) without NCCL.
  for (int k : {2, 3, 4}) {  // with the 1-GPU tests: 1, 2, 3 and 4 replicas, as DESIGN asks
    for (int64_t batch : {int64_t(24), int64_t(4 * k - 1)}) {
      ParallelOptions po;
      po.bucket_bytes = 4096;  // several buckets in flight during backward
      const double d = test::train_pair("digits-cnn", test::cpus(1), test::on_gpu0(k), batch, po);
      std::printf("%d replicas on 1 GPU vs CPU digits-cnn B=%lld: max|dw|/max|w| = %.3g\n", k, (long long)batch, d);
      CHECK(d < 1e-4);
    }
    ParallelOptions ps;
    ps.strategy = Strategy::parameter_server;
    const double dps = test::train_pair("digits-cnn", test::cpus(1), test::on_gpu0(k), 24, ps);
    std::printf("%d replicas on 1 GPU vs CPU digits-cnn ps: max|dw|/max|w| = %.3g\n", k, dps);
    CHECK(dps < 1e-4);
    ParallelOptions sync;
    sync.sync_batchnorm = true;
    const double dsync = test::train_pair("bn-net", test::cpus(1), test::on_gpu0(k), 24, sync);
    std::printf("%d replicas on 1 GPU vs CPU bn-net sync BN: max|dw|/max|w| = %.3g\n", k, dsync);
    CHECK(dsync < 1e-4);
    // Per-replica statistics, merged every step: the same as k CPU replicas.
    // Embedding: each replica's table gradient from its own sort, summed across replicas; the
    // recurrent layers (and their dropout masks), Bidirectional's merges, TimeDistributed's per-step
    // Dropout.
    for (const char* which : {"embed-net", "dot-net", "two-tower-net", "attention-net", "masked-attention-net",
                              "luong-net", "bahdanau-net", "gqa-net", "lstm-net", "gru-net", "rnn-dropout-net",
                              "gru-v1-net", "bidir-net", "tdist-net", "masked-rnn-net", "maskout-net"}) {
      const double d = test::train_pair(which, test::cpus(1), test::on_gpu0(k), 24, {});
      std::printf("%d replicas on 1 GPU vs CPU %s: max|dw|/max|w| = %.3g\n", k, which, d);
      INFO(which);
      CHECK(d < 1e-4);
    }
    const double dbn = test::train_pair("bn-net", test::cpus(k), test::on_gpu0(k), 24, {});
    std::printf("%d replicas on 1 GPU vs %d CPU replicas bn-net: max|dw|/max|w| = %.3g\n", k, k, dbn);
    CHECK(dbn < 1e-4);
  }
}

TEST_CASE("Shared-GPU communicator: sums, reduce to root and broadcast between replicas of one GPU",
          "[gpu][replicas]") {
  if (test::gpu_count() == 0) return;
  const int n = 3;
  std::vector<std::unique_ptr<kernels::CudaResources, kernels::CudaResourcesDeleter>> res;
  std::vector<kernels::CudaResources*> streams;
  std::vector<Tensor> f, d;
  std::vector<std::vector<float>> host;
  const int64_t len = 100003;
  for (int r = 0; r < n; ++r) {
    res.emplace_back(kernels::cuda_resources_create(0, false));
    streams.push_back(res.back().get());
    host.push_back(test::random_vecf(size_t(len), 50 + r));
    f.push_back(test::to_gpu(host.back(), {len}));
    d.push_back(test::to_gpu(host.back(), {len}));  // reduce-to-root target
  }
  auto comm = make_shared_gpu_communicator(0, streams);
  std::vector<float> want(size_t(len), 0.f);
  for (int64_t i = 0; i < len; ++i)
    for (int r = 0; r < n; ++r) want[size_t(i)] += host[size_t(r)][size_t(i)];  // rank order, as the kernel
  auto work = [&](int r) {
    kernels::cuda_set_device(0);
    comm->all_reduce_sum(r, f[size_t(r)].data(), len);
    comm->reduce_sum(r, d[size_t(r)].data(), len, 1);
    comm->join(r);
    kernels::cuda_stream_sync(*streams[size_t(r)]);
  };
  ReplicaPool(n, nullptr, [&] { comm->abort(); }).run(work);
  for (int r = 0; r < n; ++r) {
    CHECK(test::to_host(f[size_t(r)].data(), Device::cuda(0), len) == want);  // bit for bit
    const auto got = test::to_host(d[size_t(r)].data(), Device::cuda(0), len);
    CHECK(got == (r == 1 ? want : host[size_t(r)]));
  }
  auto bcast = [&](int r) {
    comm->broadcast(r, f[size_t(r)].data(), len, 2);
    comm->join(r);
    kernels::cuda_stream_sync(*streams[size_t(r)]);
  };
  for (int r = 0; r < n; ++r)
    copy_floats(f[size_t(r)].data(), Device::cuda(0), host[size_t(r)].data(), Device::cpu(), len);
  ReplicaPool(n, nullptr, [&] { comm->abort(); }).run(bcast);
  for (int r = 0; r < n; ++r) CHECK(test::to_host(f[size_t(r)].data(), Device::cuda(0), len) == host[2]);
}

// The shared-GPU communicator's barrier, then a replica that fails before a collective: the others,
// waiting for it in theirs, are woken by abort() and stop with "another replica failed" instead of
// waiting forever; the pool reports the first failure.
TEST_CASE("Shared-GPU communicator: barrier; a replica that fails stops the others waiting in a collective",
          "[gpu][replicas]") {
  if (test::gpu_count() == 0) return;
  const int n = 3;
  std::vector<std::unique_ptr<kernels::CudaResources, kernels::CudaResourcesDeleter>> res;
  std::vector<kernels::CudaResources*> streams;
  std::vector<Tensor> f;
  const int64_t len = 1000;
  for (int r = 0; r < n; ++r) {
    res.emplace_back(kernels::cuda_resources_create(0, false));
    streams.push_back(res.back().get());
    f.push_back(test::to_gpu(test::random_vecf(size_t(len), 17 + r), {len}));
  }
  auto comm = make_shared_gpu_communicator(0, streams);
  // The barrier: no replica passes it before every one has reached it.
  std::atomic<int> arrived{0};
  std::vector<int> seen(size_t(n), -1);
  auto meet = [&](int r) {
    kernels::cuda_set_device(0);
    ++arrived;
    comm->barrier(r);
    seen[size_t(r)] = arrived.load();
  };
  ReplicaPool(n, nullptr, [&] { comm->abort(); }).run(meet);
  for (int r = 0; r < n; ++r) CHECK(seen[size_t(r)] == n);
  // A failure: ranks 1 and 2 wait in all_reduce_sum for rank 0, which throws instead.
  std::vector<std::string> why(static_cast<size_t>(n));
  auto work = [&](int r) {
    kernels::cuda_set_device(0);
    try {
      if (r == 0) throw std::runtime_error("replica 0 failed");
      comm->all_reduce_sum(r, f[size_t(r)].data(), len);
    } catch (const std::exception& e) {
      why[size_t(r)] = e.what();
      throw;
    }
  };
  try {
    ReplicaPool(n, nullptr, [&] { comm->abort(); }).run(work);
    FAIL("the failure was not reported");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()) == "replica 0 failed");
  }
  for (int r = 1; r < n; ++r) CHECK(why[size_t(r)] == "stopped: another replica failed");
  comm.reset();  // after an abort: the streams are waited for and released
}

// NCCL over every visible GPU; with one GPU, NCCL with one rank (its collectives copy or leave the
// buffer): the calls, streams, events and error checks run, the sums across GPUs need 2.
TEST_CASE("NCCL communicator: sums, reduce to root and broadcast over the visible GPUs", "[gpu][nccl]") {
  const int n = test::gpu_count();
  if (n == 0) return;
  if (n == 1) WARN("NCCL runs with one rank here: sums across GPUs need 2 visible GPUs, this machine has 1");
  std::vector<std::unique_ptr<kernels::CudaResources, kernels::CudaResourcesDeleter>> res;
  std::vector<kernels::CudaResources*> streams;
  std::vector<int> idx;
  std::vector<Tensor> f, g;
  std::vector<std::vector<float>> host;
  std::vector<std::vector<double>> hostd;
  const int64_t len = 1000003;
  for (int r = 0; r < n; ++r) {
    res.emplace_back(kernels::cuda_resources_create(r, false));
    streams.push_back(res.back().get());
    idx.push_back(r);
    host.push_back(test::random_vecf(size_t(len), 90 + r));
    hostd.push_back(test::random_vec(size_t(len), 190 + r));
  }
  // Copies on each rank's compute stream, which the collectives wait for (its streams do not wait
  // for the legacy default stream). Doubles (batch-norm statistics are reduced in double) travel in
  // a float tensor of twice the length.
  auto upload = [&](const float* h, int64_t count, int r) {
    Tensor t(Shape{count}, Device::cuda(r));
    copy_floats(t.data(), t.device(), h, Device::cpu(), count, streams[size_t(r)]);
    return t;
  };
  std::vector<Tensor> d;
  for (int r = 0; r < n; ++r) {
    f.push_back(upload(host[size_t(r)].data(), len, r));
    g.push_back(upload(host[size_t(r)].data(), len, r));
    d.push_back(upload(reinterpret_cast<const float*>(hostd[size_t(r)].data()), 2 * len, r));
  }
  auto comm = make_nccl_communicator(idx, streams);
  REQUIRE(comm->size() == n);
  std::vector<float> want(size_t(len), 0.f);
  std::vector<double> wantd(size_t(len), 0.0);
  for (int r = 0; r < n; ++r)
    for (int64_t i = 0; i < len; ++i) {
      want[size_t(i)] += host[size_t(r)][size_t(i)];
      wantd[size_t(i)] += hostd[size_t(r)][size_t(i)];
    }
  const int root = n - 1;
  auto work = [&](int r) {
    kernels::cuda_set_device(r);
    comm->all_reduce_sum(r, f[size_t(r)].data(), len);
    comm->all_reduce_sum(r, reinterpret_cast<double*>(d[size_t(r)].data()), len);
    comm->reduce_sum(r, g[size_t(r)].data(), len, root);
    comm->join(r);
    comm->barrier(r);
    kernels::cuda_stream_sync(*streams[size_t(r)]);
  };
  ReplicaPool(n, nullptr, [&] { comm->abort(); }).run(work);
  for (int r = 0; r < n; ++r) {
    test::expect_close(test::to_host(f[size_t(r)].data(), Device::cuda(r), len), want, 1e-5, 1e-5, "all-reduce");
    test::expect_close(test::to_host(g[size_t(r)].data(), Device::cuda(r), len), r == root ? want : host[size_t(r)],
                       1e-5, 1e-5, "reduce to the root");
    const auto got = test::to_host(d[size_t(r)].data(), Device::cuda(r), 2 * len);
    const double* gd = reinterpret_cast<const double*>(got.data());
    double worst = 0;
    for (int64_t i = 0; i < len; ++i) worst = std::max(worst, std::abs(gd[i] - wantd[size_t(i)]));
    INFO("double all-reduce on rank " << r);
    CHECK(worst <= 1e-12);
  }
  auto bcast = [&](int r) {
    kernels::cuda_set_device(r);
    copy_floats(f[size_t(r)].data(), Device::cuda(r), host[size_t(r)].data(), Device::cpu(), len, streams[size_t(r)]);
    comm->broadcast(r, f[size_t(r)].data(), len, 0);
    comm->join(r);
    kernels::cuda_stream_sync(*streams[size_t(r)]);
  };
  ReplicaPool(n, nullptr, [&] { comm->abort(); }).run(bcast);
  for (int r = 0; r < n; ++r) CHECK(test::to_host(f[size_t(r)].data(), Device::cuda(r), len) == host[0]);
  std::printf("NCCL communicator over %d GPU%s: all-reduce (float, double), reduce, broadcast, barrier checked\n", n,
              n == 1 ? " (one rank)" : "s");
}

// A replica that fails before its collective: the others, waiting in theirs on their streams, are
// woken by abort(), and stop at their next collective; the pool reports the first failure.
TEST_CASE("NCCL: a replica that fails stops the others waiting in a collective", "[gpu][nccl]") {
  const int n = nccl_gpus();
  if (n < 2) return;
  std::vector<std::unique_ptr<kernels::CudaResources, kernels::CudaResourcesDeleter>> res;
  std::vector<kernels::CudaResources*> streams;
  std::vector<int> idx;
  std::vector<Tensor> f;
  const int64_t len = 1000;
  for (int r = 0; r < n; ++r) {
    res.emplace_back(kernels::cuda_resources_create(r, false));
    streams.push_back(res.back().get());
    idx.push_back(r);
    f.push_back(test::to_gpu(test::random_vecf(size_t(len), 7 + r), {len}, r));
  }
  auto comm = make_nccl_communicator(idx, streams);
  std::vector<int> reached(size_t(n), 0);
  std::atomic<int> called{0};
  auto work = [&](int r) {
    kernels::cuda_set_device(r);
    if (r == 0) {  // fails once every other replica has queued its part of the collective
      const auto start = std::chrono::steady_clock::now();
      while (called.load() < n - 1) {
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(60))
          throw std::runtime_error("the other replicas' ncclAllReduce calls did not return");
        std::this_thread::yield();
      }
      throw std::runtime_error("replica 0 failed");
    }
    comm->all_reduce_sum(r, f[size_t(r)].data(), len);
    ++called;
    comm->join(r);
    kernels::cuda_stream_sync(*streams[size_t(r)]);  // returns once rank 0's failure aborts NCCL
    reached[size_t(r)] = 1;
    comm->all_reduce_sum(r, f[size_t(r)].data(), len);
  };
  try {
    ReplicaPool(n, nullptr, [&] { comm->abort(); }).run(work);
    FAIL("the failure was not reported");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()) == "replica 0 failed");
  }
  comm.reset();  // after an abort: no NCCL call, the streams are waited for and released
  for (int r = 1; r < n; ++r) CHECK(reached[size_t(r)] == 1);
}

// A failing NCCL call names ncclGetErrorString's reason and the devices. NCCL refuses two ranks on
// one GPU (ncclInvalidUsage), which any machine with a GPU can show.
TEST_CASE("NCCL failures name NCCL's reason and the devices", "[gpu][nccl]") {
  if (test::gpu_count() == 0) return;
  std::vector<std::unique_ptr<kernels::CudaResources, kernels::CudaResourcesDeleter>> res;
  std::vector<kernels::CudaResources*> streams;
  for (int r = 0; r < 2; ++r) {
    res.emplace_back(kernels::cuda_resources_create(0, false));
    streams.push_back(res.back().get());
  }
  try {
    make_nccl_communicator({0, 0}, streams);
    FAIL("NCCL accepted two ranks on one GPU");
  } catch (const std::exception& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK_THAT(what, Contains("NCCL could not create communicators over 2 GPUs (cuda:0, cuda:0): "));
    CHECK_THAT(what, Contains("invalid usage"));
  }
}
