"""test_jobs.py — a job's life over HTTP: async submission and polling,
results per output (.npy / JSON / b64), 202 while running, sync waits that
turn into 202, long polls, cancel of queued, running and waiting jobs,
deadlines, stored tensors and `keep`, disk outputs (npz, npy dir, 409,
overwrite, traversal, result 404; a larger job written in several chunks,
bit-exact against the in-memory .npz/.npy answers; a write that fails on a
file size limit answers 507 and leaves no file)."""
import io
import os
import resource
import sys
import threading
import time
import zipfile

import numpy as np
import pywt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import assert_close, npy_bytes, pywt_outputs, tensor_obj  # noqa: E402

S = None
RNG = np.random.default_rng(11)
X = RNG.standard_normal((16, 20)).astype(np.float64)


def dwt_spec(x=X, **kw):
    spec = {"op": "dwt", "wavelet": "db2", "level": 2, "inputs": {"x": tensor_obj(x)}}
    spec.update(kw)
    return spec


def submit_async(spec):
    r = S.post("/v1/jobs", dict(spec, **{"async": True}))
    assert r.status == 202, r
    return r.json()["id"]


def test_async_and_results():
    r = S.post("/v1/jobs", dwt_spec(**{"async": True}))
    assert r.status == 202, r
    j = r.json()
    assert r.headers["location"] == "/v1/jobs/" + j["id"] and "retry-after" in r.headers
    assert j["state"] in ("queued", "running", "succeeded") and j["outputs"] is None or j["state"] == "succeeded"
    j = S.wait_job(j["id"])
    assert j["state"] == "succeeded" and j["outputs"]["a"]["url"].endswith("/result/a")
    want = pywt_outputs(X, "db2", 2)
    r = S.get(f"/v1/jobs/{j['id']}/result", headers={"Accept": "application/zip"})
    assert r.status == 200, r
    for k, v in want.items():
        assert_close(r.npz()[k], v, what=k)
    r = S.get(f"/v1/jobs/{j['id']}/result")
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    outs = {k: harness.from_tensor_obj(v) for k, v in r.json()["outputs"].items()}
    for k, v in want.items():
        assert_close(outs[k], v, what=k)
    r = S.get(f"/v1/jobs/{j['id']}/result/d1_ad")
    assert r.status == 200 and r.headers["content-type"] == "application/x-npy"
    assert_close(r.npy(), want["d1_ad"])
    r = S.get(f"/v1/jobs/{j['id']}/result/d1_ad?encoding=b64", headers={"Accept": "application/json"})
    assert r.status == 200 and "data_b64" in r.json(), r
    assert_close(harness.from_tensor_obj(r.json()), want["d1_ad"])
    r = S.get(f"/v1/jobs/{j['id']}/result/zz")
    assert r.status == 404, r
    r = S.get(f"/v1/jobs/{j['id']}/result", headers={"Accept": "application/x-npy"})
    assert r.status == 406, r
    r = S.get(f"/v1/jobs/{j['id']}/result?encoding=hex")
    assert r.status == 400 and r.error()["field"] == "encoding", r


def test_prefer_respond_async():
    r = S.post("/v1/jobs", dwt_spec(), headers={"Prefer": "respond-async"})
    assert r.status == 202, r
    assert S.wait_job(r.json()["id"])["state"] == "succeeded"


def test_unknown_job():
    for path in ("/v1/jobs/j_ffffffffffffffff", "/v1/jobs/j_ffffffffffffffff/result",
                 "/v1/jobs/j_ffffffffffffffff/result/a"):
        r = S.get(path)
        assert r.status == 404 and r.error()["code"] == "not_found", (path, r)
    r = S.delete("/v1/jobs/j_ffffffffffffffff")
    assert r.status == 404


def test_running_result_202_and_sync_wait():
    slow = S.post("/v1/jobs", harness.slow_spec(S, **{"async": True}))
    assert slow.status == 202
    sid = slow.json()["id"]
    r = S.get(f"/v1/jobs/{sid}/result")
    assert r.status == 202 and r.json()["state"] in ("queued", "running") and "retry-after" in r.headers, r
    # a sync job queued behind the slow one outlives wait_s=1 → 202
    t0 = time.time()
    r = S.post("/v1/jobs?wait_s=1", dwt_spec())
    dt = time.time() - t0
    assert r.status == 202, r
    assert 0.8 <= dt < 10, dt
    assert r.headers["location"] == "/v1/jobs/" + r.json()["id"]
    # wait_s=0 answers at once
    r0 = S.post("/v1/jobs?wait_s=0", dwt_spec())
    assert r0.status == 202, r0
    # long poll until the job ends
    t0 = time.time()
    j = S.get(f"/v1/jobs/{r.json()['id']}?wait_s=60").json()
    assert j["state"] == "succeeded", j
    assert time.time() - t0 < 30
    assert S.get(f"/v1/jobs/{r.json()['id']}/result").status == 200
    assert S.wait_job(sid)["state"] == "succeeded"
    assert S.wait_job(r0.json()["id"])["state"] == "succeeded"


def test_long_poll_times_out():
    sid = submit_async(harness.slow_spec(S))
    t0 = time.time()
    r = S.get(f"/v1/jobs/{sid}?wait_s=1")
    dt = time.time() - t0
    assert r.status == 200 and r.json()["state"] in ("queued", "running"), r
    assert 0.8 <= dt < 10, dt
    r = S.get(f"/v1/jobs/{sid}?wait_s=x")
    assert r.status == 400 and r.error()["field"] == "wait_s"
    assert S.wait_job(sid)["state"] == "succeeded"


def test_cancel_queued_running_and_waiting():
    running = submit_async(harness.slow_spec(S))
    queued = submit_async(dwt_spec())
    holder = {}

    def sync_call():
        holder["r"] = S.post("/v1/jobs?wait_s=60", dwt_spec(priority=9), headers={"X-Request-Id": "sync-cancel"})

    t = threading.Thread(target=sync_call)
    t.start()
    # find the waiting sync job
    deadline = time.time() + 10
    waiting = None
    while time.time() < deadline and not waiting:
        for j in S.get("/v1/jobs?state=queued").json()["jobs"]:
            if j["id"] != queued and j["priority"] == 9:
                waiting = j["id"]
        time.sleep(0.02)
    assert waiting, "the sync job never showed up as queued"
    r = S.delete(f"/v1/jobs/{queued}")
    assert r.status == 202, r
    r = S.delete(f"/v1/jobs/{waiting}")
    assert r.status == 202, r
    r = S.delete(f"/v1/jobs/{running}")
    assert r.status == 202, r
    t.join(60)
    sync = holder["r"]
    assert sync.status == 409 and sync.error()["code"] == "cancelled", sync
    assert sync.headers["location"] == "/v1/jobs/" + waiting and sync.headers["x-request-id"] == "sync-cancel"
    for jid in (queued, waiting, running):
        j = S.wait_job(jid)
        assert j["state"] == "cancelled" and j["error"]["code"] == "cancelled", j
        r = S.get(f"/v1/jobs/{jid}/result")
        assert r.status == 409 and r.error()["code"] == "conflict" and "cancelled" in r.error()["message"], r


def test_delete_finished():
    jid = S.post("/v1/jobs", dwt_spec()).json()["id"]
    r = S.delete(f"/v1/jobs/{jid}")
    assert r.status == 204 and r.body == b"", r
    assert S.get(f"/v1/jobs/{jid}").status == 404
    assert S.delete(f"/v1/jobs/{jid}").status == 404


def test_deadline():
    sid = submit_async(harness.slow_spec(S))
    r = S.post("/v1/jobs", dwt_spec(timeout_ms=50))
    assert r.status == 504 and r.error()["code"] == "deadline_exceeded", r
    assert r.headers["location"].startswith("/v1/jobs/j_")
    j = S.get(r.headers["location"]).json()
    assert j["state"] == "failed" and j["error"]["code"] == "deadline_exceeded"
    S.wait_job(sid)


def test_tensors():
    t = RNG.standard_normal((6, 7)).astype(np.float32)
    r = S.post("/v1/tensors", npy_bytes(t), headers={"Content-Type": "application/x-npy"})
    assert r.status == 201, r
    o = r.json()
    assert o["shape"] == [6, 7] and o["dtype"] == "float32" and o["bytes"] == 168 and o["id"].startswith("t_")
    assert r.headers["location"] == "/v1/tensors/" + o["id"]
    r = S.get(r.headers["location"])
    assert r.status == 200 and r.headers["content-type"] == "application/x-npy"
    assert np.array_equal(r.npy(), t)
    r = S.get("/v1/tensors/" + o["id"], headers={"Accept": "application/json"})
    assert np.array_equal(harness.from_tensor_obj(r.json()), t)
    r = S.get("/v1/tensors/" + o["id"] + "?encoding=b64", headers={"Accept": "application/json"})
    assert np.array_equal(harness.from_tensor_obj(r.json()), t)
    r = S.post("/v1/jobs", {"op": "dwt", "wavelet": "haar", "level": 1, "inputs": {"x": "tensor:" + o["id"]}},
               headers={"Accept": "application/zip"})
    assert r.status == 200, r
    assert_close(r.npz()["a"], pywt_outputs(t.astype(np.float64), "haar", 1)["a"], 1e-5, 1e-5)
    # octet-stream and no Content-Type are .npy too; a broken body is 400
    r = S.post("/v1/tensors", npy_bytes(t), headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201, r
    r = S.post("/v1/tensors", npy_bytes(t)[:-3], headers={"Content-Type": "application/x-npy"})
    assert r.status == 400 and r.error()["code"] == "invalid_argument", r
    r = S.delete("/v1/tensors/" + o["id"])
    assert r.status == 204
    assert S.get("/v1/tensors/" + o["id"]).status == 404
    assert S.delete("/v1/tensors/" + o["id"]).status == 404


def test_large_bodies():
    big = RNG.standard_normal((256, 128, 128)).astype(np.float32)   # 16 MiB
    body = npy_bytes(big)
    r = S.post("/v1/tensors", body, headers={"Content-Type": "application/x-npy"})
    assert r.status == 201, r
    back = S.get(r.headers["location"])
    assert back.status == 200 and back.body == body, "the stored tensor differs"
    # chunked upload of the same bytes
    c = S.conn()
    c.request("POST", "/v1/tensors", body=(body[i:i + 1000003] for i in range(0, len(body), 1000003)),
              headers={"Content-Type": "application/x-npy"}, encode_chunked=True)
    rr = c.getresponse()
    assert rr.status == 201, rr.status
    rr.read()
    c.close()
    r = S.post("/v1/jobs?op=dwt&wavelet=haar&level=1&axes=0", body,
               headers={"Content-Type": "application/x-npy", "Accept": "application/zip"})
    assert r.status == 200, r
    z = r.npz()
    want = pywt_outputs(big, "haar", 1, axes=[0])
    for k in want:
        assert_close(z[k], want[k], 1e-4, 1e-4, what=k)


def test_keep_and_chain():
    x = RNG.standard_normal((12, 9)).astype(np.float64)
    r = S.post("/v1/jobs", dwt_spec(x, keep=True))
    assert r.status == 200, r
    outs = r.json()["outputs"]
    assert all(o["tensor"].startswith("t_") for o in outs.values()), outs
    t = S.get("/v1/tensors/" + outs["a"]["tensor"])
    assert t.status == 200
    assert_close(t.npy(), pywt_outputs(x, "db2", 2)["a"])
    spec = {"op": "idwt", "wavelet": "db2", "shape": [12, 9],
            "inputs": {k: "tensor:" + o["tensor"] for k, o in outs.items()}}
    r = S.post("/v1/jobs", spec, headers={"Accept": "application/x-npy"})
    assert r.status == 200, r
    assert_close(r.npy(), x, what="round trip")
    # an async keep: the job JSON shows the tensor ids once it is done
    jid = submit_async(dwt_spec(x, keep=True, select=["a"]))
    j = S.wait_job(jid)
    assert list(j["outputs"]) == ["a"] and j["outputs"]["a"]["tensor"].startswith("t_"), j


def no_temp_files():
    left = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(S.data_dir, "outputs"))
            for f in files if ".tmp" in f]
    assert not left, left


def test_disk_outputs():
    x = RNG.standard_normal((10, 8)).astype(np.float32)
    want = pywt_outputs(x.astype(np.float64), "haar", 1)
    r = S.post("/v1/jobs", dwt_spec(x, wavelet="haar", level=1, output={"path": "run1/out.npz"}))
    assert r.status == 200, r
    j = r.json()
    assert all(o["path"] == "run1/out.npz" and "data" not in o for o in j["outputs"].values()), j
    z = np.load(os.path.join(S.data_dir, "outputs", "run1", "out.npz"))
    assert sorted(z.files) == sorted(want)
    for k in want:
        assert_close(z[k], want[k], 1e-5, 1e-5, what=k)
    r = S.get(f"/v1/jobs/{j['id']}/result")
    assert r.status == 404 and "run1/out.npz" in r.error()["message"], r
    # exists → 409, overwrite → ok
    r = S.post("/v1/jobs", dwt_spec(x, wavelet="haar", level=1, output={"path": "run1/out.npz"}))
    assert r.status == 409 and r.error()["code"] == "conflict" and r.error()["field"] == "output.path", r
    r = S.post("/v1/jobs", dwt_spec(x, wavelet="haar", level=1, output={"path": "run1/out.npz", "overwrite": True}))
    assert r.status == 200, r
    # one .npy per (selected) output
    r = S.post("/v1/jobs", dwt_spec(x, wavelet="haar", level=1, select=["a", "d1_dd"],
                                    output={"dir": "run2/deep", "format": "npy"}))
    assert r.status == 200, r
    files = sorted(os.listdir(os.path.join(S.data_dir, "outputs", "run2", "deep")))
    assert files == ["a.npy", "d1_dd.npy"], files
    assert_close(np.load(os.path.join(S.data_dir, "outputs", "run2", "deep", "d1_dd.npy")), want["d1_dd"], 1e-5, 1e-5)
    assert r.json()["outputs"]["a"]["path"] == "run2/deep/a.npy"
    r = S.post("/v1/jobs", dwt_spec(x, wavelet="haar", level=1, output={"dir": "run2/deep", "format": "npy"}))
    assert r.status == 409 and r.error()["field"] == "output.dir", r
    r = S.post("/v1/jobs", dwt_spec(x, wavelet="haar", level=1, output={"dir": "run3", "format": "npz"}))
    assert r.status == 200, r
    assert sorted(os.listdir(os.path.join(S.data_dir, "outputs", "run3"))) == sorted(k + ".npz" for k in want)
    # async disk job: path appears once durable
    jid = submit_async(dwt_spec(x, wavelet="haar", level=1, output={"path": "run4.npz"}))
    j = S.wait_job(jid)
    assert j["state"] == "succeeded" and j["outputs"]["a"]["path"] == "run4.npz", j
    assert os.path.exists(os.path.join(S.data_dir, "outputs", "run4.npz"))
    # traversal, absolute, symlink out
    for out, field in (({"path": "../x.npz"}, "output.path"), ({"path": "a/../../x.npz"}, "output.path"),
                       ({"dir": "/tmp/x"}, "output.dir"), ({"dir": "../up"}, "output.dir")):
        r = S.post("/v1/jobs", dwt_spec(x, output=out))
        assert r.status == 400 and r.error()["field"] == field, (out, r)
    os.symlink("/tmp", os.path.join(S.data_dir, "outputs", "escape"))
    r = S.post("/v1/jobs", dwt_spec(x, output={"path": "escape/x.npz"}))
    assert r.status == 400 and r.error()["field"] == "output.path", r
    assert not os.path.exists("/tmp/x.npz") or os.path.getmtime("/tmp/x.npz") < time.time() - 60
    no_temp_files()


def test_disk_outputs_large():
    # 24 MiB in, 2 × 12 MiB out: each output takes several 8 MiB writes
    x = RNG.standard_normal((96, 256, 256)).astype(np.float32)
    body = npy_bytes(x)
    q = "/v1/jobs?op=dwt&wavelet=haar&level=1&axes=0"
    hdr = {"Content-Type": "application/x-npy"}
    r = S.post(q, body, headers=dict(hdr, Accept="application/zip"))
    assert r.status == 200, r
    assert int(r.headers["content-length"]) == len(r.body)
    zf = zipfile.ZipFile(io.BytesIO(r.body))
    assert zf.testzip() is None and sorted(zf.namelist()) == ["a.npy", "d1_d.npy"], zf.namelist()
    mem = r.npz()
    want = pywt_outputs(x, "haar", 1, axes=[0])
    for k in want:
        assert mem[k].dtype == np.float32 and mem[k].shape == want[k].shape
        assert_close(mem[k], want[k], 1e-5, 1e-5, what=k)
    r = S.post(q + "&select=a", body, headers=dict(hdr, Accept="application/x-npy"))
    assert r.status == 200, r
    assert r.npy().tobytes() == mem["a"].tobytes()
    # the selected output stays in the result; the other one was never part of it
    loc = r.headers["location"]
    g = S.get(loc + "/result/a", headers={"Accept": "application/x-npy"})
    assert g.status == 200 and g.npy().tobytes() == mem["a"].tobytes(), g
    g = S.get(loc + "/result/d1_d", headers={"Accept": "application/x-npy"})
    assert g.status == 404 and g.error()["code"] == "not_found", g
    r = S.post(q + "&output.path=big/out.npz", body, headers=hdr)
    assert r.status == 200, r
    disk = np.load(os.path.join(S.data_dir, "outputs", "big", "out.npz"))
    assert sorted(disk.files) == ["a", "d1_d"]
    for k in disk.files:
        assert disk[k].dtype == mem[k].dtype and disk[k].tobytes() == mem[k].tobytes(), k
    assert zipfile.ZipFile(os.path.join(S.data_dir, "outputs", "big", "out.npz")).testzip() is None
    r = S.post(q + "&output.dir=big/npy&output.format=npy", body, headers=hdr)
    assert r.status == 200, r
    for k in ("a", "d1_d"):
        got = np.load(os.path.join(S.data_dir, "outputs", "big", "npy", k + ".npy"))
        assert got.dtype == mem[k].dtype and got.tobytes() == mem[k].tobytes(), k
    # the same target again → 409, nothing replaced; overwrite → replaced
    before = os.stat(os.path.join(S.data_dir, "outputs", "big", "out.npz")).st_mtime_ns
    r = S.post(q + "&output.path=big/out.npz", body, headers=hdr)
    assert r.status == 409 and r.error()["field"] == "output.path", r
    assert os.stat(os.path.join(S.data_dir, "outputs", "big", "out.npz")).st_mtime_ns == before
    no_temp_files()


def limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, resource.RLIM_INFINITY))


def test_disk_full_removes_partial_files():
    # a file size limit makes write(2) fail with EFBIG part-way, as ENOSPC would
    L = harness.Server("--max-batch-delay-us", "0", "--log-level", "warn", preexec=limit_file_size)
    try:
        out = os.path.join(L.data_dir, "outputs")
        x = RNG.standard_normal((48, 256, 256)).astype(np.float32)   # outputs 6 MiB each
        body = npy_bytes(x)
        q = "/v1/jobs?op=dwt&wavelet=haar&level=1&axes=0"
        for target, made in (("output.path=full/out.npz", "full/out.npz"),
                             ("output.dir=fulld&output.format=npy", "fulld/a.npy")):
            r = L.post(q + "&" + target, body, headers={"Content-Type": "application/x-npy"})
            assert r.status == 507 and r.error()["code"] == "insufficient_storage", r
            assert r.headers["location"].startswith("/v1/jobs/j_")
            j = L.get(r.headers["location"]).json()
            assert j["state"] == "failed" and j["error"]["code"] == "insufficient_storage", j
            assert not os.path.exists(os.path.join(out, made))
        left = [os.path.join(d, f) for d, _, files in os.walk(out) for f in files]
        assert not left, left
        # a job that fits still works
        small = RNG.standard_normal((8, 8)).astype(np.float32)
        r = L.post("/v1/jobs?op=dwt&wavelet=haar&level=1&output.path=ok.npz", npy_bytes(small),
                   headers={"Content-Type": "application/x-npy"})
        assert r.status == 200, r
        assert sorted(np.load(os.path.join(out, "ok.npz")).files) == ["a", "d1_ad", "d1_da", "d1_dd"]
        assert L.alive()
    finally:
        code = L.close()
    assert code == 0, code


def main():
    global S
    S = harness.Server("--max-batch-delay-us", "0")
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
