"""One-output classifiers over HTTP: labels 0/1 and targets in [0, 1] give
binary cross-entropy on the logit (PyTorch's BCEWithLogitsLoss), with every
gradient checked against PyTorch autograd; combinations without a loss are a
400 naming them, never a loss of 0 with zero gradients."""

import numpy as np
import pytest

import helpers
from helpers import assert_error, post

import mlpref

BIN = "/v2/models/bin/infer"


def inputs(models, rows, seed):
    rng = np.random.default_rng(seed)
    return rng, mlpref.random_inputs(rng, models["bin"]["1"], rows)


@pytest.mark.parametrize("target", ["labels", "targets"])
@pytest.mark.parametrize("rows", [1, 7])
def test_v2_binary_cross_entropy_matches_torch(port, models, target, rows):
    rng, x = inputs(models, rows, 10 + rows)
    labels = targets = None
    if target == "labels":
        labels = [int(v) for v in rng.integers(0, 2, rows)]
    else:
        targets = rng.uniform(0, 1, (rows, 1)).astype(np.float32).astype(np.float64)
    r = post(port, BIN, helpers.v2_body(x, labels=labels, targets=targets, diag="full"))
    assert r.status == 200, r
    doc = r.json()
    ref = helpers.check_v2_response(doc, models["bin"]["1"], x, "bin", "1", labels=labels,
                                    targets=targets, diag="full")
    d = doc["diagnostics"]
    assert d["gradient_target"] == "binary_cross_entropy", d["gradient_target"]
    assert ref["loss"] > 0.01 and d["loss"] > 0.01  # the defect answered 0
    assert all(l["weight_grad_norm"] > 0 for l in d["layers"]), d["layers"]


def test_v1_labels_binary_cross_entropy(port, models):
    _, x = inputs(models, 3, 20)
    labels = [1, 0, 1]
    r = post(port, "/v1/models/bin:predict",
             {"instances": x.tolist(), "labels": labels, "parameters": {"diagnostics": "full"}})
    assert r.status == 200, r
    ref = mlpref.reference(models["bin"]["1"], x, labels=labels)
    mlpref.assert_close(r.json()["diagnostics"]["loss"], ref["loss"], "loss")
    mlpref.compare_diagnostics(r.json()["diagnostics"], ref)


@pytest.mark.parametrize("labels,bad", [([0, 2], "value 2 at index 1"),
                                        ([-1, 0], "value -1 at index 0")])
def test_label_other_than_0_1_is_400(port, models, labels, bad):
    _, x = inputs(models, 2, 30)
    r = post(port, BIN, helpers.v2_body(x, labels=labels))
    assert_error(r, 400, bad)
    assert "[0, 2)" in r.json()["error"] and "0 or 1" in r.json()["error"], r.json()


@pytest.mark.parametrize("t", [1.5, -0.25])
def test_target_outside_0_1_is_400(port, models, t):
    _, x = inputs(models, 2, 31)
    for diag in ("summary", "none"):  # refused whether or not a gradient is asked for
        r = post(port, BIN, helpers.v2_body(x, targets=[[0.5], [t]], diag=diag))
        assert_error(r, 400, "input 'targets'")
        assert "not in [0, 1]" in r.json()["error"], r.json()


@pytest.mark.parametrize("target", ["labels", "targets"])
def test_one_softmax_output_is_400_naming_it(port, target):
    body = helpers.v2_body([[1.0, 2.0, 3.0]], labels=[0] if target == "labels" else None,
                           targets=[[1.0]] if target == "targets" else None)
    r = post(port, "/v2/models/soft1/infer", body)
    assert_error(r, 400, f"input '{target}'")
    assert "one softmax output" in r.json()["error"], r.json()
    # without a target it still serves (the max-logit probe needs no loss)
    assert post(port, "/v2/models/soft1/infer", helpers.v2_body([[1.0, 2.0, 3.0]])).status == 200
