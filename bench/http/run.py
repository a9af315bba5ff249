#!/usr/bin/env python3
"""HTTP benchmark of reluserve: throughput and tail latency with wrk.

    bench/http/run.py BUILD_DIR [--duration S] [--quick]

Writes a model repository into a temporary directory (a tiny 4-16-16-3 and a
medium 784-512-512-10 ReLU classifier, He-normal random weights from a fixed
seed, in the native JSON format of DESIGN.md), then starts
`BUILD_DIR/reluserve serve` on an ephemeral loopback port twice: with dynamic
batching (--max-batch 64) and without (--max-batch 1). Against each it runs
wrk (bench/http/request.lua) for

  - GET /v2/health/live: the HTTP ceiling (libmicrohttpd answering alone),
  - batch-1 inference on the tiny and the medium model, with
    parameters.diagnostics "none" and "summary",

at 1, 16 and 64 connections, and prints req/s, p50 and p99 latency (wrk's
latency histogram) and the ratios of the performance issue, all from this run:
tiny inference / health ceiling, and medium at 64 connections batching on /
off. Targets are reported, never asserted: the script exits non-zero only
when something really fails (server does not start or dies, wrk fails, or more
than 1% of responses are errors, or none came back).

Python 3 standard library only; wrk 4 (Debian package `wrk`).
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
LUA = os.path.join(HERE, "request.lua")
CONNECTIONS = (1, 16, 64)
ERROR_LIMIT = 0.01  # fraction of non-2xx / socket errors that fails the run
# The models (name, layer sizes, weight seed) and the seed of the request
# bodies; bench/http/peer.py serves the same ones to reluserve and the peer.
MODELS = (("tiny", [4, 16, 16, 3], 1), ("medium", [784, 512, 512, 10], 2))
BODY_SEED = 3


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


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, models, max_batch, log_path, extra=()):
        self.port = free_port()
        self.log = open(log_path, "w")
        cmd = [binary, "serve", "--models", models, "--host", "127.0.0.1",
               "--port", str(self.port), "--max-batch", str(max_batch)] + list(extra)
        self.cmd = " ".join(cmd)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port

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
        with open(body_path, "rb") as f:
            req = urllib.request.Request(self.base + "/v2/models/%s/infer" % model, data=f.read(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            doc = json.load(r)
        if not doc.get("outputs"):
            raise RuntimeError("infer on %s returned no outputs: %r" % (model, doc))

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


def run_wrk(url, connections, duration, body=None):
    threads = min(2, connections)
    env = dict(os.environ)
    env["BODY_FILE"] = body or ""
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--timeout", "10s",
           "-s", LUA, url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            r = json.loads(line[len("WRKJSON "):])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
            r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
            return r
    raise RuntimeError("wrk failed (%d): %s %s" % (out.returncode, out.stdout, out.stderr))


def fmt_us(us):
    return "%.2f ms" % (us / 1000.0) if us >= 1000 else "%d us" % us


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", help="build directory holding reluserve")
    ap.add_argument("--duration", type=int, default=5, help="seconds per point (default 5)")
    ap.add_argument("--quick", action="store_true", help="1 s per point")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    duration = 1 if args.quick else args.duration
    binary = os.path.join(args.build, "reluserve")
    if not os.access(binary, os.X_OK):
        print("bench/http: %s not found" % binary, file=sys.stderr)
        return 1
    if not shutil.which("wrk"):
        print("bench/http: wrk not installed (apt-get install wrk)", file=sys.stderr)
        return 1

    tmp = tempfile.mkdtemp(prefix="reluserve-bench-")
    models = os.path.join(tmp, "models")
    for name, sizes, seed in MODELS:
        write_model(os.path.join(models, name, "1", "model.json"), name, sizes, seed)
    bodies = {}
    for model, sizes, _ in MODELS:
        for diag in ("none", "summary"):
            bodies[(model, diag)] = os.path.join(tmp, "%s-%s.json" % (model, diag))
            write_body(bodies[(model, diag)], sizes[0], diag, BODY_SEED)

    cases = [("health", None)] + [(m, d) for m in ("tiny", "medium") for d in ("none", "summary")]
    results = {}  # (max_batch, case, diag, connections) -> wrk result
    failed = False
    print("reluserve HTTP benchmark: wrk on loopback, %d s per point, %d cores" %
          (duration, os.cpu_count() or 0))
    for max_batch in (64, 1):
        srv = Server(binary, models, max_batch, os.path.join(tmp, "server-%d.log" % max_batch))
        print("\n== %s  (batching %s)" % (srv.cmd.replace(tmp, "$TMP"),
                                          "on" if max_batch > 1 else "off"))
        try:
            srv.wait_ready()
            srv.check_infer("tiny", bodies[("tiny", "summary")])
            srv.check_infer("medium", bodies[("medium", "summary")])
            print("%-24s %5s %10s %10s %10s %8s" % ("endpoint", "conns", "req/s", "p50", "p99",
                                                    "errors"))
            # Connection count outermost: the points a ratio compares run
            # back to back, so drifting load elsewhere skews them least.
            for c in CONNECTIONS:
                for model, diag in cases:
                    if model == "health":
                        label, url, body = "GET /v2/health/live", srv.base + "/v2/health/live", None
                    else:
                        label = "%s infer (%s)" % (model, diag)
                        url = srv.base + "/v2/models/%s/infer" % model
                        body = bodies[(model, diag)]
                    r = run_wrk(url, c, duration, body)
                    results[(max_batch, model, diag, c)] = r
                    bad = r["requests"] == 0 or r["errors"] > ERROR_LIMIT * r["requests"]
                    failed |= bad
                    print("%-24s %5d %10.0f %10s %10s %8d%s" % (
                        label, c, r["rps"], fmt_us(r["p50_us"]), fmt_us(r["p99_us"]),
                        r["errors"], "  <- failed: no answers or too many errors" if bad else ""))
                    if srv.proc.poll() is not None:
                        raise RuntimeError("server died (exit %d)" % srv.proc.returncode)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print("bench/http: FAILED: %s (server log: %s)" % (e, srv.log.name), file=sys.stderr)
            srv.stop()
            args.keep = True
            failed = True
            break
        rc = srv.stop()
        if rc != 0:
            print("bench/http: server exited with %s on SIGTERM" % rc, file=sys.stderr)
            failed = True

    def rps(*key):
        r = results.get(key)
        return r["rps"] if r else float("nan")

    if results:
        print("\nratios (same run):")
        for mb, mode in ((64, "on"), (1, "off")):
            for c in CONNECTIONS:
                ceiling = rps(mb, "health", None, c)
                print("  tiny infer / health ceiling, %2d conns, batching %-3s: none %.2f, "
                      "summary %.2f" % (c, mode, rps(mb, "tiny", "none", c) / ceiling,
                                         rps(mb, "tiny", "summary", c) / ceiling))
        for diag in ("none", "summary"):
            print("  medium infer (%s), 64 conns, batching on / off: %.2f"
                  % (diag, rps(64, "medium", diag, 64) / rps(1, "medium", diag, 64)))
        for mb in (64, 1):
            r = results.get((mb, "tiny", "summary", 16))
            if r:
                print("  tiny infer (summary) p99 at 16 conns, max-batch %d: %s"
                      % (mb, fmt_us(r["p99_us"])))
        print("targets (issue 4): tiny / ceiling >= 0.60; medium batching on/off >= 3.0; "
              "tiny p99 at 16 conns <= 5 ms")
    if args.keep:
        print("temporary files kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
