"""test_batching.py — many identical concurrent jobs over HTTP are batched by
the engine (batch_size > 1 in their job JSON and in convoy_batch_size), and
every result still matches pywt.wavedecn on its own input."""
import os
import re
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import assert_close, pywt_outputs, tensor_obj  # noqa: E402

N_JOBS = 48
S = None


def run_burst(n, with_blocker):
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((24, 18)).astype(np.float32) for _ in range(n)]
    results = [None] * n
    blocker = None
    if with_blocker:
        # occupy the worker so the burst queues up and leaves as batches (an
        # idle CPU would run each small job inline on the HTTP thread)
        blocker = S.post("/v1/jobs", harness.slow_spec(S, target_s=2.0, **{"async": True}))
        assert blocker.status == 202, blocker
        for _ in range(200):
            if S.get(f"/v1/jobs/{blocker.json()['id']}").json()["state"] == "running":
                break
            time.sleep(0.01)

    def one(i):
        spec = {"op": "dwt", "wavelet": "db2", "level": 2, "mode": "periodization",
                "inputs": {"x": tensor_obj(xs[i], b64=(i % 2 == 0))}}
        results[i] = S.post("/v1/jobs", spec, headers={"X-Request-Id": f"burst-{i}"})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    sizes = []
    for i, r in enumerate(results):
        assert r is not None and r.status == 200, (i, r)
        assert r.headers["x-request-id"] == f"burst-{i}"
        j = r.json()
        sizes.append(j["batch_size"])
        want = pywt_outputs(xs[i].astype(np.float64), "db2", 2, mode="periodization")
        got = {k: harness.from_tensor_obj(v) for k, v in j["outputs"].items()}
        assert set(got) == set(want)
        for k in want:
            assert_close(got[k], want[k], rtol=1e-4, atol=1e-5, what=f"job {i} {k}")
    if blocker is not None:
        S.wait_job(blocker.json()["id"])
    return sizes


def test_burst_is_batched():
    harness.slow_spec(S, target_s=2.0)   # calibrate before the burst
    sizes = run_burst(N_JOBS, with_blocker=True)
    assert max(sizes) >= 8, sizes
    assert all(1 <= b <= 64 for b in sizes), sizes


def test_concurrent_without_blocker():
    sizes = run_burst(24, with_blocker=False)
    assert all(b >= 1 for b in sizes)


def test_batch_metrics():
    text = S.get("/metrics").body.decode()
    m = re.search(r'convoy_batch_size_bucket\{le="1"\} (\d+)', text)
    c = re.search(r"convoy_batch_size_count (\d+)", text)
    assert m and c, text[:3000]
    assert int(c.group(1)) > int(m.group(1)), "no batch larger than 1 was observed"


def main():
    global S
    S = harness.Server("--max-batch", "64", "--max-batch-delay-us", "20000")
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    try:
        rc = harness.run(tests)
        if not S.alive():
            rc = 1
    finally:
        code = S.close()
    return rc if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
