#!/usr/bin/env python3
"""Issue 9's targets against what this `make bench` run measured.

    bench/http/targets.py RESULTS_FILE

RESULTS_FILE holds one JSON line per benchmark script that ran with
--results (scripts/run-bench passes BUILD/bench-results.jsonl, emptied at its
start): {"source": "run.py", "values": {"run.tiny.none.1.p50_us": ...}}.
Prints one table: each target, the figure measured, met or not met; "not
measured" when a script did not run (or skipped, like peer.py without Node.js).
A report: it exits 0 whatever the figures are.
"""
import json
import sys


def ratio(target, num, den, fmt, goal, met):
    """A target on one measured figure divided by another."""
    return (target, lambda v: (fmt, v[num] / v[den]), goal, met)


def memory(model):
    """memory.py's largest RSS for `model` against its budget (weights + 30 MB)."""
    return ("memory, %s: largest RSS idle or under load (memory.py)" % model,
            lambda v: ("%.1f MB", v["memory.%s.worst_kib" % model] * 1024 / 1e6,
                       v["memory.%s.budget_kib" % model] * 1024 / 1e6),
            "<= weights + 30 MB", lambda x, budget: x <= budget)


GOALS = (
    # (target, how to compute it from the values, goal text, met(value))
    ratio("tiny summary, 16 conns / GET /v2/health/live (run.py)",
          "run.tiny.summary.16.rps", "run.health.16.rps", "%.2f", ">= 0.8", lambda x: x >= 0.8),
    ("tiny p50 at 1 conn, none / summary (run.py)",
     lambda v: ("%.0f / %.0f us", v["run.tiny.none.1.p50_us"], v["run.tiny.summary.1.p50_us"]),
     "<= 60 us", lambda a, b: max(a, b) <= 60),
    ("tiny p50 at 1 conn, none / summary, lean on (lean.py; off)",
     lambda v: ("%.0f / %.0f us (%.0f / %.0f)", v["lean.on.none.1.p50_us"],
                v["lean.on.summary.1.p50_us"], v["lean.off.none.1.p50_us"],
                v["lean.off.summary.1.p50_us"]),
     "<= 60 us", lambda a, b, off_a, off_b: max(a, b) <= 60),
    ratio("tiny summary, 16 conns / GET /v2/health/live, lean on (lean.py)",
          "lean.on.summary.16.rps", "lean.on.health.16.rps", "%.2f", ">= 0.8", lambda x: x >= 0.8),
    ratio("tiny none, 16 conns: throughput / peer's (peer.py)",
          "peer.reluserve.tiny.16.rps", "peer.peer.tiny.16.rps", "%.2fx", ">= 2.5x",
          lambda x: x >= 2.5),
    ratio("tiny none, 16 conns: CPU per request / peer's (peer.py)",
          "peer.reluserve.tiny.16.cpu_us", "peer.peer.tiny.16.cpu_us", "%.2f", "<= 1/3.5 = 0.29",
          lambda x: x <= 1 / 3.5),
    ratio("medium none, 64 conns: throughput / peer's (peer.py)",
          "peer.reluserve.medium.64.rps", "peer.peer.medium.64.rps", "%.2fx", ">= 3x",
          lambda x: x >= 3),
    ratio("medium summary / medium none, 64 conns (run.py)",
          "run.medium.summary.64.rps", "run.medium.none.64.rps", "%.2f", ">= 0.5",
          lambda x: x >= 0.5),
    memory("tiny"),
    memory("medium"),
)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    values, sources = {}, []
    try:
        with open(sys.argv[1]) as f:
            for line in f:
                if line.strip():
                    doc = json.loads(line)
                    sources.append(doc["source"])
                    values.update(doc["values"])
    except (OSError, ValueError, KeyError) as e:
        print("targets: no results (%s)" % e)
        return 0
    print("issue 9's targets, this run (from %s):" % (", ".join(sources) or "no script"))
    print("%-59s %-18s %-18s %s" % ("target", "measured", "goal", ""))
    met = unmeasured = 0
    for name, compute, goal, ok in GOALS:
        try:
            fmt, *figures = compute(values)
        except (KeyError, ZeroDivisionError):
            print("%-59s %-18s %-18s %s" % (name, "-", goal, "not measured"))
            unmeasured += 1
            continue
        shown = fmt % tuple(figures[:fmt.count("%")])
        if goal.startswith("<= weights"):
            goal = "<= %.1f MB" % figures[1]
        good = ok(*figures)
        met += good
        print("%-59s %-18s %-18s %s" % (name, shown, goal, "met" if good else "NOT MET"))
    print("%d of %d met, %d not met, %d not measured (a report: make bench does not fail on a "
          "target)" % (met, len(GOALS), len(GOALS) - met - unmeasured, unmeasured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
