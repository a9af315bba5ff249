"""The model configuration extension (GET /v2/models/{m}[/versions/{v}]/config)
in Triton's JSON form, with the serving settings the flags and a model's
config.json give; and the request tritonclient.http's get_model_config sends."""

import http.client
import json
import os
from urllib.parse import quote

import pytest

import helpers


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    models = helpers.make_repo(str(root))
    with open(os.path.join(root, "ver", "config.json"), "w") as f:
        json.dump({"max_batch": 7, "batch_delay_us": 1500, "max_queue": 9}, f)
    with helpers.serving(str(root), ["--max-batch", "16", "--batch-delay-us", "300",
                                     "--max-queue", "50"], log_dir=str(root)) as s:
        yield s, models


def config(port, path):
    r = helpers.get(port, path)
    assert r.status == 200, r
    return r.json()


def test_config_in_tritons_form(srv):
    s, _ = srv
    c = config(s.port, "/v2/models/tiny/config")
    assert c == {
        "name": "tiny",
        "platform": "reluserve_mlp",
        "backend": "reluserve",
        "version_policy": {"all": {}},
        "max_batch_size": 16,
        # dims leave out the batch dimension
        "input": [{"name": "input", "data_type": "TYPE_FP32", "format": "FORMAT_NONE",
                   "dims": [4]}],
        "output": [{"name": "output", "data_type": "TYPE_FP32", "dims": [3]}],
        "dynamic_batching": {"preferred_batch_size": [], "max_queue_delay_microseconds": 300,
                             "default_queue_policy": {"max_queue_size": 50}},
    }


def test_a_models_own_settings_and_versions(srv):
    s, _ = srv
    for path in ("/v2/models/ver/config", "/v2/models/ver/versions/2/config",
                 "/v2/models/ver/versions/10/config"):
        c = config(s.port, path)
        assert c["name"] == "ver" and c["max_batch_size"] == 7, c
        assert c["dynamic_batching"]["max_queue_delay_microseconds"] == 1500
        assert c["dynamic_batching"]["default_queue_policy"] == {"max_queue_size": 9}
        assert c["input"][0]["dims"] == [3] and c["output"][0]["dims"] == [2]
    c = config(s.port, "/v2/models/deep/config")
    assert c["input"][0]["dims"] == [6] and c["output"][0]["dims"] == [4]


def test_unknown_model_or_version_is_404(srv):
    s, _ = srv
    helpers.assert_error(helpers.get(s.port, "/v2/models/nope/config"), 404, "nope")
    helpers.assert_error(helpers.get(s.port, "/v2/models/ver/versions/3/config"), 404, "3")
    helpers.assert_error(helpers.post(s.port, "/v2/models/tiny/config"), 405, "GET")


def test_as_tritonclient_http_asks(srv):
    """What tritonclient.http.InferenceServerClient.get_model_config does (its
    source, src/python/library/tritonclient/http/_client.py): a GET of "/" +
    "v2/models/{quote(name)}[/versions/{v}]/config" on a kept-alive connection,
    no body and no extra headers; any status but 200 raises with the body's
    "error"; otherwise the body is json.loads'ed. Load generators size their
    batches from max_batch_size and the input dims."""
    s, _ = srv
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30 * helpers.SLOW)
    try:
        def get_model_config(model_name, model_version=""):
            if model_version != "":
                uri = "v2/models/{}/versions/{}/config".format(quote(model_name), model_version)
            else:
                uri = "v2/models/{}/config".format(quote(model_name))
            return helpers.tritonclient_get(conn, uri)

        c = get_model_config("iris")
        assert c["max_batch_size"] == 16
        assert [i["data_type"] for i in c["input"] + c["output"]] == ["TYPE_FP32"] * 2
        assert get_model_config("ver", "2")["max_batch_size"] == 7
        with pytest.raises(RuntimeError, match="nope"):
            get_model_config("nope")
    finally:
        conn.close()
