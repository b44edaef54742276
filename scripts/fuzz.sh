#!/usr/bin/env bash
# Fuzzes the parsers of user-supplied input with libFuzzer + AddressSanitizer + UBSan (clang):
# Keras model and training configs, .keras archives, .npy and MNIST IDX data files, the synthetic
# data spec. Each must end in a loaded result or in dptrain's own error (the message the command line
# prints); any other exception, a crash, a sanitizer report, more than 2 GB of memory or more than
# 10 s on one input (a hang) is a finding.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET...]
# Builds in ./build-fuzz (CPU-only); corpora grow in build-fuzz/corpus/<target> (seeded from
# tests/fuzz/seeds); findings land in build-fuzz/findings/<target>/. Exit status 1 on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(keras_config training_config npy idx synthetic_spec keras_archive)
bash scripts/setup.sh clang libclang-rt-14-dev libomp-dev
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDPT_WITH_CUDA=OFF \
  -DDPT_BUILD_TESTS=OFF -DDPT_BUILD_FUZZERS=ON -DCMAKE_CXX_FLAGS="$san" -DCMAKE_C_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")
export ASAN_OPTIONS=alloc_dealloc_mismatch=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
status=0
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t findings=build-fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  echo "== fuzz_$t: ${secs}s"
  if ! build-fuzz/tests/fuzz/fuzz_"$t" "$corpus" tests/fuzz/seeds/"$t" -max_total_time="$secs" -rss_limit_mb=2048 \
      -timeout=10 -malloc_limit_mb=2048 -max_len=8192 -artifact_prefix="$findings/" -print_final_stats=1 2>build-fuzz/fuzz_"$t".log; then
    status=1
    grep -E "ERROR|runtime error|terminate|Test unit written" build-fuzz/fuzz_"$t".log | head -5
    echo "   FINDING: see build-fuzz/fuzz_$t.log and $findings/"
  else
    grep -E "stat::number_of_executed_units|cov:" build-fuzz/fuzz_"$t".log | tail -2
  fi
  rm -rf /tmp/dpt_fuzz_*  # the targets' scratch files (fuzz_util.h)
done
exit $status
