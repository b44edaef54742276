// Data specs on the command line: digits | synthetic:H,W,C:CLASSES:N | cifar10:DIR | mnist:DIR |
// h5:FILE[:XNAME,YNAME[,WNAME]] | npy:XFILE[,YFILE[,WFILE]] (W: Keras's sample_weight; a model of
// several inputs: XNAME or XFILE as A+B+..., one dataset or file an input)
#pragma once
#include <string>
#include "core/data/dataset.h"

namespace dpt {

DataSplits load_data_spec(const std::string& spec, uint64_t seed);
extern const char* const kDataSpecHelp;

}  // namespace dpt
