// The embedded default data: UCI optical recognition of handwritten digits (scikit-learn's copy):
// 1,797 grey 8x8 images, 10 classes, pixels 0..16 scaled to [0, 1]. CC BY 4.0, Alpaydin & Kaynak.
#pragma once
#include "core/data/dataset.h"

namespace dpt {

Dataset load_digits();

}  // namespace dpt
