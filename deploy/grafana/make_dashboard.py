#!/usr/bin/python3
"""make_dashboard.py [OUT] — writes the Grafana dashboard for convoyd
(deploy/grafana/dashboards/convoy.json by default) from the metric names of
design.md §4. Edit this file, not the JSON, and run it again; the JSON is
committed so that Grafana provisioning needs no build step.
Panels: HTTP rate by route/code and p50/p99 latency, jobs by op/state, queue
depth and running jobs, batch sizes, job queue/run seconds, in-flight and
result-store bytes, wire bytes, device memory/utilisation, process RSS/CPU."""
import json
import os
import sys

SEL = 'job=~"$job",instance=~"$instance"'   # every query filters on the two variables
DS = {"type": "prometheus", "uid": "${datasource}"}


def q(expr, legend="", ref="A", **extra):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}
    t.update(extra)
    return t


def quantiles(metric, by, qs=(0.5, 0.99), extra_sel=""):
    sel = SEL + ("," + extra_sel if extra_sel else "")
    out = []
    for i, qq in enumerate(qs):
        legend = "p%d" % round(qq * 100) + "".join(" {{%s}}" % b for b in by)
        out.append(q("histogram_quantile(%g, sum by (%s) (rate(%s_bucket{%s}[$__rate_interval])))"
                     % (qq, ", ".join(("le",) + tuple(by)), metric, sel), legend, chr(65 + i)))
    return out


class Board:
    def __init__(self):
        self.panels = []
        self.y = 0
        self.x = 0
        self.row_h = 0
        self.next_id = 1

    def _place(self, w, h):
        if self.x + w > 24:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title):
        if self.x:
            self.y += self.row_h
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False,
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []})
        self.y += 1
        self.x = 0
        self.row_h = 0

    def timeseries(self, title, targets, unit="short", w=12, h=8, desc="", stack=False, minv=None):
        custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if stack else 0,
                  "showPoints": "never", "spanNulls": True,
                  "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
        defaults = {"unit": unit, "custom": custom}
        if minv is not None:
            defaults["min"] = minv
        self.panels.append({
            "type": "timeseries", "title": title, "description": desc, "id": self._id(),
            "datasource": DS, "gridPos": self._place(w, h), "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                   "calcs": ["mean", "max", "lastNotNull"], "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}})

    def stat(self, title, target, unit="short", w=4, h=4, desc="", thresholds=None, text_mode="value"):
        steps = thresholds or [{"color": "green", "value": None}]
        self.panels.append({
            "type": "stat", "title": title, "description": desc, "id": self._id(),
            "datasource": DS, "gridPos": self._place(w, h), "targets": [target],
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": text_mode,
                        "justifyMode": "auto", "orientation": "auto"}})

    def heatmap(self, title, target, w=12, h=8, desc=""):
        self.panels.append({
            "type": "heatmap", "title": title, "description": desc, "id": self._id(),
            "datasource": DS, "gridPos": self._place(w, h), "targets": [target],
            "fieldConfig": {"defaults": {"custom": {"hideFrom": {"legend": False, "tooltip": False,
                                                                 "viz": False}}}, "overrides": []},
            "options": {"calculate": False, "cellGap": 1, "yAxis": {"axisPlacement": "left", "unit": "short"},
                        "rowsFrame": {"layout": "auto"}, "color": {"mode": "scheme", "scheme": "Oranges",
                                                                  "fill": "dark-orange", "steps": 64},
                        "cellValues": {"unit": "short"}, "tooltip": {"mode": "single", "yHistogram": True},
                        "legend": {"show": True}, "exemplars": {"color": "rgba(255,0,255,0.7)"}}})


def build():
    b = Board()
    red = [{"color": "green", "value": None}, {"color": "red", "value": 0.05}]

    b.row("Overview")
    b.stat("Up", q('up{%s}' % SEL, "{{instance}}"), w=3,
           thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
           desc="1 while Prometheus scrapes convoyd's /metrics.")
    b.stat("Version", q('convoy_build_info{%s}' % SEL, "{{version}}", instant=True), w=3,
           text_mode="name", desc="convoy_build_info{version}.")
    b.stat("Requests/s", q('sum(rate(convoy_http_requests_total{%s}[$__rate_interval]))' % SEL),
           unit="reqps", w=4)
    b.stat("5xx ratio", q('sum(rate(convoy_http_requests_total{%s,code=~"5.."}[$__rate_interval]))'
                          ' / sum(rate(convoy_http_requests_total{%s}[$__rate_interval]))' % (SEL, SEL)),
           unit="percentunit", w=4, thresholds=red)
    b.stat("Jobs/s", q('sum(rate(convoy_jobs_total{%s}[$__rate_interval]))' % SEL), unit="ops", w=4)
    b.stat("Queued", q('sum(convoy_jobs_queued{%s})' % SEL), w=3)
    b.stat("Running", q('sum(convoy_jobs_running{%s})' % SEL), w=3)

    b.row("HTTP")
    b.timeseries("Request rate by route and code",
                 [q('sum by (route, code) (rate(convoy_http_requests_total{%s}[$__rate_interval]))' % SEL,
                    "{{route}} {{code}}")], unit="reqps", stack=True,
                 desc="convoy_http_requests_total; route is the path template.")
    b.timeseries("Request latency p50 / p99 by route",
                 quantiles("convoy_http_request_duration_seconds", ("route",)), unit="s",
                 desc="From the convoy_http_request_duration_seconds histogram. A sync POST /v1/jobs "
                      "includes the job's queue and run time.")

    b.row("Jobs")
    b.timeseries("Jobs finished by op and state",
                 [q('sum by (op, state) (rate(convoy_jobs_total{%s}[$__rate_interval]))' % SEL,
                    "{{op}} {{state}}")], unit="ops", stack=True,
                 desc="convoy_jobs_total counts jobs as they end (succeeded, failed, cancelled).")
    b.timeseries("Queue depth and running jobs",
                 [q('sum(convoy_jobs_queued{%s})' % SEL, "queued", "A"),
                  q('sum(convoy_jobs_running{%s})' % SEL, "running", "B")], minv=0,
                 desc="Accepted, unfinished jobs; 429 queue_full once queued + running reach max_queue_jobs.")
    b.timeseries("Job queue seconds p50 / p99 by op",
                 quantiles("convoy_job_queue_seconds", ("op",)), unit="s",
                 desc="Acceptance to start on a device (convoy_job_queue_seconds).")
    b.timeseries("Job run seconds p50 / p99 by op",
                 quantiles("convoy_job_run_seconds", ("op",)), unit="s",
                 desc="Backend time of the batch that ran the job (convoy_job_run_seconds).")
    b.heatmap("Batch size distribution",
              q('sum by (le) (increase(convoy_batch_size_bucket{%s}[$__rate_interval]))' % SEL,
                "{{le}}", format="heatmap"),
              desc="Jobs per backend call, observed once per job (convoy_batch_size); "
                   "bounded by max_batch.")
    b.timeseries("Mean batch size and p99",
                 [q('sum(rate(convoy_batch_size_sum{%s}[$__rate_interval]))'
                    ' / sum(rate(convoy_batch_size_count{%s}[$__rate_interval]))' % (SEL, SEL), "mean", "A"),
                  q('histogram_quantile(0.99, sum by (le) (rate(convoy_batch_size_bucket{%s}'
                    '[$__rate_interval])))' % SEL, "p99", "B")], minv=0,
                 desc="Above 1 when the batcher merges concurrent jobs.")

    b.row("Memory, bytes and devices")
    b.timeseries("In-flight and result-store bytes",
                 [q('sum(convoy_inflight_bytes{%s})' % SEL, "in-flight (max_inflight_bytes)", "A"),
                  q('sum(convoy_result_store_bytes{%s})' % SEL, "result store (result_store_bytes)", "B")],
                 unit="bytes", minv=0)
    b.timeseries("Wire bytes in / out",
                 [q('sum(rate(convoy_bytes_in_total{%s}[$__rate_interval]))' % SEL, "in", "A"),
                  q('sum(rate(convoy_bytes_out_total{%s}[$__rate_interval]))' % SEL, "out", "B")],
                 unit="Bps", minv=0)
    b.timeseries("Device memory used",
                 [q('convoy_device_memory_used_bytes{%s}' % SEL, "{{instance}} {{device}}")],
                 unit="bytes", minv=0)
    b.timeseries("Device utilisation",
                 [q('convoy_device_utilization_ratio{%s}' % SEL, "{{instance}} {{device}}")],
                 unit="percentunit", minv=0)

    b.row("Process")
    b.timeseries("Resident memory",
                 [q('process_resident_memory_bytes{%s}' % SEL, "{{instance}}")], unit="bytes", w=8, minv=0)
    b.timeseries("CPU (cores)",
                 [q('rate(process_cpu_seconds_total{%s}[$__rate_interval])' % SEL, "{{instance}}")],
                 w=8, minv=0)
    b.timeseries("Open file descriptors",
                 [q('process_open_fds{%s}' % SEL, "open {{instance}}", "A"),
                  q('process_max_fds{%s}' % SEL, "max {{instance}}", "B")], w=8, minv=0)
    return b.panels


def variable(name, label, query):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": query, "refresh": 2, "includeAll": True, "multi": True,
            "allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1, "hide": 0}


def dashboard():
    return {
        "uid": "convoy-overview",
        "title": "convoy",
        "description": "convoyd: HTTP, jobs, batching, memory, devices (metrics of design.md §4). "
                       "Generated by deploy/grafana/make_dashboard.py.",
        "tags": ["convoy"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
            "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
            "type": "dashboard"}]},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": "", "includeAll": False, "multi": False},
            variable("job", "Job", "label_values(convoy_build_info, job)"),
            variable("instance", "Instance", 'label_values(convoy_build_info{job=~"$job"}, instance)'),
        ]},
        "panels": build(),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "dashboards", "convoy.json")
    text = json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"
    with open(out, "w") as f:
        f.write(text)
    print("wrote %s (%d panels)" % (out, len(dashboard()["panels"])))


if __name__ == "__main__":
    main()
