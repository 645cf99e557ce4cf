#!/usr/bin/env python3
"""gpu_bench.py — convoy's CUDA kernels against their peers on the same GPU,
in one run (shared device.md, "Measuring"): runs build-gpu/bin/gpu_bench
(convoy's kernels on device-resident data, CUDA events, median of 15, with a
device-to-device copy of the same bytes), then the peers with the same
timing rules — PyTorch conv3d (cuDNN) for the Haar stride-2 step, ptwt
(PyTorch) for the 3-D wavedec, CuPy/PyTorch copies for bandwidth — and prints
one table with ratios (peer ms / convoy ms: above 1 means convoy is faster).

Usage: gpu_bench.py --bin build-gpu/bin/gpu_bench [--quick]
Needs torch with CUDA; ptwt and PyWavelets from .device/whl (PYTHONPATH)."""
import argparse
import statistics
import subprocess
import sys

WARMUP, RUNS = 3, 15


def cuda_median_ms(fn):
    import torch
    for _ in range(WARMUP):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(RUNS):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def run_convoy(binary, quick):
    out = subprocess.run([binary] + (["--quick"] if quick else []), capture_output=True, text=True)
    print(out.stdout, end="")
    if out.returncode != 0:
        print(out.stderr, end="", file=sys.stderr)
    res = {}
    for line in out.stdout.splitlines():
        if line.startswith("convoy "):
            f = line.split()
            res[f[1]] = {k: float(v) for k, v in (kv.split("=") for kv in f[2:])}
    return res, out.returncode


def peers(quick):
    import torch
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    res = {}
    s = 0.7071067811865476
    for n in ([512] if quick else [512, 1024]):
        x = torch.randn(1, 1, n, n, n, device=dev)
        w = torch.full((1, 1, 2, 1, 1), s, device=dev)
        conv = lambda: torch.nn.functional.conv3d(x, w, stride=(2, 1, 1))
        y = torch.empty_like(x)
        res[f"sepconv_haar_s2_axis0_{n}3_f32"] = {
            "torch.conv3d(cudnn)": cuda_median_ms(conv),
            "torch copy": cuda_median_ms(lambda: y.copy_(x)),
        }
        del x, y
        torch.cuda.empty_cache()
    try:
        import ptwt
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"# ptwt unavailable: {e}")
        ptwt = None
    x = torch.randn(1, 512, 512, 512, device=dev)
    h = torch.tensor([s, s], device=dev)
    g = torch.tensor([-s, s], device=dev)
    k = torch.stack([torch.einsum("i,j,k->ijk", a, b, c) for a in (h, g) for b in (h, g) for c in (h, g)])
    r = {"torch.conv3d 8 filters s2": cuda_median_ms(lambda: torch.nn.functional.conv3d(x[:, None], k[:, None], stride=2))}
    if ptwt:
        r["ptwt.wavedec3"] = cuda_median_ms(lambda: ptwt.wavedec3(x, "haar", level=1, mode="zero"))
    res["dwt_haar_L1_512^3_f32"] = r
    del x
    torch.cuda.empty_cache()
    if ptwt:
        x = torch.randn(4, 256, 256, 256, device=dev)
        r = {}
        for mode in ("symmetric", "zero"):
            try:
                r[f"ptwt.wavedec3 {mode}"] = cuda_median_ms(lambda: ptwt.wavedec3(x, "db4", level=3, mode=mode))
            except Exception as e:  # noqa: BLE001
                print(f"# ptwt db4 mode {mode}: {e}")
        res["dwt_db4_L3_4x256^3_f32"] = r
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    conv, rc = run_convoy(a.bin, a.quick)
    try:
        import torch
        print(f"# torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
        pr = peers(a.quick)
    except Exception as e:  # noqa: BLE001
        print(f"# peers failed: {e}")
        pr = {}
    print()
    print(f"{'case':34} {'convoy ms':>10} {'GB/s':>7} {'copy GB/s':>9}  {'peer':28} {'peer ms':>9} {'peer/convoy':>11}")
    for case, c in conv.items():
        rows = pr.get(case, {}) or {"-": float("nan")}
        for i, (peer, ms) in enumerate(rows.items()):
            head = f"{case:34} {c['ms']:10.3f} {c['gbps']:7.1f} {c['copy_gbps']:9.1f}" if i == 0 else " " * 64
            print(f"{head}  {peer:28} {ms:9.3f} {ms / c['ms']:11.2f}")
    return rc if conv else 1


if __name__ == "__main__":
    sys.exit(main())
