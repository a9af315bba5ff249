"""The lean path (--lean-max-flops): small requests are computed on the HTTP
thread right after decoding, skipping the queue and the pool. It must change
nothing a client or an operator sees but the time: the same bytes, the same
metrics, statistics, monitor counts and access lines as the batcher's path;
large requests still go through the batcher, a request never overtakes one
queued for its version, and shutdown waits for a lean request computing."""

import json
import re
import signal
import threading
import time

import numpy as np
import pytest

import helpers
from helpers import get, post

BUSY_ROWS = 8192  # ~2 s of compute on the 64-1024-1024-10 model here (~5 s under ASan)
TINY_MACS = 4 * 16 + 16 * 16 + 16 * 3  # multiply-adds a row of make_repo's tiny (368)


def _binary(x, params=None):
    """A binary-extension request whose output comes back as binary data too."""
    return helpers.binary_body(x, params,
                               [{"name": "output", "parameters": {"binary_data": True}}])


def _requests(models):
    """(path, body, headers) of every kind of inference request: v2 JSON with
    each diagnostics level, labels and targets, the classification extension
    and preactivations; v2 binary both ways; v1; non-finite values; and
    requests answered 400 by the decoder and by the compute (a target outside
    its loss's domain)."""
    rng = np.random.default_rng(9)
    out = []

    def v2(name, rows, target=None, diag=None, **extra):
        _, _, x, labels, targets = helpers.random_request(models, name, target, rows, rng)
        body = helpers.v2_body(x, labels=labels, targets=targets, diag=diag)
        if extra.get("params"):
            body.setdefault("parameters", {}).update(extra["params"])
        if extra.get("outputs"):
            body["outputs"] = extra["outputs"]
        out.append((f"/v2/models/{name}/infer", body, None))

    v2("tiny", 1, diag="none")
    v2("tiny", 3, "labels", "summary")
    v2("tiny", 2, "targets", "full")
    v2("tiny", 2, diag="full", params={"preactivations": True})
    v2("tiny", 4, diag="none", outputs=[{"name": "output", "parameters": {"classification": 2}}])
    v2("deep", 5, "labels", "full")
    v2("reg", 3, "targets", "summary")
    v2("bin", 2, "labels", "summary")
    v2("sig", 2, "targets", "full")
    out.append(("/v2/models/ovf/infer", helpers.v2_body([[3e38], [1.0]], diag="summary"), None))
    out.append(("/v2/models/tiny/infer", *_binary(rng.normal(size=(3, 4)), {"diagnostics": "full"})))
    out.append(("/v2/models/deep/infer", *_binary(rng.normal(size=(1, 6)))))
    out.append(("/v1/models/tiny:predict", {"instances": rng.normal(size=(2, 4)).tolist()}, None))
    out.append(("/v1/models/reg:predict", {"instances": rng.normal(size=(2, 5)).tolist(),
                                           "targets": rng.normal(size=(2, 2)).tolist(),
                                           "diagnostics": "summary"}, None))
    # 400 from the compute (a binary cross-entropy target outside [0, 1]) ...
    out.append(("/v2/models/bin/infer", helpers.v2_body(np.zeros((1, 4)), targets=[[1.5]],
                                                        diag="summary"), None))
    # ... and from the decoder (3 values a row where tiny takes 4): never computed
    out.append(("/v2/models/tiny/infer", helpers.v2_body(np.zeros((1, 3))), None))
    return out


COMPUTED = 15  # of _requests: all but the decoder's 400


def _send_all(port, reqs):
    answers = []
    for i, (path, body, hdrs) in enumerate(reqs):
        h = dict(hdrs or {})
        h["X-Request-Id"] = f"lean-{i}"
        r = post(port, path, body, headers=h)
        answers.append((r.status, r.headers.get("content-type"),
                        r.headers.get("inference-header-content-length"), r.body))
    return answers


def _wait_batches(port, want):
    """The pool path records a batch's metrics on the loop thread just after
    its answer leaves: wait for them."""
    deadline = time.time() + 10 * helpers.SLOW
    while True:
        m = helpers.metrics(port)
        n = sum(v for k, v in m.items() if k.startswith("reluserve_batch_rows_count"))
        if n >= want or time.time() > deadline:
            return m
        time.sleep(0.02)


TIMING = re.compile(r"^reluserve_(request|queue|compute)_duration_seconds_(bucket|sum)")


def _observe(s, models):
    """What an operator sees after _requests: the metrics that do not measure
    time (those only by name), the statistics without their nanoseconds, and
    the access lines without their timestamps and durations."""
    m = _wait_batches(s.port, COMPUTED)
    # model="" counts the /metrics polls above, as many as each server needed
    counts = {k: v for k, v in m.items()
              if not TIMING.match(k) and not k.startswith("reluserve_lean_requests_total")
              and 'model=""' not in k}
    names = sorted(m)  # the shape: every series, timing and lean counter included
    stats = {}
    for name in models:
        doc = get(s.port, f"/v2/models/{name}/stats").json()
        stats[name] = helpers.without_timing(doc)
    lines = []
    for line in s.synced_stderr().splitlines():
        if '"msg":"access"' not in line:
            continue
        doc = json.loads(line)
        if not doc["path"].endswith(("/infer", ":predict")):
            continue
        lines.append((sorted(doc), {k: v for k, v in doc.items() if k not in ("ts", "us")}))
    return counts, names, stats, lines, m


@pytest.fixture(scope="module")
def both(repo, tmp_path_factory):
    """The same requests to a server with the default lean path and to one
    with it off (--lean-max-flops 0): (answers, observations) of each."""
    root, models = repo
    reqs = _requests(models)
    seen = {}
    for mode, args in (("on", []), ("off", ["--lean-max-flops", "0"])):
        logs = tmp_path_factory.mktemp("lean-" + mode)
        with helpers.serving(root, args + ["--log-format", "json"], log_dir=str(logs)) as s:
            answers = _send_all(s.port, reqs)
            seen[mode] = (answers, _observe(s, models))
    return reqs, seen


def test_answers_are_the_same_bytes_either_way(both):
    reqs, seen = both
    on, off = seen["on"][0], seen["off"][0]
    assert len(on) == len(off) == len(reqs)
    for (path, _, _), a, b in zip(reqs, on, off):
        assert a == b, f"{path}: lean {a[:3]} {a[3][:300]!r}\nbatcher {b[:3]} {b[3][:300]!r}"
    statuses = [a[0] for a in on]
    assert statuses.count(200) == COMPUTED - 1 and statuses.count(400) == 2, statuses
    assert any(a[1] == "application/octet-stream" for a in on)  # binary answers compared too


def test_the_default_takes_the_lean_path_and_0_turns_it_off(both):
    _, seen = both
    lean_on = {k: v for k, v in seen["on"][1][4].items()
               if k.startswith("reluserve_lean_requests_total")}
    lean_off = {k: v for k, v in seen["off"][1][4].items()
                if k.startswith("reluserve_lean_requests_total")}
    assert sum(lean_on.values()) == COMPUTED, lean_on  # every computed request: all are small
    assert lean_off and sum(lean_off.values()) == 0, lean_off
    assert sorted(lean_on) == sorted(lean_off)


def test_metrics_stats_monitor_and_access_lines_are_the_same(both):
    _, seen = both
    (c_on, n_on, s_on, l_on, _), (c_off, n_off, s_off, l_off, _) = seen["on"][1], seen["off"][1]
    assert n_on == n_off  # the same series, timing ones included
    assert c_on == c_off  # counts, batch rows, queue depth, monitor rows and fractions
    assert c_on['reluserve_batch_rows_count{model="tiny"}'] == 7
    assert c_on['reluserve_monitor_rows{model="tiny",version="1"}'] == 1 + 3 + 2 + 2 + 4 + 3 + 2
    assert s_on == s_off
    assert s_on["tiny"]["model_stats"][0]["execution_count"] == 7
    assert len(l_on) == len(seen["on"][0])
    assert l_on == l_off


def test_a_lean_request_cannot_expire(repo, tmp_path):
    """parameters.timeout_us bounds waiting in the queue; a lean request never
    waits, so even a 1 us limit cannot expire it (through the batcher the hops
    to the loop thread alone outlast that: 503). The one way the two paths'
    answers differ, as --help and README.md say."""
    root, _ = repo
    body = helpers.v2_body(np.ones((1, 4)), diag="summary")
    body["parameters"]["timeout_us"] = 1
    with helpers.serving(root, [], log_dir=str(tmp_path)) as s:
        for _ in range(3):
            r = post(s.port, "/v2/models/tiny/infer", body)
            assert r.status == 200, r
        assert _lean_count(s.port, "tiny") == 3


# ------------------------------------------------- the batcher keeps the large


def _lean_count(port, model):
    return helpers.metrics(port).get(f'reluserve_lean_requests_total{{model="{model}"}}', 0)


def _busy_body():
    x = np.full((BUSY_ROWS, 64), 0.5, np.float32)
    return _binary(x, {"diagnostics": "none"})


def test_a_request_over_the_threshold_goes_through_the_batcher(busy_repo, tmp_path):
    """--lean-max-flops 2000 against tiny's 368 multiply-adds a row: one row
    (x3 with diagnostics: 1104) is lean, six rows (2208) or two with
    diagnostics (2208) are not. And a small request arriving while its
    version's queue holds one waits its turn and is batched with it."""
    with helpers.serving(busy_repo, ["--lean-max-flops", "2000", "--threads", "1"],
                         log_dir=str(tmp_path)) as s:
        def infer(rows, diag):
            x = np.random.default_rng(rows).normal(size=(rows, 4))
            r = post(s.port, "/v2/models/tiny/infer", helpers.v2_body(x, diag=diag))
            assert r.status == 200, r
            return r

        for rows, diag, lean in ((1, "none", 1), (5, "none", 2), (1, "summary", 3),
                                 (6, "none", 3), (2, "summary", 3)):
            infer(rows, diag)
            assert _lean_count(s.port, "tiny") == lean, (rows, diag)
        helpers.wait_metric(s.port, 'reluserve_batch_rows_count{model="tiny"}', 5)
        stats = get(s.port, "/v2/models/tiny/stats").json()["model_stats"][0]
        assert stats["execution_count"] == 5  # lean or not, each request a batch

        # The only pool thread computes the busy model; meanwhile tiny queues
        # one large request, then a small one that must not overtake it.
        body, hdrs = _busy_body()
        busy = {}
        th = threading.Thread(target=lambda: busy.setdefault(
            "r", post(s.port, "/v2/models/busy/infer", body, headers=hdrs, timeout=300)))
        th.start()
        helpers.wait_metric(s.port, "reluserve_batches_in_flight", 1)
        answers = {}

        def ask(rows):
            answers[rows] = post(s.port, "/v2/models/tiny/infer",
                                 helpers.v2_body(np.ones((rows, 4)), diag="none"), timeout=300)

        large = threading.Thread(target=ask, args=(6,))
        large.start()
        helpers.wait_metric(s.port, 'reluserve_queue_depth{model="tiny",version="1"}', 1)
        small = threading.Thread(target=ask, args=(1,))
        small.start()
        helpers.wait_metric(s.port, 'reluserve_queue_depth{model="tiny",version="1"}', 2)
        for t in (th, large, small):
            t.join(300)
        assert busy["r"].status == 200 and answers[6].status == 200 and answers[1].status == 200
        assert _lean_count(s.port, "tiny") == 3  # the small one waited its turn
        assert _lean_count(s.port, "busy") == 0
        helpers.wait_metric(s.port, 'reluserve_batch_rows_count{model="tiny"}', 6)
        stats = get(s.port, "/v2/models/tiny/stats").json()["model_stats"][0]
        sizes = {b["batch_size"]: b["compute_infer"]["count"] for b in stats["batch_stats"]}
        assert sizes.get(7) == 1, stats["batch_stats"]  # 6 + 1 rows: one batch of both


# ------------------------------------------------------------------ shutdown


def test_sigterm_waits_for_a_lean_request_computing(busy_repo, tmp_path):
    """A lean request of ~1 s on one HTTP thread; SIGTERM arrives while it
    computes (seen from the other HTTP thread: its queue time is counted as it
    starts, its lean count as it ends, both in one /metrics answer). It is
    answered in full, and the server exits 0. A /metrics poll that the busy
    thread had accepted just before computing is answered only after it: that
    attempt cannot tell, and the next one is made."""
    with helpers.serving(busy_repo, ["--lean-max-flops", str(1 << 40), "--http-threads", "2"],
                         log_dir=str(tmp_path)) as s:
        body, hdrs = _busy_body()
        for attempt in range(1, 6):
            res = {}
            th = threading.Thread(target=lambda: res.setdefault(
                "r", post(s.port, "/v2/models/busy/infer", body, headers=hdrs, timeout=300)))
            th.start()
            deadline = time.time() + 60 * helpers.SLOW
            while True:
                m = helpers.metrics(s.port)
                if m.get('reluserve_queue_duration_seconds_count{model="busy"}', 0) >= attempt:
                    break
                assert time.time() < deadline, "the lean request never started"
                time.sleep(0.005)
            computing = m.get('reluserve_lean_requests_total{model="busy"}', 0) < attempt
            if computing:
                s.proc.send_signal(signal.SIGTERM)
            th.join(300)
            assert res["r"].status == 200, res["r"]
            if computing:
                break
        assert computing, "every attempt's lean request ended before its /metrics answer"
    r = res["r"]
    n = int(r.headers["inference-header-content-length"])
    doc = json.loads(r.body[:n])
    assert doc["outputs"][0]["shape"] == [BUSY_ROWS, 10]
    assert len(r.body) - n == BUSY_ROWS * 10 * 4
    _, log = s.stopped
    assert "unfinished" not in log, log[-2000:]
