#!/usr/bin/env bash
# Bad input gets one clear line and a non-zero exit (never a crash): each case checks the exit
# status is 1..2 (not a signal) and that stderr holds the expected words.
set -uo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
expect() {  # expect "words" args...
  local words="$1"; shift
  "$bin" "$@" > "$dir/out" 2> "$dir/err"
  local rc=$?
  if [ $rc -eq 0 ] || [ $rc -gt 2 ] || [ "$(wc -l < "$dir/err")" -ne 1 ]; then
    echo "FAIL (exit $rc): dptrain $*"; cat "$dir/err"; fails=$((fails+1)); return
  fi
  if ! grep -qF -- "$words" "$dir/err"; then
    echo "FAIL (message): dptrain $* -> $(cat "$dir/err")  [wanted: $words]"; fails=$((fails+1)); return
  fi
  echo "ok: dptrain $* -> $(head -1 "$dir/err")"
}
expect "unknown model preset 'vgg' (available: digits-mlp, digits-cnn" train --model vgg
expect "--optimizer: ftrl not in {sgd,rmsprop,adam,adamw,adagrad,adamax,nadam,adadelta,lion}" train --optimizer ftrl
expect "only one of clipnorm, clipvalue and global_clipnorm can be set (as in Keras); got clipnorm=1, clipvalue=0.5, global_clipnorm=0" \
  train --epochs 1 --clipnorm 1 --clipvalue 0.5
expect "--clipnorm: must be > 0, got 0" train --clipnorm 0
expect "--gradient-accumulation-steps: Value 1 not in range 2 to 1073741824" train --gradient-accumulation-steps 1
expect "--ema-momentum: must be in [0, 1], got 1.5" train --ema-momentum 1.5
expect "--weight-decay: must be >= 0, got -0.1" train --weight-decay=-0.1
expect "unknown loss 'ctc'" train --loss ctc
expect "from_logits applies to the cross-entropies (as in Keras), not to mean_squared_error" \
  train --loss mean_squared_error --from-logits
expect "label_smoothing applies to the categorical and binary cross-entropies (as in Keras), not to sparse_categorical_crossentropy" \
  train --epochs 1 --loss sparse_categorical_crossentropy --label-smoothing 0.1
expect "--label-smoothing: must be in [0, 1], got 1.5" train --label-smoothing 1.5
expect "delta applies to the huber loss (Keras's Huber(delta=...)), not to categorical_crossentropy" \
  train --epochs 1 --huber-delta 2
expect "--huber-delta: must be > 0, got 0" train --loss huber --huber-delta 0
expect "alpha, gamma and apply_class_balancing apply to the focal cross-entropies (as in Keras), not to \
categorical_crossentropy" train --epochs 1 --focal-gamma 1
expect "apply_class_balancing is BinaryFocalCrossentropy's (as in Keras), not categorical_focal_crossentropy's" \
  train --epochs 1 --loss categorical_focal_crossentropy --apply-class-balancing
expect "unknown metric 'iou' for --metrics; dptrain computes accuracy (or acc), categorical_accuracy, sparse_categorical_accuracy, binary_accuracy, top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, mean_absolute_error (or mae), mean_squared_error (or mse), root_mean_squared_error, mean_absolute_percentage_error (or mape), mean_squared_logarithmic_error (or msle), log_cosh_error, cosine_similarity, categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy, kl_divergence, poisson, hinge, squared_hinge, categorical_hinge, precision, recall, auc, f1_score, fbeta_score, r2_score (or their Keras classes), or none" \
  train --metrics accuracy,iou
expect "--metrics: metric 'top_k_categorical_accuracy' has no argument 'n' (Keras's TopKCategoricalAccuracy takes name, k)" \
  train --metrics top_k_categorical_accuracy:n=3
expect "--metrics: auc's summation_method must be interpolation, minoring or majoring, got 'simpson'" \
  train --metrics auc:summation_method=simpson
expect "metric 'top_k_categorical_accuracy' compares one column per output, but loss sparse_categorical_crossentropy trains on class indices; use --metrics sparse_top_k_categorical_accuracy" \
  train --loss sparse_categorical_crossentropy --metrics top_k_categorical_accuracy --epochs 1
expect "metric 'mse' is asked for twice" train --metrics mse,accuracy,mse
expect "unknown metric 'iou' for --weighted-metrics; dptrain computes" train --weighted-metrics accuracy,iou
expect "weighted metric 'weighted_accuracy' is asked for twice" \
  train --metrics accuracy --weighted-metrics accuracy,accuracy
expect "metric 'top_k_categorical_accuracy' compares one column per output, but loss sparse_categorical_crossentropy trains on class indices; use --weighted-metrics sparse_top_k_categorical_accuracy" \
  train --loss sparse_categorical_crossentropy --weighted-metrics top_k_categorical_accuracy --epochs 1
expect "metric 'sparse_categorical_accuracy' compares class indices, but loss categorical_crossentropy trains on one column per output; use --metrics accuracy" \
  train --metrics sparse_categorical_accuracy --epochs 1
expect "metric 'binary_accuracy' compares one column per output, but loss sparse_categorical_crossentropy trains on class indices; use --metrics accuracy" \
  evaluate --model digits-mlp --weights /dev/null --loss sparse_categorical_crossentropy --metrics binary_accuracy
expect "EarlyStopping monitors 'val_accuracy', which this run does not log (available: loss, val_loss)" \
  train --loss mean_squared_error --early-stopping 2 --monitor val_accuracy --epochs 1
expect "unknown subcommand 'frobnicate' (available: train, evaluate, predict, summary, models, inspect, devices, bench)" frobnicate
expect "--batch-size: must be > 0, got 0" train --batch-size 0
expect "--lr: must be > 0, got -0.1" train --lr=-0.1
expect "--lr: must be > 0, got 0" train --lr 0
expect "--validation-split: must be in [0, 1), got 1" train --validation-split 1
expect "--epochs: must be > 0, got 0" train --epochs 0
expect "no MNIST files in '$dir/missing'" train --model mnist-mlp --data "mnist:$dir/missing"
head -c 5000 /dev/urandom > "$dir/data_batch_1.bin"
expect "data_batch_1.bin' is truncated or not a CIFAR-10 binary batch" train --model cifar10-cnn --data "cifar10:$dir"
expect "training samples have shape (32, 32, 3) but model 'digits-cnn' expects inputs of shape (8, 8, 1)" \
  train --data synthetic:32,32,3:10:64 --epochs 1
expect "training labels span 12 classes but model 'digits-cnn' outputs 10" train --data synthetic:8,8,1:12:64 --epochs 1
expect "training data: sample 0 holds 0.7" train --model imdb-cnn --data synthetic:400:2:10 --epochs 1
expect "but model 'imdb-cnn' reads its inputs as indices (Embedding 'embedding', input_dim 5000): every input must be a whole number in [0, 5000)" \
  train --model imdb-cnn --data synthetic:400:2:10:6000 --epochs 1
expect "cannot write weights '/nonexistent/dir/w.h5': folder '/nonexistent/dir' does not exist" \
  train --save-weights /nonexistent/dir/w.h5
expect "unknown data spec 'imagenet'" train --data imagenet
expect "synthetic data of 10 samples of shape (100000, 100000, 100000) needs 36379.8 TiB of memory, more than this machine's" \
  train --data synthetic:100000,100000,100000:10:10
printf '{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"name": "d", "units": "ten", "batch_input_shape": [null, 4]}}]}}' > "$dir/bad.json"
expect "'$dir/bad.json': layer 'd' (Dense): 'units' must be a whole number, got the string \"ten\"" train --model "$dir/bad.json"
# A .keras archive holds a whole model (not weights alone); a damaged one says what is wrong; a
# Functional model with two inputs wants data with two.
expect "cannot write weights '$dir/m.keras': a .keras archive holds a whole model; give --save-model $dir/m.keras, or a .weights.h5 path for Keras 3's weights layout" \
  train --epochs 1 --save-weights "$dir/m.keras"
fix="$(cd "$(dirname "$0")/../fixtures/keras_written" && pwd)"
head -c 20000 "$fix/kseq.keras" > "$dir/cut.keras"
expect "'$dir/cut.keras' is not a zip archive (no end-of-central-directory record)" evaluate --model "$dir/cut.keras"
cat > "$dir/branch.json" <<'JSON'
{"class_name": "Functional", "config": {"name": "res", "layers": [
 {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [null, 4]}, "inbound_nodes": []},
 {"class_name": "InputLayer", "name": "in2", "config": {"name": "in2", "batch_shape": [null, 4]}, "inbound_nodes": []},
 {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 4}, "inbound_nodes": [[["in", 0, 0, {}]]]},
 {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["in2", 0, 0, {}], ["d", 0, 0, {}]]]}],
 "input_layers": [["in", 0, 0], ["in2", 0, 0]], "output_layers": [["add", 0, 0]]}}
JSON
expect "training data gives 1 input (8, 8, 1) but model 'res' takes 2 inputs 'in' (4,), 'in2' (4,): give one array an input, in this order (npy:in+in2 files,Y or h5:FILE:in+in2,y)" \
  train --model "$dir/branch.json" --data digits --epochs 1
expect "--replicas: must be > 0, got 0" train --replicas 0
expect "--threads 100000: at most " train --threads 100000
expect "model 'digits-cnn' on 1000000 CPU replicas (weights, gradients and optimizer state in each) needs 535.2 GiB of memory, more than this machine's" \
  train --replicas 1000000
expect "EarlyStopping monitors 'val_acc', which this run does not log (available: loss, accuracy, val_loss, val_accuracy)" \
  train --early-stopping 2 --monitor val_acc
expect "ReduceLROnPlateau factor must be in (0, 1), got 1.5" train --reduce-lr-on-plateau 1.5:2
expect "--reduce-lr-on-plateau takes FACTOR:PATIENCE" train --reduce-lr-on-plateau 0.5
expect "ReduceLROnPlateau patience must be >= 0, got -2" train --reduce-lr-on-plateau 0.5:-2
expect "--early-stopping: must be >= 0, got -1" train --early-stopping=-1
expect "--reduce-lr-on-plateau has no argument 'min_rate' (ReduceLROnPlateau's: min_lr, cooldown, min_delta)" \
  train --reduce-lr-on-plateau 0.5:2:min_rate=0.1
expect "--reduce-lr-on-plateau: cooldown must be a whole number of epochs, got 1.5" train --reduce-lr-on-plateau 0.5:2:cooldown=1.5
expect "ReduceLROnPlateau min_lr must be >= 0, got -1" train --reduce-lr-on-plateau 0.5:2:min_lr=-1
expect "--min-delta is early stopping's; give --early-stopping PATIENCE" train --min-delta 0.1
expect "unknown --lr-schedule 'linear'" train --lr-schedule linear
expect "--lr-decay: unknown schedule 'StepDecay' (Keras's: ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts; or none)" \
  train --lr-decay StepDecay:decay_steps=10
expect "--lr-decay CosineDecay:decay_steps=0: Argument \`decay_steps\` must be > 0 (CosineDecay, as in Keras). Received: decay_steps=0" \
  train --lr-decay CosineDecay:decay_steps=0
expect "--lr-decay ExponentialDecay:decay_steps=10 ExponentialDecay has no decay_rate (Keras requires it)" \
  train --lr-decay ExponentialDecay:decay_steps=10
expect "--lr 0.1 and --lr-decay PiecewiseConstantDecay:boundaries=[5],values=[0.1,0.01]: PiecewiseConstantDecay's values are the learning rates; leave out --lr" \
  train --lr 0.1 --lr-decay 'PiecewiseConstantDecay:boundaries=[5],values=[0.1,0.01]'
expect "--lr 0.1 and --lr-decay CosineDecay:initial_learning_rate=0.2,decay_steps=5 both give the initial learning rate; give it once" \
  train --lr 0.1 --lr-decay CosineDecay:initial_learning_rate=0.2,decay_steps=5
expect "--reduce-lr-on-plateau sets the learning rate, but the optimizer's learning rate is the schedule CosineDecay(initial_learning_rate=0.001, decay_steps=100, alpha=0), which is not settable (as in Keras); give a constant rate (--lr X, or --lr-decay none for the schedule's initial rate), or leave out --reduce-lr-on-plateau" \
  train --lr-decay CosineDecay:decay_steps=100 --reduce-lr-on-plateau 0.5:2
expect "--scale-lr sets the learning rate, but the optimizer's learning rate is the schedule" \
  train --replicas 2 --scale-lr linear --lr-decay InverseTimeDecay:decay_steps=1,decay_rate=0.1
expect "--warmup-epochs sets the learning rate" train --warmup-epochs 1 --lr-decay PolynomialDecay:decay_steps=10
expect "--lr-schedule sets the learning rate" train --lr-schedule exp:0.9 --lr-decay PolynomialDecay:decay_steps=10
expect "--scale-lr: cubic not in {linear,sqrt,none}" train --scale-lr cubic
echo '{"12": 2.0}' > "$dir/cw.json"
expect "weighs class '12', but the classes are 0..9" train --class-weight "$dir/cw.json"
expect "--strategy: ring not in {allreduce,ps}" train --strategy ring
expect "--gpus 0,0 names GPU 0 twice" train --gpus 0,0
expect "give either --gpus or --replicas, not both" train --gpus 1 --replicas 2
if "$bin" devices | grep -q "^cuda:"; then
  expect "GPUs but only" train --gpus 64
else
  expect "--gpus 2 asked for GPUs, but" train --gpus 2
fi
expect "does not exist" evaluate --weights "$dir/none.h5"
expect "is not an HDF5 file" inspect "$dir/data_batch_1.bin"
# A NaN loss stops training with the epoch and step; the weights saved before are kept.
"$bin" train --epochs 1 --save-weights "$dir/keep.h5" --verbose 0 > /dev/null
before=$(md5sum < "$dir/keep.h5")
# finite samples so large that the activations overflow (written as .npy without numpy)
python3 - "$dir" <<'PY'
import struct, sys
def npy(path, descr, shape, fmt, values):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ",".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    h += " " * (63 - (10 + len(h)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<%d%s" % (len(values), fmt), *values))
npy(sys.argv[1] + "/huge_x.npy", "<f4", (16, 8, 8, 1), "f", [3e38] * 1024)
npy(sys.argv[1] + "/huge_y.npy", "<i8", (16,), "q", [i % 10 for i in range(16)])
PY
expect "loss became NaN at epoch 2, step 1; training stopped" \
  train --data "npy:$dir/huge_x.npy,$dir/huge_y.npy" --validation-split 0 --epochs 3 --batch-size 8 --save-weights "$dir/keep.h5" --verbose 0
[ "$(md5sum < "$dir/keep.h5")" = "$before" ] || { echo "FAIL: saved weights changed after a failed run"; fails=$((fails+1)); }
if [ $fails -ne 0 ]; then echo "$fails failures"; exit 1; fi
echo "PASS"
