#!/usr/bin/python3
"""bench_batching.py — does dynamic batching pay through HTTP? Small dwt jobs
(1-D haar, 1,024 float32 in as JSON data_b64, result as b64) go to convoyd
started with --max-batch 64 and then with --max-batch 1 (the peer: the same
server with batching off), both with --inline-max-bytes 0 so that every job
takes the queue (an idle CPU would otherwise run such small jobs inline on
the HTTP thread, which never batches), ROUNDS times, alternating. A third
server, the default configuration (inline on, --max-batch 64), is measured
for context. Per server:
  1. correctness: JOBS distinct jobs over CONNS keep-alive connections from
     Python, every result checked against NumPy's Haar step;
  2. throughput: wrk (-c CONNS, DURATION s, after a 1 s warm-up) cycling
     through the same bodies; req/s, p50/p99 from wrk, the mean batch_size of
     the jobs from convoy_batch_size in /metrics (difference over the run).
Target: req/s(max-batch 64) / req/s(max-batch 1) >= 1.0 under wrk, a mean
batch_size > 1 with max-batch 64 (batches must form), no errors or wrong
results. Writes loadtest/results/http-batching-<date>.md. Exit 0 target met,
1 missed, 2 setup error. Loopback only; bounded by JOBS, DURATION and
per-request timeouts.

  /usr/bin/python3 loadtest/http/bench_batching.py [--jobs 2000] [--conns 64]
      [--rounds 3] [--duration 5] [--convoyd PATH | --build-dir DIR]
"""
import argparse
import base64
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N = 1024
REQUEST_TIMEOUT_S = 60


def make_bodies(jobs, level):
    """jobs distinct inputs (seeded), each a dwt spec body; returns (bodies, inputs)."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((jobs, N)).astype("<f4")
    bodies = []
    for x in xs:
        spec = {"op": "dwt", "wavelet": "haar", "level": level, "mode": "symmetric",
                "inputs": {"x": {"dtype": "float32", "shape": [N],
                                 "data_b64": base64.b64encode(x.tobytes()).decode()}},
                "result_encoding": "b64"}
        bodies.append(json.dumps(spec, separators=(",", ":")).encode())
    return bodies, xs


def haar_expected(x, level):
    """pywt.wavedecn(x, 'haar', level=level) for even lengths, as convoy names them."""
    s = np.float32(np.sqrt(0.5))
    out, a = {}, x.astype(np.float32)
    for j in range(1, level + 1):
        out["d%d_d" % j] = (a[0::2] - a[1::2]) * s
        a = (a[0::2] + a[1::2]) * s
    out["a"] = a
    return out


def check_job(body, x, level):
    j = json.loads(body)
    if j.get("state") != "succeeded":
        return "state %r error %r" % (j.get("state"), j.get("error"))
    want = haar_expected(x, level)
    got = j.get("outputs") or {}
    if set(got) != set(want):
        return "outputs %s, want %s" % (sorted(got), sorted(want))
    for name, w in want.items():
        o = got[name]
        if "data_b64" not in o:
            return "output %s has no data_b64" % name
        g = np.frombuffer(base64.b64decode(o["data_b64"]), dtype="<f4")
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-5, atol=1e-5):
            return "output %s differs from NumPy's Haar step" % name
    return None


def run_load(port, bodies, conns):
    """Sends every body once over `conns` keep-alive connections; returns
    (wall_s, latencies_s, statuses, responses) with responses[i] for body i."""
    n = len(bodies)
    responses = [None] * n
    statuses = [0] * n
    lat = [0.0] * n
    nxt = [0]
    lock = threading.Lock()
    start = threading.Barrier(conns + 1)

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        hdr = {"Content-Type": "application/json", "Accept": "application/json"}
        start.wait()
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            t0 = time.perf_counter()
            try:
                c.request("POST", "/v1/jobs", body=bodies[i], headers=hdr)
                r = c.getresponse()
                data = r.read()
                statuses[i] = r.status
                responses[i] = data
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
            except (OSError, http.client.HTTPException) as e:
                statuses[i] = -1
                responses[i] = repr(e).encode()
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
            lat[i] = time.perf_counter() - t0
        c.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(conns)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(REQUEST_TIMEOUT_S * (n // conns + 2))
    wall = time.perf_counter() - t0
    if any(t.is_alive() for t in threads):
        raise harness.SetupError("load threads did not finish")
    return wall, lat, statuses, responses


def metric_sum_count(port, name):
    """(sum, count) of a Prometheus histogram from /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    vals = []
    for suffix in ("_sum", "_count"):
        m = re.search(r"^%s%s (\S+)$" % (name, suffix), text, re.M)
        if not m:
            raise harness.SetupError("/metrics has no %s%s" % (name, suffix))
        vals.append(float(m.group(1)))
    return vals[0], vals[1]


WRK_LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "post_bodies.lua")


def run_wrk(port, bodies_file, conns, duration):
    """wrk against POST /v1/jobs; returns (req_s, p50_ms, p99_ms, non_2xx, raw)."""
    url = "http://127.0.0.1:%d/v1/jobs" % port
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % duration, "--latency", "-s", WRK_LUA, url, "--", bodies_file]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout

    def num(pat, unit_ms=False):
        m = re.search(pat, out)
        if not m:
            return None
        v = float(m.group(1))
        if unit_ms:
            u = m.group(2)
            v = v * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
        return v
    rps = num(r"Requests/sec:\s+([\d.]+)")
    if rps is None:
        raise harness.SetupError("wrk printed no Requests/sec:\n" + out)
    p50 = num(r"\s50%\s+([\d.]+)(us|ms|s)\b", True)
    p99 = num(r"\s99%\s+([\d.]+)(us|ms|s)\b", True)
    non2xx = int(num(r"Non-2xx or 3xx responses:\s+(\d+)") or 0)
    return rps, p50, p99, non2xx, " ".join(cmd) + "\n" + out


def measure(binary, label, flags_extra, bodies, bodies_file, xs, args):
    flags = ["--max-batch-delay-us", str(args.delay_us),
             "--max-queue-jobs", str(max(1024, 4 * args.conns)),
             "--max-connections", str(max(1024, 4 * args.conns)),
             "--log-level", args.log_level] + flags_extra
    if args.threads:
        flags += ["--threads", str(args.threads)]
    with harness.Convoyd(binary, flags) as srv:
        # correctness, distinct inputs, from Python (also the warm-up)
        _, _, statuses, responses = run_load(srv.port, bodies, args.conns)
        run_wrk(srv.port, bodies_file, args.conns, 1)   # unmeasured warm-up
        s0, c0 = metric_sum_count(srv.port, "convoy_batch_size")
        rps, p50, p99, non2xx, raw = run_wrk(srv.port, bodies_file, args.conns, args.duration)
        s1, c1 = metric_sum_count(srv.port, "convoy_batch_size")
        rss = srv.rss_bytes()
        cmd = " ".join(srv.command())
    bad = [i for i, s in enumerate(statuses) if s != 200]
    wrong = []
    for i, body in enumerate(responses):
        if statuses[i] != 200:
            continue
        err = check_job(body, xs[i], args.level)
        if err:
            wrong.append((i, err))
    detail = ""
    if bad:
        i = bad[0]
        detail = "first non-200: job %d HTTP %d %s" % (i, statuses[i], responses[i][:200])
    elif wrong:
        detail = "first wrong result: job %d: %s" % wrong[0]
    return {"label": label, "jobs_s": rps, "p50_ms": p50 or 0.0, "p99_ms": p99 or 0.0,
            "mean_batch": (s1 - s0) / (c1 - c0) if c1 > c0 else 0.0, "jobs": int(c1 - c0),
            "errors": len(bad) + non2xx, "wrong": len(wrong), "detail": detail, "rss_mib": rss / 2**20,
            "command": cmd, "wrk": raw}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2000, help="jobs per measured run (1..20000)")
    ap.add_argument("--conns", type=int, default=64, help="concurrent connections (1..256)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians (1..9)")
    ap.add_argument("--level", type=int, default=1, help="dwt level (1..10)")
    ap.add_argument("--duration", type=int, default=5, help="wrk seconds per server and round (1..60)")
    ap.add_argument("--delay-us", type=int, default=500, help="--max-batch-delay-us for both servers")
    ap.add_argument("--threads", type=int, default=0, help="convoyd --threads (default: its own)")
    ap.add_argument("--log-level", default="warn", help="convoyd --log-level (warn: no access log)")
    ap.add_argument("--convoyd", help="convoyd binary (else $CONVOYD_BIN, else built in --build-dir)")
    ap.add_argument("--build-dir", help="build dir (default $BUILD or build/)")
    ap.add_argument("--no-save", action="store_true", help="do not write loadtest/results/")
    args = ap.parse_args()
    if not (1 <= args.jobs <= 20000 and 1 <= args.conns <= 256 and 1 <= args.rounds <= 9
            and 1 <= args.level <= 10 and 1 <= args.duration <= 60):
        ap.error("--jobs 1..20000, --conns 1..256, --rounds 1..9, --level 1..10")

    try:
        binary = harness.convoyd_binary(args.convoyd, args.build_dir)
        m = harness.machine()
        bodies, xs = make_bodies(args.jobs, args.level)
        print(harness.machine_text(m), end="")
        print("load: %d dwt jobs (haar, level %d, %d float32, data_b64, %d B bodies) over %d "
              "connections, %d round(s), alternating servers" %
              (args.jobs, args.level, N, len(bodies[0]), args.conns, args.rounds), flush=True)
        configs = [("--max-batch 64 --inline-max-bytes 0", ["--max-batch", "64", "--inline-max-bytes", "0"]),
                   ("--max-batch 1 --inline-max-bytes 0", ["--max-batch", "1", "--inline-max-bytes", "0"]),
                   ("defaults (--max-batch 64, inline on)", [])]
        runs = {c[0]: [] for c in configs}
        raw, wrk_raw = [], []
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for b in bodies:
                f.write(b.decode() + "\n")
            bodies_file = f.name
        try:
            for rnd in range(1, args.rounds + 1):
                for label, extra in configs:
                    r = measure(binary, label, extra, bodies, bodies_file, xs, args)
                    runs[label].append(r)
                    line = ("round %d [%s] req/s=%.0f p50_ms=%.2f p99_ms=%.2f mean_batch=%.2f jobs=%d "
                            "errors=%d wrong=%d rss_mib=%.0f"
                            % (rnd, label, r["jobs_s"], r["p50_ms"], r["p99_ms"], r["mean_batch"], r["jobs"],
                               r["errors"], r["wrong"], r["rss_mib"]))
                    if r["detail"]:
                        line += "\n  " + r["detail"]
                    print(line, flush=True)
                    raw.append(line)
                    wrk_raw.append("# round %d [%s]\n%s" % (rnd, label, r["wrk"]))
        finally:
            os.unlink(bodies_file)
    except (harness.SetupError, subprocess.SubprocessError, OSError) as e:
        print("bench_batching: %s" % e, file=sys.stderr)
        return 2

    med = {lb: {k: harness.median([r[k] for r in rs]) for k in ("jobs_s", "p50_ms", "p99_ms", "mean_batch")}
           for lb, rs in runs.items()}
    errs = {lb: sum(r["errors"] + r["wrong"] for r in rs) for lb, rs in runs.items()}
    A, B, C = configs[0][0], configs[1][0], configs[2][0]
    ratio = med[A]["jobs_s"] / med[B]["jobs_s"] if med[B]["jobs_s"] else 0.0
    table = ["| convoyd | req/s (wrk) | p50 ms | p99 ms | mean batch_size | errors |",
             "|---|---:|---:|---:|---:|---:|"]
    for lb, _ in configs:
        table.append("| %s | %.0f | %.2f | %.2f | %.2f | %d |"
                     % (lb, med[lb]["jobs_s"], med[lb]["p50_ms"], med[lb]["p99_ms"], med[lb]["mean_batch"],
                        errs[lb]))
    ok_ratio = ratio >= 1.0
    ok_batch = med[A]["mean_batch"] > 1.0
    n_err = sum(errs.values())
    ok = ok_ratio and ok_batch and n_err == 0
    verdict = ("ratio [%s] / [%s] = %.2f (need >= 1.00) -> %s\n"
               "mean batch_size with max-batch 64 = %.2f (need > 1) -> %s\n"
               "errors or wrong results: %d -> %s\n"
               "(context: the defaults, small jobs inline on an idle CPU: %.2fx the max-batch 1 queue)\n%s"
               % (A, B, ratio, "PASS" if ok_ratio else "FAIL", med[A]["mean_batch"], "PASS" if ok_batch else "FAIL",
                  n_err, "PASS" if n_err == 0 else "FAIL",
                  med[C]["jobs_s"] / med[B]["jobs_s"] if med[B]["jobs_s"] else 0.0, "PASS" if ok else "FAIL"))
    note = "(medians of %d rounds)" % args.rounds if args.rounds > 1 else ""
    print("\n" + "\n".join(table) + ("\n" + note if note else "") + "\n\n" + verdict)

    if not args.no_save:
        body = ("## Result %s\n\n%s\n\n```\n%s\n```\n\n## Raw output\n\n```\n%s\n```\n\n"
                "## wrk output\n\n```\n%s\n```\n\n## Servers\n\n```\n%s\n```\n"
                % (note, "\n".join(table), verdict, "\n".join(raw), "\n".join(wrk_raw),
                   "\n".join(runs[lb][0]["command"] for lb, _ in configs)))
        cmd = " ".join([sys.executable] + sys.argv)
        path = harness.write_result("http-batching", "HTTP batching: max-batch 64 vs 1 (queue path), under wrk",
                                    cmd, m, body)
        print("wrote %s" % os.path.relpath(path, harness.ROOT))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
