"""What the HTTP benchmarks share (run.py, peer.py, memory.py, scaling.py,
overload.py, scripts/soak): the models and request bodies, the server and wrk
drivers, the /proc readers and the results file targets.py summarises.

Python 3 standard library only.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LUA = os.path.join(HERE, "request.lua")
CONNECTIONS = (1, 16, 64)
ERROR_LIMIT = 0.01  # fraction of non-2xx / socket errors that fails a point
# The models (name, layer sizes, weight seed) and the seed of the request
# bodies: every benchmark serves the same ones.
MODELS = (("tiny", [4, 16, 16, 3], 1), ("medium", [784, 512, 512, 10], 2))
SIZES = {name: sizes for name, sizes, _ in MODELS}
BODY_SEED = 3
DIAGNOSTICS = ("none", "summary")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The results file run-bench passes to every script, for targets.py.
RESULTS_ENV = "RELUSERVE_BENCH_RESULTS"


# ---------------------------------------------------------------- models and bodies

def write_model(path, name, sizes, seed):
    """A ReLU MLP with a softmax output, W ~ N(0, 2/fan_in), b = 0."""
    rng = random.Random(seed)
    layers = []
    for l, (fan_in, units) in enumerate(zip(sizes, sizes[1:])):
        sd = (2.0 / fan_in) ** 0.5
        weight = [[round(rng.gauss(0.0, sd), 6) for _ in range(fan_in)] for _ in range(units)]
        last = l == len(sizes) - 2
        layers.append({"units": units, "activation": "softmax" if last else "relu",
                       "weight": weight, "bias": [0.0] * units})
    doc = {"format": "reluserve-mlp", "version": 1, "name": name, "task": "classification",
           "input": {"name": "input", "size": sizes[0]}, "output": {"name": "output"},
           "layers": layers}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


def write_body(path, n_inputs, diagnostics, seed):
    rng = random.Random(seed)
    doc = {"inputs": [{"name": "input", "shape": [1, n_inputs], "datatype": "FP32",
                       "data": [round(rng.gauss(0.0, 1.0), 4) for _ in range(n_inputs)]}],
           "parameters": {"diagnostics": diagnostics}}
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


def write_repo(tmp, names=None, folder="models"):
    """TMP/FOLDER/<name>/1/model.json for the named MODELS (default all) and
    a batch-1 body per model and diagnostics; returns (models dir, {(name,
    diagnostics): body path})."""
    models = os.path.join(tmp, folder)
    bodies = {}
    for name, sizes, seed in MODELS:
        if names is not None and name not in names:
            continue
        write_model(os.path.join(models, name, "1", "model.json"), name, sizes, seed)
        for diag in DIAGNOSTICS:
            bodies[(name, diag)] = os.path.join(tmp, "%s-%s.json" % (name, diag))
            write_body(bodies[(name, diag)], sizes[0], diag, BODY_SEED)
    return models, bodies


def weights_bytes(sizes):
    """Bytes of parameters (float32 weights and biases) of an MLP."""
    return 4 * sum(a * b + b for a, b in zip(sizes, sizes[1:]))


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def taskset(cpus):
    """The command prefix that pins to a cpu list ("0", "0-1"), or none."""
    return ["taskset", "-c", cpus] if cpus else []


class Server:
    """`reluserve serve` on an ephemeral loopback port; cpus pins it (taskset)."""

    def __init__(self, binary, models, max_batch, log_path, extra=(), cpus=None):
        self.port = free_port()
        self.log = open(log_path, "w")
        cmd = [binary, "serve", "--models", models, "--host", "127.0.0.1",
               "--port", str(self.port), "--max-batch", str(max_batch)] + list(extra)
        self.cmd = " ".join(taskset(cpus) + cmd)
        # taskset execs the server: the pid stays the server's
        self.proc = subprocess.Popen(taskset(cpus) + cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port

    def url(self, model):
        return self.base + "/v2/models/%s/infer" % model

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %d during startup" % self.proc.returncode)
            try:
                with urllib.request.urlopen(self.base + "/v2/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready after %.0f s" % timeout)

    def check_infer(self, model, body_path):
        """One request by hand, so a broken endpoint fails loudly, not as 0 req/s."""
        doc = post(self.url(model), body_path)
        if not doc.get("outputs"):
            raise RuntimeError("infer on %s returned no outputs: %r" % (model, doc))
        return doc

    def check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError("server died (exit %d)" % self.proc.returncode)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def finish(self, tag, error=None):
        """Stops the server. Prints, after tag, the error that ended the run
        early (None: none) or else a non-zero exit on SIGTERM; returns whether
        either happened."""
        if error is not None:
            print("%s: FAILED: %s (server log: %s)" % (tag, error, self.log.name),
                  file=sys.stderr)
        rc = self.stop()
        if rc != 0 and error is None:
            print("%s: server exited with %s on SIGTERM" % (tag, rc), file=sys.stderr)
        return error is not None or rc != 0


def post(url, body_path):
    with open(body_path, "rb") as f:
        req = urllib.request.Request(url, data=f.read(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def start_wrk(url, connections, duration, body=None, cpus=None):
    """wrk (request.lua) in the background: GET url, or POST of body's file."""
    threads = min(2, connections)
    env = dict(os.environ, BODY_FILE=body or "", MIX_FILE="")  # one request, not a mix
    cmd = taskset(cpus) + ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration,
                           "--timeout", "10s", "-s", LUA, url]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wrk_result(proc, duration):
    """The WRKJSON line of a start_wrk() run, with rps and errors added."""
    try:
        out, err = proc.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            r = json.loads(line[len("WRKJSON "):])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
            r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
            return r
    raise RuntimeError("wrk failed (%d): %s %s" % (proc.returncode, out, err))


def run_wrk(url, connections, duration, body=None, cpus=None):
    return wrk_result(start_wrk(url, connections, duration, body, cpus), duration)


def bad(r):
    """A point that failed: no answers, or more than ERROR_LIMIT errors."""
    return r["requests"] == 0 or r["errors"] > ERROR_LIMIT * r["requests"]


BAD_NOTE = "  <- failed: no answers or too many errors"


def fmt_us(us):
    return "%.2f ms" % (us / 1000.0) if us >= 1000 else "%d us" % us


# ---------------------------------------------------------------- /proc

def stat_fields(path):
    """The fields of a /proc .../stat file after the command name: [0] is the
    state (field 3 of proc(5)), [11] utime, [12] stime."""
    with open(path) as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_ticks(pids):
    """utime + stime, in clock ticks, summed over pids (all threads of each)."""
    total = 0
    for pid in pids:
        fields = stat_fields("/proc/%d/stat" % pid)
        total += int(fields[11]) + int(fields[12])
    return total


def thread_ticks(pid):
    """{tid: (name, utime + stime ticks)} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            fields = stat_fields("/proc/%d/task/%s/stat" % (pid, tid))
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
        except OSError:
            continue  # exited while we looked
        out[int(tid)] = (name, int(fields[11]) + int(fields[12]))
    return out


def status_kib(pid, fields=("VmRSS", "VmHWM")):
    """{field: KiB} from /proc/<pid>/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in fields:
                out[key] = int(line.split()[1])
    return out


def reset_hwm(pid):
    """Resets VmHWM to the current RSS (proc(5), clear_refs "5"); False where
    the kernel does not allow it."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(stat_fields("/proc/%s/stat" % entry)[1]) == pid:
                kids.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass  # exited while we looked
    return kids


def zombie(pid):
    try:
        return stat_fields("/proc/%d/stat" % pid)[0] == "Z"
    except OSError:
        return True


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------- command line and results

def arguments(doc, extra=None, duration=5):
    """The options every script takes (build, --duration, --quick, --keep,
    --results), plus extra(parser)'s; returns the parsed arguments with
    .duration set (1 with --quick) and .binary."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("build", help="build directory holding reluserve")
    ap.add_argument("--duration", type=int, default=duration,
                    help="seconds per point (default %d)" % duration)
    ap.add_argument("--quick", action="store_true", help="1 s per point")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--results", default=os.environ.get(RESULTS_ENV),
                    help="append the figures targets.py reads to this file (default $%s)"
                    % RESULTS_ENV)
    if extra:
        extra(ap)
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.quick:
        args.duration = 1
    args.binary = os.path.join(args.build, "reluserve")
    return args


def missing_tools(args, tag, tools=("wrk",)):
    """A message naming what is missing (the server binary, a tool), or None."""
    if not os.access(args.binary, os.X_OK):
        return "%s: %s not found" % (tag, args.binary)
    for tool in tools:
        if not shutil.which(tool):
            return "%s: %s not installed (scripts/install-deps --test)" % (tag, tool)
    return None


def scratch(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def finish(args, tmp, failed):
    if args.keep or failed:
        print("temporary files kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


def record(args, source, values):
    """Appends {"source": ..., "values": {...}} as one JSON line to the
    results file, when there is one."""
    if args.results and values:
        with open(args.results, "a") as f:
            f.write(json.dumps({"source": source, "values": values}, sort_keys=True) + "\n")
