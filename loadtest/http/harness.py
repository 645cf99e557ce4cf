"""harness.py — what the HTTP load tests share: find (or build) convoyd, start
it on a free loopback port with a temporary data dir, stop it with SIGTERM and
check that it exited 0, describe the machine, and write a result file under
loadtest/results/. Stdlib only; run with /usr/bin/python3."""
import datetime
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(ROOT, "loadtest", "results")


class SetupError(Exception):
    """Not a measurement: the benchmark could not run (exit 2)."""


def convoyd_binary(path=None, build_dir=None):
    """The convoyd to measure: `path` (or $CONVOYD_BIN) as given; otherwise
    build_dir (or $BUILD, default <repo>/build) is configured Release when it
    has no build.ninja, and `convoyd` is built in it."""
    path = path or os.environ.get("CONVOYD_BIN")
    if path:
        if not os.access(path, os.X_OK):
            raise SetupError("convoyd binary %s is not executable" % path)
        return os.path.abspath(path)
    build = os.path.abspath(build_dir or os.environ.get("BUILD") or os.path.join(ROOT, "build"))
    if not os.path.exists(os.path.join(build, "build.ninja")):
        cmd = ["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"]
        print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
        if subprocess.run(cmd, stdout=sys.stderr).returncode != 0:
            raise SetupError("configuring %s failed" % build)
    jobs = os.environ.get("JOBS") or str(os.cpu_count() or 1)
    cmd = ["cmake", "--build", build, "--target", "convoyd", "-j", jobs]
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    if subprocess.run(cmd, stdout=sys.stderr).returncode != 0:
        raise SetupError("building convoyd in %s failed" % build)
    return os.path.join(build, "bin", "convoyd")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Convoyd:
    """One convoyd on 127.0.0.1:<free port> with a fresh data dir; flags are
    extra command-line options. Use as a context manager; stop() returns the
    exit code after SIGTERM (the drain), and `with` raises when it is not 0."""

    def __init__(self, binary, flags=(), start_timeout=30.0):
        self.binary = binary
        self.flags = list(flags)
        self.tmp = tempfile.mkdtemp(prefix="convoy-loadtest-")
        self.log_path = os.path.join(self.tmp, "convoyd.log")
        self.proc = None
        self.port = None
        self.start_timeout = start_timeout
        self.rc = None

    def command(self):
        return [self.binary, "--listen", "127.0.0.1:%d" % self.port,
                "--data-dir", os.path.join(self.tmp, "var")] + self.flags

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVOY_")}
        for attempt in range(3):            # a free port can be taken between bind and listen
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         cwd=self.tmp, env=env)
            log.close()
            deadline = time.time() + self.start_timeout
            while time.time() < deadline and self.proc.poll() is None:
                if self.status("/readyz") == 200:
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise SetupError("convoyd not ready after %.0f s:\n%s" % (self.start_timeout, self.log_tail()))
            if "in use" not in self.log_tail():
                break
        raise SetupError("convoyd exited with %s at start:\n%s" % (self.proc.returncode, self.log_tail()))

    def status(self, path):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            return r.status
        except OSError:
            return None

    def get(self, path, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def rss_bytes(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def stop(self, timeout=90):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.rc = "killed (no exit %d s after SIGTERM)" % timeout
                return self.rc
        self.rc = self.proc.returncode
        return self.rc

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        ok = rc == 0
        if ok:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if not ok and exc_type is None:
            raise SetupError("convoyd exited %s after SIGTERM (want 0); log in %s:\n%s"
                             % (rc, self.log_path, self.log_tail()))
        return False


def busy_pct():
    """Percent of all cores busy over one second (before a run: other work)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(1)
    t1, i1 = snap()
    return 100.0 * ((t1 - t0) - (i1 - i0)) / max(t1 - t0, 1)


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"cpu": model, "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "mem_gib": mem / 2**30, "kernel": platform.release(),
            "python": platform.python_version(), "loadavg": os.getloadavg(),
            "busy_pct": busy_pct(), "commit": commit or "unknown"}


def machine_text(m):
    return ("- CPU: %s, %d cores (%d usable by this process), %.1f GiB RAM, Linux %s\n"
            "- load average before the run: %.2f %.2f %.2f; cores busy with other work: %.0f%%%s\n"
            "- convoy %s; Python %s (client)\n"
            % (m["cpu"], m["cores"], m["affinity"], m["mem_gib"], m["kernel"],
               m["loadavg"][0], m["loadavg"][1], m["loadavg"][2], m["busy_pct"],
               " (not idle: figures are noisy)" if m["busy_pct"] > 10 else "",
               m["commit"], m["python"]))


def write_result(name, title, command, m, body):
    """loadtest/results/<name>-<UTC date-time>.md; returns its path."""
    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    path = os.path.join(RESULTS, "%s-%s.md" % (name, stamp))
    with open(path, "w") as f:
        f.write("# %s\n\n%s\n## Command\n\n```\n%s\n```\n\n%s" % (title, machine_text(m), command, body))
    return path


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def median(values):
    v = sorted(values)
    n = len(v)
    if n == 0:
        return float("nan")
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
