#!/usr/bin/env bash
# Line coverage of dptrain's own code by the whole test suite, CPU and emulated GPU (tests/emu):
# the CPU-only build with gcov instrumentation in ./build-cov, every test there except the reversed
# emulation run (the same code again), then a per-file table from gcovr (installed into
# build-cov/gcovr-env from PyPI). A line counts as run when any template instantiation ran it; the
# functions no test ran (every instantiation listed) go to build-cov/coverage-unrun.txt. Slow: the
# emulated GPU suite runs unoptimised (about 10 minutes on 2 cores).
#   bash scripts/coverage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh python3-venv
cmake -S . -B build-cov -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDPT_WITH_CUDA=OFF -DCMAKE_CXX_FLAGS="-Og --coverage" \
  -DCMAKE_EXE_LINKER_FLAGS="--coverage" >/dev/null
cmake --build build-cov -j "$(nproc)"
find build-cov -name '*.gcda' -delete
[ -x build/keras-env/bin/python ] && export DPT_KERAS_PYTHON="$PWD/build/keras-env/bin/python"
rc=0
(cd build-cov && ctest -j "$(nproc)" --output-on-failure -E gpu_emu_reverse) || rc=1
[ -x build-cov/gcovr-env/bin/gcovr ] || { python3 -m venv build-cov/gcovr-env && build-cov/gcovr-env/bin/pip -q install gcovr; }
filter='(apps|core|kernels|parallel)/'
build-cov/gcovr-env/bin/gcovr -r . build-cov --filter "$filter" --exclude 'kernels/cuda_none.cpp|parallel/nccl_none.cpp' \
  --txt - --json build-cov/coverage.json
python3 - build-cov/coverage.json > build-cov/coverage-unrun.txt <<'PY'
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    for fn in f.get("functions", []):
        if fn.get("execution_count", 0) == 0 and "demangled_name" in fn:
            print(f"{f['file']}:{fn.get('lineno', '?')}: {fn['demangled_name']}")
PY
echo "functions no test ran: $(wc -l < build-cov/coverage-unrun.txt) (build-cov/coverage-unrun.txt)"
exit $rc
