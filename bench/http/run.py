#!/usr/bin/env python3
"""HTTP benchmark of reluserve: throughput and tail latency with wrk.

    bench/http/run.py BUILD_DIR [--duration S] [--quick] [--results FILE]

Writes a model repository into a temporary directory (common.py: a tiny
4-16-16-3 and a medium 784-512-512-10 ReLU classifier, He-normal random
weights from a fixed seed, in the native JSON format of DESIGN.md), then
starts `BUILD_DIR/reluserve serve` on an ephemeral loopback port twice: with
dynamic batching (--max-batch 64) and without (--max-batch 1). Against each it
runs wrk (bench/http/request.lua) for

  - GET /v2/health/live: the HTTP ceiling (libmicrohttpd answering alone),
  - batch-1 inference on the tiny and the medium model, with
    parameters.diagnostics "none" and "summary",

at 1, 16 and 64 connections, and prints req/s, p50 and p99 latency (wrk's
latency histogram) and the ratios of the performance issues, all from this
run. Targets are reported, never asserted: the script exits non-zero only
when something really fails (server does not start or dies, wrk fails, or more
than 1% of responses are errors, or none came back).

Python 3 standard library only; wrk 4 (Debian package `wrk`).
"""
import os
import subprocess
import sys

import common


def main():
    args = common.arguments(__doc__)
    why = common.missing_tools(args, "bench/http")
    if why:
        print(why, file=sys.stderr)
        return 1
    duration = args.duration
    tmp = common.scratch("reluserve-bench-")
    models, bodies = common.write_repo(tmp)
    cases = [("health", None)] + [(m, d) for m, _, _ in common.MODELS for d in common.DIAGNOSTICS]
    results = {}  # (max_batch, case, diag, connections) -> wrk result
    failed = False
    print("reluserve HTTP benchmark: wrk on loopback, %d s per point, %d cores, load average %s"
          % (duration, os.cpu_count() or 0, common.loadavg()))
    for max_batch in (64, 1):
        srv = common.Server(args.binary, models, max_batch,
                            os.path.join(tmp, "server-%d.log" % max_batch))
        print("\n== %s  (batching %s)" % (srv.cmd.replace(tmp, "$TMP"),
                                          "on" if max_batch > 1 else "off"))
        error = None
        try:
            srv.wait_ready()
            for name, _, _ in common.MODELS:
                srv.check_infer(name, bodies[(name, "summary")])
            print("%-24s %5s %10s %10s %10s %8s" % ("endpoint", "conns", "req/s", "p50", "p99",
                                                    "errors"))
            # Connection count outermost: the points a ratio compares run
            # back to back, so drifting load elsewhere skews them least.
            for c in common.CONNECTIONS:
                for model, diag in cases:
                    if model == "health":
                        label, url, body = "GET /v2/health/live", srv.base + "/v2/health/live", None
                    else:
                        label, url = "%s infer (%s)" % (model, diag), srv.url(model)
                        body = bodies[(model, diag)]
                    r = common.run_wrk(url, c, duration, body)
                    results[(max_batch, model, diag, c)] = r
                    failed |= common.bad(r)
                    print("%-24s %5d %10.0f %10s %10s %8d%s" % (
                        label, c, r["rps"], common.fmt_us(r["p50_us"]),
                        common.fmt_us(r["p99_us"]), r["errors"], common.BAD_NOTE * common.bad(r)))
                    srv.check_alive()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            error = e
        failed |= srv.finish("bench/http", error)
        if error is not None:
            break

    def rps(*key):
        r = results.get(key)
        return r["rps"] if r else float("nan")

    if results:
        print("\nratios (same run):")
        for mb, mode in ((64, "on"), (1, "off")):
            for c in common.CONNECTIONS:
                ceiling = rps(mb, "health", None, c)
                print("  tiny infer / health ceiling, %2d conns, batching %-3s: none %.2f, "
                      "summary %.2f" % (c, mode, rps(mb, "tiny", "none", c) / ceiling,
                                         rps(mb, "tiny", "summary", c) / ceiling))
        for diag in common.DIAGNOSTICS:
            print("  medium infer (%s), 64 conns, batching on / off: %.2f"
                  % (diag, rps(64, "medium", diag, 64) / rps(1, "medium", diag, 64)))
        print("  medium infer summary / none, 64 conns, batching on: %.2f"
              % (rps(64, "medium", "summary", 64) / rps(64, "medium", "none", 64)))
        for mb in (64, 1):
            r = results.get((mb, "tiny", "summary", 16))
            if r:
                print("  tiny infer (summary) p99 at 16 conns, max-batch %d: %s"
                      % (mb, common.fmt_us(r["p99_us"])))
        # targets.py's figures: the batching-on server, the server's defaults
        values = {}
        for (mb, model, diag, c), r in results.items():
            if mb == 64:
                key = "run.%s%s.%d" % (model, "." + diag if diag else "", c)
                values[key + ".rps"] = r["rps"]
                values[key + ".p50_us"] = r["p50_us"]
        common.record(args, "run.py", values)
    return common.finish(args, tmp, failed)


if __name__ == "__main__":
    sys.exit(main())
