// core's view of the error type (defined in the lowest layer, kernels/error.h).
#pragma once
#include "kernels/error.h"
