#!/usr/bin/python3
"""smoke_dashboard.py [--convoyd PATH] [--seconds 25] — the Grafana
dashboard's queries against real data, without Docker: starts convoyd and a
local Prometheus (Debian package `prometheus`) that scrapes it every second
with deploy/prometheus.yml's convoyd job, sends a mix of jobs (dwt, sepconv,
a bad request), then runs every dashboard query through Prometheus's HTTP
API and prints how many series each returns. Exit 0 when every query parses
and all but the expected-empty ones (5xx ratio on a healthy server) return
data; 1 otherwise; 2 setup error. Loopback only; bounded by --seconds."""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "loadtest", "http"))
import harness  # noqa: E402

EXPECTED_EMPTY = {"5xx ratio"}        # no 5xx answers on a healthy run


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def load(port, seconds):
    """A few request kinds until `seconds` pass: successes, a 400, reads."""
    import struct
    x = base64.b64encode(struct.pack("<1024f", *[float(i % 7) for i in range(1024)])).decode()
    dwt = json.dumps({"op": "dwt", "wavelet": "haar", "level": 2,
                      "inputs": {"x": {"dtype": "float32", "shape": [1024], "data_b64": x}},
                      "result_encoding": "b64"}).encode()
    sep = json.dumps({"op": "sepconv", "filters": [{"axis": 0, "taps": [0.5, 0.5], "stride": 2}],
                      "inputs": {"x": {"dtype": "float32", "shape": [1024], "data_b64": x}}}).encode()
    base = "http://127.0.0.1:%d" % port
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        for body in (dwt, sep):
            http("POST", base + "/v1/jobs", body, {"Content-Type": "application/json"})
        http("POST", base + "/v1/jobs", b'{"op":"dwt","levle":1}', {"Content-Type": "application/json"})
        http("GET", base + "/v1/info")
        n += 4
        time.sleep(0.01)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--convoyd", help="convoyd binary (else $CONVOYD_BIN, else built in --build-dir)")
    ap.add_argument("--build-dir")
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    ap.add_argument("--seconds", type=float, default=25, help="load duration (5..120)")
    args = ap.parse_args()
    if not 5 <= args.seconds <= 120:
        ap.error("--seconds 5..120")
    if not os.access(args.prometheus, os.X_OK):
        print("smoke_dashboard: no prometheus binary (apt-get install prometheus)", file=sys.stderr)
        return 2
    with open(os.path.join(HERE, "grafana", "dashboards", "convoy.json")) as f:
        dash = json.load(f)
    queries = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                queries.append((p["title"], t["expr"]))
            walk(p.get("panels", []))
    walk(dash["panels"])

    tmp = tempfile.mkdtemp(prefix="convoy-smoke-")
    prom = None
    try:
        binary = harness.convoyd_binary(args.convoyd, args.build_dir)
        with harness.Convoyd(binary, ["--log-level", "warn"]) as srv:
            pport = harness.free_port()
            cfg = os.path.join(tmp, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                        "scrape_configs:\n  - job_name: convoyd\n    metrics_path: /metrics\n"
                        "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % srv.port)
            log = open(os.path.join(tmp, "prometheus.log"), "wb")
            prom = subprocess.Popen([args.prometheus, "--config.file=" + cfg,
                                     "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                                     "--web.listen-address=127.0.0.1:%d" % pport],
                                    stdout=log, stderr=subprocess.STDOUT)
            papi = "http://127.0.0.1:%d/api/v1/" % pport
            for _ in range(300):
                try:
                    if http("GET", papi + "targets")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            else:
                raise harness.SetupError("prometheus did not start")
            sent = load(srv.port, args.seconds)
            time.sleep(2.5)                  # one more scrape after the load
            print("sent %d requests over %.0f s; Prometheus scraped every 1 s" % (sent, args.seconds))
            bad = []
            for title, expr in queries:
                e = expr.replace("$__rate_interval", "10s").replace("$job", ".*").replace("$instance", ".*")
                st, body = http("GET", papi + "query?" + urllib.parse.urlencode({"query": e}))
                r = json.loads(body)
                if st != 200 or r.get("status") != "success":
                    bad.append(title)
                    print("ERROR  %-38s %s" % (title, r.get("error")))
                    continue
                res = [s for s in r["data"]["result"] if s["value"][1] not in ("NaN",)]
                tag = "ok" if res else ("empty (expected)" if title in EXPECTED_EMPTY else "EMPTY")
                if not res and title not in EXPECTED_EMPTY:
                    bad.append(title)
                sample = ", ".join("%s=%s" % (",".join("%s" % v for k, v in s["metric"].items()
                                                       if k not in ("job", "instance")) or "-",
                                              s["value"][1][:8]) for s in res[:3])
                print("%-16s %-38s %3d series  %s" % (tag, title, len(res), sample))
    except harness.SetupError as e:
        print("smoke_dashboard: %s" % e, file=sys.stderr)
        return 2
    finally:
        if prom is not None:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d queries, %d without data or failing%s" % (len(queries), len(bad), (": " + ", ".join(bad)) if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
