"""test_limits.py — limits and lifecycle against real convoyd processes:
429 (max_queue_jobs, max_inflight_bytes) with Retry-After, 413 (Content-Length
up front, running total, JSON, tensor, job), 507 (tensor store full, keep,
disk full on a small tmpfs when mountable), 410 after result_ttl_s, API keys
(and their SIGHUP reload), SIGHUP config reload, a burst of malformed bodies
and raw garbage that never kills the server, and SIGTERM drains (exit 0)."""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import multipart, npy_bytes, tensor_obj  # noqa: E402

BASE = None   # a default server, also used to calibrate the slow job
X = np.arange(64, dtype=np.float32).reshape(8, 8)


def small_spec(**kw):
    spec = {"op": "dwt", "wavelet": "haar", "level": 1, "inputs": {"x": tensor_obj(X)}}
    spec.update(kw)
    return spec


def with_server(args, fn, **kw):
    s = harness.Server(*args, **kw)
    try:
        fn(s)
        assert s.alive(), "convoyd died"
    finally:
        rc = s.close()
    assert rc == 0, f"exit code {rc}\n{s.log_text()[-2000:]}"


def raw_exchange(port, data, read=True, timeout=10):
    """Sends raw bytes; returns what came back (until close or timeout)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(body) >= int(line.split(b":")[1]):
                            return out
        return out
    finally:
        sock.close()


# ---- 429 ----

def test_queue_full_429():
    slow = harness.slow_spec(BASE)

    def body(s):
        a = s.post("/v1/jobs", dict(slow, **{"async": True}))
        b = s.post("/v1/jobs", small_spec(**{"async": True}))
        assert a.status == 202 and b.status == 202, (a, b)
        r = s.post("/v1/jobs", small_spec())
        assert r.status == 429 and r.error()["code"] == "queue_full", r
        assert int(r.headers["retry-after"]) >= 1
        r = s.post("/v1/jobs", npy_bytes(X), headers={"Content-Type": "application/x-npy"})
        assert r.status == 429, r
        s.wait_job(a.json()["id"])
        s.wait_job(b.json()["id"])
        assert s.post("/v1/jobs", small_spec()).status == 200

    with_server(["--max-queue-jobs", "2"], body)


def test_inflight_429_and_413():
    slow = harness.slow_spec(BASE)
    n = slow["inputs"]["x"]["shape"][2]
    k = slow["inputs"]["w"]["shape"][2]
    slow_bytes = 4 * (n ** 3 + k ** 3 + (n - k + 1) ** 3)
    small = small_spec()
    small_bytes = X.nbytes * 2   # haar level 1: outputs as large as the input
    limit = slow_bytes + small_bytes + small_bytes // 2

    def body(s):
        a = s.post("/v1/jobs", dict(slow, **{"async": True}))
        assert a.status == 202, a
        b = s.post("/v1/jobs", dict(small, **{"async": True}))
        assert b.status == 202, b
        r = s.post("/v1/jobs", small)
        assert r.status == 429 and r.error()["code"] == "queue_full" and "retry-after" in r.headers, r
        big = np.ones((limit // 8 + 16,), np.float32)
        r = s.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "level": 1,
                                "inputs": {"x": tensor_obj(big, b64=True)}})
        assert r.status == 413 and r.error()["code"] == "payload_too_large", r
        s.wait_job(a.json()["id"])
        s.wait_job(b.json()["id"])

    with_server(["--max-inflight-bytes", str(limit)], body)


# ---- 413 ----

def test_payload_too_large():
    def body(s):
        pad = "x" * 6000
        r = s.post("/v1/jobs", json.dumps(small_spec(op=pad)).encode(), headers={"Content-Type": "application/json"})
        assert r.status == 413 and r.error()["code"] == "payload_too_large", r
        # a declared Content-Length over max_body_bytes is refused before any body byte
        head = (b"POST /v1/jobs?op=dwt&wavelet=haar HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-npy\r\n"
                b"Content-Length: 4194304\r\n\r\n")
        out = raw_exchange(s.port, head)
        assert out.startswith(b"HTTP/1.1 413"), out[:200]
        assert b"payload_too_large" in out
        # chunked without a length: the running total trips
        c = s.conn()
        chunk = b"\0" * 65536

        def gen():
            yield npy_bytes(np.zeros((4,), np.float32))[:64]
            for _ in range(40):
                yield chunk

        c.request("POST", "/v1/tensors", body=gen(), headers={"Content-Type": "application/x-npy"},
                  encode_chunked=True)
        r = c.getresponse()
        assert r.status in (400, 413), r.status
        r.read()
        c.close()
        c = s.conn()

        def gen2():
            for _ in range(40):
                yield chunk

        c.request("POST", "/v1/jobs", body=gen2(), headers={"Content-Type": "multipart/form-data; boundary=b"},
                  encode_chunked=True)
        r = c.getresponse()
        assert r.status == 413, r.status
        r.read()
        c.close()
        # an .npy header declaring more than max_tensor_bytes
        hdr = npy_bytes(np.zeros((512, 1024), np.float64))[:128]
        r = s.post("/v1/tensors", hdr, headers={"Content-Type": "application/x-npy"})
        assert r.status == 413 and r.error()["code"] == "payload_too_large", r
        # an inline tensor over max_tensor_bytes (its shape says so before any data is decoded)
        r = s.post("/v1/jobs", {"op": "dwt", "wavelet": "haar",
                                "inputs": {"x": {"dtype": "float64", "shape": [400000], "data_b64": ""}}})
        assert r.status == 413 and r.error()["code"] == "payload_too_large", r
        assert s.post("/v1/jobs", small_spec()).status == 200

    with_server(["--max-json-bytes", "4KiB", "--max-body-bytes", "2MiB", "--max-tensor-bytes", "1MiB"], body)


# ---- 507, 410 ----

def test_store_full_507():
    def body(s):
        r = s.post("/v1/tensors", npy_bytes(np.zeros(4096, np.float32)), headers={"Content-Type": "application/x-npy"})
        assert r.status == 507 and r.error()["code"] == "insufficient_storage", r
        r = s.post("/v1/tensors", npy_bytes(np.zeros(16, np.float32)), headers={"Content-Type": "application/x-npy"})
        assert r.status == 201, r
        big = np.ones((64, 64), np.float32)
        r = s.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "level": 1, "keep": True,
                                "inputs": {"x": tensor_obj(big, b64=True)}})
        assert r.status == 507 and r.error()["code"] == "insufficient_storage", r
        assert r.headers["location"].startswith("/v1/jobs/")

    with_server(["--result-store-bytes", "8KiB"], body)


def test_ttl_410():
    def body(s):
        jid = s.post("/v1/jobs", small_spec()).json()["id"]
        tid = s.post("/v1/tensors", npy_bytes(X), headers={"Content-Type": "application/x-npy"}).json()["id"]
        assert s.get(f"/v1/jobs/{jid}/result").status == 200
        time.sleep(2.5)
        for path in (f"/v1/jobs/{jid}", f"/v1/jobs/{jid}/result", f"/v1/jobs/{jid}/result/a", f"/v1/tensors/{tid}"):
            r = s.get(path)
            assert r.status == 410 and r.error()["code"] == "gone", (path, r)
        r = s.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "inputs": {"x": "tensor:" + tid}})
        assert r.status in (404, 410), r

    with_server(["--result-ttl-s", "1"], body)


def test_disk_full_507():
    def body(s):
        small = os.path.join(s.data_dir, "outputs", "small")
        os.makedirs(small)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small], capture_output=True)
        if p.returncode != 0:
            print("  skip: cannot mount a small tmpfs here", flush=True)
            return
        try:
            big = np.ones((128, 128), np.float64)
            r = s.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "level": 1, "output": {"path": "small/o.npz"},
                                    "inputs": {"x": tensor_obj(big, b64=True)}})
            assert r.status == 507 and r.error()["code"] == "insufficient_storage", r
            r = s.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "level": 1,
                                    "output": {"dir": "small/d", "format": "npy"},
                                    "inputs": {"x": tensor_obj(big, b64=True)}})
            assert r.status == 507, r
            left = [f for _, _, fs in os.walk(small) for f in fs]
            assert left == [], left
        finally:
            subprocess.run(["umount", small])

    with_server([], body)


# ---- auth and reload ----

def test_api_keys_and_reload():
    tmp = harness.tempfile.mkdtemp(prefix="convoyd-keys-")
    keys = os.path.join(tmp, "keys")
    cfg = os.path.join(tmp, "convoyd.json")
    open(keys, "w").write("# keys\nkey-one\n\nkey-two\n")
    open(cfg, "w").write(json.dumps({"wait_s": 30}))

    def body(s):
        r = s.get("/v1/info")
        assert r.status == 401 and r.error()["code"] == "unauthorized", r
        assert r.headers["www-authenticate"].startswith("Bearer"), r.headers
        assert s.get("/v1/info", headers={"Authorization": "Bearer nope"}).status == 401
        assert s.get("/v1/info", headers={"Authorization": "Basic a2V5LW9uZQ=="}).status == 401
        assert s.get("/v1/info", headers={"Authorization": "Bearer key-two"}).status == 200
        r = s.post("/v1/jobs", small_spec(), headers={"Authorization": "Bearer key-one"})
        assert r.status == 200, r
        assert s.post("/v1/jobs", small_spec()).status == 401
        for path in ("/healthz", "/readyz", "/metrics"):
            assert s.get(path).status == 200, path
        # SIGHUP: new keys and a new wait_s
        open(keys, "w").write("key-three\n")
        open(cfg, "w").write(json.dumps({"wait_s": 7, "log_level": "debug"}))
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and s.get("/v1/info", headers={"Authorization": "Bearer key-three"}).status != 200:
            time.sleep(0.05)
        r = s.get("/v1/info", headers={"Authorization": "Bearer key-three"})
        assert r.status == 200 and r.json()["limits"]["wait_s"] == 7, r
        assert s.get("/v1/info", headers={"Authorization": "Bearer key-one"}).status == 401

    with_server(["--api-keys-file", keys, "--config", cfg], body)


# ---- malformed input ----

def test_malformed_burst():
    def body(s):
        ok = np.ones((4, 4), np.float32)
        npy = npy_bytes(ok)
        j = lambda o: json.dumps(o).encode()  # noqa: E731
        x = lambda v: {"op": "dwt", "wavelet": "haar", "inputs": {"x": v}}  # noqa: E731
        bad_json = [b"", b"{", b'{"op":"dwt"', b"[1,2,3]", b'"dwt"', b"null", b"\xff\xfe", b"[" * 100000,
                    b'{"op":"dwt","inputs":{"x":{"dtype":"float32","shape":[2],"data":[1,2]}}}' + b"junk",
                    j({"op": 5}), j({"op": "dwt", "inputs": []}), j(x(5)), j(x("tensor:")), j(x("file:")),
                    j(x({"dtype": "float32", "shape": "a", "data": []})),
                    j(x({"dtype": "float32", "shape": [1.5], "data": [1]})),
                    j(x({"dtype": "float32", "shape": [-1], "data": []})),
                    j(x({"dtype": "float32", "shape": [10 ** 12, 10 ** 12], "data": []})),
                    j(x({"dtype": "float32", "shape": [2 ** 62, 4], "data_b64": ""})),
                    j(x({"dtype": "float32", "shape": [1] * 40, "data": [1]})),
                    j(x({"dtype": "float128", "shape": [1], "data": [1]})),
                    j(x({"dtype": "float32", "shape": [2], "data_b64": "!!!!"})),
                    j(x({"dtype": "float32", "shape": [2], "data_b64": "AAAA"})),
                    j(x({"dtype": "float32", "shape": [2], "data": [[1], [2, 3]]})),
                    j(x({"dtype": "bool", "shape": [1], "data": [2]})),
                    j(x({"dtype": "int8", "shape": [1], "data": ["NaN"]})),
                    j(dict(x(tensor_obj(ok)), priority=10)), j(dict(x(tensor_obj(ok)), timeout_ms=-1)),
                    j(dict(x(tensor_obj(ok)), **{"async": "yes"})), j(dict(x(tensor_obj(ok)), output={"path": 5})),
                    j(dict(x(tensor_obj(ok)), select="a")), j(dict(x(tensor_obj(ok)), level=1e300)),
                    j(dict(x(tensor_obj(ok)), axes=[7])), j(dict(x(tensor_obj(ok)), wavelet={"dec_lo": [1]}))]
        for b in bad_json:
            r = s.post("/v1/jobs", b, headers={"Content-Type": "application/json"})
            assert 400 <= r.status < 500, (b[:80], r)
            r.error()
        bad_npy = [b"", b"\x93NUMPY", b"NOTNUMPY" + npy[8:], npy[:20], npy[:70], npy[:-1], npy + b"extra",
                   npy[:6] + b"\x09\x00" + npy[8:], npy[:8] + b"\xff\xff" + npy[10:],
                   npy.replace(b"'<f4'", b"'|O8'"), npy.replace(b"'<f4'", b"'<U4'"),
                   npy.replace(b"(4, 4)", b"(-4, 4)"), npy.replace(b"(4, 4)", b"(99999999999, 99999999999)")]
        for b in bad_npy:
            for path in ("/v1/tensors", "/v1/jobs?op=dwt&wavelet=haar"):
                r = s.post(path, b, headers={"Content-Type": "application/x-npy"})
                assert 400 <= r.status < 500, (path, b[:80], r)
                r.error()
        spec = b'{"op":"dwt","wavelet":"haar","level":1}'
        mp = [multipart([("spec", spec, None, None), ("x", npy, None, "x.npy")], close=False),
              multipart([("spec", spec, None, None), ("spec", spec, None, None)]),
              multipart([("x", npy, None, "x.npy")]),
              multipart([("spec", spec, None, None), ("x", npy[:30], None, "x.npy")]),
              multipart([("spec", spec, None, None), ("x!", npy, None, "x.npy")]),
              (b"--b\r\nContent-Disposition: form-data\r\n\r\nzz\r\n--b--\r\n", "multipart/form-data; boundary=b"),
              (b"--b\r\nX-Nope: 1\r\n\r\nzz\r\n--b--\r\n", "multipart/form-data; boundary=b"),
              (b"--b\r\n" + b"A" * 20000 + b"\r\n\r\n--b--\r\n", "multipart/form-data; boundary=b"),
              (b"garbage", "multipart/form-data; boundary=b"),
              (b"--b--\r\n", "multipart/form-data"),
              (b"--b\r\n", "multipart/form-data; boundary=" + "b" * 200)]
        for b, ct in mp:
            r = s.post("/v1/jobs", b, headers={"Content-Type": ct})
            assert 400 <= r.status < 500, (b[:80], ct, r)
            r.error()
        # big-endian and Fortran-order are valid .npy
        for kw in ({"big_endian": True}, {"fortran": True}):
            r = s.post("/v1/tensors", npy_bytes(np.arange(12.0).reshape(3, 4), **kw),
                       headers={"Content-Type": "application/x-npy"})
            assert r.status == 201, (kw, r)
            assert np.array_equal(s.get(r.headers["location"]).npy(), np.arange(12.0).reshape(3, 4))
        # raw garbage on the socket
        for junk in (b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n", b"\x00\x01\x02" * 1000,
                     b"POST /v1/jobs HTTP/1.1\r\nContent-Length: 100\r\n\r\n{", b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n",
                     b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            try:
                raw_exchange(s.port, junk, timeout=3)
            except OSError:
                pass
        # a client that vanishes mid-upload
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"POST /v1/tensors HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-npy\r\n"
                     b"Content-Length: 100000\r\n\r\n" + npy[:100])
        sock.close()
        assert s.alive()
        r = s.post("/v1/jobs", small_spec())
        assert r.status == 200, r

    with_server(["--max-json-bytes", "1MiB"], body)


# ---- drain ----

def test_sigterm_drain():
    slow = harness.slow_spec(BASE)
    s = harness.Server()
    try:
        held = {}

        def sync_slow():
            held["r"] = s.post("/v1/jobs", slow, headers={"Accept": "application/zip"})

        t = threading.Thread(target=sync_slow)
        t.start()
        deadline = time.time() + 10
        while time.time() < deadline and not s.get("/v1/jobs?state=running").json()["jobs"]:
            time.sleep(0.02)
        queued = s.post("/v1/jobs", small_spec(**{"async": True}))
        assert queued.status == 202
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        r = s.get("/readyz")
        assert r.status == 503 and r.error()["code"] == "shutting_down", r
        r = s.post("/v1/jobs", small_spec())
        assert r.status == 503 and r.error()["code"] == "shutting_down" and "retry-after" in r.headers, r
        assert s.get("/healthz").status == 200
        assert s.get(f"/v1/jobs/{queued.json()['id']}").status == 200
        t.join(120)
        assert held["r"].status == 200, held["r"]
        rc = s.proc.wait(120)
        assert rc == 0, rc
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
    assert "drained" in s.log_text()


def test_drain_timeout_cancels():
    slow = harness.slow_spec(BASE)
    s = harness.Server("--drain-timeout-s", "1")
    try:
        a = s.post("/v1/jobs", dict(slow, **{"async": True}))
        held = {}

        def sync_small():
            held["r"] = s.post("/v1/jobs", small_spec(priority=9))

        t = threading.Thread(target=sync_small)
        t.start()
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        t.join(120)
        r = held["r"]
        assert r.status in (200, 409), r
        if r.status == 409:
            assert r.error()["code"] == "cancelled", r
        rc = s.proc.wait(120)
        assert rc == 0, rc
        assert a.status == 202
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def test_sigint_idle_exit():
    s = harness.Server()
    s.proc.send_signal(signal.SIGINT)
    assert s.proc.wait(30) == 0


def main():
    global BASE
    BASE = harness.Server()
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    try:
        rc = harness.run(tests)
    finally:
        code = BASE.close()
    if code != 0:
        print("base convoyd exited with %s" % code, file=sys.stderr)
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
