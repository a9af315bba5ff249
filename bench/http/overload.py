#!/usr/bin/env python3
"""Overload figures: reluserve driven at 4x what it can serve.

    bench/http/overload.py BUILD_DIR [--threads 1] [--max-queue 3] [--seconds 10]

Serves one slow model (16-2048-2048-2048-10 ReLU classifier, safetensors,
He-normal weights from a fixed seed; a 1024-row request computes for a few
hundred milliseconds) with --threads T --max-queue Q --max-batch 1, so the
server holds CAPACITY = T + Q requests (T computing, Q queued). Then:

  1. saturation: CAPACITY clients, each sending its next request as soon as it
     has the answer, for --sat-seconds: the throughput S the server gives;
  2. 4x saturation: requests arrive at 4 x S a second for --seconds, each on
     a connection of its own, whatever the earlier ones got (open loop);
  3. 4x capacity: 4 x CAPACITY clients for --seconds, each sending again as
     soon as it has an answer, 503 or not (no back-off: the harshest case, and
     the setup of tests/integration/test_overload.py);
  4. recovery: the load stops and one request is sent.

For each overload it prints the count of each status, socket errors, the
latency of the 503 answers as the client saw them and as the server measured
them (its JSON access log: first byte to answer queued), the 200s' latency,
and the server's VmRSS peak (sampled every 10 ms); VmRSS also at ready, after
one request and at the end. Exits non-zero on a socket error, a status other
than 200/503, or a failed recovery request. Python 3 with numpy.
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
from common import Server, status_kib  # noqa: E402

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


def post(port, body, conn=None):
    """(status, Retry-After, seconds, conn or None) of one request; conn is
    kept for the next request unless the server closes it."""
    t0 = time.monotonic()
    if conn is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/v2/models/slow/infer", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
    except Exception:
        conn.close()
        raise
    if r.getheader("Connection", "").lower() == "close":
        conn.close()
        conn = None
    return r.status, r.getheader("Retry-After"), time.monotonic() - t0, conn


class Record:
    """Answers and socket errors of one phase, from any thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers, self.errors, self.retry_after = [], [], set()

    def add(self, status, retry_after, seconds):
        with self.lock:
            self.answers.append((status, seconds))
            if status == 503:
                self.retry_after.add(retry_after)

    def error(self, ex):
        with self.lock:
            self.errors.append("%s: %s" % (type(ex).__name__, ex))


def closed_loop(port, body, clients, stop, rec):
    """clients threads, each sending again as soon as it has an answer."""
    def client():
        conn = None
        while not stop.is_set():
            try:
                status, ra, sec, conn = post(port, body, conn)
                rec.add(status, ra, sec)
            except Exception as ex:  # noqa: BLE001 — counted and reported
                rec.error(ex)
                conn = None
        if conn:
            conn.close()
    return [threading.Thread(target=client, daemon=True) for _ in range(clients)]


def open_loop(port, body, rate, stop, rec):
    """One thread that starts a request (a thread, a fresh connection) every
    1/rate seconds on a fixed schedule, whatever the earlier ones got."""
    def one():
        try:
            status, ra, sec, conn = post(port, body)
            if conn:
                conn.close()
            rec.add(status, ra, sec)
        except Exception as ex:  # noqa: BLE001
            rec.error(ex)

    def pacer():
        started, t0 = [], time.monotonic()
        while not stop.is_set():
            t = threading.Thread(target=one, daemon=True)
            t.start()
            started.append(t)
            stop.wait(max(0.0, t0 + len(started) / rate - time.monotonic()))
        for t in started:
            t.join(120)
    return [threading.Thread(target=pacer, daemon=True)]


def run_phase(threads, stop, seconds, pid=None):
    """Runs threads for seconds; returns the VmRSS peak (KiB) if pid is set."""
    for t in threads:
        t.start()
    peak, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        if pid:
            peak = max(peak, status_kib(pid)["VmRSS"])
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join(180)
    return peak


def server_latencies(log_path, status, begin, end):
    """Seconds of the access-log lines (--log-format json) with this status
    between two byte offsets of the log."""
    with open(log_path, "rb") as f:
        f.seek(begin)
        text = f.read(end - begin).decode(errors="replace")
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            if doc.get("msg") == "access" and doc.get("status") == status:
                out.append(doc["us"] / 1e6)
    return out


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))] if v else float("nan")


def ms(seconds):
    return "%.1f ms" % (seconds * 1e3) if seconds == seconds else "-"


def report(name, rec, seconds, peak, server_503):
    statuses = {}
    for st, _ in rec.answers:
        statuses[st] = statuses.get(st, 0) + 1
    lat503 = [t for st, t in rec.answers if st == 503]
    lat200 = [t for st, t in rec.answers if st == 200]
    print("%s: %s in %.0f s; socket errors %d; RSS peak %d KiB"
          % (name, ", ".join("%d x %d" % (n, st) for st, n in sorted(statuses.items())),
             seconds, len(rec.errors), peak))
    print("  503 (%.0f/s, Retry-After %s): client p50 %s, p99 %s, max %s; server p50 %s, "
          "p99 %s, max %s" % (len(lat503) / seconds, sorted(rec.retry_after, key=str),
                               ms(pct(lat503, 50)), ms(pct(lat503, 99)),
                               ms(max(lat503, default=float("nan"))),
                               ms(pct(server_503, 50)), ms(pct(server_503, 99)),
                               ms(max(server_503, default=float("nan")))))
    print("  200 (%.2f/s): client p50 %s, max %s"
          % (len(lat200) / seconds, ms(pct(lat200, 50)), ms(max(lat200, default=float("nan")))))
    for e in rec.errors[:3]:
        print("  socket error: %s" % e, file=sys.stderr)
    return bool(rec.errors) or bool(set(statuses) - {200, 503})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", help="build directory holding reluserve")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-queue", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0, help="each overload's duration")
    ap.add_argument("--sat-seconds", type=float, default=5.0, help="saturation probe duration")
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
    log = os.path.join(tmp, "server.log")
    srv = Server(binary, os.path.join(tmp, "models"), 1, log,
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
        rss_ready = status_kib(pid)["VmRSS"]
        warm = post(srv.port, body)
        rss_warm = status_kib(pid)["VmRSS"]
        print("one request alone: %d in %s" % (warm[0], ms(warm[2])))
        failed |= warm[0] != 200

        rec, stop = Record(), threading.Event()
        run_phase(closed_loop(srv.port, body, capacity, stop, rec), stop, args.sat_seconds)
        served = sum(st == 200 for st, _ in rec.answers)
        sat = served / args.sat_seconds
        print("saturation: %d clients for %.0f s: %.2f req/s served (%d x 200, %d x 503)"
              % (capacity, args.sat_seconds, sat, served, len(rec.answers) - served))
        failed |= bool(rec.errors) or served == 0

        for name, make in (("4x saturation (%.1f req/s arriving)" % (4 * sat),
                            lambda st, r: open_loop(srv.port, body, 4 * sat, st, r)),
                           ("4x capacity (%d clients, no back-off)" % (4 * capacity),
                            lambda st, r: closed_loop(srv.port, body, 4 * capacity, st, r))):
            begin = os.path.getsize(log)
            rec, stop = Record(), threading.Event()
            peak = run_phase(make(stop, rec), stop, args.seconds, pid)
            server_503 = server_latencies(log, 503, begin, os.path.getsize(log))
            failed |= report(name, rec, args.seconds, peak, server_503)

        rss_end = status_kib(pid)["VmRSS"]
        rec = post(srv.port, body)
        print("recovery: the next request after the load: %d in %s" % (rec[0], ms(rec[2])))
        failed |= rec[0] != 200
        print("RSS KiB: ready %d (weights %d), after one request %d, after the overloads %d"
              % (rss_ready, n_params * 4 // 1024, rss_warm, rss_end))
    except (RuntimeError, OSError) as e:
        print("overload: FAILED: %s (server log: %s)" % (e, srv.log.name), file=sys.stderr)
        srv.stop()
        return 1
    rc = srv.stop()
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
