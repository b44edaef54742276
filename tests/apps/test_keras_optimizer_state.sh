#!/usr/bin/env bash
# Optimizer state across Keras and dptrain, for Adam (amsgrad), RMSprop (momentum, centered), SGD
# (Nesterov momentum), AdamW, Adagrad, Adamax, Nadam, Adadelta and Lion, with weight decay, each of
# Keras's three gradient clippings, gradient accumulation, the weights' moving average (use_ema) and
# Keras's six learning-rate schedules (keras.optimizers.schedules):
#   1. Keras trains a model for 2 epochs and saves it (model.save('m.h5') and model.save('m.keras'):
#      weights and optimizer state), then trains 1 more epoch. `dptrain train --model m.h5` (and
#      m.keras) for that epoch must end with Keras's weights: it continues with the file's moments,
#      iteration count and learning rate.
#      A fresh optimizer from the same weights ends far from them (so the comparison can fail).
#   2. dptrain's --save-model names its optimizer arrays exactly as Keras 3 names them, in Keras 3's
#      order, with Keras's values, and keras.models.load_model reads them without its "Error in
#      loading the saved optimizer state" warning.
#   3. Labels that are one column of values (a regression's targets for mean squared error, soft
#      labels for binary cross-entropy) train as in Keras: the epoch after Keras's save gives
#      Keras's weights.
#   4. Activations whose gradient needs their input (gelu, silu, mish, hard_silu) and LeakyReLU, ELU
#      and ReLU layers with settings: dptrain's epoch from Keras's file gives Keras's weights; the
#      same for MobileNet's layers (ZeroPadding2D, DepthwiseConv2D, GlobalAveragePooling2D with
#      keepdims), Cropping2D, SeparableConv2D, UpSampling2D and GlobalMaxPooling2D, SeparableConv1D,
#      DepthwiseConv1D, EinsumDense (into and out of heads) and CategoryEncoding; and for PReLU,
#      RepeatVector, Permute, Identity, ActivityRegularization, UnitNormalization,
#      Conv1DTranspose, Resizing, CenterCrop and RandomGrayscale(1.0), which Keras loads back (and RandomCrop
#      from tf_keras: an epoch where it resizes, evaluate where it crops; and GaussianNoise, GaussianDropout, AlphaDropout, RandomFlip,
#      RandomRotation, RandomZoom, RandomTranslation, RandomShear, RandomContrast and RandomBrightness, whose draws
#      are dptrain's own:
#      evaluate and loading alone).
#   5. A Functional model that branches (residual Adds, a Concatenate): dptrain's epoch from its
#      .keras and .h5 files gives Keras's weights, and Keras loads what dptrain saves; the same for a
#      model of four inputs (npy:A+B+C+D) with Dot (a two-tower recommender, attention-like Dots),
#      and from tf_keras's .h5 where tf_keras is installed; and for MultiHeadAttention (causal self-attention
#      in a transformer block, cross-attention, a key of its own; a padded text block through
#      Embedding(mask_zero=True), whose Keras 3 config writes the masks as operations; Keras's
#      Attention with use_scale, a causal mask, a key of its own and an Embedding's mask; its
#      score_mode="concat" and AdditiveAttention, also from tf_keras; Keras 3's GroupQueryAttention).
#   6. Keras's weight regularizers, and its activity regularizers (Sequential and Functional):
#      dptrain's epoch gives Keras's weights and logs Keras's loss with the penalty; Keras loads
#      dptrain's files with them and evaluates to dptrain's loss.
#   7. Keras's initializers: a fresh model from model.to_json() draws its weights as Keras's draw.
#   8. Keras's sample_weight: dptrain's epoch from Keras's file gives Keras's weights and losses, and
#      its weighted_metrics (accuracy, MAE, AUC, precision, R2, F1, a cross-entropy) Keras's figures,
#      in fit, validation and evaluate; the same with class_weight.
#   9. (with the losses) Huber's delta, which Keras 3.15 leaves out of its own files: given as
#      --huber-delta, dptrain's epoch gives Keras's weights, and Keras loads dptrain's files with it;
#      the focal cross-entropies' loss objects (alpha, gamma, class balancing, from logits).
# Python: $DPT_KERAS_PYTHON (scripts/test.sh sets it), else python3. Skipped, saying so, without Keras.
#   test_keras_optimizer_state.sh DPTRAIN
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
"$py" - "$bin" "$dir" <<'PY' 2>&1 | grep -v -E "^WARNING:absl:(You are saving|Compiled the loaded|Error in loading the saved optimizer state)|^$"
import json, logging, subprocess, sys
import h5py, keras, numpy as np
sched = keras.optimizers.schedules

bin, d = sys.argv[1], sys.argv[2]
print("Keras", keras.__version__, "backend", keras.backend.backend())
rng = np.random.default_rng(3)
x = rng.uniform(-1, 1, (32, 6)).astype("float32")
y = np.eye(3, dtype="float32")[rng.integers(0, 3, 32)]
np.save(f"{d}/x.npy", x)
np.save(f"{d}/y.npy", y)
fails = 0


def check(ok, what):
    global fails
    print(("ok: " if ok else "FAIL: ") + what)
    fails += 0 if ok else 1


def build():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh", name="hidden"),
                             keras.layers.Dense(3, activation="softmax", name="out")], name="mlp")


def fit(model, epochs):
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)


def names(path):
    with h5py.File(path, "r") as f:
        return [n.decode() if isinstance(n, bytes) else str(n) for n in f["optimizer_weights"].attrs["weight_names"]]


def arrays(path):
    with h5py.File(path, "r") as f:
        return {n.split("/", 1)[-1]: np.array(f["optimizer_weights"][n]) for n in names(path)}


def dpt_eval(path, ys, xs="x"):  # `dptrain evaluate`'s figures by name ({"error": ...} where it fails)
    ev = subprocess.run([bin, "evaluate", "--model", path, "--data", f"npy:{d}/{xs}.npy,{d}/{ys}.npy",
                         "--validation-split", "0", "--batch-size", "8"], capture_output=True, text=True)
    said = [ln for ln in ev.stdout.splitlines() if ln.startswith("loss: ")]
    if ev.returncode != 0 or not said:
        return {"error": ev.stderr.strip()}
    out = {}
    for part in said[0].split(" - "):
        k, v = part.rsplit(": ", 1)
        out[k] = float(v)
    return out


def model_weights(path):
    with h5py.File(path, "r") as f:
        g = f["model_weights"]
        return [np.array(g[layer][w]) for layer in ("hidden", "out")
                for w in (n.decode() for n in g[layer].attrs["weight_names"])]


def h5_weights_by_name(path):  # a legacy .h5's weights by their names ("dense/kernel:0")
    with h5py.File(path, "r") as f:
        g = f["model_weights"]
        return {w.decode(): np.array(g[n.decode()][w.decode()]) for n in g.attrs["layer_names"]
                for w in g[n.decode()].attrs["weight_names"]}


def archive_vars(path):  # every dataset of a .keras archive's model.weights.h5, by its path
    import io, zipfile
    out = {}
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, np.array(obj)) if isinstance(obj, h5py.Dataset) else None)
    return out


class Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = []

    def emit(self, record):
        self.seen.append(record.getMessage())


cases = [
    ("adam", lambda: keras.optimizers.Adam(0.01, amsgrad=True), "Adam(learning_rate=0.01,"),
    ("rmsprop", lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True), "RMSprop(learning_rate=0.01,"),
    ("sgd", lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True), "SGD(learning_rate=0.05,"),
    ("adamw", lambda clip=True: keras.optimizers.AdamW(0.01, weight_decay=0.05, clipnorm=0.05 if clip else None),
     "AdamW(learning_rate=0.01, weight_decay=0.05,"),
    ("adagrad", lambda clip=True: keras.optimizers.Adagrad(0.1, initial_accumulator_value=0.01,
                                                           global_clipnorm=0.05 if clip else None),
     "Adagrad(learning_rate=0.1,"),
    ("adamax", lambda clip=True: keras.optimizers.Adamax(0.01, clipvalue=0.01 if clip else None),
     "Adamax(learning_rate=0.01,"),
    ("nadam", lambda: keras.optimizers.Nadam(0.01, weight_decay=0.01), "Nadam(learning_rate=0.01, weight_decay=0.01,"),
    ("adadelta", lambda: keras.optimizers.Adadelta(1.0), "Adadelta(learning_rate=1,"),
    ("lion", lambda: keras.optimizers.Lion(0.003), "Lion(learning_rate=0.003,"),
    # Updates every third step: the file's 8 steps leave 2 steps' gradients in its accumulators.
    ("accumulating", lambda: keras.optimizers.Adam(0.01, gradient_accumulation_steps=3),
     "Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, gradient_accumulation_steps=3)"),
    # A moving average of the weights, which becomes the weights at the end of each fit (and, in the
    # second case, every 3 steps).
    ("ema", lambda: keras.optimizers.SGD(0.1, momentum=0.5, use_ema=True, ema_momentum=0.7),
     "SGD(learning_rate=0.1, momentum=0.5, use_ema=True, ema_momentum=0.7)"),
    ("ema_overwrite", lambda: keras.optimizers.RMSprop(0.01, use_ema=True, ema_overwrite_frequency=3),
     "RMSprop(learning_rate=0.01, rho=0.9, momentum=0, use_ema=True, ema_momentum=0.99, ema_overwrite_frequency=3)"),
    # Learning-rate schedules (keras.optimizers.schedules), computed before every step from the step
    # counter: each changes the rate within the epoch dptrain trains (steps 8 to 11).
    ("exponential", lambda: keras.optimizers.SGD(sched.ExponentialDecay(0.2, 3, 0.5, staircase=True), momentum=0.5),
     "SGD(learning_rate=ExponentialDecay(initial_learning_rate=0.2, decay_steps=3, decay_rate=0.5, staircase=True), "
     "momentum=0.5)"),
    ("piecewise", lambda: keras.optimizers.Adam(sched.PiecewiseConstantDecay([5, 9], [0.02, 0.01, 0.002])),
     "Adam(learning_rate=PiecewiseConstantDecay(boundaries=[5, 9], values=[0.02, 0.01, 0.002]), beta_1=0.9,"),
    ("polynomial", lambda: keras.optimizers.RMSprop(sched.PolynomialDecay(0.01, 5, 0.001, power=2.0, cycle=True)),
     "RMSprop(learning_rate=PolynomialDecay(initial_learning_rate=0.01, decay_steps=5, end_learning_rate=0.001, "
     "power=2, cycle=True), rho=0.9,"),
    ("inverse_time", lambda: keras.optimizers.Adagrad(sched.InverseTimeDecay(0.1, 2, 0.7)),
     "Adagrad(learning_rate=InverseTimeDecay(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.7, "
     "staircase=False),"),
    ("cosine", lambda: keras.optimizers.AdamW(sched.CosineDecay(0.001, 6, alpha=0.1, warmup_target=0.02, warmup_steps=4),
                                              weight_decay=0.05),
     "AdamW(learning_rate=CosineDecay(initial_learning_rate=0.001, decay_steps=6, alpha=0.1, warmup_target=0.02, "
     "warmup_steps=4), weight_decay=0.05,"),
    ("restarts", lambda: keras.optimizers.Lion(sched.CosineDecayRestarts(0.003, 3, t_mul=2.0, m_mul=0.5, alpha=0.05)),
     "Lion(learning_rate=CosineDecayRestarts(initial_learning_rate=0.003, first_decay_steps=3, t_mul=2, m_mul=0.5, "
     "alpha=0.05),"),
    # The schedule counts every step, those that only accumulate too (Keras's _iterations).
    ("scheduled_accumulating", lambda: keras.optimizers.Adam(sched.ExponentialDecay(0.03, 2, 0.6),
                                                             gradient_accumulation_steps=3),
     "Adam(learning_rate=ExponentialDecay(initial_learning_rate=0.03, decay_steps=2, decay_rate=0.6, staircase=False), "
     "beta_1=0.9, beta_2=0.999, gradient_accumulation_steps=3)"),
]
if keras.backend.backend() == "jax":  # Keras 3.15 on JAX cannot fit with use_ema at all
    print("use_ema cases SKIPPED on JAX (Keras 3.15's fit fails there: 'Attempt to donate the same buffer twice'); "
          "KERAS_BACKEND=tensorflow runs them")
    cases = [c for c in cases if not c[0].startswith("ema")]
for tag, make, described in cases:
    m = build()
    m.compile(optimizer=make(), loss="categorical_crossentropy")
    fit(m, 2)
    m.save(f"{d}/{tag}_1.keras")  # before the .h5 save, which takes the optimizer out of the compile config
    m.save(f"{d}/{tag}_1.h5")
    start = [w.numpy() for w in m.weights]
    fit(m, 1)  # Keras goes on with the same optimizer
    m.save(f"{d}/{tag}_2.keras")
    m.save(f"{d}/{tag}_2.h5")
    theirs = [w.numpy() for w in m.weights]
    fresh = build()
    fresh.set_weights(start)
    fresh.compile(optimizer=make(), loss="categorical_crossentropy")
    fit(fresh, 1)  # the same epoch with a fresh optimizer
    if tag in ("adamw", "adagrad", "adamax"):  # each clipping acts on these gradients
        unclipped = build()
        unclipped.set_weights(start)
        unclipped.compile(optimizer=make(clip=False), loss="categorical_crossentropy")
        fit(unclipped, 3)
        far = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(unclipped.weights, theirs))
        check(far > 100 * 2e-6, f"{tag}: Keras without the clipping ends elsewhere (max |diff| {far:.3g})")

    run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.h5", "--data", f"npy:{d}/x.npy,{d}/y.npy",
                          "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                          "--verbose", "2", "--save-model", f"{d}/{tag}_ours.h5"], capture_output=True, text=True)
    check(run.returncode == 0, f"{tag}: dptrain train --model {tag}_1.h5 ran (exit {run.returncode}) {run.stderr}")
    if run.returncode != 0:
        continue
    said = "the optimizer continues from the file's state: iteration 8, "
    check(said in run.stdout and described in run.stdout,
          f"{tag}: dptrain says it continues the file's {described.split('(')[0]} from iteration 8")
    ours = model_weights(f"{d}/{tag}_ours.h5")
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
    fresh_diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(fresh.weights, theirs))
    check(diff <= 2e-6, f"{tag}: dptrain's epoch from the file's optimizer state gives Keras's weights "
                        f"(max |diff| {diff:.3g})")
    check(fresh_diff > 100 * 2e-6, f"{tag}: a fresh optimizer would not (max |diff| {fresh_diff:.3g})")
    if described.split("learning_rate=")[1][0].isalpha():  # a schedule: held at its initial rate, the epoch ends elsewhere
        held = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.h5", "--data", f"npy:{d}/x.npy,{d}/y.npy",
                               "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                               "--verbose", "0", "--lr-decay", "none", "--save-model", f"{d}/{tag}_held.h5"],
                              capture_output=True, text=True)
        held_diff = max(float(np.abs(a - b).max()) for a, b in zip(model_weights(f"{d}/{tag}_held.h5"), theirs)) \
            if held.returncode == 0 else 0.0
        check(held_diff > 100 * 2e-6, f"{tag}: the schedule's initial rate held (--lr-decay none) would not "
                                      f"(max |diff| {held_diff:.3g}) {held.stderr.strip()}")
    # The same from Keras 3's .keras archive: the optimizer's variables are numbered there, not named.
    run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.keras", "--data", f"npy:{d}/x.npy,{d}/y.npy",
                          "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                          "--verbose", "2", "--save-model", f"{d}/{tag}_ours.keras"], capture_output=True, text=True)
    check(run.returncode == 0 and said in run.stdout and described in run.stdout,
          f"{tag}: dptrain train --model {tag}_1.keras continues the archive's optimizer from iteration 8 "
          f"(exit {run.returncode}) {run.stderr}")
    if run.returncode == 0:  # saved as a .keras archive: every variable numbered as Keras numbers it
        ours_k, keras_k = archive_vars(f"{d}/{tag}_ours.keras"), archive_vars(f"{d}/{tag}_2.keras")
        check(sorted(ours_k) == sorted(keras_k), f"{tag}: --save-model m.keras holds Keras's variables "
                                                 f"({len(ours_k)}: layers and optimizer/vars)")
        if sorted(ours_k) == sorted(keras_k):
            diff_k = max(float(np.abs(ours_k[k] - keras_k[k]).max()) for k in ours_k)
            check(diff_k <= 2e-6, f"{tag}: its epoch from the .keras archive's state gives Keras's weights and "
                                  f"optimizer variables (max |diff| {diff_k:.3g})")

    ours_names = [n.split("/", 1)[-1] for n in names(f"{d}/{tag}_ours.h5")]  # Nadam's "variable" has no prefix
    keras_names = [n.split("/", 1)[-1] for n in names(f"{d}/{tag}_2.h5")]
    check(ours_names == keras_names, f"{tag}: --save-model's optimizer arrays are Keras 3's, in Keras 3's order "
                                     f"({len(ours_names)}: {', '.join(ours_names[:4])}, ...)")
    a, b = arrays(f"{d}/{tag}_ours.h5"), arrays(f"{d}/{tag}_2.h5")
    if set(a) == set(b):
        check(int(a["iteration"]) == int(b["iteration"]) == 12, f"{tag}: iteration {int(a['iteration'])}, as Keras's")
        slot_diff = max(float(np.abs(a[k] - b[k]).max()) for k in a if k not in ("iteration", "learning_rate"))
        check(slot_diff <= 2e-6, f"{tag}: the saved slots are Keras's after the same epoch (max |diff| {slot_diff:.3g})")

    def load_warnings(path):
        caught = Warnings()
        for logger in (logging.getLogger(), logging.getLogger("absl")):
            logger.addHandler(caught)
        loaded = keras.models.load_model(path)
        for logger in (logging.getLogger(), logging.getLogger("absl")):
            logger.removeHandler(caught)
        return loaded, [w for w in caught.seen if "optimizer" in w]
    loaded, bad = load_warnings(f"{d}/{tag}_ours.h5")
    if tag == "nadam":  # Keras 3.15 cannot restore Nadam from its own .h5 (its u_product is named "variable")
        _, own = load_warnings(f"{d}/{tag}_2.h5")
        check(bool(own) and bad == own, f"{tag}: keras.models.load_model warns on --save-model's file as on its own "
                                        f"({own[:1]})")
        continue
    check(not bad, f"{tag}: keras.models.load_model reads --save-model's optimizer state without a warning {bad}")
    updates = 12 // (loaded.optimizer.gradient_accumulation_steps or 1)  # Keras's `iterations` counts updates
    at = int(keras.ops.convert_to_numpy(loaded.optimizer.iterations))
    check(at == updates, f"{tag}: Keras's loaded optimizer is at iteration {at}")
# The cross-entropies with from_logits=True on a model whose last Dense has no activation (Keras's
# recommended form): dptrain's epoch from Keras's .h5 and .keras files ends with Keras's weights, a
# softmax loss on those logits would not, and Keras loads dptrain's files with the same loss and
# evaluates them to dptrain's loss.
labels = rng.integers(0, 3, 32)
np.save(f"{d}/idx_y.npy", labels.astype("float32"))
np.save(f"{d}/bin_y.npy", rng.integers(0, 2, (32, 2)).astype("float32"))
# label_smoothing the same way, on a softmax's probabilities and on logits; held at 0
# (--label-smoothing 0) it ends elsewhere.
L = keras.losses
logit_cases = {
    "logits_sparse": (L.SparseCategoricalCrossentropy(from_logits=True), "idx_y", 3, None, "(from_logits=True)"),
    "logits_categorical": (L.CategoricalCrossentropy(from_logits=True), "y", 3, None, "(from_logits=True)"),
    "logits_binary": (L.BinaryCrossentropy(from_logits=True), "bin_y", 2, None, "(from_logits=True)"),
    "smoothing_categorical": (L.CategoricalCrossentropy(label_smoothing=0.1), "y", 3, "softmax",
                              "(label_smoothing=0.1)"),
    "smoothing_binary_logits": (L.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), "bin_y", 2, None,
                                "(from_logits=True, label_smoothing=0.2)")}
for tag, (loss, ys, units, activation, described) in logit_cases.items():
    targets = np.load(f"{d}/{ys}.npy")
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh", name="hidden"),
                          keras.layers.Dense(units, activation=activation, name="out")], name="mlp")
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, metrics=["accuracy"])
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{tag}_1.keras")
    m.save(f"{d}/{tag}_1.h5")
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = [w.numpy() for w in m.weights]
    for ext in ("h5", "keras"):
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", f"npy:{d}/x.npy,{d}/{ys}.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                              "--verbose", "2", "--save-model", f"{d}/{tag}_ours.{ext}"], capture_output=True, text=True)
        check(run.returncode == 0 and f"loss: {loss.name} {described} |" in run.stdout,
              f"{tag}: dptrain trains {tag}_1.{ext} with the file's loss, {described} (exit {run.returncode}) "
              f"{run.stderr.strip()}")
        if run.returncode != 0:
            continue
        ours = keras.models.load_model(f"{d}/{tag}_ours.{ext}")
        diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(ours.weights, theirs))
        check(diff <= 2e-6, f"{tag}: its epoch from the .{ext} file gives Keras's weights (max |diff| {diff:.3g})")
        cfg = keras.losses.serialize(ours.loss) if not isinstance(ours.loss, str) else ours.loss
        want = keras.losses.serialize(loss)["config"]
        same = isinstance(cfg, dict) and all(cfg["config"].get(k) == want[k] for k in ("from_logits", "label_smoothing")
                                             if k in want)
        check(same, f"{tag}: Keras loads dptrain's .{ext} file with {type(ours.loss).__name__}{described}")
        theirs_eval = ours.evaluate(x, targets, batch_size=8, verbose=0, return_dict=True)
        ev = dpt_eval(f"{d}/{tag}_ours.{ext}", ys)
        ours_loss, ours_acc = ev.get("loss", float("nan")), ev.get("accuracy", float("nan"))
        check(abs(ours_loss - theirs_eval["loss"]) <= 1e-4 and abs(ours_acc - theirs_eval["accuracy"]) <= 1e-4,
              f"{tag}: dptrain evaluates the .{ext} file to Keras's loss and accuracy ({ours_loss} vs "
              f"{theirs_eval['loss']:.6f}, {ours_acc} vs {theirs_eval['accuracy']:.4f})")
    other = ["--label-smoothing", "0"] if "smoothing" in tag else ["--loss", loss.name]
    held = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.h5", "--data", f"npy:{d}/x.npy,{d}/{ys}.npy",
                           "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                           "--verbose", "0", "--save-model", f"{d}/{tag}_other.h5"] + other,
                          capture_output=True, text=True)
    if held.returncode == 0:
        far = max(float(np.abs(a - b).max()) for a, b in zip(model_weights(f"{d}/{tag}_other.h5"), theirs))
        check(far > 100 * 2e-6, f"{tag}: {' '.join(other)} would end elsewhere (max |diff| {far:.3g})")
    else:
        check(False, f"{tag}: {' '.join(other)} ran {held.stderr.strip()}")

# Keras's other losses: dptrain's epoch from Keras's file ends with Keras's weights, and Keras
# evaluates dptrain's saved file to dptrain's loss. The errors on a linear output (Huber's both sides
# of delta 1), MSLE and Poisson on a sigmoid's values, KL divergence on a softmax's distribution.
np.save(f"{d}/wide_y.npy", rng.normal(0, 2, (32, 3)).astype("float32"))
np.save(f"{d}/unit_y.npy", rng.uniform(0, 1, (32, 3)).astype("float32"))
# Also MAPE (targets away from 0), the hinges on -1/1 targets and on 0/1 targets (which Keras reads as
# -1/1), categorical_hinge on one-hot targets, and cosine_similarity.
np.save(f"{d}/pos_y.npy", rng.uniform(0.5, 2, (32, 3)).astype("float32"))
np.save(f"{d}/sign_y.npy", (2 * rng.integers(0, 2, (32, 3)) - 1).astype("float32"))
np.save(f"{d}/bits_y.npy", rng.integers(0, 2, (32, 3)).astype("float32"))
value_losses = [("mean_absolute_error", None, "wide_y"), ("huber", None, "wide_y"), ("log_cosh", None, "wide_y"),
                ("mean_squared_logarithmic_error", "sigmoid", "unit_y"), ("poisson", "sigmoid", "unit_y"),
                ("kl_divergence", "softmax", "y"), ("mean_absolute_percentage_error", None, "pos_y"),
                ("hinge", "tanh", "sign_y"), ("squared_hinge", "tanh", "bits_y"), ("categorical_hinge", None, "y"),
                ("cosine_similarity", None, "wide_y")]
for loss, activation, ys in value_losses:
    targets = np.load(f"{d}/{ys}.npy")
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh", name="hidden"),
                          keras.layers.Dense(3, activation=activation, name="out")], name="mlp")
    lr = 0.002 if loss == "mean_absolute_percentage_error" else 0.1  # MAPE's gradients are a hundredfold
    m.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.5), loss=loss)  # SGD: the gradients' scale shows
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{loss}_1.h5")
    start = [w.numpy() for w in m.weights]
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = [w.numpy() for w in m.weights]
    moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs))
    run = subprocess.run([bin, "train", "--model", f"{d}/{loss}_1.h5", "--data", f"npy:{d}/x.npy,{d}/{ys}.npy",
                          "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                          "--verbose", "2", "--save-model", f"{d}/{loss}_ours.keras"], capture_output=True, text=True)
    check(run.returncode == 0 and f"loss: {loss} |" in run.stdout,
          f"{loss}: dptrain trains the file with its loss (exit {run.returncode}) {run.stderr.strip()}")
    if run.returncode != 0:
        continue
    ours = keras.models.load_model(f"{d}/{loss}_ours.keras")
    diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(ours.weights, theirs))
    check(diff <= 2e-6, f"{loss}: dptrain's epoch gives Keras's weights (max |diff| {diff:.3g}; the epoch moved "
                        f"them {moved:.3g})")
    theirs_eval = ours.evaluate(x, targets, batch_size=8, verbose=0, return_dict=True)
    ours_loss = dpt_eval(f"{d}/{loss}_ours.keras", ys).get("loss", float("nan"))
    check(abs(ours_loss - theirs_eval["loss"]) <= 1e-4 * max(1.0, abs(theirs_eval["loss"])),
          f"{loss}: Keras loads dptrain's file and evaluates dptrain's loss ({ours_loss} vs {theirs_eval['loss']:.6f})")

# Huber's delta (0.4: the errors fall on both sides of it). Keras 3.15 leaves it out of its own files
# (Huber.get_config drops it), so dptrain is told it (--huber-delta): dptrain's epoch from Keras's file
# gives Keras's weights, and Keras loads dptrain's files, which hold it, with it, and evaluates them to
# dptrain's loss. Without --huber-delta (delta 1) the epoch ends elsewhere.
targets = np.load(f"{d}/wide_y.npy")
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh", name="hidden"),
                      keras.layers.Dense(3, name="out")], name="mlp")
m.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5), loss=keras.losses.Huber(delta=0.4))
m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/huber_delta_1.h5")
m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
theirs = [w.numpy() for w in m.weights]
errors = np.abs(m.predict(x, verbose=0) - targets)
check(0.1 < float((errors <= 0.4).mean()) < 0.9, f"huber delta 0.4: errors on both sides of it "
                                                 f"({float((errors <= 0.4).mean()):.2f} within)")
for ext in ("h5", "keras"):
    run = subprocess.run([bin, "train", "--model", f"{d}/huber_delta_1.h5", "--data", f"npy:{d}/x.npy,{d}/wide_y.npy",
                          "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                          "--verbose", "2", "--huber-delta", "0.4", "--save-model", f"{d}/huber_delta_ours.{ext}"],
                         capture_output=True, text=True)
    check(run.returncode == 0 and "loss: huber (delta=0.4) |" in run.stdout,
          f"huber delta: dptrain trains Keras's file with --huber-delta 0.4 (exit {run.returncode}) "
          f"{run.stderr.strip()}")
    if run.returncode != 0:
        continue
    ours = keras.models.load_model(f"{d}/huber_delta_ours.{ext}")
    diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(ours.weights, theirs))
    check(diff <= 2e-6, f"huber delta: dptrain's epoch gives Keras's weights (max |diff| {diff:.3g})")
    loaded_delta = getattr(ours.loss, "_fn_kwargs", {}).get("delta")
    check(isinstance(ours.loss, keras.losses.Huber) and loaded_delta == 0.4,
          f"huber delta: Keras loads dptrain's .{ext} file with Huber(delta={loaded_delta})")
    theirs_eval = ours.evaluate(x, targets, batch_size=8, verbose=0, return_dict=True)
    ours_loss = dpt_eval(f"{d}/huber_delta_ours.{ext}", "wide_y").get("loss", float("nan"))
    check(abs(ours_loss - theirs_eval["loss"]) <= 1e-4 * max(1.0, abs(theirs_eval["loss"])),
          f"huber delta: Keras evaluates dptrain's .{ext} file to dptrain's loss ({ours_loss} vs "
          f"{theirs_eval['loss']:.6f})")
held = subprocess.run([bin, "train", "--model", f"{d}/huber_delta_1.h5", "--data", f"npy:{d}/x.npy,{d}/wide_y.npy",
                       "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0",
                       "--save-model", f"{d}/huber_delta_other.h5"], capture_output=True, text=True)
if held.returncode == 0:
    far = max(float(np.abs(a - b).max()) for a, b in zip(model_weights(f"{d}/huber_delta_other.h5"), theirs))
    check(far > 100 * 2e-6, f"huber delta: delta 1 would end elsewhere (max |diff| {far:.3g})")
else:
    check(False, f"huber delta: training without --huber-delta ran {held.stderr.strip()}")

# Keras's focal cross-entropies as loss objects with their settings: BinaryFocalCrossentropy with
# class balancing, alpha, gamma and label smoothing on a sigmoid's 0/1 columns, and from logits;
# CategoricalFocalCrossentropy on a softmax, and from logits with its own alpha and gamma. dptrain
# evaluates Keras's .keras and .h5 files to Keras's loss, its epoch from them gives Keras's weights,
# and Keras loads dptrain's file with the same loss object and evaluates it to dptrain's loss.
focal_cases = [
    ("bfocal", "sigmoid", "bits_y",
     lambda: keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3, gamma=1.5,
                                                  label_smoothing=0.1)),
    ("bfocal_logits", None, "bits_y", lambda: keras.losses.BinaryFocalCrossentropy(from_logits=True, gamma=2.5)),
    ("cfocal", "softmax", "y", lambda: keras.losses.CategoricalFocalCrossentropy()),
    ("cfocal_logits", None, "y",
     lambda: keras.losses.CategoricalFocalCrossentropy(from_logits=True, alpha=0.5, gamma=1.0, label_smoothing=0.2)),
]
for tag, activation, ys, make_loss in focal_cases:
    targets = np.load(f"{d}/{ys}.npy")
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh", name="hidden"),
                          keras.layers.Dense(3, activation=activation, name="out")], name="mlp")
    m.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.5), loss=make_loss())
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{tag}_1.keras")
    m.save(f"{d}/{tag}_1.h5")
    want = m.evaluate(x, targets, batch_size=8, verbose=0)
    start = [w.numpy() for w in m.weights]
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = [w.numpy() for w in m.weights]
    moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs))
    want_cfg = {k: v for k, v in make_loss().get_config().items() if k not in ("name", "reduction")}
    for ext in ("keras", "h5"):
        got_loss = dpt_eval(f"{d}/{tag}_1.{ext}", ys).get("loss", float("nan"))
        check(abs(got_loss - want) <= 1e-4, f"{tag}: dptrain evaluates Keras's .{ext} file to its loss ({got_loss} vs "
                                            f"{want:.6f})")
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", f"npy:{d}/x.npy,{d}/{ys}.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                              "--verbose", "2", "--save-model", f"{d}/{tag}_ours.keras"], capture_output=True, text=True)
        check(run.returncode == 0, f"{tag}: dptrain trains the .{ext} file with its loss (exit {run.returncode}) "
                                   f"{run.stderr.strip()}")
        if run.returncode != 0:
            continue
        ours = keras.models.load_model(f"{d}/{tag}_ours.keras")
        diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(ours.weights, theirs))
        check(diff <= 2e-6 and moved > 100 * 2e-6, f"{tag}: dptrain's epoch from the .{ext} file gives Keras's "
                                                   f"weights (max |diff| {diff:.3g}; the epoch moved them {moved:.3g})")
        if isinstance(ours.loss, str):  # Keras's defaults: dptrain writes the loss's name, as compile(loss=name)
            default = {k: v for k, v in type(make_loss())().get_config().items() if k not in ("name", "reduction")}
            check(ours.loss == make_loss().name and want_cfg == default,
                  f"{tag}: Keras loads dptrain's file with the loss '{ours.loss}' (Keras's defaults)")
        else:
            got_cfg = {k: v for k, v in ours.loss.get_config().items() if k not in ("name", "reduction")}
            check(type(ours.loss) is type(make_loss()) and all(abs(got_cfg.get(k, -1) - v) < 1e-6 for k, v in
                                                               want_cfg.items()),
                  f"{tag}: Keras loads dptrain's file with the loss {type(ours.loss).__name__}({got_cfg})")
        theirs_eval = ours.evaluate(x, targets, batch_size=8, verbose=0)
        ours_loss = dpt_eval(f"{d}/{tag}_ours.keras", ys).get("loss", float("nan"))
        check(abs(ours_loss - theirs_eval) <= 1e-4, f"{tag}: Keras evaluates dptrain's file to dptrain's loss "
                                                    f"({ours_loss} vs {theirs_eval:.6f})")

# Keras's other metrics: compiled into Keras's model (strings and objects with arguments), dptrain
# evaluates Keras's .keras and .h5 files to Keras's own figures under Keras's names; dptrain trains an
# epoch and saves, and Keras loads dptrain's files with the same metrics and evaluates them to
# dptrain's figures.
M = keras.metrics
np.save(f"{d}/five_y.npy", np.eye(5, dtype="float32")[rng.integers(0, 5, 32)])
np.save(f"{d}/five_idx.npy", rng.integers(0, 5, 32).astype("float32"))
metric_cases = {
    "metrics_categorical": ("categorical_crossentropy", "softmax", 5, "five_y",
                            lambda: ["accuracy", M.TopKCategoricalAccuracy(k=2, name="top2"),
                                     "top_k_categorical_accuracy", M.CategoricalCrossentropy(label_smoothing=0.1),
                                     "kl_divergence", "categorical_hinge", "cosine_similarity"]),
    "metrics_sparse": ("sparse_categorical_crossentropy", "softmax", 5, "five_idx",
                       lambda: ["sparse_top_k_categorical_accuracy", M.SparseTopKCategoricalAccuracy(k=3, name="s3"),
                                M.SparseCategoricalCrossentropy()]),
    "metrics_regression": ("mean_squared_error", None, 3, "pos_y",
                           lambda: ["mape", "log_cosh_error", M.RootMeanSquaredError(), "mae", "cosine_similarity",
                                    "hinge", "squared_hinge", M.R2Score(),
                                    # (num_regressors is unit-tested only: Keras's own result() fails under JAX's jit)
                                    M.R2Score(class_aggregation="variance_weighted_average", name="r2w")]),
    "metrics_binary": ("binary_crossentropy", "sigmoid", 3, "bits_y",
                       lambda: [M.BinaryAccuracy(threshold=0.6), M.BinaryCrossentropy(label_smoothing=0.2, name="bce_smooth"), "bce",
                                "poisson", "msle", "hinge", M.SquaredHinge(name="sqh")]),
    "metrics_logits": ("binary_crossentropy", None, 3, "bits_y",
                       lambda: [M.BinaryCrossentropy(from_logits=True, name="bce_logits"),
                                M.AUC(from_logits=True, name="auc_logits")]),
    # Keras's confusion metrics: counts over the whole evaluation, not means of the batches'.
    "metrics_confusion": ("binary_crossentropy", "sigmoid", 3, "bits_y",
                          lambda: [M.AUC(name="auc"), M.AUC(curve="PR", num_thresholds=50, name="pr"),
                                   M.AUC(summation_method="majoring", name="roc_maj"), M.Precision(name="precision"),
                                   M.Recall(thresholds=0.45, class_id=1, name="r1"), "recall",
                                   # multi_label: each column's AUC apart, averaged (by label_weights)
                                   M.AUC(multi_label=True, name="auc_ml"),
                                   M.AUC(multi_label=True, curve="PR", num_thresholds=30, name="pr_ml")]),
    "metrics_confusion_categorical": ("categorical_crossentropy", "softmax", 5, "five_y",
                                      lambda: ["auc", M.Precision(thresholds=0.2, name="p02"),
                                               M.F1Score(average="macro"),
                                               M.FBetaScore(average="weighted", beta=2.0, threshold=0.3, name="fb2"),
                                               M.F1Score(average="micro", name="f1_micro"),
                                               M.AUC(multi_label=True, summation_method="minoring", name="auc_ml5")])}



def same_figures(ours, theirs):
    # Keras's legacy .h5 loader makes a fresh metric of a string such as "auc" or "recall", which
    # takes a name unique in the Python session ("recall_3" after three Recall objects); a fresh
    # session logs it as "recall", as dptrain does.
    import re
    theirs = {(re.sub(r"_[0-9]+$", "", k) if k not in ours and re.sub(r"_[0-9]+$", "", k) in ours else k): v
              for k, v in theirs.items()}
    return sorted(ours) == sorted(theirs) and all(abs(ours[k] - theirs[k]) <= 1e-4 * max(1.0, abs(theirs[k]))
                                                  for k in theirs)


for tag, (loss, activation, units, ys, metrics) in metric_cases.items():
    targets = np.load(f"{d}/{ys}.npy")
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh", name="hidden"),
                          keras.layers.Dense(units, activation=activation, name="out")], name="mlp")
    m.compile(optimizer=keras.optimizers.Adam(0.01),
              loss=keras.losses.BinaryCrossentropy(from_logits=True) if tag == "metrics_logits" else loss,
              metrics=metrics())
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{tag}_1.keras")
    m.save(f"{d}/{tag}_1.h5")
    for ext in ("keras", "h5"):
        theirs = keras.models.load_model(f"{d}/{tag}_1.{ext}").evaluate(x, targets, batch_size=8, verbose=0,
                                                                        return_dict=True)
        theirs = {k: float(v) for k, v in theirs.items()}
        ours = dpt_eval(f"{d}/{tag}_1.{ext}", ys)
        check(same_figures(ours, theirs),
              f"{tag}: dptrain evaluates Keras's .{ext} file to Keras's figures under Keras's names "
              f"(dptrain {ours}; Keras {theirs})")
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", f"npy:{d}/x.npy,{d}/{ys}.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                              "--verbose", "0", "--save-model", f"{d}/{tag}_ours.{ext}"], capture_output=True, text=True)
        check(run.returncode == 0 and "Warning" not in run.stderr,
              f"{tag}: dptrain trains the .{ext} file with its metrics, with no warning {run.stderr.strip()}")
        if run.returncode != 0:
            continue
        ours = dpt_eval(f"{d}/{tag}_ours.{ext}", ys)
        loaded = keras.models.load_model(f"{d}/{tag}_ours.{ext}")
        theirs = {k: float(v) for k, v in loaded.evaluate(x, targets, batch_size=8, verbose=0,
                                                          return_dict=True).items()}
        check(same_figures(ours, theirs),
              f"{tag}: Keras loads dptrain's .{ext} file with its metrics and evaluates it to dptrain's figures "
              f"(dptrain {ours}; Keras {theirs})")
# The same metrics from the command line, with their arguments, written as Keras's objects.
run = subprocess.run([bin, "train", "--model", f"{d}/metrics_categorical_1.keras", "--data",
                      f"npy:{d}/x.npy,{d}/five_y.npy", "--validation-split", "0", "--batch-size", "8", "--epochs", "1",
                      "--no-shuffle", "--verbose", "0", "--metrics",
                      "top_k_categorical_accuracy:k=3,name=top3,CategoricalCrossentropy:label_smoothing=0.3,"
                      "categorical_accuracy", "--save-model", f"{d}/cli_metrics.keras"], capture_output=True, text=True)
if run.returncode == 0:
    loaded = keras.models.load_model(f"{d}/cli_metrics.keras")
    theirs = {k: float(v) for k, v in loaded.evaluate(x, np.load(f"{d}/five_y.npy"), batch_size=8, verbose=0,
                                                      return_dict=True).items()}
    ours = dpt_eval(f"{d}/cli_metrics.keras", "five_y")
    check(same_figures(ours, theirs) and "top3" in theirs,
          f"--metrics with arguments: Keras evaluates dptrain's file to dptrain's figures (dptrain {ours}; Keras {theirs})")
else:
    check(False, f"--metrics with arguments: {run.stderr.strip()}")
# AUC's label_weights (multi_label): Keras 3.15 cannot save them (its get_config returns an array),
# but it loads dptrain's file, which holds them as a list, and evaluates it to dptrain's figure.
run = subprocess.run([bin, "train", "--model", f"{d}/metrics_confusion_1.keras", "--data",
                      f"npy:{d}/x.npy,{d}/bits_y.npy", "--validation-split", "0", "--batch-size", "8", "--epochs", "1",
                      "--no-shuffle", "--verbose", "0", "--metrics",
                      "AUC:multi_label=true,curve=PR,num_thresholds=30,label_weights=[1,0.5,2],name=pr_lw,"
                      "AUC:multi_label=true,label_weights=[0,1,3],name=roc_lw", "--save-model", f"{d}/label_weights.keras"],
                     capture_output=True, text=True)
if run.returncode == 0:
    loaded = keras.models.load_model(f"{d}/label_weights.keras")
    theirs = {k: float(v) for k, v in loaded.evaluate(x, np.load(f"{d}/bits_y.npy"), batch_size=8, verbose=0,
                                                      return_dict=True).items()}
    ours = dpt_eval(f"{d}/label_weights.keras", "bits_y")
    plain = {k: float(v) for k, v in zip(("pr", "roc"), [
        float(M.AUC(multi_label=True, curve=c, num_thresholds=n)(np.load(f"{d}/bits_y.npy"), loaded.predict(x, verbose=0)))
        for c, n in (("PR", 30), ("ROC", 200))])}
    check(same_figures(ours, theirs) and abs(ours["pr_lw"] - plain["pr"]) > 1e-3 and abs(ours["roc_lw"] - plain["roc"]) > 1e-3,
          f"AUC label_weights: Keras evaluates dptrain's file to dptrain's figures, not the unweighted averages "
          f"(dptrain {ours}; Keras {theirs}; unweighted {plain})")
else:
    check(False, f"AUC label_weights: {run.stderr.strip()}")

# One column of values as labels, not class indices: a regression's targets (mean squared error)
# and binary cross-entropy's soft labels. dptrain's epoch from Keras's file ends with Keras's weights.
ones = {"regression": (rng.normal(0, 2, (32, 1)).astype("float32"), "linear", "mean_squared_error"),
        "soft_binary": (rng.uniform(0.05, 0.95, (32, 1)).astype("float32"), "sigmoid", "binary_crossentropy")}
for tag, (targets, activation, loss) in ones.items():
    np.save(f"{d}/{tag}_y.npy", targets)
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh", name="hidden"),
                          keras.layers.Dense(1, activation=activation, name="out")], name="mlp")
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{tag}_1.h5")
    m.fit(x, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = [w.numpy() for w in m.weights]
    run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.h5", "--data", f"npy:{d}/x.npy,{d}/{tag}_y.npy",
                          "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                          "--verbose", "2", "--save-model", f"{d}/{tag}_ours.h5"], capture_output=True, text=True)
    check(run.returncode == 0, f"{tag}: dptrain trains {loss} on one column of values (exit {run.returncode}) "
                               f"{run.stderr.strip()}")
    if run.returncode == 0:
        diff = max(float(np.abs(a - b).max()) for a, b in zip(model_weights(f"{d}/{tag}_ours.h5"), theirs))
        check(diff <= 2e-6, f"{tag}: {loss} on one column of values: dptrain's epoch gives Keras's weights "
                            f"(max |diff| {diff:.3g})")
# The activations whose gradient needs their input (gelu, silu, mish, hard_silu: dptrain keeps the
# pre-activation) and Keras's activation layers with settings of their own: dptrain's epoch from
# Keras's file ends with Keras's weights, and a step through any wrong gradient would not.
keras.utils.set_random_seed(0)
layers = keras.layers
m = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="gelu", name="d1"), layers.LeakyReLU(name="lk"),
                      layers.Dense(8, activation="silu", name="d2"), layers.ELU(alpha=0.5, name="el"),
                      layers.Dense(8, activation="mish", name="d3"), layers.ReLU(max_value=1.0, name="rl"),
                      layers.Dense(8, activation="hard_silu", name="d4"),
                      layers.Dense(3, activation="softmax", name="out")], name="acts")
m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
fit(m, 1)
m.save(f"{d}/acts_1.h5")
start = [w.numpy() for w in m.weights]
fit(m, 1)
theirs = [w.numpy() for w in m.weights]
run = subprocess.run([bin, "train", "--model", f"{d}/acts_1.h5", "--data", f"npy:{d}/x.npy,{d}/y.npy",
                      "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0",
                      "--save-model", f"{d}/acts_ours.h5"], capture_output=True, text=True)
check(run.returncode == 0, f"acts: dptrain trains gelu, silu, mish, hard_silu, LeakyReLU, ELU and ReLU layers "
                           f"(exit {run.returncode}) {run.stderr.strip()}")
if run.returncode == 0:
    with h5py.File(f"{d}/acts_ours.h5", "r") as f:
        g = f["model_weights"]
        ours = [np.array(g[layer][w]) for layer in ("d1", "d2", "d3", "d4", "out")
                for w in (n.decode() for n in g[layer].attrs["weight_names"])]
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs))
    check(diff <= 2e-6 and moved > 100 * 2e-6,
          f"acts: dptrain's epoch through gelu, silu, mish, hard_silu, LeakyReLU(0.3), ELU(0.5) and "
          f"ReLU(max_value=1) gives Keras's weights (max |diff| {diff:.3g}; the epoch moved them {moved:.3g})")
# PReLU (alpha per unit, and shared along axes), RepeatVector, Permute, Identity,
# ActivityRegularization and UnitNormalization, on vectors (into an LSTM) and on images, and
# Conv1DTranspose ('same' with stride 2, dilated, a stride past the kernel) on sequences, and Resizing: dptrain's epoch from Keras's .keras
# and .h5 files gives Keras's weights (alpha included), and Keras loads dptrain's files and evaluates
# them to dptrain's loss (ActivityRegularization's penalty in it).
xe = rng.uniform(-1, 1, (32, 5, 5, 2)).astype("float32")
np.save(f"{d}/xe.npy", xe)
np.save(f"{d}/xq.npy", rng.uniform(-1, 1, (32, 6, 3)).astype("float32"))
np.save(f"{d}/xr.npy", rng.uniform(-1, 1, (32, 5, 7, 2)).astype("float32"))
np.save(f"{d}/xg.npy", rng.uniform(0, 1, (32, 5, 5, 3)).astype("float32"))
extras = {
    "extras_vec": ("x", [keras.Input((6,)), layers.Dense(8, name="d1"),
                         layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), name="pr1"),
                         layers.RepeatVector(3, name="rep"), layers.Permute((2, 1), name="perm"),
                         layers.PReLU(shared_axes=[1], name="pr2"), layers.Identity(name="same"),
                         layers.ActivityRegularization(l1=0.01, l2=0.02, name="act"), layers.LSTM(4, name="lstm"),
                         layers.UnitNormalization(name="unit"), layers.Dense(3, activation="softmax", name="out")]),
    "extras_img": ("xe", [keras.Input((5, 5, 2)), layers.Conv2D(4, 3, padding="same", name="c1"),
                          layers.PReLU(alpha_initializer=keras.initializers.Constant(-0.2), shared_axes=[1, 2],
                                       name="pr"),
                          layers.Permute((3, 1, 2), name="perm"), layers.UnitNormalization([2, 3], name="unit"),
                          layers.Conv2D(3, 2, name="c2"),
                          layers.Flatten(name="flat"), layers.Dense(3, activation="softmax", name="out")]),
    "extras_seq": ("xq", [keras.Input((6, 3)),
                          layers.Conv1DTranspose(4, 3, strides=2, padding="same", activation="tanh", name="up"),
                          layers.Conv1DTranspose(2, 2, dilation_rate=2, name="dil"),
                          layers.Conv1DTranspose(2, 2, strides=3, name="wide"), layers.Flatten(name="flat"),
                          layers.Dense(3, activation="softmax", name="out")]),
    # Resizing: bilinear up (from crop_to_aspect_ratio's centred crop) and down, nearest, and
    # pad_to_aspect_ratio's frame of fill_value, and a CenterCrop, between convolutions (gradients through each).
    "resize": ("xr", [keras.Input((5, 7, 2)), layers.Resizing(8, 6, crop_to_aspect_ratio=True, name="up"),
                      layers.Conv2D(3, 3, activation="tanh", name="c1"),
                      layers.Resizing(3, 5, interpolation="nearest", name="near"),
                      layers.Resizing(5, 5, pad_to_aspect_ratio=True, fill_value=0.25, name="pad"),
                      layers.CenterCrop(4, 4, name="center"), layers.Conv2D(2, 2, name="c2"),
                      layers.Resizing(2, 3, name="down"), layers.Flatten(name="flat"),
                      layers.Dense(3, activation="softmax", name="out")]),
    # RandomGrayscale(1.0) greys every image in training (a draw that cannot differ): on RGB images
    # and after a Conv2D of 3 filters (its gradient through the luma).
    "gray": ("xg", [keras.Input((5, 5, 3)), layers.RandomGrayscale(1.0, name="gray"),
                    layers.Conv2D(3, 3, activation="tanh", name="c1"), layers.RandomGrayscale(1.0, name="gray2"),
                    layers.Flatten(name="flat"), layers.Dense(3, activation="softmax", name="out")])}
for tag, (xs, stack) in extras.items():
    xv = np.load(f"{d}/{xs}.npy")
    keras.utils.set_random_seed(0)
    m = keras.Sequential(stack, name=tag)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
    m.fit(xv, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{tag}_1.keras")  # (the .keras first: Keras 3.15 may leave the optimizer out of one saved after an .h5)
    m.save(f"{d}/{tag}_1.h5")
    start = [w.numpy() for w in m.weights]
    m.fit(xv, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = [w.numpy() for w in m.weights]
    moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs))
    for ext in ("keras", "h5"):
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", f"npy:{d}/{xs}.npy,{d}/y.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                              "--verbose", "0", "--save-model", f"{d}/{tag}_ours.{ext}"], capture_output=True, text=True)
        check(run.returncode == 0, f"{tag}: dptrain trains the .{ext} file (exit {run.returncode}) {run.stderr.strip()}")
        if run.returncode != 0:
            continue
        ours = keras.models.load_model(f"{d}/{tag}_ours.{ext}")
        diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(ours.weights, theirs))
        check(len(ours.weights) == len(theirs) and diff <= 2e-6 and moved > 100 * 2e-6,
              f"{tag}: dptrain's epoch from the .{ext} file gives Keras's weights (max |diff| {diff:.3g}; the epoch "
              f"moved them {moved:.3g})")
        theirs_eval = ours.evaluate(xv, y, batch_size=8, verbose=0, return_dict=True)
        ours_loss = dpt_eval(f"{d}/{tag}_ours.{ext}", "y", xs).get("loss", float("nan"))
        # Keras 3.15's legacy .h5 loader reads UnitNormalization's list of axes as -1, its own files'
        # too (as it drops LayerNormalization's): where it does, its figure is not the model's.
        unit = next((l for l in ours.layers if isinstance(l, layers.UnitNormalization)), None)
        if unit is not None and ext == "h5" and unit.axis == -1 and tag == "extras_img":
            print(f"note: {tag}: Keras {keras.__version__} loads UnitNormalization([2, 3]) from an .h5 file as axis -1; "
                  f"its evaluate of dptrain's .h5 is not compared (dptrain's .h5 evaluates to {ours_loss}, as its .keras)")
            continue
        check(abs(ours_loss - theirs_eval["loss"]) <= 1e-4,
              f"{tag}: Keras loads dptrain's .{ext} file and evaluates dptrain's loss ({ours_loss} vs "
              f"{theirs_eval['loss']:.6f})")
# A model of four inputs (Keras's x=[user, item, context, seq]: one .npy file an input, joined by
# "+"): a two-tower recommender (Embeddings, an Add, their cosine and dot product through Dot) and
# attention-like Dots over a sequence (scores a.b^T, scores.a, and a normalized Dot along the steps).
# dptrain's epoch from Keras's .keras and .h5 files gives Keras's weights, and Keras loads dptrain's
# files and evaluates them to dptrain's loss; where tf_keras is installed, the same from its .h5.
# Keras 3's TensorFlow backend gives Adam an Embedding's gradient as IndexedSlices and squares each
# repeat of an index in a batch apart (its JAX backend and tf_keras, as dptrain, square their sum):
# there the indices are drawn without repeats in a batch, so the three agree to be compared.
tower_x = {"tu": rng.integers(0, 10, (32, 1)).astype("int32"), "ti": rng.integers(0, 30, (32, 3)).astype("int32"),
           "tc": rng.uniform(-1, 1, (32, 4)).astype("float32"), "tq": rng.uniform(-1, 1, (32, 5, 4)).astype("float32")}
if keras.backend.backend() == "tensorflow":
    tower_x["tu"] = np.concatenate([rng.permutation(10)[:8] for _ in range(4)]).reshape(32, 1).astype("int32")
    tower_x["ti"] = np.concatenate([rng.permutation(30)[:24] for _ in range(4)]).reshape(32, 3).astype("int32")
    print("note: tower: Keras 3's TensorFlow backend: user and item indices without repeats in a batch")
for n, v in tower_x.items():
    np.save(f"{d}/{n}.npy", v)
tower_spec = "npy:" + "+".join(f"{d}/{n}.npy" for n in tower_x) + f",{d}/y.npy"


def tower_model(k):
    L = k.layers
    u, i, c, q = (k.Input((1,), name="user"), k.Input((3,), name="item"), k.Input((4,), name="context"),
                  k.Input((5, 4), name="seq"))
    eu = L.Flatten(name="fu")(L.Embedding(10, 4, name="eu")(u))
    ec = L.Dense(4, activation="tanh", name="dc")(c)
    it = L.Add(name="tower")([L.GlobalAveragePooling1D(name="avg")(L.Embedding(30, 4, name="ei")(i)), ec])
    qa, qb = L.Dense(4, name="qa")(q), L.Dense(4, activation="sigmoid", name="qb")(q)
    mix = L.Dot(axes=(2, 1), name="mix")([L.Dot(axes=2, name="att")([qa, qb]), qa])
    steps = L.Dot(axes=1, normalize=True, name="steps")([qa, qb])
    joined = L.Concatenate(name="cat")([L.Dot(axes=1, normalize=True, name="cos")([eu, it]),
                                        L.Dot(axes=1, name="dot")([eu, it]), ec, L.Flatten(name="fm")(mix),
                                        L.Flatten(name="fs")(steps)])
    m = k.Model([u, i, c, q], L.Dense(3, activation="softmax", name="out")(joined), name="tower")
    m.compile(optimizer=k.optimizers.Adam(0.01), loss="categorical_crossentropy")
    return m


def tower_epoch(tag, k, path):  # dptrain's epoch from Keras's file -> dptrain's file
    run = subprocess.run([bin, "train", "--model", path, "--data", tower_spec, "--validation-split", "0",
                          "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0", "--save-model",
                          f"{d}/{tag}_ours.{path.rsplit('.', 1)[1]}"], capture_output=True, text=True)
    check(run.returncode == 0, f"{tag}: dptrain trains {path} on four inputs (exit {run.returncode}) {run.stderr.strip()}")
    return run.returncode == 0


txs = list(tower_x.values())
keras.utils.set_random_seed(0)
m = tower_model(keras)
m.fit(txs, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/tower_1.keras")
m.save(f"{d}/tower_1.h5")
start = [w.numpy() for w in m.weights]
m.fit(txs, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
theirs = [w.numpy() for w in m.weights]
moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs))
for ext in ("keras", "h5"):
    if not tower_epoch("tower", keras, f"{d}/tower_1.{ext}"):
        continue
    ours = keras.models.load_model(f"{d}/tower_ours.{ext}")
    diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(ours.weights, theirs))
    check([t.name for t in ours.inputs] == ["user", "item", "context", "seq"] and len(ours.weights) == len(theirs)
          and diff <= 2e-6 and moved > 100 * 2e-6,
          f"tower: dptrain's epoch from the .{ext} file on four inputs gives Keras's weights (max |diff| {diff:.3g}; "
          f"the epoch moved them {moved:.3g})")
    theirs_eval = ours.evaluate(txs, y, batch_size=8, verbose=0)
    ev = subprocess.run([bin, "evaluate", "--model", f"{d}/tower_ours.{ext}", "--data", tower_spec,
                         "--validation-split", "0", "--batch-size", "8"], capture_output=True, text=True)
    said = [ln for ln in ev.stdout.splitlines() if ln.startswith("loss: ")]
    got = float(said[0].split(": ")[1]) if ev.returncode == 0 and said else float("nan")
    check(abs(got - theirs_eval) <= 1e-4, f"tower: Keras loads dptrain's .{ext} file and evaluates dptrain's loss "
                                          f"({got} vs {theirs_eval:.6f})")
try:
    import tf_keras
except ImportError:
    tf_keras = None
if tf_keras is None:
    print("note: no tf_keras here: the four-input model from tf_keras's .h5 is not checked")
else:
    tf_keras.utils.set_random_seed(0)
    m = tower_model(tf_keras)
    m.fit(txs, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/tower_tfk_1.h5")
    m.fit(txs, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = {w.name: w.numpy() for w in m.weights}
    if tower_epoch("tower_tfk", tf_keras, f"{d}/tower_tfk_1.h5"):
        ours = h5_weights_by_name(f"{d}/tower_tfk_ours.h5")
        diff = max(float(np.abs(ours[k] - theirs[k]).max()) for k in theirs) if sorted(ours) == sorted(theirs) else 1.0
        check(diff <= 2e-6, f"tower: dptrain's epoch from tf_keras {tf_keras.__version__}'s .h5 on four inputs gives "
                            f"its weights (max |diff| {diff:.3g})")
# MultiHeadAttention, a transformer block's way (inputs seq and ctx): a causal self-attention with a
# residual Add and LayerNormalization, a feed-forward pair; a cross-attention over the context with
# output_shape; one with a key of its own (a Dense of the context) and no bias. dptrain's epoch from
# Keras's .keras and .h5 files gives Keras's weights, and Keras loads dptrain's files and evaluates
# them to dptrain's loss; the same from tf_keras's .h5 where tf_keras is installed. A key's bias
# adds the same to every score of a query's row, which the softmax takes away: its gradient is 0,
# which dptrain keeps, while Keras moves it by its rounding noise (Adam scales that up): those are
# compared apart, within 1e-4.
np.save(f"{d}/aq.npy", rng.normal(size=(32, 6, 4)).astype("float32"))
np.save(f"{d}/ac.npy", rng.normal(size=(32, 3, 5)).astype("float32"))
attn_x = [np.load(f"{d}/aq.npy"), np.load(f"{d}/ac.npy")]
attn_spec = f"npy:{d}/aq.npy+{d}/ac.npy,{d}/y.npy"


def attention_model(k):
    L = k.layers
    q, c = k.Input((6, 4), name="seq"), k.Input((3, 5), name="ctx")
    a = L.MultiHeadAttention(2, 3, name="self")(q, q, use_causal_mask=True)
    h = L.LayerNormalization(name="ln1")(L.Add(name="res1")([q, a]))
    f = L.Dense(4, name="ff")(L.Dense(8, activation="relu", name="ff1")(h))
    h = L.LayerNormalization(name="ln2")(L.Add(name="res2")([h, f]))
    b = L.MultiHeadAttention(2, 2, output_shape=5, name="cross")(h, c)
    key = L.Dense(3, activation="tanh", name="kd")(c)
    o = L.MultiHeadAttention(1, 4, use_bias=False, name="keyed")(b, c, key)
    out = L.Dense(3, activation="softmax", name="out")(L.GlobalAveragePooling1D(name="gap")(o))
    return k.Model([q, c], out, name="attn")


def attention_diffs(ours, theirs):  # (max |diff| of the weights, of the key biases) by name
    rest = [float(np.abs(ours[n] - theirs[n]).max()) for n in theirs if "/key/bias" not in n]
    keyb = [float(np.abs(ours[n] - theirs[n]).max()) for n in theirs if "/key/bias" in n]
    return max(rest), max(keyb, default=0.0)


keras.utils.set_random_seed(0)
m = attention_model(keras)
m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
m.fit(attn_x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/attn_1.keras")
m.save(f"{d}/attn_1.h5")
start = [w.numpy() for w in m.weights]
m.fit(attn_x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
theirs = {w.path: w.numpy() for w in m.weights}
moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs.values()))
for ext in ("keras", "h5"):
    run = subprocess.run([bin, "train", "--model", f"{d}/attn_1.{ext}", "--data", attn_spec, "--validation-split", "0",
                          "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0", "--save-model",
                          f"{d}/attn_ours.{ext}"], capture_output=True, text=True)
    check(run.returncode == 0, f"attn: dptrain trains the .{ext} file (exit {run.returncode}) {run.stderr.strip()}")
    if run.returncode != 0:
        continue
    ours = keras.models.load_model(f"{d}/attn_ours.{ext}")
    got = {w.path: w.numpy() for w in ours.weights}
    diff, keyb = attention_diffs(got, theirs) if sorted(got) == sorted(theirs) else (1.0, 1.0)
    check(diff <= 2e-6 and keyb <= 1e-4 and moved > 100 * 2e-6,
          f"attn: dptrain's epoch from the .{ext} file through three MultiHeadAttentions gives Keras's weights (max "
          f"|diff| {diff:.3g}, the key biases {keyb:.3g}; the epoch moved them {moved:.3g})")
    theirs_eval = ours.evaluate(attn_x, y, batch_size=8, verbose=0)
    got_loss = dpt_eval(f"{d}/attn_ours.{ext}", "y", "aq.npy+" + d + "/ac").get("loss", float("nan"))
    check(abs(got_loss - theirs_eval) <= 1e-4, f"attn: Keras loads dptrain's .{ext} file and evaluates dptrain's loss "
                                               f"({got_loss} vs {theirs_eval:.6f})")
if tf_keras is None:
    print("note: no tf_keras here: MultiHeadAttention from tf_keras's .h5 is not checked")
else:
    tf_keras.utils.set_random_seed(0)
    m = attention_model(tf_keras)
    m.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
    m.fit(attn_x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/attn_tfk_1.h5")
    want = m.evaluate(attn_x, y, batch_size=8, verbose=0)
    got_loss = dpt_eval(f"{d}/attn_tfk_1.h5", "y", "aq.npy+" + d + "/ac").get("loss", float("nan"))
    check(abs(got_loss - want) <= 1e-4, f"attn: dptrain evaluates tf_keras's .h5 to its loss ({got_loss} vs {want:.6f})")
    m.fit(attn_x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = {w.name: w.numpy() for w in m.weights}
    run = subprocess.run([bin, "train", "--model", f"{d}/attn_tfk_1.h5", "--data", attn_spec, "--validation-split", "0",
                          "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0", "--save-model",
                          f"{d}/attn_tfk_ours.h5"], capture_output=True, text=True)
    check(run.returncode == 0, f"attn: dptrain trains tf_keras's .h5 (exit {run.returncode}) {run.stderr.strip()}")
    if run.returncode == 0:
        got = h5_weights_by_name(f"{d}/attn_tfk_ours.h5")
        diff, keyb = attention_diffs(got, theirs) if sorted(got) == sorted(theirs) else (1.0, 1.0)
        check(diff <= 2e-6 and keyb <= 1e-4,
              f"attn: dptrain's epoch from tf_keras {tf_keras.__version__}'s .h5 gives its weights (max |diff| "
              f"{diff:.3g}, the key biases {keyb:.3g})")
# A text transformer's block with padding: Embedding(mask_zero=True) into a self-attention, which
# reads the mask on its query and value (Keras's attention mask), a residual Add and
# LayerNormalization that keep it, GlobalAveragePooling1D over the kept steps. Keras 3 writes the
# masks it passes on into its config as operations (NotEqual, LogicalOr), which dptrain takes as
# its own masks. Tokens without repeats in a batch (Keras 3's TensorFlow backend: see the towers).
ids = np.concatenate([rng.permutation(np.arange(1, 60))[:48] for _ in range(4)]).reshape(32, 6).astype("int32")
for r, n in enumerate(rng.integers(1, 7, 32)):
    ids[r, n:] = 0
np.save(f"{d}/tok.npy", ids)


def masked_attention_model(k):
    L = k.layers
    t = k.Input((6,), dtype="int32", name="tokens")
    e = L.Embedding(60, 8, mask_zero=True, name="emb")(t)
    a = L.MultiHeadAttention(2, 4, name="mha")(e, e)
    h = L.Dense(8, activation="relu", name="ff")(L.LayerNormalization(name="ln")(L.Add(name="res")([e, a])))
    return k.Model(t, L.Dense(3, activation="softmax", name="out")(L.GlobalAveragePooling1D(name="gap")(h)),
                   name="masked_attn")


for k in (keras, tf_keras):
    if k is None:
        print("note: no tf_keras here: the masked attention from tf_keras's .h5 is not checked")
        continue
    tag = "mattn" if k is keras else "mattn_tfk"
    k.utils.set_random_seed(0)
    m = masked_attention_model(k)
    m.compile(optimizer=k.optimizers.Adam(0.01), loss="categorical_crossentropy")
    m.fit(ids, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    exts = ("keras", "h5") if k is keras else ("h5",)
    for ext in exts:
        m.save(f"{d}/{tag}_1.{ext}")
    want = m.evaluate(ids, y, batch_size=8, verbose=0)
    m.fit(ids, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = {(w.path if k is keras else w.name): w.numpy() for w in m.weights}
    for ext in exts:
        got_loss = dpt_eval(f"{d}/{tag}_1.{ext}", "y", "tok").get("loss", float("nan"))
        check(abs(got_loss - want) <= 1e-4, f"{tag}: dptrain evaluates the .{ext} file to Keras's loss ({got_loss} vs "
                                            f"{want:.6f})")
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", f"npy:{d}/tok.npy,{d}/y.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                              "--verbose", "0", "--save-model", f"{d}/{tag}_ours.{ext}"], capture_output=True, text=True)
        check(run.returncode == 0, f"{tag}: dptrain trains the .{ext} file (exit {run.returncode}) {run.stderr.strip()}")
        if run.returncode != 0:
            continue
        if k is keras:
            ours = keras.models.load_model(f"{d}/{tag}_ours.{ext}")
            got = {w.path: w.numpy() for w in ours.weights}
            theirs_eval = ours.evaluate(ids, y, batch_size=8, verbose=0)
            got_loss = dpt_eval(f"{d}/{tag}_ours.{ext}", "y", "tok").get("loss", float("nan"))
            check(abs(got_loss - theirs_eval) <= 1e-4, f"{tag}: Keras loads dptrain's .{ext} file and evaluates "
                                                       f"dptrain's loss ({got_loss} vs {theirs_eval:.6f})")
        else:
            got = h5_weights_by_name(f"{d}/{tag}_ours.h5")
        diff, keyb = attention_diffs(got, theirs) if sorted(got) == sorted(theirs) else (1.0, 1.0)
        check(diff <= 2e-6 and keyb <= 1e-4,
              f"{tag}: dptrain's epoch from the .{ext} file through the masked attention gives Keras {k.__version__}'s "
              f"weights (max |diff| {diff:.3g}, the key biases {keyb:.3g})")
# Keras 3's GroupQueryAttention: a causal self-attention of 4 query heads over 2 key and value
# heads, a residual Add and LayerNormalization, a cross-attention of 3 query heads over one without
# biases and with a key of its own; and one on an Embedding's mask. dptrain evaluates Keras's files
# to Keras's loss, its Adam epoch from them gives Keras's weights (the key biases apart, as above),
# and Keras evaluates dptrain's .keras to dptrain's loss.
np.save(f"{d}/gc.npy", rng.normal(size=(32, 3, 4)).astype("float32"))


def gqa_model():
    L = keras.layers
    s, c = keras.Input((6, 4), name="seq"), keras.Input((3, 4), name="ctx")
    a = L.GroupQueryAttention(3, 4, 2, name="self")(s, s, use_causal_mask=True)
    h = L.LayerNormalization(name="ln")(L.Add(name="res")([s, a]))
    key = L.Dense(5, activation="tanh", name="kd")(c)
    b = L.GroupQueryAttention(2, 3, 1, use_bias=False, name="cross")(h, c, key)
    return keras.Model([s, c], L.Dense(3, activation="softmax", name="out")(L.GlobalAveragePooling1D(name="gap")(b)),
                       name="gqa")


def gqa_masked_model():
    L = keras.layers
    t = keras.Input((6,), dtype="int32", name="tokens")
    e = L.Embedding(60, 8, mask_zero=True, name="emb")(t)
    a = L.GroupQueryAttention(4, 4, 2, name="self")(e, e, use_causal_mask=True)
    h = L.LayerNormalization(name="ln")(L.Add(name="res")([e, a]))
    return keras.Model(t, L.Dense(3, activation="softmax", name="out")(L.GlobalAveragePooling1D(name="gap")(h)),
                       name="gqa_masked")


def attention_epochs(tag, make, xs, spec, what):
    """Keras 3's .keras and .h5 files of make() after an Adam epoch: dptrain evaluates each to Keras's
    loss, its epoch from each gives Keras's next epoch's weights (a key's bias apart: see
    attention_diffs), and Keras evaluates dptrain's .keras to dptrain's loss. spec: the evaluate
    --data's inputs, and the train --data."""
    keras.utils.set_random_seed(0)
    m = make()
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
    m.fit(xs, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{tag}_1.keras")
    m.save(f"{d}/{tag}_1.h5")
    want = m.evaluate(xs, y, batch_size=8, verbose=0)
    for ext in ("keras", "h5"):
        got_loss = dpt_eval(f"{d}/{tag}_1.{ext}", "y", spec[0]).get("loss", float("nan"))
        check(abs(got_loss - want) <= 1e-4, f"{tag}: dptrain evaluates Keras's .{ext} file to its loss ({got_loss} vs "
                                            f"{want:.6f})")
    start = [w.numpy() for w in m.weights]
    m.fit(xs, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = {w.path: w.numpy() for w in m.weights}
    moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs.values()))
    for ext in ("keras", "h5"):
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", spec[1], "--validation-split",
                              "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0",
                              "--save-model", f"{d}/{tag}_ours.{ext}"], capture_output=True, text=True)
        check(run.returncode == 0 and "warning" not in run.stderr,
              f"{tag}: dptrain trains the .{ext} file, its optimizer state included (exit {run.returncode}) "
              f"{run.stderr.strip()}")
        if run.returncode != 0:
            continue
        if ext == "keras":
            ours = keras.models.load_model(f"{d}/{tag}_ours.keras")
            got = {w.path: w.numpy() for w in ours.weights}
            theirs_eval = ours.evaluate(xs, y, batch_size=8, verbose=0)
            got_loss = dpt_eval(f"{d}/{tag}_ours.keras", "y", spec[0]).get("loss", float("nan"))
            check(abs(got_loss - theirs_eval) <= 1e-4, f"{tag}: Keras loads dptrain's .keras file and evaluates "
                                                       f"dptrain's loss ({got_loss} vs {theirs_eval:.6f})")
        else:  # (the legacy names end in ":0")
            got = {n.removesuffix(":0"): v for n, v in h5_weights_by_name(f"{d}/{tag}_ours.h5").items()}
        diff, keyb = attention_diffs(got, theirs) if sorted(got) == sorted(theirs) else (1.0, 1.0)
        check(diff <= 2e-6 and keyb <= 1e-4 and moved > 100 * 2e-6,
              f"{tag}: dptrain's epoch from the .{ext} file through {what} gives Keras's weights (max |diff| "
              f"{diff:.3g}, the key biases {keyb:.3g}; the epoch moved them {moved:.3g})")


attention_epochs("gqa", gqa_model, [np.load(f"{d}/aq.npy"), np.load(f"{d}/gc.npy")],
                 ("aq.npy+" + d + "/gc", f"npy:{d}/aq.npy+{d}/gc.npy,{d}/y.npy"), "GroupQueryAttention")
attention_epochs("gqa_masked", gqa_masked_model, ids, ("tok", f"npy:{d}/tok.npy,{d}/y.npy"), "GroupQueryAttention")
# Keras's Attention (Luong's dot scores): one with use_scale (its scalar weight), a causal mask and
# a key of its own, one whose value is its key; and one reading an Embedding's mask (the value's
# drops keys, the query's zeroes the output and reaches GlobalAveragePooling1D). dptrain's epoch
# from Keras's .keras archive gives Keras's weights, and Keras evaluates dptrain's .keras to
# dptrain's loss; the same epoch from Keras's .h5 (the scale's Adam slots are scalars beside
# Keras's own). Keras 3.15 cannot load an .h5 file with Attention, its own included (its legacy
# loader reads score_mode "dot" as the function ops.dot): dptrain's .h5 is read by weight name.
np.save(f"{d}/lq.npy", rng.normal(size=(32, 5, 4)).astype("float32"))
np.save(f"{d}/lv.npy", rng.normal(size=(32, 6, 3)).astype("float32"))


def luong_model():
    L = keras.layers
    q, v = keras.Input((5, 4), name="q"), keras.Input((6, 3), name="v")
    a = L.Attention(use_scale=True, name="att")([q, v, L.Dense(4, activation="tanh", name="kd")(v)],
                                                use_causal_mask=True)
    b = L.Attention(name="self")([L.Dense(3, name="qd")(q), a])
    return keras.Model([q, v], L.Dense(3, activation="softmax", name="out")(
        L.Flatten(name="fl")(L.Concatenate(name="cat")([a, b]))), name="luong")


def luong_masked_model():
    L = keras.layers
    t = keras.Input((6,), dtype="int32", name="tokens")
    e = L.Embedding(60, 8, mask_zero=True, name="emb")(t)
    a = L.Attention(use_scale=True, name="att")([e, e])
    return keras.Model(t, L.Dense(3, activation="softmax", name="out")(L.GlobalAveragePooling1D(name="gap")(a)),
                       name="luong_masked")


# Keras's concatenation scores (Bahdanau's): Attention(score_mode="concat") with use_scale (two
# scalar weights), a causal mask and a key of its own, AdditiveAttention (its scale a vector) on
# it, Attention(score_mode="concat") without a scale; and AdditiveAttention on an Embedding's mask.
def bahdanau_model(k=keras):
    L = k.layers
    q, v = k.Input((5, 4), name="q"), k.Input((6, 3), name="v")
    kd = L.Dense(4, activation="tanh", name="kd")(v)
    a = L.Attention(use_scale=True, score_mode="concat", name="att")([q, v, kd], use_causal_mask=True)
    b = L.AdditiveAttention(name="add")([L.Dense(3, name="qd")(q), a])
    c = L.Attention(score_mode="concat", name="plain")([q, kd])
    return k.Model([q, v], L.Dense(3, activation="softmax", name="out")(
        L.Flatten(name="fl")(L.Concatenate(name="cat")([a, b, c]))), name="bahdanau")


def bahdanau_masked_model():
    L = keras.layers
    t = keras.Input((6,), dtype="int32", name="tokens")
    e = L.Embedding(60, 8, mask_zero=True, name="emb")(t)
    a = L.AdditiveAttention(name="add")([e, e])
    return keras.Model(t, L.Dense(3, activation="softmax", name="out")(L.GlobalAveragePooling1D(name="gap")(a)),
                       name="bahdanau_masked")


lqv = [np.load(f"{d}/lq.npy"), np.load(f"{d}/lv.npy")]
lqv_spec = ("lq.npy+" + d + "/lv", f"npy:{d}/lq.npy+{d}/lv.npy,{d}/y.npy")
tok_spec = ("tok", f"npy:{d}/tok.npy,{d}/y.npy")
attention_epochs("luong", luong_model, lqv, lqv_spec, "Attention (its scale included)")
attention_epochs("luong_masked", luong_masked_model, ids, tok_spec, "Attention on a mask (its scale included)")
attention_epochs("bahdanau", bahdanau_model, lqv, lqv_spec, "the concatenation scores (their scales included)")
attention_epochs("bahdanau_masked", bahdanau_masked_model, ids, tok_spec, "AdditiveAttention on a mask (its scale "
                 "included)")
if tf_keras is None:
    print("note: no tf_keras here: the concatenation scores from tf_keras's .h5 are not checked")
else:
    tf_keras.utils.set_random_seed(0)
    m = bahdanau_model(tf_keras)
    m.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
    m.fit(lqv, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/bahdanau_tfk_1.h5")
    want = m.evaluate(lqv, y, batch_size=8, verbose=0)
    got_loss = dpt_eval(f"{d}/bahdanau_tfk_1.h5", "y", "lq.npy+" + d + "/lv").get("loss", float("nan"))
    check(abs(got_loss - want) <= 1e-4,
          f"bahdanau: dptrain evaluates tf_keras's .h5 to its loss ({got_loss} vs {want:.6f})")
    m.fit(lqv, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = {w.name: w.numpy() for w in m.weights}
    run = subprocess.run([bin, "train", "--model", f"{d}/bahdanau_tfk_1.h5", "--data",
                          f"npy:{d}/lq.npy+{d}/lv.npy,{d}/y.npy", "--validation-split", "0", "--batch-size", "8",
                          "--epochs", "1", "--no-shuffle", "--verbose", "0", "--save-model",
                          f"{d}/bahdanau_tfk_ours.h5"], capture_output=True, text=True)
    check(run.returncode == 0, f"bahdanau: dptrain trains tf_keras's .h5 (exit {run.returncode}) {run.stderr.strip()}")
    if run.returncode == 0:
        got = h5_weights_by_name(f"{d}/bahdanau_tfk_ours.h5")
        diff = max(float(np.abs(got[n] - theirs[n]).max()) for n in theirs) if sorted(got) == sorted(theirs) else 1.0
        check(diff <= 2e-6, f"bahdanau: dptrain's epoch from tf_keras {tf_keras.__version__}'s .h5 gives its weights, "
                            f"the scales included (max |diff| {diff:.3g})")
# GaussianNoise, GaussianDropout, AlphaDropout, RandomFlip and Keras 3's RandomRotation, RandomZoom,
# RandomTranslation, RandomShear, RandomContrast and RandomBrightness (each of the last two after a Conv2D, so a gradient goes
# through it): the identity at inference, so dptrain evaluates
# Keras's files to Keras's loss; noise and flips in training (their draws are dptrain's own: checked
# in test_reshaping.cpp), and Keras loads the files dptrain saves after an epoch with the same layers
# and settings.
noisy = {"noise": ("x", [keras.Input((6,)), layers.Dense(8, name="d1"), layers.GaussianNoise(0.3, name="gn"),
                         layers.Dense(8, activation="tanh", name="d2"), layers.GaussianDropout(0.2, name="gd"),
                         layers.Dense(8, activation="selu", name="d3"), layers.AlphaDropout(0.1, name="ad"),
                         layers.Dense(3, activation="softmax", name="out")],
                   {"gn": ("GaussianNoise", "stddev", 0.3), "gd": ("GaussianDropout", "rate", 0.2),
                    "ad": ("AlphaDropout", "rate", 0.1)}),
         "flip": ("xe", [keras.Input((5, 5, 2)), layers.RandomFlip("horizontal", name="rf"),
                         layers.Conv2D(3, 3, activation="tanh", name="c1"), layers.Flatten(name="flat"),
                         layers.Dense(3, activation="softmax", name="out")],
                  {"rf": ("RandomFlip", "mode", "horizontal")}),
         "augment": ("xe", [keras.Input((5, 5, 2)), layers.RandomRotation(0.1, name="rr"),
                            layers.RandomZoom(0.2, fill_mode="constant", fill_value=0.5, name="rz"),
                            layers.RandomTranslation(0.1, (-0.1, 0.2), fill_mode="wrap", interpolation="nearest",
                                                     name="rt"),
                            layers.RandomShear(0.2, (0.05, 0.1), fill_mode="nearest", name="rs"),
                            layers.Conv2D(3, 3, activation="tanh", name="c1"),
                            layers.RandomContrast((0.2, 0.5), value_range=(-1, 1), name="rc"),
                            layers.Flatten(name="flat"), layers.Dense(3, activation="softmax", name="out")],
                     {"rr": ("RandomRotation", "factor", (-0.1, 0.1)), "rz": ("RandomZoom", "fill_value", 0.5),
                      "rt": ("RandomTranslation", "width_factor", [-0.1, 0.2]),
                      "rs": ("RandomShear", "x_factor", (-0.2, 0.2)),
                      "rc": ("RandomContrast", "value_range", [-1, 1])}),
         # Keras 3.15 cannot write RandomBrightness to an .h5 file (its save raises "cannot pickle
         # 'module' object"): from its .keras archive alone.
         "bright": ("xe", [keras.Input((5, 5, 2)), layers.Conv2D(3, 3, activation="tanh", name="c1"),
                           layers.RandomBrightness((-0.3, 0.2), value_range=(-1, 1), name="rb"),
                           layers.Flatten(name="flat"), layers.Dense(3, activation="softmax", name="out")],
                    {"rb": ("RandomBrightness", "value_range", [-1, 1])})}
for tag, (xs, stack, kept_want) in noisy.items():
    xv = np.load(f"{d}/{xs}.npy")
    keras.utils.set_random_seed(0)
    m = keras.Sequential(stack, name=tag)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
    m.fit(xv, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    exts = ("keras",) if tag == "bright" else ("keras", "h5")
    for ext in exts:
        m.save(f"{d}/{tag}_1.{ext}")
    want = m.evaluate(xv, y, batch_size=8, verbose=0)
    for ext in exts:
        got = dpt_eval(f"{d}/{tag}_1.{ext}", "y", xs).get("loss", float("nan"))
        check(abs(got - want) <= 1e-4, f"{tag}: dptrain evaluates Keras's .{ext} file to Keras's loss ({got} vs "
                                       f"{want:.6f})")
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", f"npy:{d}/{xs}.npy,{d}/y.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--verbose", "0",
                              "--save-model", f"{d}/{tag}_ours.{ext}"], capture_output=True, text=True)
        check(run.returncode == 0, f"{tag}: dptrain trains the .{ext} file (exit {run.returncode}) {run.stderr.strip()}")
        if run.returncode != 0:
            continue
        ours = keras.models.load_model(f"{d}/{tag}_ours.{ext}")
        kept = {l.name: (type(l).__name__, k, getattr(l, k, None)) for l in ours.layers
                for name, (_, k, _) in kept_want.items() if l.name == name}
        check(kept == kept_want, f"{tag}: Keras loads dptrain's .{ext} file with its layers' settings ({kept})")
        got = dpt_eval(f"{d}/{tag}_ours.{ext}", "y", xs).get("loss", float("nan"))
        theirs = ours.evaluate(xv, y, batch_size=8, verbose=0)
        check(abs(got - theirs) <= 1e-4, f"{tag}: Keras evaluates dptrain's .{ext} file to dptrain's loss ({got} vs "
                                         f"{theirs:.6f})")
# RandomCrop, from tf_keras (where installed): Keras 3.15's returns the image unchanged at inference
# (keras-team/keras#21868), so a model with it cannot evaluate there; dptrain does what tf_keras
# does and Keras's documentation says: a random window in training, and at inference (or in
# training where an axis is too short) a bilinear resize from the centred crop of the target's
# aspect ratio (smart_resize). A model growing its images (resized in training too): dptrain's epoch
# from tf_keras's .h5 gives its weights; one cropping after a Conv2D: dptrain evaluates tf_keras's
# .h5 to its loss; Keras 3 loads the file dptrain saves with the crop's size.
if tf_keras is None:
    print("note: no tf_keras here: RandomCrop is not checked against a live Keras")
else:
    TL = tf_keras.layers
    crops = {"crop_grow": [TL.Input((5, 7, 2)), TL.RandomCrop(6, 4, name="grow"),
                           TL.Conv2D(3, 2, activation="tanh", name="c1"), TL.Flatten(name="flat"),
                           TL.Dense(3, activation="softmax", name="out")],
             "crop": [TL.Input((5, 7, 2)), TL.Conv2D(3, 2, activation="tanh", name="c1"),
                      TL.RandomCrop(3, 4, name="crop"), TL.Flatten(name="flat"),
                      TL.Dense(3, activation="softmax", name="out")]}
    xr = np.load(f"{d}/xr.npy")
    for tag, stack in crops.items():
        tf_keras.utils.set_random_seed(0)
        m = tf_keras.Sequential(stack, name=tag)
        m.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
        m.fit(xr, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        m.save(f"{d}/{tag}_1.h5")
        want = m.evaluate(xr, y, batch_size=8, verbose=0)
        got = dpt_eval(f"{d}/{tag}_1.h5", "y", "xr").get("loss", float("nan"))
        check(abs(got - want) <= 1e-4, f"{tag}: dptrain evaluates tf_keras's .h5 to its loss ({got} vs {want:.6f})")
        start = [w.numpy() for w in m.weights]
        m.fit(xr, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        theirs = {w.name: w.numpy() for w in m.weights}
        moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs.values()))
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.h5", "--data", f"npy:{d}/xr.npy,{d}/y.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                              "--verbose", "0", "--save-model", f"{d}/{tag}_ours.h5"], capture_output=True, text=True)
        check(run.returncode == 0, f"{tag}: dptrain trains tf_keras's .h5 (exit {run.returncode}) {run.stderr.strip()}")
        if run.returncode != 0:
            continue
        if tag == "crop_grow":
            ours = h5_weights_by_name(f"{d}/{tag}_ours.h5")
            diff = max(float(np.abs(ours[k] - theirs[k]).max()) for k in theirs) if sorted(ours) == sorted(theirs) \
                else 1.0
            check(diff <= 2e-6 and moved > 100 * 2e-6,
                  f"{tag}: dptrain's epoch from tf_keras {tf_keras.__version__}'s .h5 gives its weights (max |diff| "
                  f"{diff:.3g}; the epoch moved them {moved:.3g})")
        else:
            ours = keras.models.load_model(f"{d}/{tag}_ours.h5")
            kept = [(type(l).__name__, l.height, l.width) for l in ours.layers if l.name == "crop"]
            check(kept == [("RandomCrop", 3, 4)], f"{tag}: Keras {keras.__version__} loads dptrain's .h5 with its "
                                                  f"RandomCrop ({kept})")
# MobileNet's layers on small images: ZeroPadding2D, DepthwiseConv2D (stride 2 valid, depth
# multiplier 2; 3x3 same), Cropping2D, GlobalAveragePooling2D(keepdims=True), a 1x1 Conv2D, Reshape.
# No bias right before BatchNormalization (as in MobileNet): its gradient is zero but for rounding,
# which Adam's step would scale up to the learning rate.
xi = rng.uniform(-1, 1, (32, 9, 9, 2)).astype("float32")
np.save(f"{d}/xi.npy", xi)
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((9, 9, 2)), layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad"),
                      layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, use_bias=False, name="dw1"),
                      layers.BatchNormalization(name="bn"), layers.ReLU(6.0, name="r6"),
                      layers.DepthwiseConv2D(3, padding="same", activation="gelu", name="dw2"),
                      layers.Cropping2D(((1, 0), (0, 1)), name="crop"), layers.Conv2D(6, 1, name="pw"),
                      layers.GlobalAveragePooling2D(keepdims=True, name="gap"), layers.Conv2D(3, 1, name="head"),
                      layers.Reshape((3,), name="flat"), layers.Activation("softmax", name="out")], name="spatial")
m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
m.fit(xi, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/spatial_1.keras")
start = [w.numpy() for w in m.weights]
fit_x = lambda: m.fit(xi, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
fit_x()
theirs = {w.path.split("/", 1)[1]: w.numpy() for w in m.weights}
run = subprocess.run([bin, "train", "--model", f"{d}/spatial_1.keras", "--data", f"npy:{d}/xi.npy,{d}/y.npy",
                      "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0",
                      "--save-model", f"{d}/spatial_ours.keras"], capture_output=True, text=True)
check(run.returncode == 0, f"spatial: dptrain trains ZeroPadding2D, DepthwiseConv2D, Cropping2D and "
                           f"GlobalAveragePooling2D(keepdims=True) (exit {run.returncode}) {run.stderr.strip()}")
if run.returncode == 0:
    ours = {w.path.split("/", 1)[1]: w.numpy() for w in keras.models.load_model(f"{d}/spatial_ours.keras").weights}
    check(sorted(ours) == sorted(theirs), f"spatial: the saved archive holds Keras's variables ({len(ours)})")
    if sorted(ours) == sorted(theirs):
        diff = max(float(np.abs(ours[k] - theirs[k]).max()) for k in ours)
        moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs.values()))
        check(diff <= 2e-6 and moved > 100 * 2e-6,
              f"spatial: dptrain's epoch from Keras's .keras archive gives Keras's weights (max |diff| {diff:.3g}; "
              f"the epoch moved them {moved:.3g})")
# SeparableConv2D, UpSampling2D and GlobalMaxPooling2D (after a relu: a channel all zeros for a sample shares its
# gradient among its positions, as Keras 3's ops.max does).
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((9, 9, 2)), layers.Conv2D(4, 3, activation="tanh", name="c1"),
                      layers.SeparableConv2D(5, 3, padding="same", depth_multiplier=2, activation="silu", name="sep"),
                      layers.UpSampling2D((2, 1), name="up"), layers.Conv2D(5, 2, activation="relu", name="c2"),
                      layers.GlobalMaxPooling2D(name="gmp"), layers.Dense(3, activation="softmax", name="out")],
                     name="upmax")
m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
m.fit(xi, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/upmax_1.h5")
start = [w.numpy() for w in m.weights]
m.fit(xi, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
theirs = {w.path.split("/", 1)[1]: w.numpy() for w in m.weights}
run = subprocess.run([bin, "train", "--model", f"{d}/upmax_1.h5", "--data", f"npy:{d}/xi.npy,{d}/y.npy",
                      "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0",
                      "--save-model", f"{d}/upmax_ours.keras"], capture_output=True, text=True)
check(run.returncode == 0, f"upmax: dptrain trains SeparableConv2D, UpSampling2D and GlobalMaxPooling2D (exit {run.returncode}) "
                           f"{run.stderr.strip()}")
if run.returncode == 0:
    ours = {w.path.split("/", 1)[1]: w.numpy() for w in keras.models.load_model(f"{d}/upmax_ours.keras").weights}
    if sorted(ours) == sorted(theirs):
        diff = max(float(np.abs(ours[k] - theirs[k]).max()) for k in ours)
        moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs.values()))
        check(diff <= 2e-6 and moved > 100 * 2e-6,
              f"upmax: dptrain's epoch from Keras's .h5 file gives Keras's weights (max |diff| {diff:.3g}; the epoch "
              f"moved them {moved:.3g})")
    else:
        check(False, f"upmax: the saved archive holds Keras's variables: {sorted(ours)} vs {sorted(theirs)}")
def sequential_epochs(tag, m, xs, xname, what):
    """Keras's .keras and .h5 files of m (its weights named layer/variable) after an Adam epoch: dptrain evaluates each to Keras's loss,
    its epoch from each gives Keras's next epoch's weights, and Keras evaluates dptrain's .keras to
    dptrain's loss."""
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
    m.fit(xs, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{tag}_1.keras")
    m.save(f"{d}/{tag}_1.h5")
    want = m.evaluate(xs, y, batch_size=8, verbose=0)
    start = [w.numpy() for w in m.weights]
    m.fit(xs, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs = {"/".join(w.path.split("/")[-2:]): w.numpy() for w in m.weights}
    moved = max(float(np.abs(a - b).max()) for a, b in zip(start, theirs.values()))
    for ext in ("keras", "h5"):
        got_loss = dpt_eval(f"{d}/{tag}_1.{ext}", "y", xname).get("loss", float("nan"))
        check(abs(got_loss - want) <= 1e-4, f"{tag}: dptrain evaluates Keras's .{ext} file to its loss ({got_loss} vs "
                                            f"{want:.6f})")
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", f"npy:{d}/{xname}.npy,{d}/y.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                              "--verbose", "0", "--save-model", f"{d}/{tag}_ours.keras"], capture_output=True, text=True)
        check(run.returncode == 0, f"{tag}: dptrain trains {what} from the .{ext} file (exit {run.returncode}) "
                                   f"{run.stderr.strip()}")
        if run.returncode != 0:
            continue
        back = keras.models.load_model(f"{d}/{tag}_ours.keras")
        ours = {"/".join(w.path.split("/")[-2:]): w.numpy() for w in back.weights}
        diff = max(float(np.abs(ours[k] - theirs[k]).max()) for k in ours) if sorted(ours) == sorted(theirs) else 1.0
        check(diff <= 2e-6 and moved > 100 * 2e-6, f"{tag}: dptrain's epoch from the .{ext} file gives Keras's "
                                                   f"weights (max |diff| {diff:.3g}; the epoch moved them {moved:.3g})")
        theirs_eval = back.evaluate(xs, y, batch_size=8, verbose=0)
        got_loss = dpt_eval(f"{d}/{tag}_ours.keras", "y", xname).get("loss", float("nan"))
        check(abs(got_loss - theirs_eval) <= 1e-4, f"{tag}: Keras evaluates dptrain's .keras file to dptrain's loss "
                                                   f"({got_loss} vs {theirs_eval:.6f})")


# SeparableConv1D and DepthwiseConv1D (strided with a depth multiplier; dilated, no bias) on
# sequences.
xs1 = rng.uniform(-1, 1, (32, 12, 3)).astype("float32")
np.save(f"{d}/xs1.npy", xs1)
keras.utils.set_random_seed(0)
sequential_epochs("sep1d", keras.Sequential(
    [keras.Input((12, 3)), layers.Conv1D(4, 3, activation="tanh", name="c1"),
     layers.SeparableConv1D(5, 3, padding="same", depth_multiplier=2, activation="silu", name="sep"),
     layers.DepthwiseConv1D(3, strides=2, depth_multiplier=2, activation="tanh", name="dw1"),
     layers.DepthwiseConv1D(2, padding="same", dilation_rate=2, use_bias=False, name="dw2"),
     layers.GlobalAveragePooling1D(name="gap"), layers.Dense(3, activation="softmax", name="out")], name="sep1d"),
    xs1, "xs1", "SeparableConv1D and DepthwiseConv1D")
# EinsumDense, as transformer code builds its projections: into heads ("abc,cde->abde", a bias on
# both new axes), out of them ("abcd,cde->abe"), over elided axes without a bias ("...b,bc->...c").
xe6 = rng.uniform(-1, 1, (32, 6, 4)).astype("float32")
np.save(f"{d}/xe6.npy", xe6)
keras.utils.set_random_seed(0)
sequential_epochs("einsum", keras.Sequential(
    [keras.Input((6, 4)),
     layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de", activation="tanh", name="heads"),
     layers.EinsumDense("abcd,cde->abe", (None, 5), bias_axes="e", name="merge"),
     layers.EinsumDense("...b,bc->...c", 4, activation="gelu", name="nobias"),
     layers.GlobalAveragePooling1D(name="gap"), layers.Dense(3, activation="softmax", name="out")], name="einsum"),
    xe6, "xe6", "EinsumDense")
# CategoryEncoding on token ids as a model's first layers: counts, and one-hot rows flattened.
ce = rng.integers(0, 12, (32, 6)).astype("int32")
np.save(f"{d}/ce.npy", ce)
keras.utils.set_random_seed(0)
ce_in = keras.Input((6,), dtype="int32", name="ids")
ce_out = layers.Concatenate(name="cat")([layers.CategoryEncoding(12, output_mode="count", name="counts")(ce_in),
                                         layers.Flatten(name="flat")(layers.CategoryEncoding(
                                             12, output_mode="one_hot", name="onehot")(ce_in))])
ce_out = layers.Dense(3, activation="softmax", name="out")(layers.Dense(8, activation="tanh", name="hidden")(ce_out))
sequential_epochs("catenc", keras.Model(ce_in, ce_out, name="catenc"), ce, "ce", "CategoryEncoding")
# A Functional model that branches: residual Adds (one around a block, one of a projection and a
# layer of it), a Concatenate of two branches, a Multiply gate, a Subtract and an Average. dptrain predicts Keras's predictions, its epoch from
# Keras's .keras archive and .h5 file gives Keras's weights, and Keras loads what dptrain saves
# (.keras and .h5, as the Functional model it is, optimizer included).
keras.utils.set_random_seed(0)
inp = keras.Input((9, 9, 2), name="img")
stem = layers.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inp)
block = layers.Conv2D(4, 3, padding="same", use_bias=False, name="b1")(stem)
block = layers.BatchNormalization(name="bn1")(block)
block = layers.Activation("relu", name="r1")(block)
block = layers.Conv2D(4, 3, padding="same", name="b2")(block)
res = layers.Add(name="res")([stem, block])
side = layers.Conv2D(3, 1, strides=1, activation="tanh", name="side")(inp)
cat = layers.Concatenate(name="cat")([res, side])
pooled = layers.GlobalAveragePooling2D(name="gap")(cat)
proj = layers.Dense(7, name="proj")(pooled)
twice = layers.Add(name="twice")([proj, layers.Dense(7, activation="silu", name="lift")(proj)])
gated = layers.Multiply(name="gated")([twice, layers.Dense(7, activation="sigmoid", name="gate")(proj)])
apart = layers.Subtract(name="apart")([gated, proj])
mean = layers.Average(name="mean")([apart, twice, gated])
out = layers.Dense(3, activation="softmax", name="out")(mean)
m = keras.Model(inp, out, name="resnetish")
m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
m.fit(xi, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/res_1.keras")
m.save(f"{d}/res_1.h5")
before = m.predict(xi, verbose=0)
start = {"/".join(w.path.split("/")[-2:]): w.numpy() for w in m.weights}
m.fit(xi, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
theirs = {"/".join(w.path.split("/")[-2:]): w.numpy() for w in m.weights}
run = subprocess.run([bin, "predict", "--model", f"{d}/res_1.keras", "--data", f"npy:{d}/xi.npy", "--output",
                      f"{d}/res_p.npy", "--show", "0"], capture_output=True, text=True)
worst = float(np.abs(np.load(f"{d}/res_p.npy") - before).max()) if run.returncode == 0 else float("inf")
check(worst <= 1e-5, f"resnetish (Add, Concatenate, Multiply, Subtract, Average): dptrain predicts Keras's predictions from its .keras archive "
                     f"(max |diff| {worst:.3g}) {run.stderr.strip()}")
for src, dst in (("res_1.keras", "res_ours.keras"), ("res_1.h5", "res_ours.h5")):
    run = subprocess.run([bin, "train", "--model", f"{d}/{src}", "--data", f"npy:{d}/xi.npy,{d}/y.npy",
                          "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose",
                          "0", "--save-model", f"{d}/{dst}"], capture_output=True, text=True)
    check(run.returncode == 0, f"resnetish: dptrain trains the branching model from {src} (exit {run.returncode}) "
                               f"{run.stderr.strip()}")
    if run.returncode != 0:
        continue
    loaded = keras.models.load_model(f"{d}/{dst}")
    ours = {"/".join(w.path.split("/")[-2:]): w.numpy() for w in loaded.weights}
    same_vars = sorted(ours) == sorted(theirs)
    check(same_vars and type(loaded).__name__ == "Functional",
          f"resnetish: keras.models.load_model reads dptrain's {dst} as a {type(loaded).__name__} with Keras's "
          f"{len(ours)} variables")
    if same_vars:
        diff = max(float(np.abs(ours[k] - theirs[k]).max()) for k in ours)
        moved = max(float(np.abs(start[k] - theirs[k]).max()) for k in theirs)
        check(diff <= 2e-6 and moved > 100 * 2e-6,
              f"resnetish: dptrain's epoch from {src} gives Keras's weights (max |diff| {diff:.3g}; the epoch moved "
              f"them {moved:.3g}); Keras's optimizer resumes at iteration {int(loaded.optimizer.iterations.numpy())}")
        check(int(loaded.optimizer.iterations.numpy()) == 8, f"resnetish: {dst}'s optimizer is at iteration 8")
        run = subprocess.run([bin, "predict", "--model", f"{d}/{dst}", "--data", f"npy:{d}/xi.npy", "--output",
                              f"{d}/res_q.npy", "--show", "0"], capture_output=True, text=True)
        if run.returncode == 0:
            w2 = float(np.abs(loaded.predict(xi, verbose=0) - np.load(f"{d}/res_q.npy")).max())
            check(w2 <= 1e-5, f"resnetish: Keras and dptrain predict alike from dptrain's {dst} (max |diff| {w2:.3g})")
# Keras's weight regularizers (kernel_, bias_, recurrent_, gamma_ and beta_regularizer; L1, L2, L1L2
# and Keras's names for them) and constraints (MaxNorm over two axes and over all, UnitNorm,
# MinMaxNorm, NonNeg) on Conv1D, BatchNormalization, a Bidirectional LSTM and Dense layers:
# dptrain's epoch from Keras's .keras and .h5 files ends with Keras's weights (the same weights
# trained without the regularizers, or without the constraints, end elsewhere) and logs Keras's
# loss, the penalty included; Keras loads dptrain's files with the same regularizers and evaluates
# them to dptrain's loss.
R = keras.regularizers


def reg_net(on, constrain=True):
    keras.utils.set_random_seed(0)
    g = (lambda r: r) if on else (lambda r: None)
    k = (lambda c: c) if constrain else (lambda c: None)
    C = keras.constraints
    return keras.Sequential([
        keras.Input((6,)), layers.Reshape((6, 1)),
        layers.Conv1D(4, 3, activation="relu", kernel_regularizer=g(R.L2(0.05)), bias_regularizer=g(R.L1(0.01)),
                      kernel_constraint=k(C.MaxNorm(0.5, axis=[0, 1])), name="conv"),
        layers.BatchNormalization(gamma_regularizer=g(R.L2(0.1)), beta_regularizer=g(R.L1L2(0.01, 0.02)), name="bn"),
        layers.Bidirectional(layers.LSTM(3, kernel_regularizer=g(R.L1L2(0.01, 0.01)), recurrent_regularizer=g("l2"),
                                         bias_regularizer=g(R.L2(0.03)), recurrent_constraint=k(C.UnitNorm(axis=0))),
                             name="bi"),
        # (Not L1 on the bias NonNeg holds at 0: JAX's slope of |w| at 0 is 1, TensorFlow's and dptrain's 0.)
        layers.Dense(8, activation="tanh", kernel_regularizer=g(R.L1L2(0.01, 0.02)), bias_regularizer=g("l2"),
                     kernel_constraint=k(C.MinMaxNorm(0.3, 0.6, rate=0.5)), bias_constraint=k(C.NonNeg()),
                     name="hidden"),
        layers.Dense(3, activation="softmax", kernel_regularizer=g("l2"), kernel_constraint=k(C.MaxNorm(1.0, axis=None)),
                     name="out")], name="regularized")


def regularizers_of(cfg, at=""):  # every *_regularizer and *_constraint in a (nested) layer config, by place
    out = {}
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            if k.endswith(("_regularizer", "_constraint")) and v is not None:
                out[at + k] = (v["class_name"], {a: b if b is None or isinstance(b, list) else round(float(b), 9)
                                                 for a, b in v["config"].items()})
            else:
                out.update(regularizers_of(v, at + k + "/"))
    elif isinstance(cfg, list):
        for i, v in enumerate(cfg):
            out.update(regularizers_of(v, at + str(i) + "/"))
    return out


m = reg_net(True)
m.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/reg_1.keras")
m.save(f"{d}/reg_1.h5")
start = [w.numpy() for w in m.weights]
theirs_loss = m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"][0]
theirs = [w.numpy() for w in m.weights]
their_regs = {k: v for layer in m.layers for k, v in regularizers_of(layer.get_config(), layer.name + "/").items()}
plain = reg_net(False)
plain.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
plain.set_weights(start)
plain.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
apart = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(plain.weights, theirs))
check(apart > 100 * 2e-6 and len(their_regs) == 13 + 6,
      f"regularized: without its 13 regularizers the epoch ends elsewhere (max |diff| {apart:.3g})")
free = reg_net(True, constrain=False)
free.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
free.set_weights(start)
free.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
apart = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(free.weights, theirs))
check(apart > 100 * 2e-6, f"regularized: without its 6 constraints (MaxNorm, UnitNorm, MinMaxNorm, NonNeg) the epoch "
                          f"ends elsewhere (max |diff| {apart:.3g})")
for src in ("reg_1.keras", "reg_1.h5"):
    dst = src.replace("_1", "_ours")
    run = subprocess.run([bin, "train", "--model", f"{d}/{src}", "--data", f"npy:{d}/x.npy,{d}/y.npy",
                          "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose",
                          "0", "--save-model", f"{d}/{dst}", "--history", f"{d}/reg_history.json"],
                         capture_output=True, text=True)
    check(run.returncode == 0, f"regularized: dptrain trains {src} (exit {run.returncode}) {run.stderr.strip()}")
    if run.returncode != 0:
        continue
    ours_loss = json.load(open(f"{d}/reg_history.json"))["loss"][0]
    check(abs(ours_loss - theirs_loss) <= 1e-5 * theirs_loss,
          f"regularized: dptrain's epoch from {src} logs Keras's loss with the penalty ({ours_loss:.7f} vs "
          f"{theirs_loss:.7f})")
    loaded = keras.models.load_model(f"{d}/{dst}")
    diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(loaded.weights, theirs))
    check(diff <= 2e-6, f"regularized: dptrain's epoch from {src} gives Keras's weights (max |diff| {diff:.3g})")
    regs = {k: v for layer in loaded.layers for k, v in regularizers_of(layer.get_config(), layer.name + "/").items()}
    check(regs == their_regs, f"regularized: keras.models.load_model reads dptrain's {dst} with Keras's "
                              f"{len(their_regs)} regularizers and constraints" + ("" if regs == their_regs else f": {regs}"))
    theirs_eval = loaded.evaluate(x, y, batch_size=8, verbose=0)
    ours_eval = dpt_eval(f"{d}/{dst}", "y").get("loss", float("nan"))
    check(abs(ours_eval - theirs_eval) <= 1e-4 * theirs_eval,
          f"regularized: Keras evaluates dptrain's {dst} to dptrain's loss, the penalty included ({ours_eval} vs "
          f"{theirs_eval:.6f})")
# Keras's activity regularizers (L2, L1 and L1L2 on Dense layers' outputs, the softmax's included,
# and L1 on a Functional model's Add): the penalty of each output over the batch size joins the
# loss. dptrain's epoch from Keras's .keras and .h5 files ends with Keras's weights and logs Keras's
# loss (without the regularizers it ends elsewhere), and Keras evaluates dptrain's files to
# dptrain's loss.
def act_net(on, graph=False):
    keras.utils.set_random_seed(0)
    g = (lambda r: r) if on else (lambda r: None)
    if graph:
        inp = keras.Input((6,))
        a = layers.Dense(8, activation="tanh", activity_regularizer=g(R.L2(0.05)), name="a")(inp)
        b = layers.Dense(8, activation="tanh", name="b")(a)
        s = layers.Add(activity_regularizer=g(R.L1(0.02)), name="add")([a, b])
        return keras.Model(inp, layers.Dense(3, activation="softmax", name="out")(s), name="active_graph")
    return keras.Sequential([
        keras.Input((6,)), layers.Dense(8, activation="tanh", activity_regularizer=g(R.L2(0.05)), name="hidden"),
        layers.Dense(5, activation="relu", activity_regularizer=g("l1"), name="mid"),
        layers.Dense(3, activation="softmax", activity_regularizer=g(R.L1L2(0.01, 0.1)), name="out")], name="active")


for graph in (False, True):
    tag = "act_graph" if graph else "act"
    m = act_net(True, graph)
    m.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5), loss="categorical_crossentropy")
    m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(f"{d}/{tag}_1.keras")
    m.save(f"{d}/{tag}_1.h5")
    start = [w.numpy() for w in m.weights]
    theirs_loss = m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    theirs = [w.numpy() for w in m.weights]
    plain = act_net(False, graph)
    plain.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5), loss="categorical_crossentropy")
    plain.set_weights(start)
    plain.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    apart = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(plain.weights, theirs))
    check(apart > 100 * 2e-6, f"{tag}: without its activity regularizers the epoch ends elsewhere (max |diff| {apart:.3g})")
    for ext in ("keras", "h5"):
        run = subprocess.run([bin, "train", "--model", f"{d}/{tag}_1.{ext}", "--data", f"npy:{d}/x.npy,{d}/y.npy",
                              "--validation-split", "0", "--batch-size", "8", "--epochs", "1", "--no-shuffle",
                              "--verbose", "0", "--save-model", f"{d}/{tag}_ours.{ext}", "--history",
                              f"{d}/act_history.json"], capture_output=True, text=True)
        check(run.returncode == 0, f"{tag}: dptrain trains {tag}_1.{ext} (exit {run.returncode}) {run.stderr.strip()}")
        if run.returncode != 0:
            continue
        ours_loss = json.load(open(f"{d}/act_history.json"))["loss"][0]
        loaded = keras.models.load_model(f"{d}/{tag}_ours.{ext}")
        diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(loaded.weights, theirs))
        check(diff <= 2e-6, f"{tag}: dptrain's epoch from the .{ext} file gives Keras's weights (max |diff| {diff:.3g})")
        check(abs(ours_loss - theirs_loss) <= 1e-5 * theirs_loss,
              f"{tag}: dptrain logs Keras's loss with the activity penalty ({ours_loss:.7f} vs {theirs_loss:.7f})")
        theirs_eval = loaded.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)["loss"]
        ours_eval = dpt_eval(f"{d}/{tag}_ours.{ext}", "y").get("loss", float("nan"))
        check(abs(ours_eval - theirs_eval) <= 1e-4 * max(1.0, theirs_eval),
              f"{tag}: Keras loads dptrain's .{ext} file with its activity regularizers and evaluates it to dptrain's "
              f"loss ({ours_eval} vs {theirs_eval:.6f})")
# Keras's initializers, from model.to_json(): the weights dptrain draws for a fresh model have the
# spread Keras's draws have (each layer's own fans: a Conv2D's, a DepthwiseConv2D's, a
# Conv2DTranspose's, a Dense's, an LSTM's), Keras's constants and its LSTM bias exactly.
keras.utils.set_random_seed(0)
fresh = keras.Sequential([
    keras.Input((12, 12, 16)),
    layers.Conv2D(48, 3, kernel_initializer="he_normal", bias_initializer=keras.initializers.Constant(0.3), name="c"),
    layers.DepthwiseConv2D(3, depthwise_initializer="lecun_uniform", name="dw"),
    layers.Conv2DTranspose(24, 3, kernel_initializer=keras.initializers.VarianceScaling(2.5, "fan_out", "uniform"),
                           name="tc"),
    layers.Conv2D(64, 1, kernel_initializer=keras.initializers.TruncatedNormal(0.05, 0.3), name="p"),
    layers.Reshape((100, 64)),
    layers.LSTM(32, kernel_initializer="glorot_normal", recurrent_initializer=keras.initializers.Orthogonal(1.5),
                bias_initializer=keras.initializers.Constant(0.2), name="l"),
    layers.Dense(64, kernel_initializer=keras.initializers.RandomNormal(0.0, 0.2), bias_initializer="ones", name="d"),
    layers.Dense(64, kernel_initializer=keras.initializers.Identity(2.0), name="i")], name="fresh")
with open(f"{d}/fresh.json", "w") as f:
    f.write(fresh.to_json())
np.save(f"{d}/fresh_x.npy", np.zeros((4, 12, 12, 16), "float32"))
np.save(f"{d}/fresh_y.npy", np.eye(64, dtype="float32")[:4])
# One SGD step at a negligible rate (zeros move by 1e-30 at most): dptrain saves the weights it drew.
run = subprocess.run([bin, "train", "--model", f"{d}/fresh.json", "--data", f"npy:{d}/fresh_x.npy,{d}/fresh_y.npy",
                      "--validation-split", "0", "--batch-size", "4", "--epochs", "1", "--optimizer", "sgd", "--lr",
                      "1e-30", "--verbose", "0", "--save-weights", f"{d}/fresh.weights.h5"], capture_output=True, text=True)
check(run.returncode == 0, f"fresh: dptrain builds and trains the to_json model (exit {run.returncode}) {run.stderr.strip()}")
if run.returncode == 0:
    # Keras's own model from the file (Keras 3.15 writes Identity without its gain: both draw gain 1).
    rebuilt = keras.models.model_from_json(open(f"{d}/fresh.json").read())
    ours = keras.models.model_from_json(open(f"{d}/fresh.json").read())
    ours.load_weights(f"{d}/fresh.weights.h5")
    for theirs_w, ours_w in zip(rebuilt.weights, ours.weights):
        a, b = theirs_w.numpy(), ours_w.numpy()
        what = theirs_w.path
        if a.std() == 0 or "bias" in what and "l/" in what:  # constants and the LSTM bias: exactly Keras's
            check(np.abs(a - b).max() <= 1e-20, f"fresh: {what} is Keras's {np.unique(a)[:3]} (but the 1e-30 step)")
        else:
            # The truncated normals and uniforms have a largest value; RandomNormal's and Orthogonal's have none.
            bounded = not what.startswith("d/") and "recurrent" not in what
            close = abs(b.std() / a.std() - 1) < 0.12 and abs(b.mean() - a.mean()) < 0.2 * a.std() + 1e-3 and \
                (not bounded or abs(np.abs(b).max() / np.abs(a).max() - 1) < 0.1)
            check(close, f"fresh: {what} {a.shape} is spread as Keras's (sd {b.std():.4f} vs {a.std():.4f}, mean "
                         f"{b.mean():.4f} vs {a.mean():.4f}, max |w| {np.abs(b).max():.4f} vs {np.abs(a).max():.4f})")
# Keras's sample_weight (a third .npy file): dptrain's epoch from Keras's file gives Keras's weights and
# losses, val_loss over validation_split's share of the weights included; unweighted it ends elsewhere.
# The file's weighted_metrics log Keras's figures (weighted_accuracy: the accuracy again, weighed).
sw = rng.uniform(0, 3, 32).astype("float32")
np.save(f"{d}/sw.npy", sw)
m = build()
weighted_metrics = ["accuracy", keras.metrics.MeanAbsoluteError(name="wmae"),
                    keras.metrics.AUC(name="wauc", num_thresholds=50), keras.metrics.Precision(name="wprec"),
                    keras.metrics.R2Score(name="wr2"), keras.metrics.F1Score(average="macro", name="wf1"),
                    keras.metrics.CategoricalCrossentropy(name="wce")]
m.compile(optimizer=keras.optimizers.SGD(0.2, momentum=0.5), loss="categorical_crossentropy", metrics=["accuracy"],
          weighted_metrics=weighted_metrics)
m.fit(x, y, sample_weight=sw, validation_split=0.25, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/sw_1.h5")
h = m.fit(x, y, sample_weight=sw, validation_split=0.25, batch_size=8, epochs=1, shuffle=False, verbose=0).history
theirs = [w.numpy() for w in m.weights]
for data, tag in ((f"npy:{d}/x.npy,{d}/y.npy,{d}/sw.npy", "weighted"), (f"npy:{d}/x.npy,{d}/y.npy", "unweighted")):
    run = subprocess.run([bin, "train", "--model", f"{d}/sw_1.h5", "--data", data, "--validation-split", "0.25",
                          "--batch-size", "8", "--epochs", "1", "--no-shuffle", "--verbose", "0", "--save-model",
                          f"{d}/sw_ours.h5", "--history", f"{d}/sw_history.json"], capture_output=True, text=True)
    check(run.returncode == 0, f"sample_weight: dptrain trains with {tag} data (exit {run.returncode}) {run.stderr.strip()}")
    if run.returncode != 0:
        continue
    ours_h = json.load(open(f"{d}/sw_history.json"))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(model_weights(f"{d}/sw_ours.h5"), theirs))
    if tag == "weighted":
        check(diff <= 2e-6, f"sample_weight: dptrain's epoch gives Keras's weights (max |diff| {diff:.3g})")
        check(sorted(ours_h) == sorted(h), f"sample_weight: dptrain logs Keras's names {sorted(ours_h)} vs {sorted(h)}")
        for k in sorted(set(h) & set(ours_h)):
            check(abs(ours_h[k][0] - h[k][0]) <= 1e-5 * max(1.0, abs(h[k][0])),
                  f"sample_weight: {k} is Keras's ({ours_h[k][0]:.6f} vs {h[k][0]:.6f})")
        # evaluate with the weights: Keras's load_model compiles the file's weighted_metrics too.
        theirs_e = keras.models.load_model(f"{d}/sw_ours.h5").evaluate(x, y, sample_weight=sw, return_dict=True,
                                                                      verbose=0)
        run = subprocess.run([bin, "evaluate", "--model", f"{d}/sw_ours.h5", "--data", data, "--validation-split",
                              "0"], capture_output=True, text=True)
        said = [line for line in run.stdout.splitlines() if line.startswith("loss: ")]
        check(run.returncode == 0 and len(said) == 1, f"sample_weight: dptrain evaluates (exit {run.returncode})")
        if said:
            ours_e = {k: float(v) for k, v in (part.rsplit(": ", 1) for part in said[0].split(" - "))}
            check(sorted(ours_e) == sorted(theirs_e), f"sample_weight: evaluate's names {sorted(ours_e)}")
            for k in sorted(set(ours_e) & set(theirs_e)):
                check(abs(ours_e[k] - theirs_e[k]) <= 1e-4,
                      f"sample_weight: evaluate's {k} is Keras's ({ours_e[k]:.4f} vs {theirs_e[k]:.4f})")
        # --metrics replaces the file's metrics and keeps its weighted ones; --weighted-metrics the reverse.
        for opts, want in ((["--metrics", "mae"], ["loss", "mae", "accuracy", "wmae", "wauc", "wprec", "wr2", "wf1",
                                                   "wce"]),
                           (["--weighted-metrics", "mae"], ["loss", "accuracy", "mae"]),
                           (["--metrics", "none", "--weighted-metrics", "none"], ["loss"])):
            run = subprocess.run([bin, "evaluate", "--model", f"{d}/sw_ours.h5", "--data", data, "--validation-split",
                                  "0"] + opts, capture_output=True, text=True)
            said = [line for line in run.stdout.splitlines() if line.startswith("loss: ")]
            names = [part.rsplit(": ", 1)[0] for part in said[0].split(" - ")] if said else run.stderr.strip()
            check(names == want, f"sample_weight: evaluate {' '.join(opts)} logs {names}")
    else:
        check(diff > 100 * 2e-6, f"sample_weight: without the weights the epoch ends elsewhere (max |diff| {diff:.3g})")
        check(abs(ours_h["weighted_accuracy"][0] - ours_h["accuracy"][0]) < 1e-12,
              "sample_weight: unweighted data, the weighted metrics are the metrics")
# class_weight weighs the weighted metrics in training (Keras turns it into sample weights), not in
# validation (Keras gives the validation split no class weights).
m = build()
m.compile(optimizer=keras.optimizers.SGD(0.2, momentum=0.5), loss="categorical_crossentropy", metrics=["accuracy"],
          weighted_metrics=weighted_metrics)
cw = {0: 0.5, 1: 2.0, 2: 1.25}
m.fit(x, y, class_weight=cw, validation_split=0.25, batch_size=8, epochs=1, shuffle=False, verbose=0)
m.save(f"{d}/cw_1.h5")
h = m.fit(x, y, class_weight=cw, validation_split=0.25, batch_size=8, epochs=1, shuffle=False, verbose=0).history
theirs = [w.numpy() for w in m.weights]
with open(f"{d}/cw.json", "w") as f:
    json.dump({str(k): v for k, v in cw.items()}, f)
run = subprocess.run([bin, "train", "--model", f"{d}/cw_1.h5", "--data", f"npy:{d}/x.npy,{d}/y.npy",
                      "--class-weight", f"{d}/cw.json", "--validation-split", "0.25", "--batch-size", "8", "--epochs",
                      "1", "--no-shuffle", "--verbose", "0", "--save-model", f"{d}/cw_ours.h5", "--history",
                      f"{d}/cw_history.json"], capture_output=True, text=True)
check(run.returncode == 0, f"class_weight: dptrain trains (exit {run.returncode}) {run.stderr.strip()}")
if run.returncode == 0:
    ours_h = json.load(open(f"{d}/cw_history.json"))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(model_weights(f"{d}/cw_ours.h5"), theirs))
    check(diff <= 2e-6, f"class_weight: dptrain's epoch gives Keras's weights (max |diff| {diff:.3g})")
    for k in sorted(h):
        check(k in ours_h and abs(ours_h[k][0] - h[k][0]) <= 1e-5 * max(1.0, abs(h[k][0])),
              f"class_weight: {k} is Keras's ({ours_h.get(k, [float('nan')])[0]:.6f} vs {h[k][0]:.6f})")
print("PASS" if fails == 0 else f"{fails} FAILED")
sys.exit(1 if fails else 0)
PY
exit "${PIPESTATUS[0]}"
