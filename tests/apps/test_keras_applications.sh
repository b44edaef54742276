#!/usr/bin/env bash
# Models from keras.applications, as Keras builds them, with 5 classes: MobileNet (alpha 0.25,
# 32x32x3): a Functional chain of Conv2D, BatchNormalization, ReLU(6.), ZeroPadding2D,
# DepthwiseConv2D (stride 1 'same' and stride 2 'valid'), GlobalAveragePooling2D(keepdims=True),
# Dropout, a 1x1 Conv2D head and Reshape; MobileNetV2 (alpha 0.35, 64x64x3): a graph, its inverted
# residual blocks joined by Add. For each:
#   1. Keras saves it (model.save .keras and .h5) with BatchNormalization's moving statistics set to
#      each layer's statistics on the data (so that what it predicts depends on its input: with
#      fresh statistics the signal fades through 27 layers); dptrain predicts what Keras predicts:
#      its predictions are within 1e-4 of the same model's in float64, or no further than 4 times
#      Keras's own float32 predictions are (each BatchNormalization divides by the small spread of
#      8 inputs, so rounding grows through the layers).
#   2. One SGD step from Keras's file (dropout 0: the two draw different masks) gives the weights
#      of the same step in float64 (Keras with JAX_ENABLE_X64) within 1e-5, or closer than Keras's
#      own float32 step comes: every layer's gradient, through every layer's input gradient, is
#      right. (MobileNetV2's step is sensitive to rounding: on some inputs Keras's float32 step
#      is 1e-3 from the float64 one and dptrain's 1e-4.)
#   3. keras.models.load_model reads dptrain's saved archive and predicts what dptrain predicts.
# EfficientNetB0 (32x32x3) adds Rescaling, Normalization (adapted on the data), squeeze-and-excite
# (GlobalAveragePooling2D, Reshape to (1, 1, C), and a Multiply that broadcasts it over (H, W, C)),
# swish, and Dropout with noise_shape (None, 1, 1, 1) (stochastic depth; its training step is taken
# with every dropout rate set to 0, as Keras and dptrain draw different masks; its classifier's
# kernel is scaled down so that no probability reaches Keras's clip, see unclipped()).
# Then tf-keras's MobileNet and MobileNetV2 (model.save .h5), predicted alike, where build/tf-keras-env exists (made by
# `bash scripts/keras-env.sh --tf-keras`; CI skips that part, saying so).
# Python: $DPT_KERAS_PYTHON (scripts/test.sh sets it), else python3. Skipped, saying so, without Keras.
#   test_keras_applications.sh DPTRAIN [mobilenet|efficientnet]   (default: both; CTest runs each
#   as its own test, so that the two may run side by side)
set -uo pipefail
bin="$1"
which="${2:-all}"
py="${DPT_KERAS_PYTHON:-python3}"
export KERAS_BACKEND="${KERAS_BACKEND:-jax}" JAX_ENABLE_X64=1  # float64 for the reference step
if ! "$py" -c "import keras, h5py, numpy" 2>/dev/null; then
  echo "SKIPPED (no Keras): no keras, h5py and numpy for $py; bash scripts/keras-env.sh installs them"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$py" - "$bin" "$dir" "$which" <<'PY' 2>&1 | grep -v -E "^WARNING|UserWarning|warnings.warn|^$"
import subprocess, sys
import keras, numpy as np

bin, d, which = sys.argv[1], sys.argv[2], sys.argv[3]
print("Keras", keras.__version__, "backend", keras.backend.backend())
fails = 0


def check(ok, what):
    global fails
    print(("ok: " if ok else "FAIL: ") + what)
    fails += 0 if ok else 1


def dptrain(*args):
    run = subprocess.run([bin, *args], capture_output=True, text=True)
    check(run.returncode == 0, f"dptrain {' '.join(args[:3])} ... ran (exit {run.returncode}) {run.stderr.strip()}")
    return run.returncode == 0


rng = np.random.default_rng(0)
y = np.eye(5, dtype="float32")[rng.integers(0, 5, 8)]
np.save(f"{d}/y.npy", y)


def by_layer(model):  # Keras 3 prefixes a Sequential model's variable paths with its name, not a Functional's
    return {"/".join(w.path.split("/")[-2:]): w.numpy() for w in model.weights}


def settle(model):  # Keras's Normalization reads its variables into its mean and variance here only
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            layer.finalize_state()
    return model


def without_dropout(model):  # the same model and weights, every Dropout rate 0
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "Dropout":
            layer["config"]["rate"] = 0.0
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return settle(copy)


def calibrate(m, x):
    # Normalization adapted to its input on x; then each BatchNormalization's moving statistics set
    # to its input's statistics on x: one training-mode pass (dropout off) with momentum 0, which
    # normalises each layer by those same statistics on the way.
    for layer in m.layers:
        if isinstance(layer, keras.layers.Normalization):
            layer.adapt(keras.Model(m.inputs, layer.input).predict(x, verbose=0))
    probe = without_dropout(m)
    for layer in probe.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    probe(x, training=True)
    settle(m).set_weights(probe.get_weights())
    settle(m)


def float64_copy(make, path):  # the model of a Keras file, in float64 (JAX_ENABLE_X64)
    keras.config.set_dtype_policy("float64")
    m64 = make()
    keras.config.set_dtype_policy("float32")
    assert m64.weights[0].dtype == "float64", m64.weights[0].dtype
    for w, v in zip(m64.weights, keras.models.load_model(path).weights):
        w.assign(np.asarray(v.numpy(), dtype=w.dtype))
    return settle(m64)


def unclipped(m, x):
    # Keras's cross-entropy clips probabilities to [1e-7, 1 - 1e-7]; under JAX no gradient passes a
    # clipped one, where Keras's TensorFlow backend (and dptrain) take p - y from the logits. Scale
    # the classifier's kernel down until no training-mode probability is near the clip.
    last = [layer for layer in m.layers if layer.get_weights()][-1]
    for _ in range(20):
        saved = m.get_weights()  # a training-mode call moves the moving statistics: put them back
        p = np.asarray(m(x, training=True))
        settle(m).set_weights(saved)
        settle(m)
        if p.min() > 1e-5 and p.max() < 1 - 1e-5:
            return
        w = last.get_weights()
        w[0] *= 0.5
        last.set_weights(w)


def application(make, tag):
    keras.utils.set_random_seed(0)
    m = make()
    x = rng.uniform(-1, 1, (8,) + m.input_shape[1:]).astype("float32")
    np.save(f"{d}/x.npy", x)
    calibrate(m, x)
    unclipped(m, x)
    kinds = sorted({type(layer).__name__ for layer in m.layers})
    m.compile(optimizer=keras.optimizers.SGD(0.001), loss="categorical_crossentropy")
    m.save(f"{d}/{tag}.keras")
    m.save(f"{d}/{tag}.h5")
    theirs = m.predict(x, verbose=0)
    m64 = float64_copy(make, f"{d}/{tag}.keras")  # the reference for the predictions and the step
    exact = m64.predict(x.astype("float64"), verbose=0)
    keras64 = float(np.abs(theirs - exact).max())
    spread = float(theirs.std(axis=0).max())
    for name in (f"{tag}.keras", f"{tag}.h5"):
        if dptrain("predict", "--model", f"{d}/{name}", "--data", f"npy:{d}/x.npy", "--output", f"{d}/p.npy",
                   "--show", "0"):
            ours = np.load(f"{d}/p.npy")
            worst, ours64 = float(np.abs(ours - theirs).max()), float(np.abs(ours - exact).max())
            # Deep models calibrated on 8 inputs amplify float32 rounding: where Keras's own float32
            # predictions are 1e-4 from float64, dptrain's are held to 4 times Keras's distance
            # (EfficientNetB0's were 2.2 times; a wrong formula is off by far more).
            check(ours64 <= max(1e-4, 4 * keras64) and spread > 1e-3,
                  f"{m.name} ({m.count_params()} weights; {', '.join(kinds)}) from Keras's {name}: dptrain predicts "
                  f"Keras's predictions (max |diff| {worst:.3g}; they vary by {spread:.3g} across the inputs; from "
                  f"float64's: dptrain {ours64:.3g}, Keras {keras64:.3g})")
    m = without_dropout(m)
    m.compile(optimizer=keras.optimizers.SGD(0.001), loss="categorical_crossentropy")
    m.save(f"{d}/{tag}_step.keras")
    start = by_layer(m)
    m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # one step
    after = by_layer(m)
    # The same step in float64 (JAX_ENABLE_X64): the reference both float32 steps are measured against.
    m64 = without_dropout(m64)  # the weights of {tag}_step.keras (the same as {tag}.keras's)
    assert m64.weights[0].dtype == "float64", m64.weights[0].dtype
    m64.compile(optimizer=keras.optimizers.SGD(0.001), loss="categorical_crossentropy")
    m64.fit(x.astype("float64"), y.astype("float64"), batch_size=8, epochs=1, shuffle=False, verbose=0)
    exact = by_layer(m64)
    if dptrain("train", "--model", f"{d}/{tag}_step.keras", "--data", f"npy:{d}/x.npy,{d}/y.npy", "--validation-split", "0",
               "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0", "--save-model",
               f"{d}/{tag}_ours.keras"):
        mo = keras.models.load_model(f"{d}/{tag}_ours.keras")
        ours = by_layer(mo)
        check(sorted(ours) == sorted(after), f"{m.name}: dptrain's archive holds Keras's {len(after)} variables "
                                             f"({type(mo).__name__})")
        if sorted(ours) == sorted(after):
            trained = [k for k in after if "moving" not in k and "normalization/" not in k]
            moved = max(float(np.abs(after[k] - start[k]).max()) for k in trained)
            diff = max(float(np.abs(ours[k] - after[k]).max()) for k in trained)
            ours64 = max(float(np.abs(ours[k] - exact[k]).max()) for k in trained)
            keras64 = max(float(np.abs(after[k] - exact[k]).max()) for k in trained)
            check(ours64 <= max(1e-5, keras64) and moved > 1e-3,
                  f"{m.name}: one SGD step from Keras's file: dptrain's weights are within {ours64:.3g} of the step "
                  f"in float64, Keras's float32 step within {keras64:.3g} (dptrain vs Keras: {diff:.3g}; the step "
                  f"moved them {moved:.3g})")
        if dptrain("predict", "--model", f"{d}/{tag}_ours.keras", "--data", f"npy:{d}/x.npy", "--output",
                   f"{d}/q.npy", "--show", "0"):
            worst = float(np.abs(mo.predict(x, verbose=0) - np.load(f"{d}/q.npy")).max())
            check(worst <= 1e-4, f"{m.name}: keras.models.load_model reads dptrain's archive ({type(mo).__name__}) "
                                 f"and predicts what dptrain predicts (max |diff| {worst:.3g})")


if which in ("all", "mobilenet"):
    application(lambda: keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=5,
                                                     dropout=0.0), "mn")
    # MobileNetV2: inverted residual blocks, each an Add of a block's input and its output.
    application(lambda: keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, weights=None, classes=5),
                "mn2")
if which in ("all", "efficientnet"):
    application(lambda: keras.applications.EfficientNetB0(input_shape=(32, 32, 3), weights=None, classes=5), "en")
print("PASS" if fails == 0 else f"{fails} FAILED")
sys.exit(1 if fails else 0)
PY
rc="${PIPESTATUS[0]}"
[ "$rc" -eq 0 ] || exit "$rc"

# Keras 2 (tf-keras): its MobileNet's model.save .h5 (the Keras 2 config form), predicted alike.
[ "$which" = efficientnet ] && exit 0  # the tf-keras part goes with the MobileNets
tfpy="${DPT_TF_KERAS_PYTHON:-$(dirname "$bin")/tf-keras-env/bin/python}"
if ! [ -x "$tfpy" ] || ! "$tfpy" -c "import tf_keras" 2>/dev/null; then
  echo "tf-keras part SKIPPED: no tf-keras for $tfpy (bash scripts/keras-env.sh --tf-keras makes build/tf-keras-env, ~2 GB)"
  exit 0
fi
TF_CPP_MIN_LOG_LEVEL=3 "$tfpy" - "$bin" "$dir" <<'PY' 2>&1 | grep -v -E "WARNING|warn|UserWarning|saving_api|cudart_stub|oneDNN|^$"
import subprocess, sys
import numpy as np, tf_keras as keras

bin, d = sys.argv[1], sys.argv[2]
print("tf-keras", keras.__version__)
ok = True
for m in (keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=5),
          keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, weights=None, classes=5)):
    x = np.random.default_rng(1).uniform(-1, 1, (8,) + m.input_shape[1:]).astype("float32")
    np.save(f"{d}/x.npy", x)
    for layer in m.layers:  # as above: each BatchNormalization's moving statistics from its input on x
        if isinstance(layer, keras.layers.BatchNormalization):
            a = keras.Model(m.inputs, layer.input).predict(x, verbose=0)
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([gamma, beta, a.mean(axis=(0, 1, 2)), a.var(axis=(0, 1, 2))])
    m.save(f"{d}/tfk.h5")
    theirs = m.predict(x, verbose=0)
    run = subprocess.run([bin, "predict", "--model", f"{d}/tfk.h5", "--data", f"npy:{d}/x.npy", "--output",
                          f"{d}/t.npy", "--show", "0"], capture_output=True, text=True)
    worst = float(np.abs(np.load(f"{d}/t.npy") - theirs).max()) if run.returncode == 0 else float("inf")
    spread = float(theirs.std(axis=0).max())
    good = run.returncode == 0 and worst <= 1e-4 and spread > 1e-3
    ok = ok and good
    print(("ok: " if good else "FAIL: ") + f"tf-keras {m.name} from its model.save .h5 (Keras 2's config form): "
          f"dptrain predicts its predictions (max |diff| {worst:.3g}; they vary by {spread:.3g}) {run.stderr.strip()}")
print("PASS (tf-keras)" if ok else "FAILED (tf-keras)")
sys.exit(0 if ok else 1)
PY
exit "${PIPESTATUS[0]}"
