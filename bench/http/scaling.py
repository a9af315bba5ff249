#!/usr/bin/env python3
"""Scaling: 1 vs 2 cores, 1 vs 2 HTTP threads, 1 vs 2 compute threads.

    bench/http/scaling.py BUILD_DIR [--duration S (2)] [--quick] [--results FILE]

For every combination of

  - the server pinned (taskset) to 1 core (cpu 0; wrk pinned to cpu 1, so
    the server has its core to itself) or to 2 cores (cpus 0-1; wrk on the
    same 2 cores: the machine has no third),
  - --http-threads 1 or 2 (libmicrohttpd's polling threads),
  - --threads 1 or 2 (libuv pool threads: the compute),

it starts `reluserve serve --max-batch 64` with common.py's tiny and medium
models and runs wrk with 64 connections for batch-1 inference, diagnostics
"none" and "summary", one point each. Per point: req/s, the server's CPU per
request (utime + stime of the process from /proc/<pid>/stat, divided by the
requests) and each thread's share of one core over the point from
/proc/<pid>/task/<tid>/stat: the libuv loop thread (the main thread), the
HTTP polling threads (named rs-http-*) and the pool threads (the threads that
appear at the first request; libuv starts its whole pool then). A thread near
100% is saturated: it bounds the throughput of that configuration.

Reported, never asserted; exits non-zero only when a server fails to start,
dies or answers errors. Python 3 standard library only; wrk 4; taskset.
"""
import os
import subprocess
import sys
import time

import common

CONNECTIONS = 64
# (server cpus, wrk cpus): 1 core with wrk beside it, 2 cores shared with wrk
PLACEMENTS = (("0", "1"), ("0-1", "0-1"))
THREADS = (1, 2)


def cores(cpus):
    return 1 if cpus.isdigit() else 2


def threads_of(srv, known):
    """{role: [tid]} of the server: loop (the main thread), http (rs-http-*),
    pool (the threads not in `known`, the tids present at ready), other."""
    roles = {"loop": [], "http": [], "pool": [], "other": []}
    for tid, (name, _) in sorted(common.thread_ticks(srv.proc.pid).items()):
        if tid == srv.proc.pid:
            roles["loop"].append(tid)
        elif name.startswith("rs-http-"):
            roles["http"].append(tid)
        elif tid not in known:
            roles["pool"].append(tid)
        else:
            roles["other"].append(tid)  # e.g. OpenBLAS's idle server thread
    return roles


def point(srv, roles, url, body, duration, wrk_cpus):
    """One wrk point; the result gets cpu_us (per request) and busy
    {role: [% of one core per thread]}."""
    pid = srv.proc.pid
    before, t0 = common.thread_ticks(pid), time.monotonic()
    proc_before = common.cpu_ticks([pid])
    r = common.run_wrk(url, CONNECTIONS, duration, body, cpus=wrk_cpus)
    after, wall = common.thread_ticks(pid), time.monotonic() - t0
    used = (common.cpu_ticks([pid]) - proc_before) / common.CLK_TCK
    r["cpu_us"] = used * 1e6 / r["requests"] if r["requests"] else float("nan")
    r["cores_used"] = used / wall
    r["busy"] = {role: [100.0 * (after.get(t, ("", 0))[1] - before.get(t, ("", 0))[1])
                        / common.CLK_TCK / wall for t in tids] for role, tids in roles.items()}
    return r


def fmt_role(r, role):
    """A role's CPU per request (all its threads) and each thread's % of a core."""
    busy = r["busy"][role]
    if not busy or not r["rps"]:
        return "-"
    us = sum(busy) / 100.0 / r["rps"] * 1e6
    return "%.1f us %s%%" % (us, "+".join("%.0f" % v for v in busy))


def main():
    args = common.arguments(__doc__, duration=2)
    why = common.missing_tools(args, "bench/http/scaling", tools=("wrk", "taskset"))
    if why:
        print(why, file=sys.stderr)
        return 1
    if len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        print("\nscaling: skipped (needs cpus 0 and 1)")
        return 0
    tmp = common.scratch("reluserve-scaling-")
    models, bodies = common.write_repo(tmp)
    cases = [(m, d) for m, _, _ in common.MODELS for d in common.DIAGNOSTICS]
    print("reluserve scaling: %d connections of wrk, %d s per point, --max-batch 64, load "
          "average %s\ncpu us: the server's CPU per request; cores: its CPU time / wall time; "
          "loop, http (rs-http-* threads), pool: CPU per request of those threads and each one's "
          "share of a core" % (CONNECTIONS, args.duration, common.loadavg()))
    print("%-5s %-4s %-4s %-4s %-15s %7s %7s %5s %-12s %-17s %-17s" % (
        "cores", "wrk", "http", "pool", "case", "req/s", "cpu us", "cores", "loop", "http",
        "pool"))
    results, failed = {}, False
    for cpus, wrk_cpus in PLACEMENTS:
        for http in THREADS:
            for pool in THREADS:
                srv = common.Server(args.binary, models, 64,
                                    os.path.join(tmp, "server-%s-%d-%d.log" % (cpus, http, pool)),
                                    ["--http-threads", str(http), "--threads", str(pool)], cpus)
                error = None
                try:
                    srv.wait_ready()
                    known = set(common.thread_ticks(srv.proc.pid))
                    for name, _, _ in common.MODELS:  # starts the pool, checks the answers
                        srv.check_infer(name, bodies[(name, "summary")])
                    roles = threads_of(srv, known)
                    for model, diag in cases:
                        r = point(srv, roles, srv.url(model), bodies[(model, diag)],
                                  args.duration, wrk_cpus)
                        results[(cores(cpus), http, pool, model, diag)] = r
                        failed |= common.bad(r)
                        print("%-5d %-4s %-4d %-4d %-15s %7.0f %7.1f %5.2f %-12s %-17s %-17s%s" % (
                            cores(cpus), wrk_cpus, http, pool, "%s %s" % (model, diag), r["rps"],
                            r["cpu_us"], r["cores_used"], fmt_role(r, "loop"),
                            fmt_role(r, "http"), fmt_role(r, "pool"),
                            common.BAD_NOTE * common.bad(r)))
                        srv.check_alive()
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    error = e
                failed |= srv.finish("bench/http/scaling", error)
                if failed:
                    return common.finish(args, tmp, failed)

    print("\nper case: the best configuration on 1 and on 2 cores, and 2 cores / 1 core:")
    values = {}
    for model, diag in cases:
        best = {}
        for n in (1, 2):
            got = [(r["rps"], http, pool) for (c, http, pool, m, d), r in results.items()
                   if c == n and (m, d) == (model, diag)]
            best[n] = max(got)
        print("  %-16s 1 core: %6.0f req/s (http %d, pool %d); 2 cores: %6.0f req/s "
              "(http %d, pool %d); 2 / 1: %.2f" % (
                  "%s %s" % (model, diag), best[1][0], best[1][1], best[1][2], best[2][0],
                  best[2][1], best[2][2], best[2][0] / best[1][0]))
        values["scaling.%s.%s.1core.rps" % (model, diag)] = best[1][0]
        values["scaling.%s.%s.2core.rps" % (model, diag)] = best[2][0]
    common.record(args, "scaling.py", values)
    return common.finish(args, tmp, failed)


if __name__ == "__main__":
    sys.exit(main())
