"""bench_conv.py — convoy's CPU conv beside PyTorch's (torch.nn.functional.conv*d
at the same thread count), through `convoy bench`. For each case, --rounds
times in turn: torch's median of --repeat runs after warm-up, then convoy's
(`convoy bench --repeat`, outputs allocated each run); each side reports its
best round (other tenants on a shared machine only ever slow a round down).
Ratio = torch/convoy (>= 1: convoy is faster). torch's float64 reference
runs before its timing, which also warms glibc's allocator (torch's output
buffers then come from the heap instead of fresh mmaps: 4-13x faster for
small convs here), so torch is timed at its best. Also convoy's conv workspace bytes and implementation (one `convoy run`
with CONVOY_CONV_VERBOSE=1) and its max error against torch. Prints a table;
--json prints the rows as a JSON list instead (for loadtest/ops/bench.py).
Run with Debian's interpreter: CONVOY_BIN=build/bin/convoy /usr/bin/python3 bench_conv.py"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# name, x shape, w shape, spec params, torch kwargs, target ratio (None: report only)
CASES = [
    ("conv3d 3x3x3 32->32 pad 1", (1, 32, 16, 64, 64), (32, 32, 3, 3, 3), {"padding": 1}, {"padding": 1}, 1.0),
    ("conv3d (2,1,1) stride (2,1,1)", (1, 1, 256, 256, 256), (1, 1, 2, 1, 1), {"stride": [2, 1, 1]},
     {"stride": (2, 1, 1)}, None),
    ("conv2d 3x3 64->64 pad 1", (1, 64, 128, 128), (64, 64, 3, 3), {"padding": 1}, {"padding": 1}, None),
    ("conv2d depthwise 3x3 C=64 same", (1, 64, 128, 128), (64, 1, 3, 3), {"padding": "same", "groups": 64},
     {"padding": "same", "groups": 64}, None),
    ("conv1d 9 taps 4->8 dil 2", (8, 4, 65536), (8, 4, 9), {"dilation": 2}, {"dilation": 2}, None),
]


def median_ms(fn, repeat, warmup):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2] * 1e3


def convoy_args(binary, verb, spec_path, inputs):
    args = [binary, verb, spec_path]
    for name, path in inputs.items():
        args += ["-i", f"{name}={path}"]
    return args


def run_case(case, binary, tmp, repeat, threads, rounds):
    import torch
    import torch.nn.functional as F

    name, xs, ws, params, tkw, target = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
    xp, wp, sp, op = (os.path.join(tmp, f) for f in ("x.npy", "w.npy", "spec.json", "out.npz"))
    np.save(xp, x)
    np.save(wp, w)
    with open(sp, "w") as f:
        json.dump(dict({"op": "conv"}, **params), f)
    inputs = {"x": xp, "w": wp}

    fn = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(ws)]
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    with torch.no_grad():
        ref = fn(xt.double(), wt.double(), **tkw).numpy()
    args = convoy_args(binary, "bench", sp, inputs) + ["--repeat", str(repeat), "--warmup", "2",
                                                       "--threads", str(threads)]
    peer, mine = [], []
    for _ in range(rounds):
        with torch.no_grad():
            peer.append(median_ms(lambda: fn(xt, wt, **tkw), repeat, 2))
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
        mine.append(json.loads(p.stdout.strip().splitlines()[-1])["median_ms"])
    peer_ms, convoy_ms = min(peer), min(mine)

    # one verbose run: workspace, implementation, and the result against torch (float64)
    env = dict(os.environ, CONVOY_CONV_VERBOSE="1", CONVOY_THREADS=str(threads))
    args = convoy_args(binary, "run", sp, inputs) + ["-o", op]
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    m = re.search(r"convoy conv: algo=(\S+) impl=(\S+) .*workspace_bytes=(\d+)", p.stderr)
    y = np.load(op)["y"]
    err = float(np.max(np.abs(y - ref)) / max(np.max(np.abs(ref)), 1e-30)) if y.shape == ref.shape else float("inf")
    ratio = peer_ms / convoy_ms
    return {
        "bench": "conv", "case": name, "x": list(xs), "w": list(ws), "dtype": "float32", "threads": threads,
        "spec": dict({"op": "conv"}, **params),
        "convoy_ms": round(convoy_ms, 3), "peer": f"torch {torch.__version__} {fn.__name__}",
        "peer_ms": round(peer_ms, 3), "ratio": round(ratio, 3), "rounds": rounds,
        "convoy_ms_rounds": [round(v, 3) for v in mine], "peer_ms_rounds": [round(v, 3) for v in peer],
        "target": f">= {target}x torch" if target else None, "met": (ratio >= target) if target else None,
        "algo": m.group(1) if m else None, "impl": m.group(2) if m else None,
        "workspace_bytes": int(m.group(3)) if m else None, "max_rel_err": err,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--convoy", default=os.environ.get("CONVOY_BIN", os.path.join(ROOT, "build", "bin", "convoy")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="alternating torch/convoy rounds; best of each")
    ap.add_argument("--cases", default=None, help="substring filter on case names")
    ap.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    args = ap.parse_args()
    if not os.access(args.convoy, os.X_OK):
        sys.exit(f"bench_conv: no convoy binary at {args.convoy} (set CONVOY_BIN or --convoy)")
    import torch
    torch.set_num_threads(args.threads)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if args.cases and args.cases not in case[0]:
                continue
            rows.append(run_case(case, args.convoy, tmp, args.repeat, args.threads, args.rounds))
    if args.json:
        print(json.dumps(rows))
        return
    print(f"threads {args.threads}; best of {args.rounds} alternating rounds, each the median of {args.repeat} runs "
          f"after warm-up; ratio = torch ms / convoy ms")
    print(f"{'case':34} {'convoy ms':>10} {'torch ms':>10} {'ratio':>7} {'workspace B':>12} {'max err':>9}  impl")
    for r in rows:
        mark = "" if r["met"] is None else ("  MET" if r["met"] else "  MISSED")
        print(f"{r['case']:34} {r['convoy_ms']:10.2f} {r['peer_ms']:10.2f} {r['ratio']:6.2f}x "
              f"{r['workspace_bytes'] if r['workspace_bytes'] is not None else '?':>12} {r['max_rel_err']:9.1e}  "
              f"{r['algo']}:{r['impl']}{mark}")


if __name__ == "__main__":
    main()
