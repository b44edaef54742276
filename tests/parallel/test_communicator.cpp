// HostCommunicator collectives with real threads, and abort waking waiting replicas.
#include <catch2/catch.hpp>
#include <thread>
#include <vector>
#include "core/error.h"
#include "parallel/communicator.h"

using namespace dpt;

namespace {
template <typename F>
void on_threads(int n, F f) {
  std::vector<std::thread> ts;
  for (int r = 0; r < n; ++r) ts.emplace_back(f, r);
  for (auto& t : ts) t.join();
}
}  // namespace

TEST_CASE("host all-reduce, reduce and broadcast across 3 threads", "[parallel][comm]") {
  HostCommunicator comm(3);
  std::vector<std::vector<float>> bufs(3), red(3), bc(3);
  std::vector<std::vector<double>> dbl(3);
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 7; ++i) {
      bufs[r].push_back(float(r * 10 + i));
      red[r].push_back(float(r + 1));
      bc[r].push_back(float(100 * r + i));
      dbl[r].push_back(0.5 * r + i);
    }
  }
  on_threads(3, [&](int r) {
    for (int rep = 0; rep < 5; ++rep) comm.barrier(r);
    comm.all_reduce_sum(r, bufs[r].data(), 7);
    comm.all_reduce_sum(r, dbl[r].data(), 7);
    comm.reduce_sum(r, red[r].data(), 7, 1);
    comm.broadcast(r, bc[r].data(), 7, 2);
  });
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 7; ++i) {
      CHECK(bufs[r][i] == float(30 + 3 * i));  // (0 + 10 + 20) + 3i
      CHECK(dbl[r][i] == 1.5 + 3 * i);
      CHECK(red[r][i] == (r == 1 ? 6.f : float(r + 1)));  // only the root holds the sum
      CHECK(bc[r][i] == float(200 + i));
    }
}

TEST_CASE("abort wakes a replica waiting in a collective with an error", "[parallel][comm]") {
  HostCommunicator comm(2);
  std::string error;
  std::thread waiter([&] {
    try {
      comm.barrier(0);
    } catch (const Error& e) {
      error = e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  comm.abort();
  waiter.join();
  CHECK(error == "stopped: another replica failed");
}
