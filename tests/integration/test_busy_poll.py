"""--busy-poll-us (RELUSERVE_BUSY_POLL_US): the HTTP threads keep polling
without sleeping for N us after activity. It must change nothing a client sees
but the time: the same bytes on every endpoint, through the lean path and
through the pool (a suspended connection resumed from another thread), over
TLS, on kept-alive connections, past --max-connections, and a clean SIGTERM
with requests in flight. And it costs nothing while idle: the HTTP threads
sleep once the N us have passed."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

import helpers
from helpers import get, post

SPIN = ["--busy-poll-us", "200"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ the flag


def _serve_fails(repo, args, env=None):
    p = subprocess.run([helpers.binary(), "serve", "--models", str(repo[0]), "--host",
                        "127.0.0.1", "--port", str(helpers.free_port())] + args,
                       capture_output=True, text=True, timeout=30 * helpers.SLOW,
                       env=dict(os.environ, **(env or {})))
    assert p.returncode == 2, (p.returncode, p.stderr)
    helpers.check_sanitizer_clean(p.stderr)
    return p.stderr


@pytest.mark.parametrize("value", ["-1", "100001", "fast", ""])
def test_bad_values_are_refused_naming_the_flag(repo, value):
    err = _serve_fails(repo, ["--busy-poll-us", value])
    assert "--busy-poll-us expects auto or an integer from 0 to 100000" in err, err


def test_bad_env_twin_is_refused_naming_the_variable(repo):
    err = _serve_fails(repo, [], {"RELUSERVE_BUSY_POLL_US": "1ms"})
    assert "RELUSERVE_BUSY_POLL_US" in err and "0 to 100000" in err, err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_the_flag_and_its_twin_are_applied(repo, tmp_path, how):
    """The start-up line states the setting: N, off, or what auto chose and why."""
    args, env = (["--busy-poll-us", "75"], None) if how == "flag" else \
        ([], {"RELUSERVE_BUSY_POLL_US": "75"})
    with helpers.serving(repo[0], args, env=env, log_dir=str(tmp_path)) as s:
        assert get(s.port, "/v2/health/live").status == 200
    assert "HTTP threads busy-poll 75 us," in s.stopped[1], s.stopped[1][:3000]
    with helpers.serving(repo[0], ["--busy-poll-us", "0"], log_dir=str(tmp_path)) as s:
        pass
    assert "HTTP threads busy-poll off," in s.stopped[1], s.stopped[1][:3000]


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _auto_expected():
    """What auto must decide on this machine, from what the kernel shows: the
    CPUs this process may use, the hypervisor flag and guest halt-polling (a
    cgroup quota may also turn it off; test_wakeup covers that reading)."""
    if len(os.sched_getaffinity(0)) < 2:
        return "off, no core to spare for spinning"
    flags = next((l for l in _read("/proc/cpuinfo").splitlines() if l.startswith("flags")), "")
    if "hypervisor" not in flags.split():
        return "off, not a virtual machine"
    polls = _read("/sys/devices/system/cpu/cpuidle/current_driver") == "haltpoll" and \
        int(_read("/sys/module/haltpoll/parameters/guest_halt_poll_ns") or 0) > 0
    if polls:
        return "off, the kernel's haltpoll already polls idle vCPUs"
    return "100 us, a virtual machine whose idle vCPUs halt"


def test_auto_is_the_default_and_says_what_it_chose(repo, tmp_path):
    """Without the flag the server decides, and the start-up line says what
    and why: the decision this machine calls for (_auto_expected), or off for
    a cgroup CPU quota too small to spare a core."""
    with helpers.serving(repo[0], [], log_dir=str(tmp_path)) as s:
        assert get(s.port, "/v2/health/live").status == 200
    line = next((l for l in s.stopped[1].splitlines() if "listening on" in l), "")
    want = "HTTP threads busy-poll auto: " + _auto_expected()
    assert want in line or re.search(r"auto: off, no core to spare for spinning \([0-9.]+ CPUs? "
                                     r"by cgroup quota", line), (want, line)


def test_auto_does_not_spin_on_one_cpu(repo, tmp_path):
    """Pinned to one CPU (taskset, as a cpuset would), a spinning HTTP thread
    would take the only core from the compute threads: auto says off and why."""
    cpu = sorted(os.sched_getaffinity(0))[0]
    line = helpers.start_line(repo[0], ["taskset", "-c", str(cpu)])
    assert "HTTP threads busy-poll auto: off, no core to spare for spinning (1 CPU, 1 HTTP " \
        "thread)" in line, line


def test_help_says_what_it_costs():
    p = subprocess.run([helpers.binary(), "serve", "--help"], capture_output=True, text=True,
                       timeout=10 * helpers.SLOW)
    text = " ".join(p.stdout.split())
    assert "--busy-poll-us" in text and "RELUSERVE_BUSY_POLL_US" in text
    assert "one core per HTTP thread" in text and "nothing while idle" in text, text


# ------------------------------------------------- the same bytes either way


def _requests():
    """(method, path, body, headers) of every endpoint: health, metadata,
    config, stats, the playground, inference lean (one row) and through the
    pool (six rows: past --lean-max-flops 2000, so the connection is suspended
    and resumed by a pool thread), v1, OPTIONS, HEAD and errors (404, 405,
    400, 413), and model control (suspended while the control worker runs the
    job). Each with its own X-Request-Id, so the answers compare whole."""
    rng = np.random.default_rng(17)
    one = helpers.v2_body(rng.normal(size=(1, 4)), diag="summary")
    six = helpers.v2_body(rng.normal(size=(6, 4)), diag="none")
    binary, bhdrs = helpers.binary_body(rng.normal(size=(3, 4)), {"diagnostics": "full"},
                                        [{"name": "output", "parameters": {"binary_data": True}}])
    out = [
        ("GET", "/v2/health/live", None, None),
        ("GET", "/v2/health/ready", None, None),
        ("GET", "/v2", None, None),
        ("GET", "/v2/models/tiny", None, None),
        ("GET", "/v2/models/tiny/versions/1", None, None),
        ("GET", "/v2/models/tiny/config", None, None),
        ("GET", "/v2/models/tiny/ready", None, None),
        ("HEAD", "/v2/models/tiny", None, None),
        ("GET", "/", None, None),
        ("POST", "/v2/models/tiny/infer", one, None),
        ("POST", "/v2/models/tiny/infer", six, None),
        ("POST", "/v2/models/tiny/infer", binary, bhdrs),
        ("POST", "/v1/models/tiny:predict", {"instances": rng.normal(size=(2, 4)).tolist()}, None),
        ("POST", "/v2/models/deep/infer", helpers.v2_body(rng.normal(size=(5, 6)), diag="full"),
         None),
        ("GET", "/v2/models/tiny/stats", None, None),
        ("OPTIONS", "/v2/models/tiny/infer", None, None),
        ("GET", "/v2/nowhere", None, None),
        ("DELETE", "/v2/models/tiny", None, None),
        ("POST", "/v2/models/tiny/infer", helpers.v2_body(np.zeros((1, 3))), None),
        ("POST", "/v2/models/tiny/infer", b"x" * (2 << 20), {"Content-Type": "application/json"}),
        ("POST", "/v2/repository/index", None, None),
        ("POST", "/v2/repository/models/iris/unload", None, None),
        ("GET", "/v2/models/iris/ready", None, None),
        ("POST", "/v2/repository/models/iris/load", None, None),
        ("GET", "/v2/models/iris/ready", None, None),
    ]
    return out


def _answer(r):
    """What a client sees: status, headers but the date, body; the stats
    without their nanoseconds (timing) and last_inference (a clock)."""
    headers = {k: v for k, v in r.headers.items() if k != "date"}
    body = r.body
    if headers.get("content-type") == "application/json" and b'"model_stats"' in body:
        body = helpers.without_timing(json.loads(body))
        del headers["content-length"]  # of the numbers stripped
    return r.status, headers, body


def _send_all(port, reqs):
    out = []
    for i, (method, path, body, hdrs) in enumerate(reqs):
        h = dict(hdrs or {})
        h["X-Request-Id"] = f"bp-{i}"
        out.append(_answer(helpers.request(port, method, path, body, headers=h)))
    return out


def _keep_alive(port, n=40):
    """n inference requests on one kept-alive connection, alternating lean and
    pool: (status, body) of each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * helpers.SLOW)
    out = []
    try:
        for i in range(n):
            rows = 1 if i % 2 else 6
            body = json.dumps(helpers.v2_body(np.full((rows, 4), i / n))).encode()
            conn.request("POST", "/v2/models/tiny/infer", body=body,
                         headers={"Content-Type": "application/json", "X-Request-Id": f"k{i}"})
            r = conn.getresponse()
            out.append((r.status, r.read()))
    finally:
        conn.close()
    return out


def _paths(port):
    """(lean, pool): tiny's requests computed on the lean path and through the
    pool. Every computed request is a batch; the pool's are counted on the
    loop thread just after their answers leave, so wait for the count to
    settle."""
    last, deadline = None, time.time() + 10 * helpers.SLOW
    while True:
        m = helpers.metrics(port)
        lean = m.get('reluserve_lean_requests_total{model="tiny"}', 0)
        now = (lean, m.get('reluserve_batch_rows_count{model="tiny"}', 0) - lean)
        if now == last or time.time() > deadline:
            return now
        last = now
        time.sleep(0.1)


@pytest.fixture(scope="module")
def both(repo, tmp_path_factory):
    """The same requests to a server without and one with --busy-poll-us (two
    HTTP threads, so resumes must wake the right one)."""
    root, _ = repo
    reqs = _requests()
    seen = {}
    for mode, extra in (("off", []), ("on", SPIN)):
        logs = tmp_path_factory.mktemp("busy-" + mode)
        args = ["--http-threads", "2", "--lean-max-flops", "2000", "--max-body", "1M",
                "--enable-model-control"] + extra
        with helpers.serving(root, args, log_dir=str(logs)) as s:
            seen[mode] = (_send_all(s.port, reqs), _keep_alive(s.port), _paths(s.port))
    return reqs, seen


def test_every_endpoint_answers_the_same_bytes(both):
    reqs, seen = both
    off, on = seen["off"][0], seen["on"][0]
    assert len(off) == len(on) == len(reqs)
    for (method, path, _, _), a, b in zip(reqs, off, on):
        assert a == b, f"{method} {path}:\noff {a!r:.600}\non  {b!r:.600}"
    statuses = [a[0] for a in on]
    for want in (200, 204, 400, 404, 405, 413):
        assert want in statuses, statuses


def test_kept_alive_connection_answers_the_same_bytes(both):
    _, seen = both
    off, on = seen["off"][1], seen["on"][1]
    assert off == on
    assert all(status == 200 for status, _ in on)


def test_both_paths_were_taken(both):
    """The lean path and the pool (suspend, resume from a pool thread) both
    served requests, in the same numbers with and without busy polling."""
    _, seen = both
    for mode in ("off", "on"):
        lean, pool = seen[mode][2]
        assert lean >= 20 and pool >= 20, (mode, lean, pool)
    assert seen["on"][2] == seen["off"][2]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_tls_answers_the_same_bytes(repo, tmp_path):
    """Over HTTPS, lean and through the pool, on one kept-alive connection."""
    import ssl

    from test_tls import make_cert

    cert, key = make_cert(str(tmp_path), "server")
    bodies = [json.dumps(helpers.v2_body(np.full((rows, 4), 0.25 * rows))).encode()
              for rows in (1, 6, 1, 6)]
    answers = {}
    for mode, extra in (("off", []), ("on", SPIN)):
        args = ["--tls-cert", cert, "--tls-key", key, "--lean-max-flops", "2000"] + extra
        s = helpers.Server(repo[0], args, log_dir=str(tmp_path))
        try:
            ctx = ssl.create_default_context(cafile=cert)
            deadline = time.time() + 30 * helpers.SLOW
            while True:
                assert s.proc.poll() is None, s.stderr()
                try:
                    conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx,
                                                       timeout=10 * helpers.SLOW)
                    conn.request("GET", "/v2/health/ready")
                    r = conn.getresponse()
                    r.read()
                    if r.status == 200:
                        break
                except OSError:
                    assert time.time() < deadline, s.stderr()
                    time.sleep(0.05)
            got = []
            for i, body in enumerate(bodies):
                conn.request("POST", "/v2/models/tiny/infer", body=body,
                             headers={"Content-Type": "application/json", "X-Request-Id": f"t{i}"})
                r = conn.getresponse()
                got.append((r.status, r.read()))
            conn.close()
            answers[mode] = got
        except BaseException:
            s.kill()
            raise
        s.stop()
    assert answers["on"] == answers["off"]
    assert all(status == 200 for status, _ in answers["on"])


# ------------------------------------------------------- connections, shutdown


def test_connections_past_the_limit_get_503_across_threads(repo, tmp_path):
    """--max-connections counts over all HTTP threads: with two of them, the
    connections past the limit are answered 503 and closed, liveness still
    200, while the ones within it are served."""
    import test_connections as tc

    args = ["--max-connections", str(tc.LIMIT), "--http-threads", "2"] + SPIN
    with helpers.serving(repo[0], args, log_dir=str(tmp_path)) as s:
        held = tc.served_connections(s.port, tc.LIMIT)
        try:
            for i in range(tc.EXTRA):
                with tc.connect(s.port) as c:
                    status, headers, body = tc.ask(c, "/v2")
                    assert status == 503, (i, status, body)
                    assert "--max-connections" in json.loads(body)["error"], body
                    tc.assert_closed_by_server(c)
            with tc.connect(s.port) as c:
                status, headers, _ = tc.ask(c, "/v2/health/live")
                assert status == 200 and headers.get("connection", "").lower() == "close"
            for c in held:
                assert tc.ask(c, "/v2")[0] == 200
        finally:
            for c in held:
                c.close()


BUSY_ROWS = 8192  # ~2 s of compute on the 64-1024-1024-10 model here (~5 s under ASan)


def _refused(port):
    """Whether a new connection is refused; a reset counts too: one that
    reached the backlog just before the last dup of the listen socket closed
    is reset by the kernel."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except (ConnectionRefusedError, ConnectionResetError):
        return True


def test_sigterm_with_requests_in_flight(busy_repo, tmp_path):
    """One request computing on the only pool thread, three queued behind it
    (each connection suspended), when SIGTERM comes: the listen socket closes
    (new connections are refused) while every request in flight is answered
    in full, and the server exits 0 with nothing cut off. (Their Connection:
    close is test_shutdown's: here the computing request may end before the
    signal is handled, and the queued ones be answered before it too.)"""
    args = ["--threads", "1", "--http-threads", "2", "--lean-max-flops", "0"] + SPIN
    with helpers.serving(busy_repo, args, log_dir=str(tmp_path)) as s:
        x = np.full((BUSY_ROWS, 64), 0.5, np.float32)
        body, hdrs = helpers.binary_body(x, {"diagnostics": "none"},
                                         [{"name": "output", "parameters": {"binary_data": True}}])
        res = {}

        def ask(name, path, b, h):
            try:
                res[name] = post(s.port, path, b, headers=h, timeout=300)
            except Exception as ex:  # noqa: BLE001 (reported below, with the server's log)
                res[name] = f"{type(ex).__name__}: {ex}"

        threads = [threading.Thread(target=ask, args=("busy", "/v2/models/busy/infer", body,
                                                      hdrs))]
        threads[0].start()
        helpers.wait_metric(s.port, "reluserve_batches_in_flight", 1)
        for i in range(3):
            threads.append(threading.Thread(target=ask, args=(
                f"tiny{i}", "/v2/models/tiny/infer", helpers.v2_body(np.ones((1, 4)) * i), None)))
            threads[-1].start()
        helpers.wait_metric(s.port, 'reluserve_queue_depth{model="tiny",version="1"}', 3)
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 30 * helpers.SLOW
        while not _refused(s.port):
            assert time.time() < deadline, "the listen socket stayed open after SIGTERM"
            time.sleep(0.01)
        for t in threads:
            t.join(300)
        log = s.stderr()[-3000:]
        assert getattr(res["busy"], "status", None) == 200, (res["busy"], log)
        n = int(res["busy"].headers["inference-header-content-length"])
        assert len(res["busy"].body) - n == BUSY_ROWS * 10 * 4
        for i in range(3):
            assert getattr(res[f"tiny{i}"], "status", None) == 200, (res[f"tiny{i}"], log)
    _, log = s.stopped
    assert "unfinished" not in log, log[-2000:]


# ------------------------------------------------------------------ idle


def _http_thread_ticks(pid):
    """{name: utime + stime ticks} of the server's HTTP threads (rs-http-*)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if name.startswith("rs-http-"):
            out[name] = int(fields[11]) + int(fields[12])
    return out


def test_an_idle_server_does_not_spin(repo, tmp_path):
    """With the longest setting (0.1 s), once requests stop and the 0.1 s have
    passed, the HTTP threads (named rs-http-<i>, one per --http-threads) use
    no CPU over a second of idleness: a spinning thread would use all of it
    (100 ticks). The bound, 5 ticks, leaves room for a wake-up or two."""
    with helpers.serving(repo[0], ["--busy-poll-us", "100000", "--http-threads", "2"],
                         log_dir=str(tmp_path)) as s:
        for _ in range(20):
            assert post(s.port, "/v2/models/tiny/infer",
                        helpers.v2_body(np.ones((1, 4)))).status == 200
        time.sleep(0.5)  # the spinning window after the last request is 0.1 s
        before = _http_thread_ticks(s.proc.pid)
        time.sleep(1.0)
        after = _http_thread_ticks(s.proc.pid)
    assert sorted(before) == ["rs-http-0", "rs-http-1"], before
    used = {name: after[name] - before[name] for name in before}
    assert all(t <= 5 for t in used.values()), f"CPU ticks over 1 s idle: {used} ({CLK_TCK}/s)"


def test_no_spinning_while_the_pool_computes(busy_repo, tmp_path):
    """While the pool computes a long batch of this server's, the cores are the
    pool's (and the answer will wake the HTTP thread): an HTTP thread that
    keeps getting requests (a health check every ~10 ms, well within the 0.1 s
    window) must not spin between them.
    Spinning would use the whole half second (50 ticks); the bound, 15, leaves
    room for the health checks themselves. The batch must still be computing
    at the end, or the half second did not test the rule."""
    args = ["--threads", "1", "--lean-max-flops", "0", "--busy-poll-us", "100000"]
    with helpers.serving(busy_repo, args, log_dir=str(tmp_path)) as s:
        x = np.full((2 * BUSY_ROWS, 64), 0.5, np.float32)
        body, hdrs = helpers.binary_body(x, {"diagnostics": "none"},
                                         [{"name": "output", "parameters": {"binary_data": True}}])
        res = {}
        busy = threading.Thread(target=lambda: res.update(r=post(
            s.port, "/v2/models/busy/infer", body, headers=hdrs, timeout=600)))
        busy.start()
        helpers.wait_metric(s.port, "reluserve_batches_in_flight", 1)
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        before = _http_thread_ticks(s.proc.pid)
        end = time.time() + 0.5
        while time.time() < end:
            conn.request("GET", "/v2/health/live")
            assert conn.getresponse().read() is not None
            time.sleep(0.01)
        after = _http_thread_ticks(s.proc.pid)
        still = helpers.metrics(s.port).get("reluserve_batches_in_flight", 0)
        conn.close()
        busy.join(600)
        assert getattr(res.get("r"), "status", None) == 200, res
    assert still == 1, "the batch ended before the half second did: the test proved nothing"
    used = after["rs-http-0"] - before["rs-http-0"]
    assert used <= 15, f"HTTP thread CPU ticks over 0.5 s with compute saturated: {used}"


def test_no_spinning_with_many_connections_open(repo, tmp_path):
    """With more than 8 connections open per HTTP thread, their requests
    overlap and spinning pays no more: a thread that keeps getting requests (a
    health check every ~10 ms on one of 10 kept-alive connections, well
    within the 0.1 s window) must not spin between them. Spinning would use
    the whole half second (50 ticks); the bound, 15, leaves room for the
    health checks themselves."""
    with helpers.serving(repo[0], ["--busy-poll-us", "100000", "--http-threads", "1"],
                         log_dir=str(tmp_path)) as s:
        conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=30) for _ in range(10)]
        for c in conns:  # each accepted and answered once, then kept open
            c.request("GET", "/v2/health/live")
            assert c.getresponse().read() is not None
        before = _http_thread_ticks(s.proc.pid)
        end = time.time() + 0.5
        while time.time() < end:
            conns[0].request("GET", "/v2/health/live")
            assert conns[0].getresponse().read() is not None
            time.sleep(0.01)
        after = _http_thread_ticks(s.proc.pid)
        for c in conns:
            c.close()
    used = after["rs-http-0"] - before["rs-http-0"]
    assert used <= 15, f"HTTP thread CPU ticks over 0.5 s with 10 connections open: {used}"
