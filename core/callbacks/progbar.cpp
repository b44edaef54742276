// Progress bar and per-epoch lines.
#include "core/callbacks/progbar.h"
#include <unistd.h>
#include <algorithm>
#include <cmath>

namespace dpt {

std::string format_logs(const Logs& logs) {
  std::string s;
  char buf[64];
  for (size_t i = 0; i < logs.names.size(); ++i) {
    if (!logs.present[i]) continue;
    const double v = logs.values[i];  // Keras's Progbar: %.4f, or %.4e below 1e-3
    std::snprintf(buf, sizeof buf, std::abs(v) > 1e-3 || v == 0 ? "%.4f" : "%.4e", v);
    s += " - " + logs.names[i] + ": " + buf;
  }
  return s;
}

std::string format_duration(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0fs", std::floor(seconds));
  return buf;
}

ProgressBar::ProgressBar(FILE* out, bool force_tty) : out_(out), tty_(force_tty || isatty(fileno(out))) {}

void ProgressBar::on_train_begin(const TrainInfo& info) { info_ = info; }

void ProgressBar::on_epoch_begin(int64_t epoch) {
  epoch_ = epoch;
  start_ = last_draw_ = Clock::now();
  if (info_.verbose == 1 && tty_) std::fprintf(out_, "Epoch %lld/%lld\n", (long long)epoch + 1, (long long)info_.epochs);
}

void ProgressBar::on_batch_end(int64_t step, const Logs& logs) {
  if (info_.verbose != 1 || !tty_) return;
  const auto now = Clock::now();
  if (step + 1 < info_.steps_per_epoch && now - last_draw_ < std::chrono::milliseconds(50)) return;
  last_draw_ = now;
  draw(step, logs, false);
}

void ProgressBar::draw(int64_t step, const Logs& logs, bool final) {
  const int64_t total = info_.steps_per_epoch, done = step + 1;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const int width = 30;
  const int filled = int(double(width) * double(done) / double(total));
  std::string bar(size_t(filled), '=');
  if (filled < width) {
    bar += '>';
    bar += std::string(size_t(width - filled - 1), '.');
  }
  const int digits = int(std::to_string(total).size());
  char head[160];
  if (final || done == total) {
    std::snprintf(head, sizeof head, "\r%*lld/%lld [%s] - %s %.0fms/step", digits, (long long)done, (long long)total,
                  bar.c_str(), format_duration(elapsed).c_str(), 1000.0 * elapsed / double(done));
  } else {
    const double eta = elapsed / double(done) * double(total - done);
    std::snprintf(head, sizeof head, "\r%*lld/%lld [%s] - ETA: %s", digits, (long long)done, (long long)total,
                  bar.c_str(), format_duration(eta).c_str());
  }
  std::fprintf(out_, "%s%s\x1b[K", head, format_logs(logs).c_str());
  std::fflush(out_);
}

void ProgressBar::on_epoch_end(int64_t epoch, const Logs& logs) {
  if (info_.verbose == 0) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  if (info_.verbose == 1 && tty_) {
    draw(info_.steps_per_epoch - 1, logs, true);
    std::fprintf(out_, "\n");
  } else {
    const int64_t steps = std::max<int64_t>(info_.steps_per_epoch, 1);
    std::fprintf(out_, "Epoch %lld/%lld - %lld/%lld - %s %.0fms/step%s\n", (long long)epoch + 1,
                 (long long)info_.epochs, (long long)steps, (long long)steps, format_duration(elapsed).c_str(),
                 1000.0 * elapsed / double(steps), format_logs(logs).c_str());
  }
  std::fflush(out_);
}

}  // namespace dpt
