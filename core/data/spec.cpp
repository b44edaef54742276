// Parses a data spec and loads it.
#include "core/data/spec.h"
#include "core/data/digits.h"
#include "core/data/readers.h"
#include "core/error.h"
#include "core/strings.h"

namespace dpt {

const char* const kDataSpecHelp =
    "digits | synthetic:H,W,C:CLASSES:N[:VOCAB] | cifar10:DIR | mnist:DIR | h5:FILE[:XNAME,YNAME[,WNAME]] | "
    "npy:XFILE[,YFILE[,WFILE]] (a model of several inputs: XNAME or XFILE as A+B+...)";

static int64_t parse_int(const std::string& s, const std::string& spec) {
  size_t pos = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &pos);
  } catch (...) {
    pos = 0;
  }
  DPT_CHECK(pos == s.size() && !s.empty() && v > 0, "bad data spec '" << spec << "': '" << s << "' is not a positive whole number (expected " << kDataSpecHelp << ")");
  return v;
}

DataSplits load_data_spec(const std::string& spec, uint64_t seed) {
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  DataSplits s;
  if (kind == "digits" && rest.empty()) {
    s.train = load_digits();
    s.description = "digits (1797 samples, 8x8x1, 10 classes; embedded)";
  } else if (kind == "synthetic") {
    auto parts = split(rest, ':');
    DPT_CHECK(parts.size() == 3 || parts.size() == 4,
              "bad data spec '" << spec << "': expected synthetic:H,W,C:CLASSES:N (or :VOCAB after N for indices)");
    Shape shape;
    for (auto& d : split(parts[0], ',')) shape.push_back(parse_int(d, spec));
    const int64_t vocab = parts.size() == 4 ? parse_int(parts[3], spec) : 0;
    s.train = make_synthetic(shape, parse_int(parts[1], spec), parse_int(parts[2], spec), seed, vocab);
    s.description = "synthetic " + shape_str(shape) + " x " + parts[2] + ", " + parts[1] + " classes";
    if (vocab) s.description += ", indices in [0, " + parts[3] + ")";
  } else if (kind == "cifar10" && !rest.empty()) {
    s = load_cifar10(rest);
  } else if (kind == "mnist" && !rest.empty()) {
    s = load_mnist(rest);
  } else if (kind == "h5" && !rest.empty()) {
    std::string file = rest, xn = "x", yn = "y", wn;
    const size_t c = rest.rfind(':');
    if (c != std::string::npos && rest.find(',', c) != std::string::npos) {
      auto names = split(rest.substr(c + 1), ',');
      DPT_CHECK((names.size() == 2 || names.size() == 3) && !names[0].empty() && !names[1].empty() &&
                    (names.size() == 2 || !names[2].empty()),
                "bad data spec '" << spec << "': expected h5:FILE:XNAME,YNAME[,WNAME]");
      file = rest.substr(0, c);
      xn = names[0];
      yn = names[1];
      if (names.size() == 3) wn = names[2];
    }
    s.train = load_hdf5_dataset(file, xn, yn, wn);
    s.description = "h5 " + file;
  } else if (kind == "npy" && !rest.empty()) {
    auto files = split(rest, ',');
    DPT_CHECK(files.size() >= 1 && files.size() <= 3,
              "bad data spec '" << spec << "': expected npy:XFILE,YFILE[,WFILE] (or npy:XFILE to predict)");
    s.train = load_npy_dataset(files[0], files.size() >= 2 ? files[1] : "", files.size() == 3 ? files[2] : "");
    s.description = "npy " + files[0];
  } else {
    DPT_FAIL("unknown data spec '" << spec << "' (expected " << kDataSpecHelp << ")");
  }
  s.train.validate(s.description);
  if (s.test) s.test->validate(s.description + " test split");
  return s;
}

}  // namespace dpt
