#!/usr/bin/env bash
# Makes build/keras-env, a Python virtual environment with Keras 3 (JAX backend, CPU), h5py and
# numpy from PyPI, for the test that loads dptrain's files with Keras itself (keras_roundtrip).
# Idempotent: an environment already holding these versions is kept. Where it cannot be made (no
# network, no venv module) it says why and exits 0: that test then reports itself skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
env_dir=build/keras-env
pins=(keras==3.15.1 jax==0.10.2 jaxlib==0.10.2 h5py==3.16.0 numpy==2.4.6)
stamp="${pins[*]}"
if [ "$(cat "$env_dir/.dpt-stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
py=$(command -v python3) || { echo "keras-env: no python3: the Keras round-trip test will skip"; exit 0; }
rm -rf "$env_dir"
mkdir -p build
log=build/keras-env.log
echo "keras-env: installing ${pins[*]} into $env_dir (pip, about 30 s)"
if "$py" -m venv "$env_dir" > "$log" 2>&1 &&
   timeout 600 "$env_dir/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}" >> "$log" 2>&1; then
  echo "$stamp" > "$env_dir/.dpt-stamp"
else
  echo "keras-env: could not install Keras (see $log; last line: $(tail -1 "$log")): the Keras round-trip test will skip"
  rm -rf "$env_dir"
fi
exit 0
