#!/usr/bin/env python3
"""Memory of reluserve at idle and under load, against weights + 30 MB.

    bench/http/memory.py BUILD_DIR [--duration S (3)] [--quick] [--results FILE]

For each of common.py's models alone (tiny 4-16-16-3, medium 784-512-512-10)
it starts `reluserve serve --max-batch 64` (the server's defaults otherwise:
2 compute threads, 1 HTTP thread on 2 cores) with a repository holding only
that model, and reads VmRSS and VmHWM from /proc/<pid>/status:

  - at ready (idle; VmHWM here is the peak of loading the model, then it is
    reset through /proc/<pid>/clear_refs so that the next one is the load's);
  - during 64 connections of wrk, diagnostics "none" then "summary", one
    point each (VmRSS sampled every 20 ms: its largest sample; VmHWM after);
  - at idle 1 s after the load.

Then the medium model again with --threads 8: every compute (pool) thread
keeps a workspace for the largest batch it computed, so the difference,
divided by the 6 extra threads, is what each costs (the figure to scale the
budget by on a machine with many cores).

Issue 9's budget is the weights (bytes of float32 parameters) + 30 MB
(30,000,000 bytes); it prints met / not met for the largest of the idle and
load figures. Reported, never asserted: it exits non-zero only when a server
fails to start, dies, or answers errors.

Python 3 standard library only; wrk 4.
"""
import os
import subprocess
import sys
import time

import common

BUDGET_EXTRA = 30_000_000  # bytes on top of the weights (issue 9)
CONNECTIONS = 64
SAMPLE_S = 0.02
# Then the medium model once more with 8 compute threads: what each costs
MORE_THREADS = ("medium", 8)
DEFAULT_THREADS = 2  # the server's default on this 2-core machine (--threads 0 = cores)


def mb(kib):
    return "%.1f MB" % (kib * 1024 / 1e6)


def size(nbytes):
    return "%.2f MB" % (nbytes / 1e6) if nbytes >= 1e5 else "%.1f kB" % (nbytes / 1e3)


def load_point(srv, name, diag, body, duration):
    """A 64-connection wrk point with VmRSS sampled while it runs; (wrk
    result, largest VmRSS sample in KiB)."""
    wrk = common.start_wrk(srv.url(name), CONNECTIONS, duration, body)
    peak = 0
    while wrk.poll() is None:
        srv.check_alive()
        peak = max(peak, common.status_kib(srv.proc.pid)["VmRSS"])
        time.sleep(SAMPLE_S)
    return common.wrk_result(wrk, duration), peak


def measure(args, tmp, name, threads=None):
    """One server holding `name` alone (--threads `threads`, default the
    server's); returns its figures (KiB) and whether a point failed."""
    models, bodies = common.write_repo(tmp, names=(name,), folder="models-" + name)
    extra = ["--threads", str(threads)] if threads else []
    srv = common.Server(args.binary, models, 64,
                        os.path.join(tmp, "server-%s-%s.log" % (name, threads)), extra)
    fig, failed, error = {}, False, None
    try:
        srv.wait_ready()
        pid = srv.proc.pid
        ready = common.status_kib(pid)
        fig["ready_rss"], fig["load_hwm_startup"] = ready["VmRSS"], ready["VmHWM"]
        reset = common.reset_hwm(pid)
        srv.check_infer(name, bodies[(name, "summary")])
        points = []
        for diag in common.DIAGNOSTICS:
            r, peak = load_point(srv, name, diag, bodies[(name, diag)], args.duration)
            failed |= common.bad(r)
            points.append("%s %.0f req/s%s" % (diag, r["rps"], common.BAD_NOTE * common.bad(r)))
            fig["load_rss"] = max(fig.get("load_rss", 0), peak)
        after_load = common.status_kib(pid)
        fig["load_hwm"] = after_load["VmHWM"] if reset else None
        time.sleep(1.0)
        fig["idle_rss"] = common.status_kib(pid)["VmRSS"]
        srv.check_alive()
        print("  %s: %s" % (srv.cmd.replace(tmp, "$TMP"), "; ".join(points)))
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        error = e
    failed |= srv.finish("bench/http/memory", error)
    return fig, failed


def main():
    args = common.arguments(__doc__, duration=3)
    why = common.missing_tools(args, "bench/http/memory")
    if why:
        print(why, file=sys.stderr)
        return 1
    tmp = common.scratch("reluserve-memory-")
    print("reluserve memory (VmRSS / VmHWM from /proc/<pid>/status), one model per server, "
          "%d connections of wrk for %d s per diagnostics level, load average %s"
          % (CONNECTIONS, args.duration, common.loadavg()))
    rows, values, failed = [], {}, False  # rows: (label, weights, figures, budget, worst)
    runs = [(name, None) for name, _, _ in common.MODELS] + [MORE_THREADS]
    for name, threads in runs:
        fig, bad = measure(args, tmp, name, threads)
        failed |= bad
        if "idle_rss" not in fig:
            continue
        weights = common.weights_bytes(common.SIZES[name])
        budget_kib = (weights + BUDGET_EXTRA) / 1024
        worst = max(fig["ready_rss"], fig["idle_rss"], fig["load_rss"], fig["load_hwm"] or 0)
        label = "%s, --threads %d" % (name, threads) if threads else name
        rows.append((label, weights, fig, budget_kib, worst))
        if not threads:
            values["memory.%s.weights_bytes" % name] = weights
            values["memory.%s.worst_kib" % name] = worst
            values["memory.%s.budget_kib" % name] = budget_kib
    if rows:
        print("%-20s %9s %9s %12s %9s %10s %11s %9s  %s" % (
            "model", "weights", "ready RSS", "load RSS max", "load HWM", "idle after",
            "startup HWM", "budget", "within weights + 30 MB"))
        for label, weights, fig, budget_kib, worst in rows:
            print("%-20s %9s %9s %12s %9s %10s %11s %9s  %s (largest %s)" % (
                label, size(weights), mb(fig["ready_rss"]), mb(fig["load_rss"]),
                mb(fig["load_hwm"]) if fig["load_hwm"] else "-", mb(fig["idle_rss"]),
                mb(fig["load_hwm_startup"]), mb(budget_kib),
                "met" if worst <= budget_kib else "NOT MET", mb(worst)))
        print("(startup HWM: the peak while the model loaded, before ready; not in the budget)")
        worst = {label: w for label, _, _, _, w in rows}
        more = "%s, --threads %d" % MORE_THREADS
        if MORE_THREADS[0] in worst and more in worst:
            print("each compute thread beyond %d (its workspace for up to --max-batch rows): "
                  "%+.2f MB with the %s model" % (
                      DEFAULT_THREADS, (worst[more] - worst[MORE_THREADS[0]]) * 1024 / 1e6
                      / (MORE_THREADS[1] - DEFAULT_THREADS), MORE_THREADS[0]))
        common.record(args, "memory.py", values)
    return common.finish(args, tmp, failed)


if __name__ == "__main__":
    sys.exit(main())
