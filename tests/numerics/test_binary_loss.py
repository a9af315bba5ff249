"""One-output classifiers: binary cross-entropy on the logit (PyTorch's
BCEWithLogitsLoss, mean over rows) for labels 0/1 and targets in [0, 1],
checked against PyTorch autograd and against finite differences of libmlp's
own loss; and the target/task combinations that have no loss are refused,
never answered with a zero loss and zero gradients (a softmax over one logit
is 1, so cross-entropy there is identically 0).

Run:  /usr/bin/python3 -m pytest tests/numerics/test_binary_loss.py -q
"""

import math
import os
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import mlpref  # noqa: E402
from test_torch_lib import compare_all, run_eval, write  # noqa: E402


def binary_model(rng, last="sigmoid", hidden=(9, 7), act="relu", n_in=5, standardize=False):
    return mlpref.random_model(rng, n_in, list(hidden), 1, hidden_act=act, last_act=last,
                               task="classification", standardize=standardize, name="bin")


@pytest.mark.parametrize("mode", ["full", "norms_only"])
@pytest.mark.parametrize("target", ["labels", "targets"])
@pytest.mark.parametrize("last", ["sigmoid", "identity"])
@pytest.mark.parametrize("rows", [1, 6, 40])
def test_one_output_classifier_matches_bce_with_logits(tmp_path, mode, target, last, rows):
    rng = np.random.default_rng(100 + rows + (7 if last == "identity" else 0))
    model = binary_model(rng, last=last, standardize=rows > 1)
    x = mlpref.random_inputs(rng, model, rows)
    req = {"param_grads": mode == "full"}
    labels = targets = None
    if target == "labels":
        labels = [int(v) for v in rng.integers(0, 2, rows)]
        req["labels"] = labels
    else:
        targets = rng.uniform(0, 1, (rows, 1)).astype(np.float32).astype(np.float64)
        targets[0, 0] = 1.0  # the ends of [0, 1] are targets too
        if rows > 1:
            targets[1, 0] = 0.0
        req["targets"] = targets
    got = run_eval(tmp_path, write(tmp_path, model), x, **req)
    ref = mlpref.reference(model, x, labels=labels, targets=targets)
    # the reference is PyTorch's own loss, not a formula of ours
    y = torch.tensor(np.asarray(labels if labels is not None else targets,
                                dtype=np.float64).reshape(rows, 1))
    want = F.binary_cross_entropy_with_logits(torch.tensor(ref["z"][-1]), y)
    assert math.isclose(ref["loss"], float(want), rel_tol=1e-12)
    compare_all(got, ref, norms_only=mode == "norms_only")
    d = got["diagnostics"]
    assert d["target"] == "binary", d["target"]
    # what the defect was: a loss of 0 and every gradient 0
    assert float(got["loss"]) > 0.01
    assert all(float(l["weight_grad_norm"]) > 0 for l in d["layers"])
    assert np.any(np.asarray(got["input_gradient"], dtype=np.float64) != 0)


def test_huge_logits_stay_finite(tmp_path):
    """|z| ~ 1e3: log(1 + e^-|z|) and the sigmoid are computed without
    overflow, as PyTorch does; the wrong class costs ~|z|, the right one ~0."""
    rng = np.random.default_rng(5)
    model = binary_model(rng, last="sigmoid")
    x = (mlpref.random_inputs(rng, model, 8) * 1000).astype(np.float32)
    labels = [int(v) for v in rng.integers(0, 2, 8)]
    got = run_eval(tmp_path, write(tmp_path, model), x, labels=labels)
    ref = mlpref.reference(model, x, labels=labels)
    assert np.max(np.abs(ref["z"][-1])) > 100  # the test means something
    assert math.isfinite(float(got["loss"]))
    compare_all(got, ref)


def _loss_at(tmp_path, model, x, **req):
    got = run_eval(tmp_path, write(tmp_path, model), x, **req)
    assert got["status"] == "ok", got
    return float(got["loss"])


@pytest.mark.parametrize("target", ["labels", "targets"])
def test_gradients_are_finite_differences_of_the_loss(tmp_path, target):
    """Independent of PyTorch: the input gradient and the last layer's bias
    gradient libmlp reports are the central differences of the loss libmlp
    reports (a smooth tanh network, so no ReLU kink sits inside a step)."""
    rng = np.random.default_rng(31)
    model = binary_model(rng, last="sigmoid", act="tanh", n_in=3, hidden=(6,))
    x = mlpref.random_inputs(rng, model, 2)
    req = {"labels": [1, 0]} if target == "labels" else \
        {"targets": np.array([[0.25], [0.875]])}
    got = run_eval(tmp_path, write(tmp_path, model), x, **req)
    grad_x = np.asarray(got["input_gradient"], dtype=np.float64)
    h = 1e-2
    fd = np.zeros_like(grad_x)
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            xp, xm = x.copy(), x.copy()
            xp[i, k] += h
            xm[i, k] -= h
            fd[i, k] = (_loss_at(tmp_path, model, xp, **req) -
                        _loss_at(tmp_path, model, xm, **req)) / (xp[i, k] - xm[i, k])
    np.testing.assert_allclose(grad_x, fd, rtol=2e-2, atol=2e-4)
    assert np.max(np.abs(fd)) > 1e-2  # not a vacuous 0 == 0

    b = model["layers"][-1]["bias"][0]
    db = float(got["param_grads"][-1]["bias"][0])
    plus, minus = dict(model), dict(model)
    plus["layers"] = [dict(l) for l in model["layers"]]
    minus["layers"] = [dict(l) for l in model["layers"]]
    bp, bm = float(np.float32(b + h)), float(np.float32(b - h))
    plus["layers"][-1]["bias"] = [bp]
    minus["layers"][-1]["bias"] = [bm]
    fd_b = (_loss_at(tmp_path, plus, x, **req) - _loss_at(tmp_path, minus, x, **req)) / (bp - bm)
    assert abs(db) > 1e-2 and math.isclose(db, fd_b, rel_tol=2e-2), (db, fd_b)


@pytest.mark.parametrize("labels", [[0, 2], [-1, 0], [1, 1, 3]])
def test_label_outside_0_1_is_refused(tmp_path, labels):
    rng = np.random.default_rng(41)
    model = binary_model(rng)
    x = mlpref.random_inputs(rng, model, len(labels))
    got = run_eval(tmp_path, write(tmp_path, model), x, labels=labels)
    assert got["status"] != "ok", f"labels {labels} accepted: {got}"


@pytest.mark.parametrize("t", [1.5, -0.25])
def test_target_outside_0_1_is_refused(tmp_path, t):
    rng = np.random.default_rng(42)
    model = binary_model(rng)
    x = mlpref.random_inputs(rng, model, 2)
    got = run_eval(tmp_path, write(tmp_path, model), x, targets=[[0.5], [t]])
    assert got["status"] != "ok", f"target {t} accepted: {got}"


@pytest.mark.parametrize("target", ["labels", "targets"])
def test_one_softmax_output_has_no_loss_and_is_refused(tmp_path, target):
    """softmax of one logit is 1: cross-entropy 0 whatever the weights. Refused
    instead of reporting that zero (the defect)."""
    rng = np.random.default_rng(43)
    model = binary_model(rng, last="softmax")
    x = mlpref.random_inputs(rng, model, 3)
    req = {"labels": [0, 0, 0]} if target == "labels" else {"targets": [[1.0]] * 3}
    got = run_eval(tmp_path, write(tmp_path, model), x, **req)
    assert got["status"] != "ok", got
