// Loss names, the fusion rule, Keras's choice of accuracy, and shape errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include "core/losses.h"
#include "core/metrics.h"
#include "kernels/loss.h"

using namespace dpt;
using dpt::kernels::Activation;

TEST_CASE("loss names and aliases as Keras", "[losses]") {
  CHECK(loss_from_name("mse") == LossKind::mean_squared_error);
  CHECK(loss_name(loss_from_name("sparse_categorical_crossentropy")) == "sparse_categorical_crossentropy");
  CHECK_THROWS_WITH(loss_from_name("ctc"),
                    "unknown loss 'ctc' (supported: categorical_crossentropy, sparse_categorical_crossentropy, "
                    "binary_crossentropy, mean_squared_error (mse), mean_absolute_error (mae), huber, log_cosh, "
                    "mean_squared_logarithmic_error (msle), kl_divergence (kld), poisson, "
                    "mean_absolute_percentage_error (mape), hinge, squared_hinge, categorical_hinge, "
                    "cosine_similarity, binary_focal_crossentropy, categorical_focal_crossentropy)");
  // The focal cross-entropies: their classes, from_logits, their settings, and accuracy beside them.
  CHECK(loss_from_name("BinaryFocalCrossentropy", true) == LossKind::binary_focal_crossentropy_from_logits);
  CHECK(loss_class_name(LossKind::categorical_focal_crossentropy_from_logits) == "CategoricalFocalCrossentropy");
  CHECK(loss_wants_one_hot(LossKind::categorical_focal_crossentropy));
  CHECK_FALSE(loss_fuses_with(LossKind::binary_focal_crossentropy, kernels::Activation::sigmoid));
  CHECK(default_metrics(LossKind::binary_focal_crossentropy).size() == 1);
  FocalParams f;
  f.gamma = 3;
  f.balance = true;
  CHECK(loss_describe(LossKind::binary_focal_crossentropy_from_logits, 0.1, 1, f) ==
        "binary_focal_crossentropy (from_logits=True, label_smoothing=0.1, apply_class_balancing=True, gamma=3)");
  CHECK_THROWS_WITH(check_focal(LossKind::categorical_focal_crossentropy, f),
                    "apply_class_balancing is BinaryFocalCrossentropy's (as in Keras), not "
                    "categorical_focal_crossentropy's");
  f.balance = false;
  f.alpha = 1.5f;
  CHECK_THROWS_WITH(check_focal(LossKind::categorical_focal_crossentropy, f),
                    "the focal alpha must be in [0, 1], got 1.5");
  // Keras's class names too, as its files give them.
  CHECK(loss_from_name("CategoricalHinge") == LossKind::categorical_hinge);
  CHECK(loss_from_name("mape") == LossKind::mean_absolute_percentage_error);
  CHECK(loss_name(LossKind::cosine_similarity) == "cosine_similarity");
  CHECK(loss_class_name(LossKind::squared_hinge) == "SquaredHinge");
  CHECK(loss_class_name(LossKind::binary_crossentropy_from_logits) == "BinaryCrossentropy");
  CHECK_THROWS_WITH(loss_from_name("hinge", true),
                    "from_logits applies to the cross-entropies (as in Keras), not to hinge");
  CHECK(loss_from_name("mae") == LossKind::mean_absolute_error);
  CHECK(loss_from_name("kullback_leibler_divergence") == LossKind::kl_divergence);
  CHECK(loss_name(loss_from_name("logcosh")) == "log_cosh");
  CHECK(loss_name(loss_from_name("msle")) == "mean_squared_logarithmic_error");
  // Keras logs a loss on values alone; on distributions (KL divergence), with accuracy.
  CHECK(default_metrics(LossKind::huber).empty());
  CHECK(default_metrics(LossKind::poisson).empty());
  CHECK(default_metrics(LossKind::kl_divergence).size() == 1);
  CHECK(default_metrics(LossKind::hinge).empty());  // -1/1 targets: accuracy would misread them
  CHECK(default_metrics(LossKind::cosine_similarity).empty());
}

TEST_CASE("from_logits: Keras's cross-entropies on logits, by name", "[losses]") {
  CHECK(loss_from_name("sparse_categorical_crossentropy", true) ==
        LossKind::sparse_categorical_crossentropy_from_logits);
  CHECK(loss_from_name("categorical_crossentropy", true) == LossKind::categorical_crossentropy_from_logits);
  CHECK(loss_from_name("binary_crossentropy", true) == LossKind::binary_crossentropy_from_logits);
  CHECK(loss_name(LossKind::binary_crossentropy_from_logits) == "binary_crossentropy");
  CHECK(loss_describe(LossKind::categorical_crossentropy_from_logits) == "categorical_crossentropy (from_logits=True)");
  CHECK(loss_describe(LossKind::categorical_crossentropy) == "categorical_crossentropy");
  CHECK(loss_wants_one_hot(LossKind::categorical_crossentropy_from_logits));
  CHECK_THROWS_WITH(loss_from_name("mse", true),
                    "from_logits applies to the cross-entropies (as in Keras), not to mse");
  // label_smoothing: Keras's categorical and binary cross-entropies take it, in [0, 1].
  CHECK_NOTHROW(check_label_smoothing(LossKind::binary_crossentropy_from_logits, 0.2));
  CHECK_THROWS_WITH(check_label_smoothing(LossKind::sparse_categorical_crossentropy, 0.1),
                    "label_smoothing applies to the categorical and binary cross-entropies (as in Keras), not to "
                    "sparse_categorical_crossentropy");
  CHECK_THROWS_WITH(check_label_smoothing(LossKind::categorical_crossentropy, 1.5),
                    "label_smoothing must be in [0, 1], got 1.5");
  CHECK(loss_describe(LossKind::categorical_crossentropy_from_logits, 0.1) ==
        "categorical_crossentropy (from_logits=True, label_smoothing=0.1)");
  CHECK(loss_describe(LossKind::binary_crossentropy, 0.2) == "binary_crossentropy (label_smoothing=0.2)");
  // Huber's delta: Keras's Huber(delta=...), > 0; delta 1 (Keras's default) stands for any loss.
  CHECK(loss_describe(LossKind::huber, 0, 2.5) == "huber (delta=2.5)");
  CHECK(loss_describe(LossKind::huber) == "huber");
  CHECK_NOTHROW(check_huber_delta(LossKind::huber, 0.25));
  CHECK_NOTHROW(check_huber_delta(LossKind::mean_squared_error, 1));
  CHECK_THROWS_WITH(check_huber_delta(LossKind::mean_squared_error, 2),
                    "delta applies to the huber loss (Keras's Huber(delta=...)), not to mean_squared_error");
  CHECK_THROWS_WITH(check_huber_delta(LossKind::huber, 0), "huber's delta must be a number > 0, got 0");
  CHECK_THROWS_WITH(check_huber_delta(LossKind::huber, -1), "huber's delta must be a number > 0, got -1");
  // The loss takes the logits itself: no activation is fused into it.
  CHECK_FALSE(loss_fuses_with(LossKind::categorical_crossentropy_from_logits, Activation::softmax));
  CHECK_FALSE(loss_fuses_with(LossKind::binary_crossentropy_from_logits, Activation::sigmoid));
  // Its metrics read the targets the loss reads.
  CHECK(accuracy_for(LossKind::sparse_categorical_crossentropy_from_logits, 10) == MetricKind::sparse_categorical);
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
  CHECK(accuracy_for(LossKind::categorical_crossentropy, 10) == MetricKind::categorical);
  CHECK(accuracy_for(LossKind::sparse_categorical_crossentropy, 10) == MetricKind::sparse_categorical);
  CHECK(accuracy_for(LossKind::binary_crossentropy, 3) == MetricKind::categorical);  // Keras 3 (tf.keras: binary)
  CHECK(accuracy_for(LossKind::binary_crossentropy, 1) == MetricKind::binary);
  CHECK(accuracy_for(LossKind::mean_squared_error, 1) == MetricKind::binary);
  CHECK(accuracy_for(LossKind::mean_squared_error, 4) == MetricKind::categorical);
}

TEST_CASE("metrics: Keras's identifiers, the default, and the targets each one reads", "[metrics]") {
  MetricRequest r;
  REQUIRE(metric_request("acc", &r));
  CHECK((r.name == "acc" && r.kind == "accuracy"));  // logged under the name compile() was given
  REQUIRE(metric_request("CategoricalAccuracy", &r));
  CHECK((r.name == "categorical_accuracy" && r.kind == "categorical_accuracy"));
  REQUIRE(metric_request("mae", &r));  // Keras 3 logs 'mae' as mae, the name given
  CHECK((r.name == "mae" && r.kind == "mean_absolute_error"));
  REQUIRE(metric_request("mean_absolute_error", &r));
  CHECK((r.name == "mean_absolute_error" && r.kind == "mean_absolute_error"));
  REQUIRE(metric_request("MeanSquaredError", &r));
  CHECK((r.name == "mean_squared_error" && r.kind == "mean_squared_error"));
  CHECK_FALSE(metric_request("mean_iou", &r));
  CHECK_FALSE(metric_request("Accuracy", &r));  // Keras's Accuracy class is exact equality, not argmax

  CHECK_FALSE(metric_request("none", &r));  // --metrics none is the whole list, not an identifier
  // --metrics: a comma-separated list in the order Keras logs them, or none.
  const MetricRequests two = parse_metrics("acc,mse");
  REQUIRE(two.size() == 2);
  CHECK((two[0].name == "acc" && two[1].name == "mse"));
  CHECK(parse_metrics("none").empty());
  CHECK_THROWS_WITH(parse_metrics("accuracy,"),
                    Catch::Contains("unknown metric '' for --metrics; dptrain computes accuracy"));
  CHECK_THROWS_WITH(
      resolve_metrics(parse_metrics("mean_absolute_error,mae,mean_absolute_error"), LossKind::mean_squared_error, 1),
      "metric 'mean_absolute_error' is asked for twice");
  // Two names of one function log twice, as in Keras (mae and mean_absolute_error).
  CHECK(resolve_metrics(parse_metrics("mae,mean_absolute_error"), LossKind::mean_squared_error, 1).size() == 2);
  CHECK(metric_list({"acc", "mean_squared_error"}) == "acc, mean_squared_error");
  CHECK(metric_list({}) == "none");

  REQUIRE(default_metrics(LossKind::categorical_crossentropy).size() == 1);
  CHECK(default_metrics(LossKind::binary_crossentropy)[0].name == "accuracy");
  CHECK(default_metrics(LossKind::mean_squared_error).empty());

  const Metric acc = resolve_metric({"accuracy", "accuracy"}, LossKind::sparse_categorical_crossentropy, 10);
  CHECK((acc.name == "accuracy" && acc.kind == MetricKind::sparse_categorical));
  CHECK(resolve_metric({"ba", "binary_accuracy"}, LossKind::categorical_crossentropy, 10).kind == MetricKind::binary);
  CHECK(resolve_metric({"ca", "categorical_accuracy"}, LossKind::mean_squared_error, 4).kind ==
        MetricKind::categorical);
  CHECK(resolve_metric({"mae", "mean_absolute_error"}, LossKind::mean_squared_error, 1).kind ==
        MetricKind::mean_absolute_error);
  CHECK_THROWS_WITH(resolve_metric({"mse", "mean_squared_error"}, LossKind::sparse_categorical_crossentropy, 4),
                    "metric 'mse' compares one column per output, but loss sparse_categorical_crossentropy trains on "
                    "class indices; use --metrics accuracy");
  CHECK(resolve_metric({"s", "sparse_categorical_accuracy"}, LossKind::sparse_categorical_crossentropy, 4).kind ==
        MetricKind::sparse_categorical);
  CHECK_THROWS_WITH(resolve_metric({"s", "sparse_categorical_accuracy"}, LossKind::binary_crossentropy, 4),
                    "metric 's' compares class indices, but loss binary_crossentropy trains on one column per "
                    "output; use --metrics accuracy");
  CHECK_THROWS_WITH(
      resolve_metric({"categorical_accuracy", "categorical_accuracy"}, LossKind::sparse_categorical_crossentropy, 4),
      "metric 'categorical_accuracy' compares one column per output, but loss "
      "sparse_categorical_crossentropy trains on class indices; use --metrics accuracy");
}

TEST_CASE("metrics: top-k, the regression errors, the cosine, the losses' metrics, and their arguments", "[metrics]") {
  MetricRequest r;
  // Keras 3's identifiers: strings log under the name given; classes under their default names.
  REQUIRE(metric_request("mape", &r));
  CHECK((r.name == "mape" && r.kind == "mean_absolute_percentage_error"));
  REQUIRE(metric_request("LogCoshError", &r));
  CHECK((r.name == "logcosh" && r.kind == "log_cosh_error"));
  REQUIRE(metric_request("TopKCategoricalAccuracy", &r));
  CHECK((r.name == "top_k_categorical_accuracy" && r.k == 5));
  CHECK(metric_default_name("mean_absolute_error") == "mean_absolute_error");
  CHECK(metric_class_name("root_mean_squared_error") == "RootMeanSquaredError");
  CHECK_FALSE(metric_request("mean_iou", &r));
  CHECK_FALSE(metric_request("huber", &r));  // Keras 3 has no huber metric
  // --metrics: a metric's arguments after a colon, further ones after commas.
  const MetricRequests reqs = parse_metrics(
      "accuracy,top_k_categorical_accuracy:k=3,name=top3,BinaryCrossentropy:from_logits=true,label_smoothing=0.1,mape");
  REQUIRE(reqs.size() == 4);
  CHECK((reqs[1].name == "top3" && reqs[1].k == 3 && reqs[1].kind == "top_k_categorical_accuracy"));
  CHECK((reqs[2].name == "binary_crossentropy" && reqs[2].from_logits && reqs[2].label_smoothing == 0.1));
  CHECK(reqs[3].name == "mape");
  CHECK_FALSE(reqs[1].is_plain_string());  // a file keeps it as an object
  CHECK(reqs[3].is_plain_string());
  CHECK(MetricRequest("mae").is_plain_string());
  CHECK(MetricRequest("TopKCategoricalAccuracy").is_plain_string());  // its default name is an identifier
  CHECK_THROWS_WITH(parse_metrics("mae:k=3"), "--metrics: metric 'mae' has no argument 'k' (it takes only name)");
  CHECK_THROWS_WITH(parse_metrics("top_k_categorical_accuracy:threshold=0.3"),
                    "--metrics: metric 'top_k_categorical_accuracy' has no argument 'threshold' (Keras's "
                    "TopKCategoricalAccuracy takes name, k)");
  CHECK_THROWS_WITH(parse_metrics("top_k_categorical_accuracy:k=0"),
                    "--metrics: top_k_categorical_accuracy's k must be a whole number >= 1, got '0'");
  CHECK_THROWS_WITH(parse_metrics("binary_crossentropy:from_logits=yes"),
                    "--metrics: binary_crossentropy's from_logits must be true or false, got 'yes'");
  CHECK_THROWS_WITH(parse_metrics("binary_accuracy:threshold=x"),
                    "--metrics: binary_accuracy's threshold must be a number, got 'x'");
  CHECK_THROWS_WITH(parse_metrics("categorical_crossentropy:label_smoothing=2"),
                    "--metrics: categorical_crossentropy's label_smoothing must be in [0, 1], got '2'");
  CHECK_THROWS_WITH(parse_metrics("k=3,accuracy"), "--metrics: 'k=3' is an argument with no metric before it");
  CHECK_THROWS_WITH(parse_metrics("accuracy:name=a"),
                    "--metrics: 'accuracy' takes no arguments (Keras resolves it from the loss); name the accuracy "
                    "you want, for example categorical_accuracy:name=a");
  CHECK_THROWS_WITH(parse_metrics("mae:3"),
                    "--metrics: 'mae:3' should be METRIC:argument=value (for example top_k_categorical_accuracy:k=3)");
  // Resolution: the formula and its settings; the targets each reads.
  const Metric top = resolve_metric(reqs[1], LossKind::categorical_crossentropy, 10);
  CHECK((top.kind == MetricKind::top_k_categorical && top.k == 3 && top.name == "top3"));
  const Metric bce = resolve_metric(reqs[2], LossKind::binary_crossentropy, 3);
  CHECK(
      (bce.kind == MetricKind::loss && bce.loss == LossKind::binary_crossentropy_from_logits && bce.smoothing == 0.1f));
  CHECK(resolve_metric({"rmse", "root_mean_squared_error"}, LossKind::mean_squared_error, 2).kind ==
        MetricKind::root_mean_squared_error);
  CHECK(resolve_metric(MetricRequest("sparse_categorical_crossentropy"),
                       LossKind::sparse_categorical_crossentropy_from_logits, 10)
            .loss == LossKind::sparse_categorical_crossentropy);
  CHECK_THROWS_WITH(resolve_metric(reqs[1], LossKind::sparse_categorical_crossentropy, 10),
                    "metric 'top3' compares one column per output, but loss sparse_categorical_crossentropy trains on "
                    "class indices; use --metrics sparse_top_k_categorical_accuracy");
  CHECK_THROWS_WITH(
      resolve_metric(MetricRequest("sparse_categorical_crossentropy"), LossKind::categorical_crossentropy, 10),
      "metric 'sparse_categorical_crossentropy' compares class indices, but loss categorical_crossentropy "
      "trains on one column per output; use --metrics categorical_crossentropy");
  // Keras's confusion metrics and their arguments.
  const MetricRequests conf = parse_metrics(
      "AUC:curve=PR,num_thresholds=50,summation_method=majoring,from_logits=true,precision:thresholds=0.3,"
      "class_id=2,recall");
  REQUIRE(conf.size() == 3);
  CHECK((conf[0].name == "auc" && conf[0].curve == "PR" && conf[0].num_thresholds == 50 && conf[0].from_logits));
  CHECK((conf[1].threshold == 0.3 && conf[1].class_id == 2));
  CHECK(conf[2].is_plain_string());
  CHECK_FALSE(conf[1].is_plain_string());
  const Metric auc = resolve_metric(conf[0], LossKind::binary_crossentropy, 4);
  CHECK((auc.kind == MetricKind::auc && auc.bins == 50 && auc.curve == 1 && auc.summation == 2 && auc.logits));
  CHECK(kernels::metric_slots(auc) == 100);
  CHECK(kernels::metric_slots(resolve_metric(conf[1], LossKind::binary_crossentropy, 4)) == 2);
  CHECK_THROWS_WITH(resolve_metric(conf[1], LossKind::binary_crossentropy, 2),
                    "metric 'precision' reads class_id 2, but the model has 2 output columns");
  CHECK_THROWS_WITH(parse_metrics("auc:curve=PRGAIN"), "--metrics: auc's curve must be ROC or PR, got 'PRGAIN'");
  // F1Score and FBetaScore: one figure (an average), their threshold None or in (0, 1].
  const MetricRequests fb = parse_metrics("f1_score:average=macro,FBetaScore:beta=2,average=weighted,threshold=0.3");
  const Metric f1m = resolve_metric(fb[0], LossKind::categorical_crossentropy, 7);
  CHECK((f1m.kind == MetricKind::fbeta && f1m.width == 7 && f1m.average == 1 && f1m.threshold < 0 && f1m.beta == 1));
  CHECK(kernels::metric_slots(f1m) == 28);
  const Metric fbw = resolve_metric(fb[1], LossKind::categorical_crossentropy, 7);
  CHECK((fbw.name == "fbeta_score" && fbw.beta == 2 && fbw.average == 2 && fbw.threshold == 0.3f));
  CHECK_THROWS_WITH(resolve_metric(MetricRequest("f1_score"), LossKind::categorical_crossentropy, 7),
                    "metric 'f1_score' has average=None, a figure per class; dptrain logs one figure per metric: give "
                    "average=micro, macro or weighted (f1_score:average=macro)");
  CHECK_THROWS_WITH(parse_metrics("f1_score:threshold=0"),
                    "--metrics: f1_score's threshold must be in (0, 1], got '0'");
  const Metric r2 =
      resolve_metric(parse_metrics("R2Score:class_aggregation=variance_weighted_average,num_regressors=3")[0],
                     LossKind::mean_squared_error, 4);
  CHECK((r2.kind == MetricKind::r2 && r2.name == "r2_score" && r2.width == 4 && r2.average == 2 && r2.regressors == 3));
  CHECK_THROWS_WITH(parse_metrics("r2_score:class_aggregation=None"),
                    "--metrics: r2_score's class_aggregation is None: dptrain logs one figure per metric; give "
                    "uniform_average or variance_weighted_average");
  // AUC's multi_label: a curve per column (2 x num_thresholds counts each), label_weights for the average.
  const MetricRequests ml = parse_metrics("AUC:multi_label=true,label_weights=[1, 0.5,2],num_thresholds=20,auc");
  REQUIRE(ml.size() == 2);
  CHECK((ml[0].multi_label && ml[0].label_weights == std::vector<double>{1, 0.5, 2} && !ml[0].is_plain_string()));
  const Metric aml = resolve_metric(ml[0], LossKind::binary_crossentropy, 3);
  CHECK((aml.multi_label && aml.width == 3 && kernels::metric_slots(aml) == 120));
  CHECK_THROWS_WITH(resolve_metric(ml[0], LossKind::binary_crossentropy, 4),
                    "metric 'auc' has 3 label_weights, but the model has 4 output columns (labels)");
  CHECK_THROWS_WITH(resolve_metric(parse_metrics("auc:label_weights=[1,2]")[0], LossKind::binary_crossentropy, 2),
                    "metric 'auc' has label_weights without multi_label=True; dptrain applies an AUC's label_weights "
                    "to the average of its labels' AUCs (multi_label=True) only");
  CHECK_THROWS_WITH(
      resolve_metric(parse_metrics("auc:multi_label=true,num_labels=2")[0], LossKind::binary_crossentropy, 3),
      "metric 'auc' has num_labels=2, but the model has 3 output columns");
  CHECK_THROWS_WITH(resolve_metric(parse_metrics("auc:multi_label=true")[0], LossKind::binary_crossentropy, 200),
                    "metric 'auc' with multi_label=True counts 2 x 200 thresholds x 200 labels = 80000 sums a sample; "
                    "dptrain keeps at most 65536: give fewer num_thresholds");
  CHECK_THROWS_WITH(parse_metrics("auc:label_weights=[1,-2]"),
                    "--metrics: auc's label_weights must hold numbers >= 0, got '-2' in '[1,-2]'");
  CHECK_THROWS_WITH(parse_metrics("auc:label_weights=2"),
                    "--metrics: auc's label_weights must be a list of weights, one per label, as [1,0.5,2]; got '2'");
  CHECK_THROWS_WITH(parse_metrics("auc:multi_label=yes"),
                    "--metrics: auc's multi_label must be true or false, got 'yes'");
  CHECK_THROWS_WITH(parse_metrics("precision:top_k=2"),
                    "--metrics: precision's top_k is 2: dptrain has precision with top_k=None only");
  CHECK_THROWS_WITH(parse_metrics("auc:num_thresholds=1"),
                    "--metrics: auc's num_thresholds must be a whole number >= 2, got '1'");
  CHECK_THROWS_WITH(resolve_metric(MetricRequest("hinge"), LossKind::sparse_categorical_crossentropy, 10),
                    "metric 'hinge' compares one column per output, but loss sparse_categorical_crossentropy trains on "
                    "class indices; use --metrics accuracy");
}

TEST_CASE("AUC multi_label: each column's AUC apart, averaged (by label_weights), as Keras's", "[losses][metrics]") {
  // 6 samples, 3 labels; the multi-label AUC is the mean of each column's own AUC.
  const std::vector<float> p = {0.9f, 0.2f, 0.6f, 0.3f, 0.8f, 0.1f, 0.7f, 0.4f, 0.5f,
                                0.2f, 0.9f, 0.3f, 0.6f, 0.1f, 0.8f, 0.4f, 0.7f, 0.2f};
  const std::vector<float> y = {1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1};
  MetricRequest req("auc");
  req.num_thresholds = 25;
  for (const std::string curve : {"ROC", "PR"}) {
    req.curve = curve;
    req.multi_label = false;
    const Metric single = resolve_metric(req, LossKind::binary_crossentropy, 1);
    double each[3];
    for (int c = 0; c < 3; ++c) {  // the column alone, as a one-column AUC
      std::vector<float> pc, yc;
      for (int r = 0; r < 6; ++r) pc.push_back(p[size_t(r * 3 + c)]), yc.push_back(y[size_t(r * 3 + c)]);
      std::vector<double> sums(size_t(kernels::metric_slots(single)), 0.0);
      kernels::metric_slots_cpu<float>(single, pc.data(), yc.data(), 6, 1, sums.data());
      each[c] = metric_value(single, sums.data(), 6);
    }
    req.multi_label = true;
    const Metric multi = resolve_metric(req, LossKind::binary_crossentropy, 3);
    std::vector<double> sums(size_t(kernels::metric_slots(multi)), 0.0);
    kernels::metric_slots_cpu<float>(multi, p.data(), y.data(), 6, 3, sums.data());
    INFO(curve);
    CHECK(metric_value(multi, sums.data(), 6) == Approx((each[0] + each[1] + each[2]) / 3).epsilon(1e-12));
    req.label_weights = {1, 0.5, 2};
    const Metric by_label = resolve_metric(req, LossKind::binary_crossentropy, 3);
    CHECK(metric_value(by_label, sums.data(), 6) ==
          Approx((each[0] + 0.5 * each[1] + 2 * each[2]) / 3.5).epsilon(1e-12));
    req.label_weights.clear();
    // Not the flattened AUC (every column's counts together).
    req.multi_label = false;
    const Metric flat = resolve_metric(req, LossKind::binary_crossentropy, 3);
    std::vector<double> flat_sums(size_t(kernels::metric_slots(flat)), 0.0);
    kernels::metric_slots_cpu<float>(flat, p.data(), y.data(), 6, 3, flat_sums.data());
    CHECK(std::abs(metric_value(flat, flat_sums.data(), 6) - metric_value(multi, sums.data(), 6)) > 1e-3);
  }
}

TEST_CASE("loss target shape mismatch is a clear error", "[losses]") {
  Tensor p({2, 3}), t({2, 2});
  CHECK_THROWS_WITH(loss_sum(LossKind::categorical_crossentropy, false, p, t, 1.f, nullptr),
                    "categorical_crossentropy expects targets of shape (batch, 3) for predictions of shape (2, 3), "
                    "got (2, 2)");
}

TEST_CASE("class weights: weighted loss and gradient by hand; balanced and JSON weights", "[losses][class_weight]") {
  // Two samples, softmax outputs, sparse labels 0 and 1, weights 0.5 and 3.
  Tensor p({2, 2}), t({2, 1}), g({2, 2}), g1({2, 2});
  const float pv[] = {0.8f, 0.2f, 0.4f, 0.6f};
  std::copy(pv, pv + 4, p.data());
  t.data()[0] = 0, t.data()[1] = 1;
  const float w[] = {0.5f, 3.f};
  const double want = 0.5 * -std::log(0.8) + 3.0 * -std::log(0.6);
  CHECK(loss_sum(LossKind::sparse_categorical_crossentropy, true, p, t, 0.5f, &g, w) == Catch::Detail::Approx(want));
  loss_sum(LossKind::sparse_categorical_crossentropy, true, p, t, 0.5f, &g1, nullptr);
  for (int i = 0; i < 4; ++i) CHECK(g.data()[i] == Catch::Detail::Approx(g1.data()[i] * w[i / 2]));
  CHECK(g.data()[0] == Catch::Detail::Approx(0.5 * 0.5 * (0.8 - 1)));  // scale 1/B * w * (p - y)

  const std::vector<float> labels{0, 0, 0, 1};
  const auto balanced = class_weights("balanced", labels, 2);
  CHECK(balanced[0] == Catch::Detail::Approx(4.0 / 6));  // n / (classes * count)
  CHECK(balanced[1] == Catch::Detail::Approx(2.0));
  const std::string file = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/dpt_cw.json";
  std::ofstream(file) << R"({"1": 4.5})";
  const auto fromfile = class_weights(file, labels, 3);
  CHECK(fromfile == std::vector<double>{1.0, 4.5, 1.0});
  std::ofstream(file) << R"({"7": 2.0})";
  CHECK_THROWS_WITH(class_weights(file, labels, 3), Catch::Contains("weighs class '7', but the classes are 0..2"));
  CHECK_THROWS_WITH(class_weights("nope.json", labels, 3), Catch::Contains("cannot open 'nope.json'"));
}
