#!/usr/bin/env python3
"""Overload figures: reluserve with 4x as many clients as it can hold.

    bench/http/overload.py BUILD_DIR [--threads 1] [--max-queue 3] [--seconds 10]

Serves one slow model (16-2048-2048-2048-10 ReLU classifier, safetensors,
He-normal weights from a fixed seed; a 1024-row request computes for a few
hundred milliseconds) with --threads T --max-queue Q --max-batch 1, so the
server holds CAPACITY = T + Q requests (T computing, Q queued). Then:

  1. saturation: CAPACITY clients, each sending its next request as soon as it
     has the answer, for --sat-seconds: the throughput the server can give;
  2. overload: 4 x CAPACITY such clients for --seconds (no back-off: a client
     refused with 503 sends again at once, the harshest case);
  3. recovery: the load stops and one request is sent.

It prints the count of each status, socket errors, the client-side latency of
the 503 answers (p50, p99, max) and of the 200s, the 503s' latency as the
server measured it (its JSON access log: first byte to answer), the server's
VmRSS at ready, after one warm-up request, at its peak during the overload
(sampled every 10 ms) and after it, and the recovery request's status and
latency. The setup of tests/integration/test_overload.py, run for seconds of
figures instead of one burst. Exits non-zero on a socket error, a status other than
200/503, or a failed recovery request. Python 3 with numpy.
"""
import argparse
import http.client
import json
import os
import shutil
import struct
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Server  # noqa: E402

SIZES = [16, 2048, 2048, 2048, 10]
ROWS = 1024


def write_slow_model(folder):
    """model.safetensors + config.json of the SIZES ReLU classifier."""
    rng = np.random.default_rng(5)
    header, blobs, off = {}, [], 0
    for l, (fan_in, units) in enumerate(zip(SIZES, SIZES[1:])):
        for name, arr in ((f"{2 * l}.weight", rng.normal(0, (2 / fan_in) ** 0.5, (units, fan_in))),
                          (f"{2 * l}.bias", rng.normal(0, 0.1, units))):
            raw = arr.astype("<f4").tobytes()
            header[name] = {"dtype": "F32", "shape": list(arr.shape),
                            "data_offsets": [off, off + len(raw)]}
            blobs.append(raw)
            off += len(raw)
    os.makedirs(folder)
    h = json.dumps(header).encode()
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"name": "slow", "task": "classification",
                   "input": {"name": "input", "size": SIZES[0]}, "output": {"name": "output"},
                   "activations": ["relu"] * (len(SIZES) - 2) + ["softmax"]}, f)
    return off // 4


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class Client(threading.Thread):
    """Sends body again and again on a keep-alive connection until stop is
    set; records (status, seconds) per answer and every socket error."""

    def __init__(self, port, body, stop):
        super().__init__(daemon=True)
        self.port, self.body, self.stop = port, body, stop
        self.answers, self.errors, self.retry_after = [], [], set()

    def run(self):
        conn = None
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                conn.request("POST", "/v2/models/slow/infer", body=self.body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                self.answers.append((r.status, time.monotonic() - t0))
                if r.status == 503:
                    self.retry_after.add(r.getheader("Retry-After"))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as ex:  # noqa: BLE001 — counted and reported
                self.errors.append("%s: %s" % (type(ex).__name__, ex))
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()


def one_request(port, body):
    """(status, seconds) of one request on a fresh connection."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/v2/models/slow/infer", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status, time.monotonic() - t0
    finally:
        conn.close()


def drive(port, body, clients, seconds, pid=None):
    """clients closed-loop clients for seconds; returns them and the RSS peak."""
    stop = threading.Event()
    cs = [Client(port, body, stop) for _ in range(clients)]
    for c in cs:
        c.start()
    peak, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        if pid:
            peak = max(peak, rss_kib(pid))
        time.sleep(0.01)
    stop.set()
    for c in cs:
        c.join(120)
    return cs, peak


def server_latencies(log_path, status):
    """Seconds of every access-log line (--log-format json) with this status."""
    out = []
    with open(log_path) as f:
        for line in f:
            if line.startswith("{"):
                doc = json.loads(line)
                if doc.get("msg") == "access" and doc.get("status") == status:
                    out.append(doc["us"] / 1e6)
    return out


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))] if v else float("nan")


def ms(seconds):
    return "%.1f ms" % (seconds * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", help="build directory holding reluserve")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-queue", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0, help="overload duration")
    ap.add_argument("--sat-seconds", type=float, default=3.0, help="saturation probe duration")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    binary = os.path.join(args.build, "reluserve")
    capacity = args.threads + args.max_queue
    tmp = tempfile.mkdtemp(prefix="reluserve-overload-")
    n_params = write_slow_model(os.path.join(tmp, "models", "slow", "1"))
    x = np.random.default_rng(1).normal(size=(ROWS, SIZES[0])).astype(np.float32)
    body = json.dumps({"inputs": [{"name": "input", "shape": [ROWS, SIZES[0]],
                                   "datatype": "FP32", "data": x.reshape(-1).tolist()}],
                       "parameters": {"diagnostics": "none"}}).encode()
    srv = Server(binary, os.path.join(tmp, "models"), 1, os.path.join(tmp, "server.log"),
                 ["--threads", str(args.threads), "--max-queue", str(args.max_queue),
                  "--log-format", "json"])
    failed = False
    try:
        srv.wait_ready()
        pid = srv.proc.pid
        print("== %s" % srv.cmd.replace(tmp, "$TMP"))
        print("model %s: %d parameters (%.1f MiB of weights); request: %d rows, %d bytes; "
              "capacity %d (%d computing + %d queued)"
              % ("-".join(map(str, SIZES)), n_params, n_params * 4 / 2**20, ROWS, len(body),
                 capacity, args.threads, args.max_queue))
        rss_ready = rss_kib(pid)
        warm = one_request(srv.port, body)
        rss_warm = rss_kib(pid)
        print("one request alone: %d in %s" % (warm[0], ms(warm[1])))

        sat, _ = drive(srv.port, body, capacity, args.sat_seconds)
        ok = [s for c in sat for s, _ in c.answers if s == 200]
        print("saturation: %d clients for %.0f s: %.2f req/s served (%d x 200, %d x 503)"
              % (capacity, args.sat_seconds, len(ok) / args.sat_seconds, len(ok),
                 sum(s == 503 for c in sat for s, _ in c.answers)))

        over, rss_peak = drive(srv.port, body, 4 * capacity, args.seconds, pid)
        rss_after = rss_kib(pid)
        answers = [a for c in over for a in c.answers]
        errors = [e for c in over for e in c.errors]
        statuses = {}
        for s, _ in answers:
            statuses[s] = statuses.get(s, 0) + 1
        lat503 = [t for s, t in answers if s == 503]
        lat200 = [t for s, t in answers if s == 200]
        retry_after = sorted({v for c in over for v in c.retry_after}, key=str)
        print("overload: %d clients for %.0f s: %s; socket errors %d"
              % (4 * capacity, args.seconds,
                 ", ".join("%d x %d" % (n, s) for s, n in sorted(statuses.items())), len(errors)))
        print("  503: %.0f/s, latency p50 %s, p99 %s, max %s; Retry-After %s"
              % (len(lat503) / args.seconds, ms(pct(lat503, 50)), ms(pct(lat503, 99)),
                 ms(max(lat503)) if lat503 else "-", retry_after))
        print("  200: %.1f/s, latency p50 %s, max %s"
              % (len(lat200) / args.seconds, ms(pct(lat200, 50)),
                 ms(max(lat200)) if lat200 else "-"))
        rec = one_request(srv.port, body)
        print("recovery: the next request after the load: %d in %s" % (rec[0], ms(rec[1])))
        print("RSS KiB: ready %d (weights %d), after one request %d, overload peak %d, after %d"
              % (rss_ready, n_params * 4 // 1024, rss_warm, rss_peak, rss_after))
        failed = bool(errors) or bool(set(statuses) - {200, 503}) or rec[0] != 200 or \
            warm[0] != 200 or any(c.errors for c in sat)
        if errors:
            print("socket errors, e.g.: %s" % errors[:3], file=sys.stderr)
    except (RuntimeError, OSError) as e:
        print("overload: FAILED: %s (server log: %s)" % (e, srv.log.name), file=sys.stderr)
        srv.stop()
        return 1
    rc = srv.stop()
    server_503 = server_latencies(srv.log.name, 503)
    if server_503:
        print("  503 as the server timed them (access log: first byte to answer queued): "
              "p50 %s, p99 %s, max %s over %d" % (ms(pct(server_503, 50)), ms(pct(server_503, 99)),
                                                 ms(max(server_503)), len(server_503)))
    if rc != 0:
        print("overload: server exited %s on SIGTERM" % rc, file=sys.stderr)
        failed = True
    if failed:
        print("overload: FAILED (files kept in %s)" % tmp, file=sys.stderr)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
