#!/usr/bin/env bash
# Makes build/keras-env, a Python virtual environment with Keras 3 (JAX backend, CPU), h5py and
# numpy from PyPI, for the tests that load dptrain's files with Keras itself (keras_roundtrip,
# keras_optimizer_state). With --tf-keras it makes build/tf-keras-env instead: tf-keras 2.21 (Keras 2
# on TensorFlow 2.21, CPU; about 2 GB, so not part of scripts/test.sh), with which keras_roundtrip
# also has Keras 2's load_model read dptrain's files.
# Idempotent: an environment already holding these versions is kept. Where it cannot be made (no
# network, no venv module) it says why and exits 0: those tests then report themselves skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
env_dir=build/keras-env
pins=(keras==3.15.1 jax==0.10.2 jaxlib==0.10.2 h5py==3.16.0 numpy==2.4.6)
what="Keras"
if [ "${1:-}" = --tf-keras ]; then
  env_dir=build/tf-keras-env
  pins=(tf-keras==2.21.0 tensorflow-cpu==2.21.0 h5py==3.14.0 numpy==2.4.6)
  what="tf-keras"
fi
stamp="${pins[*]}"
if [ "$(cat "$env_dir/.dpt-stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
py=$(command -v python3) || { echo "keras-env: no python3: the $what tests will skip"; exit 0; }
rm -rf "$env_dir"
mkdir -p build
log="$env_dir.log"
echo "keras-env: installing ${pins[*]} into $env_dir (pip)"
if "$py" -m venv "$env_dir" > "$log" 2>&1 &&
   timeout 900 "$env_dir/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}" >> "$log" 2>&1; then
  echo "$stamp" > "$env_dir/.dpt-stamp"
else
  echo "keras-env: could not install $what (see $log; last line: $(tail -1 "$log")): the $what tests will skip"
  rm -rf "$env_dir"
fi
exit 0
