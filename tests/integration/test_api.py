"""test_api.py — every route of design.md §2 against a real convoyd: meta
routes, the three submission content types, Accept negotiation (JSON, .npz,
.npy, q-values, 406), the error codes a client can trigger (400 family, 404,
405 + Allow, 415), X-Request-Id, /metrics and /openapi.yaml."""
import base64
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pywt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import assert_close, multipart, npy_bytes, pywt_outputs, tensor_obj  # noqa: E402

S = None
RNG = np.random.default_rng(7)
X2 = RNG.standard_normal((13, 10)).astype(np.float32)


def dwt_spec(x=X2, **kw):
    spec = {"op": "dwt", "wavelet": "db2", "level": 2, "inputs": {"x": tensor_obj(x)}}
    spec.update(kw)
    return spec


def check_dwt(outputs, x=X2, wavelet="db2", level=2, axes=None, mode="symmetric"):
    want = pywt_outputs(np.asarray(x, np.float64), wavelet, level, mode=mode, axes=axes)
    assert set(outputs) == set(want), (sorted(outputs), sorted(want))
    for k, v in want.items():
        assert_close(outputs[k], v, rtol=1e-4, atol=1e-5, what=k)


def outputs_of(job):
    return {k: harness.from_tensor_obj(v) for k, v in job["outputs"].items()}


# ---- meta routes ----

def test_healthz_readyz():
    r = S.get("/healthz")
    assert r.status == 200 and r.json()["status"] == "ok", r
    r = S.get("/readyz")
    assert r.status == 200, r


def test_request_id():
    r = S.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]), r.headers
    r = S.get("/v1/info", headers={"X-Request-Id": "client-id-42"})
    assert r.headers["x-request-id"] == "client-id-42"
    r = S.get("/nope", headers={"X-Request-Id": "abc.123"})
    assert r.status == 404 and r.headers["x-request-id"] == "abc.123"
    r = S.get("/healthz", headers={"X-Request-Id": "has space"})
    assert r.headers["x-request-id"] != "has space" and len(r.headers["x-request-id"]) == 32
    r = S.post("/v1/jobs", {"op": "nope"}, headers={"X-Request-Id": "rid-err"})
    assert r.status == 400 and r.headers["x-request-id"] == "rid-err"


def test_not_found_and_405():
    r = S.get("/v1/nothing")
    assert r.status == 404 and r.error()["code"] == "not_found"
    r = S.get("/v1/jobs/")
    assert r.status == 404
    for method, path, allow in [("PUT", "/v1/jobs", {"GET", "HEAD", "POST"}),
                                ("DELETE", "/v1/ops", {"GET", "HEAD"}),
                                ("POST", "/v1/jobs/j_0000000000000000", {"GET", "HEAD", "DELETE"}),
                                ("PATCH", "/v1/tensors/t_1", {"GET", "HEAD", "DELETE"}),
                                ("POST", "/healthz", {"GET", "HEAD"})]:
        r = S.request(method, path)
        assert r.status == 405, (method, path, r)
        assert r.error()["code"] == "method_not_allowed"
        assert set(a.strip() for a in r.headers["allow"].split(",")) == allow, r.headers


def test_head():
    r = S.request("HEAD", "/v1/info")
    assert r.status == 200 and r.body == b""


def test_ops():
    r = S.get("/v1/ops")
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    ops = {o["name"]: o for o in r.json()["ops"]}
    assert set(ops) == {"dwt", "idwt", "conv", "sepconv"}, ops.keys()
    for o in ops.values():
        assert {"name", "dtypes", "parameters", "inputs", "outputs"} <= set(o), o
        for p in o["parameters"]:
            assert set(p) == {"name", "type", "default", "help"}, p
    assert "float32" in ops["conv"]["dtypes"] and "int32" not in ops["conv"]["dtypes"]
    assert "wavelet" in {p["name"] for p in ops["dwt"]["parameters"]}
    assert ops["conv"]["inputs"][:2] == ["x", "w"]


def test_wavelets():
    r = S.get("/v1/wavelets")
    assert r.status == 200
    ws = r.json()["wavelets"]
    assert len(ws) == 106 and {w["name"] for w in ws} == set(pywt.wavelist(kind="discrete"))
    fam = {w["name"]: w["family"] for w in ws}
    assert fam["db4"] == "db" and fam["haar"] == "haar" and fam["bior2.2"] == "bior" and fam["dmey"] == "dmey"
    r = S.get("/v1/wavelets/db4")
    assert r.status == 200
    w = r.json()
    pw = pywt.Wavelet("db4")
    for k in ("dec_lo", "dec_hi", "rec_lo", "rec_hi"):
        assert w["filters"][k] == list(getattr(pw, k)), k
    assert w["orthogonal"] is True and w["dec_len"] == 8 and w["vanishing_moments_psi"] == 4
    r = S.get("/v1/wavelets/nope7")
    assert r.status == 404 and r.error()["code"] == "not_found"


def test_info():
    r = S.get("/v1/info")
    assert r.status == 200
    i = r.json()
    assert {"version", "backends", "devices", "limits"} <= set(i), i
    assert "cpu" in i["backends"] and i["devices"][0]["id"] == "cpu" and i["devices"][0]["kind"] == "cpu"
    assert i["devices"][0]["memory_bytes"] > 0
    lim = i["limits"]
    for k in ("max_body_bytes", "max_tensor_bytes", "max_queue_jobs", "max_inflight_bytes", "max_json_bytes",
              "max_batch", "max_batch_delay_us", "wait_s", "result_ttl_s"):
        assert isinstance(lim[k], int), k
    assert lim["max_json_bytes"] == 16 << 20 and lim["wait_s"] == 30


def test_openapi():
    r = S.get("/openapi.yaml")
    assert r.status == 200 and "yaml" in r.headers["content-type"], r.headers
    src = os.environ.get("CONVOY_SOURCE_DIR")
    if src:
        assert r.body == open(os.path.join(src, "proto", "openapi.yaml"), "rb").read()
    import yaml

    doc = yaml.safe_load(r.body)
    assert doc["openapi"].startswith("3.")
    want = {"/v1/jobs": {"get", "post"}, "/v1/jobs/{id}": {"get", "delete"}, "/v1/jobs/{id}/result": {"get"},
            "/v1/jobs/{id}/result/{name}": {"get"}, "/v1/tensors": {"post"},
            "/v1/tensors/{id}": {"get", "delete"}, "/v1/ops": {"get"}, "/v1/wavelets": {"get"},
            "/v1/wavelets/{name}": {"get"}, "/v1/info": {"get"}, "/healthz": {"get"}, "/readyz": {"get"},
            "/metrics": {"get"}, "/openapi.yaml": {"get"}}
    for path, methods in want.items():
        assert path in doc["paths"], path
        assert methods <= set(doc["paths"][path]), (path, doc["paths"][path].keys())


def test_metrics():
    S.get("/v1/jobs/j_00000000000000aa")
    S.post("/v1/jobs", dwt_spec())
    r = S.get("/metrics")
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain"), r.headers
    text = r.body.decode()
    for name in ("convoy_http_requests_total", "convoy_http_request_duration_seconds_bucket", "convoy_jobs_total",
                 "convoy_jobs_queued", "convoy_jobs_running", "convoy_job_queue_seconds", "convoy_job_run_seconds",
                 "convoy_batch_size", "convoy_bytes_in_total", "convoy_bytes_out_total",
                 "convoy_result_store_bytes", "convoy_inflight_bytes", "convoy_build_info", "process_"):
        assert name in text, name
    assert 'route="/v1/jobs/{id}"' in text and "j_00000000000000aa" not in text
    assert re.search(r'convoy_jobs_total\{op="dwt",state="succeeded"\} [1-9]', text), text[:2000]
    assert re.search(r'convoy_device_utilization_ratio\{device="cpu"\}', text)
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=r.body, capture_output=True)
        assert p.returncode == 0, p.stdout + p.stderr


# ---- submission: JSON, multipart, x-npy ----

def test_json_sync_inline():
    r = S.post("/v1/jobs", dwt_spec())
    assert r.status == 200, r
    j = r.json()
    for k in ("id", "op", "state", "priority", "created_at", "started_at", "finished_at", "queue_ms", "run_ms",
              "device", "batch_size", "outputs", "error", "warnings"):
        assert k in j, k
    assert j["state"] == "succeeded" and j["device"] == "cpu" and j["batch_size"] >= 1 and j["error"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", j["finished_at"]), j["finished_at"]
    for name, o in j["outputs"].items():
        assert o["url"] == f"/v1/jobs/{j['id']}/result/{name}" and "data" in o
    check_dwt(outputs_of(j))


def test_json_b64_in_and_out():
    x = RNG.standard_normal((9, 11)).astype(np.float64)
    spec = {"op": "dwt", "wavelet": "sym3", "level": 1, "mode": "periodization",
            "inputs": {"x": tensor_obj(x, b64=True)}, "result_encoding": "b64"}
    r = S.post("/v1/jobs", spec)
    assert r.status == 200, r
    outs = r.json()["outputs"]
    assert all("data_b64" in o and "data" not in o for o in outs.values())
    check_dwt({k: harness.from_tensor_obj(v) for k, v in outs.items()}, x, "sym3", 1, mode="periodization")
    r = S.post("/v1/jobs?encoding=b64", dwt_spec())
    assert r.status == 200 and all("data_b64" in o for o in r.json()["outputs"].values())


def test_accept_npz_npy_and_q():
    r = S.post("/v1/jobs", dwt_spec(), headers={"Accept": "application/zip"})
    assert r.status == 200 and r.headers["content-type"] == "application/zip", r
    check_dwt(r.npz())
    r = S.post("/v1/jobs", dwt_spec(), headers={"Accept": "application/x-npy"})
    assert r.status == 406 and r.error()["code"] == "not_acceptable", r
    r = S.post("/v1/jobs", dwt_spec(select=["a"]), headers={"Accept": "application/x-npy"})
    assert r.status == 200 and r.headers["content-type"] == "application/x-npy", r
    assert_close(r.npy(), pywt_outputs(X2.astype(np.float64), "db2", 2)["a"], 1e-4, 1e-5)
    r = S.post("/v1/jobs", dwt_spec(), headers={"Accept": "application/zip;q=0.5, application/json"})
    assert r.headers["content-type"].startswith("application/json")
    r = S.post("/v1/jobs", dwt_spec(), headers={"Accept": "application/json;q=0, application/zip;q=0.2"})
    assert r.headers["content-type"] == "application/zip"
    r = S.post("/v1/jobs", dwt_spec(), headers={"Accept": "*/*"})
    assert r.headers["content-type"].startswith("application/json")
    r = S.post("/v1/jobs", dwt_spec(), headers={"Accept": "application/*;q=0.9, application/zip"})
    assert r.headers["content-type"] == "application/zip"
    r = S.post("/v1/jobs", dwt_spec(), headers={"Accept": "text/html"})
    assert r.status == 406 and r.error()["code"] == "not_acceptable"


def test_multipart():
    x = RNG.standard_normal((8, 6, 5)).astype(np.float32)
    spec = {"op": "dwt", "wavelet": "haar", "level": 1, "axes": [0, 2]}
    body, ct = multipart([("spec", harness.json.dumps(spec).encode(), "application/json", None),
                          ("x", npy_bytes(x), "application/octet-stream", "x.npy")])
    r = S.post("/v1/jobs", body, headers={"Content-Type": ct, "Accept": "application/zip"})
    assert r.status == 200, r
    check_dwt(r.npz(), x, "haar", 1, axes=[0, 2])
    # parts in the other order, idwt with two inputs
    outs = pywt_outputs(x.astype(np.float64), "haar", 1)
    body, ct = multipart([("a", npy_bytes(outs["a"]), None, "a.npy"),
                          ("d1_ddd", npy_bytes(outs["d1_ddd"]), None, "d.npy"),
                          ("spec", b'{"op":"idwt","wavelet":"haar"}', None, None)])
    r = S.post("/v1/jobs", body, headers={"Content-Type": ct, "Accept": "application/x-npy"})
    assert r.status == 200, r
    want = pywt.waverecn([outs["a"], {"ddd": outs["d1_ddd"]}], "haar")
    assert_close(r.npy(), want, what="idwt")


def test_multipart_errors():
    spec = b'{"op":"dwt","wavelet":"haar","level":1}'
    x = npy_bytes(np.ones((4, 4), np.float32))
    body, ct = multipart([("x", x, None, "x.npy")])
    r = S.post("/v1/jobs", body, headers={"Content-Type": ct})
    assert r.status == 400 and r.error()["code"] == "invalid_argument" and "spec" in r.error()["message"], r
    body, ct = multipart([("spec", spec, None, None), ("x", x, None, "x.npy")], close=False)
    r = S.post("/v1/jobs", body, headers={"Content-Type": ct})
    assert r.status == 400 and r.error()["code"] == "invalid_argument", r
    r = S.post("/v1/jobs", b"--x\r\n", headers={"Content-Type": "multipart/form-data"})
    assert r.status == 400, r
    body, ct = multipart([("spec", spec, None, None), ("x", x[:40], None, "x.npy")])
    r = S.post("/v1/jobs", body, headers={"Content-Type": ct})
    assert r.status == 400 and r.error()["field"] == "inputs.x", r
    body, ct = multipart([("spec", b'{"op":"dwt",', None, None), ("x", x, None, "x.npy")])
    r = S.post("/v1/jobs", body, headers={"Content-Type": ct})
    assert r.status == 400 and r.error()["code"] == "invalid_json", r


def test_xnpy():
    x = RNG.standard_normal((16, 12, 6)).astype(np.float32)
    r = S.post("/v1/jobs?op=dwt&wavelet=db3&level=2&axes=0,1&mode=periodic", npy_bytes(x),
               headers={"Content-Type": "application/x-npy", "Accept": "application/zip"})
    assert r.status == 200, r
    check_dwt(r.npz(), x, "db3", 2, axes=[0, 1], mode="periodic")
    r = S.post("/v1/jobs?op=dwt&wavelet=haar&level=", npy_bytes(x), headers={"Content-Type": "application/x-npy"})
    assert r.status == 200, r
    check_dwt(outputs_of(r.json()), x, "haar", None)
    # big-endian and Fortran-order .npy are valid
    for kw in ({"big_endian": True}, {"fortran": True}):
        r = S.post("/v1/jobs?op=dwt&wavelet=haar&level=1&select=a", npy_bytes(x, **kw),
                   headers={"Content-Type": "application/x-npy", "Accept": "application/x-npy"})
        assert r.status == 200, (kw, r)
        assert_close(r.npy(), pywt_outputs(x.astype(np.float64), "haar", 1)["a"], 1e-4, 1e-5, what=str(kw))
    r = S.post("/v1/jobs?op=dwt&wavelet=haar&levle=1", npy_bytes(x), headers={"Content-Type": "application/x-npy"})
    assert r.status == 400 and r.error()["field"] == "levle", r
    r = S.post("/v1/jobs?op=dwt&wavelet=haar", npy_bytes(x)[:100], headers={"Content-Type": "application/x-npy"})
    assert r.status == 400 and r.error()["field"] == "inputs.x", r


def test_unsupported_media_type():
    r = S.post("/v1/jobs", b"op=dwt", headers={"Content-Type": "text/plain"})
    assert r.status == 415 and r.error()["code"] == "unsupported_media_type", r
    r = S.post("/v1/tensors", b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 415, r


def test_spec_errors():
    cases = [
        (b'{"op":"dwt","wavelet":"haar"', "invalid_json", None),
        (b"[1,2", "invalid_json", None),
        ({"wavelet": "haar", "inputs": {"x": tensor_obj(X2)}}, "invalid_argument", "op"),
        ({"op": "fft", "inputs": {"x": tensor_obj(X2)}}, "unsupported_op", "op"),
        (dwt_spec(levle=2), "invalid_argument", "levle"),
        (dwt_spec(wavelet="db99"), "invalid_argument", "wavelet"),
        (dwt_spec(mode="nonsense"), "invalid_argument", "mode"),
        (dwt_spec(level="2"), "invalid_argument", "level"),
        (dwt_spec(level=-1), "invalid_argument", "level"),
        ({"op": "dwt", "wavelet": "haar", "inputs": {"x": {"dtype": "float32", "shape": [3], "data": [1, 2]}}},
         "shape_mismatch", None),
        ({"op": "dwt", "wavelet": "haar", "inputs": {"x": {"dtype": "float32", "shape": [2], "data": [1, "x"]}}},
         "invalid_argument", None),
        ({"op": "conv", "inputs": {"x": tensor_obj(np.ones((1, 1, 4), np.int32)),
                                   "w": tensor_obj(np.ones((1, 1, 2), np.int32))}}, "unsupported_dtype", "inputs.x"),
        ({"op": "conv", "inputs": {"x": tensor_obj(np.ones((1, 2, 4), np.float32)),
                                   "w": tensor_obj(np.ones((1, 3, 2), np.float32))}}, "shape_mismatch", None),
        (dwt_spec(select=["zz"]), "invalid_argument", "select[0]"),
        (dwt_spec(output={"path": "../escape.npz"}), "invalid_argument", "output.path"),
        (dwt_spec(output={"path": "/abs.npz"}), "invalid_argument", "output.path"),
    ]
    for body, code, field in cases:
        r = S.post("/v1/jobs", body, headers={"Content-Type": "application/json"})
        assert r.status == 400, (body if isinstance(body, bytes) else list(body), r)
        e = r.error()
        assert e["code"] == code, (code, e)
        if field is not None:
            assert e["field"] is not None and e["field"].startswith(field), (field, e)


def test_input_refs_errors():
    r = S.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "inputs": {"x": "tensor:t_ffffffffffffffff"}})
    assert r.status == 404 and r.error()["field"] == "inputs.x", r
    r = S.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "inputs": {"x": "file:missing.npy"}})
    assert r.status == 404 and r.error()["field"] == "inputs.x", r
    r = S.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "inputs": {"x": "file:../convoyd.log"}})
    assert r.status == 400 and r.error()["field"] == "inputs.x", r
    r = S.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "inputs": {"x": "file:/etc/passwd"}})
    assert r.status == 400 and r.error()["field"] == "inputs.x", r


def test_file_input():
    x = RNG.standard_normal((32,)).astype(np.float64)
    os.makedirs(os.path.join(S.data_dir, "inputs", "sub"), exist_ok=True)
    np.save(os.path.join(S.data_dir, "inputs", "sub", "x.npy"), x)
    r = S.post("/v1/jobs", {"op": "dwt", "wavelet": "db4", "level": 2, "inputs": {"x": "file:sub/x.npy"}})
    assert r.status == 200, r
    check_dwt(outputs_of(r.json()), x, "db4", 2)
    real = os.path.realpath(os.path.join(S.data_dir, "inputs", "sub", "x.npy"))
    r = S.post("/v1/jobs", {"op": "dwt", "wavelet": "db4", "level": 2, "inputs": {"x": "file:" + real}})
    assert r.status == 200, r


def test_list_and_filters():
    ids = [S.post("/v1/jobs", dwt_spec()).json()["id"] for _ in range(3)]
    r = S.get("/v1/jobs?limit=3")
    assert r.status == 200
    got = [j["id"] for j in r.json()["jobs"]]
    assert got == ids[::-1], (got, ids)
    assert all("data" not in o for j in r.json()["jobs"] for o in (j["outputs"] or {}).values())
    r = S.get("/v1/jobs?state=succeeded&limit=1000")
    assert r.status == 200 and all(j["state"] == "succeeded" for j in r.json()["jobs"])
    for bad in ("limit=0", "limit=1001", "limit=x", "limit=2.5"):
        r = S.get("/v1/jobs?" + bad)
        assert r.status == 400 and r.error()["field"] == "limit", (bad, r)
    r = S.get("/v1/jobs?state=bogus")
    assert r.status == 400 and r.error()["field"] == "state", r


def test_nonfinite_and_complex():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -0.0, 2.5], np.float64)
    spec = {"op": "dwt", "wavelet": "haar", "level": 0,
            "inputs": {"x": {"dtype": "float64", "shape": [6], "data": [1, "NaN", "Infinity", "-Infinity", -0.0, 2.5]}}}
    r = S.post("/v1/jobs", spec)
    assert r.status == 200, r
    a = r.json()["outputs"]["a"]["data"]
    assert a[1] == "NaN" and a[2] == "Infinity" and a[3] == "-Infinity", a
    got = harness.from_tensor_obj({"dtype": "float64", "shape": [6], "data": [float(v) if isinstance(v, str) else v for v in a]})
    assert np.array_equal(got, x, equal_nan=True) and np.signbit(got[4])
    z = (RNG.standard_normal(8) + 1j * RNG.standard_normal(8)).astype(np.complex64)
    spec = {"op": "dwt", "wavelet": "haar", "level": 1,
            "inputs": {"x": {"dtype": "complex64", "shape": [8], "data": [[float(v.real), float(v.imag)] for v in z]}}}
    r = S.post("/v1/jobs", spec, headers={"Accept": "application/zip"})
    assert r.status == 200, r
    assert_close(r.npz()["a"], pywt.wavedecn(z, "haar", level=1)[0], 1e-5, 1e-5, what="complex")


def main():
    global S
    S = harness.Server()
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    try:
        rc = harness.run(tests)
        if not S.alive():
            print("convoyd died", file=sys.stderr)
            rc = 1
    finally:
        code = S.close()
    if code != 0:
        print("convoyd exited with %s after SIGTERM\n%s" % (code, S.log_text()[-3000:]), file=sys.stderr)
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
