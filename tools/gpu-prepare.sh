#!/usr/bin/env bash
# gpu-prepare.sh — builds the git-ignored .device/ folder that travels with the
# working tree to the bare, offline GPU machine (see shared device.md): the
# Debian packages convoy builds against (unpacked there by gpu-check.sh) and
# the Python wheels the GPU machine lacks (PyWavelets and ptwt for the
# benchmark peers, nvidia-cuda-sanitizer-api for compute-sanitizer).
# Run once on the Debian build machine, in the project root; it skips what is
# already there (delete .device/ to fetch again). Needs network (apt, PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
grep -qxF /.device/ .git/info/exclude 2>/dev/null || echo /.device/ >> .git/info/exclude
mkdir -p .device/debs .device/whl

debs=(libmicrohttpd12 libmicrohttpd-dev libcjson1 libcjson-dev libuv1 libuv1-dev libdnnl2 libdnnl-dev zlib1g-dev)
missing=()
for p in "${debs[@]}"; do ls .device/debs/"${p}"_*.deb >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q >/dev/null
  (cd .device/debs && apt-get download "${missing[@]}")
fi

have() { ls .device/whl/"$1"-*.whl >/dev/null 2>&1; }
pipdl() { "$PY" -m pip download -q --no-deps -d .device/whl "$@"; }
# CPython 3.12 manylinux wheel (the GPU machine's Python), whatever runs here
have pywavelets || have PyWavelets || pipdl --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 PyWavelets
have ptwt || pipdl ptwt
# compute-sanitizer is not in the GPU machine's toolkit; this wheel carries it
have nvidia_cuda_sanitizer_api || pipdl nvidia-cuda-sanitizer-api

du -sh .device
ls -1 .device/debs .device/whl
