#!/usr/bin/env bash
# run_peer_bench.sh — convoyd's POST /v1/jobs next to bare libmicrohttpd peers
# (the shared kit /work/shared/bench/http-peer, see its README): builds
# convoyd (Release), starts it on a free loopback port with a temporary data
# dir and limits high enough for 64 connections, runs the kit's bench.sh
# against it (b64 and json cases: convoyd req/s >= 1.0 x the peer, p99 <=
# 1.5 x the peer's), stops convoyd with SIGTERM and checks that it exits 0,
# and writes loadtest/results/http-peer-<date>.md (machine, command, table,
# raw wrk output).
#
#   loadtest/http/run_peer_bench.sh                  # ROUNDS=1
#   ROUNDS=3 loadtest/http/run_peer_bench.sh         # medians of 3: use this to gate
#
# Environment: BUILD (build dir, default build/; configured Release when it
# has no build.ninja), CONVOYD_BIN (use this binary, no build), PEER_KIT
# (/work/shared/bench/http-peer), CONVOYD_LOG_LEVEL (warn: no per-request
# access log, as the peers have none), CONVOYD_THREADS (default: convoyd's
# own), CONVOYD_FLAGS (more convoyd flags, e.g. "--max-batch 1"), and
# bench.sh's DURATION, WARMUP, CONNS, WRK_THREADS, ROUNDS.
# Needs: wrk curl make cc pkg-config libmicrohttpd-dev libcjson-dev (the
# Makefile's package list) and /usr/bin/python3 with numpy.
# Exit: bench.sh's (0 pass, 1 a target missed, 2 setup error); 1 also when
# convoyd does not exit 0 after SIGTERM. Loopback only; every process this
# script starts is stopped by its pid.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KIT=${PEER_KIT:-/work/shared/bench/http-peer}
BUILD=${BUILD:-$ROOT/build}
LOG_LEVEL=${CONVOYD_LOG_LEVEL:-warn}
CONNS=${CONNS:-64}
OWN_BENCH_OUT=
if [ -z "${BENCH_OUT:-}" ]; then
    BENCH_OUT=$(mktemp -d /tmp/http-peer-bench.XXXXXX)
    OWN_BENCH_OUT=1          # removed at the end: its raw output is copied into the result file
fi
export BENCH_OUT

die() { echo "run_peer_bench: $*" >&2; exit 2; }

[ -x "$KIT/bench.sh" ] || [ -f "$KIT/bench.sh" ] || die "no bench.sh in $KIT (set PEER_KIT)"
[[ $CONNS =~ ^[0-9]+$ ]] || die "CONNS must be an integer"
for t in wrk curl make cc pkg-config timeout; do
    command -v "$t" >/dev/null || die "$t missing (apt-get install wrk curl build-essential pkg-config libmicrohttpd-dev libcjson-dev)"
done

# ---- build ----------------------------------------------------------------
if [ -n "${CONVOYD_BIN:-}" ]; then
    BIN=$CONVOYD_BIN
else
    if [ ! -f "$BUILD/build.ninja" ]; then
        cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2 || die "configuring $BUILD failed"
    fi
    cmake --build "$BUILD" --target convoyd -j "${JOBS:-$(nproc)}" >&2 || die "building convoyd failed"
    BIN=$BUILD/bin/convoyd
fi
[ -x "$BIN" ] || die "no convoyd at $BIN"

# ---- convoyd on a free loopback port ----------------------------------------
TMP=$(mktemp -d /tmp/convoy-peer-bench.XXXXXX)
CONVOYD_PID=
cleanup() {
    if [ -n "$CONVOYD_PID" ]; then
        kill -KILL "$CONVOYD_PID" 2>/dev/null
        wait "$CONVOYD_PID" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# alive PID: running and not a zombie (kill -0 succeeds on an unreaped child)
alive() {
    local st
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ]
}
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

LIMIT=$((CONNS * 16 > 4096 ? CONNS * 16 : 4096))
FLAGS=(--max-queue-jobs "$LIMIT" --max-connections "$LIMIT" --log-level "$LOG_LEVEL"
       --result-store-bytes 1GiB --result-ttl-s 10)
[ -n "${CONVOYD_THREADS:-}" ] && FLAGS+=(--threads "$CONVOYD_THREADS")
# extra convoyd flags, split on spaces (e.g. CONVOYD_FLAGS="--max-batch 1"); later flags win
read -r -a EXTRA <<<"${CONVOYD_FLAGS:-}"
FLAGS+=("${EXTRA[@]}")
for _ in 1 2 3; do
    PORT=$(free_port)
    CMD=("$BIN" --listen "127.0.0.1:$PORT" --data-dir "$TMP/var" "${FLAGS[@]}")
    # CONVOY_* variables of the caller's shell would change the server under test
    mapfile -t UNSET < <(env | sed -n 's/^\(CONVOY_[A-Za-z0-9_]*\)=.*/-u\n\1/p')
    env "${UNSET[@]}" "${CMD[@]}" >"$TMP/convoyd.log" 2>&1 &
    CONVOYD_PID=$!
    ready=
    for _ in $(seq 300); do
        alive "$CONVOYD_PID" || break
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/readyz")" = 200 ]; then
            ready=1
            break
        fi
        sleep 0.1
    done
    [ -n "$ready" ] && break
    cleanup
    grep -qi 'in use' "$TMP/convoyd.log" || { cat "$TMP/convoyd.log" >&2; die "convoyd did not become ready"; }
done
[ -n "$ready" ] || die "convoyd did not become ready (ports in use)"

# ---- machine, then the kit ------------------------------------------------
CPU=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
COMMIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
echo "convoyd: ${CMD[*]} (pid $CONVOYD_PID)"
bash "$KIT/bench.sh" "http://127.0.0.1:$PORT" 2>&1 | tee "$TMP/bench.out"
BENCH_RC=${PIPESTATUS[0]}
RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$CONVOYD_PID/status" 2>/dev/null)

# ---- stop: SIGTERM drains, exit code must be 0 ----------------------------
kill -TERM "$CONVOYD_PID"
for _ in $(seq 900); do
    alive "$CONVOYD_PID" || break
    sleep 0.1
done
if alive "$CONVOYD_PID"; then
    STOP_RC="no exit 90 s after SIGTERM"
    kill -KILL "$CONVOYD_PID"
    wait "$CONVOYD_PID" 2>/dev/null
else
    wait "$CONVOYD_PID"
    STOP_RC=$?
fi
CONVOYD_PID=
if [ "$STOP_RC" = 0 ]; then
    echo "convoyd: exited 0 after SIGTERM"
else
    echo "convoyd: exit after SIGTERM: $STOP_RC (want 0) -> FAIL"
fi

# ---- result file ----------------------------------------------------------
mkdir -p "$ROOT/loadtest/results"
RES=$ROOT/loadtest/results/http-peer-$STAMP.md
{
    echo "# HTTP peers: convoyd vs bare libmicrohttpd (shared kit http-peer)"
    echo
    echo "- CPU: ${CPU:-unknown}, $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo), Linux $(uname -r)"
    echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (the kit prints how busy the cores were)"
    echo "- convoy $COMMIT; wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'); kit $KIT"
    echo "- convoyd exit after SIGTERM: $STOP_RC; RSS at the end of the run: $((${RSS_KB:-0} / 1024)) MiB"
    echo
    echo "## Command"
    echo
    echo '```'
    echo "ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-10} CONNS=$CONNS${CONVOYD_FLAGS:+ CONVOYD_FLAGS=\"$CONVOYD_FLAGS\"} $0"
    echo "convoyd: ${CMD[*]}"
    echo "bench:   bash $KIT/bench.sh http://127.0.0.1:$PORT"
    echo '```'
    echo
    echo "## Table (bench.sh output)"
    echo
    echo '```'
    cat "$TMP/bench.out"
    echo '```'
    echo
    echo "## Raw wrk output"
    for f in "$BENCH_OUT"/wrk-*.txt; do
        [ -f "$f" ] || continue
        echo
        echo "### $(basename "$f")"
        echo
        echo '```'
        cat "$f"
        echo '```'
    done
    echo
    echo "## results.txt"
    echo
    echo '```'
    cat "$BENCH_OUT/results.txt" 2>/dev/null
    echo '```'
    echo
    echo "## convoyd log (last 20 lines)"
    echo
    echo '```'
    tail -20 "$TMP/convoyd.log"
    echo '```'
} >"$RES"
echo "wrote ${RES#"$ROOT"/}"

[ -n "$OWN_BENCH_OUT" ] && rm -rf "$BENCH_OUT"
if [ "$STOP_RC" = 0 ]; then
    rm -rf "$TMP"
    exit "$BENCH_RC"
fi
echo "run_peer_bench: convoyd log kept in $TMP" >&2
[ "$BENCH_RC" = 2 ] && exit 2
exit 1
