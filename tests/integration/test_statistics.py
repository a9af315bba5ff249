"""The statistics extension (GET /v2/models[/{m}[/versions/{v}]]/stats) in
Triton's shape, on a server of its own so every count is exact: requests,
rows, batches, failures, per version; and the requests tritonclient.http's
get_inference_statistics sends."""

import http.client
import time
from urllib.parse import quote

import numpy as np
import pytest

import helpers

DURATIONS = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output",
             "cache_hit")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    models = helpers.make_repo(str(root))
    with helpers.serving(str(root), ["--threads", "2"], log_dir=str(root)) as s:
        yield s, models


def stats(port, path):
    r = helpers.get(port, path)
    assert r.status == 200, r
    doc = r.json()
    assert set(doc) == {"model_stats"}, doc
    return doc["model_stats"]


def one(port, model, version=None):
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/stats"
    entries = stats(port, path)
    assert len(entries) == 1, entries
    return entries[0]


def check_shape(entry):
    assert set(entry) == {"name", "version", "last_inference", "inference_count",
                          "execution_count", "inference_stats", "batch_stats"}, entry
    assert set(entry["inference_stats"]) == set(DURATIONS), entry
    for d in entry["inference_stats"].values():
        assert set(d) == {"count", "ns"} and d["count"] >= 0 and d["ns"] >= 0, d
    for b in entry["batch_stats"]:
        assert set(b) == {"batch_size", "compute_input", "compute_infer", "compute_output"}, b
    assert isinstance(entry["version"], str)


def infer(port, model, rows, n_inputs, version=None):
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    x = np.full((rows, n_inputs), 0.25, dtype=np.float32)
    return helpers.post(port, path, helpers.v2_body(x, diag="none"))


def test_server_metadata_lists_the_extensions(srv):
    s, _ = srv
    ext = helpers.get(s.port, "/v2").json()["extensions"]
    assert "statistics" in ext and "model_configuration" in ext, ext


def test_counts_after_requests_are_exact(srv):
    s, _ = srv
    before = one(s.port, "tiny")
    check_shape(before)
    assert before["name"] == "tiny" and before["version"] == "1"
    assert before["inference_count"] == 0 and before["execution_count"] == 0
    assert before["last_inference"] == 0 and before["batch_stats"] == []
    assert all(d == {"count": 0, "ns": 0} for d in before["inference_stats"].values())

    rows = [1, 2, 3, 1, 4]
    t0 = int(time.time() * 1000)
    for n in rows:  # one at a time: each request is a batch of its own
        r = infer(s.port, "tiny", n, 4)
        assert r.status == 200, r
    # and once through the v1 API, which counts the same
    r = helpers.post(s.port, "/v1/models/tiny:predict", {"instances": [[1, 2, 3, 4]] * 2})
    assert r.status == 200, r
    rows.append(2)
    t1 = int(time.time() * 1000)

    e = one(s.port, "tiny")
    check_shape(e)
    st = e["inference_stats"]
    assert e["inference_count"] == sum(rows) == 13
    assert e["execution_count"] == len(rows)
    assert st["success"]["count"] == len(rows) and st["success"]["ns"] > 0
    assert st["fail"] == {"count": 0, "ns": 0}
    assert st["queue"]["count"] == len(rows)
    for phase in ("compute_input", "compute_infer", "compute_output"):
        assert st[phase]["count"] == len(rows), (phase, st)
    assert st["compute_infer"]["ns"] > 0
    assert st["cache_hit"] == {"count": 0, "ns": 0}
    assert t0 <= e["last_inference"] <= t1, (t0, e["last_inference"], t1)
    sizes = {b["batch_size"]: b["compute_infer"]["count"] for b in e["batch_stats"]}
    assert sizes == {1: 2, 2: 2, 3: 1, 4: 1}, e["batch_stats"]
    assert [b["batch_size"] for b in e["batch_stats"]] == [1, 2, 3, 4]
    for b in e["batch_stats"]:
        assert b["compute_input"]["count"] == b["compute_infer"]["count"] == \
            b["compute_output"]["count"]
    # the other models were not touched
    assert one(s.port, "deep")["inference_count"] == 0


def test_a_400_counts_as_a_failure(srv):
    s, _ = srv
    before = one(s.port, "reg")
    # wrong width: 3 values per row where reg takes 5
    r = infer(s.port, "reg", 2, 3)
    helpers.assert_error(r, 400)
    # a label out of range: rejected with the body, before any batch
    r = helpers.post(s.port, "/v2/models/deep/infer",
                     helpers.v2_body(np.zeros((1, 6)), labels=[99], diag="summary"))
    helpers.assert_error(r, 400, "labels")
    e = one(s.port, "reg")
    assert e["inference_stats"]["fail"]["count"] == before["inference_stats"]["fail"]["count"] + 1
    assert e["inference_stats"]["fail"]["ns"] > 0
    assert e["inference_stats"]["success"] == before["inference_stats"]["success"]
    assert e["inference_count"] == before["inference_count"]
    assert e["execution_count"] == before["execution_count"]
    assert e["last_inference"] > 0
    d = one(s.port, "deep")
    assert d["inference_stats"]["fail"]["count"] == 1
    assert d["inference_stats"]["success"]["count"] == 0
    assert d["inference_count"] == 0
    assert d["execution_count"] == 0


def test_versions_count_apart(srv):
    s, models = srv
    entries = stats(s.port, "/v2/models/ver/stats")
    assert [(e["name"], e["version"]) for e in entries] == [("ver", "2"), ("ver", "10")]
    old = {e["version"]: e["inference_count"] for e in entries}
    assert infer(s.port, "ver", 3, 3, version="2").status == 200
    assert infer(s.port, "ver", 1, 3).status == 200  # the newest: 10
    assert one(s.port, "ver", "2")["inference_count"] == old["2"] + 3
    assert one(s.port, "ver", "10")["inference_count"] == old["10"] + 1
    assert one(s.port, "ver", "10")["execution_count"] == 1


def test_every_model(srv):
    s, models = srv
    entries = stats(s.port, "/v2/models/stats")
    for e in entries:
        check_shape(e)
    got = sorted((e["name"], e["version"]) for e in entries)
    want = sorted((name, v) for name, vs in models.items() for v in vs)
    want += [("iris", e["version"]) for e in entries if e["name"] == "iris"]
    assert got == sorted(want)


def test_unknown_model_or_version_is_404(srv):
    s, _ = srv
    helpers.assert_error(helpers.get(s.port, "/v2/models/nope/stats"), 404, "nope")
    helpers.assert_error(helpers.get(s.port, "/v2/models/ver/versions/7/stats"), 404, "7")
    # a request to an unknown model counts nowhere
    before = stats(s.port, "/v2/models/stats")
    assert helpers.post(s.port, "/v2/models/nope/infer", helpers.v2_body([[1.0]])).status == 404
    assert stats(s.port, "/v2/models/stats") == before


def test_as_tritonclient_http_asks(srv):
    """What tritonclient.http.InferenceServerClient.get_inference_statistics
    does (its source, src/python/library/tritonclient/http/_client.py): a GET
    of "/" + "v2/models/stats" or "v2/models/{quote(name)}[/versions/{v}]/stats"
    on a kept-alive connection, no body and no extra headers; any status but
    200 raises with the body's "error"; otherwise the body is json.loads'ed."""
    s, _ = srv
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30 * helpers.SLOW)
    try:
        def get_inference_statistics(model_name="", model_version=""):
            if model_name != "":
                if model_version != "":
                    uri = "v2/models/{}/versions/{}/stats".format(quote(model_name),
                                                                   model_version)
                else:
                    uri = "v2/models/{}/stats".format(quote(model_name))
            else:
                uri = "v2/models/stats"
            return helpers.tritonclient_get(conn, uri)

        all_ = get_inference_statistics()
        assert {e["name"] for e in all_["model_stats"]} >= {"tiny", "ver"}
        assert len(get_inference_statistics("ver")["model_stats"]) == 2
        assert get_inference_statistics("ver", "2")["model_stats"][0]["version"] == "2"
        with pytest.raises(RuntimeError, match="nope"):
            get_inference_statistics("nope")
    finally:
        conn.close()
