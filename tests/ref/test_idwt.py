"""test_idwt — the idwt op through the convoy CLI against pywt.waverecn:
every discrete wavelet × every mode (pywt's coefficients of an odd-length
signal with `shape` cropping back, which must round-trip exactly where pywt
does; and random coefficients), n-D with axes subsets, missing details and
a missing `a`, a level above the inputs, pywt's trimming of an approximation
one longer than the details, mixed dtypes, dwt → idwt round trips through the
CLI, and bad inputs (exit 2, code, field).
Run: CONVOY_BIN=build/bin/convoy /usr/bin/python3 tests/ref/test_idwt.py"""
import os
import sys
import tempfile
import warnings

import numpy as np
import pywt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_dwt import BIN, MODES, ALIASES, Cli, Report, compare, error_case, flat_coeffs  # noqa: E402


def waverec(coeffs, wavelet, mode, axes, shape=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = pywt.waverecn(coeffs, wavelet, mode, axes=axes)
    return x[tuple(slice(s) for s in shape)] if shape is not None else x


def wavedec(x, wavelet, mode, level, axes=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pywt.wavedecn(x, wavelet, mode, level=level, axes=axes)


def idwt_case(cli, inputs, want, tol=1e-10, wavelet="db2", mode="symmetric", axes=None, shape=None, level=None,
              exact=None, spec_wavelet=None, spec_mode=None):
    """inputs: flat {name: array}; want: the expected x (pywt's); exact: x itself when the
    round trip must reproduce it."""
    def fn():
        spec = {"op": "idwt", "wavelet": spec_wavelet if spec_wavelet is not None else wavelet,
                "mode": spec_mode if spec_mode is not None else mode}
        if axes is not None:
            spec["axes"] = axes
        if shape is not None:
            spec["shape"] = list(shape)
        if level is not None:
            spec["level"] = level
        rc, job, got = cli.run(spec, inputs)
        if rc != 0:
            return "exit %d: %s" % (rc, job)
        msg = compare(got, {"x": want}, tol)
        if msg or exact is None:
            return msg
        err = float(np.abs(got["x"] - exact).max())
        return "" if err <= tol * max(1.0, float(np.abs(exact).max())) else "round trip error %.3g" % err
    return fn


def roundtrip_case(cli, x, wavelet, mode, level, axes, tol):
    """dwt then idwt, both through the CLI, cropped back to x's shape."""
    def fn():
        spec = {"op": "dwt", "wavelet": wavelet, "mode": mode, "level": level}
        if axes is not None:
            spec["axes"] = axes
        rc, job, coeffs = cli.run(spec, {"x": x})
        if rc != 0:
            return "dwt exit %d: %s" % (rc, job)
        spec = {"op": "idwt", "wavelet": wavelet, "mode": mode, "shape": list(x.shape)}
        if axes is not None:
            spec["axes"] = axes
        rc, job, got = cli.run(spec, coeffs)
        if rc != 0:
            return "idwt exit %d: %s" % (rc, job)
        xr = got["x"]
        if xr.shape != x.shape or xr.dtype != wavedec(x, wavelet, mode, level)[0].dtype:
            return "x %s %s for %s %s" % (xr.shape, xr.dtype, x.shape, x.dtype)
        err = float(np.abs(xr - x).max())
        return "" if err <= tol * max(1.0, float(np.abs(x).max())) else "round trip error %.3g" % err
    return fn


def build_cases(cli, rng):
    cases = []
    add = lambda name, fn: cases.append((name, fn))  # noqa: E731

    # every wavelet × mode: pywt's coefficients of an odd-length batch of
    # signals, cropped back (exact where pywt reconstructs exactly), and
    # random coefficients of an even length
    for w in pywt.wavelist(kind="discrete"):
        f = pywt.Wavelet(w).dec_len
        for mode in MODES:
            x = rng.standard_normal((2, f + 7))
            c = wavedec(x, w, mode, 2, [1])
            want = waverec(c, w, mode, [1], x.shape)
            exact = x if np.abs(want - x).max() < 1e-9 else None
            add("all %s %s crop" % (w, mode), idwt_case(cli, flat_coeffs(c), want, 1e-10, w, mode, [1], x.shape,
                                                       exact=exact))
            m = f // 2 + 2
            cr = {"a": rng.standard_normal((m, 3)), "d1_d": rng.standard_normal((m, 3))}
            add("all %s %s random" % (w, mode),
                idwt_case(cli, cr, waverec([cr["a"], {"d": cr["d1_d"]}], w, mode, [0]), 1e-10, w, mode, [0]))

    # n-D, axes subsets and order, levels, odd sizes (pywt trims `a` where it is one longer)
    for shape, axes in [((9, 8, 7), None), ((9, 8, 7), [2, 0]), ((9, 8, 7), [-2]), ((5, 6, 7, 4), [1, 3]),
                        ((13, 11), [-1, -2]), ((3, 4, 5, 6, 3), [4, 0, 2])]:
        for w, mode in [("haar", "symmetric"), ("db3", "periodization"), ("sym4", "smooth"),
                        ("bior2.4", "reflect"), ("coif1", "antireflect")]:
            x = rng.standard_normal(shape)
            c = wavedec(x, w, mode, 2, axes)
            add("nd %s %s %s" % (shape, axes, w),
                idwt_case(cli, flat_coeffs(c), waverec(c, w, mode, axes, shape), 1e-10, w, mode, axes, shape,
                          exact=x))
    # a batch prefix of many items: each item runs all its levels on one thread
    for mode in MODES:
        for shape, axes in [((20, 37), [1]), ((16, 5, 9), [1, 2])]:
            x = rng.standard_normal(shape)
            c = wavedec(x, "db4", mode, 3, axes)
            add("items %s %s" % (shape, mode), idwt_case(cli, flat_coeffs(c), waverec(c, "db4", mode, axes, shape),
                                                        1e-10, "db4", mode, axes, shape))
            cm = [None] + c[1:]
            add("items no a %s %s" % (shape, mode),
                idwt_case(cli, flat_coeffs(cm), waverec(cm, "db4", mode, axes), 1e-10, "db4", mode, axes))
    x = rng.standard_normal((17, 12))
    c = wavedec(x, "db2", "symmetric", 3)
    add("level 3 uncropped", idwt_case(cli, flat_coeffs(c), waverec(c, "db2", "symmetric", None)))
    add("level 0", idwt_case(cli, {"a": x}, x, 0, level=None))
    add("level 0 crop", idwt_case(cli, {"a": x}, x[:5, :7], 0, shape=(5, 7)))

    # missing details, missing a, a level above the inputs: pywt.waverecn with
    # those keys left out of the dicts (None for `a`) is the reference
    for keep in [("a", "d1_ad", "d2_dd"), ("d2_da",), ("d1_dd",), ("a",), ("a", "d2_ad"), ("d2_dd", "d1_ad")]:
        c = flat_coeffs(wavedec(x, "sym3", "zero", 2))
        partial = [c["a"] if "a" in keep else None] + [
            {k[3:]: v for k, v in c.items() if k.startswith("d%d_" % j) and k in keep} for j in (2, 1)]
        add("missing %s" % (keep,), idwt_case(cli, {k: c[k] for k in keep}, waverec(partial, "sym3", "zero", None),
                                             1e-10, "sym3", "zero", level=2 if keep == ("a",) else None))
    a = rng.standard_normal((3, 4))
    d1 = {k: rng.standard_normal((11, 16)) for k in ["ad", "da", "dd"]}
    add("level above inputs", idwt_case(cli, dict(a=a, **{"d1_" + k: v for k, v in d1.items()}),
                                        waverec([a, {}, {}, d1], "haar", "periodic", None), 1e-10, "haar",
                                        "periodic", level=3))
    add("no a, level above", idwt_case(cli, {"d1_" + k: v for k, v in d1.items()},
                                       waverec([None, d1], "haar", "periodic", None), 1e-10, "haar", "periodic",
                                       level=4))

    # dtypes: pywt's result dtype for mixes
    x = rng.standard_normal((10, 9))
    c = wavedec(x, "db2", "symmetric", 2)
    flat = flat_coeffs(c)
    for name, conv, tol in [
        ("f32", lambda k, v: v.astype(np.float32), 1e-5),
        ("f32 a + f64", lambda k, v: v.astype(np.float32) if k == "a" else v, 1e-6),
        ("f32 + f64 d1", lambda k, v: v if k.startswith("d1") else v.astype(np.float32), 1e-6),
        ("c64 a + f64", lambda k, v: v.astype(np.complex64) if k == "a" else v, 1e-6),
        ("c128", lambda k, v: v * (1 - 2j), 1e-10),
        ("c64 + f32", lambda k, v: (v * 1j).astype(np.complex64) if k == "d1_dd" else v.astype(np.float32), 1e-5),
        ("int", lambda k, v: (v * 100).astype(np.int32), 1e-10),
        ("f16", lambda k, v: v.astype(np.float16), 1e-5),
        ("f16 + f32", lambda k, v: v.astype(np.float16) if k.startswith("d2") else v.astype(np.float32), 1e-5),
    ]:
        ins = {k: conv(k, v) for k, v in flat.items()}
        cc = [ins["a"]] + [{k[3:]: v for k, v in ins.items() if k.startswith("d%d_" % j)} for j in (2, 1)]
        add("dtype %s" % name, idwt_case(cli, ins, waverec(cc, "db2", "symmetric", None), tol))

    # per-axis lists, aliases, custom banks
    c = wavedec(x, ["db2", "haar"], ["periodization", "smooth"], 1, [1, 0])
    add("per-axis lists", idwt_case(cli, flat_coeffs(c), waverec(c, ["db2", "haar"], ["periodization", "smooth"],
                                                                 [1, 0]), 1e-10, ["db2", "haar"],
                                    ["periodization", "smooth"], [1, 0]))
    for alias, mode in ALIASES.items():
        c = wavedec(x, "db3", mode, 1)
        add("alias %s" % alias, idwt_case(cli, flat_coeffs(c), waverec(c, "db3", mode, None), 1e-10, "db3", mode,
                                          spec_mode=alias))
    for taps in [2, 4, 5]:
        fb = [list(rng.standard_normal(taps)) for _ in range(4)]
        w = pywt.Wavelet("custom", filter_bank=fb)
        c = wavedec(x, w, "symmetric", 1)
        add("custom %d" % taps, idwt_case(cli, flat_coeffs(c), waverec(c, w, "symmetric", None), 1e-10,
                                         spec_wavelet={"dec_lo": fb[0], "dec_hi": fb[1], "rec_lo": fb[2],
                                                       "rec_hi": fb[3]}))

    # dwt → idwt through the CLI
    for w in ["haar", "db4", "sym5", "bior3.3", "coif2"]:
        for mode in MODES:
            add("cli roundtrip %s %s" % (w, mode),
                roundtrip_case(cli, rng.standard_normal((11, 6, 9)), w, mode, 2, None, 1e-10))
    add("cli roundtrip f32 haar", roundtrip_case(cli, rng.standard_normal((16, 8, 10)).astype(np.float32), "haar",
                                                 "symmetric", 2, None, 1e-5))
    add("cli roundtrip c64", roundtrip_case(cli, (rng.standard_normal((9, 7)) + 1j).astype(np.complex64), "db2",
                                            "periodization", 2, [1], 1e-5))
    add("cli roundtrip c128 long row", roundtrip_case(cli, rng.standard_normal(20001) * (1 - 1j), "sym5",
                                                      "periodization", 4, None, 1e-10))
    add("cli roundtrip c128 3-D", roundtrip_case(cli, rng.standard_normal((7, 8, 9)) + 1j, "db3", "symmetric", 2,
                                                 [2, 1, 0], 1e-10))
    add("cli roundtrip f32 db4", roundtrip_case(cli, rng.standard_normal((33, 40, 20)).astype(np.float32), "db4",
                                                "symmetric", 3, None, 1e-5))

    # bad inputs
    E, S = "invalid_argument", "shape_mismatch"
    z = lambda *s: np.zeros(s)  # noqa: E731
    for spec, inputs, code, field in [
        ({}, {}, E, "inputs"),
        ({}, {"x": z(4, 4)}, E, "inputs.x"),
        ({}, {"a": z(4, 4), "d1_aa": z(4, 4)}, E, "inputs.d1_aa"),
        ({}, {"a": z(4, 4), "d1_d": z(4, 4)}, E, "inputs.d1_d"),
        ({}, {"a": z(4, 4), "d1_ad": z(4)}, S, "inputs.d1_ad"),
        ({}, {"d1_ad": z(4, 4), "d1_da": z(4, 5)}, S, "inputs.d1_da"),
        ({}, {"a": z(4, 5), "d1_ad": z(4, 4)}, S, "inputs.d1_ad"),
        ({}, {"a": z(4, 4), "d2_ad": z(4, 4), "d1_dd": z(9, 4)}, S, "inputs.d1_dd"),
        ({"level": 1}, {"d2_ad": z(4, 4)}, E, "level"),
        ({"wavelet": "db4"}, {"a": z(2, 2), "d1_dd": z(2, 2)}, E, "inputs.d1_dd"),
        ({"shape": [3]}, {"a": z(4, 4), "d1_dd": z(4, 4)}, E, "shape"),
        ({"shape": [6, 7]}, {"a": z(4, 4), "d1_dd": z(4, 4)}, E, "shape"),
        ({"axes": [0, 0]}, {"a": z(4, 4), "d1_dd": z(4, 4)}, E, "axes"),
        ({"axes": [0]}, {"a": z(4, 4), "d1_dd": z(4, 4)}, E, "inputs.d1_dd"),
        ({"wavelet": ["db2", "db2", "db2"]}, {"a": z(4, 4)}, E, "wavelet"),
    ]:
        full = {"op": "idwt", "wavelet": "db2"}
        full.update(spec)
        add("error %s %s" % (sorted(inputs), field), error_case(cli, full, inputs, code, field))
    return cases


def main():
    if not os.path.exists(BIN):
        print("CONVOY_BIN %s not found" % BIN)
        return 1
    rng = np.random.default_rng(20240612)
    rep = Report()
    with tempfile.TemporaryDirectory() as tmp:
        rep.run_all(build_cases(Cli(tmp), rng))
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
