#!/usr/bin/python3
"""test_deploy_files.py [--convoyd PATH] — checks deploy/ without Docker or a
cluster: every YAML and JSON file parses; the Grafana dashboard is what
deploy/grafana/make_dashboard.py generates and uses only design.md §4 metric
names (which server/metrics.c renders) and route labels of server/router.h,
and covers every §4 metric; its PromQL, prometheus.yml and alerts.yml pass
promtool when installed; compose, k8s and the Dockerfile agree with each
other (ports, probes /readyz and /healthz, drain < grace period, config keys
of config/config.h, mounted files exist, build packages ⊇ the Makefile's
-dev packages, runtime packages cover convoyd's NEEDED libraries).
Exit 0 all passed, 1 a check failed, 77 python3-yaml missing."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

try:
    import yaml
except ImportError:
    print("python3-yaml is not installed: skipped (apt-get install python3-yaml)")
    sys.exit(77)

ROOT = os.environ.get("CONVOY_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")

# design.md §4, as written there (histograms without their _bucket/_sum/_count)
DESIGN_METRICS = {
    "convoy_http_requests_total": {"route", "code"},
    "convoy_http_request_duration_seconds": {"route", "le"},
    "convoy_jobs_total": {"op", "state"},
    "convoy_jobs_queued": set(), "convoy_jobs_running": set(),
    "convoy_job_queue_seconds": {"op", "le"}, "convoy_job_run_seconds": {"op", "le"},
    "convoy_batch_size": {"le"},
    "convoy_bytes_in_total": set(), "convoy_bytes_out_total": set(),
    "convoy_device_memory_used_bytes": {"device"}, "convoy_device_utilization_ratio": {"device"},
    "convoy_result_store_bytes": set(), "convoy_inflight_bytes": set(),
    "convoy_build_info": {"version"},
    # the process_* family convoyd renders
    "process_cpu_seconds_total": set(), "process_resident_memory_bytes": set(),
    "process_virtual_memory_bytes": set(), "process_open_fds": set(), "process_max_fds": set(),
    "process_start_time_seconds": set(),
}
TARGET_LABELS = {"job", "instance"}          # added by Prometheus at scrape time
HIST_SUFFIX = re.compile(r"_(bucket|sum|count)$")
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h",
                "$job": ".*", "$instance": ".*"}


def read(*p):
    with open(os.path.join(ROOT, *p)) as f:
        return f.read()


def load_yaml_all(*p):
    return [d for d in yaml.safe_load_all(read(*p)) if d is not None]


def base_metric(name):
    return name if name in DESIGN_METRICS else HIST_SUFFIX.sub("", name)


def promql_metrics(expr):
    """(metric names, label names) that an expression mentions."""
    names = set(re.findall(r"\b((?:convoy|process)_[a-z_]+)", expr))
    labels = set(re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr))
    labels = {l.strip() for group in labels for l in group.split(",") if l.strip()}
    labels |= set(re.findall(r"[{,]\s*([a-z_]+)\s*(?:=~|!=|!~|=)", expr))
    routes = set(re.findall(r'route\s*=~?\s*"([^"]*)"', expr))
    return names, labels, routes


def dashboard_exprs(dash):
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p["title"], t["expr"]))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        if v.get("type") == "query":
            out.append(("variable " + v["name"], v["query"]["query"]))
    return out


def grafana_to_promql(expr):
    for k in sorted(GRAFANA_VARS, key=len, reverse=True):
        expr = expr.replace(k, GRAFANA_VARS[k])
    return expr


def promtool(*args):
    exe = shutil.which("promtool")
    if not exe:
        return None
    p = subprocess.run([exe] + list(args), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "promtool %s:\n%s%s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


def config_keys():
    return set(re.findall(r"XX\([A-Z_]+,\s*([a-z_]+),\s*(?:STRING|ENUM|INT|SIZE|BOOL)\b", read("config", "config.h")))


def k8s_docs():
    docs = {}
    for f in sorted(os.listdir(os.path.join(DEPLOY, "k8s"))):
        if f.endswith(".yaml"):
            for d in load_yaml_all("deploy", "k8s", f):
                docs.setdefault(d["kind"], []).append(d)
    return docs


def k8s_config():
    cm = k8s_docs()["ConfigMap"][0]
    return json.loads(cm["data"]["convoyd.json"])


def seconds(s):
    m = re.fullmatch(r"(\d+)(s|m)?", str(s))
    assert m, "duration %r" % s
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


# ---- checks ---------------------------------------------------------------

def test_files_parse():
    n = 0
    for dirpath, _, files in os.walk(DEPLOY):
        for f in files:
            path = os.path.join(dirpath, f)
            if f.endswith((".yaml", ".yml")):
                with open(path) as fh:
                    list(yaml.safe_load_all(fh))
                n += 1
            elif f.endswith(".json"):
                with open(path) as fh:
                    json.load(fh)
                n += 1
    assert n >= 12, "only %d YAML/JSON files under deploy/" % n


def test_metrics_exist_in_server():
    src = read("server", "metrics.c")
    missing = [m for m in DESIGN_METRICS if '"%s' % m not in src]
    assert not missing, "design.md §4 metrics that server/metrics.c does not render: %s" % missing


def test_dashboard_is_generated():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "convoy.json")
        subprocess.run([sys.executable, os.path.join(DEPLOY, "grafana", "make_dashboard.py"), out],
                       check=True, capture_output=True, timeout=60)
        with open(out) as f:
            fresh = f.read()
    assert fresh == read("deploy", "grafana", "dashboards", "convoy.json"), \
        "deploy/grafana/dashboards/convoy.json is stale: run deploy/grafana/make_dashboard.py"


def test_dashboard_metrics():
    dash = json.loads(read("deploy", "grafana", "dashboards", "convoy.json"))
    routes_known = set(re.findall(r'XX\([A-Z_]+,\s*"([^"]+)"', read("server", "router.h")))
    used = set()
    for title, expr in dashboard_exprs(dash):
        names, labels, routes = promql_metrics(expr)
        if re.fullmatch(r"up\{[^}]*\}", expr):
            continue                                 # Prometheus's own per-target series
        assert names, "%s: no convoy_/process_ metric in %r" % (title, expr)
        allowed = set(TARGET_LABELS)
        for n in names:
            b = base_metric(n)
            assert b in DESIGN_METRICS, "%s: %s is not a design.md §4 metric" % (title, n)
            if n != b:
                assert "le" in DESIGN_METRICS[b], "%s: %s is not a histogram" % (title, b)
            allowed |= DESIGN_METRICS[b]
            used.add(b)
        assert labels <= allowed, "%s: labels %s not on %s" % (title, labels - allowed, names)
        assert routes <= routes_known, "%s: unknown route %s" % (title, routes - routes_known)
    required = {m for m in DESIGN_METRICS if m.startswith("convoy_")} | \
        {"process_resident_memory_bytes", "process_cpu_seconds_total"}
    assert required <= used, "metrics without a panel: %s" % sorted(required - used)
    ids = []

    def walk(panels):
        for p in panels:
            ids.append(p["id"])
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, "%s: gridPos %s" % (p["title"], g)
            if p["type"] != "row":
                assert p["datasource"]["uid"] == "${datasource}", p["title"]
            walk(p.get("panels", []))
    walk(dash["panels"])
    assert len(ids) == len(set(ids)), "duplicate panel ids"


def test_promql_and_prometheus_config():
    dash = json.loads(read("deploy", "grafana", "dashboards", "convoy.json"))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "convoy_dashboard:q%d" % i, "expr": grafana_to_promql(e)}
        for i, (_, e) in enumerate(dashboard_exprs(dash)) if not e.startswith("label_values(")]}]}
    for r in yaml.safe_load(read("deploy", "alerts.yml"))["groups"][0]["rules"]:
        names, labels, routes = promql_metrics(r["expr"])
        for n in names:
            assert base_metric(n) in DESIGN_METRICS, "alert %s: %s" % (r["alert"], n)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard_rules.yml")
        with open(path, "w") as f:
            yaml.safe_dump(rules, f)
        if promtool("check", "rules", path) is None:
            print("  (promtool not installed: PromQL syntax not checked)")
            return
    promtool("check", "config", os.path.join(DEPLOY, "prometheus.yml"))
    promtool("check", "rules", os.path.join(DEPLOY, "alerts.yml"))


def test_compose():
    c = yaml.safe_load(read("deploy", "compose.yaml"))
    s = c["services"]
    assert {"convoyd", "prometheus", "grafana"} <= set(s)
    cv = s["convoyd"]
    assert os.path.exists(os.path.join(DEPLOY, cv["build"]["context"], cv["build"]["dockerfile"]))
    assert any(str(p).endswith(":8080") for p in cv["ports"])
    assert seconds(cv["stop_grace_period"]) > int(cv["environment"]["CONVOY_DRAIN_TIMEOUT_S"])
    assert any("/readyz" in str(x) or "/healthz" in str(x) for x in cv["healthcheck"]["test"])
    for name, svc in s.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                assert os.path.exists(os.path.join(DEPLOY, src)), "%s mounts missing %s" % (name, src)
    prom = yaml.safe_load(read("deploy", "prometheus.yml"))
    job = [j for j in prom["scrape_configs"] if j["job_name"] == "convoyd"][0]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"][0]["targets"] == ["convoyd:8080"]
    prov = yaml.safe_load(read("deploy", "grafana", "provisioning", "dashboards", "convoy.yaml"))
    path = prov["providers"][0]["options"]["path"]
    assert any(v.endswith(":" + path + ":ro") and v.startswith("./grafana/dashboards")
               for v in s["grafana"]["volumes"]), "grafana does not mount the dashboards at %s" % path
    ds = yaml.safe_load(read("deploy", "grafana", "provisioning", "datasources", "prometheus.yaml"))
    assert ds["datasources"][0]["type"] == "prometheus"
    assert ds["datasources"][0]["url"].endswith("prometheus:9090")


def test_k8s():
    docs = k8s_docs()
    cfg = k8s_config()
    keys = config_keys()
    assert len(keys) >= 20, "config/config.h option table not found"
    bad = [k for k in cfg if not k.startswith("//") and k not in keys]
    assert not bad, "ConfigMap convoyd.json keys convoyd does not know: %s" % bad
    port = int(cfg["listen"].rsplit(":", 1)[1])
    assert cfg["listen"].startswith("0.0.0.0:"), "pods must listen on all interfaces"
    dep = docs["Deployment"][0]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["http"] == port
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", ["sleep", "0"])
    pre_s = int(pre[1]) if pre[0] == "sleep" else 0
    assert pod["terminationGracePeriodSeconds"] > cfg["drain_timeout_s"] + pre_s, \
        "terminationGracePeriodSeconds must exceed drain_timeout_s + preStop"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["data"] == cfg["data_dir"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["data"]["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"][0]["metadata"]["name"]
    assert vols["config"]["configMap"]["name"] == docs["ConfigMap"][0]["metadata"]["name"]
    assert "--config" in c["args"] and c["args"][c["args"].index("--config") + 1].startswith(mounts["config"])
    svc = docs["Service"][0]
    assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert svc["spec"]["ports"][0]["targetPort"] in ports
    ann = dep["spec"]["template"]["metadata"].get("annotations", {})
    assert ann.get("prometheus.io/scrape") == "true" or "ServiceMonitor" in docs or "PodMonitor" in docs
    if "ServiceMonitor" in docs:
        sm = docs["ServiceMonitor"][0]["spec"]
        assert sm["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
        assert sm["endpoints"][0]["port"] in [p["name"] for p in svc["spec"]["ports"]]
    kz = yaml.safe_load(read("deploy", "k8s", "kustomization.yaml"))
    for r in kz["resources"]:
        assert os.path.exists(os.path.join(DEPLOY, "k8s", r)), r


def dockerfile_instructions(name):
    text = read("deploy", name).replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def apt_packages(run_args):
    m = re.search(r"apt-get install -y --no-install-recommends (.*?)(?:&&|$)", run_args)
    return set(m.group(1).split()) if m else set()


def test_dockerfile(convoyd):
    ins = dockerfile_instructions("Dockerfile")
    froms = [i for i, (w, _) in enumerate(ins) if w == "FROM"]
    assert len(froms) == 2, "want a build stage and a runtime stage"
    args = dict(a.split("=", 1) for w, a in ins if w == "ARG" and "=" in a)
    assert args["DEBIAN_IMAGE"].startswith("debian:12"), args
    build = [(w, a) for w, a in ins[froms[0]:froms[1]]]
    run = [(w, a) for w, a in ins[froms[1]:]]
    build_pkgs = set().union(*[apt_packages(a) for w, a in build if w == "RUN"])
    run_pkgs = set().union(*[apt_packages(a) for w, a in run if w == "RUN"])
    mk = re.search(r"DEB_PKGS\s*:=\s*(.*?)\n\S", read("Makefile"), re.S).group(1).replace("\\", " ").split()
    need = {p for p in mk if p.endswith("-dev")} | {"cmake", "ninja-build", "pkg-config", "build-essential"}
    assert need <= build_pkgs, "build stage lacks the Makefile's %s" % sorted(need - build_pkgs)
    assert not {p for p in run_pkgs if p.endswith("-dev")}, "runtime stage has -dev packages"
    assert "USER" in [w for w, _ in run] and all(a.split(":")[0] not in ("root", "0") for w, a in run if w == "USER")
    assert ("EXPOSE", "8080") in run
    assert any(w == "HEALTHCHECK" and "/healthz" in a for w, a in run)
    assert any(w == "VOLUME" and "/var/lib/convoy" in a for w, a in run)
    cmd = " ".join(" ".join(json.loads(a)) for w, a in run if w == "CMD")
    assert "--listen 0.0.0.0:8080" in cmd and "--data-dir /var/lib/convoy" in cmd, cmd
    for name in ("Dockerfile", "Dockerfile.cuda"):
        for w, a in dockerfile_instructions(name):
            if w == "COPY" and "--from=" not in a:
                for src in a.split()[:-1]:
                    assert os.path.exists(os.path.join(ROOT, src)), "%s: COPY %s: no such path" % (name, src)
    # the runtime packages must provide every library convoyd links directly
    if not (convoyd and os.path.exists(convoyd) and shutil.which("objdump") and shutil.which("dpkg")):
        print("  (convoyd, objdump or dpkg missing: NEEDED libraries not checked)")
        return
    p = subprocess.run(["objdump", "-p", convoyd], capture_output=True, text=True, check=True)
    needed = re.findall(r"NEEDED\s+(\S+)", p.stdout)
    assert needed, "no NEEDED entries in %s" % convoyd
    for lib in needed:
        if re.match(r"lib(asan|ubsan|tsan|lsan)\.so", lib):
            continue                                   # a sanitizer build's runtime, not the image's binary
        path = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
        m = re.search(r"\b%s\b.*=> (\S+)" % re.escape(lib), path)
        if not m:
            continue
        q = subprocess.run(["dpkg", "-S", os.path.realpath(m.group(1))], capture_output=True, text=True)
        if q.returncode != 0:
            q = subprocess.run(["dpkg", "-S", m.group(1)], capture_output=True, text=True)
        if q.returncode != 0:
            continue                                   # not from a Debian package (a local build)
        pkg = q.stdout.split(":")[0]
        assert pkg in run_pkgs | {"libc6", "libgcc-s1", "libstdc++6"}, \
            "convoyd needs %s (%s) but the runtime stage does not install it" % (lib, pkg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convoyd", help="built convoyd, for the runtime-library check")
    args = ap.parse_args()
    tests = [("files_parse", test_files_parse), ("metrics_exist_in_server", test_metrics_exist_in_server),
             ("dashboard_is_generated", test_dashboard_is_generated), ("dashboard_metrics", test_dashboard_metrics),
             ("promql_and_prometheus_config", test_promql_and_prometheus_config), ("compose", test_compose),
             ("k8s", test_k8s), ("dockerfile", lambda: test_dockerfile(args.convoyd))]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            passed += 1
            print("ok - %s" % name, flush=True)
        except Exception:
            failed += 1
            print("not ok - %s" % name, flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
