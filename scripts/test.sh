#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (GPU tests report themselves skipped without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build && ctest --output-on-failure
