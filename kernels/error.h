// Errors: dpt::Error carries file:line and a message a user can act on; DPT_CHECK throws it.
// It lives in kernels/ (the lowest layer) so every layer above can throw and catch the same type.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dpt {

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, const char* file, int line)
      : std::runtime_error(message), where_(std::string(file) + ":" + std::to_string(line)) {}
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

}  // namespace dpt

// DPT_CHECK(cond, "expected " << a << ", got " << b): the message is built only on failure.
#define DPT_CHECK(cond, msg)                                   \
  do {                                                         \
    if (!(cond)) {                                             \
      std::ostringstream dpt_check_os_;                        \
      dpt_check_os_ << msg;                                    \
      throw ::dpt::Error(dpt_check_os_.str(), __FILE__, __LINE__); \
    }                                                          \
  } while (0)

#define DPT_FAIL(msg) DPT_CHECK(false, msg)
