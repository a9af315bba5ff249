#!/usr/bin/env python3
"""The lean path on and off in one run: tiny p50 and throughput, and the sweep
that picks --lean-max-flops.

    bench/http/lean.py BUILD_DIR [--duration S] [--quick]
    bench/http/lean.py BUILD_DIR --sweep [--duration S] [--sizes N,N,...]

Default: run.py's tiny model (4-16-16-3) and batch-1 bodies; two servers run
side by side on loopback, both --max-batch 64: one with the default
--lean-max-flops (lean on), one with --lean-max-flops 0 (lean off: every
request through the queue and the pool, the baseline). For 1 and 16
connections and each of GET /v2/health/live, tiny `none` and tiny `summary`,
wrk runs against the lean server and then at once against the baseline, so
the two points of a pair see the same load on the machine. Prints req/s,
p50 and p99 of each, on/off ratios, and the issue's targets (reported, never
asserted).

--sweep: models of growing compute per row (input n, two hidden layers of n,
10 outputs, n = 16 .. 512: about 0.5k .. 530k multiply-adds), batch-1
`none` requests, lean forced on (--lean-max-flops at its maximum) against
off, at 1 and 16 connections: where the lean path stops paying at 16
connections is where the threshold belongs (bench/README.md).

Exits non-zero only when something really fails (a server does not start or
dies, wrk fails, more than 1% errors).
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the HTTP benchmark's models, bodies, server and wrk)

LEAN_MAX = str(1 << 40)  # the flag's maximum: everything lean
SWEEP = (16, 32, 64, 128, 256, 512)


def macs(sizes):
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def thread_ticks(pid):
    """CPU ticks (user + system) of each thread of pid, from /proc."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])  # utime, stime: fields 14, 15
        except OSError:
            pass  # a thread that ended meanwhile
    return out


def point(srv, model, body, c, duration):
    """wrk's result plus the server's CPU per request: all threads ("cpu_us")
    and its busiest thread ("top_us", the one that saturates first), read
    from /proc, so they do not depend on wrk sharing the cores."""
    before = thread_ticks(srv.proc.pid)
    if model == "health":
        r = run.run_wrk(srv.base + "/v2/health/live", c, duration)
    else:
        r = run.run_wrk(srv.base + "/v2/models/%s/infer" % model, c, duration, body)
    after = thread_ticks(srv.proc.pid)
    used = [after[t] - before.get(t, 0) for t in after]
    us = 1e6 / os.sysconf("SC_CLK_TCK") / max(r["requests"], 1)
    r["cpu_us"] = sum(used) * us
    r["top_us"] = max(used or [0]) * us
    return r


def bad(r):
    return r["requests"] == 0 or r["errors"] > run.ERROR_LIMIT * r["requests"]


def start(binary, models, tmp, name, extra):
    srv = run.Server(binary, models, 64, os.path.join(tmp, "server-%s.log" % name), extra)
    srv.wait_ready()
    return srv


def compare(binary, tmp, duration):
    models = os.path.join(tmp, "models")
    name, sizes, seed = run.MODELS[0]
    run.write_model(os.path.join(models, name, "1", "model.json"), name, sizes, seed)
    bodies = {}
    for diag in ("none", "summary"):
        bodies[diag] = os.path.join(tmp, "tiny-%s.json" % diag)
        run.write_body(bodies[diag], sizes[0], diag, run.BODY_SEED)
    failed = False
    res = {}
    on = off = None
    try:
        on = start(binary, models, tmp, "on", [])
        off = start(binary, models, tmp, "off", ["--lean-max-flops", "0"])
        for srv in (on, off):
            srv.check_infer("tiny", bodies["summary"])
        print("lean on:  %s\nlean off: %s" % (on.cmd.replace(tmp, "$TMP"),
                                               off.cmd.replace(tmp, "$TMP")))
        print("CPU: server CPU us per request, all threads / the busiest thread")
        print("%-22s %5s | %9s %8s %8s %11s | %9s %8s %8s %11s | %6s" % (
            "endpoint", "conns", "on req/s", "p50", "p99", "CPU", "off req/s", "p50", "p99",
            "CPU", "on/off"))
        for c in (1, 16):
            for model, diag in (("health", None), ("tiny", "none"), ("tiny", "summary")):
                pair = []
                for srv in (on, off):
                    r = point(srv, model, bodies.get(diag), c, duration)
                    failed |= bad(r)
                    pair.append(r)
                    if srv.proc.poll() is not None:
                        raise RuntimeError("server died (exit %d)" % srv.proc.returncode)
                res[(model, diag, c)] = pair
                label = "GET /v2/health/live" if model == "health" else "tiny infer (%s)" % diag
                print("%-22s %5d | %9.0f %8s %8s %5.1f/%5.1f | %9.0f %8s %8s %5.1f/%5.1f | %6.2f%s"
                      % (label, c, pair[0]["rps"], run.fmt_us(pair[0]["p50_us"]),
                         run.fmt_us(pair[0]["p99_us"]), pair[0]["cpu_us"], pair[0]["top_us"],
                         pair[1]["rps"], run.fmt_us(pair[1]["p50_us"]),
                         run.fmt_us(pair[1]["p99_us"]), pair[1]["cpu_us"], pair[1]["top_us"],
                         pair[0]["rps"] / pair[1]["rps"],
                         "  <- failed" if bad(pair[0]) or bad(pair[1]) else ""))
    finally:
        for srv in (on, off):
            if srv and srv.stop() != 0:
                print("bench/http/lean: a server exited non-zero on SIGTERM", file=sys.stderr)
                failed = True
    p50 = res[("tiny", "summary", 1)][0]["p50_us"], res[("tiny", "none", 1)][0]["p50_us"]
    print("tiny p50 at 1 conn, lean on: summary %s, none %s (lean off: %s, %s; health %s)" % (
        run.fmt_us(p50[0]), run.fmt_us(p50[1]),
        run.fmt_us(res[("tiny", "summary", 1)][1]["p50_us"]),
        run.fmt_us(res[("tiny", "none", 1)][1]["p50_us"]),
        run.fmt_us(res[("health", None, 1)][0]["p50_us"])))
    for i, mode in ((0, "on"), (1, "off")):
        ceiling = res[("health", None, 16)][i]["rps"]
        print("tiny / health ceiling at 16 conns, lean %-3s: none %.2f, summary %.2f" % (
            mode, res[("tiny", "none", 16)][i]["rps"] / ceiling,
            res[("tiny", "summary", 16)][i]["rps"] / ceiling))
    print("targets (issue 9): tiny p50 at 1 conn <= 60 us; tiny summary at 16 conns >= 0.80 "
          "of health")
    return failed


def sweep(binary, tmp, duration, sizes):
    models = os.path.join(tmp, "models")
    bodies = {}
    for n in sizes:
        name = "n%d" % n
        run.write_model(os.path.join(models, name, "1", "model.json"), name, [n, n, n, 10], n)
        bodies[name] = os.path.join(tmp, "%s.json" % name)
        run.write_body(bodies[name], n, "none", run.BODY_SEED)
    failed = False
    on = off = None
    try:
        on = start(binary, models, tmp, "on", ["--lean-max-flops", LEAN_MAX])
        off = start(binary, models, tmp, "off", ["--lean-max-flops", "0"])
        print("batch-1 requests, diagnostics none, model n-n-n-10; lean forced on vs off")
        print("CPU: server CPU us per request, all threads / the busiest thread")
        print("%-6s %9s | %5s | %9s %8s %11s | %9s %8s %11s | %6s" % (
            "n", "mult-adds", "conns", "on req/s", "p50", "CPU", "off req/s", "p50", "CPU",
            "on/off"))
        for n in sizes:
            name = "n%d" % n
            for c in (1, 16):
                pair = [point(srv, name, bodies[name], c, duration) for srv in (on, off)]
                failed |= bad(pair[0]) or bad(pair[1])
                print("%-6d %9d | %5d | %9.0f %8s %5.1f/%5.1f | %9.0f %8s %5.1f/%5.1f | %6.2f" % (
                    n, macs([n, n, n, 10]), c, pair[0]["rps"], run.fmt_us(pair[0]["p50_us"]),
                    pair[0]["cpu_us"], pair[0]["top_us"], pair[1]["rps"],
                    run.fmt_us(pair[1]["p50_us"]), pair[1]["cpu_us"], pair[1]["top_us"],
                    pair[0]["rps"] / pair[1]["rps"]))
    finally:
        for srv in (on, off):
            failed |= srv is not None and srv.stop() != 0
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", help="build directory holding reluserve")
    ap.add_argument("--duration", type=int, default=5, help="seconds per point (default 5)")
    ap.add_argument("--quick", action="store_true", help="1 s per point")
    ap.add_argument("--sweep", action="store_true", help="measure where the threshold belongs")
    ap.add_argument("--sizes", default=",".join(map(str, SWEEP)),
                    help="--sweep: the n of the n-n-n-10 models (default %(default)s)")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    binary = os.path.join(args.build, "reluserve")
    if not os.access(binary, os.X_OK) or not shutil.which("wrk"):
        print("bench/http/lean: needs %s and wrk" % binary, file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="reluserve-lean-")
    try:
        duration = 1 if args.quick else args.duration
        if args.sweep:
            failed = sweep(binary, tmp, duration, [int(n) for n in args.sizes.split(",")])
        else:
            failed = compare(binary, tmp, duration)
    except (RuntimeError, OSError) as e:
        print("bench/http/lean: FAILED: %s (logs in %s)" % (e, tmp), file=sys.stderr)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
