#!/usr/bin/env bash
# gpu-check.sh RESULTS_DIR [STEP…] — the one script run on the bare, offline GPU
# machine (shared device.md): unpacks .device/debs (made by gpu-prepare.sh)
# into /opt/deps, finds pip's cuDNN/cuBLAS/cuFFT, installs the carried wheels
# into /tmp/site, configures (-DCONVOY_CUDA=ON, Ninja, Release) and builds,
# runs `ctest -L gpu`, compute-sanitizer (memcheck, racecheck) on the parity
# test, the GPU benchmark with its PyTorch/ptwt peers, and writes
# RESULTS_DIR/{results.md, gpu-tests.log, parity.tap, sanitizer.log,
# bench.log, build.log, gpu-check.log}. Keeps going after a failed step and
# exits non-zero if any step failed. STEPs (default: all) are build, test,
# sanitize, bench: a device command runs at most 10 minutes, so a slow run can
# be split over calls on the same warm machine (build-gpu/ stays there); the
# environment setup runs every time and results.md sums up what exists.
set -uo pipefail
R=${1:?usage: tools/gpu-check.sh RESULTS_DIR [build|test|sanitize|bench]...}
shift
STEPS=${*:-build test sanitize bench}
want() { [[ " $STEPS " == *" $1 "* ]]; }
mkdir -p "$R" && R=$(cd "$R" && pwd)
cd "$(dirname "$0")/.." || exit 2
SRC=$(pwd)
exec > >(tee -a "$R/gpu-check.log") 2>&1
echo "gpu-check: steps $STEPS"
FAILED=()
step() { echo; echo "== $(date +%T) $*"; }
fail() { echo "!! $*"; FAILED+=("$*"); }

# ---- dependencies ----
step "dependencies"
D=/opt/deps
mkdir -p "$D"
for f in .device/debs/*.deb; do [ -e "$f" ] && dpkg -x "$f" "$D"; done
[ -e .device/debs ] || fail "no .device/debs: run tools/gpu-prepare.sh before sending the tree"
export PKG_CONFIG_SYSROOT_DIR=$D
export PKG_CONFIG_PATH=$D/usr/lib/x86_64-linux-gnu/pkgconfig:$D/usr/share/pkgconfig
export CMAKE_PREFIX_PATH=$D/usr
export LD_LIBRARY_PATH=$D/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -d /usr/local/cuda/bin ] && export PATH=/usr/local/cuda/bin:$PATH
PY=$(command -v python3)
# pip's nvidia packages are namespace packages: locate them through __path__
NV=$("$PY" -c 'import nvidia, os; print(list(nvidia.__path__)[0])' 2>/dev/null || true)
HINTS=""
if [ -n "$NV" ] && [ -d "$NV" ]; then
  [ -d "$NV/cudnn" ] && export CUDNN_ROOT=$NV/cudnn
  for d in "$NV"/*/ "$NV"/cu13/; do [ -d "$d" ] && HINTS="$HINTS${HINTS:+;}${d%/}"; done
  while read -r l; do LD_LIBRARY_PATH=$l:$LD_LIBRARY_PATH; done < <(find "$NV" -maxdepth 3 -type d -name lib 2>/dev/null)
fi
echo "nvidia packages: ${NV:-none}; CUDNN_ROOT=${CUDNN_ROOT:-unset}"
mkdir -p /tmp/site
if ls .device/whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .device/whl/*.whl || fail "installing the carried wheels"
else
  fail "no .device/whl: run tools/gpu-prepare.sh before sending the tree"
fi
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
SAN=$(find /tmp/site -type f -name compute-sanitizer 2>/dev/null | head -1)
[ -n "$SAN" ] && chmod +x "$SAN"
DEVICE=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
echo "device: ${DEVICE:-unknown}"

B=$SRC/build-gpu
if want build; then
# ---- configure and build ----
step "configure"
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONVOY_CUDA=ON -DCONVOY_PYTHON="$PY" \
  "-DCONVOY_CUDA_LIB_HINTS=$HINTS" > "$R/build.log" 2>&1 || fail "configure"
step "build"
# the GPU targets first, so that an unrelated failure elsewhere cannot hide them
cmake --build "$B" -j "$(nproc)" --target test_parity test_slabs test_cuda_host gpu_bench convoy >> "$R/build.log" 2>&1 \
  || fail "build (gpu targets)"
cmake --build "$B" -j "$(nproc)" >> "$R/build.log" 2>&1 || fail "build (everything)"
grep -E "convoy: (CUBLAS|CUFFT|CUDNN|CUDA)" "$R/build.log"
tail -3 "$R/build.log"
fi

if want test; then
# ---- tests ----
step "ctest -L gpu"
ctest --test-dir "$B" -L gpu --output-on-failure > "$R/gpu-tests.log" 2>&1 || fail "ctest -L gpu"
tail -5 "$R/gpu-tests.log"
"$B/bin/test_parity" > "$R/parity.tap" 2>&1
prc=$?
[ $prc -eq 0 ] || fail "test_parity exit $prc"
echo "parity: $(grep -c '^ok' "$R/parity.tap") ok ($(grep -c '# SKIP' "$R/parity.tap") skipped), $(grep -c '^not ok' "$R/parity.tap") not ok"
step "ctest -L unit (the CPU side, with a GPU present)"
ctest --test-dir "$B" -L unit --output-on-failure -j 8 > "$R/unit-tests.log" 2>&1 || fail "ctest -L unit"
tail -3 "$R/unit-tests.log"
fi

# ---- compute-sanitizer ----
if want sanitize; then
step "compute-sanitizer"
if [ -n "$SAN" ]; then
  : > "$R/sanitizer.log"
  for tool in memcheck racecheck synccheck; do
    echo "### $tool" >> "$R/sanitizer.log"
    extra=()
    [ $tool = memcheck ] && extra=(--leak-check full)
    CONVOY_PARITY_EVERY=${SAN_EVERY:-11} timeout "${SAN_TIMEOUT:-150}" "$SAN" --tool $tool "${extra[@]}" --error-exitcode 99 \
      "$B/bin/test_parity" 2>&1 | grep -v '^ok ' >> "$R/sanitizer.log"
    rc=${PIPESTATUS[0]}
    echo "### $tool exit $rc" >> "$R/sanitizer.log"
    [ "$rc" -eq 0 ] || fail "compute-sanitizer $tool (exit $rc)"
  done
  echo "### memcheck test_slabs" >> "$R/sanitizer.log"
  timeout "${SAN_TIMEOUT:-150}" "$SAN" --tool memcheck --leak-check full --error-exitcode 99 "$B/bin/test_slabs" 2>&1 \
    | grep -v '^ok ' >> "$R/sanitizer.log"
  rc=${PIPESTATUS[0]}
  echo "### memcheck test_slabs exit $rc" >> "$R/sanitizer.log"
  [ "$rc" -eq 0 ] || fail "compute-sanitizer memcheck test_slabs (exit $rc)"
  grep -E "ERROR SUMMARY|### " "$R/sanitizer.log"
else
  fail "compute-sanitizer not found (nvidia-cuda-sanitizer-api wheel missing from .device/whl)"
fi
fi

# ---- benchmark ----
if want bench; then
step "benchmark"
"$PY" loadtest/ops/gpu_bench.py --bin "$B/bin/gpu_bench" > "$R/bench.log" 2>&1 || fail "benchmark"
cat "$R/bench.log"
fi

# ---- results.md ----
{
  echo "# convoy GPU check"
  echo
  echo "- device: ${DEVICE:-unknown}"
  echo "- commit: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "- date: $(date -u +%FT%TZ)"
  echo "- failed steps: ${#FAILED[@]}${FAILED:+ (${FAILED[*]})}"
  echo
  echo "| check | result |"
  echo "|---|---|"
  echo "| ctest -L gpu | $(grep -E 'tests passed|tests failed' "$R/gpu-tests.log" 2>/dev/null | tail -1) |"
  echo "| parity cases | $(grep -c '^ok' "$R/parity.tap" 2>/dev/null) ok, $(grep -c '# SKIP' "$R/parity.tap" 2>/dev/null) skipped (unsupported), $(grep -c '^not ok' "$R/parity.tap" 2>/dev/null) not ok |"
  echo "| ctest -L unit | $(grep -E 'tests passed|tests failed' "$R/unit-tests.log" 2>/dev/null | tail -1) |"
  for tool in memcheck racecheck synccheck; do
    echo "| compute-sanitizer $tool | $(grep -A3 "### $tool\$" "$R/sanitizer.log" 2>/dev/null | grep -m1 'ERROR SUMMARY' || echo n/a); $(grep "### $tool exit" "$R/sanitizer.log" 2>/dev/null) |"
  done
  echo
  echo "## benchmark (median of >= 10 runs, CUDA events, same run)"
  echo
  echo '```'
  cat "$R/bench.log" 2>/dev/null
  echo '```'
  if grep -q '^not ok' "$R/parity.tap" 2>/dev/null; then
    echo
    echo "## failing parity cases"
    echo
    echo '```'
    grep '^not ok' "$R/parity.tap" | head -50
    echo '```'
  fi
} > "$R/results.md"
step "done: ${#FAILED[@]} failed step(s)"
cat "$R/results.md"
[ ${#FAILED[@]} -eq 0 ]
