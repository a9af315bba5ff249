"""Non-finite pre-activations over HTTP: a request whose rows overflow is
answered with `nonfinite` and per-layer `nonfinite_units`, and those units are
neither dead in its diagnostics nor never-active in the live monitor (they
used to be both, making a finite network look collapsed)."""

import re

import numpy as np
import torch

import helpers
from helpers import get, post

import mlpref

# Row 0 overflows (Z0 = +inf, Z1 = inf - inf = NaN); on row 1 layer 1 is <= 0.
X = [[3e38], [1.0]]


def test_diagnostics_report_nonfinite_units_not_dead(port, models):
    r = post(port, "/v2/models/ovf/infer", helpers.v2_body(X, diag="full"))
    assert r.status == 200, r
    d = r.json()["diagnostics"]
    ref = mlpref.reference(models["ovf"]["1"], np.asarray(X, dtype=np.float32),
                           dtype=torch.float32)
    mlpref.compare_diagnostics(d, ref, check_grads=False)
    assert d["nonfinite"] is True
    assert [l["nonfinite_units"] for l in d["layers"]] == [2, 2, 1]
    assert d["layers"][1]["dead_units"] == [] and d["collapsed"] is False
    # the finite row alone is an honest collapse, with nothing non-finite
    ok = post(port, "/v2/models/ovf/infer", helpers.v2_body(X[1:], diag="full")).json()
    assert ok["diagnostics"]["nonfinite"] is False
    assert ok["diagnostics"]["collapsed"] is True
    assert [l["nonfinite_units"] for l in ok["diagnostics"]["layers"]] == [0, 0, 0]


def test_monitor_counts_nonfinite_rows_apart(port):
    r = post(port, "/v2/models/ovf/infer", helpers.v2_body(X, diag="none"))
    assert r.status == 200, r
    doc = get(port, "/v2/models/ovf/diagnostics").json()
    assert doc["nonfinite"] is True, doc
    l1 = doc["layers"][1]
    # NaN on a row: neither fired nor silent, so not "never active"
    assert l1["nonfinite_units"] == 2 and l1["never_active"] == 0, l1
    assert l1["never_active_units"] == [] and l1["never_active_fraction"] == 0.0, l1
    text = get(port, "/metrics").body.decode()
    m = re.search(r'reluserve_nonfinite_fraction\{model="ovf",version="1",layer="1"\} (\S+)', text)
    assert m and float(m.group(1)) == 1.0, text[-2000:]
    m = re.search(r'reluserve_never_active_fraction\{model="ovf",version="1",layer="1"\} (\S+)',
                  text)
    assert m and float(m.group(1)) == 0.0
