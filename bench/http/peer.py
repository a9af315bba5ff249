#!/usr/bin/env python3
"""Side by side: reluserve against a Node.js + onnxruntime-node peer, in one run.

    bench/http/peer.py BUILD_DIR [--duration S] [--quick] [--peer-src DIR] [--results FILE]

The peer (issue 9) is a small Node.js cluster (one worker per core) answering
the v2 JSON infer request with onnxruntime-node, outputs only. Its sources live
outside the repository (../shared/peer next to the main checkout, or
--peer-src / RELUSERVE_PEER_SRC); they are copied into BUILD_DIR/peer and
installed there with `ONNXRUNTIME_NODE_INSTALL=skip npm install` (the package's
postinstall would fetch CUDA binaries from NuGet, which the peer does not use
and which is unreachable here; the CPU runtime ships in the npm package).
The tiny and medium models of bench/http/common.py (the ones run.py serves)
are exported to ONNX (bench/http/export_onnx.py, /usr/bin/python3 with
torch) into BUILD_DIR/peer/models.

Then reluserve (--max-batch 64, as run.py's batching-on server) and the peer
serve the same models, and wrk sends both the same bytes (run.py's batch-1
bodies with parameters.diagnostics "none", which the peer ignores) at 1, 16
and 64 connections, back to back per point, plus each one's empty GET (the
HTTP ceiling: /v2/health/live and the peer's GET). One answer of each is
checked against the other first (same model: outputs within 1e-5).

Per point: req/s, p50, p99 (wrk) and the server's CPU per request: utime +
stime of all the server's processes (reluserve's one; the peer's primary and
every worker) from /proc/<pid>/stat before and after the point, divided by the
requests wrk counted, so wrk's own CPU on the same cores is not in it. Then
the ratios issue 9's targets use (targets.py prints them against the targets
from the --results file). Reported, never asserted.

When the peer cannot run here (no node/npm, no sources, npm install fails, no
torch for the export, the runtime does not load), it prints one line
"peer: skipped (<reason>)" and exits 0. It exits non-zero only when a run
really fails: a server that dies or answers errors, or outputs that disagree.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import common

TORCH_PYTHON = "/usr/bin/python3"  # Debian's interpreter has python3-torch
PEER_FILES = ("server.js", "package.json", "package-lock.json", "README.md")


class Skip(Exception):
    """The peer cannot run on this machine; the message says why."""


def peer_sources(explicit):
    """The peer's source directory: --peer-src, RELUSERVE_PEER_SRC, or ../shared/peer
    beside the repository or beside its main checkout (from a git worktree)."""
    if explicit:
        return [explicit]
    env = os.environ.get("RELUSERVE_PEER_SRC")
    if env:
        return [env]
    roots = [common.REPO]
    try:
        git = subprocess.run(["git", "-C", common.REPO, "rev-parse", "--path-format=absolute",
                              "--git-common-dir"], capture_output=True, text=True, timeout=10)
        if git.returncode == 0:
            roots.append(os.path.dirname(git.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        pass
    return [os.path.normpath(os.path.join(r, "..", "shared", "peer")) for r in roots]


def install_peer(candidates, dest):
    """Copies the peer into dest and installs its dependencies once per
    package.json + package-lock.json; returns a description of the install."""
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise Skip("%s not found on PATH (the peer is a Node.js server)" % tool)
    src = next((c for c in candidates if os.path.isfile(os.path.join(c, "server.js"))), None)
    if src is None and not os.path.isfile(os.path.join(dest, "server.js")):
        raise Skip("no peer sources (no server.js in %s; set RELUSERVE_PEER_SRC)"
                   % ", ".join(candidates))
    os.makedirs(dest, exist_ok=True)
    if src is not None:
        for name in PEER_FILES:
            if os.path.isfile(os.path.join(src, name)):
                shutil.copyfile(os.path.join(src, name), os.path.join(dest, name))
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        if os.path.isfile(os.path.join(dest, name)):
            with open(os.path.join(dest, name), "rb") as f:
                digest.update(f.read())
    stamp = os.path.join(dest, "node_modules", ".reluserve-installed")
    installed = None
    if os.path.isfile(stamp):
        with open(stamp) as f:
            installed = f.read().strip()
    if installed != digest.hexdigest():
        env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
        log = os.path.join(dest, "npm-install.log")
        try:
            with open(log, "w") as out:
                r = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=dest,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600)
        except subprocess.TimeoutExpired:
            raise Skip("npm install did not finish in 600 s (log: %s)" % log)
        if r.returncode != 0:
            raise Skip("npm install failed with exit %d: %s (log: %s)"
                       % (r.returncode, last_line(log), log))
        with open(stamp, "w") as f:
            f.write(digest.hexdigest() + "\n")
    probe = subprocess.run(["node", "-e", "require('onnxruntime-node');"
                            "console.log(require('onnxruntime-node/package.json').version)"],
                           cwd=dest, capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        lines = (probe.stderr.strip() or "no output").splitlines()
        raise Skip("onnxruntime-node does not load: %s" % next(
            (l for l in lines if "Error" in l), lines[-1]).strip())
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
    origin = src or dest + " (sources not found: as installed before)"
    return "onnxruntime-node %s, node %s, from %s" % (probe.stdout.strip(), node.stdout.strip(),
                                                     origin)


def last_line(path):
    with open(path, errors="replace") as f:
        lines = [l.strip() for l in f if l.strip()]
    return lines[-1] if lines else "no output"


def export_models(models, out_dir):
    """The benchmark models as ONNX, into out_dir/<name>.onnx."""
    if not os.access(TORCH_PYTHON, os.X_OK):
        raise Skip("%s not found (the ONNX export needs python3-torch)" % TORCH_PYTHON)
    os.makedirs(out_dir, exist_ok=True)
    args = []
    for name, _, _ in common.MODELS:
        args += [os.path.join(models, name, "1", "model.json"),
                 os.path.join(out_dir, name + ".onnx")]
    r = subprocess.run([TORCH_PYTHON, os.path.join(common.HERE, "export_onnx.py")] + args,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        lines = (r.stderr.strip() or "no output").splitlines()
        raise Skip("ONNX export with %s failed: %s" % (TORCH_PYTHON, lines[-1]))
    return {name: os.path.join(out_dir, name + ".onnx") for name, _, _ in common.MODELS}


class Peer:
    """`node server.js MODEL.onnx PORT` in its own process group: a primary
    that forks `workers` cluster workers."""

    def __init__(self, directory, onnx, workers, log_path):
        self.port = common.free_port()
        self.workers = workers
        self.log = open(log_path, "w")
        cmd = ["node", os.path.join(directory, "server.js"), onnx, str(self.port)]
        self.cmd = "WORKERS=%d %s" % (workers, " ".join(cmd))
        self.proc = subprocess.Popen(cmd, cwd=directory, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env=dict(os.environ, WORKERS=str(workers)))
        self.base = "http://127.0.0.1:%d" % self.port
        self.pids = [self.proc.pid]

    def wait_ready(self, timeout=60.0):
        """Up when a GET answers and every worker exists. A worker answers
        once its session is created; the warm-up that follows lets the last
        ones catch up before anything is measured."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("peer exited with %d during startup: %s"
                                   % (self.proc.returncode, last_line(self.log.name)))
            kids = common.children(self.proc.pid)
            try:
                with urllib.request.urlopen(self.base + "/", timeout=1) as r:
                    if r.status == 200 and len(kids) == self.workers:
                        self.pids = [self.proc.pid] + kids
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("peer not ready after %.0f s: %s" % (timeout, last_line(self.log.name)))

    def alive(self):
        return self.proc.poll() is None and all(os.path.exists("/proc/%d" % p) for p in self.pids)

    def running(self):
        return any(os.path.exists("/proc/%d" % p) and not common.zombie(p) for p in self.pids)

    def stop(self):
        """SIGTERM to the group (primary and workers), SIGKILL after 10 s."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 10.0
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
                self.proc.poll()  # reaps the primary, so it stops showing as a zombie
            if not self.running():
                break
        self.proc.wait()
        self.log.close()


def measure(url, pids, connections, duration, body):
    """One wrk point with the server's CPU per request around it."""
    before = common.cpu_ticks(pids)
    r = common.run_wrk(url, connections, duration, body)
    used_us = (common.cpu_ticks(pids) - before) * 1e6 / common.CLK_TCK
    r["cpu_us"] = used_us / r["requests"] if r["requests"] else float("nan")
    return r


def main():
    args = common.arguments(__doc__, lambda ap: ap.add_argument(
        "--peer-src", help="the peer's sources (default: ../shared/peer, see above)"))
    why = common.missing_tools(args, "bench/http/peer")
    if why:
        print(why, file=sys.stderr)
        return 1
    duration = args.duration
    peer_dir = os.path.abspath(os.path.join(args.build, "peer"))
    tmp = common.scratch("reluserve-peer-")
    models, bodies = common.write_repo(tmp)
    try:
        about = install_peer(peer_sources(args.peer_src), peer_dir)
        onnx = export_models(models, os.path.join(peer_dir, "models"))
    except (Skip, OSError, subprocess.SubprocessError) as e:
        print("\npeer: skipped (%s)" % e)
        shutil.rmtree(tmp, ignore_errors=True)
        return 0

    workers = len(os.sched_getaffinity(0))
    print("\nreluserve vs Node.js + onnxruntime-node peer: same models, same bodies "
          "(diagnostics none / outputs only), wrk on loopback, %d s per point, load average %s"
          % (duration, common.loadavg()))
    print("peer: %s, %d workers (one per core) + primary" % (about, workers))
    srv = common.Server(args.binary, models, 64, os.path.join(tmp, "reluserve.log"))
    print("reluserve: %s" % srv.cmd.replace(tmp, "$TMP"))
    results = {}  # (server, case, connections) -> wrk result + cpu_us
    failed = False
    peer = None
    try:
        srv.wait_ready()
        rs_pids = [srv.proc.pid]
        print("%-22s %5s  %-9s %9s %9s %9s %10s %7s" % ("endpoint", "conns", "server", "req/s",
                                                      "p50", "p99", "cpu us/req", "errors"))
        # One peer per model (it serves one): tiny with the GET ceiling, then medium.
        for name, _, _ in common.MODELS:
            body = bodies[(name, "none")]
            peer = Peer(peer_dir, onnx[name], workers, os.path.join(tmp, "peer-%s.log" % name))
            peer.wait_ready()
            mine = srv.check_infer(name, body)["outputs"][0]
            theirs = common.post(peer.base + "/", body)["outputs"][0]
            diff = max(abs(a - b) for a, b in zip(mine["data"], theirs["data"]))
            if mine["shape"] != theirs["shape"] or diff > 1e-5:
                raise RuntimeError("%s: reluserve and the peer disagree (shape %s vs %s, max "
                                   "|diff| %g): not the same model" % (name, mine["shape"],
                                                                     theirs["shape"], diff))
            print("-- %s: %s; outputs agree, max |reluserve - peer| = %.1e"
                  % (name, peer.cmd.replace(os.path.abspath(common.REPO) + os.sep, ""), diff))
            infer = {"reluserve": srv.url(name), "peer": peer.base + "/"}
            pids = {"reluserve": rs_pids, "peer": peer.pids}
            for url in infer.values():  # warm-up: JIT, caches, every worker
                common.run_wrk(url, 16, 1, body)
            # (label, case, body, url per server); the GET ceiling once, with the first model
            rows = [("%s infer (none)" % name, name, body, infer)]
            if name == common.MODELS[0][0]:
                ceiling = {"reluserve": srv.base + "/v2/health/live", "peer": peer.base + "/"}
                rows.insert(0, ("GET (HTTP ceiling)", "health", None, ceiling))
            for c in common.CONNECTIONS:
                for label, case, point_body, urls in rows:
                    for who, url in urls.items():
                        r = measure(url, pids[who], c, duration, point_body)
                        results[(who, case, c)] = r
                        failed |= common.bad(r)
                        print("%-22s %5d  %-9s %9.0f %9s %9s %10.1f %7d%s" % (
                            label if who == "reluserve" else "", c, who, r["rps"],
                            common.fmt_us(r["p50_us"]), common.fmt_us(r["p99_us"]), r["cpu_us"],
                            r["errors"], common.BAD_NOTE * common.bad(r)))
                    srv.check_alive()
                    if not peer.alive():
                        raise RuntimeError("a peer process died: %s" % last_line(peer.log.name))
            peer.stop()
            peer = None
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        print("bench/http/peer: FAILED: %s (logs in %s)" % (e, tmp), file=sys.stderr)
        failed = True
    finally:
        if peer is not None:
            peer.stop()
        rc = srv.stop()
    if rc != 0:
        print("bench/http/peer: reluserve exited with %s on SIGTERM" % rc, file=sys.stderr)
        failed = True

    def ratio(field, case, c):
        a, b = results.get(("reluserve", case, c)), results.get(("peer", case, c))
        return a[field] / b[field] if a and b and b[field] else float("nan")

    if results:
        print("\nreluserve / peer (same run):")
        for name, _, _ in common.MODELS:
            print("  %-6s none: throughput %s; CPU per request %s" % (
                name, ", ".join("%.2fx at %d" % (ratio("rps", name, c), c)
                                for c in common.CONNECTIONS),
                ", ".join("%.2f at %d" % (ratio("cpu_us", name, c), c)
                          for c in common.CONNECTIONS)))
        r, p = results.get(("reluserve", "tiny", 1)), results.get(("peer", "tiny", 1))
        if r and p:
            print("  tiny none p50 at 1 conn: reluserve %s, peer %s"
                  % (common.fmt_us(r["p50_us"]), common.fmt_us(p["p50_us"])))
        values = {}
        for (who, case, c), r in results.items():
            for field in ("rps", "cpu_us", "p50_us"):
                values["peer.%s.%s.%d.%s" % (who, case, c, field)] = r[field]
        common.record(args, "peer.py", values)
    return common.finish(args, tmp, failed)


if __name__ == "__main__":
    sys.exit(main())
