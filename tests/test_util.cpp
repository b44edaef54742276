// Test helpers.
#include "test_util.h"
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unistd.h>

namespace dpt::test {

std::vector<double> random_vec(size_t n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

std::vector<float> random_vecf(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

std::vector<double> numeric_grad(const std::function<double()>& f, std::vector<double>& x, double eps) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double fp = f();
    x[i] = keep - eps;
    const double fm = f();
    x[i] = keep;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

double worst_ratio(const std::vector<double>& a, const std::vector<double>& b, double atol, double rtol) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / (atol + rtol * std::abs(b[i])));
  return worst;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::string temp_dir(const std::string& tag) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("dpt_test_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string keras_fixtures() {
  namespace fs = std::filesystem;
  for (const char* rel : {"/../shared/fixtures/keras", "/../../shared/fixtures/keras"}) {
    fs::path p = std::string(DPT_SOURCE_DIR) + rel;
    if (fs::is_directory(p)) return fs::canonical(p).string();
  }
  return "";
}

}  // namespace dpt::test
