#!/usr/bin/env bash
# End to end: `dptrain train` with defaults reaches validation accuracy >= 0.95 (read from
# --history); evaluate/predict reload the saved weights and agree with training.
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" train --history "$dir/h.json" --save-weights "$dir/w.h5" --csv-log "$dir/log.csv" > "$dir/out.txt"
cat "$dir/out.txt"
acc=$(python3 -c "import json,sys; h=json.load(open(sys.argv[1])); print(h['val_accuracy'][-1])" "$dir/h.json")
echo "final val_accuracy: $acc"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.95 else 1)" "$acc" || { echo "FAIL: val_accuracy $acc < 0.95"; exit 1; }
head -1 "$dir/log.csv" | grep -qx "epoch,accuracy,loss,val_accuracy,val_loss" || { echo "FAIL: CSV header"; exit 1; }
[ "$(wc -l < "$dir/log.csv")" -eq 21 ] || { echo "FAIL: CSV rows"; exit 1; }
grep -q "^Epoch 20/20 - 45/45 - " "$dir/out.txt" || { echo "FAIL: per-epoch line format"; exit 1; }
# evaluate with the saved weights gives the last epoch's validation accuracy
"$bin" evaluate --weights "$dir/w.h5" > "$dir/eval.txt"
cat "$dir/eval.txt"
got=$(sed -n 's/.*accuracy: \([0-9.]*\).*/\1/p' "$dir/eval.txt")
python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) < 1e-4 else 1)" "$got" "$acc" \
  || { echo "FAIL: evaluate accuracy $got != training's $acc"; exit 1; }
"$bin" predict --weights "$dir/w.h5" --output "$dir/p.npy" --show 3
python3 -c "
import sys, struct
b = open(sys.argv[1], 'rb').read()
assert b[:6] == b'\x93NUMPY', 'not npy'
hl = struct.unpack('<H', b[8:10])[0]
h = b[10:10+hl].decode()
assert \"'shape':(1797,10)\" in h.replace(' ', ''), h
assert len(b) == 10 + hl + 1797 * 10 * 4
print('predict .npy ok:', h.strip())
" "$dir/p.npy"
"$bin" inspect "$dir/w.h5" > "$dir/inspect.txt"
grep -q "Keras legacy weights (save_weights .h5)" "$dir/inspect.txt" && grep -q "^total params: 35914$" "$dir/inspect.txt" \
  || { echo "FAIL: inspect"; cat "$dir/inspect.txt"; exit 1; }
# --by-name loads the same file into the same architecture
"$bin" evaluate --weights "$dir/w.h5" --by-name | grep -q "accuracy: $got" || { echo "FAIL: --by-name"; exit 1; }
# A batch size past the data trains on all of it in one step, as Keras does (and sizes nothing past it)
"$bin" train --batch-size 4000000000 --epochs 1 > "$dir/big.txt" 2>&1 || { echo "FAIL: --batch-size 4000000000"; cat "$dir/big.txt"; exit 1; }
grep -q "Epoch 1/1 - 1/1 " "$dir/big.txt" || { echo "FAIL: one step expected"; cat "$dir/big.txt"; exit 1; }
echo "PASS"
