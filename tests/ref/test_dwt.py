"""test_dwt — the dwt op through the convoy CLI against pywt.wavedecn:
every discrete wavelet × every mode on odd and even (and shorter than the
filter) lengths, n-D with axes subsets and negative axes, levels 0/1/3/auto
and above the maximum (with pywt's warning), per-axis wavelet/mode lists,
pywt's old mode aliases, custom filter banks (odd lengths padded as pywt
pads them), every dtype's promotion, and bad specs (exit 2, code, field).
Run: CONVOY_BIN=build/bin/convoy /usr/bin/python3 tests/ref/test_dwt.py
Its helpers (Cli, flat_coeffs, report) are reused by test_idwt.py."""
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import threading
import warnings

import numpy as np
import pywt

BIN = os.environ.get("CONVOY_BIN", "build/bin/convoy")
MODES = ["zero", "constant", "symmetric", "reflect", "periodic", "smooth", "antisymmetric", "antireflect",
         "periodization"]
ALIASES = {"per": "periodization", "sp1": "smooth", "zpd": "zero", "cpd": "constant", "ppd": "periodic",
           "sym": "symmetric"}
WORKERS = 2


class Cli:
    """Runs `convoy run` with .npy inputs and an .npz output in a temp dir."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.n = 0
        self.lock = threading.Lock()

    def _name(self):
        with self.lock:
            self.n += 1
            return os.path.join(self.tmp, "c%06d" % self.n)

    def run(self, spec, inputs):
        """Returns (exit code, parsed stdout JSON, {output name: array})."""
        base = self._name()
        args = [BIN, "run", base + ".json"]
        with open(base + ".json", "w") as f:
            json.dump(spec, f)
        for name, arr in inputs.items():
            path = "%s_%s.npy" % (base, name)
            np.save(path, arr)
            args += ["-i", "%s=%s" % (name, path)]
        out = base + "_out.npz"
        args += ["-o", out]
        p = subprocess.run(args, capture_output=True, timeout=120)
        try:
            job = json.loads(p.stdout.decode())
        except ValueError:
            job = {"stdout": p.stdout.decode(), "stderr": p.stderr.decode()}
        res = {}
        if p.returncode == 0 and os.path.exists(out):
            with np.load(out) as z:
                res = {k: z[k] for k in z.files}
        for path in [base + ".json", out] + ["%s_%s.npy" % (base, k) for k in inputs]:
            if os.path.exists(path):
                os.remove(path)
        return p.returncode, job, res


def flat_coeffs(coeffs):
    """pywt.wavedecn's list → {"a": …, "d{j}_{key}": …} in convoy's output order."""
    out = {}
    if coeffs[0] is not None:
        out["a"] = coeffs[0]
    level = len(coeffs) - 1
    for i, d in enumerate(coeffs[1:]):
        for k, v in d.items():
            out["d%d_%s" % (level - i, k)] = v
    return out


def max_err(got, want):
    """Largest absolute difference over matching arrays, and the reference's max abs."""
    err = scale = 0.0
    for k, w in want.items():
        if w.size:
            err = max(err, float(np.abs(got[k].astype(np.complex128) - w).max()))
            scale = max(scale, float(np.abs(w).max()))
    return err, scale or 1.0


def compare(got, want, tol, want_dtype=None, alt=None):
    """'' when got matches want (names, order-free; shapes; dtypes; values within
    tol of the max abs), else a message. alt: a second acceptable reference."""
    if set(got) != set(want):
        return "outputs %s, want %s" % (sorted(got), sorted(want))
    for k, w in want.items():
        dt = want_dtype or w.dtype
        if got[k].shape != w.shape or got[k].dtype != dt:
            return "%s: %s %s, want %s %s" % (k, got[k].shape, got[k].dtype, w.shape, dt)
    err, scale = max_err(got, want)
    if err <= tol * scale:
        return ""
    if alt is not None:
        err2, scale2 = max_err(got, alt)
        if err2 <= tol * scale2:
            return ""
    return "max error %.3g over max abs %.3g (tol %g)" % (err, scale, tol)


class Report:
    def __init__(self):
        self.passed = self.failed = 0
        self.lock = threading.Lock()

    def check(self, name, msg):
        with self.lock:
            if msg:
                self.failed += 1
                print("FAIL %s: %s" % (name, msg), flush=True)
            else:
                self.passed += 1

    def run_all(self, cases):
        """cases: [(name, fn)] with fn() → '' or a failure message; runs them on WORKERS threads."""
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
            futs = {ex.submit(fn): name for name, fn in cases}
            for fut in concurrent.futures.as_completed(futs):
                try:
                    msg = fut.result()
                except Exception as e:  # a crash in a case is a failure, not an abort
                    msg = "exception %r" % (e,)
                self.check(futs[fut], msg)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def bank(w):
    return {"dec_lo": list(w.dec_lo), "dec_hi": list(w.dec_hi), "rec_lo": list(w.rec_lo),
            "rec_hi": list(w.rec_hi)}


def ref_dwt(x, wavelet, mode, level, axes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flat_coeffs(pywt.wavedecn(x, wavelet, mode, level=level, axes=axes))


# ---- the cases ----

def dwt_case(cli, x, wavelet, mode="symmetric", level=None, axes=None, tol=1e-10, spec_wavelet=None,
             spec_mode=None, want_warning=None, alt64=False, want_dtype=None):
    def fn():
        spec = {"op": "dwt", "wavelet": spec_wavelet if spec_wavelet is not None else wavelet,
                "mode": spec_mode if spec_mode is not None else mode, "level": level}
        if axes is not None:
            spec["axes"] = axes
        rc, job, got = cli.run(spec, {"x": x})
        if rc != 0:
            return "exit %d: %s" % (rc, job)
        want = ref_dwt(x, wavelet, mode, level, axes)
        alt = ref_dwt(x.astype(np.float64), wavelet, mode, level, axes) if alt64 else None
        msg = compare(got, want, tol, want_dtype, alt)
        if msg:
            return msg
        if list(job["outputs"]) != list(want):
            return "output order %s, want %s" % (list(job["outputs"]), list(want))
        if want_warning is not None and job.get("warnings") != want_warning:
            return "warnings %s, want %s" % (job.get("warnings"), want_warning)
        return ""
    return fn


def error_case(cli, spec, inputs, code, field):
    def fn():
        rc, job, _ = cli.run(spec, inputs)
        err = job.get("error") if isinstance(job, dict) else None
        if rc != 2 or not isinstance(err, dict) or err.get("code") != code or err.get("field") != field:
            return "exit %d, %s; want exit 2, %s at %s" % (rc, job, code, field)
        return ""
    return fn


def build_cases(cli, rng):
    cases = []
    add = lambda name, fn: cases.append((name, fn))  # noqa: E731

    # every wavelet × mode: an odd length (batch of 3 along axis 0, level 2)
    # and an even one shorter than the filter (axis 0, batch trailing)
    for w in pywt.wavelist(kind="discrete"):
        f = pywt.Wavelet(w).dec_len
        n_short = max(2, f // 2 + (f // 2) % 2)
        for mode in MODES:
            add("all %s %s odd" % (w, mode), dwt_case(cli, rng.standard_normal((3, f + 5)), w, mode, 2, [-1]))
            add("all %s %s even" % (w, mode), dwt_case(cli, rng.standard_normal((n_short, 2)), w, mode, 1, [0]))

    # levels: 0, 1, 3, auto, above the maximum (pywt's warning)
    x = rng.standard_normal((5, 33, 18))
    for level in [0, 1, 3, None, 5]:
        too_high = level is not None and level > pywt.dwtn_max_level(x.shape, "db2")
        text = ["Level value of %d is too high: all coefficients will experience boundary effects." % level] \
            if too_high else []
        add("level %s" % level, dwt_case(cli, x, "db2", "symmetric", level, None, want_warning=text))
    add("level auto 1-D", dwt_case(cli, rng.standard_normal(1000), "sym4", "periodization", None))
    add("level auto per axis", dwt_case(cli, rng.standard_normal((70, 20)), ["db1", "db3"], "zero", None,
                                        spec_wavelet=["db1", "db3"]))

    # n-D: axes subsets, negative, reordered; odd sizes
    for shape, axes in [((6, 7, 9), None), ((6, 7, 9), [0]), ((6, 7, 9), [-1]), ((6, 7, 9), [2, 0]),
                        ((6, 7, 9), [0, -2]), ((4, 5, 6, 3), [1, 3]), ((4, 5, 6, 3), [-1, 0, 2]),
                        ((3, 4, 5, 6, 7), [4, 2, 0]), ((9,), [0]), ((11, 13), [-2, -1])]:
        for w in ["haar", "db3", "bior2.2", "coif1"]:
            x = rng.standard_normal(shape)
            add("nd %s %s %s" % (shape, axes, w), dwt_case(cli, x, w, "reflect", 2, axes))
    # a batch prefix of many items: each item runs all its levels on one thread
    for mode in MODES:
        add("items %s" % mode, dwt_case(cli, rng.standard_normal((20, 37)), "db2", mode, 3, [1]))
        add("items grow %s" % mode, dwt_case(cli, rng.standard_normal((16, 5, 9)), "db4", mode, 3, [1, 2]))
    add("items promote", dwt_case(cli, (rng.standard_normal((12, 9, 8)) * 9).astype(np.int16), "haar", "zero", 1,
                                  [2, 1], want_dtype=np.float64))
    add("items batch between", dwt_case(cli, rng.standard_normal((8, 3, 6, 5)), "bior2.2", "smooth", 2, [3, 1]))
    for mode in MODES:
        add("3d %s" % mode, dwt_case(cli, rng.standard_normal((7, 10, 9)), "sym3", mode, 2, [2, 0, 1]))

    # per-axis lists, lists of one, aliases, case
    x = rng.standard_normal((10, 13))
    add("per-axis lists", dwt_case(cli, x, ["db2", "haar"], ["periodization", "smooth"], 2, [1, 0],
                                   spec_wavelet=["db2", "haar"], spec_mode=["periodization", "smooth"]))
    add("lists of one", dwt_case(cli, x, "sym3", "zero", 1, None, spec_wavelet=["sym3"], spec_mode=["zero"]))
    for alias, mode in ALIASES.items():
        add("alias %s" % alias, dwt_case(cli, x, "db2", mode, 1, None, spec_mode=alias))
    add("case", dwt_case(cli, x, "db2", "symmetric", 1, None, spec_wavelet="DB2", spec_mode="Symmetric"))

    # custom banks (5 taps: pywt pads to 6 with a zero)
    for taps in [2, 4, 5]:
        fb = [list(rng.standard_normal(taps)) for _ in range(4)]
        w = pywt.Wavelet("custom", filter_bank=fb)
        spec_w = {"dec_lo": fb[0], "dec_hi": fb[1], "rec_lo": fb[2], "rec_hi": fb[3]}
        for shape, axes in [((9, 8), None), ((8, 6, 4), None), ((5, 17), [1])]:
            add("custom %d %s" % (taps, shape), dwt_case(cli, rng.standard_normal(shape), w, "smooth", 2,
                                                         axes, spec_wavelet=spec_w))
    add("custom table bank", dwt_case(cli, rng.standard_normal((12, 7)), "bior3.5", "antisymmetric", 1, None,
                                      spec_wavelet=bank(pywt.Wavelet("bior3.5"))))

    # dtypes
    x = rng.standard_normal((7, 12, 10))
    for w in ["haar", "db2", "db6"]:
        for mode in ["symmetric", "periodization", "smooth"]:
            add("f32 %s %s" % (w, mode), dwt_case(cli, x.astype(np.float32), w, mode, 2, None, tol=1e-5,
                                                  alt64=True))
    add("f32 haar even 3-D", dwt_case(cli, rng.standard_normal((16, 8, 12)).astype(np.float32), "haar",
                                      "symmetric", 2, None, tol=1e-5))
    add("f32 haar even 2-D batch", dwt_case(cli, rng.standard_normal((3, 8, 12)).astype(np.float32), "haar",
                                            "zero", 1, [1, 2], tol=1e-5))
    add("f32 haar long row", dwt_case(cli, rng.standard_normal(100000).astype(np.float32), "haar",
                                      "symmetric", 3, None, tol=1e-5))
    add("f32 db4 64^3", dwt_case(cli, rng.standard_normal((64, 64, 64)).astype(np.float32), "db4",
                                 "symmetric", 3, None, tol=1e-5, alt64=True))
    add("f64 db4 40^3", dwt_case(cli, rng.standard_normal((40, 41, 39)), "db4", "periodic", 3, None))
    for dt in [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]:
        xi = (rng.standard_normal((9, 10)) * 50).astype(dt)
        add("int %s" % np.dtype(dt).name, dwt_case(cli, xi, "db2", "symmetric", 1, None,
                                                    want_dtype=np.float64))
    add("bool", dwt_case(cli, rng.standard_normal((9, 10)) > 0, "sym2", "zero", 1, None, want_dtype=np.float64))
    add("f16", dwt_case(cli, rng.standard_normal((9, 10)).astype(np.float16), "db2", "symmetric", 1, None,
                        tol=1e-5, want_dtype=np.float32))
    xc = rng.standard_normal((6, 11)) + 1j * rng.standard_normal((6, 11))
    for mode in ["symmetric", "periodization", "antireflect"]:
        add("c128 %s" % mode, dwt_case(cli, xc, "db3", mode, 2, None))
        add("c64 %s" % mode, dwt_case(cli, xc.astype(np.complex64), "db3", mode, 2, [1], tol=1e-5))
    xl = rng.standard_normal(20001) + 1j * rng.standard_normal(20001)
    add("c128 long row", dwt_case(cli, xl, "sym5", "reflect", 4, None))
    add("c64 3-D", dwt_case(cli, (rng.standard_normal((9, 8, 13)) + 2j).astype(np.complex64), "db2", "smooth", 2,
                            None, tol=1e-5))
    add("c64 haar even", dwt_case(cli, (xc[:, :10] * 2).astype(np.complex64), "haar", "zero", 1, None, tol=1e-5))
    add("bfloat16", bf16_case(cli, rng))

    # bad specs and inputs: exit 2 with code and field
    x2 = rng.standard_normal((6, 5))
    E = "invalid_argument"
    for spec, inputs, code, field in [
        ({"op": "dwt", "wavelet": "db2"}, {}, E, "inputs.x"),
        ({"op": "dwt", "wavelet": "db2"}, {"x": np.array(3.0)}, E, "inputs.x"),
        ({"op": "dwt", "wavelet": "db2"}, {"x": np.zeros((3, 0))}, E, "inputs.x"),
        ({"op": "dwt", "wavelet": "db2", "axes": [1]}, {"x": np.zeros((0, 3))}, None, None),
        ({"op": "dwt", "wavelet": "db2", "axes": [0, -2]}, {"x": x2}, E, "axes"),
        ({"op": "dwt", "wavelet": "db2", "axes": [2]}, {"x": x2}, E, "axes"),
        ({"op": "dwt", "wavelet": "db2", "axes": [-3]}, {"x": x2}, E, "axes"),
        ({"op": "dwt", "wavelet": "db2", "level": -1}, {"x": x2}, E, "level"),
        ({"op": "dwt", "wavelet": "db2", "level": 65}, {"x": x2}, E, "level"),
        ({"op": "dwt", "wavelet": "db99"}, {"x": x2}, E, "wavelet"),
        ({"op": "dwt", "wavelet": ["db2", "db3", "haar"]}, {"x": x2}, E, "wavelet"),
        ({"op": "dwt", "wavelet": "db2", "mode": "mirror"}, {"x": x2}, E, "mode"),
        ({"op": "dwt", "wavelet": "db2", "mode": ["zero", "zero", "zero"]}, {"x": x2}, E, "mode"),
        ({"op": "dwt", "wavelet": "db2", "mode": ["zero"], "axes": [0, 1]}, {"x": x2}, None, None),
        ({"op": "dwt", "wavelet": "db2"}, {"x": x2, "y": x2}, E, "inputs.y"),
    ]:
        if code is None:   # valid edge cases: must succeed like pywt
            add("edge %s" % spec, dwt_case(cli, inputs["x"], "db2", pywt_mode(spec), None, spec.get("axes"),
                                           spec_mode=spec.get("mode", "symmetric")))
        else:
            add("error %s %s" % (spec, field), error_case(cli, spec, inputs, code, field))
    return cases


def pywt_mode(spec):
    m = spec.get("mode", "symmetric")
    return m[0] if isinstance(m, list) else m


def bf16_case(cli, rng):
    """bfloat16 (<V2 in .npy): computed in float32, as float16 is."""
    x = rng.standard_normal((8, 9)).astype(np.float32)

    def fn():
        bits = (x.view(np.uint32) >> 16).astype(np.uint16)
        xb = bits.view(np.dtype("V2"))
        x32 = (bits.astype(np.uint32) << 16).view(np.float32)
        rc, job, got = cli.run({"op": "dwt", "wavelet": "db2", "level": 1}, {"x": xb})
        if rc != 0:
            return "exit %d: %s" % (rc, job)
        return compare(got, ref_dwt(x32, "db2", "symmetric", 1, None), 1e-5)
    return fn


def main():
    if not os.path.exists(BIN):
        print("CONVOY_BIN %s not found" % BIN)
        return 1
    rng = np.random.default_rng(20240611)
    rep = Report()
    with tempfile.TemporaryDirectory() as tmp:
        rep.run_all(build_cases(Cli(tmp), rng))
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
