"""--max-response-bytes: a request whose answer could be larger than the limit
is refused with 413 before anything is computed (the statistics count no
execution), naming the flag, the bound and what to ask for instead; one just
under it is served, with an answer no longer than the limit; the binary
extension's 4 bytes a value serve what JSON's 17 cannot; v1 is bounded the
same way; the server keeps serving. The bound is linear in the rows, so two
refusals' messages give its per-row slope and the largest row count that
fits, without this file repeating how server/codec/bound.c counts."""

import re

import numpy as np
import pytest

import helpers
import mlpref

CAP = 256 * 1024
MODEL = "wide"
INFER = f"/v2/models/{MODEL}/infer"
BOUND = re.compile(r"could take up to (\d+) bytes")

# Every per-row tensor a v2 answer can carry.
FULL = {"outputs": [{"name": "output"}, {"name": "input_gradient"}],
        "parameters": {"diagnostics": "full", "preactivations": True}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("response_limit")
    rng = np.random.default_rng(5)
    model = mlpref.random_model(rng, 8, [64, 64], 4, name=MODEL)
    (root / MODEL / "1").mkdir(parents=True)
    mlpref.write_model(model, str(root / MODEL / "1" / "model.json"))
    with helpers.serving(root, ["--max-response-bytes", str(CAP), "--threads", "1"],
                         log_dir=str(root)) as s:
        yield s


def body(rows, extra=None):
    x = np.random.default_rng(rows).normal(size=(rows, 8)).astype(np.float32)
    b = helpers.v2_body(x)
    b.update(extra or {})
    return b


def stats(port):
    r = helpers.get(port, f"/v2/models/{MODEL}/stats")
    assert r.status == 200, r
    return r.json()["model_stats"][0]


def refused_bound(resp, *needles):
    """The bound a 413 names; the message names the limit and each needle."""
    msg = helpers.assert_error(resp, 413, "--max-response-bytes", f"of {CAP}", "fewer rows",
                               *needles)
    return int(BOUND.search(msg).group(1))


def largest_rows(port, make, path=INFER):
    """The most rows make(rows) may have: from the bounds two refusals name."""
    b1 = refused_bound(helpers.post(port, path, make(2000)))
    b2 = refused_bound(helpers.post(port, path, make(3000)))
    per_row = (b2 - b1) // 1000
    assert per_row * 1000 == b2 - b1, (b1, b2)
    fixed = b1 - 2000 * per_row
    return (CAP - fixed) // per_row


def test_over_the_limit_is_refused_before_compute_and_under_is_served(srv):
    rows = largest_rows(srv.port, lambda n: body(n, FULL))
    assert rows > 10, rows
    before = stats(srv.port)

    r = helpers.post(srv.port, INFER, body(rows + 1, FULL))
    bound = refused_bound(r, "binary_data_output", "preactivations", "diagnostics")
    assert bound > CAP
    after = stats(srv.port)
    # refused (a failure counted) without a batch run or a row inferred
    assert after["execution_count"] == before["execution_count"], after
    assert after["inference_count"] == before["inference_count"], after
    assert after["inference_stats"]["fail"]["count"] == \
        before["inference_stats"]["fail"]["count"] + 1, after

    r = helpers.post(srv.port, INFER, body(rows, FULL))
    assert r.status == 200, r
    doc = r.json()
    assert len(doc["diagnostics"]["preactivations"][0]["data"]) == rows * 64
    assert len(r.body) <= CAP, len(r.body)
    served = stats(srv.port)
    assert served["execution_count"] == before["execution_count"] + 1, served
    assert served["inference_count"] == before["inference_count"] + rows, served


def test_binary_outputs_are_served_where_json_is_refused(srv):
    outputs = [{"name": "output"}, {"name": "input_gradient"}]
    rows = 1500
    r = helpers.post(srv.port, INFER, body(rows, {"outputs": outputs}))
    refused_bound(r, "binary_data_output")
    x = np.random.default_rng(1).normal(size=(rows, 8)).astype(np.float32)
    data, headers = helpers.binary_body(x, params={"binary_data_output": True}, outputs=outputs)
    r = helpers.post(srv.port, INFER, data, headers=headers)
    assert r.status == 200, r
    json_len = int(r.headers["inference-header-content-length"])
    assert len(r.body) - json_len == rows * (4 + 8) * 4
    assert len(r.body) <= CAP


def test_v1_is_bounded_too(srv):
    def v1(rows):
        x = np.random.default_rng(rows).normal(size=(rows, 8)).astype(np.float32)
        return {"instances": x.tolist(), "parameters": {"diagnostics": "full"}}

    path = f"/v1/models/{MODEL}:predict"
    rows = largest_rows(srv.port, v1, path)
    refused_bound(helpers.post(srv.port, path, v1(rows + 1)), "diagnostics")
    r = helpers.post(srv.port, path, v1(rows))
    assert r.status == 200, r
    assert len(r.json()["predictions"]) == rows
    assert len(r.body) <= CAP


def test_still_serves_after_refusals(srv):
    for _ in range(3):
        refused_bound(helpers.post(srv.port, INFER, body(5000, FULL)))
    r = helpers.post(srv.port, INFER, body(2))
    assert r.status == 200, r
    assert helpers.output_tensor(r.json())["shape"] == [2, 4]


def test_env_twin_sets_the_limit(repo, tmp_path):
    with helpers.serving(repo[0], [], env={"RELUSERVE_MAX_RESPONSE_BYTES": "2K"},
                         log_dir=str(tmp_path)) as s:
        x = [[1, 2, 3, 4]] * 40
        r = helpers.post(s.port, "/v2/models/tiny/infer", helpers.v2_body(x, diag="full"))
        helpers.assert_error(r, 413, "--max-response-bytes of 2048")
        r = helpers.post(s.port, "/v2/models/tiny/infer", helpers.v2_body(x[:1], diag="none"))
        assert r.status == 200, r
