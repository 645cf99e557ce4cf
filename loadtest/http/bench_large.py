#!/usr/bin/python3
"""bench_large.py — one large tensor through convoyd's HTTP front end, end to
end: a 64 MiB float32 .npy (256 x 256 x 256) goes in, the result comes back
as .npy (or .npz), timed from the first byte sent to the last byte received
on one loopback connection. Cases:
  dwt-npy        POST application/x-npy ?op=dwt&wavelet=haar&level=1&axes=0&select=a,
                 Accept: application/x-npy -> a (32 MiB)
  dwt-npz        the same without select, Accept: application/zip -> a, d1_d (64 MiB)
  sepconv-mpart  multipart spec + x.npy, sepconv Haar step along axis 0
                 (taps [s, s], stride 2), Accept: application/x-npy -> y (32 MiB)
GB/s = input bytes / end-to-end seconds (1 GB = 1e9 B). Target: >= 1 GB/s.
Beside it, the floor of what any server must pay to touch the bytes once:
a NumPy copy of the same array (np.copy), and NumPy computing the same Haar
step, both in this process. Every result is checked against NumPy.
Writes loadtest/results/http-large-<date>.md. Exit 0 when every case meets
the target, 1 when one misses, 2 setup error. Loopback only; REPEAT bounded.

  /usr/bin/python3 loadtest/http/bench_large.py [--mib 64] [--repeat 5]
      [--convoyd PATH | --build-dir DIR]
"""
import argparse
import http.client
import io
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

S = float(np.sqrt(0.5))
TIMEOUT_S = 300
BOUNDARY = "convoyLoadtestBoundary5a1f"


def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a, allow_pickle=False)
    return b.getvalue()


def post(port, path, body, headers):
    """One request on a fresh connection; returns (seconds, status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        t0 = time.perf_counter()
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        dt = time.perf_counter() - t0
        return dt, r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def cases(x, xb):
    a = (x[0::2] + x[1::2]) * np.float32(S)
    d = (x[0::2] - x[1::2]) * np.float32(S)
    spec = {"op": "sepconv", "filters": [{"axis": 0, "taps": [S, S], "stride": 2}]}
    mp = (("--%s\r\nContent-Disposition: form-data; name=\"spec\"\r\nContent-Type: application/json\r\n\r\n"
           "%s\r\n--%s\r\nContent-Disposition: form-data; name=\"x\"; filename=\"x.npy\"\r\n"
           "Content-Type: application/x-npy\r\n\r\n") % (BOUNDARY, json.dumps(spec), BOUNDARY)).encode() \
        + xb + ("\r\n--%s--\r\n" % BOUNDARY).encode()

    def one_npy(want):
        def check(h, body):
            got = np.load(io.BytesIO(body), allow_pickle=False)
            return None if got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-5) \
                else "result differs from NumPy (shape %s)" % (got.shape,)
        return check

    def npz_check(h, body):
        z = np.load(io.BytesIO(body), allow_pickle=False)
        if sorted(z.files) != ["a", "d1_d"]:
            return "npz members %s" % z.files
        for k, w in (("a", a), ("d1_d", d)):
            if z[k].shape != w.shape or not np.allclose(z[k], w, rtol=1e-5, atol=1e-5):
                return "%s differs from NumPy" % k
        return None

    q = "/v1/jobs?op=dwt&wavelet=haar&level=1&axes=0"
    return [
        ("dwt-npy", q + "&select=a", xb,
         {"Content-Type": "application/x-npy", "Accept": "application/x-npy"}, one_npy(a)),
        ("dwt-npz", q, xb, {"Content-Type": "application/x-npy", "Accept": "application/zip"}, npz_check),
        ("sepconv-mpart", "/v1/jobs", mp,
         {"Content-Type": "multipart/form-data; boundary=%s" % BOUNDARY, "Accept": "application/x-npy"},
         one_npy(a)),
    ]


def numpy_floor(x, repeat):
    def timed(fn):
        fn()
        ts = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return harness.median(ts)
    s32 = np.float32(S)
    return {"numpy copy": timed(lambda: np.copy(x)),
            "numpy haar step": timed(lambda: (x[0::2] + x[1::2]) * s32)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=64, help="input size in MiB, a multiple of 1 (1..1024)")
    ap.add_argument("--repeat", type=int, default=5, help="timed requests per case, after one warm-up (1..20)")
    ap.add_argument("--threads", type=int, default=0, help="convoyd --threads (default: its own)")
    ap.add_argument("--log-level", default="warn", help="convoyd --log-level")
    ap.add_argument("--target-gbs", type=float, default=1.0, help="GB/s target per case")
    ap.add_argument("--convoyd", help="convoyd binary (else $CONVOYD_BIN, else built in --build-dir)")
    ap.add_argument("--build-dir", help="build dir (default $BUILD or build/)")
    ap.add_argument("--no-save", action="store_true", help="do not write loadtest/results/")
    args = ap.parse_args()
    if not (1 <= args.mib <= 1024 and 1 <= args.repeat <= 20):
        ap.error("--mib 1..1024, --repeat 1..20")

    rows = args.mib * 4                      # rows of 256 x 256 float32 (256 KiB each)
    x = np.random.default_rng(0).standard_normal((rows, 256, 256), dtype=np.float32)
    xb = npy_bytes(x)
    nbytes = x.nbytes
    try:
        binary = harness.convoyd_binary(args.convoyd, args.build_dir)
        m = harness.machine()
        print(harness.machine_text(m), end="")
        print("input: float32 %s = %d MiB (.npy %d B); %d timed request(s) per case after 1 warm-up, "
              "one connection at a time" % (x.shape, nbytes >> 20, len(xb), args.repeat), flush=True)
        floor = numpy_floor(x, args.repeat)
        flags = ["--log-level", args.log_level, "--max-body-bytes", "4GiB",
                 "--result-store-bytes", "%dMiB" % max(256, 4 * args.mib)]
        if args.threads:
            flags += ["--threads", str(args.threads)]
        results, raw = [], []
        with harness.Convoyd(binary, flags) as srv:
            for name, path, body, headers, check in cases(x, xb):
                ts, err, out_bytes = [], None, 0
                for rep in range(args.repeat + 1):
                    dt, status, h, data = post(srv.port, path, body, headers)
                    if status != 200:
                        err = "HTTP %d %s" % (status, data[:300])
                        break
                    e = check(h, data)
                    if e:
                        err = e
                        break
                    out_bytes = len(data)
                    if rep:
                        ts.append(dt)
                        raw.append("%s rep=%d seconds=%.4f in_bytes=%d out_bytes=%d GB/s=%.3f"
                                   % (name, rep, dt, len(body), len(data), nbytes / dt / 1e9))
                        print(raw[-1], flush=True)
                rss = srv.rss_bytes()
                results.append({"case": name, "t": harness.median(ts) if ts else float("nan"),
                                "best": min(ts) if ts else float("nan"), "out": out_bytes, "err": err,
                                "rss": rss})
                if err:
                    raw.append("%s: %s" % (name, err))
                    print("%s: %s" % (name, err), flush=True)
            server_cmd = " ".join(srv.command())
    except harness.SetupError as e:
        print("bench_large: %s" % e, file=sys.stderr)
        return 2

    copy_gbs = nbytes / floor["numpy copy"] / 1e9
    table = ["| case | median s | GB/s (input / end to end) | best GB/s | out MiB | vs numpy copy | "
             "convoyd RSS MiB | verdict |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    ok_all = True
    for r in results:
        gbs = nbytes / r["t"] / 1e9 if r["t"] == r["t"] else 0.0
        ok = r["err"] is None and gbs >= args.target_gbs
        ok_all &= ok
        table.append("| %s | %.4f | %.2f | %.2f | %.1f | %.2f | %.0f | %s |"
                     % (r["case"], r["t"], gbs, nbytes / r["best"] / 1e9 if r["best"] == r["best"] else 0.0,
                        r["out"] / 2**20, gbs / copy_gbs, r["rss"] / 2**20,
                        ("PASS" if ok else "FAIL") + ("" if r["err"] is None else " (%s)" % r["err"][:80])))
    for k, t in floor.items():
        table.append("| %s (in process, floor) | %.4f | %.2f | | | %.2f | | |"
                     % (k, t, nbytes / t / 1e9, (nbytes / t / 1e9) / copy_gbs))
    verdict = "target: each case >= %.2f GB/s end to end -> %s" % (args.target_gbs, "PASS" if ok_all else "FAIL")
    print("\n" + "\n".join(table) + "\n\n" + verdict)
    if not args.no_save:
        body = ("## Result\n\n%s\n\n%s\n\nGB/s = %d input bytes / median end-to-end seconds (client sends "
                "the .npy, server computes, client reads the whole response), one request at a time on "
                "one loopback connection; the Python client shares the cores.\n\n## Raw output\n\n```\n%s\n```\n\n"
                "## Server\n\n```\n%s\n```\n" % ("\n".join(table), verdict, nbytes, "\n".join(raw), server_cmd))
        path = harness.write_result("http-large", "HTTP large tensor: %d MiB .npy end to end" % (nbytes >> 20),
                                    " ".join([sys.executable] + sys.argv), m, body)
        print("wrote %s" % os.path.relpath(path, harness.ROOT))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
