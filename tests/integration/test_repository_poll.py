"""--repository-poll-s: new, changed and removed versions on disk reach the
server without a restart, while clients keep sending. A truncated or corrupt
model file never replaces the weights serving (the repository index and the
log say why), every request is answered 200 with the old or the new weights,
and SIGTERM while a polled load runs still exits cleanly."""

import http.client
import json
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest

import helpers
import mlpref

POLL_S = 1
# Bounded waits for what the poll must do within a few periods; generous,
# so that a loaded machine (or ASan) cannot fail the test, never a timing check.
WAIT_S = 30 * POLL_S * helpers.SLOW


def until(what, cond):
    deadline = time.monotonic() + WAIT_S
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < deadline, f"not within {WAIT_S:.0f}s: {what}"
        time.sleep(0.1)


def index_entry(port, name, version):
    for e in json.loads(helpers.post(port, "/v2/repository/index").body):
        if e["name"] == name and e.get("version") == version:
            return e
    return None


def new_model(seed):
    rng = np.random.default_rng(seed)
    return mlpref.random_model(rng, 4, [16, 16], 3, last_act="softmax", name="tiny")


@pytest.fixture
def polled(tmp_path):
    root = tmp_path / "models"
    os.makedirs(root / "tiny" / "1")
    w0 = new_model(100)
    mlpref.write_model(w0, root / "tiny" / "1" / "model.json")
    # the environment twin turns it on
    with helpers.serving(str(root), env={"RELUSERVE_REPOSITORY_POLL_S": str(POLL_S)},
                         log_dir=str(tmp_path)) as s:
        yield s, root, w0


def outputs_of(port, body, version=None):
    path = "/v2/models/tiny" + (f"/versions/{version}" if version else "") + "/infer"
    r = helpers.post(port, path, body)
    assert r.status == 200, r
    return helpers.tensor_array(helpers.output_tensor(json.loads(r.body)))


def matches(got, model, x):
    return np.allclose(got, mlpref.reference(model, x)["outputs"], rtol=1e-4, atol=1e-5)


def test_rewrites_under_load_never_fail_a_request(polled):
    s, root, w0 = polled
    path = root / "tiny" / "1" / "model.json"
    x = mlpref.random_inputs(np.random.default_rng(7), w0, 3)
    body = json.dumps(helpers.v2_body(x, diag="none"))
    valid = [w0]  # every weight set written whole so far
    lock = threading.Lock()
    stop = threading.Event()
    problems, counts = [], {}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60 * helpers.SLOW)
        try:
            while not stop.is_set():
                conn.request("POST", "/v2/models/tiny/infer", body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                with lock:
                    if r.status != 200:
                        problems.append(f"{r.status} {data[:200]!r}")
                        continue
                    got = helpers.tensor_array(helpers.output_tensor(json.loads(data)))
                    which = [i for i, w in enumerate(valid) if matches(got, w, x)]
                    if not which:
                        problems.append(f"outputs of no weights written whole: {got.tolist()}")
                    else:
                        counts[which[-1]] = counts.get(which[-1], 0) + 1
        except Exception as e:  # a dropped connection is a failure too
            with lock:
                problems.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        def serving(w):
            return lambda: matches(outputs_of(s.port, json.loads(body)), w, x)

        def failed_reload():
            e = index_entry(s.port, "tiny", "1")
            return e and e["state"] == "READY" and "failed to load" in e["reason"] and e

        # 1. A truncated write (the writer died half way): never loads.
        w1 = new_model(101)
        text1 = json.dumps(w1)
        path.write_text(text1[: len(text1) // 2])
        e = until("the truncated file's error in the repository index", failed_reload)
        assert "model.json" in e["reason"] and "/" not in e["reason"], e
        assert matches(outputs_of(s.port, json.loads(body)), w0, x)
        assert "failed to load" in s.synced_stderr()

        # 2. The whole file: the new weights serve, and the index is clean again.
        with lock:
            valid.append(w1)
        path.write_text(text1)
        until("the new weights serving", serving(w1))
        assert index_entry(s.port, "tiny", "1") == \
            {"name": "tiny", "version": "1", "state": "READY", "reason": ""}

        # 3. A corrupt file (random bytes): the weights serving stay.
        path.write_bytes(np.random.default_rng(3).bytes(len(text1)))
        until("the corrupt file's error in the repository index", failed_reload)
        assert matches(outputs_of(s.port, json.loads(body)), w1, x)

        # 4. A slow writer: chunks across several polls, each state invalid
        # until the last; only the whole file may load.
        w2 = new_model(102)
        text2 = json.dumps(w2)
        with lock:
            valid.append(w2)
        with open(path, "w") as f:
            step = len(text2) // 4 + 1
            for i in range(0, len(text2), step):
                f.write(text2[i:i + step])
                f.flush()
                time.sleep(0.6 * POLL_S)
        until("the slowly written weights serving", serving(w2))
        until("the clients answered by the new weights", lambda: counts.get(2))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not problems, problems[:5]
    assert counts.get(0) and counts.get(1) and counts.get(2), counts


def test_new_and_removed_versions(polled):
    s, root, w0 = polled
    x = mlpref.random_inputs(np.random.default_rng(8), w0, 2)
    body = helpers.v2_body(x, diag="none")
    w5 = new_model(105)
    # prepared beside the repository, then moved in whole
    os.makedirs(root.parent / "staging")
    mlpref.write_model(w5, root.parent / "staging" / "model.json")
    os.rename(root.parent / "staging", root / "tiny" / "5")
    until("version 5 serving as the newest", lambda: matches(outputs_of(s.port, body), w5, x))
    assert matches(outputs_of(s.port, body, version="1"), w0, x)
    shutil.rmtree(root / "tiny" / "5")
    until("version 5 unloaded",
          lambda: helpers.post(s.port, "/v2/models/tiny/versions/5/infer", body).status == 404)
    assert matches(outputs_of(s.port, body), w0, x)
    assert "unloading it" in s.synced_stderr()


def test_model_control_is_refused_while_polling(polled):
    s, _, _ = polled
    r = helpers.post(s.port, "/v2/repository/models/tiny/unload")
    helpers.assert_error(r, 403, "--repository-poll-s")


def test_poll_and_model_control_cannot_be_combined(tmp_path):
    s = helpers.Server(str(tmp_path), ["--repository-poll-s", "1", "--enable-model-control"],
                       log_dir=str(tmp_path))
    rc = s.proc.wait(timeout=30 * helpers.SLOW)
    s.log.close()
    assert rc == 2
    assert "--repository-poll-s and --enable-model-control cannot be combined" in s.stderr()


def write_big_model(path, seed):
    """~2M parameters of JSON: a load that takes a while (seconds under ASan)."""
    helpers.write_big_json_model(path, [784, 1024, 1024, 10], seed)


def test_sigterm_while_a_polled_load_runs_is_clean(tmp_path):
    root = tmp_path / "models"
    os.makedirs(root / "tiny" / "1")
    mlpref.write_model(new_model(100), root / "tiny" / "1" / "model.json")
    with helpers.serving(str(root), ["--repository-poll-s", str(POLL_S)], log_dir=str(tmp_path),
                         stop_timeout=120) as s:
        staging = tmp_path / "staging"
        for name in ("big", "zz"):
            os.makedirs(staging / name / "1")
        write_big_model(staging / "big" / "1" / "model.json", 1)
        mlpref.write_model(new_model(106), staging / "zz" / "1" / "model.json")
        # "zz" sorts after "big": the same poll would load it next
        os.rename(staging / "big", root / "big")
        os.rename(staging / "zz", root / "zz")
        until("the poll starting to load big",
              lambda: "repository poll: model big is new on disk: loading it" in s.stderr())
        s.proc.send_signal(signal.SIGTERM)
    _, log = s.stopped  # exit 0, sanitizers clean
    after = log.split("SIGTERM: no new connections", 1)[1]
    assert "model zz" not in after, "the poll loaded a model after SIGTERM"
    assert "stopped" in after
