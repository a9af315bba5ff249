"""The model repository as a user builds it: safetensors + config.json served
next to native JSON, and a corrupt model that must not take the server down."""

import json
import os

import numpy as np
import pytest
import torch

import helpers
from helpers import get, post

import mlpref


@pytest.fixture(scope="module")
def mixed_repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    torch.manual_seed(3)
    seq = torch.nn.Sequential(torch.nn.Linear(5, 12), torch.nn.ReLU(), torch.nn.Linear(12, 8),
                              torch.nn.Tanh(), torch.nn.Linear(8, 3))
    d = root / "st" / "1"
    os.makedirs(d)
    (d / "model.safetensors").write_bytes(
        helpers.safetensors_bytes([(k, v.numpy()) for k, v in seq.state_dict().items()]))
    (d / "config.json").write_text(json.dumps({
        "name": "st", "task": "classification", "input": {"name": "features", "size": 5},
        "output": {"name": "scores", "labels": ["a", "b", "c"]},
        "activations": ["relu", "tanh", "softmax"]}))
    lin = [m for m in seq if isinstance(m, torch.nn.Linear)]
    model = {"task": "classification", "input": {"name": "features", "size": 5},
             "output": {"name": "scores"},
             "layers": [{"units": m.out_features, "activation": a,
                         "weight": m.weight.detach().numpy().astype(np.float64).tolist(),
                         "bias": m.bias.detach().numpy().astype(np.float64).tolist()}
                        for m, a in zip(lin, ["relu", "tanh", "softmax"])]}
    rng = np.random.default_rng(8)
    good = mlpref.random_model(rng, 4, [6], 2, last_act="softmax", name="good")
    os.makedirs(root / "good" / "1")
    mlpref.write_model(good, root / "good" / "1" / "model.json")
    os.makedirs(root / "broken" / "1")
    text = json.dumps(good)
    (root / "broken" / "1" / "model.json").write_text(text[: len(text) // 2])
    os.makedirs(root / "empty")  # a model folder without versions
    return root, model


@pytest.fixture(scope="module")
def mixed_server(mixed_repo, tmp_path_factory):
    s = helpers.Server(mixed_repo[0], [], log_dir=str(tmp_path_factory.mktemp("mixedlogs")))
    deadline_ok = False
    try:
        import time
        t_end = time.time() + 30 * helpers.SLOW
        while time.time() < t_end:  # not "ready": one model is broken; wait for live
            try:
                if get(s.port, "/v2/models/good/ready", timeout=2).status == 200:
                    deadline_ok = True
                    break
            except OSError:
                pass
            assert s.proc.poll() is None, s.stderr()
            time.sleep(0.05)
        assert deadline_ok, s.stderr()
    except BaseException:
        s.kill()
        raise
    yield s
    s.stop()


def test_safetensors_model_served_like_torch(mixed_server, mixed_repo):
    model = mixed_repo[1]
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 5)).astype(np.float32)
    labels = [0, 1, 2, 2, 1, 0]
    body = {"inputs": [{"name": "features", "shape": [6, 5], "datatype": "FP32",
                        "data": x.reshape(-1).tolist()},
                       {"name": "labels", "shape": [6], "datatype": "INT64", "data": labels}],
            "parameters": {"diagnostics": "full"}}
    r = post(mixed_server.port, "/v2/models/st/infer", body)
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), model, x, "st", "1", labels=labels, diag="full")


def test_safetensors_metadata_uses_config_names(mixed_server):
    doc = get(mixed_server.port, "/v2/models/st").json()
    assert doc["inputs"][0]["name"] == "features" and doc["inputs"][0]["shape"] == [-1, 5]
    assert doc["outputs"][0]["name"] == "scores" and doc["outputs"][0]["shape"] == [-1, 3]


def test_broken_model_does_not_stop_the_others(mixed_server):
    port = mixed_server.port
    assert post(port, "/v2/models/good/infer", helpers.v2_body([[1, 2, 3, 4]])).status == 200
    r = get(port, "/v2/models/broken")
    assert r.status in (404, 503), r
    helpers.assert_error(r, r.status, "model.json")


def test_not_ready_while_a_model_is_broken(mixed_server):
    r = get(mixed_server.port, "/v2/health/ready")
    assert r.status == 503, r
    assert r.headers.get("retry-after"), r.headers
    assert get(mixed_server.port, "/v2/health/live").status == 200


def test_index_reports_the_broken_model(mixed_server):
    doc = post(mixed_server.port, "/v2/repository/index", {}).json()
    states = {e["name"]: e for e in doc}
    assert states["good"]["state"] == "READY"
    assert states["st"]["state"] == "READY"
    assert states["broken"]["state"] != "READY"
    assert "model.json" in states["broken"].get("reason", ""), states["broken"]


def test_no_filesystem_path_in_any_answer(mixed_server, mixed_repo):
    """Errors about broken files name the model, the version and the file, never
    where the repository lives on the server's disk."""
    port, root = mixed_server.port, str(mixed_repo[0])
    r = get(port, "/v2/health/ready")
    msg = helpers.assert_error(r, 503, "model 'broken'", "version '1'", "model.json")
    assert "/" not in msg, msg
    answers = [get(port, "/v2/models/broken"), get(port, "/v2/models/broken/versions/1"),
               get(port, "/v2/models/empty"), post(port, "/v2/models/broken/infer", {}),
               post(port, "/v2/repository/index", {})]
    for a in answers:
        assert a.status in (200, 503), a
        assert root not in a.body.decode(), a
    reasons = {e["name"]: e["reason"] for e in answers[-1].json()}
    for name in ("broken", "empty"):
        assert reasons[name] and "/" not in reasons[name], reasons
    assert root in mixed_server.synced_stderr(), "the log must still say where the files are"
