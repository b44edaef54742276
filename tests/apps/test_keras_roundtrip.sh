#!/usr/bin/env bash
# Our files in Keras: keras.models.load_model reads `--save-model`, a Keras model loads
# `--save-weights`, h5py shows Keras's structure, and Keras predicts what dptrain predicts (1e-5):
# digits-cnn (Conv2D, MaxPooling2D, Dropout, Dense), and models dptrain trained from Keras's own files
# (tests/fixtures/keras_written: BatchNormalization, AveragePooling2D, GlobalAveragePooling2D,
# non-square kernels and strides, 'same' padding, gelu/silu/mish/hard_silu, LeakyReLU/ELU/ReLU settings;
# Rescaling, Normalization (weights and constants), a broadcasting Multiply, Dropout's noise_shape;
# LayerNormalization and RMSNormalization; dilated convolutions), so every layer config dptrain
# writes is read back
# by Keras's loader; Keras's evaluate of each saved file (compiled from its training_config: loss and
# metrics, none or renamed) gives what dptrain's evaluate gives. Keras 3's .keras archives both
# ways: dptrain's `--save-model m.keras` and `--save-weights w.weights.h5` in Keras's loaders, and
# Keras's own archives (a Sequential model and a Functional chain) in dptrain's evaluate and train.
# Then the same with Keras 2 (tf-keras), where build/tf-keras-env exists (made by
# `bash scripts/keras-env.sh --tf-keras`; about 2 GB, so CI skips that part, saying so).
# Python: $DPT_KERAS_PYTHON (scripts/test.sh sets it to build/keras-env's, made by
# scripts/keras-env.sh), else python3. Skipped, saying so, where that has no Keras.
set -uo pipefail
bin="$1"
py="${DPT_KERAS_PYTHON:-python3}"
export KERAS_BACKEND="${KERAS_BACKEND:-jax}"
if ! "$py" -c "import keras, h5py, numpy" 2>/dev/null; then
  echo "SKIPPED (no Keras): no keras, h5py and numpy for $py; bash scripts/keras-env.sh installs them"
  exit 0
fi
"$py" -c "import keras; print('Keras', keras.__version__, 'backend', keras.backend.backend())" 2>/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$py" -c "import numpy as np; np.save('$dir/x.npy', np.random.default_rng(1).uniform(0, 1, (16, 8, 8, 1)).astype('float32'))"
"$bin" train --model digits-cnn --epochs 2 --verbose 0 --save-model "$dir/m.h5" --save-weights "$dir/w.h5" || exit 1
# The same run once more (training is deterministic), saved as Keras 3's own files: a .keras archive
# and a .weights.h5 file, each with the optimizer's variables.
"$bin" train --model digits-cnn --epochs 2 --verbose 0 --save-model "$dir/m.keras" --save-weights "$dir/w.weights.h5" ||
  exit 1
"$bin" predict --model digits-cnn --weights "$dir/w.h5" --data "npy:$dir/x.npy" --output "$dir/ours.npy" --show 0 > /dev/null || exit 1
fix="$(cd "$(dirname "$0")/../fixtures/keras_written" && pwd)"
# labels: dptrain's own classes for half the samples, random ones for the rest (an accuracy near 0.5)
"$py" -c "import numpy as np; y = np.load('$dir/ours.npy').argmax(1); y[8:] = np.random.default_rng(2).integers(0, 10, 8)
np.save('$dir/y.npy', y.astype('float32'))"
"$bin" evaluate --model "$dir/m.h5" --data "npy:$dir/x.npy,$dir/y.npy" --validation-split 0 > "$dir/m.eval" || exit 1
"$bin" evaluate --model "$dir/m.keras" --data "npy:$dir/x.npy,$dir/y.npy" --validation-split 0 > "$dir/mk.eval" || exit 1
# binary_crossentropy on 10 outputs: Keras 3's 'accuracy' is categorical there (tf.keras 2's was binary).
"$bin" train --model digits-mlp --loss binary_crossentropy --epochs 1 --verbose 0 --save-model "$dir/bce.h5" || exit 1
"$bin" evaluate --model "$dir/bce.h5" --data "npy:$dir/x.npy,$dir/y.npy" --validation-split 0 > "$dir/bce.eval" || exit 1
# Two metrics, one a regression error: Keras 3 logs 'mae' as mae.
"$bin" train --model digits-mlp --loss mse --metrics mae,acc --epochs 1 --verbose 0 --save-model "$dir/reg.h5" || exit 1
"$bin" evaluate --model "$dir/reg.h5" --data "npy:$dir/x.npy,$dir/y.npy" --validation-split 0 > "$dir/reg.eval" || exit 1
# cnn keeps its file's metrics (none); gap is given one under another name.
declare -A metrics=([cnn]="" [gap]="--metrics binary_accuracy" [acts]="" [rsh]="" [acts2]="" [prep]="" [lnorm]="" [dil]="" [tconv]="" [seq]="" [embed]="" [rnn]="" [gru]="" [srnn]="" [bidir]="" [tdist]="" [rdrop]="" [racts]="" [gruv1]="" [mask]="" [masking]="" [seqout]="" [maskout]="")
# lnorm is saved as a .keras archive: Keras 3's legacy .h5 loader drops a LayerNormalization's
# axis list of more than one axis (saving_utils keeps a list of one alone), so Keras cannot load its
# own lnorm_legacy.h5 either (dptrain reads it; test_keras_config).
for m in cnn gap acts rsh acts2 prep lnorm dil tconv seq embed rnn gru srnn bidir tdist rdrop racts gruv1 mask masking \
  seqout maskout; do  # one epoch from Keras's file (BatchNormalization's statistics move), then saved
  ext=h5
  [ "$m" = lnorm ] && ext=keras
  # shellcheck disable=SC2086
  "$bin" train --model "$fix/${m}_legacy.h5" --data "npy:$fix/${m}_x.npy,$fix/${m}_y.npy" --validation-split 0 \
    --batch-size 2 --epochs 1 --verbose 0 --save-model "$dir/$m.$ext" ${metrics[$m]} || exit 1
  "$bin" predict --model "$dir/$m.$ext" --data "npy:$fix/${m}_x.npy" --output "$dir/${m}_ours.npy" --show 0 > /dev/null ||
    exit 1
  "$bin" evaluate --model "$dir/$m.$ext" --data "npy:$fix/${m}_x.npy,$fix/${m}_y.npy" --validation-split 0 \
    > "$dir/$m.eval" || exit 1
done
# One SGD step (the 5 samples in one batch) from Keras's archives of lnorm, dil, tconv, seq, embed,
# rnn, gru, srnn, bidir, tdist, racts (recurrent layers with relu, elu and softsign) and gruv1 (GRU's
# reset_after=False), on one CPU and on 3 CPU replicas: Keras's step on the same batch gives
# the same weights (the normalizations', the dilated and transposed convolutions', the 1-D layers',
# the Embeddings', the recurrent layers', the Bidirectional merges' and TimeDistributed's gradients, through every
# layer's input gradient), mask and masking (Keras's masks: skipped steps carried, masked means). embed's
# inputs are int32 indices.
"$py" -c "import numpy as np; np.save('$dir/step_t.npy', np.eye(3, dtype='float32')[[0, 2, 1, 1, 0]])
r = np.random.default_rng(7)
for m, steps in (('seqout', 6), ('maskout', 8)): np.save(f'$dir/{m}_t.npy', np.eye(3, dtype='float32')[r.integers(0, 3, (5, steps))])"
for m in lnorm dil tconv seq embed rnn gru srnn bidir tdist racts gruv1 mask masking; do
  for r in 1 3; do
    "$bin" train --model "$fix/$m.keras" --data "npy:$fix/${m}_x.npy,$dir/step_t.npy" --validation-split 0 \
      --batch-size 5 --epochs 1 --optimizer sgd --lr 0.5 --no-shuffle --replicas "$r" --verbose 0 \
      --save-model "$dir/${m}_step$r.keras" || exit 1
  done
done
# An output at every step (a class a step), and under Keras's mask (maskout: the padded steps left
# out of the loss and the accuracy; 3 replicas' slices keep different counts of steps).
for m in seqout maskout; do
  for r in 1 3; do
    "$bin" train --model "$fix/$m.keras" --data "npy:$fix/${m}_x.npy,$dir/${m}_t.npy" --validation-split 0 \
      --batch-size 5 --epochs 1 --optimizer sgd --lr 0.5 --no-shuffle --replicas "$r" --verbose 0 \
      --save-model "$dir/${m}_step$r.keras" || exit 1
  done
  for b in 5 2; do  # Keras weighs each batch's loss by its samples
    "$bin" evaluate --model "$dir/$m.h5" --data "npy:$fix/${m}_x.npy,$dir/${m}_t.npy" --validation-split 0 \
      --batch-size "$b" > "$dir/${m}_t$b.eval" || exit 1
  done
done
# Keras 3's own .keras archives (a Sequential model, and a Functional one that is a chain): dptrain
# evaluates them with their compiled metrics; the Functional model, trained one epoch by dptrain,
# is saved as the Sequential model it is, which Keras loads.
"$py" -c "import numpy as np; r = np.random.default_rng(5)
for m, k in (('kseq', 3), ('fchain', 5)): np.save(f'$dir/{m}_t.npy', np.eye(k, dtype='float32')[r.integers(0, k, 5)])"
for m in kseq fchain; do  # random one-hot targets for Keras's inputs
  "$bin" evaluate --model "$fix/$m.keras" --data "npy:$fix/${m}_x.npy,$dir/${m}_t.npy" --validation-split 0 \
    > "$dir/${m}_keras.eval" || exit 1
done
"$bin" train --model "$fix/fchain.keras" --data "npy:$fix/fchain_x.npy,$fix/fchain_y.npy" --validation-split 0 \
  --batch-size 2 --epochs 1 --verbose 0 --save-model "$dir/fchain.h5" || exit 1
"$bin" predict --model "$dir/fchain.h5" --data "npy:$fix/fchain_x.npy" --output "$dir/fchain_ours.npy" --show 0 \
  > /dev/null || exit 1
"$py" - "$dir" "$fix" <<'PY' 2>&1 | grep -v -E "WARNING|warn|^$"
import sys, h5py, numpy as np, keras
d, fix = sys.argv[1], sys.argv[2]
x, ours = np.load(d + "/x.npy"), np.load(d + "/ours.npy")
with h5py.File(d + "/m.h5", "r") as f:
    assert {"model_config", "training_config", "keras_version", "backend"} <= set(f.attrs), dict(f.attrs)
    assert {"model_weights", "optimizer_weights", "dptrain"} <= set(f), list(f)
    names = [n.decode() if isinstance(n, bytes) else n for n in f["optimizer_weights"].attrs["weight_names"]]
    assert names[:3] == ["adam/iteration", "adam/learning_rate", "adam/digits-cnn_conv2d_kernel_momentum"], names[:3]
with h5py.File(d + "/w.h5", "r") as f:
    assert [n.decode() for n in f.attrs["layer_names"]][:2] == ["conv2d", "max_pooling2d"]
    assert f["dense/dense/kernel:0"].shape == (256, 64)
m = keras.models.load_model(d + "/m.h5", compile=False)  # Keras's own loader: config + weights
worst = float(np.abs(m.predict(x, verbose=0) - ours).max())
print(f"keras.models.load_model(--save-model) vs dptrain predict: max |diff| = {worst:.3g}")
assert worst <= 1e-5, worst
m2 = keras.models.load_model(d + "/m.h5", compile=False)
for w in m2.weights:
    w.assign(np.zeros(w.shape, "float32"))
m2.load_weights(d + "/w.h5")  # Keras's loader for the legacy save_weights layout
worst2 = float(np.abs(m2.predict(x, verbose=0) - ours).max())
print(f"keras load_weights(--save-weights) vs dptrain predict: max |diff| = {worst2:.3g}")
assert worst2 <= 1e-5, worst2
for name in ("cnn", "gap", "acts", "rsh", "acts2", "prep", "lnorm", "dil", "tconv", "seq", "embed", "rnn", "gru", "srnn", "bidir", "tdist", "rdrop", "racts", "gruv1", "mask", "masking",
             "seqout", "maskout"):
    m3 = keras.models.load_model(f"{d}/{name}.{'keras' if name == 'lnorm' else 'h5'}", compile=False)
    kinds = sorted({type(layer).__name__ for layer in m3.layers})
    if name == "acts":  # the activations as Keras reads them back from dptrain's config
        kinds = [getattr(layer, "activation").__name__ for layer in m3.layers]
    if name == "acts2":  # gelu, silu, mish, hard_silu and Keras's activation layers with their settings
        settings = {"LeakyReLU": "negative_slope", "ELU": "alpha", "ReLU": "max_value"}
        kinds = [f"{type(layer).__name__}({settings[type(layer).__name__]}={layer.get_config()[settings[type(layer).__name__]]})"
                 if type(layer).__name__ in settings else getattr(layer, "activation", type(layer)).__name__
                 for layer in m3.layers]
        assert kinds == ["gelu", "LeakyReLU(negative_slope=0.3)", "Flatten", "silu", "ELU(alpha=0.5)", "mish",
                         "ReLU(max_value=1.0)", "hard_silu", "softmax"], kinds
    x3, ours3 = np.load(f"{fix}/{name}_x.npy"), np.load(f"{d}/{name}_ours.npy")
    keras_file = np.load(f"{fix}/{name}_y.npy")  # what Keras predicted before dptrain's epoch
    worst3 = float(np.abs(m3.predict(x3, verbose=0) - ours3).max())
    moved = float(np.abs(ours3 - keras_file).max())
    print(f"{name} ({', '.join(kinds)}) trained 1 epoch by dptrain: keras.models.load_model vs dptrain predict: "
          f"max |diff| = {worst3:.3g} (the epoch moved the predictions by {moved:.3g})")
    assert worst3 <= 1e-5 and moved > 1e-3, (worst3, moved)
    if name == "rdrop":  # the recurrent layers' dropout, as dptrain wrote it and Keras reads it
        rates = [(layer.dropout, layer.recurrent_dropout) for layer in (m3.layers[0], m3.layers[1], m3.layers[2].forward_layer)]
        print(f"rdrop: Keras reads dptrain's (dropout, recurrent_dropout) as {rates}")
        assert rates == [(0.2, 0.3), (0.25, 0.0), (0.1, 0.2)], rates

def ours_eval(name):  # "loss: 0.1234 - accuracy: 0.5000" from dptrain evaluate
    line = open(f"{d}/{name}.eval").read().splitlines()[-1]
    return {k: float(v) for k, v in (part.split(": ") for part in line.split(" - "))}
# Keras compiles each saved file's training_config (loss and metrics) and evaluates what dptrain did.
y = keras.utils.to_categorical(np.load(d + "/y.npy"), 10)
for name, xs, ys in (("m", x, y), ("bce", x, y), ("reg", x, y), ("cnn", np.load(f"{fix}/cnn_x.npy"), np.load(f"{fix}/cnn_y.npy")),
                     ("gap", np.load(f"{fix}/gap_x.npy"), np.load(f"{fix}/gap_y.npy")),
                     ("seqout", np.load(f"{fix}/seqout_x.npy"), np.load(f"{d}/seqout_t.npy")),  # per step
                     ("maskout", np.load(f"{fix}/maskout_x.npy"), np.load(f"{d}/maskout_t.npy"))):  # masked
    for b in ((5, 2) if name in ("seqout", "maskout") else (32,)):
        theirs = keras.models.load_model(f"{d}/{name}.h5").evaluate(xs, ys, batch_size=b, verbose=0, return_dict=True)
        ours = ours_eval(f"{name}_t{b}" if name in ("seqout", "maskout") else name)
        print(f"{name}.h5 (batch {b}): Keras's evaluate {theirs}; dptrain's {ours}")
        assert sorted(theirs) == sorted(ours), (theirs, ours)
        assert all(abs(theirs[k] - ours[k]) <= 1e-4 for k in ours), (theirs, ours)  # dptrain prints 4 decimals
# dptrain's .keras archive and .weights.h5 file, read by Keras 3's own loaders: the model, its
# compile_config and the optimizer's variables (no "Skipping variable loading" warning).
import warnings as pywarnings, zipfile
with pywarnings.catch_warnings(record=True) as py_seen:  # Keras 3's "Skipping variable loading ..."
    pywarnings.simplefilter("always")
    mk = keras.models.load_model(d + "/m.keras")
    mw = keras.models.load_model(d + "/m.keras")
    for w in mw.weights:
        w.assign(np.zeros(w.shape, "float32"))
    mw.load_weights(d + "/w.weights.h5")
bad = [str(p.message) for p in py_seen if "optimizer" in str(p.message) or "Skipping" in str(p.message)]
assert zipfile.ZipFile(d + "/m.keras").testzip() is None  # every member's CRC
predicted = np.load(d + "/ours.npy")  # dptrain's predictions from m.h5 (the same training)
worst_k = float(np.abs(mk.predict(x, verbose=0) - predicted).max())
worst_w = float(np.abs(mw.predict(x, verbose=0) - predicted).max())
print(f"keras.models.load_model(--save-model m.keras): {type(mk).__name__}, optimizer {type(mk.optimizer).__name__} "
      f"at iteration {int(mk.optimizer.iterations.numpy())}; vs dptrain predict: max |diff| = {worst_k:.3g}; "
      f"load_weights(--save-weights w.weights.h5): {worst_w:.3g}; optimizer complaints: {bad}")
assert worst_k <= 1e-5 and worst_w <= 1e-5 and not bad, (worst_k, worst_w, bad)
assert int(mk.optimizer.iterations.numpy()) == int(mw.optimizer.iterations.numpy()) == 90
theirs = mk.evaluate(x, y, verbose=0, return_dict=True)
mine = ours_eval("mk")
print(f"m.keras: Keras's evaluate {theirs}; dptrain's {mine}")
assert sorted(theirs) == sorted(mine) and all(abs(theirs[k] - mine[k]) <= 1e-4 for k in mine), (theirs, mine)
for name in ("kseq", "fchain"):  # Keras's .keras archives, compiled by Keras from their compile_config
    xs, ys = np.load(f"{fix}/{name}_x.npy"), np.load(f"{d}/{name}_t.npy")
    theirs = keras.models.load_model(f"{fix}/{name}.keras").evaluate(xs, ys, verbose=0, return_dict=True)
    ours = ours_eval(f"{name}_keras")
    print(f"{name}.keras: Keras's evaluate {theirs}; dptrain's {ours}")
    assert sorted(theirs) == sorted(ours), (theirs, ours)
    assert all(abs(theirs[k] - ours[k]) <= 1e-4 for k in ours), (theirs, ours)
m4 = keras.models.load_model(d + "/fchain.h5", compile=False)
x4, ours4, before = np.load(f"{fix}/fchain_x.npy"), np.load(f"{d}/fchain_ours.npy"), np.load(f"{fix}/fchain_y.npy")
worst4, moved4 = float(np.abs(m4.predict(x4, verbose=0) - ours4).max()), float(np.abs(ours4 - before).max())
print(f"fchain.keras (Functional) trained 1 epoch by dptrain, saved as {type(m4).__name__} "
      f"{[layer.name for layer in m4.layers]}: keras.models.load_model vs dptrain predict: max |diff| = {worst4:.3g} "
      f"(the epoch moved the predictions by {moved4:.3g})")
assert worst4 <= 1e-5 and moved4 > 1e-3, (worst4, moved4)
assert [layer.name for layer in m4.layers] == ["features", "pool", "flat", "drop", "scores"]
for name in ("lnorm", "dil", "tconv", "seq", "embed", "rnn", "gru", "srnn", "bidir", "tdist", "racts", "gruv1", "mask",
             "masking", "seqout", "maskout"):
    m5 = keras.models.load_model(f"{fix}/{name}.keras", compile=False)
    before = [w.numpy() for w in m5.weights]
    m5.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
    targets = np.load(f"{d}/{name}_t.npy" if name in ("seqout", "maskout") else f"{d}/step_t.npy")  # one-hot
    m5.train_on_batch(np.load(f"{fix}/{name}_x.npy"), targets)
    moved5 = max(float(np.abs(w.numpy() - b).max()) for w, b in zip(m5.weights, before))
    for r in (1, 3):
        ours5 = keras.models.load_model(f"{d}/{name}_step{r}.keras", compile=False)
        worst5 = max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(ours5.weights, m5.weights))
        print(f"{name}: one SGD step by dptrain on {r} CPU replica(s) and by Keras: weights within {worst5:.3g} "
              f"(the step moved them by {moved5:.3g})")
        assert worst5 <= 1e-5 and moved5 > 1e-2, (worst5, moved5)
print("PASS")
PY
rc="${PIPESTATUS[0]}"
[ "$rc" -eq 0 ] || exit "$rc"

# Recurrent dropout's semantics in Keras itself, the premise of dptrain's unit test ("Keras's masks,
# per gate, the same at every step" in test_recurrent.cpp): Keras's layer, its cell handed masks of
# our making (one per gate where recurrent_dropout is set), gives for each sample what the unmasked
# layer gives with each gate's kernel rows scaled by that gate's input mask and recurrent_kernel rows
# by its recurrent mask. dptrain's layer passes the same check, and the unmasked layers agree with
# Keras's (the fixtures above), so the two run dropout alike for the same masks.
"$py" - <<'PY' 2>&1 | grep -v -E "WARNING|warn|^$"
import numpy as np, keras
rng = np.random.default_rng(0)
T, F, U, n = 5, 4, 3, 3
for cls, gates in (("LSTM", 4), ("GRU", 3), ("SimpleRNN", 1)):
    for rate, rec_rate in ((0.3, 0.0), (0.3, 0.4), (0.0, 0.4)):
        layer = getattr(keras.layers, cls)(U, return_sequences=True, dropout=rate, recurrent_dropout=rec_rate)
        layer.build((None, T, F))
        per_gate = cls != "SimpleRNN" and rec_rate > 0  # Keras's implementation 1
        count = gates if per_gate else 1
        def draw(shape, r):
            return [(rng.uniform(size=shape) >= r).astype("float32") / (1 - r) for _ in range(count)] if r > 0 else None
        m_in, m_rec = draw((n, F), rate), draw((n, U), rec_rate)
        layer.cell.get_dropout_mask = lambda _: None if m_in is None else (m_in if per_gate else m_in[0])
        layer.cell.get_recurrent_dropout_mask = lambda _: None if m_rec is None else (m_rec if per_gate else m_rec[0])
        x = rng.uniform(-1, 1, (n, T, F)).astype("float32")
        y = np.asarray(layer(x, training=True))
        plain = getattr(keras.layers, cls)(U, return_sequences=True)
        plain.build((None, T, F))
        worst = 0.0
        for i in range(n):
            w = [np.array(v.numpy()) for v in layer.weights]
            for g in range(gates):
                cols = slice(g * U, (g + 1) * U)
                if m_in is not None:
                    w[0][:, cols] *= m_in[g if per_gate else 0][i][:, None]
                if m_rec is not None:
                    w[1][:, cols] *= m_rec[g if per_gate else 0][i][:, None]
            plain.set_weights(w)
            worst = max(worst, float(np.abs(np.asarray(plain(x[i:i + 1])) - y[i:i + 1]).max()))
        print(f"Keras {cls}(dropout={rate}, recurrent_dropout={rec_rate}) with given masks vs the unmasked layer "
              f"with the masks folded into its kernels, sample by sample: max |diff| = {worst:.3g}")
        assert worst <= 1e-6, worst
PY
rc="${PIPESTATUS[0]}"
[ "$rc" -eq 0 ] || exit "$rc"

# Keras 2 (tf-keras): its load_model reads the same files (it cannot take Keras 3's optimizer
# layout, which it loads by position, and says so: the model starts with a fresh optimizer).
tfpy="${DPT_TF_KERAS_PYTHON:-$(dirname "$bin")/tf-keras-env/bin/python}"
if ! [ -x "$tfpy" ] || ! "$tfpy" -c "import tf_keras" 2>/dev/null; then
  echo "tf-keras part SKIPPED: no tf-keras for $tfpy (bash scripts/keras-env.sh --tf-keras makes build/tf-keras-env, ~2 GB)"
  exit 0
fi
TF_CPP_MIN_LOG_LEVEL=3 "$tfpy" - "$dir" "$fix" <<'PY' 2>&1 | grep -v -E "WARNING|warn|cudart_stub|^$"
import sys, numpy as np, tf_keras
d, fix = sys.argv[1], sys.argv[2]
print("tf-keras", tf_keras.__version__)
cases = [("m", np.load(d + "/x.npy"), np.load(d + "/ours.npy"), "categorical_crossentropy")]
cases += [(n, np.load(f"{fix}/{n}_x.npy"), np.load(f"{d}/{n}_ours.npy"), loss)
          for n, loss in (("cnn", "categorical_crossentropy"), ("gap", "binary_crossentropy"),
                          ("gru", "categorical_crossentropy"), ("srnn", "categorical_crossentropy"),
                          ("bidir", "categorical_crossentropy"), ("tdist", "categorical_crossentropy"),
                          ("rdrop", "categorical_crossentropy"), ("racts", "categorical_crossentropy"),
                          ("gruv1", "categorical_crossentropy"), ("mask", "categorical_crossentropy"),
                          ("masking", "categorical_crossentropy"), ("seqout", "categorical_crossentropy"),
                          ("maskout", "categorical_crossentropy"))]
for name, x, ours, loss in cases:
    m = tf_keras.models.load_model(f"{d}/{name}.h5")  # compiled from training_config
    worst = float(np.abs(m.predict(x, verbose=0) - ours).max())
    kinds = sorted({type(layer).__name__ for layer in m.layers})
    compiled = (getattr(m.loss, "__name__", m.loss), type(m.optimizer).__name__,
                round(float(m.optimizer.learning_rate.numpy()), 6))
    print(f"tf-keras load_model({name}.h5: {', '.join(kinds)}) vs dptrain predict: max |diff| = {worst:.3g}; "
          f"compiled with {compiled}")
    assert worst <= 1e-5, worst
    assert compiled == (loss, "Adam", 0.001 if name == "m" else 0.01), compiled
m = tf_keras.models.load_model(d + "/m.h5")
for w in m.weights:
    w.assign(np.zeros(w.shape, "float32"))
m.load_weights(d + "/w.h5")  # Keras 2's loader for the save_weights layout
worst = float(np.abs(m.predict(cases[0][1], verbose=0) - cases[0][2]).max())
print(f"tf-keras load_weights(--save-weights) vs dptrain predict: max |diff| = {worst:.3g}")
assert worst <= 1e-5, worst
# Keras 2 compiles the saved metrics too and evaluates what dptrain did (bce.h5 is left out: there
# tf.keras 2's 'accuracy' is binary, Keras 3's and dptrain's categorical).
y = np.eye(10, dtype="float32")[np.load(d + "/y.npy").astype(int)]
for name in ("m", "reg", "cnn"):
    xs, ys = (cases[0][1], y) if name != "cnn" else (np.load(f"{fix}/cnn_x.npy"), np.load(f"{fix}/cnn_y.npy"))
    theirs = tf_keras.models.load_model(f"{d}/{name}.h5").evaluate(xs, ys, verbose=0, return_dict=True)
    ours = {}
    for part in open(f"{d}/{name}.eval").read().splitlines()[-1].split(" - "):
        k, v = part.split(": ")
        ours[k] = float(v)
    print(f"{name}.h5: tf-keras's evaluate {theirs}; dptrain's {ours}")
    assert sorted(theirs) == sorted(ours) and all(abs(theirs[k] - ours[k]) <= 1e-4 for k in ours), (theirs, ours)
print("PASS (tf-keras)")
PY
exit "${PIPESTATUS[0]}"
