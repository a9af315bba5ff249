#!/usr/bin/env python3
"""The lean path on and off in one run: tiny p50 and throughput, and the sweep
that picks --lean-max-flops.

    bench/http/lean.py BUILD_DIR [--duration S] [--rounds N] [--busy-poll-us N] [--quick]
                       [--results FILE]
    bench/http/lean.py BUILD_DIR --sweep [--duration S] [--sizes N,N,...]

Default: common.py's tiny model (4-16-16-3) and batch-1 bodies; three servers
run side by side on loopback, all --max-batch 64: one with the default
--lean-max-flops (lean on), one with --lean-max-flops 0 (lean off: every
request through the queue and the pool, the baseline), and one with the
default lean path and --busy-poll-us 0 (block: the HTTP thread sleeps as soon
as it runs out of work, where the other two run the default, auto, which on a
machine with slow wake-ups polls for 100 us after activity: bench/README.md;
--busy-poll-us N gives the third server another setting). For
1 and 16 connections and each of GET /v2/health/live, tiny `none` and tiny
`summary`, wrk runs against the three servers one after the other, so the
points of a triple see the same load on the machine (--rounds N: N such
triples, and the median of each server). Prints req/s, p50 and p99 of each,
the server's CPU per request (all threads, and its busiest thread: the one
that saturates first), on/off and block/on ratios, and the issue's targets
(reported, never asserted); --results records them for targets.py.

--sweep: models of growing compute per row (input n, two hidden layers of n,
10 outputs; by default n = 16 .. 512: about 0.7k .. 530k multiply-adds),
batch-1 `none` requests, lean forced on (--lean-max-flops at its maximum)
against off, at 1 and 16 connections: where the lean path stops paying at 16
connections is where the threshold belongs (bench/README.md).

Exits non-zero only when something really fails (a server does not start or
dies, wrk fails, more than 1% errors).
"""
import os
import sys

import common

LEAN_MAX = str(1 << 40)  # the flag's maximum: everything lean
BUSY_POLL_US = 0  # --busy-poll-us of the third server (bench/README.md#busy-polling)
SWEEP = "16,32,64,128,256,512"
CELL = "%9.0f %8s %8s %5.1f/%5.1f"


def macs(sizes):
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def point(srv, url, body, c, duration):
    """wrk's result plus the server's CPU per request: all threads ("cpu_us")
    and its busiest thread ("top_us", the one that saturates first), read
    from /proc, so they do not depend on wrk sharing the cores."""
    before = common.thread_ticks(srv.proc.pid)
    r = common.run_wrk(url, c, duration, body)
    after = common.thread_ticks(srv.proc.pid)
    used = [ticks - before.get(tid, (None, 0))[1] for tid, (_, ticks) in after.items()]
    us = 1e6 / common.CLK_TCK / max(r["requests"], 1)
    r["cpu_us"] = sum(used) * us
    r["top_us"] = max(used or [0]) * us
    srv.check_alive()
    return r


def cell(r):
    return CELL % (r["rps"], common.fmt_us(r["p50_us"]), common.fmt_us(r["p99_us"]), r["cpu_us"],
                   r["top_us"])


def pair_of_servers(args, tmp, models, on_flags, third=False):
    """The lean server (on_flags) and the baseline (--lean-max-flops 0), ready;
    with third, a third: on_flags and --busy-poll-us (args.busy_poll_us)."""
    servers = []
    kinds = [("on", on_flags), ("off", ["--lean-max-flops", "0"])]
    if third:
        kinds.append(("block", on_flags + ["--busy-poll-us", str(args.busy_poll_us)]))
    try:
        for name, extra in kinds:
            servers.append(common.Server(args.binary, models, 64,
                                         os.path.join(tmp, "server-%s.log" % name), extra))
            servers[-1].wait_ready()
    except RuntimeError:
        for srv in servers:
            srv.stop()
        raise
    return servers


def compare(args, tmp):
    models, bodies = common.write_repo(tmp, names=("tiny",))
    servers = pair_of_servers(args, tmp, models, [], third=True)
    failed, res = False, {}
    try:
        for srv in servers:
            srv.check_infer("tiny", bodies[("tiny", "summary")])
        print("lean on:  %s\nlean off: %s\nblock:    %s"
              % tuple(s.cmd.replace(tmp, "$TMP") for s in servers))
        print("CPU: server CPU us per request, all threads / the busiest thread")
        print("%-22s %5s | %9s %8s %8s %11s | %9s %8s %8s %11s | %9s %8s %8s %11s | %6s %7s" % (
            "endpoint", "conns", "on req/s", "p50", "p99", "CPU", "off req/s", "p50", "p99",
            "CPU", "blk req/s", "p50", "p99", "CPU", "on/off", "blk/on"))
        for c in (1, 16):
            for diag in (None, "none", "summary"):
                runs = ([], [], [])
                for _ in range(args.rounds):  # on, off, block, on, ...: the median of each
                    for i, srv in enumerate(servers):
                        if diag is None:
                            r = point(srv, srv.base + "/v2/health/live", None, c, args.duration)
                        else:
                            r = point(srv, srv.url("tiny"), bodies[("tiny", diag)], c,
                                      args.duration)
                        failed |= common.bad(r)
                        runs[i].append(r)
                pair = [sorted(rs, key=lambda r: r["rps"])[len(rs) // 2] for rs in runs]
                res[(diag, c)] = pair
                label = "GET /v2/health/live" if diag is None else "tiny infer (%s)" % diag
                print("%-22s %5d | %s | %s | %s | %6.2f %7.2f%s" % (
                    label, c, cell(pair[0]), cell(pair[1]), cell(pair[2]),
                    pair[0]["rps"] / pair[1]["rps"], pair[2]["rps"] / pair[0]["rps"],
                    common.BAD_NOTE if any(common.bad(r) for r in pair) else ""))
    except RuntimeError as e:
        print("bench/http/lean: FAILED: %s" % e, file=sys.stderr)
        failed = True
    finally:
        for srv in servers:
            if srv.stop() != 0:
                print("bench/http/lean: a server exited non-zero on SIGTERM", file=sys.stderr)
                failed = True
    if len(res) < 6:
        return failed
    p50 = {(d, i): res[(d, 1)][i]["p50_us"] for d in ("none", "summary") for i in (0, 1, 2)}
    print("tiny p50 at 1 conn, lean on: none %s, summary %s (lean off: %s, %s; health %s)" % (
        common.fmt_us(p50[("none", 0)]), common.fmt_us(p50[("summary", 0)]),
        common.fmt_us(p50[("none", 1)]), common.fmt_us(p50[("summary", 1)]),
        common.fmt_us(res[(None, 1)][0]["p50_us"])))
    print("tiny p50 at 1 conn, --busy-poll-us %s: none %s, summary %s (health %s); "
          "16 conns req/s block / on: health %.2f, none %.2f, summary %.2f" % (
              args.busy_poll_us, common.fmt_us(p50[("none", 2)]), common.fmt_us(p50[("summary", 2)]),
              common.fmt_us(res[(None, 1)][2]["p50_us"]),
              *(res[(d, 16)][2]["rps"] / res[(d, 16)][0]["rps"]
                for d in (None, "none", "summary"))))
    for i, mode in ((0, "on"), (1, "off"), (2, "block")):
        ceiling = res[(None, 16)][i]
        print("tiny / health ceiling at 16 conns, lean %-4s: none %.2f, summary %.2f (req/s); "
              "none %.2f, summary %.2f (busiest thread's CPU per request, health's / tiny's)" % (
                  mode, res[("none", 16)][i]["rps"] / ceiling["rps"],
                  res[("summary", 16)][i]["rps"] / ceiling["rps"],
                  ceiling["top_us"] / res[("none", 16)][i]["top_us"],
                  ceiling["top_us"] / res[("summary", 16)][i]["top_us"]))
    print("targets (issue 9): tiny p50 at 1 conn <= 60 us; tiny summary at 16 conns >= 0.80 "
          "of health")
    values = {}
    for (diag, c), pair in res.items():
        for i, mode in ((0, "on"), (1, "off"), (2, "block")):
            key = "lean.%s.%s.%d." % (mode, diag or "health", c)
            values.update({key + k: pair[i][k]
                           for k in ("rps", "p50_us", "p99_us", "cpu_us", "top_us")})
    common.record(args, "lean.py", values)
    return failed


def sweep(args, tmp):
    sizes = [int(n) for n in args.sizes.split(",")]
    models = os.path.join(tmp, "models")
    bodies = {}
    for n in sizes:
        name = "n%d" % n
        common.write_model(os.path.join(models, name, "1", "model.json"), name, [n, n, n, 10], n)
        bodies[name] = os.path.join(tmp, "%s.json" % name)
        common.write_body(bodies[name], n, "none", common.BODY_SEED)
    servers = pair_of_servers(args, tmp, models, ["--lean-max-flops", LEAN_MAX])
    failed = False
    try:
        print("batch-1 requests, diagnostics none, model n-n-n-10; lean forced on vs off")
        print("CPU: server CPU us per request, all threads / the busiest thread")
        print("%-6s %9s | %5s | %9s %8s %8s %11s | %9s %8s %8s %11s | %6s" % (
            "n", "mult-adds", "conns", "on req/s", "p50", "p99", "CPU", "off req/s", "p50",
            "p99", "CPU", "on/off"))
        for n in sizes:
            name = "n%d" % n
            for c in (1, 16):
                pair = [point(srv, srv.url(name), bodies[name], c, args.duration)
                        for srv in servers]
                failed |= common.bad(pair[0]) or common.bad(pair[1])
                print("%-6d %9d | %5d | %s | %s | %6.2f" % (
                    n, macs([n, n, n, 10]), c, cell(pair[0]), cell(pair[1]),
                    pair[0]["rps"] / pair[1]["rps"]))
    except RuntimeError as e:
        print("bench/http/lean: FAILED: %s" % e, file=sys.stderr)
        failed = True
    finally:
        for srv in servers:
            failed |= srv.stop() != 0
    return failed


def main():
    def extra(ap):
        ap.add_argument("--rounds", type=int, default=1,
                        help="points on and off alternate this many times; the median counts")
        ap.add_argument("--sweep", action="store_true",
                        help="measure where the threshold belongs")
        ap.add_argument("--busy-poll-us", type=int, default=BUSY_POLL_US,
                        help="--busy-poll-us of the third server (default %(default)s)")
        ap.add_argument("--sizes", default=SWEEP,
                        help="--sweep: the n of the n-n-n-10 models (default %(default)s)")
    args = common.arguments(__doc__, extra)
    why = common.missing_tools(args, "bench/http/lean")
    if why:
        print(why, file=sys.stderr)
        return 1
    tmp = common.scratch("reluserve-lean-")
    try:
        failed = (sweep if args.sweep else compare)(args, tmp)
    except (RuntimeError, OSError) as e:
        print("bench/http/lean: FAILED: %s" % e, file=sys.stderr)
        failed = True
    return common.finish(args, tmp, failed)


if __name__ == "__main__":
    sys.exit(main())
