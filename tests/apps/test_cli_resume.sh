#!/usr/bin/env bash
# SIGINT stops `dptrain train` after the current step with a checkpoint, a message saying where,
# and exit status 130; `--resume` then finishes the run, and the result is bit-identical to an
# uninterrupted run (the two save byte-identical weights files and predict byte-identical outputs;
# dptrain writes HDF5 files without timestamps). mnist-mlp (Dropout, RMSprop) on
# 2 replicas. Then runs whose callbacks carry state (the plateau rule, early stopping with the best
# weights, --save-best, a schedule over a warmup of a scaled rate, a Keras schedule) resumed from a middle checkpoint:
# the same epochs, messages and final weights as the uninterrupted run.
set -uo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
common=(train --model mnist-mlp --data synthetic:28,28,1:10:1024 --epochs 6 --batch-size 64 --replicas 2 --seed 11 --verbose 2)
"$bin" "${common[@]}" --save-weights "$dir/full.h5" > "$dir/full.log" || { echo "FAIL: uninterrupted run"; exit 1; }

"$bin" "${common[@]}" --checkpoint-dir "$dir/ck" --save-weights "$dir/resumed.h5" > "$dir/run1.log" 2> "$dir/run1.err" &
pid=$!
for _ in $(seq 1 400); do [ -f "$dir/ck/ckpt_0001.h5" ] && break; sleep 0.02; done
kill -INT "$pid"
wait "$pid"
rc=$?
cat "$dir/run1.err"
if [ $rc -eq 0 ]; then echo "NOTE: the run finished before the signal; nothing to resume (machine too fast?)"; echo "PASS"; exit 0; fi
[ $rc -eq 130 ] || { echo "FAIL: exit status $rc after SIGINT (130 expected)"; exit 1; }
grep -q "stopped by SIGINT after epoch .*checkpoint written to $dir/ck/ckpt_" "$dir/run1.err" || { echo "FAIL: message"; exit 1; }
[ ! -f "$dir/resumed.h5" ] || { echo "FAIL: final weights written by the interrupted run"; exit 1; }

"$bin" "${common[@]}" --checkpoint-dir "$dir/ck" --resume --save-weights "$dir/resumed.h5" > "$dir/run2.log" ||
  { echo "FAIL: resume"; cat "$dir/run2.log"; exit 1; }
grep "^resuming from" "$dir/run2.log"
for w in full resumed; do
  "$bin" predict --model mnist-mlp --data synthetic:28,28,1:10:256 --weights "$dir/$w.h5" --output "$dir/$w.npy" --show 0 > /dev/null
done
cmp "$dir/full.npy" "$dir/resumed.npy" || { echo "FAIL: resumed run differs from the uninterrupted one"; exit 1; }
cmp "$dir/full.h5" "$dir/resumed.h5" || { echo "FAIL: the resumed run's weights file differs from the uninterrupted one's"; exit 1; }
echo "resumed run saves a byte-identical weights file and predicts byte-identical outputs"
ck=$(ls "$dir/ck"/ckpt_*_step*.h5 | head -1)
"$bin" inspect "$ck" | grep -E "^(.*dptrain checkpoint|resume state: 1 epochs done)" || { echo "FAIL: inspect checkpoint"; exit 1; }

# Resuming runs whose callbacks carry state, from checkpoint K (or, with K = stop, the one before
# early stopping ended the run): the epochs after K print as the uninterrupted run printed them,
# every later checkpoint (weights, optimizer state, learning rate, callbacks' state) and the final
# weights file are byte-identical to the uninterrupted run's, and they predict the same outputs.
after() {  # after K LOG: the epoch lines and callback messages of epochs past K, without timings
  grep -E '^(Epoch [0-9]+|Restoring)' "$2" | sed -E 's/ - [0-9]+s [0-9]+ms\/step//' |
    awk -v k="$1" '/^Restoring/ { print; next } { split($2, e, /[:\/]/); if (e[1] + 0 > k) print }'
}
resume_check() {  # resume_check NAME K args...
  local name="$1" k="$2" r="$dir/$1"
  shift 2
  mkdir -p "$r/full" "$r/part"
  "$bin" train "$@" --verbose 2 --checkpoint-dir "$r/full" --save-weights "$r/full.h5" > "$r/full.log" 2>&1 ||
    { echo "FAIL: $name: uninterrupted run"; cat "$r/full.log"; return 1; }
  if [ "$k" = stop ]; then
    k=$(sed -n 's/^Epoch \([0-9]*\): early stopping$/\1/p' "$r/full.log")
    [ -n "$k" ] || { echo "FAIL: $name: no early stop"; cat "$r/full.log"; return 1; }
    k=$((k - 1))
  fi
  cp "$r/full/ckpt_$(printf %04d "$k").h5" "$r/part/"
  "$bin" train "$@" --verbose 2 --checkpoint-dir "$r/part" --resume --save-weights "$r/part.h5" > "$r/part.log" 2>&1 ||
    { echo "FAIL: $name: resume"; cat "$r/part.log"; return 1; }
  local ck later=0
  for ck in "$r/part"/ckpt_*.h5; do
    cmp -s "$ck" "$r/full/$(basename "$ck")" ||
      { echo "FAIL: $name: $(basename "$ck") of the resumed run differs from the uninterrupted run's"; return 1; }
    later=$((later + 1))
  done
  local all
  all=$(ls "$r/full" | wc -l)  # ckpt_0001 ... ckpt_N; the resumed run has ckpt_K ... ckpt_N
  [ "$later" -gt 1 ] && [ "$later" -eq $((all - k + 1)) ] && cmp -s "$r/full.h5" "$r/part.h5" ||
    { echo "FAIL: $name: $later checkpoints from $k of $all, or the final weights file, differ"; return 1; }
  for w in full part; do
    "$bin" predict --model digits-mlp --data synthetic:8,8,1:10:256 --weights "$r/$w.h5" --output "$r/$w.npy" --show 0 > /dev/null
  done
  if [ -n "$(after "$k" "$r/full.log")" ] && [ "$(after "$k" "$r/full.log")" = "$(after "$k" "$r/part.log")" ] &&
    cmp -s "$r/full.npy" "$r/part.npy"; then
    echo "ok: $name: resumed after epoch $k as the run went on: $(after "$k" "$r/part.log" | grep -cv '^Epoch [0-9]*/') callback messages, $((later - 1)) later checkpoints and the final weights byte-identical, byte-identical predictions"
  else
    echo "FAIL: $name: resumed after epoch $k differs"; diff <(after "$k" "$r/full.log") <(after "$k" "$r/part.log"); return 1
  fi
}
mlp=(--model digits-mlp --optimizer sgd --lr 0.9)
resume_check plateau 5 "${mlp[@]}" --epochs 8 --reduce-lr-on-plateau 0.5:1 --save-best "$dir/best.h5" || exit 1
# inspect shows the state a checkpoint carries: the learning rate in use and the callbacks' state.
"$bin" inspect "$dir/plateau/full/ckpt_0008.h5" > "$dir/plateau/inspect.txt"
lr=$(sed -n 's/^Epoch [0-9]*: ReduceLROnPlateau reducing learning rate to \(.*\)\.$/\1/p' "$dir/plateau/full.log" | tail -1)
best=$(sed -n 's/^Epoch [0-9]*: val_loss improved to \([0-9.]*\),.*/\1/p' "$dir/plateau/full.log" | tail -1)
saved=$(sed -n 's/^  ModelCheckpoint: best \(.*\)$/\1/p' "$dir/plateau/inspect.txt")
if grep -q "^resume state: 8 epochs done, 0 steps into the next, seed 1337, batch size 32, learning rate $lr$" \
    "$dir/plateau/inspect.txt" && grep -q "^  ReduceLROnPlateau: best $saved, cooldown_counter 0, wait 0$" \
    "$dir/plateau/inspect.txt" && awk -v a="$best" -v b="$saved" 'BEGIN { d = a - b; exit !(d < 5e-6 && d > -5e-6) }'; then
  echo "ok: inspect shows the checkpoint's learning rate ($lr) and callback state (best val_loss $saved)"
else
  echo "FAIL: inspect of a checkpoint with callback state (log: lr $lr, best $best)"; cat "$dir/plateau/inspect.txt"; exit 1
fi
resume_check early_stopping stop "${mlp[@]}" --epochs 15 --early-stopping 2 --restore-best-weights || exit 1
resume_check warmup_schedule 3 --model digits-mlp --optimizer sgd --lr 0.05 --epochs 5 --replicas 2 --scale-lr linear \
  --warmup-epochs 1.5 --lr-schedule exp:0.7 || exit 1
resume_check in_warmup 1 --model digits-mlp --optimizer sgd --lr 0.05 --epochs 3 --replicas 2 --scale-lr linear \
  --warmup-epochs 1.5 || exit 1
# A Keras schedule as the learning rate: it follows from the restored iteration count alone.
resume_check keras_schedule 2 --model digits-mlp --optimizer adam --lr 0.01 --epochs 4 --replicas 3 \
  --lr-decay CosineDecayRestarts:first_decay_steps=20,m_mul=0.7 || exit 1

# SIGTERM: the same, exit status 143.
"$bin" "${common[@]}" --checkpoint-dir "$dir/ck2" > /dev/null 2> "$dir/run3.err" &
pid=$!
for _ in $(seq 1 400); do [ -f "$dir/ck2/ckpt_0001.h5" ] && break; sleep 0.02; done
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ $rc -ne 0 ]; then
  [ $rc -eq 143 ] || { echo "FAIL: exit status $rc after SIGTERM (143 expected)"; exit 1; }
  grep -q "stopped by SIGTERM" "$dir/run3.err" || { echo "FAIL: SIGTERM message"; exit 1; }
  echo "SIGTERM: exit 143 with a checkpoint"
fi
echo "PASS"
