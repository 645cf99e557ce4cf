"""test_cli.py — the convoy CLI end to end: exit codes, job JSON, -o, the
spec's disk output (and its confinement), file: inputs, select, malformed
specs and .npy files (clear errors naming the field), `convoy ops`."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pywt

BIN = os.environ.get("CONVOY_BIN", "build/bin/convoy")
passed = failed = 0


def run(args, spec=None, cwd=None):
    """Runs the CLI; returns (exit code, parsed stdout JSON or text)."""
    cmd = [BIN] + args
    p = subprocess.run(cmd, input=None if spec is None else json.dumps(spec).encode(),
                       capture_output=True, cwd=cwd, timeout=120)
    out = p.stdout.decode()
    try:
        return p.returncode, json.loads(out)
    except ValueError:
        return p.returncode, out


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def expect_error(name, args, spec, code, field, rc=2, cwd=None):
    r, out = run(args, spec, cwd)
    err = out.get("error") if isinstance(out, dict) else None
    ok = r == rc and isinstance(err, dict) and err.get("code") == code and err.get("field") == field
    check(name, ok, f"exit {r}, out {out}")


with tempfile.TemporaryDirectory() as tmp:
    x = np.random.default_rng(0).standard_normal((6, 10)).astype(np.float32)
    xp = os.path.join(tmp, "x.npy")
    np.save(xp, x)
    out_npz = os.path.join(tmp, "out.npz")

    # a job that succeeds: job JSON, outputs, exit 0, -o npz equals pywt
    spec = {"op": "dwt", "wavelet": "db2", "level": 1, "axes": [1]}
    r, job = run(["run", "-", "-i", f"x={xp}", "-o", out_npz], spec)
    check("run exit 0", r == 0, job)
    keys = ["id", "op", "state", "priority", "created_at", "started_at", "finished_at", "queue_ms", "run_ms",
            "device", "batch_size", "outputs", "error", "warnings"]
    check("job keys", isinstance(job, dict) and all(k in job for k in keys), job)
    check("job state", job["state"] == "succeeded" and job["op"] == "dwt" and job["device"] == "cpu", job)
    check("job times", job["created_at"].endswith("Z") and job["run_ms"] >= 0, job)
    check("job outputs", set(job["outputs"]) == {"a", "d1_d"} and job["outputs"]["a"]["shape"] == [6, 6]
          and job["outputs"]["a"]["dtype"] == "float32" and job["outputs"]["a"]["bytes"] == 144, job)
    z = np.load(out_npz)
    ref = pywt.wavedecn(x, "db2", level=1, axes=[1])
    check("npz a", np.allclose(z["a"], ref[0], rtol=1e-5, atol=1e-6))
    check("npz d", np.allclose(z["d1_d"], ref[1]["d"], rtol=1e-5, atol=1e-6))

    # select keeps only the named outputs; an unknown name is an error
    r, job = run(["run", "-", "-i", f"x={xp}", "-o", out_npz], dict(spec, select=["d1_d"]))
    check("select", r == 0 and list(np.load(out_npz).keys()) == ["d1_d"], job)
    expect_error("select unknown", ["run", "-", "-i", f"x={xp}"], dict(spec, select=["d9_x"]),
                 "invalid_argument", "select[0]")

    # disk output under data_dir/outputs; exists → conflict unless overwrite
    dd = os.path.join(tmp, "var")
    r, job = run(["run", "-", "-i", f"x={xp}", "--data-dir", dd], dict(spec, output={"path": "run1/out.npz"}))
    written = os.path.join(dd, "outputs", "run1", "out.npz")
    check("disk output", r == 0 and os.path.exists(written) and job["outputs"]["a"]["path"].endswith("run1/out.npz"),
          job)
    expect_error("disk exists", ["run", "-", "-i", f"x={xp}", "--data-dir", dd],
                 dict(spec, output={"path": "run1/out.npz"}), "conflict", "output.path")
    r, job = run(["run", "-", "-i", f"x={xp}", "--data-dir", dd],
                 dict(spec, output={"path": "run1/out.npz", "overwrite": True}))
    check("disk overwrite", r == 0, job)
    r, job = run(["run", "-", "-i", f"x={xp}", "--data-dir", dd],
                 dict(spec, output={"dir": "run2/", "format": "npy"}))
    check("disk dir npy", r == 0 and np.allclose(np.load(os.path.join(dd, "outputs", "run2", "a.npy")), ref[0],
                                                 rtol=1e-5, atol=1e-6), job)
    for bad, field in [("../escape.npz", "output.path"), ("/tmp/abs.npz", "output.path"),
                       ("a/../../b.npz", "output.path")]:
        expect_error(f"escape {bad}", ["run", "-", "-i", f"x={xp}", "--data-dir", dd],
                     dict(spec, output={"path": bad}), "invalid_argument", field)
    check("nothing escaped", not os.path.exists(os.path.join(tmp, "escape.npz")))
    os.symlink(tmp, os.path.join(dd, "outputs", "link"))
    expect_error("symlink out", ["run", "-", "-i", f"x={xp}", "--data-dir", dd],
                 dict(spec, output={"path": "link/s.npz"}), "invalid_argument", "output.path")

    # file: inputs are confined to data_dir/inputs
    np.save(os.path.join(dd, "inputs", "v.npy"), x)
    r, job = run(["run", "-", "--data-dir", dd, "-o", out_npz], dict(spec, inputs={"x": "file:v.npy"}))
    check("file input", r == 0 and np.allclose(np.load(out_npz)["a"], ref[0], rtol=1e-5, atol=1e-6), job)
    expect_error("file missing", ["run", "-", "--data-dir", dd], dict(spec, inputs={"x": "file:nope.npy"}),
                 "not_found", "inputs.x")
    expect_error("file escape", ["run", "-", "--data-dir", dd], dict(spec, inputs={"x": "file:../../x.npy"}),
                 "invalid_argument", "inputs.x")
    expect_error("file absolute outside", ["run", "-", "--data-dir", dd], dict(spec, inputs={"x": "file:" + xp}),
                 "invalid_argument", "inputs.x")
    expect_error("tensor ref", ["run", "-", "--data-dir", dd], dict(spec, inputs={"x": "tensor:t_1"}),
                 "not_found", "inputs.x")

    # malformed specs name the field
    p = subprocess.run([BIN, "run", "-"], input=b"{\"op\": ", capture_output=True)
    check("invalid json", p.returncode == 2 and json.loads(p.stdout)["error"]["code"] == "invalid_json", p.stdout)
    expect_error("missing op", ["run", "-", "-i", f"x={xp}"], {"wavelet": "haar"}, "invalid_argument", "op")
    expect_error("unknown op", ["run", "-", "-i", f"x={xp}"], {"op": "fft"}, "unsupported_op", "op")
    expect_error("typo key", ["run", "-", "-i", f"x={xp}"], dict(spec, levle=2), "invalid_argument", "levle")
    expect_error("bad wavelet", ["run", "-", "-i", f"x={xp}"], dict(spec, wavelet="db99"), "invalid_argument",
                 "wavelet")
    expect_error("bad mode", ["run", "-", "-i", f"x={xp}"], dict(spec, mode="wrap"), "invalid_argument", "mode")
    expect_error("string level", ["run", "-", "-i", f"x={xp}"], dict(spec, level="2"), "invalid_argument", "level")
    expect_error("bad axis", ["run", "-", "-i", f"x={xp}"], dict(spec, axes=[5]), "invalid_argument", "axes")
    expect_error("missing x", ["run", "-"], spec, "invalid_argument", "inputs.x")

    # malformed .npy files name the input
    bad = os.path.join(tmp, "bad.npy")
    raw = open(xp, "rb").read()
    for label, blob in [("truncated data", raw[:-7]), ("bad magic", b"NOTNUMPY" + raw[8:]),
                        ("truncated header", raw[:20])]:
        open(bad, "wb").write(blob)
        r, out = run(["run", "-", "-i", f"x={bad}"], spec)
        check(f"npy {label}", r == 2 and out["error"]["code"] == "invalid_argument"
              and out["error"]["field"] == "inputs.x", out)
    np.save(bad, np.array(["a", "b"]))
    r, out = run(["run", "-", "-i", f"x={bad}"], spec)
    check("npy str dtype", r == 2 and out["error"]["code"] == "unsupported_dtype"
          and out["error"]["field"] == "inputs.x", out)
    # big-endian and Fortran-order inputs are converted
    np.save(bad, np.asfortranarray(x.astype(">f8")))
    r, job = run(["run", "-", "-i", f"x={bad}", "-o", out_npz], spec)
    ref64 = pywt.wavedecn(x.astype(np.float64), "db2", level=1, axes=[1])
    check("npy big-endian fortran", r == 0 and np.allclose(np.load(out_npz)["a"], ref64[0], rtol=1e-12), job)

    # sizes that would overflow are refused, not wrapped (payload_too_large)
    one = os.path.join(tmp, "one.npy")
    np.save(one, np.ones((1, 1, 1, 1, 1), np.float32))
    expect_error("conv huge padding", ["run", "-", "-i", f"x={one}", "-i", f"w={one}"],
                 {"op": "conv", "padding": 2147483647}, "payload_too_large", "inputs")
    a3 = os.path.join(tmp, "a3.npy")
    np.save(a3, np.ones(3))
    expect_error("idwt level 64", ["run", "-", "-i", f"a={a3}"],
                 {"op": "idwt", "wavelet": "haar", "mode": "periodization", "level": 64}, "payload_too_large", "level")

    # usage errors
    r, _ = run(["run"])
    check("usage no spec", r == 2)
    r, _ = run(["frobnicate"])
    check("usage bad command", r == 2)
    r, _ = run(["run", "-", "-i", "novalue"], spec)
    check("usage bad -i", r == 2)

    # ops and wavelets listings
    r, ops = run(["ops"])
    names = [o["name"] for o in ops["ops"]] if isinstance(ops, dict) else []
    check("ops", r == 0 and names == ["dwt", "idwt", "sepconv", "conv"], ops)
    check("ops fields", all({"name", "dtypes", "parameters", "inputs", "outputs"} <= set(o) for o in ops["ops"]))
    r, text = run(["wavelets"])
    check("wavelets", r == 0 and len(text.strip().splitlines()) == len(pywt.wavelist(kind="discrete")))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
