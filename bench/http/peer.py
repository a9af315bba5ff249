#!/usr/bin/env python3
"""Side by side: reluserve against a Node.js + onnxruntime-node peer, in one run.

    bench/http/peer.py BUILD_DIR [--duration S] [--quick] [--peer-src DIR]

The peer (issue 9) is a small Node.js cluster (one worker per core) answering
the v2 JSON infer request with onnxruntime-node, outputs only. Its sources live
outside the repository (../shared/peer next to the main checkout, or
--peer-src / RELUSERVE_PEER_SRC); they are copied into BUILD_DIR/peer and
installed there with `ONNXRUNTIME_NODE_INSTALL=skip npm install` (the package's
postinstall would fetch CUDA binaries from NuGet, which the peer does not use
and which is unreachable here; the CPU runtime ships in the npm package).
bench/http/run.py's tiny and medium models, written the same way, are exported
to ONNX (bench/http/export_onnx.py, /usr/bin/python3 with torch) into
BUILD_DIR/peer/models.

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
the ratios issue 9's targets use. Reported, never asserted.

When the peer cannot run here (no node/npm, no sources, npm install fails, no
torch for the export, the runtime does not load), it prints one line
"peer: skipped (<reason>)" and exits 0. It exits non-zero only when a run
really fails: a server that dies or answers errors, or outputs that disagree.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import run  # noqa: E402  (run.py's models, bodies, server and wrk driver)

TORCH_PYTHON = "/usr/bin/python3"  # Debian's interpreter has python3-torch
CONNECTIONS = (1, 16, 64)
PEER_FILES = ("server.js", "package.json", "package-lock.json", "README.md")
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
    roots = [REPO]
    try:
        common = subprocess.run(["git", "-C", REPO, "rev-parse", "--path-format=absolute",
                                 "--git-common-dir"], capture_output=True, text=True, timeout=10)
        if common.returncode == 0:
            roots.append(os.path.dirname(common.stdout.strip()))
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
    """run.py's models as ONNX, into out_dir/<name>.onnx."""
    if not os.access(TORCH_PYTHON, os.X_OK):
        raise Skip("%s not found (the ONNX export needs python3-torch)" % TORCH_PYTHON)
    os.makedirs(out_dir, exist_ok=True)
    args = []
    for name, _, _ in run.MODELS:
        args += [os.path.join(models, name, "1", "model.json"),
                 os.path.join(out_dir, name + ".onnx")]
    r = subprocess.run([TORCH_PYTHON, os.path.join(HERE, "export_onnx.py")] + args,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        lines = (r.stderr.strip() or "no output").splitlines()
        raise Skip("ONNX export with %s failed: %s" % (TORCH_PYTHON, lines[-1]))
    return {name: os.path.join(out_dir, name + ".onnx") for name, _, _ in run.MODELS}


def cpu_ticks(pids):
    """utime + stime, in clock ticks, summed over pids (all threads of each)."""
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return total


def children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass  # exited while we looked
    return kids


class Peer:
    """`node server.js MODEL.onnx PORT` in its own process group: a primary
    that forks `workers` cluster workers."""

    def __init__(self, directory, onnx, workers, log_path):
        self.port = run.free_port()
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
            kids = children(self.proc.pid)
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
        return any(os.path.exists("/proc/%d" % p) and not zombie(p) for p in self.pids)

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


def zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def post(url, body_path):
    with open(body_path, "rb") as f:
        req = urllib.request.Request(url, data=f.read(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def measure(url, pids, connections, duration, body):
    """One wrk point with the server's CPU per request around it."""
    before = cpu_ticks(pids)
    r = run.run_wrk(url, connections, duration, body)
    used_us = (cpu_ticks(pids) - before) * 1e6 / CLK_TCK
    r["cpu_us"] = used_us / r["requests"] if r["requests"] else float("nan")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", help="build directory holding reluserve; the peer goes in BUILD/peer")
    ap.add_argument("--duration", type=int, default=5, help="seconds per point (default 5)")
    ap.add_argument("--quick", action="store_true", help="1 s per point")
    ap.add_argument("--peer-src", help="the peer's sources (default: ../shared/peer, see above)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    duration = 1 if args.quick else args.duration
    binary = os.path.join(args.build, "reluserve")
    if not os.access(binary, os.X_OK):
        print("bench/http/peer: %s not found" % binary, file=sys.stderr)
        return 1
    if not shutil.which("wrk"):
        print("bench/http/peer: wrk not installed (apt-get install wrk)", file=sys.stderr)
        return 1

    peer_dir = os.path.abspath(os.path.join(args.build, "peer"))
    tmp = tempfile.mkdtemp(prefix="reluserve-peer-")
    models = os.path.join(tmp, "models")
    for name, sizes, seed in run.MODELS:
        run.write_model(os.path.join(models, name, "1", "model.json"), name, sizes, seed)
    bodies = {}
    for name, sizes, _ in run.MODELS:
        bodies[name] = os.path.join(tmp, "%s-none.json" % name)
        run.write_body(bodies[name], sizes[0], "none", run.BODY_SEED)
    try:
        about = install_peer(peer_sources(args.peer_src), peer_dir)
        onnx = export_models(models, os.path.join(peer_dir, "models"))
    except (Skip, OSError, subprocess.SubprocessError) as e:
        print("\npeer: skipped (%s)" % e)
        shutil.rmtree(tmp, ignore_errors=True)
        return 0

    workers = len(os.sched_getaffinity(0))
    print("\nreluserve vs Node.js + onnxruntime-node peer: same models, same bodies "
          "(diagnostics none / outputs only), wrk on loopback, %d s per point" % duration)
    print("peer: %s, %d workers (one per core) + primary" % (about, workers))
    srv = run.Server(binary, models, 64, os.path.join(tmp, "reluserve.log"))
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
        for name, _, _ in run.MODELS:
            peer = Peer(peer_dir, onnx[name], workers, os.path.join(tmp, "peer-%s.log" % name))
            peer.wait_ready()
            mine = post(srv.base + "/v2/models/%s/infer" % name, bodies[name])["outputs"][0]
            theirs = post(peer.base + "/", bodies[name])["outputs"][0]
            diff = max(abs(a - b) for a, b in zip(mine["data"], theirs["data"]))
            if mine["shape"] != theirs["shape"] or diff > 1e-5:
                raise RuntimeError("%s: reluserve and the peer disagree (shape %s vs %s, max "
                                   "|diff| %g): not the same model" % (name, mine["shape"],
                                                                     theirs["shape"], diff))
            print("-- %s: %s; outputs agree, max |reluserve - peer| = %.1e"
                  % (name, peer.cmd.replace(os.path.abspath(REPO) + os.sep, ""), diff))
            infer = {"reluserve": srv.base + "/v2/models/%s/infer" % name, "peer": peer.base + "/"}
            pids = {"reluserve": rs_pids, "peer": peer.pids}
            for url in infer.values():  # warm-up: JIT, caches, every worker
                run.run_wrk(url, 16, 1, bodies[name])
            # (label, case, body, url per server); the GET ceiling once, with the first model
            rows = [("%s infer (none)" % name, name, bodies[name], infer)]
            if name == run.MODELS[0][0]:
                ceiling = {"reluserve": srv.base + "/v2/health/live", "peer": peer.base + "/"}
                rows.insert(0, ("GET (HTTP ceiling)", "health", None, ceiling))
            for c in CONNECTIONS:
                for label, case, body, urls in rows:
                    for who, url in urls.items():
                        r = measure(url, pids[who], c, duration, body)
                        results[(who, case, c)] = r
                        bad = r["requests"] == 0 or r["errors"] > run.ERROR_LIMIT * r["requests"]
                        failed |= bad
                        print("%-22s %5d  %-9s %9.0f %9s %9s %10.1f %7d%s" % (
                            label if who == "reluserve" else "", c, who, r["rps"],
                            run.fmt_us(r["p50_us"]), run.fmt_us(r["p99_us"]), r["cpu_us"],
                            r["errors"], "  <- failed: no answers or too many errors" * bad))
                    if srv.proc.poll() is not None:
                        raise RuntimeError("reluserve died (exit %d)" % srv.proc.returncode)
                    if not peer.alive():
                        raise RuntimeError("a peer process died: %s" % last_line(peer.log.name))
            peer.stop()
            peer = None
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        print("bench/http/peer: FAILED: %s (logs in %s)" % (e, tmp), file=sys.stderr)
        args.keep = True
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
        for name, _, _ in run.MODELS:
            print("  %-6s none: throughput %s; CPU per request %s" % (
                name, ", ".join("%.2fx at %d" % (ratio("rps", name, c), c) for c in CONNECTIONS),
                ", ".join("%.2f at %d" % (ratio("cpu_us", name, c), c) for c in CONNECTIONS)))
        print("  tiny none, 16 conns: throughput %.2fx (target >= 2.5), CPU per request %.2f "
              "(target <= 1/3.5 = 0.29)" % (ratio("rps", "tiny", 16), ratio("cpu_us", "tiny", 16)))
        print("  medium none, 64 conns: throughput %.2fx (target >= 3)"
              % ratio("rps", "medium", 64))
        r, p = results.get(("reluserve", "tiny", 1)), results.get(("peer", "tiny", 1))
        if r and p:
            print("  tiny none p50 at 1 conn: reluserve %s, peer %s (target: reluserve <= 60 us)"
                  % (run.fmt_us(r["p50_us"]), run.fmt_us(p["p50_us"])))
    if args.keep:
        print("temporary files kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
