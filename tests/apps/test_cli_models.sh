#!/usr/bin/env bash
# Models on the command line: `models` and `summary` (a preset, a Keras file; Keras's totals),
# Keras-written model files given to predict (Keras's own predictions), evaluate and train (compiled
# from the file's training_config as keras.models.load_model does, starting from its weights and
# continuing its optimizer state), and
# --restore-best-weights ending with the best epoch's weights, on 1 and 2 replicas.
#   test_cli_models.sh DPTRAIN
set -uo pipefail
bin="$1"
here="$(cd "$(dirname "$0")" && pwd)"
fx="$here/../fixtures/keras_written"
shared="$here/../../../shared/fixtures/keras"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
check() {  # check "what" "wanted words" file
  if grep -qF -- "$2" "$3"; then echo "ok: $1"; else echo "FAIL: $1: wanted '$2' in:"; cat "$3"; fails=$((fails+1)); fi
}
run() {  # run NAME args...: stdout to $dir/NAME, stderr to $dir/NAME.err; a failure is counted
  local name="$1"; shift
  "$bin" "$@" > "$dir/$name" 2> "$dir/$name.err" || { echo "FAIL: dptrain $* (exit $?)"; cat "$dir/$name.err"; fails=$((fails+1)); }
}

# `models`: every preset on one line, digits-cnn the one default.
run models models
[ "$(grep -c '(default)$' "$dir/models")" -eq 1 ] && grep -q '^digits-cnn .*(default)$' "$dir/models" &&
  [ "$(wc -l < "$dir/models")" -eq 9 ] && echo "ok: models lists 9 presets, digits-cnn the default" ||
  { echo "FAIL: models"; cat "$dir/models"; fails=$((fails+1)); }

# `summary`: Keras's table and totals (with Keras's thousands separators).
run summary summary
check "summary names the default model" 'Model: "digits-cnn"' "$dir/summary"
check "summary's total, as Keras prints it" "Total params: 35,914" "$dir/summary"
run summary_file summary --model "$fx/cnn_legacy.h5"
check "summary of a Keras file: its layer names" " batch_normalization (BatchN (None, 8, 8, 4)           16" "$dir/summary_file"
check "summary of a Keras file: trainable" "Trainable params: 323" "$dir/summary_file"
check "summary of a Keras file: BatchNormalization's moving statistics" "Non-trainable params: 8" "$dir/summary_file"

# imdb-cnn, Keras's imdb_cnn example: its summary's total, and training on word indices with its
# loss (binary cross-entropy) and metric; Keras's embed model from its .npy of int32 indices.
run summary_imdb summary --model imdb-cnn
check "imdb-cnn's total, as Keras's example prints it" "Total params: 350,751" "$dir/summary_imdb"
check "imdb-cnn's table" " embedding (Embedding)       (None, 400, 50)           250000" "$dir/summary_imdb"
run train_imdb train --model imdb-cnn --data synthetic:400:2:64:5000 --epochs 1 --verbose 1
check "imdb-cnn trains on indices" "indices in [0, 5000) | train 51 samples, validation 13 samples" "$dir/train_imdb"
check "imdb-cnn's loss and metric" "loss: binary_crossentropy | metrics: accuracy" "$dir/train_imdb"
run summary_lstm summary --model imdb-lstm
check "imdb-lstm's total, as Keras's imdb_lstm example prints it" "Total params: 2,691,713" "$dir/summary_lstm"
run train_lstm train --model imdb-lstm --data synthetic:80:2:40:20000 --epochs 1 --verbose 1
check "imdb-lstm trains" "Epoch 1/1 - 1/1" "$dir/train_lstm"
run summary_bilstm summary --model imdb-bilstm
check "imdb-bilstm's total, as Keras's imdb_bidirectional_lstm example prints it" "Total params: 2,658,945" \
  "$dir/summary_bilstm"
check "imdb-bilstm's table" " bidirectional (Bidirectiona (None, 128)               98816" "$dir/summary_bilstm"
run train_bilstm train --model imdb-bilstm --data synthetic:100:2:40:20000 --epochs 1 --verbose 1 --replicas 2
check "imdb-bilstm trains on 2 CPU replicas" "Epoch 1/1 - 1/1" "$dir/train_bilstm"
run summary_transformer summary --model imdb-transformer
check "imdb-transformer's total, Keras's count of the same layers" "Total params: 651,358" "$dir/summary_transformer"
run train_transformer train --model imdb-transformer --data synthetic:200:2:40:20000 --epochs 1 --verbose 1 --replicas 2
check "imdb-transformer trains on 2 CPU replicas" "Epoch 1/1 - 1/1" "$dir/train_transformer"
check "imdb-transformer's loss" "loss: sparse_categorical_crossentropy | metrics: accuracy" "$dir/train_transformer"
run bench_transformer bench --model imdb-transformer --replicas 2 --batch-size-per-replica 4 --steps 2 --warmup 1 \
  --allreduce-mib 1
check "imdb-transformer benchmarks (class indices for its sparse loss)" "allreduce        2            8" \
  "$dir/bench_transformer"
run summary_tdist summary --model "$fx/tdist_legacy.h5"
check "Keras's TimeDistributed model: a wrapped Conv2D's row, as Keras's summary" \
  " time_distributed (TimeDistr (None, 4, 4, 4, 3)        57" "$dir/summary_tdist"
check "Keras's TimeDistributed model: its total, as Keras's summary" "Total params: 500" "$dir/summary_tdist"
run train_embed train --model "$fx/embed.keras" --data "npy:$fx/embed_x.npy,$fx/embed_y.npy" --validation-split 0 \
  --epochs 1 --batch-size 5 --verbose 1
check "Keras's Embedding model trains on its int32 .npy" "Epoch 1/1 - 1/1" "$dir/train_embed"

# predict with a model.save() file from Keras 3 and from tf.keras 2: Keras's own predictions.
max_diff() {  # max |a - b| over two float32 .npy files (no numpy needed)
  python3 - "$1" "$2" <<'PY'
import ast, struct, sys
def load(path):
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", path
    hlen = struct.unpack("<H", raw[8:10])[0] if raw[6] == 1 else struct.unpack("<I", raw[8:12])[0]
    start = 10 + hlen if raw[6] == 1 else 12 + hlen
    head = ast.literal_eval(raw[start - hlen:start].decode("latin1"))
    assert head["descr"] == "<f4" and not head["fortran_order"], head
    return struct.unpack("<%df" % ((len(raw) - start) // 4), raw[start:])
a, b = load(sys.argv[1]), load(sys.argv[2])
assert len(a) == len(b), (len(a), len(b))
print("%.3g" % max(abs(x - y) for x, y in zip(a, b)))
PY
}
for m in cnn_legacy mlp_tfk_model gap_legacy; do
  x="$fx/${m%_legacy}_x.npy"; y="$fx/${m%_legacy}_y.npy"
  [ "$m" = mlp_tfk_model ] && { x="$fx/mlp_tfk_x.npy"; y="$fx/mlp_tfk_y.npy"; }
  run "pred_$m" predict --model "$fx/$m.h5" --data "npy:$x" --output "$dir/$m.npy" --show 0
  d=$(max_diff "$dir/$m.npy" "$y") || d=1
  if python3 -c "import sys; sys.exit(0 if float('$d') <= 1e-5 else 1)"; then
    echo "ok: predict --model $m.h5 gives Keras's predictions (max |diff| $d)"
  else
    echo "FAIL: predict --model $m.h5: max |diff| $d from Keras's predictions"; fails=$((fails+1))
  fi
done

# train compiles a Keras file as load_model does: the file's optimizer (Adam, learning rate 0.01)
# and loss, each overridable; it starts from the file's weights: with a vanishing learning rate the
# validation loss after one epoch is the one evaluate gives for the file (mlp: no moving statistics).
run train_cnn train --model "$fx/cnn_legacy.h5" --data synthetic:10,10,3:3:64 --epochs 1 --verbose 2
check "train --model FILE.h5 takes the file's optimizer" "optimizer: Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999) | loss: categorical_crossentropy" "$dir/train_cnn"
check "train --model FILE.h5 says where the compile settings came from" \
  "compiled from $fx/cnn_legacy.h5's training_config, as keras.models.load_model does" "$dir/train_cnn"
run train_gap train --model "$fx/gap_legacy.h5" --data synthetic:9,9,2:2:64 --epochs 1 --verbose 2
check "train --model FILE.h5 takes the file's loss" "| loss: binary_crossentropy" "$dir/train_gap"
run train_over train --model "$fx/cnn_legacy.h5" --data synthetic:10,10,3:3:64 --epochs 1 --verbose 2 \
  --optimizer sgd --loss mean_squared_error
check "--optimizer and --loss override the file's" "optimizer: SGD(learning_rate=0.01, momentum=0) | loss: mean_squared_error" "$dir/train_over"
run train_lr train --model "$fx/cnn_legacy.h5" --data synthetic:10,10,3:3:64 --epochs 1 --verbose 2 --lr 0.5
check "--lr overrides the file's learning rate, keeping its optimizer" "optimizer: Adam(learning_rate=0.5," "$dir/train_lr"
# ... and continues the file's optimizer state (moments, iteration count, learning rate), in Keras 3's
# or tf.keras's layout; another optimizer, or state that does not fit, starts fresh and says so.
check "train --model FILE.h5 continues a Keras 3 file's optimizer state" \
  "(the optimizer continues from the file's state: iteration 12, 16 slot arrays (Keras 3 layout))" "$dir/train_cnn"
run train_tfk train --model "$fx/mlp_tfk_model.h5" --data synthetic:6:4:64 --epochs 1 --verbose 2
check "train --model FILE.h5 continues a tf.keras 2.21 file's optimizer state" \
  "(the optimizer continues from the file's state: iteration 12, 16 slot arrays (tf.keras 2.11+ layout))" "$dir/train_tfk"
check "--optimizer of another class starts fresh, saying so" \
  "(the file's optimizer state is for another optimizer: this one starts with fresh state)" "$dir/train_over"
run sgd_save train --model digits-mlp --optimizer sgd --momentum 0.9 --epochs 1 --steps-per-epoch 2 --verbose 0 \
  --save-model "$dir/sgd.h5"
run sgd_nesterov train --model digits-mlp --optimizer sgd --momentum 0.9 --nesterov --epochs 1 --steps-per-epoch 2 \
  --verbose 2 --save-model "$dir/nesterov.h5"
check "--nesterov adds Nesterov momentum" "optimizer: SGD(learning_rate=0.01, momentum=0.9, nesterov=True)" "$dir/sgd_nesterov"
run nesterov_file train --model "$dir/nesterov.h5" --data digits --epochs 1 --steps-per-epoch 2 --verbose 2
check "a file's Nesterov setting stays without --nesterov" "optimizer: SGD(learning_rate=0.01, momentum=0.9, nesterov=True)" \
  "$dir/nesterov_file"
run sgd_nomom train --model "$dir/sgd.h5" --data digits --epochs 1 --steps-per-epoch 2 --verbose 2 --momentum 0
check "state that does not fit the optimizer is a warning, and training starts fresh" \
  "dptrain: warning: $dir/sgd.h5's optimizer state was not restored (" "$dir/sgd_nomom.err"
check "... naming what did not fit" "holds 6 optimizer slot arrays; SGD(learning_rate=0.01, momentum=0) has 0 for this model" \
  "$dir/sgd_nomom.err"
check "... and what happens" "the optimizer starts with fresh state, as Keras does" "$dir/sgd_nomom.err"
# Keras 3's other optimizers and its base arguments: a tf-keras 2.21 AdamW file (clipnorm 0.5) keeps
# its settings and state; a clipping option given replaces the file's (Keras applies one).
run adamw_file train --model "$fx/opt_adamw_tfk_model.h5" --data synthetic:4:3:64 --epochs 1 --verbose 2
check "train --model FILE.h5 takes AdamW with its weight decay and clipnorm" \
  "optimizer: AdamW(learning_rate=0.01, weight_decay=0.05, beta_1=0.9, beta_2=0.999, clipnorm=0.5)" "$dir/adamw_file"
check "... and continues its state" "(the optimizer continues from the file's state: iteration 4, 8 slot arrays (tf.keras 2.11+ layout))" \
  "$dir/adamw_file"
run adamw_clip train --model "$fx/opt_adamw_tfk_model.h5" --data synthetic:4:3:64 --epochs 1 --verbose 2 \
  --clipvalue 0.1 --weight-decay 0
check "--clipvalue replaces the file's clipnorm; --weight-decay sets it" \
  "optimizer: AdamW(learning_rate=0.01, weight_decay=0, beta_1=0.9, beta_2=0.999, clipvalue=0.1)" "$dir/adamw_clip"
run nadam_save train --model digits-mlp --optimizer nadam --global-clipnorm 1 --epochs 1 --steps-per-epoch 2 \
  --verbose 2 --save-model "$dir/nadam.h5"
check "--optimizer nadam --global-clipnorm 1" "optimizer: Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, global_clipnorm=1)" \
  "$dir/nadam_save"
run nadam_file train --model "$dir/nadam.h5" --data digits --epochs 1 --steps-per-epoch 2 --verbose 2
check "dptrain's Nadam file continues with its settings and state" \
  "(the optimizer continues from the file's state: iteration 2, 12 slot arrays (Keras 3 layout))" "$dir/nadam_file"
check "... named as it was" "optimizer: Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, global_clipnorm=1)" "$dir/nadam_file"
# The file was compiled without metrics: Keras reports the loss alone, and so does dptrain by default.
run eval_mlp_plain evaluate --model "$fx/mlp_legacy.h5" --data synthetic:6:4:64
run train_mlp_plain train --model "$fx/mlp_legacy.h5" --data synthetic:6:4:64 --epochs 1 --verbose 2
check "a file compiled without metrics: none" "| loss: categorical_crossentropy | metrics: none" "$dir/train_mlp_plain"
if grep -q "^loss: [0-9.]*$" "$dir/eval_mlp_plain" && ! grep -q "accuracy" "$dir/eval_mlp_plain" "$dir/train_mlp_plain"; then
  echo "ok: ... so evaluate and fit log the loss alone"
else
  echo "FAIL: a file without metrics logged more than the loss:"; cat "$dir/eval_mlp_plain" "$dir/train_mlp_plain"; fails=$((fails+1))
fi
run eval_mlp evaluate --model "$fx/mlp_legacy.h5" --data synthetic:6:4:64 --metrics accuracy
run train_mlp train --model "$fx/mlp_legacy.h5" --data synthetic:6:4:64 --epochs 1 --lr 1e-30 --verbose 2 --metrics acc
run train_two train --model digits-mlp --epochs 1 --verbose 2 --metrics accuracy,mse --save-model "$dir/two.h5"
check "--metrics lists metrics" "| loss: categorical_crossentropy | metrics: accuracy, mse" "$dir/train_two"
if grep -qE " - loss: [0-9.]+ - accuracy: [0-9.]+ - mse: [0-9.]+ - val_loss: [0-9.]+ - val_accuracy: [0-9.]+ - val_mse: [0-9.]+$" "$dir/train_two"; then
  echo "ok: ... in Keras's order"
else
  echo "FAIL: two metrics are not logged in Keras's order:"; cat "$dir/train_two"; fails=$((fails+1))
fi
# Metrics with arguments; root_mean_squared_error is the root of the epoch's mean squared error (not a
# mean of the batches' roots), and top-2 accuracy is at least the accuracy.
run train_more train --model digits-mlp --epochs 1 --verbose 2 \
  --metrics accuracy,top_k_categorical_accuracy:k=2,name=top2,mse,root_mean_squared_error
check "--metrics takes a metric's arguments" "| metrics: accuracy, top2, mse, root_mean_squared_error" "$dir/train_more"
if awk '/ - loss: / { for (i = 1; i <= NF; ++i) v[$i] = $(i + 1);
       a = v["accuracy:"]; t = v["top2:"]; m = v["mse:"]; r = v["root_mean_squared_error:"];
       vm = v["val_mse:"]; vr = v["val_root_mean_squared_error:"];
       ok = (t >= a && t > 0 && (r * r - m) ^ 2 < 1e-8 && (vr * vr - vm) ^ 2 < 1e-8 && m > 0) }
     END { exit ok ? 0 : 1 }' "$dir/train_more"; then
  echo "ok: ... rmse^2 is the mse and top-2 accuracy is at least the accuracy"
else
  echo "FAIL: the epoch's top-2 or RMSE figures are wrong:"; cat "$dir/train_more"; fails=$((fails+1))
fi
run inspect_two inspect "$dir/two.h5"
# As Keras 3's load_model compiles a .h5 file's metric strings: 'mse' as mean_squared_error.
check "inspect lists the saved metrics" "| metrics accuracy, mean_squared_error" "$dir/inspect_two"
# Keras 3's .keras archive: the format, Keras's version, the compile_config and the numbered
# optimizer variables; `summary` of the Functional chain shows its own layer names.
run inspect_keras inspect "$fx/kseq.keras"
check "inspect names a .keras archive" "kseq.keras: Keras 3 model archive (.keras)" "$dir/inspect_keras"
check "inspect reads its metadata.json" "keras_version: 3.15.1" "$dir/inspect_keras"
check "inspect reads its compile_config" "compile_config: loss categorical_crossentropy | optimizer Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999) | metrics accuracy, mae" "$dir/inspect_keras"
check "inspect reads its optimizer variables" "optimizer state: 14 arrays (Keras 3, numbered layout): iteration 12, learning rate 0.01, 12 slot arrays" "$dir/inspect_keras"
run train_keras train --model "$fx/kseq.keras" --data "npy:$fx/kseq_x.npy,$fx/kseq_y.npy" --validation-split 0 --epochs 1 --verbose 2
check "train --model FILE.keras compiles it and continues its optimizer" "compiled from $fx/kseq.keras's compile_config, as keras.models.load_model does (the optimizer continues from the file's state: iteration 12" "$dir/train_keras"
check "... with its metrics, as compile() logs them" "| metrics: accuracy, mae" "$dir/train_keras"
run summary_fchain summary --model "$fx/fchain.keras"
check "summary of a Functional chain" " scores (Dense)              (None, 5)                 185" "$dir/summary_fchain"
want=$(sed -n 's/^loss: \([0-9.]*\) - accuracy: \([0-9.]*\)$/val_loss: \1 - val_acc: \2/p' "$dir/eval_mlp")
if [ -n "$want" ] && grep -qF -- "$want" "$dir/train_mlp"; then
  echo "ok: training starts from the file's weights ($want)"
else
  echo "FAIL: training from $fx/mlp_legacy.h5 did not start from its weights: wanted '$want' in:"; cat "$dir/train_mlp"; fails=$((fails+1))
fi

# --from-logits: the cross-entropy takes the outputs as logits; on a softmax output, Keras's warning.
run logits train --model digits-mlp --epochs 1 --loss sparse_categorical_crossentropy --from-logits --verbose 2
check "--from-logits trains Keras's from_logits=True loss" \
  "loss: sparse_categorical_crossentropy (from_logits=True) | metrics: accuracy" "$dir/logits"
check "... warning, as Keras does, that a softmax output is not logits" \
  "dptrain: warning: sparse_categorical_crossentropy received from_logits=True, but the model's output comes from a softmax activation and thus does not represent logits. Was this intended?" \
  "$dir/logits.err"

# --label-smoothing: Keras's label_smoothing, shown with the loss.
run smoothing train --model digits-mlp --epochs 1 --label-smoothing 0.1 --verbose 2
check "--label-smoothing trains Keras's label_smoothing" \
  "loss: categorical_crossentropy (label_smoothing=0.1) | metrics: accuracy" "$dir/smoothing"

# --huber-delta: Keras's Huber(delta=...), shown with the loss, saved with it (Keras 3.15's own files
# leave it out), read back by inspect and by training from the file; --loss replaces the file's loss.
run huber train --model digits-mlp --epochs 1 --loss huber --huber-delta 0.5 --verbose 2 --save-model "$dir/huber.keras"
check "--huber-delta trains Keras's Huber(delta=0.5)" "loss: huber (delta=0.5) | metrics: none" "$dir/huber"
run huber_inspect inspect "$dir/huber.keras"
check "... saved with the file's loss" "compile_config: loss huber (delta=0.5) |" "$dir/huber_inspect"
run huber_again train --model "$dir/huber.keras" --data digits --epochs 1 --verbose 2
check "... and trained again from it" "loss: huber (delta=0.5) | metrics: none" "$dir/huber_again"
# The focal cross-entropies' settings: --focal-gamma, --focal-alpha, --apply-class-balancing, shown
# with the loss, saved with it, and read back from the file.
run focal train --model digits-mlp --epochs 1 --loss categorical_focal_crossentropy --focal-gamma 1.5 \
  --focal-alpha 0.5 --verbose 2 --save-model "$dir/focal.keras"
check "--focal-gamma and --focal-alpha train Keras's CategoricalFocalCrossentropy(alpha=0.5, gamma=1.5)" \
  "loss: categorical_focal_crossentropy (alpha=0.5, gamma=1.5) | metrics: accuracy" "$dir/focal"
run focal_inspect inspect "$dir/focal.keras"
check "... saved with the file's loss" "compile_config: loss categorical_focal_crossentropy (alpha=0.5, gamma=1.5) |" \
  "$dir/focal_inspect"
run focal_again train --model "$dir/focal.keras" --data digits --epochs 1 --verbose 2
check "... and trained again from it" "loss: categorical_focal_crossentropy (alpha=0.5, gamma=1.5)" "$dir/focal_again"
run huber_replaced train --model "$dir/huber.keras" --data digits --epochs 1 --verbose 2 --loss huber
check "... where --loss huber is Keras's default delta" "loss: huber | metrics: none" "$dir/huber_replaced"

# ReduceLROnPlateau's min_lr (the rate stops at it) and EarlyStopping's min_delta (an improvement
# smaller than it does not count: with 10, only the first epoch improves, so patience 2 stops at 3).
run plateau_min train --model digits-mlp --optimizer sgd --lr 0.9 --epochs 12 --reduce-lr-on-plateau 0.5:1:min_lr=0.3 \
  --verbose 2
check "--reduce-lr-on-plateau's min_lr: the rate stops at it" "ReduceLROnPlateau reducing learning rate to 0.3." \
  "$dir/plateau_min"
if tail -1 "$dir/plateau_min" | grep -q "learning_rate: 0.3000$" &&
  ! grep -q "reducing learning rate to 0.15" "$dir/plateau_min"; then
  echo "ok: ... and goes no lower"
else
  echo "FAIL: the rate went below min_lr"; cat "$dir/plateau_min"; fails=$((fails+1))
fi
run min_delta train --model digits-mlp --epochs 10 --early-stopping 2 --min-delta 10 --verbose 2
check "--min-delta: an improvement smaller than it does not count" "Epoch 3: early stopping" "$dir/min_delta"

# Keras 2 files (../shared/fixtures/keras): RMSprop with Keras 2's decay, sparse labels.
xent="$shared/dl4j_simple_sparse_xent/simple_sparse_xent_mlp_keras_2_model.h5"
if [ -f "$xent" ]; then
  run train_k2 train --model "$xent" --data synthetic:4:3:64 --epochs 1 --verbose 2
  check "a Keras 2.3 file's optimizer (its decay as Keras 2 applied it: InverseTimeDecay), loss and metrics" \
    "optimizer: RMSprop(learning_rate=InverseTimeDecay(initial_learning_rate=0.0001, decay_steps=1, decay_rate=1e-06, staircase=False), rho=0.9, momentum=0) | loss: sparse_categorical_crossentropy | metrics: accuracy" "$dir/train_k2"
  check "... whose accuracy is logged" " - accuracy: " "$dir/train_k2"
  if grep -q "warning" "$dir/train_k2.err"; then
    echo "FAIL: a Keras 2 file with decay warns: $(cat "$dir/train_k2.err")"; fails=$((fails+1))
  else
    echo "ok: ... and nothing is left unapplied (no warning)"
  fi
else
  echo "SKIPPED: ../shared/fixtures/keras is absent, so the Keras 2 file checks did not run"
fi

# A model of two inputs (Keras 2's Functional form, written by hand): summary's InputLayer rows; it
# trains from two .npy files joined by "+", on 1 and 2 replicas to the same weights, saves a .keras
# archive that evaluate reads back with the same loss.
cat > "$dir/two.json" <<'JSON'
{"class_name": "Model", "config": {"name": "pair", "layers": [
 {"class_name": "InputLayer", "name": "user", "config": {"name": "user", "batch_input_shape": [null, 1]}, "inbound_nodes": []},
 {"class_name": "InputLayer", "name": "ctx", "config": {"name": "ctx", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
 {"class_name": "Embedding", "name": "emb", "config": {"name": "emb", "input_dim": 6, "output_dim": 3}, "inbound_nodes": [[["user", 0, 0, {}]]]},
 {"class_name": "Flatten", "name": "flat", "config": {"name": "flat"}, "inbound_nodes": [[["emb", 0, 0, {}]]]},
 {"class_name": "Dense", "name": "proj", "config": {"name": "proj", "units": 3, "activation": "tanh"}, "inbound_nodes": [[["ctx", 0, 0, {}]]]},
 {"class_name": "Dot", "name": "cos", "config": {"name": "cos", "axes": 1, "normalize": true}, "inbound_nodes": [[["flat", 0, 0, {}], ["proj", 0, 0, {}]]]},
 {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat"}, "inbound_nodes": [[["cos", 0, 0, {}], ["proj", 0, 0, {}]]]},
 {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2, "activation": "softmax"}, "inbound_nodes": [[["cat", 0, 0, {}]]]}],
 "input_layers": [["user", 0, 0], ["ctx", 0, 0]], "output_layers": [["out", 0, 0]]}}
JSON
python3 - "$dir" <<'PY'
import random, struct, sys
def npy(path, descr, shape, fmt, values):  # a .npy file without numpy
    head = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, str(tuple(shape)))
    head += " " * (63 - (len(head) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))
r = random.Random(3)
npy(sys.argv[1] + "/user.npy", "<i4", (40,), "i", [r.randrange(6) for _ in range(40)])  # one id a sample, (40,)
npy(sys.argv[1] + "/ctx.npy", "<f4", (40, 3), "f", [r.uniform(-1, 1) for _ in range(120)])
npy(sys.argv[1] + "/pair_y.npy", "<i8", (40,), "q", [r.randrange(2) for _ in range(40)])
r = random.Random(5)  # the attention block's token ids (below): 1 to 5 tokens, then padding
ids = []
for _ in range(40):
    n = r.randrange(1, 6)
    ids += [r.randrange(1, 7) for _ in range(n)] + [0] * (5 - n)
npy(sys.argv[1] + "/ids.npy", "<i4", (40, 5), "i", ids)
npy(sys.argv[1] + "/ids_y.npy", "<i8", (40,), "q", [r.randrange(2) for _ in range(40)])
PY
run sum_two summary --model "$dir/two.json"
check "summary of two inputs: both InputLayer rows" " ctx (InputLayer)            (None, 3)                 0           []" "$dir/sum_two"
check "summary of two inputs: the Dot reads both towers" " cos (Dot)                   (None, 1)                 0           [flat[0][0]," "$dir/sum_two"
two_data="npy:$dir/user.npy+$dir/ctx.npy,$dir/pair_y.npy"
for replicas in 1 2; do
  run "train_two$replicas" train --model "$dir/two.json" --data "$two_data" --validation-split 0.25 --epochs 2 \
    --batch-size 10 --optimizer adam --replicas "$replicas" --verbose 2 --save-model "$dir/two$replicas.keras" \
    --save-weights "$dir/two$replicas.h5"
done
check "two inputs train from npy A+B" "data: npy $dir/user.npy+$dir/ctx.npy" "$dir/train_two1"
l1=$(grep '^Epoch 2/2' "$dir/train_two1"); l2=$(grep '^Epoch 2/2' "$dir/train_two2")
if [ -n "$l1" ] && [ "${l1#*step - }" = "${l2#*step - }" ]; then echo "ok: two inputs: 1 and 2 replicas end the same (${l1#*step - })"
else echo "FAIL: two inputs: 1 replica '$l1', 2 replicas '$l2'"; fails=$((fails+1)); fi
run eval_two evaluate --model "$dir/two1.keras" --data "$two_data" --validation-split 0.25
val=$(grep '^Epoch 2/2' "$dir/train_two1" | sed -n 's/.* - val_loss: \([0-9.]*\).*/\1/p')
check "the saved two-input .keras evaluates the last epoch's val_loss" "loss: $val" "$dir/eval_two"

# A transformer block on padded token ids (tf_keras's Functional form, written by hand: the value and
# use_causal_mask in the call's kwargs): Embedding(mask_zero) into a causal self-attention, a
# residual Add and LayerNormalization, GlobalAveragePooling1D over the kept steps. summary's row; 1
# and 2 replicas train to the same figures; the saved .keras evaluates to the last val_loss.
cat > "$dir/attn.json" <<'JSON'
{"class_name": "Functional", "config": {"name": "block", "layers": [
 {"class_name": "InputLayer", "name": "ids", "config": {"name": "ids", "batch_input_shape": [null, 5]}, "inbound_nodes": []},
 {"class_name": "Embedding", "name": "emb", "config": {"name": "emb", "input_dim": 7, "output_dim": 4, "mask_zero": true}, "inbound_nodes": [[["ids", 0, 0, {}]]]},
 {"class_name": "MultiHeadAttention", "name": "mha", "config": {"name": "mha", "num_heads": 2, "key_dim": 2, "value_dim": 2, "dropout": 0.1, "use_bias": true, "output_shape": null, "attention_axes": [1]},
  "inbound_nodes": [[["emb", 0, 0, {"value": ["emb", 0, 0], "use_causal_mask": true}]]]},
 {"class_name": "Add", "name": "res", "config": {"name": "res"}, "inbound_nodes": [[["emb", 0, 0, {}], ["mha", 0, 0, {}]]]},
 {"class_name": "LayerNormalization", "name": "ln", "config": {"name": "ln", "axis": -1}, "inbound_nodes": [[["res", 0, 0, {}]]]},
 {"class_name": "GlobalAveragePooling1D", "name": "gap", "config": {"name": "gap"}, "inbound_nodes": [[["ln", 0, 0, {}]]]},
 {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2, "activation": "softmax"}, "inbound_nodes": [[["gap", 0, 0, {}]]]}],
 "input_layers": [["ids", 0, 0]], "output_layers": [["out", 0, 0]]}}
JSON
run sum_attn summary --model "$dir/attn.json"
check "summary: the attention reads the embedding as query and value" " mha (MultiHeadAttention)    (None, 5, 4)              80          [emb[0][0]," "$dir/sum_attn"
attn_data="npy:$dir/ids.npy,$dir/ids_y.npy"
for replicas in 1 2; do
  run "train_attn$replicas" train --model "$dir/attn.json" --data "$attn_data" --validation-split 0.25 --epochs 2 \
    --batch-size 10 --optimizer adam --replicas "$replicas" --verbose 2 --save-model "$dir/attn$replicas.keras"
done
l1=$(grep '^Epoch 2/2' "$dir/train_attn1"); l2=$(grep '^Epoch 2/2' "$dir/train_attn2")
if [ -n "$l1" ] && [ "${l1#*step - }" = "${l2#*step - }" ]; then echo "ok: attention: 1 and 2 replicas end the same (${l1#*step - })"
else echo "FAIL: attention: 1 replica '$l1', 2 replicas '$l2'"; fails=$((fails+1)); fi
run eval_attn evaluate --model "$dir/attn1.keras" --data "$attn_data" --validation-split 0.25
val=$(grep '^Epoch 2/2' "$dir/train_attn1" | sed -n 's/.* - val_loss: \([0-9.]*\).*/\1/p')
check "the saved attention .keras evaluates the last epoch's val_loss" "loss: $val" "$dir/eval_attn"

# --restore-best-weights: early stopping ends with the best epoch's weights, which evaluate then
# scores exactly as that epoch's validation did (a learning rate that makes val_loss bounce).
for replicas in 1 2; do
  run "rb$replicas" train --model digits-mlp --optimizer sgd --lr 0.9 --epochs 12 --early-stopping 2 \
    --restore-best-weights --replicas "$replicas" --verbose 2 --save-weights "$dir/rb$replicas.h5"
  best=$(sed -n 's/^Restoring model weights from the end of the best epoch: \([0-9]*\)\.$/\1/p' "$dir/rb$replicas")
  stopped=$(sed -n 's/^Epoch \([0-9]*\): early stopping$/\1/p' "$dir/rb$replicas")
  if [ -z "$best" ] || [ -z "$stopped" ] || [ "$best" -ge "$stopped" ]; then
    echo "FAIL: no early stop before the last epoch with $replicas replica(s)"; cat "$dir/rb$replicas"; fails=$((fails+1)); continue
  fi
  want=$(grep "^Epoch $best/12 " "$dir/rb$replicas" | sed 's/.* - \(val_loss: [0-9.]* - val_accuracy: [0-9.]*\)$/\1/')
  last=$(grep "^Epoch $stopped/12 " "$dir/rb$replicas" | sed 's/.* - \(val_loss: [0-9.]* - val_accuracy: [0-9.]*\)$/\1/')
  run "rb_eval$replicas" evaluate --model digits-mlp --weights "$dir/rb$replicas.h5"
  got=$(sed -n 's/^loss: \([0-9.]*\) - accuracy: \([0-9.]*\)$/val_loss: \1 - val_accuracy: \2/p' "$dir/rb_eval$replicas")
  if [ "$got" = "$want" ] && [ "$got" != "$last" ]; then
    echo "ok: $replicas replica(s): stopped at epoch $stopped, saved epoch $best's weights ($got; the last epoch had $last)"
  else
    echo "FAIL: $replicas replica(s): saved weights score '$got', epoch $best had '$want', epoch $stopped '$last'"; fails=$((fails+1))
  fi
done

[ $fails -eq 0 ] && echo "PASS" || { echo "$fails check(s) failed"; exit 1; }
