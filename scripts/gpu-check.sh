#!/usr/bin/env bash
# Run on the lent GPU machine (device tool, carry [".carry"]): unpacks the prefix made by
# scripts/gpu-prepare.sh, finds cuDNN and NCCL in the PyTorch environment's pip packages, builds
# dptrain with CUDA there, runs every GPU test and the CPU suite, lists the devices, trains the
# default model on the GPU, runs the GPU benchmarks (scaling + all-reduce busbw, and dptrain vs
# PyTorch eager), and writes a short report to $OUT/report.md (full log: $OUT/gpu-check.log).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$PWD/gpu-report}"
mkdir -p "$out"
log="$out/gpu-check.log"
: > "$log"
step() { echo "== $*" | tee -a "$log"; }
fail() { echo "gpu-check: $*" | tee -a "$log"; printf '# dptrain GPU check\n\nFAILED: %s\n' "$*" > "$out/report.md"; exit 1; }

[ -f .carry/gpu-deps.tar.xz ] || fail "no .carry/gpu-deps.tar.xz: run scripts/gpu-prepare.sh here first and carry .carry"
deps=/tmp/dptrain-deps
rm -rf "$deps" && mkdir -p "$deps" && tar -C "$deps" -xJf .carry/gpu-deps.tar.xz || fail "unpacking the deps failed"
prefix="$deps/prefix"
py=$(command -v python3)
nv=$("$py" -c 'import nvidia.cudnn as c, os; print(os.path.dirname(list(c.__path__)[0]))' 2>/dev/null) ||
  fail "no nvidia-cudnn Python package next to $py"
cudnn="$nv/cudnn"
nccl="$nv/nccl"
export PATH="/usr/local/cuda/bin:$PATH"
export LD_LIBRARY_PATH="$prefix/lib:$cudnn/lib:$nccl/lib:${LD_LIBRARY_PATH:-}"
step "machine"
{ nvidia-smi -L; nvcc --version | tail -2; cmake --version | head -1; echo "cuDNN: $cudnn"; echo "NCCL: $nccl"; } >> "$log" 2>&1

step "configure + build (CUDA ON, sm_90)"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDPT_WITH_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$prefix" -DHDF5_ROOT="$prefix" -DHDF5_C_COMPILER_EXECUTABLE=HDF5_C_COMPILER_EXECUTABLE-NOTFOUND \
  -DCMAKE_LIBRARY_PATH="$prefix/lib" -DCMAKE_INCLUDE_PATH="$prefix/include" \
  -DCUDNN_ROOT="$cudnn" -DNCCL_ROOT="$nccl" >> "$log" 2>&1 || fail "configure failed (see gpu-check.log)"
cmake --build build-gpu -j "$(nproc)" >> "$log" 2>&1 || fail "build failed (see gpu-check.log)"

step "devices"
./build-gpu/dptrain devices 2>&1 | tee -a "$log" > "$out/devices.txt"
step "GPU tests"
gpu_rc=0
(cd build-gpu && ctest -L gpu --output-on-failure -V) >> "$log" 2>&1 || gpu_rc=$?
./build-gpu/tests/dpt_tests_gpu -s > "$out/gpu-tests.txt" 2>&1 || gpu_rc=1
step "CPU tests on this machine"
cpu_rc=0
(cd build-gpu && ctest -LE gpu --output-on-failure) >> "$log" 2>&1 || cpu_rc=$?
step "default training on the GPU"
./build-gpu/dptrain train --gpus 1 --history "$out/history.json" > "$out/train.txt" 2>&1 || echo "train FAILED" >> "$out/train.txt"
step "benchmarks"
./build-gpu/dptrain bench --model cifar10-cnn --gpus 1,2,4,8 --batch-size-per-replica 512 --steps 30 \
  --json "$out/bench-cifar.json" > "$out/bench.txt" 2>&1 || echo "bench FAILED" >> "$out/bench.txt"
./build-gpu/dptrain bench --model mnist-mlp --gpus 1,2,4,8 --batch-size-per-replica 512 --steps 30 \
  >> "$out/bench.txt" 2>&1 || echo "bench FAILED" >> "$out/bench.txt"
"$py" benchmarks/compare_pytorch_gpu.py --dptrain build-gpu/dptrain --batch-size 512 --json "$out/vs-pytorch.json" \
  > "$out/vs-pytorch.txt" 2>&1 || echo "compare FAILED" >> "$out/vs-pytorch.txt"
"$py" benchmarks/compare_pytorch_gpu.py --dptrain build-gpu/dptrain --batch-size 512 --tf32 \
  >> "$out/vs-pytorch.txt" 2>&1 || echo "compare (tf32) FAILED" >> "$out/vs-pytorch.txt"

{
  echo "# dptrain GPU check"
  echo
  echo '```'
  nvidia-smi -L 2>/dev/null
  cat "$out/devices.txt"
  echo '```'
  echo
  echo "GPU tests: $([ $gpu_rc -eq 0 ] && echo passed || echo FAILED) ($(grep -E '^(All tests passed|test cases:)' "$out/gpu-tests.txt" | tail -1))"
  grep -E "SKIPPED" "$out/gpu-tests.txt" | head -3
  echo "CPU tests: $([ $cpu_rc -eq 0 ] && echo passed || echo FAILED)"
  echo
  echo "Default training on 1 GPU (last lines):"
  echo '```'
  tail -4 "$out/train.txt"
  echo '```'
  echo "Benchmarks:"
  echo '```'
  cat "$out/bench.txt" "$out/vs-pytorch.txt"
  echo '```'
  echo "1 GPU vs CPU / N GPUs vs CPU (weights, max|dw|/max|w|):"
  echo '```'
  grep -E "GPU" "$out/gpu-tests.txt" | grep "max|dw|" | head -20
  echo '```'
} > "$out/report.md"
cat "$out/report.md"
[ $gpu_rc -eq 0 ] && [ $cpu_rc -eq 0 ]
