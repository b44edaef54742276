// Loss names, the fusion rule, Keras's choice of accuracy, and shape errors.
#include <catch2/catch.hpp>
#include "core/losses.h"
#include "core/metrics.h"

using namespace dpt;
using dpt::kernels::Activation;

TEST_CASE("loss names and aliases as Keras", "[losses]") {
  CHECK(loss_from_name("mse") == LossKind::mean_squared_error);
  CHECK(loss_name(loss_from_name("sparse_categorical_crossentropy")) == "sparse_categorical_crossentropy");
  CHECK_THROWS_WITH(loss_from_name("hinge"),
                    "unknown loss 'hinge' (supported: categorical_crossentropy, sparse_categorical_crossentropy, "
                    "binary_crossentropy, mean_squared_error)");
}

TEST_CASE("fused gradient only where the last activation matches the loss", "[losses]") {
  CHECK(loss_fuses_with(LossKind::categorical_crossentropy, Activation::softmax));
  CHECK(loss_fuses_with(LossKind::sparse_categorical_crossentropy, Activation::softmax));
  CHECK(loss_fuses_with(LossKind::binary_crossentropy, Activation::sigmoid));
  CHECK_FALSE(loss_fuses_with(LossKind::binary_crossentropy, Activation::softmax));
  CHECK_FALSE(loss_fuses_with(LossKind::mean_squared_error, Activation::sigmoid));
  CHECK_FALSE(loss_fuses_with(LossKind::categorical_crossentropy, Activation::linear));
}

TEST_CASE("'accuracy' resolves as Keras resolves it", "[metrics]") {
  CHECK(accuracy_for(LossKind::categorical_crossentropy, 10) == AccuracyKind::categorical);
  CHECK(accuracy_for(LossKind::sparse_categorical_crossentropy, 10) == AccuracyKind::sparse_categorical);
  CHECK(accuracy_for(LossKind::binary_crossentropy, 3) == AccuracyKind::binary);
  CHECK(accuracy_for(LossKind::mean_squared_error, 1) == AccuracyKind::binary);
  CHECK(accuracy_for(LossKind::mean_squared_error, 4) == AccuracyKind::categorical);
}

TEST_CASE("loss target shape mismatch is a clear error", "[losses]") {
  Tensor p({2, 3}), t({2, 2});
  CHECK_THROWS_WITH(loss_sum(LossKind::categorical_crossentropy, false, p, t, 1.f, nullptr),
                    "categorical_crossentropy expects targets of shape (batch, 3) for predictions of shape (2, 3), "
                    "got (2, 2)");
}
