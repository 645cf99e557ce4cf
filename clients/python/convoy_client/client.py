"""client.py — the convoyd client: submit, wait, fetch as numpy, async handles,
tensors, and conversion of dwt outputs to and from pywt.wavedecn's list."""
import io
import itertools
import json
import re
import time
import uuid

import numpy as np
import requests


class ConvoyError(Exception):
    """An error answer of convoyd: HTTP status, code, message and field."""

    def __init__(self, status, code, message, field=None, job=None):
        super().__init__(f"{status} {code}: {message}" + (f" (field {field})" if field else ""))
        self.status, self.code, self.message, self.field, self.job = status, code, message, field, job


def _raise_for(resp):
    if resp.status_code < 400:
        return
    try:
        err = resp.json()["error"]
        raise ConvoyError(resp.status_code, err.get("code"), err.get("message"), err.get("field"),
                          resp.headers.get("Location"))
    except (ValueError, KeyError, TypeError):
        raise ConvoyError(resp.status_code, "http_error", resp.text[:200]) from None


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _load_npz(content):
    with np.load(io.BytesIO(content), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


class Job:
    """An async job handle: poll or wait, then fetch results as numpy arrays."""

    def __init__(self, client, info):
        self.client, self.info = client, info
        self.id = info["id"]

    @property
    def state(self):
        return self.info["state"]

    def refresh(self, wait_s=None):
        params = {"wait_s": wait_s} if wait_s else None
        r = self.client._session.get(self.client._url(f"/v1/jobs/{self.id}"), params=params,
                                     timeout=(wait_s or 0) + self.client.timeout)
        _raise_for(r)
        self.info = r.json()
        return self.info

    def done(self):
        return self.state in ("succeeded", "failed", "cancelled")

    def wait(self, timeout=None, poll_s=10):
        """Long-polls until the job ends (or timeout seconds pass); returns its JSON."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            left = poll_s if deadline is None else max(0.0, min(poll_s, deadline - time.monotonic()))
            self.refresh(wait_s=max(1, int(left)))
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self.info

    def result(self):
        """All outputs as {name: ndarray}; raises ConvoyError when the job failed."""
        r = self.client._session.get(self.client._url(f"/v1/jobs/{self.id}/result"),
                                     headers={"Accept": "application/zip"}, timeout=self.client.timeout)
        if r.status_code == 202:
            self.wait()
            return self.result()
        _raise_for(r)
        return _load_npz(r.content)

    def cancel(self):
        r = self.client._session.delete(self.client._url(f"/v1/jobs/{self.id}"), timeout=self.client.timeout)
        _raise_for(r)


class Client:
    """A connection to one convoyd. api_key sends `Authorization: Bearer`."""

    def __init__(self, url="http://127.0.0.1:8080", api_key=None, timeout=60):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"

    def _url(self, path):
        return self.url + path

    def _post_job(self, spec, arrays, headers):
        files = [("spec", ("spec.json", json.dumps(spec), "application/json"))]
        for name, a in arrays.items():
            files.append((name, (f"{name}.npy", _npy_bytes(a), "application/x-npy")))
        headers = dict(headers, **{"X-Request-Id": uuid.uuid4().hex})
        r = self._session.post(self._url("/v1/jobs"), files=files, headers=headers, timeout=self.timeout)
        return r

    def _spec(self, op, inputs, params):
        arrays, refs = {}, {}
        for name, v in (inputs or {}).items():
            if isinstance(v, str):
                refs[name] = v           # "tensor:…" or "file:…"
            else:
                arrays[name] = np.asarray(v)
        spec = dict(params, op=op)
        if refs:
            spec["inputs"] = refs
        return spec, arrays

    def run(self, op, inputs=None, **params):
        """Runs a job synchronously; returns {output name: ndarray}. A job that
        outlives the server's wait turns into an async handle, which this waits on."""
        spec, arrays = self._spec(op, inputs, params)
        r = self._post_job(spec, arrays, {"Accept": "application/zip"})
        if r.status_code == 202:
            job = Job(self, r.json())
            job.wait()
            return job.result()
        _raise_for(r)
        if params.get("output"):
            return r.json()
        return _load_npz(r.content)

    def submit(self, op, inputs=None, **params):
        """Submits a job asynchronously; returns a Job handle."""
        spec, arrays = self._spec(op, inputs, params)
        r = self._post_job(spec, arrays, {"Prefer": "respond-async"})
        _raise_for(r)
        return Job(self, r.json())

    def job(self, job_id):
        r = self._session.get(self._url(f"/v1/jobs/{job_id}"), timeout=self.timeout)
        _raise_for(r)
        return Job(self, r.json())

    def jobs(self, state=None, limit=100):
        params = {"limit": limit}
        if state:
            params["state"] = state
        r = self._session.get(self._url("/v1/jobs"), params=params, timeout=self.timeout)
        _raise_for(r)
        return r.json()["jobs"]

    def upload(self, array):
        """Stores an array on the server; returns "tensor:<id>" for later inputs."""
        r = self._session.post(self._url("/v1/tensors"), data=_npy_bytes(array),
                               headers={"Content-Type": "application/x-npy"}, timeout=self.timeout)
        _raise_for(r)
        return "tensor:" + r.json()["id"]

    def tensor(self, ref):
        tid = ref.split(":", 1)[1] if ref.startswith("tensor:") else ref
        r = self._session.get(self._url(f"/v1/tensors/{tid}"), timeout=self.timeout)
        _raise_for(r)
        return np.load(io.BytesIO(r.content), allow_pickle=False)

    def drop_tensor(self, ref):
        tid = ref.split(":", 1)[1] if ref.startswith("tensor:") else ref
        r = self._session.delete(self._url(f"/v1/tensors/{tid}"), timeout=self.timeout)
        _raise_for(r)

    def info(self):
        r = self._session.get(self._url("/v1/info"), timeout=self.timeout)
        _raise_for(r)
        return r.json()


_DETAIL = re.compile(r"^d(\d+)_([ad]+)$")


def to_pywt(outputs):
    """dwt outputs {"a", "d{j}_{key}"} → pywt.wavedecn's [cA, {key: cD_level}, …, {…level 1}]."""
    levels = {}
    for name, arr in outputs.items():
        m = _DETAIL.match(name)
        if m:
            levels.setdefault(int(m.group(1)), {})[m.group(2)] = arr
    n = max(levels) if levels else 0
    return [outputs.get("a")] + [levels.get(j, {}) for j in range(n, 0, -1)]


def from_pywt(coeffs):
    """pywt.wavedecn's list → idwt inputs {"a": …, "d{j}_{key}": …} (None entries dropped)."""
    out = {}
    if coeffs[0] is not None:
        out["a"] = coeffs[0]
    n = len(coeffs) - 1
    for i, d in enumerate(coeffs[1:]):
        j = n - i
        for key, arr in (d or {}).items():
            if arr is not None:
                out[f"d{j}_{key}"] = arr
    return out


def detail_keys(ndim):
    """The detail keys pywt uses for ndim transformed axes, in its order."""
    return ["".join(k) for k in itertools.product("ad", repeat=ndim) if "d" in k]
