"""test_conv.py — the conv op through the CLI against PyTorch's
torch.nn.functional.conv1d/2d/3d in float64 (padding modes via F.pad, then a
conv with padding 0), scipy.signal.convolve/correlate for "same" with and
without flip; every parameter form, dtype, layout and forced algo, and bad
specs with their error code and field. Run with /usr/bin/python3, env
CONVOY_BIN (the convoy CLI). Prints 'N passed, M failed'; exit 1 on failure."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

BIN = os.environ.get("CONVOY_BIN", "build/bin/convoy")
TMP = tempfile.mkdtemp(prefix="convoy_conv_")
warnings.filterwarnings("ignore", message=".*padding='same'.*")
TOL = {"float64": 1e-10, "float32": 1e-5, "float16": 4e-3, "bfloat16": 2e-2}   # × max |reference|
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


# ---- .npy with bfloat16 ('<V2', as ml_dtypes writes it) ----

def to_bf16_bits(a):
    return torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(torch.bfloat16).view(torch.int16).numpy().view(
        np.uint16)


def from_bf16_bits(u):
    return (u.astype(np.uint32) << 16).view(np.float32)


def save(path, a, dtype):
    if dtype != "bfloat16":
        np.save(path, a.astype(dtype))
        return
    bits = to_bf16_bits(a)
    header = "{'descr': '<V2', 'fortran_order': False, 'shape': %s, }" % (tuple(bits.shape),)
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1"))
        f.write(bits.tobytes())


def as_type(a, dtype):
    """a rounded to dtype, back in float64 (what convoy receives)."""
    if dtype == "bfloat16":
        return from_bf16_bits(to_bf16_bits(a)).astype(np.float64)
    return a.astype(dtype).astype(np.float64)


def load_y(npz):
    y = np.load(npz)["y"]
    if y.dtype.kind == "V":
        return from_bf16_bits(y.view(np.uint16)).astype(np.float64), "bfloat16"
    return y.astype(np.float64), y.dtype.name


def run(spec, arrays, dtypes):
    """Runs `convoy run - -i …`; returns (exit code, JSON of the last stdout line, out.npz path)."""
    args = [BIN, "run", "-"]
    for name, a in arrays.items():
        p = os.path.join(TMP, f"{name}.npy")
        save(p, a, dtypes[name])
        args += ["-i", f"{name}={p}"]
    out = os.path.join(TMP, "out.npz")
    if os.path.exists(out):
        os.remove(out)
    p = subprocess.run(args + ["-o", out], input=json.dumps(spec).encode(), capture_output=True, timeout=120)
    lines = p.stdout.decode().strip().splitlines()
    try:
        j = json.loads(lines[-1]) if lines else None
    except ValueError:
        j = p.stdout.decode()
    return p.returncode, j, out, p.stderr.decode()


# ---- the reference ----

def resolve_padding(padding, nsp, k, dil, flip):
    if padding is None or padding == "valid":
        return [(0, 0)] * nsp
    if padding == "same":
        out = []
        for i in range(nsp):
            tot = dil[i] * (k[i] - 1)
            lo = tot - tot // 2 if flip else tot // 2
            out.append((lo, tot - lo))
        return out
    if isinstance(padding, int):
        return [(padding, padding)] * nsp
    if len(padding) == 1 and nsp > 1:
        padding = padding * nsp
    return [tuple(p) if isinstance(p, list) else (p, p) for p in padding]


def per_axis(v, nsp, dflt):
    if v is None:
        return [dflt] * nsp
    if isinstance(v, int):
        return [v] * nsp
    return list(v) * nsp if len(v) == 1 else list(v)


def reference(x, w, b, p):
    nsp = w.ndim - 2
    X = torch.from_numpy(x)
    if p.get("layout") == "ndhwc":
        X = X.movedim(-1, 1)
    W = torch.from_numpy(w)
    flip = p.get("flip", False)
    if flip:
        W = W.flip(dims=list(range(2, 2 + nsp)))
    st, dil = per_axis(p.get("stride"), nsp, 1), per_axis(p.get("dilation"), nsp, 1)
    lohi = resolve_padding(p.get("padding"), nsp, w.shape[2:], dil, flip)
    pad = [v for lo_hi in reversed(lohi) for v in lo_hi]
    mode = p.get("padding_mode", "zeros")
    X = F.pad(X, pad) if mode == "zeros" else F.pad(X, pad, mode=mode)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nsp]
    y = conv(X, W, None if b is None else torch.from_numpy(b), stride=st, dilation=dil, groups=p.get("groups", 1))
    if p.get("layout") == "ndhwc":
        y = y.movedim(1, -1)
    return y.numpy()


rng = np.random.default_rng(7)


def case(name, xs, ws, params, dtype="float32", bias=False, ref=None):
    """Runs one conv and compares it with `ref` (default: the torch reference)."""
    x = as_type(rng.standard_normal(xs), dtype)
    w = as_type(rng.standard_normal(ws) / np.sqrt(max(1, np.prod(ws[1:]))), dtype)
    b = as_type(rng.standard_normal(ws[0]), dtype) if bias else None
    arrays = {"x": x, "w": w} if b is None else {"x": x, "w": w, "b": b}
    spec = dict({"op": "conv"}, **params)
    rc, j, out, err = run(spec, arrays, {k: dtype for k in arrays})
    if rc != 0:
        check(name, False, f"exit {rc}: {j} {err[-300:]}")
        return None
    y, ydt = load_y(out)
    want = reference(x, w, b, params) if ref is None else ref(x, w, b)
    if y.shape != want.shape or ydt != dtype:
        check(name, False, f"got {y.shape} {ydt}, want {want.shape} {dtype}")
        return None
    scale = max(np.max(np.abs(want)), 1e-300) if want.size else 1.0
    e = float(np.max(np.abs(y - want))) / scale if want.size else 0.0
    check(name, e <= TOL[dtype], f"rel error {e:.3g} > {TOL[dtype]} ({dtype}, {params})")
    return y


# ---- parameters one by one ----
X1, X2, X3 = (2, 3, 23), (2, 4, 11, 10), (1, 3, 7, 8, 9)
W1, W2, W3 = (5, 3, 3), (6, 4, 3, 2), (4, 3, 2, 3, 3)
for nsp, xs, ws in ((1, X1, W1), (2, X2, W2), (3, X3, W3)):
    d = f"{nsp}d"
    case(f"{d} default", xs, ws, {})
    case(f"{d} bias", xs, ws, {}, bias=True)
    case(f"{d} stride int", xs, ws, {"stride": 2})
    case(f"{d} stride list", xs, ws, {"stride": [3, 1, 2][:nsp]})
    case(f"{d} padding int", xs, ws, {"padding": 2})
    case(f"{d} padding list", xs, ws, {"padding": [1, 0, 2][:nsp]})
    case(f"{d} padding [lo,hi]", xs, ws, {"padding": [[0, 2], [3, 1], [1, 0]][:nsp]})
    case(f"{d} padding valid", xs, ws, {"padding": "valid"})
    case(f"{d} padding same", xs, ws, {"padding": "same"})
    case(f"{d} same + stride", xs, ws, {"padding": "same", "stride": 2})
    case(f"{d} dilation", xs, ws, {"dilation": [2, 1, 3][:nsp], "padding": 1})
    case(f"{d} flip", xs, ws, {"flip": True, "padding": [[1, 0], [0, 2], [1, 1]][:nsp]})
    case(f"{d} flip same stride", xs, ws, {"flip": True, "padding": "same", "stride": [2, 3, 1][:nsp]})
    for mode in ("reflect", "replicate", "circular"):
        case(f"{d} {mode}", xs, ws, {"padding_mode": mode, "padding": [[2, 1], [1, 3], [0, 2]][:nsp]}, bias=True)
        case(f"{d} {mode} same", xs, ws, {"padding_mode": mode, "padding": "same"})
    case(f"{d} replicate wide", xs, ws, {"padding_mode": "replicate", "padding": 30})
    case(f"{d} everything", xs, ws, {"stride": 2, "dilation": 2, "padding": "same", "padding_mode": "reflect",
                                    "flip": True}, bias=True)

# same matches PyTorch's own padding="same" (stride 1)
for xs, ws, dil in (((1, 2, 20), (3, 2, 4), 1), ((1, 2, 9, 12), (3, 2, 4, 3), 2), ((1, 1, 6, 7, 8), (2, 1, 2, 3, 4), 1)):
    conv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(ws)]
    case(f"same == torch same {ws}", xs, ws, {"padding": "same", "dilation": dil},
         ref=lambda x, w, b, conv=conv, dil=dil: conv(torch.from_numpy(x), torch.from_numpy(w), padding="same",
                                                      dilation=dil).numpy())

# flip + same == scipy.signal.convolve(mode="same") (even kernels too); correlate for odd kernels
for xs, ws in (((1, 1, 17), (1, 1, 4)), ((1, 1, 9, 10), (1, 1, 4, 3)), ((1, 1, 5, 6, 7), (1, 1, 2, 3, 4))):
    case(f"flip same == scipy convolve {ws}", xs, ws, {"padding": "same", "flip": True},
         ref=lambda x, w, b: scipy.signal.convolve(x[0, 0], w[0, 0], mode="same")[None, None])
for xs, ws in (((1, 1, 17), (1, 1, 5)), ((1, 1, 9, 10), (1, 1, 3, 5)), ((1, 1, 5, 6, 7), (1, 1, 3, 1, 3))):
    case(f"same == scipy correlate {ws}", xs, ws, {"padding": "same"},
         ref=lambda x, w, b: scipy.signal.correlate(x[0, 0], w[0, 0], mode="same")[None, None])

# groups, depthwise, channel multiplier, wide rows, blocked channel counts
case("groups 2d", (2, 6, 9, 9), (9, 2, 3, 3), {"groups": 3, "padding": 1}, bias=True)
case("groups 3d", (1, 8, 5, 6, 7), (4, 4, 3, 3, 3), {"groups": 2, "padding": "same"})
case("depthwise 1d", (2, 5, 40), (5, 1, 7), {"groups": 5, "padding": "same"}, bias=True)
case("depthwise 2d", (1, 16, 20, 21), (16, 1, 3, 3), {"groups": 16, "padding": 1, "stride": 2})
case("depthwise 3d", (1, 4, 8, 9, 10), (4, 1, 3, 3, 3), {"groups": 4, "padding": "same", "padding_mode": "reflect"})
case("depthwise multiplier", (1, 3, 12, 12), (9, 1, 3, 3), {"groups": 3, "dilation": 2})
case("wide 1d", (1, 2, 3000), (7, 2, 5), {"padding": "same", "stride": 3})
case("32 channels 2d", (1, 32, 12, 13), (32, 32, 3, 3), {"padding": 1}, bias=True)
case("32 channels 3d", (2, 32, 4, 6, 8), (16, 32, 3, 3, 3), {"padding": [1, 0, 1], "stride": [1, 2, 1]})
case("empty batch", (0, 3, 10), (4, 3, 3), {"padding": 1})
# megabytes of NCDHW data through oneDNN's channels-last kernels (own transposes)
case("large 3d", (1, 16, 9, 64, 64), (16, 16, 3, 3, 3), {"padding": 1}, bias=True)
case("large 3d strided", (1, 16, 29, 40, 48), (32, 16, 3, 2, 3), {"stride": [2, 1, 2], "dilation": [2, 1, 1],
                                                                  "padding": [[3, 0], [0, 1], [1, 2]]})
case("large 2d same flip", (2, 16, 130, 128), (16, 16, 5, 3), {"padding": "same", "flip": True})

# layout ndhwc
case("ndhwc 1d", (2, 15, 3), (4, 3, 3), {"layout": "ndhwc", "padding": "same"}, bias=True)
case("ndhwc 2d groups", (1, 9, 8, 6), (6, 2, 3, 3), {"layout": "ndhwc", "groups": 3, "stride": 2})
case("ndhwc 2d 32ch", (1, 10, 11, 32), (32, 32, 3, 3), {"layout": "ndhwc", "padding": 1})
case("ndhwc 3d reflect", (1, 5, 6, 7, 4), (3, 4, 3, 3, 3), {"layout": "ndhwc", "padding": 1, "padding_mode": "reflect"})
case("ndhwc depthwise flip", (1, 7, 8, 5), (5, 1, 2, 3), {"layout": "ndhwc", "groups": 5, "flip": True,
                                                       "padding": "same"})

# dtypes
for dt in ("float64", "float16", "bfloat16"):
    case(f"{dt} 1d", X1, W1, {"padding": "same", "stride": 2}, dtype=dt, bias=True)
    case(f"{dt} 2d 32ch", (1, 32, 9, 10), (16, 32, 3, 3), {"padding": 1}, dtype=dt, bias=True)
    case(f"{dt} 3d circular", X3, W3, {"padding": 1, "padding_mode": "circular"}, dtype=dt)
    case(f"{dt} depthwise ndhwc", (1, 9, 8, 6), (6, 1, 3, 3), {"groups": 6, "layout": "ndhwc", "padding": 1}, dtype=dt)
case("precision tf32 ignored on cpu", X2, W2, {"precision": "tf32", "padding": 1})

# forced algos the CPU has: direct (own kernels), gemm (oneDNN), depthtap (depthwise loop)
for algo in ("auto", "direct", "gemm"):
    for dt in ("float32", "float16", "bfloat16"):
        case(f"algo {algo} {dt}", (1, 16, 7, 8, 9), (8, 16, 3, 3, 3), {"algo": algo, "padding": "same"}, dtype=dt,
             bias=True)
    case(f"algo {algo} ndhwc", (2, 9, 10, 8), (4, 8, 2, 3), {"algo": algo, "layout": "ndhwc", "padding": 1})
case("algo direct float64", X3, W3, {"algo": "direct", "padding": 1}, dtype="float64")
case("algo depthtap", (1, 6, 10, 11), (6, 1, 3, 3), {"algo": "depthtap", "groups": 6, "padding": 1}, bias=True)
case("algo depthtap float64", (1, 6, 10, 11), (6, 1, 3, 3), {"algo": "depthtap", "groups": 6}, dtype="float64")


# ---- bad specs: exit code, error code and field ----
def bad(name, xs, ws, params, code, field, dtypes=None, bs=None, exits=(2,)):
    dtypes = dict({"x": "float32", "w": "float32", "b": "float32"}, **(dtypes or {}))
    arrays = {"x": np.ones(xs), "w": np.ones(ws)}
    if bs is not None:
        arrays["b"] = np.ones(bs)
    rc, j, _, err = run(dict({"op": "conv"}, **params), arrays, dtypes)
    e = j.get("error") if isinstance(j, dict) else None
    ok = rc in exits and isinstance(e, dict) and e.get("code") == code and e.get("field") == field
    check(f"bad: {name}", ok, f"exit {rc}, {j}")


bad("x rank != w rank", (1, 2, 5, 5), (3, 2, 3), {}, "shape_mismatch", "inputs.x")
bad("w rank 2", (1, 2, 5), (3, 2), {}, "shape_mismatch", "inputs.w")
bad("stride count", (1, 2, 5, 5, 5), (3, 2, 1, 1, 1), {"stride": [1, 2]}, "invalid_argument", "stride")
bad("stride 0", (1, 2, 5), (3, 2, 1), {"stride": 0}, "invalid_argument", "stride")
bad("dilation count", (1, 2, 5, 5), (3, 2, 1, 1), {"dilation": [1, 1, 1]}, "invalid_argument", "dilation")
bad("padding count", (1, 2, 5, 5, 5), (3, 2, 1, 1, 1), {"padding": [1, 1]}, "invalid_argument", "padding")
bad("padding negative", (1, 2, 5), (3, 2, 1), {"padding": -1}, "invalid_argument", "padding")
bad("groups 0", (1, 2, 5), (2, 2, 1), {"groups": 0}, "invalid_argument", "groups")
bad("groups ∤ channels", (1, 4, 5), (3, 1, 1), {"groups": 3}, "shape_mismatch", "groups")
bad("w.shape[1] != C/groups", (1, 4, 5), (4, 3, 1), {}, "shape_mismatch", "inputs.w")
bad("bias length", (1, 3, 5), (4, 3, 1), {}, "shape_mismatch", "inputs.b", bs=(3,))
bad("int32 x", (1, 1, 5), (1, 1, 1), {}, "unsupported_dtype", "inputs.x", {"x": "int32", "w": "int32"})
bad("w dtype != x dtype", (1, 1, 5), (1, 1, 1), {}, "unsupported_dtype", "inputs.w", {"w": "float64"})
bad("b dtype != x dtype", (1, 1, 5), (1, 1, 1), {}, "unsupported_dtype", "inputs.b", {"b": "float16"}, bs=(1,))
bad("reflect pad = n", (1, 1, 5), (1, 1, 3), {"padding": 5, "padding_mode": "reflect"}, "invalid_argument",
    "padding")
bad("circular pad > n", (1, 1, 4, 5), (1, 1, 3, 3), {"padding": [[0, 0], [6, 0]], "padding_mode": "circular"},
    "invalid_argument", "padding")
bad("kernel > input", (1, 1, 2), (1, 1, 5), {}, "invalid_argument", "inputs.x")
bad("unknown padding_mode", (1, 1, 5), (1, 1, 1), {"padding_mode": "mirror"}, "invalid_argument", "padding_mode")
bad("unknown algo", (1, 1, 5), (1, 1, 1), {"algo": "winograd"}, "invalid_argument", "algo")
bad("unknown layout", (1, 1, 5), (1, 1, 1), {"layout": "cndhw"}, "invalid_argument", "layout")
bad("bad padding string", (1, 1, 5), (1, 1, 1), {"padding": "full"}, "invalid_argument", "padding")
# forced algos the CPU lacks: refused at submission with field algo (exit 2)
for algo in ("fft", "cudnn"):
    bad(f"algo {algo} on cpu", (1, 2, 5, 5), (2, 2, 3, 3), {"algo": algo}, "invalid_argument", "algo", exits=(2,))
bad("algo gemm float64", (1, 2, 5, 5), (2, 2, 3, 3), {"algo": "gemm"}, "invalid_argument", "algo",
    {"x": "float64", "w": "float64"}, exits=(2,))
bad("algo depthtap not depthwise", (1, 2, 5, 5), (2, 2, 3, 3), {"algo": "depthtap"}, "invalid_argument", "algo",
    exits=(2,))

shutil.rmtree(TMP, ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
