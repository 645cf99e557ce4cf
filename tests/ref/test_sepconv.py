"""test_sepconv — the sepconv op through the convoy CLI, against PyTorch
F.conv1d (float64, CPU) on inputs padded with pywt.pad, torch conv3d for the
Haar step, scipy.signal.convolve(mode="same") for flip with "same", and the
error contract (exit 2, code, field). Env: CONVOY_BIN (the CLI)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pywt
import scipy.signal
import torch
import torch.nn.functional as F

BIN = os.environ.get("CONVOY_BIN")
if not BIN:
    sys.exit("CONVOY_BIN is not set (path to the convoy CLI)")
torch.set_num_threads(1)
RNG = np.random.default_rng(20240611)
TMP = tempfile.TemporaryDirectory(prefix="convoy_sepconv_")
MODES = ["zero", "constant", "symmetric", "reflect", "periodic", "smooth", "antisymmetric", "antireflect"]
passed, failed = 0, []


def run(spec, x=None):
    """Runs one spec; returns (exit code, stdout JSON, y or None)."""
    sp = os.path.join(TMP.name, "spec.json")
    with open(sp, "w") as f:
        json.dump(spec, f)
    args = [BIN, "run", sp]
    out = os.path.join(TMP.name, "out.npz")
    if os.path.exists(out):
        os.remove(out)
    if x is not None:
        xp = os.path.join(TMP.name, "x.npy")
        np.save(xp, x)
        args += ["-i", "x=" + xp, "-o", out]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    try:
        js = json.loads(p.stdout) if p.stdout.strip() else None
    except json.JSONDecodeError:
        js = None
    y = None
    if p.returncode == 0 and x is not None:
        with np.load(out) as z:
            y = z["y"]
    return p.returncode, js, y, p.stderr


def ref_filter(x, f, opflip=False):
    """One filter by the book: pywt.pad along the axis, then F.conv1d (float64)."""
    axis = f["axis"] % x.ndim
    taps = np.asarray(f["taps"], dtype=np.float64)
    k, s, d = len(taps), f.get("stride", 1), f.get("dilation", 1)
    flip = f.get("flip", opflip)
    pad = f.get("padding", "valid")
    if pad == "valid":
        lo = hi = 0
    elif pad == "same":
        total = d * (k - 1)
        lo = total - total // 2 if flip else total // 2
        hi = total - lo
    elif isinstance(pad, int):
        lo = hi = pad
    else:
        lo, hi = pad
    if np.iscomplexobj(x):
        return ref_filter(x.real, f, opflip) + 1j * ref_filter(x.imag, f, opflip)
    xm = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    lead = xm.shape[:-1]
    rows = xm.reshape(-1, xm.shape[-1])
    if lo or hi:  # row by row: pywt 1.1's n-D pad mishandles smooth and antisymmetric
        mode = f.get("mode", "zero")
        rows = np.stack([pywt.pad(r, (lo, hi), mode) for r in rows]) if rows.shape[0] else \
            np.zeros((0, rows.shape[1] + lo + hi))
    w = taps[::-1].copy() if flip else taps
    y = F.conv1d(torch.from_numpy(np.ascontiguousarray(rows))[:, None, :],
                 torch.from_numpy(w)[None, None, :], stride=s, dilation=d)[:, 0, :].numpy()
    return np.moveaxis(y.reshape(lead + (y.shape[-1],)), -1, axis)


def reference(x, spec):
    y = x
    for f in spec["filters"]:
        y = ref_filter(y, f, spec.get("flip", False))
    return y


def check(name, spec, x, want=None, rtol=None, dtype=None):
    """Runs spec on x and compares y with want (default: the F.conv1d reference)."""
    global passed
    try:
        rc, js, y, err = run(spec, x)
        if rc != 0:
            raise AssertionError(f"exit {rc}: {js} {err.strip()[:300]}")
        if want is None:
            want = reference(x, spec)
        if y.shape != want.shape:
            raise AssertionError(f"shape {y.shape}, want {want.shape}")
        if dtype is not None and y.dtype != np.dtype(dtype):
            raise AssertionError(f"dtype {y.dtype}, want {dtype}")
        if rtol is None:
            rtol = 1e-5 if y.dtype in (np.float32, np.complex64) else 1e-10
        scale = max(float(np.max(np.abs(want))) if want.size else 0.0, 1e-30)
        e = float(np.max(np.abs(y.astype(np.complex128) - want))) if want.size else 0.0
        if not e <= rtol * scale:
            raise AssertionError(f"max error {e:.3g} > {rtol:g} x {scale:.3g}")
        passed += 1
    except Exception as ex:  # noqa: BLE001 — every failure is reported by name
        failed.append(f"{name}: {ex}")


def check_error(name, spec, x, code, field):
    global passed
    rc, js, _, err = run(spec, x)
    got = (js or {}).get("error") or {}
    if rc == 2 and got.get("code") == code and got.get("field") == field and got.get("message"):
        passed += 1
    else:
        failed.append(f"{name}: exit {rc}, error {got}, want exit 2 {code} {field} {err.strip()[:200]}")


def rand(*shape, dtype=np.float64):
    a = RNG.standard_normal(shape)
    if np.issubdtype(np.dtype(dtype), np.complexfloating):
        a = a + 1j * RNG.standard_normal(shape)
    return a.astype(dtype)


def taps(k):
    return [float(v) for v in RNG.standard_normal(k)]


# ---- every mode, against F.conv1d on pywt.pad ----
for mode in MODES:
    for s, d in [(1, 1), (2, 1), (2, 2), (3, 1)]:
        spec = {"op": "sepconv", "filters": [{"axis": 1, "taps": taps(4), "stride": s, "dilation": d,
                                               "padding": [3, 6], "mode": mode}]}
        check(f"mode {mode} s{s} d{d}", spec, rand(5, 37))
    # padding longer than the input, along a strided axis and along rows
    for n in ([2, 3, 4] if mode == "smooth" else [1, 2, 3, 4]):
        spec = {"op": "sepconv", "filters": [{"axis": 0, "taps": taps(3), "padding": [11, 8], "mode": mode}]}
        check(f"mode {mode} long padding n={n} axis 0", spec, rand(n, 20))
        spec["filters"][0]["axis"] = -1
        check(f"mode {mode} long padding n={n} last axis", spec, rand(3, n))
    spec = {"op": "sepconv", "filters": [{"axis": 0, "taps": taps(5), "padding": "same", "mode": mode}]}
    check(f"mode {mode} same along axis 0 of 3-D", spec, rand(6, 5, 40))

# ---- parameters ----
x1 = rand(4, 50)
for name, f in [
    ("valid", {"padding": "valid"}),
    ("default padding", {}),
    ("int padding", {"padding": 2}),
    ("list padding", {"padding": [0, 5]}),
    ("stride 3", {"stride": 3, "padding": 1}),
    ("dilation 3", {"dilation": 3}),
    ("stride 2 dilation 2 same", {"stride": 2, "dilation": 2, "padding": "same"}),
    ("same odd taps", {"padding": "same", "taps": taps(5)}),
    ("same even taps", {"padding": "same"}),
    ("same stride 2", {"padding": "same", "stride": 2}),
    ("same stride 3 even", {"padding": "same", "stride": 3, "taps": taps(6)}),
    ("flip", {"flip": True, "padding": [1, 2]}),
    ("flip false", {"flip": False, "padding": [1, 2]}),
    ("single tap", {"taps": [2.5]}),
    ("long filter", {"taps": taps(40), "padding": "same", "mode": "reflect"}),
]:
    f = dict({"axis": 1, "taps": taps(4)}, **f)
    spec = {"op": "sepconv", "filters": [f]}
    check(f"param {name}", spec, x1)
    if f.get("padding") == "same":
        n, s = x1.shape[1], f.get("stride", 1)
        rc, js, y, _ = run(spec, x1)
        if rc != 0 or y.shape[1] != -(-n // s):
            failed.append(f"param {name}: same with stride {s} gives {None if y is None else y.shape}, want ceil(n/s)")
        else:
            passed += 1

# ---- flip + "same" equals scipy.signal.convolve(mode="same"), even taps too ----
for k in [2, 3, 4, 7, 8]:
    t = taps(k)
    v = rand(31)
    check(f"flip same k={k} vs scipy", {"op": "sepconv", "filters": [{"axis": 0, "taps": t, "padding": "same",
                                                                      "flip": True}]},
          v, want=scipy.signal.convolve(v, np.array(t), mode="same"))
    m2 = rand(6, 17)
    check(f"op-level flip same k={k} vs scipy 2-D", {"op": "sepconv", "flip": True,
                                                     "filters": [{"axis": 1, "taps": t, "padding": "same"}]},
          m2, want=scipy.signal.convolve(m2, np.array(t)[None, :], mode="same"))
# a filter's own flip overrides the op-level one
spec = {"op": "sepconv", "flip": True, "filters": [{"axis": 0, "taps": [1.0, 2.0, -1.0], "padding": "same",
                                                    "flip": False}]}
v = rand(20)
check("filter flip false beats op flip", spec, v, want=ref_filter(v, spec["filters"][0], False))

# ---- several filters over several axes ----
x3 = rand(9, 10, 11)
spec = {"op": "sepconv", "filters": [
    {"axis": 2, "taps": taps(2), "stride": 2},
    {"axis": 0, "taps": taps(3), "padding": "same", "mode": "symmetric"},
    {"axis": -2, "taps": taps(4), "stride": 2, "padding": [2, 1], "mode": "periodic"}]}
check("three axes of 3-D", spec, x3)
spec = {"op": "sepconv", "filters": [
    {"axis": 0, "taps": taps(2), "stride": 2, "mode": "reflect", "padding": 1},
    {"axis": 1, "taps": taps(3), "padding": "same", "mode": "smooth"},
    {"axis": 0, "taps": taps(2), "stride": 2, "padding": "same", "mode": "antireflect", "flip": True}]}
check("two filters on one axis + one other (2-D)", spec, rand(33, 21))
spec = {"op": "sepconv", "filters": [{"axis": a, "taps": [0.70710678, 0.70710678], "stride": 2} for a in (0, 1, 2)]}
check("3-D Haar step on every axis", spec, rand(16, 12, 10))
spec = {"op": "sepconv", "filters": [{"axis": -1, "taps": taps(3), "padding": "same", "mode": "constant"},
                                     {"axis": -3, "taps": taps(5), "dilation": 2, "padding": [4, 4],
                                      "mode": "antisymmetric"}]}
check("negative axes of 4-D", spec, rand(12, 3, 4, 15))

# ---- the Haar step along axis 0 equals torch conv3d with a (2,1,1) kernel, stride (2,1,1) ----
vol = rand(16, 9, 7, dtype=np.float32)
h = 0.70710678
want = F.conv3d(torch.from_numpy(vol)[None, None], torch.full((1, 1, 2, 1, 1), h, dtype=torch.float32),
                stride=(2, 1, 1))[0, 0].numpy()
check("Haar step vs conv3d (float32)", {"op": "sepconv", "filters": [{"axis": 0, "taps": [h, h], "stride": 2}]},
      vol, want=want.astype(np.float64), dtype="float32")

# ---- dtypes ----
spec = {"op": "sepconv", "filters": [{"axis": 1, "taps": taps(5), "stride": 2, "padding": "same",
                                      "mode": "symmetric"},
                                     {"axis": 0, "taps": taps(3), "padding": [2, 2], "mode": "reflect"}]}
check("float32", spec, rand(20, 64, dtype=np.float32), dtype="float32")
check("float64", spec, rand(20, 64), dtype="float64")
check("complex64", spec, rand(20, 64, dtype=np.complex64), dtype="complex64")
check("complex128", spec, rand(20, 64, dtype=np.complex128), dtype="complex128")
xi = RNG.integers(-1000, 1000, size=(20, 64)).astype(np.int16)
check("int16 -> float64", spec, xi, dtype="float64")
check("bool -> float64", spec, RNG.integers(0, 2, size=(20, 64)).astype(bool), dtype="float64")
check("float16 -> float32", spec, rand(20, 64).astype(np.float16), dtype="float32")
spec1 = {"op": "sepconv", "filters": [{"axis": 0, "taps": taps(4), "padding": "same", "mode": "smooth"}]}
check("complex along the last axis", spec1, rand(50, dtype=np.complex128))
check("float32 bigger volume (parallel path)", {"op": "sepconv", "filters": [
    {"axis": 0, "taps": taps(4), "stride": 2, "padding": "same", "mode": "symmetric"},
    {"axis": 2, "taps": taps(6), "padding": [5, 5], "mode": "periodic"}]}, rand(40, 50, 60, dtype=np.float32))

# ---- bad specs: exit 2 with code and field ----
xe = rand(3, 4)
bad = [
    ("no filters", {"filters": []}, "invalid_argument", "filters"),
    ("axis out of range", {"filters": [{"axis": 2, "taps": [1]}]}, "invalid_argument", "filters[0].axis"),
    ("negative axis out of range", {"filters": [{"axis": -3, "taps": [1]}]}, "invalid_argument", "filters[0].axis"),
    ("second filter axis", {"filters": [{"axis": 0, "taps": [1]}, {"axis": 7, "taps": [1]}]}, "invalid_argument",
     "filters[1].axis"),
    ("empty taps", {"filters": [{"axis": 0, "taps": []}]}, "invalid_argument", "filters[0].taps"),
    ("too many taps", {"filters": [{"axis": 0, "taps": [1.0] * 257}]}, "invalid_argument", "filters[0].taps"),
    ("stride 0", {"filters": [{"axis": 0, "taps": [1], "stride": 0}]}, "invalid_argument", "filters[0].stride"),
    ("dilation 0", {"filters": [{"axis": 0, "taps": [1], "dilation": 0}]}, "invalid_argument",
     "filters[0].dilation"),
    ("negative padding", {"filters": [{"axis": 0, "taps": [1], "padding": -1}]}, "invalid_argument",
     "filters[0].padding"),
    ("periodization", {"filters": [{"axis": 0, "taps": [1], "mode": "periodization"}]}, "invalid_argument",
     "filters[0].mode"),
    ("unknown mode", {"filters": [{"axis": 0, "taps": [1], "mode": "mirror"}]}, "invalid_argument",
     "filters[0].mode"),
    ("output empty", {"filters": [{"axis": 0, "taps": [1, 1, 1, 1]}]}, "invalid_argument", "filters[0]"),
    ("output empty later", {"filters": [{"axis": 1, "taps": [1, 1], "stride": 2},
                                        {"axis": 1, "taps": [1, 1, 1]}]}, "invalid_argument", "filters[1]"),
    ("unknown filter key", {"filters": [{"axis": 0, "taps": [1], "strid": 2}]}, "invalid_argument",
     "filters[0].strid"),
]
for name, extra, code, field in bad:
    check_error(f"error: {name}", dict({"op": "sepconv"}, **extra), xe, code, field)
check_error("error: 0-d x", {"op": "sepconv", "filters": [{"axis": 0, "taps": [1]}]}, np.float64(3.0),
            "invalid_argument", "inputs.x")
check_error("error: missing x", {"op": "sepconv", "filters": [{"axis": 0, "taps": [1]}]}, None,
            "invalid_argument", "inputs.x")

for line in failed:
    print("FAIL", line)
print(f"{passed} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
