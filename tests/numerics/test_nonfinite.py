"""Non-finite pre-activations are reported as such, never as dead units.

A unit whose pre-activation Z is NaN or ±inf on some row of the batch is
neither dead nor alive: `nonfinite_units` counts such units per layer (every
layer), the top-level `nonfinite` flag says some layer has one, and the unit
is left out of `dead_units`, `dead_fraction` and `collapsed` — NaN compares
false both ways, so calling it dead would report how a comparison was
written, not the unit. Checked against PyTorch (float32, where the overflow
happens as in libmlp) on models with a NaN or infinite weight (a model gone
non-finite in memory; no loader accepts one from a file) and on finite models
that overflow on one row of a batch.

Run:  /usr/bin/python3 -m pytest tests/numerics/test_nonfinite.py -q
"""

import copy
import math
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
import mlpref  # noqa: E402
from test_torch_lib import compare_all, run_eval, write  # noqa: E402


def poked(model, layer, unit, col, value):
    """The model with weight[unit][col] of layer set to value, and the flat
    params index mlp_eval's set_params takes (W then b per layer)."""
    index = 0
    for l, ly in enumerate(model["layers"]):
        n_in = len(ly["weight"][0])
        if l == layer:
            index += unit * n_in + col
            break
        index += len(ly["weight"]) * n_in + len(ly["bias"])
    m = copy.deepcopy(model)
    m["layers"][layer]["weight"][unit][col] = float(value)
    return m, index


def run_poked(tmp_path, model, layer, unit, col, value, x, **req):
    m, index = poked(model, layer, unit, col, value)
    got = run_eval(tmp_path, write(tmp_path, model), x,
                   set_params=[[index, str(value) if not math.isfinite(value) else value]], **req)
    return m, got


def test_nan_weight_units_are_nonfinite_not_dead(tmp_path):
    """W0[1][1] = NaN: unit 1 of layer 0 is NaN on every row, and through it
    every unit after it. The old verdict — layer 1 entirely dead, network
    collapsed — was an artefact of NaN > 0 being false."""
    rng = np.random.default_rng(51)
    model = mlpref.random_model(rng, 4, [8, 6], 3, last_act="softmax", dead_units=2)
    assert model["layers"][0]["bias"][1] > -1e3  # unit 1 is not one of the dead ones
    x = mlpref.random_inputs(rng, model, 5)
    m, got = run_poked(tmp_path, model, 0, 1, 1, math.nan, x, backward=False)
    ref = mlpref.reference(m, x, dtype=torch.float32)
    want = ref["diagnostics"]
    assert [l["nonfinite_units"] for l in want["layers"]] == [1, 6, 3]  # PyTorch's tensors
    assert want["nonfinite"] and not want["collapsed"]
    d = got["diagnostics"]
    mlpref.compare_diagnostics(d, ref, check_grads=False)
    assert d["nonfinite"] is True and d["collapsed"] is False
    assert [l["nonfinite_units"] for l in d["layers"]] == [1, 6, 3]
    assert 1 not in d["layers"][0]["dead_units"]
    assert d["layers"][1]["dead_units"] == [] and d["layers"][1]["dead_fraction"] == 0.0
    assert len(d["layers"][0]["dead_units"]) >= 2  # the finite dead units still count


@pytest.mark.parametrize("value", [math.inf, -math.inf])
@pytest.mark.parametrize("param_grads", [True, False])
def test_infinite_weight_matches_pytorch_with_gradients(tmp_path, value, param_grads):
    """W0[1][0] = ±inf with positive inputs: Z0[:, 1] is ±inf on every row.
    -inf is <= 0 but not a dead unit's finite silence; +inf is > 0 but not
    a live unit's. Loss, gradients (NaN where PyTorch has NaN) and every
    diagnostic agree with PyTorch in float32."""
    rng = np.random.default_rng(52)
    model = mlpref.random_model(rng, 3, [6, 5], 2, last_act="softmax")
    x = np.abs(mlpref.random_inputs(rng, model, 4)) + np.float32(0.5)
    labels = [0, 1, 1, 0]
    m, got = run_poked(tmp_path, model, 0, 1, 0, value, x, labels=labels,
                       param_grads=param_grads)
    ref = mlpref.reference(m, x, labels=labels, dtype=torch.float32)
    assert ref["diagnostics"]["layers"][0]["nonfinite_units"] == 1
    compare_all(got, ref, norms_only=not param_grads)
    d = got["diagnostics"]
    assert d["nonfinite"] is True
    assert 1 not in d["layers"][0]["dead_units"]


def overflow_model():
    """Finite weights; an input near FLT_MAX overflows Z0 to +inf and makes
    Z1 = inf - inf = NaN, while x = 1 leaves layer 1 at Z <= 0."""
    return {"format": "reluserve-mlp", "version": 1, "name": "ovf", "task": "regression",
            "input": {"name": "input", "size": 1}, "output": {"name": "output"},
            "layers": [
                {"units": 2, "activation": "relu", "weight": [[10.0], [10.0]],
                 "bias": [0.0, 0.0]},
                {"units": 2, "activation": "relu", "weight": [[1.0, -1.0], [-1.0, 0.5]],
                 "bias": [0.0, -1.0]},
                {"units": 1, "activation": "identity", "weight": [[1.0, 1.0]], "bias": [0.5]}]}


@pytest.mark.parametrize("kernel", ["portable", "native", "blas"])
def test_one_overflowing_row_makes_units_nonfinite_not_dead(tmp_path, kernel):
    """Layer 1's units are NaN on the overflowing row and <= 0 on the other:
    not dead (a NaN row says nothing about whether they fire) but non-finite;
    counting NaN as 'not > 0' called the whole layer dead and the network
    collapsed."""
    model = overflow_model()
    x = np.array([[3e38], [1.0]], dtype=np.float32)
    ref = mlpref.reference(model, x, dtype=torch.float32)
    want = ref["diagnostics"]
    assert [l["nonfinite_units"] for l in want["layers"]] == [2, 2, 1]
    assert want["layers"][1]["n_dead"] == 0 and not want["collapsed"]
    got = run_eval(tmp_path, write(tmp_path, model), x, backward=False, kernel=kernel)
    d = got["diagnostics"]
    mlpref.compare_diagnostics(d, ref, check_grads=False)
    assert d["layers"][1]["dead_units"] == [] and d["collapsed"] is False
    assert d["nonfinite"] is True
    # the same rows without the overflow: finite, and layer 1 is dead
    ok = run_eval(tmp_path, write(tmp_path, model), x[1:], backward=False, kernel=kernel)
    assert ok["diagnostics"]["nonfinite"] is False
    assert [l["nonfinite_units"] for l in ok["diagnostics"]["layers"]] == [0, 0, 0]
    assert ok["diagnostics"]["collapsed"] is True


@pytest.mark.parametrize("param_grads", [True, False])
def test_nan_weight_gradients_match_pytorch(tmp_path, param_grads):
    """The same NaN weight with labels: loss and every gradient are NaN where
    PyTorch's are, and the ReLU backward stops a NaN upstream gradient at a
    unit that is off (z <= 0 gives 0, as torch's threshold_backward does;
    0·NaN would be NaN)."""
    rng = np.random.default_rng(53)
    model = mlpref.random_model(rng, 4, [8, 6], 3, last_act="softmax")
    x = mlpref.random_inputs(rng, model, 5)
    labels = [0, 1, 2, 1, 0]
    m, got = run_poked(tmp_path, model, 1, 3, 2, math.nan, x, labels=labels,
                       param_grads=param_grads)
    ref = mlpref.reference(m, x, labels=labels, dtype=torch.float32)
    assert ref["diagnostics"]["layers"][1]["nonfinite_units"] == 1
    compare_all(got, ref, norms_only=not param_grads)
