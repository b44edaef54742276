#!/usr/bin/env bash
# Run on the lent GPU machine (device tool, carry [".carry"]): unpacks the prefix made by
# scripts/gpu-prepare.sh, finds cuDNN and NCCL in the PyTorch environment's pip packages, builds
# dptrain with CUDA there, and then, by phase:
#   tests  every GPU test (each CUDA op and layer vs the CPU, 1 GPU vs CPU training, NCCL with the
#          visible GPUs), `dptrain devices`, the default training on 1 GPU, and the CPU suite;
#   bench  `dptrain bench --gpus 1,2,4,8` (scaling + all-reduce busbw) and dptrain vs PyTorch eager;
#   all    both (the default);
#   sanitize  the op and layer GPU tests under compute-sanitizer (memcheck, then racecheck on the
#          reductions): slow, so not part of all;
#   profile  cifar10-cnn at batch 512 on 1 GPU: cuDNN's measured algorithm rankings, the benchmark,
#          and Nsight Compute's time of every kernel of the timed steps, dptrain's and PyTorch's.
# Each step has its own time limit, so one device call (10 minutes at most) always ends with a
# report: $OUT/report.md (appended per phase), the full log $OUT/gpu-check.log, the GPU tests'
# output and the benchmarks' JSON. Several phases may be named in one call (a machine is warm for
# only 30 s after a call, so each call usually starts a fresh one and builds again):
#   bash scripts/gpu-check.sh [PHASE...]     (default: all; e.g. `tests bench`, `bench profile`)
set -uo pipefail
cd "$(dirname "$0")/.."
phases=" ${*:-all} "
for p in $phases; do
  case "$p" in all | tests | bench | sanitize | profile) ;;
    *) echo "usage: bash scripts/gpu-check.sh [all|tests|bench|sanitize|profile]..."; exit 2 ;; esac
done
# Whether this call runs phase $1 (all = tests and bench).
want() { [[ "$phases" == *" $1 "* ]] || { [[ "$phases" == *" all "* ]] && { [ "$1" = tests ] || [ "$1" = bench ]; }; }; }
out="${OUT:-$PWD/gpu-report}"
mkdir -p "$out"
tmp=$(mktemp -d)  # step outputs; only a few files go to $OUT (the device tool brings back 8 at most)
log="$out/gpu-check.log"
report="$out/report.md"
touch "$log"
[ -f "$report" ] || printf '# dptrain GPU check\n\n' > "$report"
step() { echo "== $(date +%T) $*" | tee -a "$log"; }
fail() { echo "gpu-check: $*" | tee -a "$log"; printf '\nFAILED: %s\n' "$*" >> "$report"; exit 1; }
# Runs a step under a time limit; its output goes to the log and to $tmp/NAME.
limited() {
  local secs=$1 name=$2
  shift 2
  local rc=0
  timeout -k 10 "$secs" "$@" > "$tmp/$name" 2>&1 || rc=$?
  cat "$tmp/$name" >> "$log"
  [ $rc -eq 124 ] && echo "(stopped after $secs s)" >> "$tmp/$name"
  return $rc
}

[ -f .carry/gpu-deps.tar.xz ] || fail "no .carry/gpu-deps.tar.xz: run scripts/gpu-prepare.sh here first and carry .carry"
deps=/tmp/dptrain-deps
stamp=$(cksum < .carry/gpu-deps.tar.xz)
if [ "$(cat "$deps/.stamp" 2>/dev/null)" != "$stamp" ]; then  # unpacked again only when changed (no rebuild)
  rm -rf "$deps" && mkdir -p "$deps" && tar -C "$deps" -xJf .carry/gpu-deps.tar.xz || fail "unpacking the deps failed"
  echo "$stamp" > "$deps/.stamp"
fi
prefix="$deps/prefix"
py=$(command -v python3)
site=$("$py" -c 'import nvidia.cudnn as c, os; print(os.path.dirname(list(c.__path__)[0]))' 2>/dev/null) ||
  fail "no nvidia-cudnn Python package next to $py"
cudnn="$site/cudnn"
nccl="$site/nccl"
[ -f "$nccl/include/nccl.h" ] || fail "no nvidia-nccl Python package next to $py ($nccl)"
export PATH="/usr/local/cuda/bin:$PATH"
# cuDNN and NCCL are the ones PyTorch loads; dptrain's own non-CUDA libraries (the carried prefix)
# are put on the library path of dptrain's processes only (run_dpt), never of python's.
export LD_LIBRARY_PATH="$cudnn/lib:$nccl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
dpt_ld="$prefix/lib:$LD_LIBRARY_PATH"
run_dpt() { LD_LIBRARY_PATH="$dpt_ld" "$@"; }
# cuBLAS: the toolkit's, else the pip package's (nvidia/cu13 has only libcublas.so.13 and its headers:
# give the linker the plain names and the compilers the include folder).
links="$deps/links"
mkdir -p "$links"
extra_inc=""
if { [ ! -e /usr/local/cuda/lib64/libcublas.so ] && [ ! -e /usr/local/cuda/lib/libcublas.so ]; } ||
   [ ! -f /usr/local/cuda/include/cublas_v2.h ]; then
  cu="$site/cu13"
  [ -f "$cu/lib/libcublas.so.13" ] || fail "no cuBLAS in /usr/local/cuda nor in $cu"
  ln -sf "$cu/lib/libcublas.so.13" "$links/libcublas.so"
  ln -sf "$cu/lib/libcublasLt.so.13" "$links/libcublasLt.so"
  extra_inc="-isystem $cu/include"
  export LD_LIBRARY_PATH="$cu/lib:$LD_LIBRARY_PATH"
  dpt_ld="$prefix/lib:$LD_LIBRARY_PATH"
fi
step "machine"
{
  nvidia-smi -L; nvcc --version | tail -2; cmake --version | head -1; echo "python: $py"
  echo "cuDNN: $cudnn ($(ls "$cudnn/lib" | grep -E '^libcudnn\.so' | tr '\n' ' '))"
  echo "NCCL: $nccl"; echo "cuBLAS links: $(ls "$links" | tr '\n' ' ')"
  ls /usr/local/cuda/lib64 2>/dev/null | grep -E '^lib(cudart|cublas|cudnn|nccl)' | tr '\n' ' '; echo
  "$py" -c 'import torch; print("torch", torch.__version__, "cuDNN", torch.backends.cudnn.version(), "NCCL", torch.cuda.nccl.version())'
} >> "$log" 2>&1

step "configure + build (CUDA ON, sm_90)"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDPT_WITH_CUDA=ON -DDPT_BUILD_CUDA_EMU=OFF \
  -DCMAKE_PREFIX_PATH="$prefix" -DHDF5_ROOT="$prefix" -DHDF5_C_COMPILER_EXECUTABLE=HDF5_C_COMPILER_EXECUTABLE-NOTFOUND \
  -DCMAKE_LIBRARY_PATH="$prefix/lib;$links" -DCMAKE_INCLUDE_PATH="$prefix/include" \
  -DCMAKE_CXX_FLAGS="$extra_inc" -DCMAKE_CUDA_FLAGS="$extra_inc" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$prefix/lib" \
  -DCUDNN_ROOT="$cudnn" -DNCCL_ROOT="$nccl" >> "$log" 2>&1 || fail "configure failed (see gpu-check.log)"
cmake --build build-gpu -j "$(nproc)" >> "$log" 2>&1 || fail "build failed (see gpu-check.log)"
# For python (compare_pytorch_gpu.py): dptrain with its library path, PyTorch's untouched.
printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s/build-gpu/dptrain" "$@"\n' "$dpt_ld" "$PWD" > build-gpu/dptrain-env
chmod +x build-gpu/dptrain-env

tests_rc=0
if want tests; then
  step "devices"
  run_dpt ./build-gpu/dptrain devices > "$tmp/devices" 2>&1
  cat "$tmp/devices" >> "$log"
  step "GPU tests"
  gpu_rc=0
  limited 240 gpu-tests env LD_LIBRARY_PATH="$dpt_ld" ./build-gpu/tests/dpt_tests_gpu -d yes || gpu_rc=$?
  if [ $gpu_rc -ne 0 ]; then  # again with synchronous launches (a kernel's fault then names its launch)
    step "GPU tests again with CUDA_LAUNCH_BLOCKING=1 DPT_CUDNN_LOG=1"  # and cuDNN's algorithms named
    limited 150 gpu-tests-blocking env CUDA_LAUNCH_BLOCKING=1 DPT_CUDNN_LOG=1 LD_LIBRARY_PATH="$dpt_ld" \
      ./build-gpu/tests/dpt_tests_gpu -d yes || true
    { echo; echo "==== again with CUDA_LAUNCH_BLOCKING=1 DPT_CUDNN_LOG=1"; cat "$tmp/gpu-tests-blocking"; } >> "$tmp/gpu-tests"
  fi
  cp "$tmp/gpu-tests" "$out/gpu-tests.txt"
  if [ $gpu_rc -ne 0 ]; then gpu_state=FAILED
  elif grep -q "SKIPPED (no GPU)" "$tmp/gpu-tests"; then gpu_state="passed, some SKIPPED (see below)"
  else gpu_state=passed; fi
  {  # written at once: a later step that runs out of time leaves this in the report
    echo "## Tests ($(date -u +%F))"
    echo '```'
    nvidia-smi -L 2>/dev/null
    cat "$tmp/devices"
    echo '```'
    echo "GPU tests: $gpu_state ($(grep -E '^(All tests passed|test cases:)' "$tmp/gpu-tests" | tail -1))"
    echo '```'
    grep -E "SKIPPED" "$tmp/gpu-tests" | sort | uniq -c
    grep -E "max\|dw\||host operator new" "$tmp/gpu-tests" | head -40
    echo '```'
    if grep -q "FAILED" "$tmp/gpu-tests"; then
      echo "Failures (first 120 lines; all of them in gpu-tests.txt):"
      echo '```'
      grep -B3 -A10 "FAILED" "$tmp/gpu-tests" | head -120
      echo '```'
    fi
  } >> "$report"
  step "default training on the GPU"
  train_rc=0
  limited 150 train env LD_LIBRARY_PATH="$dpt_ld" ./build-gpu/dptrain train --gpus 1 --history "$out/history.json" ||
    train_rc=$?
  {
    echo "Default training on 1 GPU: $([ $train_rc -eq 0 ] && echo done || echo "FAILED (rc $train_rc)")"
    echo '```'
    tail -5 "$tmp/train"
    echo '```'
  } >> "$report"
  step "CPU tests on this machine"
  cpu_rc=0
  limited 150 cpu-tests env LD_LIBRARY_PATH="$dpt_ld" ctest --test-dir build-gpu -LE gpu --output-on-failure ||
    cpu_rc=$?
  printf 'CPU tests: %s (%s)\n\n' "$([ $cpu_rc -eq 0 ] && echo passed || echo "FAILED (rc $cpu_rc)")" \
    "$(grep -E 'tests passed' "$tmp/cpu-tests")" >> "$report"
  [ $gpu_rc -eq 0 ] && [ $train_rc -eq 0 ] && [ $cpu_rc -eq 0 ] || tests_rc=1
fi

bench_rc=0
if want bench; then
  step "benchmarks: scaling and all-reduce"
  printf '## Benchmarks (%s)\n' "$(date -u +%F)" >> "$report"
  section() { { echo "$1"; echo '```'; cat "$tmp/$2"; echo '```'; } >> "$report"; }  # as each step ends
  # DPT_CUDNN_LOG=1: the layouts each convolution chose go in the report (cuDNN's rankings in the log).
  limited 150 bench-cifar env DPT_CUDNN_LOG=1 LD_LIBRARY_PATH="$dpt_ld" ./build-gpu/dptrain bench \
    --model cifar10-cnn --gpus 1,2,4,8 --batch-size-per-replica 512 --steps 30 --json "$out/bench-cifar.json" ||
    bench_rc=1
  grep -vE '^cuDNN (forward|backward)' "$tmp/bench-cifar" > "$tmp/bench-cifar-short"
  section "cifar10-cnn, 512 a replica (with the convolutions' layouts):" bench-cifar-short
  for route in nhwc nchw gemm; do  # each route forced, for comparison with the measured choice
    limited 90 "bench-$route" env DPT_CONV_LAYOUT=$route LD_LIBRARY_PATH="$dpt_ld" ./build-gpu/dptrain bench \
      --model cifar10-cnn --gpus 1 --batch-size-per-replica 512 --steps 30 || bench_rc=1
    section "cifar10-cnn, 1 GPU, every convolution pass on one route (DPT_CONV_LAYOUT=$route), for comparison:" \
      "bench-$route"
  done
  limited 120 bench-mlp env LD_LIBRARY_PATH="$dpt_ld" ./build-gpu/dptrain bench --model mnist-mlp --gpus 1,2,4,8 \
    --batch-size-per-replica 512 --steps 30 || bench_rc=1
  section "mnist-mlp, 512 a replica:" bench-mlp
  step "benchmarks: dptrain vs PyTorch eager"
  limited 160 vs-fp32 "$py" benchmarks/compare_pytorch_gpu.py --dptrain build-gpu/dptrain-env --batch-size 512 \
    --json "$out/vs-pytorch.json" || bench_rc=1
  section "dptrain vs PyTorch eager, FP32:" vs-fp32
  limited 160 vs-tf32 "$py" benchmarks/compare_pytorch_gpu.py --dptrain build-gpu/dptrain-env --batch-size 512 --tf32 ||
    bench_rc=1
  section "dptrain vs PyTorch eager, TF32 (--tf32 on both):" vs-tf32
  limited 150 vs-imdb "$py" benchmarks/compare_pytorch_gpu.py --dptrain build-gpu/dptrain-env --batch-size 512 \
    --models imdb-cnn imdb-lstm imdb-bilstm || bench_rc=1
  section "dptrain vs PyTorch eager, imdb-cnn (Embedding: the backward's sort; Conv1D), imdb-lstm and imdb-bilstm (per-step GEMMs against cuDNN's LSTM), FP32:" vs-imdb
  limited 90 vs-transformer "$py" benchmarks/compare_pytorch_gpu.py --dptrain build-gpu/dptrain-env --batch-size 512 \
    --models imdb-transformer || bench_rc=1
  section "dptrain vs PyTorch eager, imdb-transformer (MultiHeadAttention: per-head strided batched GEMMs against PyTorch's fused scaled_dot_product_attention), FP32:" vs-transformer
  [ $bench_rc -eq 0 ] || printf 'SOME BENCHMARKS FAILED (see above)\n' >> "$report"
  echo >> "$report"
fi
san_rc=0
if want sanitize; then
  step "compute-sanitizer"
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
  [ -n "$cs" ] || fail "no compute-sanitizer on this machine"
  limited 400 memcheck env LD_LIBRARY_PATH="$dpt_ld" "$cs" --tool memcheck --error-exitcode 3 \
    ./build-gpu/tests/dpt_tests_gpu "[layers],[activation],[optimizer],[loss],[dropout],[embedding],[reorder]~[big]" || san_rc=$?
  # Shared memory: the bias-gradient reduction ([dropout]'s bias kernels), the tiled transpose and the
  # Embedding backward's sort.
  limited 150 racecheck env LD_LIBRARY_PATH="$dpt_ld" "$cs" --tool racecheck --error-exitcode 3 \
    ./build-gpu/tests/dpt_tests_gpu "[dropout],[embedding],[reorder]~[big]" || san_rc=$?
  {
    echo "## compute-sanitizer ($(date -u +%F)): $([ $san_rc -eq 0 ] && echo clean || echo "FOUND ERRORS (rc $san_rc)")"
    echo '```'
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Invalid|Race|test cases" "$tmp/memcheck" "$tmp/racecheck" | head -60
    echo '```'
    echo
  } >> "$report"
fi
prof_rc=0
if want profile; then
  step "profile: cifar10-cnn, batch 512, 1 GPU"
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || true)
  [ -n "$ncu" ] || fail "no ncu (Nsight Compute) on this machine"
  limited 120 prof-bench env DPT_CUDNN_LOG=1 LD_LIBRARY_PATH="$dpt_ld" ./build-gpu/dptrain bench --model cifar10-cnn \
    --gpus 1 --batch-size-per-replica 512 --steps 30 || prof_rc=1
  # The card's clocks are left as they are (--clock-control none); only the timed steps are recorded.
  nargs=(--profile-from-start off --clock-control none --metrics gpu__time_duration.sum --csv --print-units base
         --print-kernel-base function)
  limited 150 prof-dpt env LD_LIBRARY_PATH="$dpt_ld" "$ncu" "${nargs[@]}" ./build-gpu/dptrain bench \
    --model cifar10-cnn --gpus 1 --batch-size-per-replica 512 --steps 5 --warmup 3 || prof_rc=1
  limited 150 prof-torch "$ncu" "${nargs[@]}" "$py" benchmarks/compare_pytorch_gpu.py --models cifar10-cnn \
    --batch-size 512 --steps 5 --warmup 3 --torch-only || prof_rc=1
  cp "$tmp/prof-dpt" "$out/prof-dpt.txt"; cp "$tmp/prof-torch" "$out/prof-torch.txt"
  {
    echo "## Profile ($(date -u +%F)): cifar10-cnn, batch 512, FP32, 1 GPU"
    echo '```'
    cat "$tmp/prof-bench"
    "$py" benchmarks/kernel_times.py "$tmp/prof-dpt" 5 --title dptrain 2>&1
    "$py" benchmarks/kernel_times.py "$tmp/prof-torch" 5 --title "PyTorch eager (NCHW)" 2>&1
    echo '```'
    echo
  } >> "$report"
fi
rm -rf "$tmp"
cat "$report"
[ $tests_rc -eq 0 ] && [ $bench_rc -eq 0 ] && [ $san_rc -eq 0 ] && [ $prof_rc -eq 0 ]
