"""Concurrency, dynamic batching exactness, overload (503) and aborted uploads."""

import http.client
import json
import os
import random
import re
import threading
import time

import numpy as np
import pytest

import helpers
from helpers import post

import mlpref

CLIENTS = 32
PER_CLIENT = int(os.environ.get("RS_TEST_PER_CLIENT", "200"))


# ------------------------------------------------------------ request pool

def _pool(models, seed=99):
    """Valid requests of several models and sizes, each with its precomputed
    reference, plus invalid ones with their expected status and message."""
    rng = np.random.default_rng(seed)
    pool = []
    for name, rows, target, diag in [("tiny", 1, None, "none"), ("tiny", 3, "labels", "full"),
                                     ("tiny", 17, None, "summary"), ("deep", 2, "labels", "full"),
                                     ("deep", 8, "targets", "summary"), ("reg", 4, "targets", "full"),
                                     ("reg", 1, None, "summary"), ("sig", 5, None, "full"),
                                     ("dead", 3, "labels", "summary"), ("ver", 2, None, "full")]:
        for _ in range(3):
            model, version, x, labels, targets = helpers.random_request(models, name, target,
                                                                        rows, rng, low=0.1)
            rid = f"r{len(pool)}"
            body = json.dumps(helpers.v2_body(x, labels=labels, targets=targets, diag=diag,
                                              rid=rid)).encode()
            ref = mlpref.reference(model, x, labels=labels, targets=targets)
            pool.append({"kind": "ok", "path": f"/v2/models/{name}/infer", "body": body,
                         "check": dict(model=model, x=x, name=name, version=version,
                                       labels=labels, targets=targets, diag=diag, rid=rid,
                                       ref=ref)})
    bad = [
        ("/v2/models/tiny/infer", b'{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32",'
                                  b'"data":[1,2,3,4,5,6,7]}]}', 400,
         "input 'input': shape [2,4] needs 8 values, got 7"),
        ("/v2/models/tiny/infer", b'{"inputs": [', 400, ""),
        ("/v2/models/nope/infer", b'{"inputs": []}', 404, "nope"),
        ("/v2/models/tiny/versions/9/infer", b'{"inputs": []}', 404, "9"),
        ("/v2/models/tiny/infer", json.dumps(helpers.v2_body([[1, 2, 3, 4]], labels=[5])).encode(),
         400, "labels"),
    ]
    for path, body, status, needle in bad:
        pool.append({"kind": "bad", "path": path, "body": body, "status": status,
                     "needle": needle})
    return pool


def _check(entry, status, body):
    if entry["kind"] == "bad":
        assert status == entry["status"], f"{entry['path']}: {status} {body[:200]!r}"
        msg = json.loads(body)["error"]
        assert entry["needle"] in msg, msg
        return
    assert status == 200, f"{entry['path']}: {status} {body[:300]!r}"
    c = entry["check"]
    helpers.check_v2_response(json.loads(body), c["model"], c["x"], c["name"], c["version"],
                              labels=c["labels"], targets=c["targets"], diag=c["diag"],
                              rid=c["rid"], ref=c["ref"])


def test_32_clients_x_200_mixed_requests(port, models):
    pool = _pool(models)
    failures, counts = [], {"ok": 0, "bad": 0}
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(i):
        rnd = random.Random(i)
        keepalive = i % 2 == 0  # half reuse one connection, half open one per request
        conn = None
        start.wait()
        for _ in range(PER_CLIENT):
            e = rnd.choice(pool)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * helpers.SLOW)
                conn.request("POST", e["path"], body=e["body"],
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                _check(e, r.status, data)
                with lock:
                    counts[e["kind"]] += 1
                if not keepalive or r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as ex:  # noqa: BLE001 — every failure is collected and reported
                with lock:
                    failures.append(f"client {i} {e['path']}: {type(ex).__name__}: {ex}"[:600])
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "clients still running after 300 s"
    elapsed = time.time() - t0
    assert not failures, f"{len(failures)} failures, e.g.:\n" + "\n".join(failures[:8])
    assert counts["ok"] + counts["bad"] == CLIENTS * PER_CLIENT
    print(f"\n{CLIENTS * PER_CLIENT} requests in {elapsed:.1f}s "
          f"({CLIENTS * PER_CLIENT / elapsed:.0f} req/s), {counts}")


# ----------------------------------------------------------------- batching

@pytest.fixture(scope="module")
def batching_server(repo, tmp_path_factory):
    with helpers.serving(repo[0], ["--max-batch", "64", "--batch-delay-us", "2000",
                                   "--threads", "2"],
                         log_dir=str(tmp_path_factory.mktemp("batchlogs"))) as s:
        yield s


def test_batched_diagnostics_identical_to_alone(batching_server, models):
    port = batching_server.port
    rng = np.random.default_rng(2024)
    reqs = []
    for i in range(24):
        name = ["tiny", "deep", "dead"][i % 3]
        model = models[name]["1"]
        rows = int(rng.integers(1, 6))
        x = mlpref.random_inputs(rng, model, rows)
        labels = [int(v) for v in rng.integers(0, mlpref.n_outputs(model), rows)]
        reqs.append((f"/v2/models/{name}/infer",
                     json.dumps(helpers.v2_body(x, labels=labels, diag="full")).encode(),
                     model, x, labels, name))
    alone = []
    for path, body, *_ in reqs:
        r = post(port, path, body, headers={"Content-Type": "application/json"})
        assert r.status == 200, r
        alone.append(r.json())
    exact = total = 0
    for _round in range(3):
        together = [None] * len(reqs)
        barrier = threading.Barrier(len(reqs))

        def send(i):
            path, body = reqs[i][0], reqs[i][1]
            barrier.wait()
            together[i] = post(port, path, body, headers={"Content-Type": "application/json"})

        ts = [threading.Thread(target=send, args=(i,)) for i in range(len(reqs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60 * helpers.SLOW)
        for i, r in enumerate(together):
            assert r is not None and r.status == 200, r
            a, b = alone[i], r.json()
            path, body, model, x, labels, name = reqs[i]
            # each batched answer is right on its own ...
            helpers.check_v2_response(b, model, x, name, "1", labels=labels, diag="full")
            # ... and equal to the answer alone
            da, db = a["diagnostics"], b["diagnostics"]
            assert da["dead_fraction"] == db["dead_fraction"] and \
                da["collapsed"] == db["collapsed"], (da, db)
            for la, lb in zip(da["layers"], db["layers"]):
                assert la.get("dead_units") == lb.get("dead_units"), (la, lb)
                assert la.get("sparsity") == lb.get("sparsity"), (la, lb)
                assert set(la) == set(lb), (la, lb)
                for k in ("weight_grad_norm", "bias_grad_norm", "activation_grad_norm",
                          "mean_activation", "saturated_fraction"):
                    if k in la:
                        mlpref.assert_close(lb[k], la[k], f"request {i} batched {k}",
                                            rtol=1e-5, atol_scale=1e-6)
            mlpref.assert_close(db["loss"], da["loss"], f"request {i} loss", rtol=1e-5)
            mlpref.assert_close(helpers.as_matrix(db["input_gradient"], len(x), x.shape[1]),
                                helpers.as_matrix(da["input_gradient"], len(x), x.shape[1]),
                                f"request {i} input_gradient", rtol=1e-5, atol_scale=1e-6)
            total += 1
            exact += a["diagnostics"] == b["diagnostics"] and a["outputs"] == b["outputs"]
    # the batcher did merge requests (or this test proved nothing)
    text = helpers.get(port, "/metrics").body.decode()
    batches = sum(float(v) for v in re.findall(r'^reluserve_batch_rows_count\{[^}]*\} (\S+)$',
                                                 text, re.M))
    requests = len(reqs) * 4
    print(f"\nbatched == alone bit for bit in {exact} of {total} responses; "
          f"{requests} requests in {batches:.0f} batches")
    assert batches < requests, f"no request was merged: {batches} batches for {requests}"
    # the server pins the batch-invariant kernel, so "identical" means bit for bit
    assert exact == total, f"only {exact} of {total} batched responses equal the lone ones"


# ------------------------------------------------------------- overload 503

@pytest.fixture(scope="module")
def medium_repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("medium")
    rng = np.random.default_rng(77)
    medium = mlpref.random_model(rng, 64, [512, 512], 10, last_act="softmax", name="medium")
    os.makedirs(root / "medium" / "1")
    mlpref.write_model(medium, root / "medium" / "1" / "model.json")
    tiny = mlpref.random_model(rng, 4, [8], 3, last_act="softmax", name="tiny")
    os.makedirs(root / "tiny" / "1")
    mlpref.write_model(tiny, root / "tiny" / "1" / "model.json")
    return root, {"medium": medium, "tiny": tiny}


def _medium_request(medium, rows, seed, diag="full"):
    rng = np.random.default_rng(seed)
    x = mlpref.random_inputs(rng, medium, rows)
    labels = [int(v) for v in rng.integers(0, 10, rows)]
    return x, json.dumps(helpers.v2_body(x, labels=labels, diag=diag)).encode()


def test_queue_full_is_503_with_retry_after(medium_repo, tmp_path):
    root, ms = medium_repo
    with helpers.serving(root, ["--max-queue", "1", "--threads", "1", "--max-batch", "256"],
                         log_dir=str(tmp_path)) as s:
        _, body = _medium_request(ms["medium"], 256, 1)
        results = [None] * 24
        barrier = threading.Barrier(len(results))

        def send(i):
            barrier.wait()
            results[i] = post(s.port, "/v2/models/medium/infer", body,
                              headers={"Content-Type": "application/json"}, timeout=120)

        ts = [threading.Thread(target=send, args=(i,)) for i in range(len(results))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(180)
        statuses = [r.status for r in results]
        assert set(statuses) <= {200, 503}, statuses
        assert statuses.count(503) >= 1, f"no 503 with --max-queue 1: {statuses}"
        assert statuses.count(200) >= 1, statuses
        for r in results:
            if r.status == 503:
                helpers.assert_error(r, 503)
                ra = r.headers.get("retry-after")
                assert ra is not None and ra.isdigit(), f"Retry-After {ra!r}"
        # and it recovers
        assert post(s.port, "/v2/models/tiny/infer", helpers.v2_body([[1, 2, 3, 4]])).status == 200


def test_request_timeout_us_is_503_and_not_computed(medium_repo, tmp_path):
    root, ms = medium_repo
    with helpers.serving(root, ["--threads", "1", "--max-batch", "256"],
                         log_dir=str(tmp_path)) as s:
        _, busy = _medium_request(ms["medium"], 256, 2)
        hold = [threading.Thread(target=post, args=(s.port, "/v2/models/medium/infer", busy),
                                 kwargs={"headers": {"Content-Type": "application/json"},
                                         "timeout": 120}) for _ in range(4)]
        for t in hold:
            t.start()
        time.sleep(0.02)
        x, _ = _medium_request(ms["medium"], 4, 3)
        body = helpers.v2_body(x)
        body["parameters"] = {"timeout_us": 1}
        r = post(s.port, "/v2/models/medium/infer", body)
        for t in hold:
            t.join(180)
        helpers.assert_error(r, 503)


# ---------------------------------------------------------- shutdown

# SIGTERM under load: test_shutdown.py.

def test_aborted_uploads_do_not_hold_up_shutdown(repo, tmp_path):
    """Clients that send part of a large body and hang up are owed nothing:
    SIGTERM does not count them among the requests it finishes, so it never
    waits out --shutdown-grace-ms (25 s here) for them, whose bodies cannot
    come. Judged by what the server says, not by a clock."""
    import socket
    with helpers.serving(repo[0], ["--shutdown-grace-ms", "25000"], log_dir=str(tmp_path),
                         stop_timeout=40) as s:
        x = np.random.default_rng(3).normal(size=(3000, 4)).astype(np.float32)
        body = json.dumps(helpers.v2_body(x)).encode()
        req = (b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
               b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        for _ in range(10):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(req[: len(req) // 2])
            c.close()
        assert post(s.port, "/v2/models/tiny/infer", helpers.v2_body([[1, 2, 3, 4]])).status == 200
    _, log = s.stopped
    said = [ln for ln in log.splitlines() if "SIGTERM: no new connections" in ln]
    assert len(said) == 1, said
    # At most the answered POST: its client has the answer, but the server may
    # not have run its completion yet. Any of the 10 aborted uploads counted
    # would make it 2 or more, and could never finish: the grace period would run out.
    finishing = int(re.search(r"finishing (\d+) open requests", said[0]).group(1))
    assert finishing <= 1, said
    assert "grace period over" not in log, log[-3000:]


def test_medium_model_over_blas_matches_torch(medium_repo, tmp_path):
    """64-512-512-10 at 40 rows runs the cblas_sgemm path: still PyTorch's numbers."""
    root, ms = medium_repo
    with helpers.serving(root, [], log_dir=str(tmp_path)) as s:
        rng = np.random.default_rng(6)
        x = mlpref.random_inputs(rng, ms["medium"], 40)
        labels = [int(v) for v in rng.integers(0, 10, 40)]
        r = post(s.port, "/v2/models/medium/infer", helpers.v2_body(x, labels=labels, diag="full"))
        assert r.status == 200, r
        helpers.check_v2_response(r.json(), ms["medium"], x, "medium", "1", labels=labels,
                                  diag="full")
