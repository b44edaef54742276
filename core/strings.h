// Small string helpers shared by the parsers of command-line values.
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

}  // namespace dpt
