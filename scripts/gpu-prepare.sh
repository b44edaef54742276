#!/usr/bin/env bash
# Run here (Debian, after scripts/build.sh): packs what the lent GPU machine lacks into
# .carry/gpu-deps.tar.xz (git-ignored, ~13 MB): a prefix with the headers of HDF5, OpenBLAS, CLI11,
# Catch2, nlohmann-json and zlib, their CMake package configs, and the non-CUDA shared libraries
# dptrain links (HDF5 and its dependencies, OpenBLAS, libgfortran, ...). The GPU machine builds
# dptrain itself against that prefix (scripts/gpu-check.sh) unless the binaries built here run there:
# they go in .carry/gpu-bin.tar.xz (dptrain and the GPU tests, ~8 MB), and gpu-check.sh tries them
# first (a start-up check), which saves the GPU machine's build (minutes of its device time).
#   bash scripts/gpu-prepare.sh      then, with the device tool:  carry [".carry"],
#   command "bash scripts/gpu-check.sh"
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/dptrain ] || { echo "gpu-prepare: build first (bash scripts/build.sh)"; exit 1; }
[ -x build/tests/dpt_tests_gpu ] || { echo "gpu-prepare: no build/tests/dpt_tests_gpu (a build with CUDA)"; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
p="$stage/prefix"
mkdir -p "$p/include" "$p/lib/cmake" "$p/share/cmake"
# Headers.
cp -r /usr/include/hdf5/serial/. "$p/include/"
cp /usr/include/x86_64-linux-gnu/openblas-openmp/{cblas.h,openblas_config.h} "$p/include/"
cp -r /usr/include/CLI /usr/include/catch2 /usr/include/nlohmann "$p/include/"
cp /usr/include/zlib.h /usr/include/zconf.h "$p/include/"
# CMake package configs (relocatable: they find the prefix from their own location).
cp -r /usr/share/cmake/CLI11 /usr/share/cmake/nlohmann_json "$p/share/cmake/"
cp -r /usr/lib/cmake/Catch2 "$p/lib/cmake/"
cp "$(dpkg -L catch2 | grep -E 'libCatch2WithMain\.a$')" "$p/lib/"  # named by Catch2's targets file
# Shared libraries dptrain and the tests link, except the C/C++ runtime and anything of CUDA's
# (cudart, cuBLAS, cuDNN, NCCL: the GPU machine has its own, and they alone are hundreds of MB)
# and libgomp (it comes with the compiler there).
for bin in build/dptrain build/tests/dpt_tests_cpu; do
  ldd "$bin" | awk '/=>/ {print $3}'
done | sort -u | grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|libdl|libpthread|librt|libresolv|ld-linux[^/]*)\.so' |
  grep -vE '^/usr/local/cuda|/lib(cuda|cudart|cublas|cublasLt|cudnn[a-z_]*|nccl)\.so|/libgomp\.so' |
  while read -r lib; do cp -L "$lib" "$p/lib/"; done
# Link-time names.
(cd "$p/lib" && ln -sf libhdf5_serial.so.103 libhdf5.so && ln -sf libhdf5_serial.so.103 libhdf5_serial.so &&
  ln -sf libopenblas.so.0 libopenblas.so && ln -sf libz.so.1 libz.so)
mkdir -p .carry
rm -f .carry/gpu-deps.tar.xz .carry/gpu-bin.tar.xz
tar -C "$stage" -cJf .carry/gpu-deps.tar.xz prefix
# The binaries, as they are now (build them first: ninja -C build dptrain tests/dpt_tests_gpu), with
# the commit they were built from (gpu-check.sh reports it).
mkdir -p "$stage/bin"
cp build/dptrain build/tests/dpt_tests_gpu "$stage/bin/"
{ git rev-parse --short HEAD; git status --short | grep -q . && echo "(with uncommitted changes)"; } > "$stage/bin/built-from" 2>/dev/null || true
tar -C "$stage" -cJf .carry/gpu-bin.tar.xz bin
size=$(( $(stat -c %s .carry/gpu-deps.tar.xz) + $(stat -c %s .carry/gpu-bin.tar.xz) ))
echo "gpu-prepare: wrote .carry/gpu-deps.tar.xz and .carry/gpu-bin.tar.xz ($((size / 1048576)) MiB)"
# The device tool carries at most 64 MiB, the working tree included.
[ "$size" -lt $((48 * 1048576)) ] || { echo "gpu-prepare: .carry/gpu-deps.tar.xz is too large to carry (limit 64 MiB with the tree)"; exit 1; }
