#!/usr/bin/env bash
# A model from keras.applications, as Keras builds it: MobileNet (alpha 0.25, 32x32x3 inputs, 5
# classes): a Functional chain of Conv2D, BatchNormalization, ReLU(6.), ZeroPadding2D,
# DepthwiseConv2D (stride 1 'same' and stride 2 'valid'), GlobalAveragePooling2D(keepdims=True),
# Dropout, a 1x1 Conv2D head and Reshape.
#   1. Keras saves it (model.save .keras and .h5) with BatchNormalization's moving statistics set to
#      each layer's statistics on the data (so that what it predicts depends on its input: with
#      fresh statistics the signal fades through 27 layers); dptrain predicts what Keras predicts
#      (within 1e-4: 28 float32 layers, each BatchNormalization dividing by its small spread).
#   2. One SGD step from Keras's file (dropout 0: the two draw different masks) gives Keras's
#      weights: every layer's gradient, through every layer's input gradient, is Keras's.
#   3. keras.models.load_model reads dptrain's saved archive and predicts what dptrain predicts.
# Then tf-keras's MobileNet (model.save .h5), predicted alike, where build/tf-keras-env exists (made by
# `bash scripts/keras-env.sh --tf-keras`; CI skips that part, saying so).
# Python: $DPT_KERAS_PYTHON (scripts/test.sh sets it), else python3. Skipped, saying so, without Keras.
#   test_keras_applications.sh DPTRAIN
set -uo pipefail
bin="$1"
py="${DPT_KERAS_PYTHON:-python3}"
export KERAS_BACKEND="${KERAS_BACKEND:-jax}"
if ! "$py" -c "import keras, h5py, numpy" 2>/dev/null; then
  echo "SKIPPED (no Keras): no keras, h5py and numpy for $py; bash scripts/keras-env.sh installs them"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$py" - "$bin" "$dir" <<'PY' 2>&1 | grep -v -E "^WARNING|UserWarning|warnings.warn|^$"
import subprocess, sys
import keras, numpy as np

bin, d = sys.argv[1], sys.argv[2]
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


keras.utils.set_random_seed(0)
m = keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=5, dropout=0.0)
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
y = np.eye(5, dtype="float32")[rng.integers(0, 5, 8)]
np.save(f"{d}/x.npy", x)
np.save(f"{d}/y.npy", y)
for layer in m.layers:  # each BatchNormalization's moving statistics: its input's, on x
    if isinstance(layer, keras.layers.BatchNormalization):
        a = keras.Model(m.inputs, layer.input).predict(x, verbose=0)
        gamma, beta, _, _ = layer.get_weights()
        layer.set_weights([gamma, beta, a.mean(axis=(0, 1, 2)), a.var(axis=(0, 1, 2))])
kinds = sorted({type(layer).__name__ for layer in m.layers})
m.compile(optimizer=keras.optimizers.SGD(0.001), loss="categorical_crossentropy")
m.save(f"{d}/mn.keras")
m.save(f"{d}/mn.h5")
theirs = m.predict(x, verbose=0)
spread = float(theirs.std(axis=0).max())
for name in ("mn.keras", "mn.h5"):
    if dptrain("predict", "--model", f"{d}/{name}", "--data", f"npy:{d}/x.npy", "--output", f"{d}/p.npy", "--show", "0"):
        worst = float(np.abs(np.load(f"{d}/p.npy") - theirs).max())
        check(worst <= 1e-4 and spread > 1e-3,
              f"{m.name} ({m.count_params()} weights; {', '.join(kinds)}) from Keras's {name}: dptrain predicts "
              f"Keras's predictions (max |diff| {worst:.3g}; they vary by {spread:.3g} across the inputs)")

def by_layer(model):  # Keras 3 prefixes a Sequential model's variable paths with its name, not a Functional's
    return {"/".join(w.path.split("/")[-2:]): w.numpy() for w in model.weights}


start = by_layer(m)
m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # one step
after = by_layer(m)
if dptrain("train", "--model", f"{d}/mn.keras", "--data", f"npy:{d}/x.npy,{d}/y.npy", "--validation-split", "0",
           "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0", "--save-model", f"{d}/ours.keras"):
    mo = keras.models.load_model(f"{d}/ours.keras")
    ours = by_layer(mo)
    check(sorted(ours) == sorted(after), f"dptrain's archive holds Keras's {len(after)} variables")
    if sorted(ours) == sorted(after):
        trained = [k for k in after if "moving" not in k]
        diff = max(float(np.abs(ours[k] - after[k]).max()) for k in trained)
        moved = max(float(np.abs(after[k] - start[k]).max()) for k in trained)
        check(diff <= 1e-5 and moved > 1e-3,
              f"one SGD step from Keras's file gives Keras's weights (max |diff| {diff:.3g}; the step moved them "
              f"{moved:.3g})")
    if dptrain("predict", "--model", f"{d}/ours.keras", "--data", f"npy:{d}/x.npy", "--output", f"{d}/q.npy",
               "--show", "0"):
        worst = float(np.abs(mo.predict(x, verbose=0) - np.load(f"{d}/q.npy")).max())
        check(worst <= 1e-4, f"keras.models.load_model reads dptrain's archive ({type(mo).__name__}) and predicts "
                             f"what dptrain predicts (max |diff| {worst:.3g})")
print("PASS" if fails == 0 else f"{fails} FAILED")
sys.exit(1 if fails else 0)
PY
rc="${PIPESTATUS[0]}"
[ "$rc" -eq 0 ] || exit "$rc"

# Keras 2 (tf-keras): its MobileNet's model.save .h5 (the Keras 2 config form), predicted alike.
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
m = keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=5)
x = np.load(f"{d}/x.npy")
for layer in m.layers:  # as above: each BatchNormalization's moving statistics from its input on x
    if isinstance(layer, keras.layers.BatchNormalization):
        a = keras.Model(m.inputs, layer.input).predict(x, verbose=0)
        gamma, beta, _, _ = layer.get_weights()
        layer.set_weights([gamma, beta, a.mean(axis=(0, 1, 2)), a.var(axis=(0, 1, 2))])
m.save(f"{d}/tfk.h5")
theirs = m.predict(x, verbose=0)
run = subprocess.run([bin, "predict", "--model", f"{d}/tfk.h5", "--data", f"npy:{d}/x.npy", "--output", f"{d}/t.npy",
                      "--show", "0"], capture_output=True, text=True)
worst = float(np.abs(np.load(f"{d}/t.npy") - theirs).max()) if run.returncode == 0 else float("inf")
spread = float(theirs.std(axis=0).max())
ok = run.returncode == 0 and worst <= 1e-4 and spread > 1e-3
print(("ok: " if ok else "FAIL: ") + f"tf-keras {m.name} from its model.save .h5: dptrain predicts its predictions "
      f"(max |diff| {worst:.3g}; they vary by {spread:.3g}) {run.stderr.strip()}")
print("PASS (tf-keras)" if ok else "FAILED (tf-keras)")
sys.exit(0 if ok else 1)
PY
exit "${PIPESTATUS[0]}"
