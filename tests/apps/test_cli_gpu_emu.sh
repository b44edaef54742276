#!/usr/bin/env bash
# The command line's GPU paths, on the emulated device: dptrain_emu is dptrain linked with the CUDA
# backend running on the CPU emulation of CUDA (tests/emu; not a GPU). Device listing and hiding,
# training on "1 GPU" printing the CPU binary's figures, weights saved there evaluated by both,
# the benchmark skipping counts above those visible, the errors for GPUs that are not there; then
# four emulated GPUs: training over 2 of them through NCCL, the benchmark over 1, 2 and 4, and
# early stopping restoring the best weights on 2 of them, and a Keras file's optimizer state continued
# on 2 of them.
#   test_cli_gpu_emu.sh DPTRAIN_EMU DPTRAIN
set -uo pipefail
emu="$1"
cpu="$2"
unset CUDA_VISIBLE_DEVICES
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
check() {  # check "what" "wanted words" file
  if grep -qF -- "$2" "$3"; then echo "ok: $1"; else echo "FAIL: $1: wanted '$2' in:"; cat "$3"; fails=$((fails+1)); fi
}
error() {  # error "wanted words" env/args...: one line on stderr, exit 1..2
  env "${@:2}" > "$dir/out" 2> "$dir/err"
  local rc=$?
  if [ $rc -eq 0 ] || [ $rc -gt 2 ] || [ "$(wc -l < "$dir/err")" -ne 1 ] || ! grep -qF -- "$1" "$dir/err"; then
    echo "FAIL (exit $rc): ${*:2}"; cat "$dir/err"; fails=$((fails+1))
  else
    echo "ok: ${*:2} -> $(cat "$dir/err")"
  fi
}

"$emu" devices > "$dir/devices" 2>&1
check "devices lists the emulated GPU" "1 visible GPU (CUDA_VISIBLE_DEVICES is unset)" "$dir/devices"
check "devices gives name, memory and compute capability" \
  "cuda:0  dpt CPU emulation of a CUDA device  4.0 GiB  compute capability 9.0" "$dir/devices"
CUDA_VISIBLE_DEVICES= "$emu" devices > "$dir/hidden" 2>&1
check "devices says why there is none (CUDA_VISIBLE_DEVICES empty)" \
  "no GPU available: the CUDA runtime reports: no CUDA-capable device is detected (is the NVIDIA driver installed? CUDA_VISIBLE_DEVICES=)" \
  "$dir/hidden"

# The default training on 1 GPU prints the CPU's losses and accuracies, to their 4 decimals.
"$emu" train --gpus 1 --epochs 3 --save-weights "$dir/w.h5" > "$dir/gpu.txt" 2>&1 || { echo "FAIL: train --gpus 1"; fails=$((fails+1)); }
"$cpu" train --epochs 3 > "$dir/cpu.txt" 2>&1 || { echo "FAIL: CPU train"; fails=$((fails+1)); }
check "train --gpus 1 runs one GPU replica" "1 GPU replica (cuda:0) | global batch 32" "$dir/gpu.txt"
figures() { grep '^Epoch' "$1" | sed -E 's/ - [0-9]+s [0-9]+ms\/step//'; }
if [ "$(figures "$dir/gpu.txt" | wc -l)" -eq 3 ] && [ "$(figures "$dir/gpu.txt")" = "$(figures "$dir/cpu.txt")" ]; then
  echo "ok: 1 GPU and the CPU print the same figures: $(figures "$dir/gpu.txt" | tail -1)"
else
  echo "FAIL: 1 GPU and the CPU print different figures"; diff <(figures "$dir/gpu.txt") <(figures "$dir/cpu.txt"); fails=$((fails+1))
fi
"$emu" evaluate --weights "$dir/w.h5" --gpus 1 > "$dir/eval_gpu.txt" 2>&1
"$cpu" evaluate --weights "$dir/w.h5" > "$dir/eval_cpu.txt" 2>&1
if [ -s "$dir/eval_cpu.txt" ] && [ "$(tail -1 "$dir/eval_gpu.txt")" = "$(tail -1 "$dir/eval_cpu.txt")" ]; then
  echo "ok: weights saved on the GPU evaluate alike on both: $(tail -1 "$dir/eval_cpu.txt")"
else
  echo "FAIL: evaluate differs"; cat "$dir/eval_gpu.txt" "$dir/eval_cpu.txt"; fails=$((fails+1))
fi

"$emu" bench --model digits-mlp --gpus 1,2 --steps 2 --warmup 1 --allreduce-mib 1 > "$dir/bench.txt" 2>&1
check "bench skips GPU counts above those visible" "note: skipping 2 GPUs: only 1 visible" "$dir/bench.txt"
check "bench runs the 1-GPU row" "allreduce        1          128" "$dir/bench.txt"

error "--gpus 2 asked for 2 GPUs but only 1 is visible (CUDA_VISIBLE_DEVICES is unset)" "$emu" train --gpus 2
error "--gpus 1 asked for GPUs, but the CUDA runtime reports: no CUDA-capable device is detected" \
  CUDA_VISIBLE_DEVICES=1 "$emu" train --gpus 1
error "--gpus 0,0 names GPU 0 twice" "$emu" train --gpus 0,0

# Four emulated GPUs (DPT_EMU_DEVICES): the listing with peer access, CUDA_VISIBLE_DEVICES picking
# two of them, training over 2 GPUs through NCCL printing the figures of 2 CPU replicas, and the
# scaling benchmark over 1, 2 and 4 GPUs with the all-reduce bus bandwidth.
export DPT_EMU_DEVICES=4
"$emu" devices > "$dir/devices4" 2>&1
check "devices lists 4 emulated GPUs" "4 visible GPUs (CUDA_VISIBLE_DEVICES is unset)" "$dir/devices4"
check "devices lists the fourth" "cuda:3  dpt CPU emulation of a CUDA device  4.0 GiB" "$dir/devices4"
check "devices gives the peer access matrix" "peer access (row reads column):" "$dir/devices4"
check "the matrix's column names sit over their columns" "           cuda:0   cuda:1   cuda:2   cuda:3" "$dir/devices4"
CUDA_VISIBLE_DEVICES=3,1 "$emu" devices > "$dir/devices2" 2>&1
check "CUDA_VISIBLE_DEVICES=3,1 shows two, renumbered" "2 visible GPUs (CUDA_VISIBLE_DEVICES=3,1)" "$dir/devices2"
"$emu" train --gpus 2 --epochs 2 > "$dir/gpu2.txt" 2>&1 || { echo "FAIL: train --gpus 2"; fails=$((fails+1)); }
"$cpu" train --replicas 2 --epochs 2 > "$dir/cpu2.txt" 2>&1 || { echo "FAIL: CPU train --replicas 2"; fails=$((fails+1)); }
check "train --gpus 2 runs two GPU replicas" "2 GPU replicas (cuda:0, cuda:1) | global batch 32" "$dir/gpu2.txt"
if [ "$(figures "$dir/gpu2.txt" | wc -l)" -eq 2 ] && [ "$(figures "$dir/gpu2.txt")" = "$(figures "$dir/cpu2.txt")" ]; then
  echo "ok: 2 GPUs (NCCL) and 2 CPU replicas print the same figures: $(figures "$dir/gpu2.txt" | tail -1)"
else
  echo "FAIL: 2 GPUs and 2 CPU replicas print different figures"; diff <(figures "$dir/gpu2.txt") <(figures "$dir/cpu2.txt"); fails=$((fails+1))
fi
"$emu" bench --model digits-mlp --gpus 1,2,4,8 --steps 2 --warmup 1 --allreduce-mib 1 > "$dir/bench4.txt" 2>&1
check "bench skips 8 GPUs of 4" "note: skipping 8 GPUs: only 4 visible" "$dir/bench4.txt"
for g in 2 4; do
  if grep -qE "^allreduce +$g " "$dir/bench4.txt"; then echo "ok: bench all-reduce row for $g GPUs: $(grep -E "^allreduce +$g " "$dir/bench4.txt")"
  else echo "FAIL: no all-reduce row for $g GPUs"; cat "$dir/bench4.txt"; fails=$((fails+1)); fi
done
error "--gpus 5 asked for 5 GPUs but only 4 are visible (CUDA_VISIBLE_DEVICES is unset)" "$emu" train --gpus 5
# Early stopping with --restore-best-weights over 2 GPUs (the best weights set back on every GPU
# replica) with --check-replicas comparing the GPUs' weights after every step: the 2 CPU replicas'
# run epoch for epoch, and saved weights that score as the best epoch did.
rb=(train --model digits-mlp --optimizer sgd --lr 0.2 --epochs 15 --early-stopping 1 --restore-best-weights
  --check-replicas 1 --verbose 2)
"$emu" "${rb[@]}" --gpus 2 --save-weights "$dir/rb_gpu.h5" > "$dir/rb_gpu.txt" 2>&1 || { echo "FAIL: restore on 2 GPUs"; fails=$((fails+1)); }
"$cpu" "${rb[@]}" --replicas 2 > "$dir/rb_cpu.txt" 2>&1 || { echo "FAIL: restore on 2 CPU replicas"; fails=$((fails+1)); }
stops() { grep -E '^(Epoch|Restoring)' "$1" | sed -E 's/ - [0-9]+s [0-9]+ms\/step//'; }
best=$(sed -n 's/^Restoring model weights from the end of the best epoch: \([0-9]*\)\.$/\1/p' "$dir/rb_gpu.txt")
if [ -n "$best" ] && [ "$(stops "$dir/rb_gpu.txt")" = "$(stops "$dir/rb_cpu.txt")" ]; then
  echo "ok: 2 GPUs stop early and restore epoch $best, as 2 CPU replicas do"
else
  echo "FAIL: early stopping on 2 GPUs differs from 2 CPU replicas"; diff <(stops "$dir/rb_gpu.txt") <(stops "$dir/rb_cpu.txt")
  fails=$((fails+1))
fi
"$cpu" evaluate --model digits-mlp --weights "$dir/rb_gpu.h5" > "$dir/rb_eval.txt" 2>&1
want=$(grep "^Epoch ${best:-0}/15 " "$dir/rb_gpu.txt" | sed 's/.* - \(val_loss: [0-9.]* - val_accuracy: [0-9.]*\)$/\1/')
got=$(sed -n 's/^loss: \([0-9.]*\) - accuracy: \([0-9.]*\)$/val_loss: \1 - val_accuracy: \2/p' "$dir/rb_eval.txt")
if [ -n "$want" ] && [ "$got" = "$want" ]; then
  echo "ok: the weights saved from 2 GPUs are epoch $best's ($got)"
else
  echo "FAIL: the weights saved from 2 GPUs score '$got'; epoch ${best:-?} had '$want'"; fails=$((fails+1))
fi
# A Keras file's optimizer state reaches every GPU replica: continuing it on 2 GPUs prints what
# 2 CPU replicas print, with the replicas' weights compared after every step.
fx="$(cd "$(dirname "$0")/../fixtures/keras_written" && pwd)"
ks=(train --model "$fx/mlp_legacy.h5" --data synthetic:6:4:64 --epochs 2 --verbose 2 --check-replicas 1)
"$emu" "${ks[@]}" --gpus 2 > "$dir/ks_gpu.txt" 2>&1 || { echo "FAIL: Keras state on 2 GPUs"; fails=$((fails+1)); }
"$cpu" "${ks[@]}" --replicas 2 > "$dir/ks_cpu.txt" 2>&1 || { echo "FAIL: Keras state on 2 CPU replicas"; fails=$((fails+1)); }
check "2 GPUs continue the file's optimizer state" "the optimizer continues from the file's state: iteration 12" "$dir/ks_gpu.txt"
epochs() { grep -E '^Epoch' "$1" | sed -E 's/ - [0-9]+s [0-9]+ms\/step//'; }
if [ -n "$(epochs "$dir/ks_gpu.txt")" ] && [ "$(epochs "$dir/ks_gpu.txt")" = "$(epochs "$dir/ks_cpu.txt")" ]; then
  echo "ok: on 2 GPUs the file's optimizer state gives the 2 CPU replicas' epochs ($(epochs "$dir/ks_gpu.txt" | tail -1))"
else
  echo "FAIL: the file's optimizer state on 2 GPUs"; diff <(epochs "$dir/ks_gpu.txt") <(epochs "$dir/ks_cpu.txt"); fails=$((fails+1))
fi
unset DPT_EMU_DEVICES

[ $fails -eq 0 ] && echo "cli_gpu_emu: all passed" || echo "cli_gpu_emu: $fails failed"
[ $fails -eq 0 ]
