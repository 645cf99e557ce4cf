#!/usr/bin/python3
"""bench_batching.py — does dynamic batching pay through HTTP? The same JOBS
small dwt jobs (1-D haar, 1,024 float32 in as JSON data_b64, result as b64)
go over CONNS concurrent keep-alive connections to convoyd started with
--max-batch 64 and then with --max-batch 1 (the peer: the same server with
batching off), ROUNDS times, alternating. Prints jobs/s, p50/p99 latency and
the mean batch_size from the job JSON for each, and the ratio.
Target: jobs/s(max-batch 64) / jobs/s(max-batch 1) >= 1.0 and a mean
batch_size > 1 with max-batch 64 (batches must form). Every result is checked
against NumPy's Haar step. Writes loadtest/results/http-batching-<date>.md.
Exit 0 target met, 1 missed, 2 setup error. Loopback only; bounded by JOBS
and per-request timeouts.

  /usr/bin/python3 loadtest/http/bench_batching.py [--jobs 2000] [--conns 64]
      [--rounds 3] [--convoyd PATH | --build-dir DIR]
"""
import argparse
import base64
import http.client
import json
import os
import sys
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


def measure(binary, max_batch, bodies, xs, args):
    flags = ["--max-batch", str(max_batch), "--max-batch-delay-us", str(args.delay_us),
             "--max-queue-jobs", str(max(1024, 4 * args.conns)),
             "--max-connections", str(max(1024, 4 * args.conns)),
             "--log-level", args.log_level]
    if args.threads:
        flags += ["--threads", str(args.threads)]
    with harness.Convoyd(binary, flags) as srv:
        # unmeasured warm-up (first-touch, thread pools), same shape of load
        run_load(srv.port, bodies[: min(len(bodies), 4 * args.conns)], args.conns)
        wall, lat, statuses, responses = run_load(srv.port, bodies, args.conns)
        rss = srv.rss_bytes()
        cmd = " ".join(srv.command())
    bad = [i for i, s in enumerate(statuses) if s != 200]
    sizes, queue_ms, run_ms, wrong = [], [], [], []
    for i, body in enumerate(responses):
        if statuses[i] != 200:
            continue
        err = check_job(body, xs[i], args.level)
        if err:
            wrong.append((i, err))
            continue
        j = json.loads(body)
        sizes.append(j.get("batch_size") or 0)
        queue_ms.append(j.get("queue_ms") or 0.0)
        run_ms.append(j.get("run_ms") or 0.0)
    lat_ok = sorted(lat[i] for i in range(len(lat)) if statuses[i] == 200)
    detail = ""
    if bad:
        i = bad[0]
        detail = "first non-200: job %d HTTP %d %s" % (i, statuses[i], responses[i][:200])
    elif wrong:
        detail = "first wrong result: job %d: %s" % wrong[0]
    return {"max_batch": max_batch, "jobs_s": len(bodies) / wall, "wall_s": wall,
            "p50_ms": harness.percentile(lat_ok, 50) * 1e3, "p99_ms": harness.percentile(lat_ok, 99) * 1e3,
            "mean_batch": (sum(sizes) / len(sizes)) if sizes else 0.0,
            "max_batch_seen": max(sizes) if sizes else 0,
            "queue_ms": harness.median(queue_ms), "run_ms": harness.median(run_ms),
            "errors": len(bad), "wrong": len(wrong), "detail": detail, "rss_mib": rss / 2**20,
            "command": cmd}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2000, help="jobs per measured run (1..20000)")
    ap.add_argument("--conns", type=int, default=64, help="concurrent connections (1..256)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians (1..9)")
    ap.add_argument("--level", type=int, default=1, help="dwt level (1..10)")
    ap.add_argument("--delay-us", type=int, default=500, help="--max-batch-delay-us for both servers")
    ap.add_argument("--threads", type=int, default=0, help="convoyd --threads (default: its own)")
    ap.add_argument("--log-level", default="warn", help="convoyd --log-level (warn: no access log)")
    ap.add_argument("--convoyd", help="convoyd binary (else $CONVOYD_BIN, else built in --build-dir)")
    ap.add_argument("--build-dir", help="build dir (default $BUILD or build/)")
    ap.add_argument("--no-save", action="store_true", help="do not write loadtest/results/")
    args = ap.parse_args()
    if not (1 <= args.jobs <= 20000 and 1 <= args.conns <= 256 and 1 <= args.rounds <= 9
            and 1 <= args.level <= 10):
        ap.error("--jobs 1..20000, --conns 1..256, --rounds 1..9, --level 1..10")

    try:
        binary = harness.convoyd_binary(args.convoyd, args.build_dir)
        m = harness.machine()
        bodies, xs = make_bodies(args.jobs, args.level)
        print(harness.machine_text(m), end="")
        print("load: %d dwt jobs (haar, level %d, %d float32, data_b64, %d B bodies) over %d "
              "connections, %d round(s), alternating servers" %
              (args.jobs, args.level, N, len(bodies[0]), args.conns, args.rounds), flush=True)
        runs = {64: [], 1: []}
        raw = []
        for rnd in range(1, args.rounds + 1):
            for mb in (64, 1):
                r = measure(binary, mb, bodies, xs, args)
                runs[mb].append(r)
                line = ("round %d max_batch=%-2d jobs/s=%.0f wall_s=%.3f p50_ms=%.2f p99_ms=%.2f "
                        "mean_batch=%.2f max_batch_seen=%d job_queue_ms_p50=%.3f job_run_ms_p50=%.3f errors=%d "
                        "wrong=%d rss_mib=%.0f"
                        % (rnd, mb, r["jobs_s"], r["wall_s"], r["p50_ms"], r["p99_ms"], r["mean_batch"],
                           r["max_batch_seen"], r["queue_ms"], r["run_ms"], r["errors"], r["wrong"],
                           r["rss_mib"]))
                if r["detail"]:
                    line += "\n  " + r["detail"]
                print(line, flush=True)
                raw.append(line)
    except harness.SetupError as e:
        print("bench_batching: %s" % e, file=sys.stderr)
        return 2

    med = {mb: {k: harness.median([r[k] for r in rs]) for k in ("jobs_s", "p50_ms", "p99_ms", "mean_batch")}
           for mb, rs in runs.items()}
    errs = {mb: sum(r["errors"] + r["wrong"] for r in rs) for mb, rs in runs.items()}
    ratio = med[64]["jobs_s"] / med[1]["jobs_s"] if med[1]["jobs_s"] else 0.0
    table = ["| convoyd | jobs/s | p50 ms | p99 ms | mean batch_size | errors |",
             "|---|---:|---:|---:|---:|---:|"]
    for mb in (64, 1):
        table.append("| --max-batch %d | %.0f | %.2f | %.2f | %.2f | %d |"
                     % (mb, med[mb]["jobs_s"], med[mb]["p50_ms"], med[mb]["p99_ms"], med[mb]["mean_batch"],
                        errs[mb]))
    ok_ratio = ratio >= 1.0
    ok_batch = med[64]["mean_batch"] > 1.0
    ok = ok_ratio and ok_batch and errs[64] == 0 and errs[1] == 0
    verdict = ("ratio max-batch 64 / max-batch 1 = %.2f (need >= 1.00) -> %s\n"
               "mean batch_size with max-batch 64 = %.2f (need > 1) -> %s\n"
               "errors or wrong results: %d -> %s\n%s"
               % (ratio, "PASS" if ok_ratio else "FAIL", med[64]["mean_batch"], "PASS" if ok_batch else "FAIL",
                  errs[64] + errs[1], "PASS" if errs[64] + errs[1] == 0 else "FAIL", "PASS" if ok else "FAIL"))
    note = "(medians of %d rounds)" % args.rounds if args.rounds > 1 else ""
    print("\n" + "\n".join(table) + ("\n" + note if note else "") + "\n\n" + verdict)

    if not args.no_save:
        body = ("## Result %s\n\n%s\n\n```\n%s\n```\n\n## Raw output\n\n```\n%s\n```\n\n"
                "## Servers\n\n```\n%s\n%s\n```\n"
                % (note, "\n".join(table), verdict, "\n".join(raw),
                   runs[64][0]["command"], runs[1][0]["command"]))
        cmd = " ".join([sys.executable] + sys.argv)
        path = harness.write_result("http-batching", "HTTP batching: max-batch 64 vs 1", cmd, m, body)
        print("wrote %s" % os.path.relpath(path, harness.ROOT))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
