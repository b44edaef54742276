#!/usr/bin/env bash
# Installs what dptrain needs on a fresh Debian 12 machine (root or sudo). Idempotent and quiet.
# Extra Debian packages given as arguments are installed too (scripts/fuzz.sh adds clang's).
set -euo pipefail
pkgs=(cmake ninja-build g++ libopenblas-openmp-dev libhdf5-dev libcli11-dev catch2 nlohmann-json3-dev zlib1g-dev "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
