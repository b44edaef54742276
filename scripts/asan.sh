#!/usr/bin/env bash
# Builds the CPU-only project with AddressSanitizer + UndefinedBehaviorSanitizer in ./build-asan and
# runs every test there (unit tests and the command-line tests, which drive the sanitized binary).
# Sanitizer reports go to build-asan/sanitizer-logs/; any report or failing test exits non-zero.
#   bash scripts/asan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDPT_WITH_CUDA=OFF -DCMAKE_CXX_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan -j "$(nproc)"
logs="$PWD/build-asan/sanitizer-logs"
rm -rf "$logs" && mkdir -p "$logs"
# Catch2 2.13's own teardown trips alloc_dealloc_mismatch (operator new vs free inside its
# shared_ptr); dptrain's code has none.
export ASAN_OPTIONS="detect_leaks=1:alloc_dealloc_mismatch=0:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan"
[ -x build/keras-env/bin/python ] && export DPT_KERAS_PYTHON="$PWD/build/keras-env/bin/python"
rc=0
(cd build-asan && ctest --output-on-failure) || rc=1
if [ -n "$(ls -A "$logs")" ]; then
  echo "sanitizer reports:"; head -40 "$logs"/*; rc=1
else
  echo "no sanitizer reports"
fi
exit $rc
