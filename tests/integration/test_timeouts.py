"""Queue timeouts: a request still queued past the shorter of --request-timeout-ms
and its own parameters.timeout_us is answered 503 uncomputed — on time, even
while the only pool thread is busy with a long batch, and a client cannot
extend the server's limit by asking for more."""

import os
import re
import threading
import time

import numpy as np
import pytest

import helpers
from helpers import post

BUSY_ROWS = 8192  # ~2 s of compute on the 64-1024-1024-10 model here (~5 s under ASan)


@pytest.fixture(scope="module")
def busy_repo(tmp_path_factory):
    """tiny (4-8-3) and busy (64-1024-1024-10, weights rounded to keep the file small)."""
    root = tmp_path_factory.mktemp("busy")
    rng = np.random.default_rng(12)
    for name, sizes in (("busy", [64, 1024, 1024, 10]), ("tiny", [4, 8, 3])):
        os.makedirs(root / name / "1")
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            w = np.round(rng.normal(0, (2.0 / n_in) ** 0.5, (n_out, n_in)), 3)
            rows = ",".join("[" + ",".join(map(str, r)) + "]" for r in w.tolist())
            act = "softmax" if i == len(sizes) - 2 else "relu"
            layers.append(f'{{"units":{n_out},"activation":"{act}","weight":[{rows}],'
                          f'"bias":[{",".join(["0"] * n_out)}]}}')
        with open(root / name / "1" / "model.json", "w") as f:
            f.write('{"format":"reluserve-mlp","version":1,"name":"%s","task":"classification",'
                    '"input":{"name":"input","size":%d},"output":{"name":"output"},'
                    '"layers":[%s]}' % (name, sizes[0], ",".join(layers)))
    return root


def _batches_in_flight(port):
    text = helpers.get(port, "/metrics").body.decode()
    return int(re.search(r"^reluserve_batches_in_flight (\d+)$", text, re.M).group(1))


def test_queued_requests_expire_while_the_pool_is_busy(busy_repo, tmp_path):
    # The lean path off: it would compute the tiny requests at once on the
    # HTTP thread (they would never queue); this test is about the queue.
    with helpers.serving(busy_repo, ["--threads", "1", "--request-timeout-ms", "200",
                                     "--lean-max-flops", "0"],
                         log_dir=str(tmp_path)) as s:
        body = ('{"inputs":[{"name":"input","shape":[%d,64],"datatype":"FP32","data":[' % BUSY_ROWS
                + ",".join(["0.5"] * (64 * BUSY_ROWS))
                + ']}],"parameters":{"diagnostics":"none"}}').encode()
        busy = {}

        def run_busy():
            busy["r"] = post(s.port, "/v2/models/busy/infer", body,
                             headers={"Content-Type": "application/json"}, timeout=300)
            busy["done_at"] = time.monotonic()

        th = threading.Thread(target=run_busy)
        th.start()
        deadline = time.monotonic() + 30 * helpers.SLOW
        while _batches_in_flight(s.port) < 1:  # the only pool thread is computing it
            assert time.monotonic() < deadline and th.is_alive(), "the busy batch never started"
            time.sleep(0.005)
        # Queued behind it: one asks for less than the server's 200 ms, one for a
        # minute (it gets 200 ms: a client cannot extend the operator's limit).
        results = {}

        def ask(name, timeout_us):
            doc = helpers.v2_body([[1, 2, 3, 4]], diag="none")
            doc["parameters"]["timeout_us"] = timeout_us
            results[name] = post(s.port, "/v2/models/tiny/infer", doc, timeout=300)
            results[name + "_at"] = time.monotonic()

        asks = [threading.Thread(target=ask, args=a) for a in (("short", 50_000),
                                                               ("long", 60_000_000))]
        for t in asks:
            t.start()
        for t in asks:
            t.join(300)
        th.join(300)
    assert busy["r"].status == 200, busy["r"]
    assert (results["short"].status, results["long"].status) == (503, 503), results
    # Answered while the busy batch still computed, not when it ended.
    assert results["short_at"] < busy["done_at"] and results["long_at"] < busy["done_at"], \
        "the queued requests were answered only after the busy batch finished"
    helpers.assert_error(results["short"], 503, "limit of 50000 us", "not computed")
    helpers.assert_error(results["long"], 503, "limit of 200000 us", "--request-timeout-ms")
