// Weights files in Keras's legacy save_weights HDF5 layout: root attributes layer_names, backend,
// keras_version; one group per layer with a weight_names attribute; datasets at
// <layer>/<weight name>, e.g. dense/dense/kernel:0. Files are written to a temporary file in the
// same folder and renamed, so a failed save never leaves a torn file or loses the previous one.
#pragma once
#include <string>
#include "core/sequential.h"

namespace dpt {

void save_weights(const Sequential& model, const std::string& path);
// Loads by topological order (layers without weights skipped, as Keras does).
void load_weights(Sequential& model, const std::string& path);

}  // namespace dpt
