"""harness.py — start a real convoyd (CONVOYD_BIN) on a free loopback port with
a temporary data dir, talk HTTP with the stdlib http.client, build .npy /
multipart bodies, and run a list of test functions with a final
'N passed, M failed' line. Used by every tests/integration/test_*.py."""
import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

START_TIMEOUT_S = 30


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def npy(self):
        return np.load(io.BytesIO(self.body), allow_pickle=False)

    def npz(self):
        z = np.load(io.BytesIO(self.body), allow_pickle=False)
        return {k: z[k] for k in z.files}

    def error(self):
        e = self.json()["error"]
        assert set(e) == {"code", "message", "field"}, e
        return e

    def __repr__(self):
        return f"<{self.status} {self.headers.get('content-type')} {self.body[:300]!r}>"


class Server:
    """One convoyd process. args are extra command-line flags."""

    def __init__(self, *args, env=None, keep_dir=None, preexec=None):
        self.bin = os.environ.get("CONVOYD_BIN")
        if not self.bin or not os.path.exists(self.bin):
            print("CONVOYD_BIN is not set to a convoyd binary", file=sys.stderr)
            sys.exit(2)
        self.tmp = keep_dir or tempfile.mkdtemp(prefix="convoyd-it-")
        self.data_dir = os.path.join(self.tmp, "var")
        self.log_path = os.path.join(self.tmp, "convoyd.log")
        e = {k: v for k, v in os.environ.items() if not k.startswith("CONVOY_")}
        e.update(env or {})
        self.log = open(self.log_path, "ab")
        # the CPU backend keeps the slow-job calibration and batching checks
        # meaningful on machines with a GPU too (these tests are about HTTP)
        cmd = [self.bin, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, "--threads", "2",
               "--backend", "cpu"] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp, env=e,
                                     preexec_fn=preexec)
        self.port = None
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            m = re.search(rb"listening on http://[^ ]*:(\d+)", open(self.log_path, "rb").read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("convoyd did not start:\n" + self.log_text())

    def log_text(self):
        return open(self.log_path, "rb").read().decode(errors="replace")

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=60):
        c = self.conn(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = dict(headers or {})
                headers.setdefault("Content-Type", "application/json")
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Resp(r.status, r.getheaders(), r.read())
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def alive(self):
        return self.proc.poll() is None and self.get("/healthz").status == 200

    def wait_job(self, job_id, timeout=60):
        """Polls until the job's state is final; returns its JSON."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            j = self.get(f"/v1/jobs/{job_id}").json()
            if j["state"] in ("succeeded", "failed", "cancelled"):
                return j
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} did not finish in {timeout}s")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends sig and waits; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("convoyd did not exit after signal %d" % sig)
        self.log.close()
        return self.proc.returncode

    def close(self):
        rc = None
        try:
            rc = self.stop()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        if rc == 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


def npy_bytes(a, fortran=False, big_endian=False):
    a = np.asarray(a)
    if big_endian:
        a = a.astype(a.dtype.newbyteorder(">"))
    if fortran:
        a = np.asfortranarray(a)
    b = io.BytesIO()
    np.save(b, a, allow_pickle=False)
    return b.getvalue()


def multipart(parts, boundary="convoyBoundary7MA4YWxk", close=True):
    """parts: list of (name, bytes, content_type, filename). Returns (body, content-type)."""
    out = b""
    for name, data, ctype, filename in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    if close:
        out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def tensor_obj(a, b64=False):
    a = np.ascontiguousarray(a)
    o = {"dtype": str(a.dtype), "shape": list(a.shape)}
    if b64:
        import base64

        o["data_b64"] = base64.b64encode(a.astype(a.dtype.newbyteorder("<")).tobytes()).decode()
    else:
        o["data"] = a.ravel().tolist()
    return o


def from_tensor_obj(o):
    import base64

    dt = np.dtype(o["dtype"])
    if "data_b64" in o:
        return np.frombuffer(base64.b64decode(o["data_b64"]), dtype=dt.newbyteorder("<")).reshape(o["shape"])
    return np.array(o["data"], dtype=dt).reshape(o["shape"])


def pywt_outputs(x, wavelet, level, mode="symmetric", axes=None):
    """pywt.wavedecn as convoy names its outputs: a, d{j}_{key} (j = 1 finest)."""
    import pywt

    coeffs = pywt.wavedecn(x, wavelet, mode=mode, level=level, axes=axes)
    out = {"a": coeffs[0]}
    n = len(coeffs) - 1
    for i, d in enumerate(coeffs[1:]):
        j = n - i
        for key, v in d.items():
            out[f"d{j}_{key}"] = v
    return out


def assert_close(got, want, rtol=1e-5, atol=1e-6, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert np.allclose(got, want, rtol=rtol, atol=atol), f"{what}: max diff {np.max(np.abs(got - want))}"


def run(tests):
    """Runs (name, fn) pairs; prints a TAP-ish line per test and the summary."""
    passed = failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            passed += 1
            print(f"ok - {name} ({time.time() - t0:.2f}s)", flush=True)
        except Exception:
            failed += 1
            print(f"not ok - {name}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def conv_spec(n, k, **extra):
    """A 3-D conv of ones (n³ input, k³ kernel): its run time grows with n³k³."""
    import base64

    x = base64.b64encode(np.ones(n ** 3, np.float32).tobytes()).decode()
    w = base64.b64encode(np.ones(k ** 3, np.float32).tobytes()).decode()
    spec = {"op": "conv", "algo": "direct",
            "inputs": {"x": {"dtype": "float32", "shape": [1, 1, n, n, n], "data_b64": x},
                       "w": {"dtype": "float32", "shape": [1, 1, k, k, k], "data_b64": w}}}
    spec.update(extra)
    return spec


_slow = {}


def slow_spec(server, target_s=1.5, **extra):
    """A conv job that runs at least target_s on this machine (calibrated once
    per process). The kernel grows first (time ~ k^3 at a fixed input), then
    the input, up to 128^3 so the JSON body stays far below max_json_bytes."""
    if target_s not in _slow:
        n, k = 64, 9
        while True:
            t0 = time.time()
            r = server.post("/v1/jobs?wait_s=600", conv_spec(n, k), headers={"Accept": "application/zip"})
            dt = time.time() - t0
            assert r.status == 200, r
            if dt >= target_s:
                break
            grow = min(max((target_s / max(dt, 1e-3)) ** (1 / 3) * 1.1, 1.15), 2.0)
            if k < n // 2:
                k = min(n // 2, int(k * grow) + 1)
            elif n < 128:
                n = min(128, int(n * grow) + 1)
            else:
                break
        _slow[target_s] = (n, k)
    n, k = _slow[target_s]
    return conv_spec(n, k, **extra)
