#!/usr/bin/env bash
# Run on the lent GPU machine (device tool, carry [".carry"]): unpacks the prefix made by
# scripts/gpu-prepare.sh, finds cuDNN and NCCL in the PyTorch environment's pip packages, takes the
# binaries gpu-prepare.sh packed where they start there (else builds dptrain with CUDA there;
# DPT_GPU_BUILD=1 always builds), and then, by phase:
#   tests  every GPU test (each CUDA op and layer vs the CPU, 1 GPU vs CPU training, NCCL with the
#          visible GPUs), `dptrain devices` and the default training on 1 GPU;
#   bench  dptrain vs PyTorch eager (cifar10-cnn and mnist-mlp first, then imdb-transformer, the
#          imdb models), `dptrain bench --gpus 1,2,4,8` (scaling + all-reduce busbw), TF32, each
#          convolution route forced;
#   all    both (the default);
#   cpu    the CPU suite built and run there (builds there: slow, so not part of all);
#   sanitize  the op and layer GPU tests under compute-sanitizer (memcheck, then racecheck on the
#          reductions): slow, so not part of all;
#   profile  cifar10-cnn at batch 512 on 1 GPU: cuDNN's measured algorithm rankings, the benchmark,
#          and Nsight Compute's time of every kernel of the timed steps, dptrain's and PyTorch's.
# Each step has its own time limit, so one device call (10 minutes at most) always ends with a
# report: $OUT/report.md (appended per phase), the full log $OUT/gpu-check.log, the GPU tests'
# output and the benchmarks' JSON. DPT_GPU_BUDGET=SECONDS caps the whole call: each step's limit is
# cut to what is left, and a step with under 20 s left is skipped (said in the report), so the
# device time spent is known before the call. Several phases may be named in one call (a machine is warm for
# only 30 s after a call, so each call usually starts a fresh one and builds again):
#   bash scripts/gpu-check.sh [PHASE...]     (default: all; e.g. `tests bench`, `bench profile`)
set -uo pipefail
cd "$(dirname "$0")/.."
phases=" ${*:-all} "
for p in $phases; do
  case "$p" in all | tests | bench | cpu | sanitize | profile) ;;
    *) echo "usage: bash scripts/gpu-check.sh [all|tests|bench|cpu|sanitize|profile]..."; exit 2 ;; esac
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
budget=${DPT_GPU_BUDGET:-0}  # seconds for the whole call; 0: none
# Runs a step under a time limit (cut to what is left of DPT_GPU_BUDGET); its output goes to the log
# and to $tmp/NAME. A step skipped for want of time returns 125.
limited() {
  local secs=$1 name=$2
  shift 2
  if [ "$budget" -gt 0 ]; then
    local left=$((budget - SECONDS - 10))
    if [ $left -lt 20 ]; then
      echo "(skipped: $((budget - SECONDS)) s left of DPT_GPU_BUDGET=$budget)" | tee "$tmp/$name" >> "$log"
      return 125
    fi
    [ $left -lt "$secs" ] && secs=$left
  fi
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
# The CUDA runtime for binaries built elsewhere: the toolkit's, else the pip package's.
dpt_ld="$dpt_ld:/usr/local/cuda/lib64:$site/cu13/lib"
step "machine"
{
  nvidia-smi -L; nvcc --version | tail -2; cmake --version | head -1; echo "python: $py"
  echo "cuDNN: $cudnn ($(ls "$cudnn/lib" | grep -E '^libcudnn\.so' | tr '\n' ' '))"
  echo "NCCL: $nccl"; echo "cuBLAS links: $(ls "$links" | tr '\n' ' ')"
  ls /usr/local/cuda/lib64 2>/dev/null | grep -E '^lib(cudart|cublas|cudnn|nccl)' | tr '\n' ' '; echo
  "$py" -c 'import torch; print("torch", torch.__version__, "cuDNN", torch.backends.cudnn.version(), "NCCL", torch.cuda.nccl.version())'
} >> "$log" 2>&1

# Configures build-gpu and builds the targets named.
build_here() {
  step "configure + build $* (CUDA ON, sm_90)"
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDPT_WITH_CUDA=ON -DDPT_BUILD_CUDA_EMU=OFF \
    -DCMAKE_PREFIX_PATH="$prefix" -DHDF5_ROOT="$prefix" -DHDF5_C_COMPILER_EXECUTABLE=HDF5_C_COMPILER_EXECUTABLE-NOTFOUND \
    -DCMAKE_LIBRARY_PATH="$prefix/lib;$links" -DCMAKE_INCLUDE_PATH="$prefix/include" \
    -DCMAKE_CXX_FLAGS="$extra_inc" -DCMAKE_CUDA_FLAGS="$extra_inc" \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$prefix/lib" \
    -DCUDNN_ROOT="$cudnn" -DNCCL_ROOT="$nccl" >> "$log" 2>&1 || fail "configure failed (see gpu-check.log)"
  cmake --build build-gpu -j "$(nproc)" --target "$@" >> "$log" 2>&1 || fail "build failed (see gpu-check.log)"
}
# The binaries gpu-prepare.sh packed, where they start on this machine (both answer): no build here.
dpt="" tgpu="" built_from="built here"
if [ -f .carry/gpu-bin.tar.xz ] && [ "${DPT_GPU_BUILD:-0}" != 1 ]; then
  pre="$deps/prebuilt"
  rm -rf "$pre" && mkdir -p "$pre" && tar -C "$pre" -xJf .carry/gpu-bin.tar.xz
  step "prebuilt binaries"
  if run_dpt "$pre/bin/dptrain" devices >> "$log" 2>&1 &&
     [ -n "$(run_dpt "$pre/bin/dpt_tests_gpu" --list-test-names-only 2>> "$log")" ]; then  # (its rc: a count)
    dpt="$pre/bin/dptrain" tgpu="$pre/bin/dpt_tests_gpu"
    built_from="prebuilt from $(tr '\n' ' ' < "$pre/bin/built-from")"
  else
    echo "the prebuilt binaries do not start here: building" | tee -a "$log"
  fi
fi
if [ -z "$dpt" ]; then
  build_here dptrain dpt_tests_gpu
  dpt="$PWD/build-gpu/dptrain" tgpu="$PWD/build-gpu/tests/dpt_tests_gpu"
fi
echo "binaries: $built_from" | tee -a "$log"
printf 'Binaries: %s\n\n' "$built_from" >> "$report"
# For python (compare_pytorch_gpu.py): dptrain with its library path, PyTorch's untouched.
dpt_env="$deps/dptrain-env"
printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" "$@"\n' "$dpt_ld" "$dpt" > "$dpt_env"
chmod +x "$dpt_env"

tests_rc=0
if want tests; then
  step "devices"
  run_dpt "$dpt" devices > "$tmp/devices" 2>&1
  cat "$tmp/devices" >> "$log"
  step "GPU tests"
  gpu_rc=0
  limited 240 gpu-tests env LD_LIBRARY_PATH="$dpt_ld" "$tgpu" -d yes || gpu_rc=$?
  if [ $gpu_rc -ne 0 ]; then  # again with synchronous launches (a kernel's fault then names its launch)
    step "GPU tests again with CUDA_LAUNCH_BLOCKING=1 DPT_CUDNN_LOG=1"  # and cuDNN's algorithms named
    limited 150 gpu-tests-blocking env CUDA_LAUNCH_BLOCKING=1 DPT_CUDNN_LOG=1 LD_LIBRARY_PATH="$dpt_ld" \
      "$tgpu" -d yes || true
    { echo; echo "==== again with CUDA_LAUNCH_BLOCKING=1 DPT_CUDNN_LOG=1"; cat "$tmp/gpu-tests-blocking"; } >> "$tmp/gpu-tests"
  fi
  cp "$tmp/gpu-tests" "$out/gpu-tests.txt"
  if [ $gpu_rc -ne 0 ]; then gpu_state=FAILED
  elif grep -q "SKIPPED (" "$tmp/gpu-tests"; then gpu_state="passed, some SKIPPED (see below)"
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
  limited 150 train env LD_LIBRARY_PATH="$dpt_ld" "$dpt" train --gpus 1 --history "$out/history.json" ||
    train_rc=$?
  {
    echo "Default training on 1 GPU: $([ $train_rc -eq 0 ] && echo done || echo "FAILED (rc $train_rc)")"
    echo '```'
    tail -5 "$tmp/train"
    echo '```'
  } >> "$report"
  [ $gpu_rc -eq 0 ] && [ $train_rc -eq 0 ] || tests_rc=1
fi
cpu_rc=0
if want cpu; then
  build_here dptrain dpt_tests_gpu dpt_tests_cpu
  step "CPU tests on this machine"
  limited 150 cpu-tests env LD_LIBRARY_PATH="$dpt_ld" ctest --test-dir build-gpu -LE gpu --output-on-failure ||
    cpu_rc=$?
  printf 'CPU tests: %s (%s)\n\n' "$([ $cpu_rc -eq 0 ] && echo passed || echo "FAILED (rc $cpu_rc)")" \
    "$(grep -E 'tests passed' "$tmp/cpu-tests")" >> "$report"
fi

bench_rc=0
if want bench; then
  printf '## Benchmarks (%s)\n' "$(date -u +%F)" >> "$report"
  section() { { echo "$1"; echo '```'; cat "$tmp/$2"; echo '```'; } >> "$report"; }  # as each step ends
  # In order of what matters most, so that a short DPT_GPU_BUDGET drops the least.
  step "benchmarks: dptrain vs PyTorch eager"
  limited 160 vs-fp32 "$py" benchmarks/compare_pytorch_gpu.py --dptrain "$dpt_env" --batch-size 512 \
    --json "$out/vs-pytorch.json" || bench_rc=1
  section "dptrain vs PyTorch eager, FP32:" vs-fp32
  limited 90 vs-transformer "$py" benchmarks/compare_pytorch_gpu.py --dptrain "$dpt_env" --batch-size 512 \
    --models imdb-transformer || bench_rc=1
  section "dptrain vs PyTorch eager, imdb-transformer (MultiHeadAttention: per-head strided batched GEMMs against PyTorch's fused scaled_dot_product_attention), FP32:" vs-transformer
  limited 150 vs-imdb "$py" benchmarks/compare_pytorch_gpu.py --dptrain "$dpt_env" --batch-size 512 \
    --models imdb-cnn imdb-lstm imdb-bilstm || bench_rc=1
  section "dptrain vs PyTorch eager, imdb-cnn (Embedding: the backward's sort; Conv1D), imdb-lstm and imdb-bilstm (per-step GEMMs against cuDNN's LSTM), FP32:" vs-imdb
  step "benchmarks: scaling and all-reduce"
  # DPT_CUDNN_LOG=1: the layouts each convolution chose go in the report (cuDNN's rankings in the log).
  limited 150 bench-cifar env DPT_CUDNN_LOG=1 LD_LIBRARY_PATH="$dpt_ld" "$dpt" bench \
    --model cifar10-cnn --gpus 1,2,4,8 --batch-size-per-replica 512 --steps 30 --json "$out/bench-cifar.json" ||
    bench_rc=1
  grep -vE '^cuDNN (forward|backward)' "$tmp/bench-cifar" > "$tmp/bench-cifar-short"
  section "cifar10-cnn, 512 a replica (with the convolutions' layouts):" bench-cifar-short
  limited 160 vs-tf32 "$py" benchmarks/compare_pytorch_gpu.py --dptrain "$dpt_env" --batch-size 512 --tf32 ||
    bench_rc=1
  section "dptrain vs PyTorch eager, TF32 (--tf32 on both):" vs-tf32
  for route in nhwc nchw gemm; do  # each route forced, for comparison with the measured choice
    limited 90 "bench-$route" env DPT_CONV_LAYOUT=$route LD_LIBRARY_PATH="$dpt_ld" "$dpt" bench \
      --model cifar10-cnn --gpus 1 --batch-size-per-replica 512 --steps 30 || bench_rc=1
    section "cifar10-cnn, 1 GPU, every convolution pass on one route (DPT_CONV_LAYOUT=$route), for comparison:" \
      "bench-$route"
  done
  limited 120 bench-mlp env LD_LIBRARY_PATH="$dpt_ld" "$dpt" bench --model mnist-mlp --gpus 1,2,4,8 \
    --batch-size-per-replica 512 --steps 30 || bench_rc=1
  section "mnist-mlp, 512 a replica:" bench-mlp
  [ $bench_rc -eq 0 ] || printf 'SOME BENCHMARKS FAILED OR SKIPPED (see above)\n' >> "$report"
  echo >> "$report"
fi
san_rc=0
if want sanitize; then
  step "compute-sanitizer"
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
  [ -n "$cs" ] || fail "no compute-sanitizer on this machine"
  limited 260 memcheck env LD_LIBRARY_PATH="$dpt_ld" "$cs" --tool memcheck --error-exitcode 3 \
    "$tgpu" "[layers],[conv],[mask],[merge],[activation],[optimizer],[loss],[dropout],[embedding],[reorder]~[big]" ||
    san_rc=$?
  # Shared memory: the bias-gradient reduction ([dropout]'s bias kernels), the tiled transpose, the
  # Embedding backward's sort, and the layers' (softmax, LayerNormalization, the attention scores'
  # weight gradients, the optimizers' norms).
  limited 180 racecheck env LD_LIBRARY_PATH="$dpt_ld" "$cs" --tool racecheck --error-exitcode 3 \
    "$tgpu" "[dropout],[embedding],[reorder],[optimizer],[layers]~[big]" || san_rc=$?
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
  limited 120 prof-bench env DPT_CUDNN_LOG=1 LD_LIBRARY_PATH="$dpt_ld" "$dpt" bench --model cifar10-cnn \
    --gpus 1 --batch-size-per-replica 512 --steps 30 || prof_rc=1
  # The card's clocks are left as they are (--clock-control none); only the timed steps are recorded.
  nargs=(--profile-from-start off --clock-control none --metrics gpu__time_duration.sum --csv --print-units base
         --print-kernel-base function)
  limited 150 prof-dpt env LD_LIBRARY_PATH="$dpt_ld" "$ncu" "${nargs[@]}" "$dpt" bench \
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
[ $tests_rc -eq 0 ] && [ $cpu_rc -eq 0 ] && [ $bench_rc -eq 0 ] && [ $san_rc -eq 0 ] && [ $prof_rc -eq 0 ]
