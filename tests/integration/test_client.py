"""test_client.py — the Python client (clients/python) against a real convoyd:
sync runs, async handles, tensors, disk outputs, errors as exceptions, and
to_pywt / from_pywt round trips."""
import os
import sys

import numpy as np
import pywt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("CONVOY_SOURCE_DIR", os.path.join(HERE, "..", "..")),
                                "clients", "python"))
import harness  # noqa: E402
from harness import assert_close, pywt_outputs  # noqa: E402
from convoy_client import Client, ConvoyError, from_pywt, to_pywt  # noqa: E402

S = None
C = None
rng = np.random.default_rng(11)


def test_run_sync():
    x = rng.standard_normal((20, 16, 12)).astype(np.float32)
    out = C.run("dwt", {"x": x}, wavelet="db2", level=2)
    want = pywt_outputs(x, "db2", 2)
    assert set(out) == set(want), sorted(out)
    for k in want:
        assert_close(out[k], want[k], what=k)


def test_to_from_pywt():
    x = rng.standard_normal((33, 17))
    out = C.run("dwt", {"x": x}, wavelet="sym3", level=2, mode="periodization")
    coeffs = to_pywt(out)
    want = pywt.wavedecn(x, "sym3", level=2, mode="periodization")
    assert len(coeffs) == len(want)
    assert_close(coeffs[0], want[0], rtol=1e-10, atol=1e-12)
    for d, w in zip(coeffs[1:], want[1:]):
        assert set(d) == set(w)
        for k in w:
            assert_close(d[k], w[k], rtol=1e-10, atol=1e-12)
    back = C.run("idwt", from_pywt(coeffs), wavelet="sym3", mode="periodization", shape=list(x.shape))
    assert_close(back["x"], x, rtol=1e-10, atol=1e-10, what="round trip")


def test_async_handle():
    x = rng.standard_normal((64,)).astype(np.float64)
    job = C.submit("sepconv", {"x": x}, filters=[{"axis": 0, "taps": [0.5, 0.5], "stride": 2}])
    info = job.wait(timeout=60)
    assert info["state"] == "succeeded", info
    y = job.result()["y"]
    assert_close(y, 0.5 * (x[0::2] + x[1::2]), rtol=1e-12, atol=1e-12)
    assert any(j["id"] == job.id for j in C.jobs(limit=50))


def test_tensors():
    x = rng.standard_normal((8, 8)).astype(np.float32)
    ref = C.upload(x)
    assert ref.startswith("tensor:t_")
    assert np.array_equal(C.tensor(ref), x)
    out = C.run("dwt", {"x": ref}, wavelet="haar", level=1)
    assert_close(out["a"], pywt_outputs(x, "haar", 1)["a"], what="a from tensor:")
    C.drop_tensor(ref)
    try:
        C.tensor(ref)
    except ConvoyError as e:
        assert e.status == 404 and e.code == "not_found", e
    else:
        raise AssertionError("dropped tensor still served")


def test_errors_raise():
    x = np.zeros((16,), np.float32)
    for params, code, field in [({"wavelet": "db99"}, "invalid_argument", "wavelet"),
                                ({"wavelet": "haar", "levle": 1}, "invalid_argument", "levle")]:
        try:
            C.run("dwt", {"x": x}, **params)
        except ConvoyError as e:
            assert e.status == 400 and e.code == code and e.field == field, e
        else:
            raise AssertionError(f"{params} accepted")
    try:
        C.run("fft", {"x": x})
    except ConvoyError as e:
        assert e.code == "unsupported_op", e
    else:
        raise AssertionError("unknown op accepted")


def test_info():
    info = C.info()
    assert info["devices"][0]["id"] == "cpu" and "limits" in info, info


def main():
    global S, C
    S = harness.Server()
    try:
        C = Client(f"http://127.0.0.1:{S.port}")
        tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
        return harness.run(tests)
    finally:
        S.close()


if __name__ == "__main__":
    sys.exit(main())
