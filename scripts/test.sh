#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (GPU tests report themselves skipped without a GPU;
# the Keras round-trip test runs Keras from build/keras-env, made by scripts/keras-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bash scripts/keras-env.sh
[ -x build/keras-env/bin/python ] && export DPT_KERAS_PYTHON="$PWD/build/keras-env/bin/python"
cd build && ctest --output-on-failure -j2  # two at a time: the Keras tests wait on Python much of the time
