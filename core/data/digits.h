// The embedded default data: UCI optical recognition of handwritten digits (scikit-learn's copy):
// 1,797 grey 8x8 images, 10 classes, pixels 0..16 scaled to [0, 1]. CC BY 4.0, Alpaydin & Kaynak.
// Stored in a fixed permutation of scikit-learn's order (which groups writers), so that Keras's
// validation_split, the last fraction, is a random held-out sample.
#pragma once
#include "core/data/dataset.h"

namespace dpt {

Dataset load_digits();

}  // namespace dpt
