// Small string helpers shared by the parsers of command-line values and the layers' listings.
#pragma once
#include <sstream>
#include <string>
#include <vector>

namespace dpt {

// "a,b," -> {"a", "b", ""}: every field, empty ones included (a trailing separator gives one).
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep)) out.push_back(part);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

// One value as itself ("0.5"), several as a list ("[1, 2, 3]"): Keras's way of showing a setting
// that takes a number or a list (Rescaling's scale, LayerNormalization's axis).
template <typename T>
std::string one_or_list_str(const std::vector<T>& v) {
  std::ostringstream os;
  if (v.size() == 1) {
    os << v[0];
    return os.str();
  }
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "]";
  return os.str();
}

}  // namespace dpt
