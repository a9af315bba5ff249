"""mlpref — an independent PyTorch reference for libmlp and reluserve.

Random models in the native JSON format (DESIGN.md "Models"), the same model
evaluated with PyTorch autograd, and the diagnostics of DESIGN.md computed
from the autograd tensors. Shared by tests/numerics and tests/integration.

Every parameter and input is drawn as float32 and written with repr() of its
float64 value, so the C side parses exactly the numbers torch uses; the
reference then runs in float64 (or float32) and the comparison tolerates only
float32 rounding in libmlp.
"""

import json
import math

import numpy as np
import torch
import torch.nn.functional as F

HIDDEN_ACTS = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"]
RELU_FAMILY = ("relu", "leaky_relu")
SATURATING = ("sigmoid", "tanh")


# ------------------------------------------------------------------ models

def random_model(rng, n_in, hidden, out_units, hidden_act="relu", last_act="identity",
                 task=None, alpha=0.1, standardize=False, dead_units=0, dead_layer=None,
                 zero_bias=False, name="m", labels=None):
    """A random native-JSON model (a dict).

    hidden: list of hidden widths; hidden_act a name or a list per layer.
    dead_units: per hidden ReLU-family layer, this many units get bias -1e3
    so they are dead for any reasonable input. dead_layer: index of a hidden
    layer whose every bias is -1e3 (the network collapses there).
    zero_bias: all biases 0 (with an all-zero input row, Z of layer 0 is
    exactly 0, which pins ReLU'(0) = 0).
    """
    if task is None:
        task = "classification" if last_act == "softmax" else "regression"
    acts = hidden_act if isinstance(hidden_act, list) else [hidden_act] * len(hidden)
    sizes = [n_in] + list(hidden) + [out_units]
    layers = []
    for l in range(len(sizes) - 1):
        fan_in, units = sizes[l], sizes[l + 1]
        act = acts[l] if l < len(hidden) else last_act
        gain = 2.0 if act in RELU_FAMILY else 1.0
        w = rng.normal(0.0, math.sqrt(gain / fan_in), size=(units, fan_in)).astype(np.float32)
        b = np.zeros(units, np.float32) if zero_bias else \
            rng.normal(0.0, 0.1, size=units).astype(np.float32)
        if l < len(hidden) and act in RELU_FAMILY:
            if dead_units:
                idx = rng.choice(units, size=min(dead_units, units), replace=False)
                b[idx] = -1e3
            if dead_layer == l:
                b[:] = -1e3
        layer = {"units": units, "activation": act,
                 "weight": w.astype(np.float64).tolist(), "bias": b.astype(np.float64).tolist()}
        if act == "leaky_relu":
            layer["alpha"] = float(np.float32(alpha))
        layers.append(layer)
    model = {"format": "reluserve-mlp", "version": 1, "name": name, "task": task,
             "input": {"name": "input", "size": n_in}, "output": {"name": "output"},
             "layers": layers}
    if standardize:
        model["input"]["mean"] = rng.normal(0, 1, n_in).astype(np.float32).astype(np.float64).tolist()
        model["input"]["std"] = rng.uniform(0.5, 2.0, n_in).astype(np.float32).astype(np.float64).tolist()
    if labels:
        model["output"]["labels"] = list(labels)
    return model


def write_model(model, path):
    with open(path, "w") as f:
        json.dump(model, f)


def random_inputs(rng, model, rows, zero_rows=0):
    """rows x n_in float32 inputs (as float64 lists are exact); the first
    zero_rows rows are all zeros (raw input, i.e. before standardisation)."""
    n_in = model["input"]["size"]
    x = rng.normal(0.0, 1.0, size=(rows, n_in)).astype(np.float32)
    x[:zero_rows] = 0.0
    return x


def n_outputs(model):
    return model["layers"][-1]["units"]


def is_binary(model):
    """A one-output classifier (not softmax): binary cross-entropy on its logit."""
    last = model["layers"][-1]
    return model["task"] == "classification" and last["units"] == 1 and \
        last["activation"] != "softmax"


# -------------------------------------------------------------- reference

def _act(name, z, alpha):
    if name == "relu":
        return torch.relu(z)
    if name == "leaky_relu":
        return F.leaky_relu(z, negative_slope=alpha)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "softmax":
        return torch.softmax(z, dim=1)
    if name == "identity":
        return z * 1.0  # a distinct tensor, so its gradient can be retained
    raise ValueError(name)


def _derivative(name, y):
    """|f'(z)| from y = f(z) for sigmoid/tanh (the saturation statistic)."""
    if name == "sigmoid":
        return y * (1 - y)
    return 1 - y * y


def reference(model, x, labels=None, targets=None, dtype=torch.float64):
    """Forward + autograd backward + DESIGN.md diagnostics for rows x.

    Returns a dict: outputs, loss (None without labels/targets), param_grads
    [{weight, bias}], input_gradient, diagnostics (layer list and top-level
    fields named as in mlp_diagnostics), plus z/a (numpy, per layer) so
    callers can tell ambiguous near-threshold entries apart.
    """
    X = torch.tensor(np.asarray(x, dtype=np.float64), dtype=dtype, requires_grad=True)
    h = X
    if "mean" in model["input"]:  # each of mean and std is optional on its own
        h = h - torch.tensor(model["input"]["mean"], dtype=dtype)
    if "std" in model["input"]:
        h = h / torch.tensor(model["input"]["std"], dtype=dtype)
    Ws, Bs, Zs, As = [], [], [], []
    L = len(model["layers"])
    for layer in model["layers"]:
        W = torch.tensor(layer["weight"], dtype=dtype, requires_grad=True)
        B = torch.tensor(layer["bias"], dtype=dtype, requires_grad=True)
        z = h @ W.T + B
        a = _act(layer["activation"], z, layer.get("alpha", 0.0))
        z.retain_grad()
        a.retain_grad()
        Ws.append(W); Bs.append(B); Zs.append(z); As.append(a)
        h = a
    zl, al = Zs[-1], As[-1]
    mse = False
    if is_binary(model) and (labels is not None or targets is not None):
        # one-output classifier: BCEWithLogitsLoss on the logit, labels 0/1
        # or targets in [0, 1] (mean over all output elements)
        y = np.asarray(labels if labels is not None else targets, dtype=np.float64)
        t = torch.tensor(y.reshape(zl.shape), dtype=dtype)
        g = F.binary_cross_entropy_with_logits(zl, t)
    elif labels is not None:
        g = F.cross_entropy(zl, torch.tensor(labels, dtype=torch.long))
    elif targets is not None:
        t = torch.tensor(np.asarray(targets, dtype=np.float64), dtype=dtype)
        if model["task"] == "classification":
            g = -(t * F.log_softmax(zl, dim=1)).sum(dim=1).mean()
        else:
            g = F.mse_loss(al, t)
            mse = True
    else:
        g = zl.max(dim=1).values.sum()
    g.backward()

    layers = []
    for l, layer in enumerate(model["layers"]):
        act = layer["activation"]
        z = Zs[l].detach()
        a = As[l].detach()
        d = {"index": l, "units": layer["units"], "activation": act,
             "mean_activation": float(a.mean()),
             "weight_grad_norm": float(Ws[l].grad.norm()),
             "bias_grad_norm": float(Bs[l].grad.norm()),
             # units with a NaN or infinite pre-activation on some row: neither
             # dead nor alive (DESIGN.md)
             "nonfinite_units": int((~torch.isfinite(z)).any(dim=0).sum())}
        if l == L - 1 and not mse:
            d["activation_grad_norm"] = float(Zs[l].grad.norm())
        else:
            d["activation_grad_norm"] = float(As[l].grad.norm())
        d["relu_stats"] = l < L - 1 and act in RELU_FAMILY
        if d["relu_stats"]:
            dead = ((z <= 0) & torch.isfinite(z)).all(dim=0)
            d["dead_units"] = [int(j) for j in torch.nonzero(dead).flatten()]
            d["n_dead"] = len(d["dead_units"])
            d["dead_fraction"] = d["n_dead"] / layer["units"]
            d["sparsity"] = float((a == 0).to(torch.float64).mean())
        d["saturation_stats"] = act in SATURATING
        if d["saturation_stats"]:
            d["saturated_fraction"] = float((_derivative(act, a).abs() < 0.01)
                                            .to(torch.float64).mean())
        layers.append(d)

    relu = [d for d in layers if d["relu_stats"]]
    units = sum(d["units"] for d in relu)
    first, last = layers[0]["weight_grad_norm"], layers[-1]["weight_grad_norm"]
    # 0/0 (no gradient anywhere) says nothing either way: NaN and no flags,
    # as lib/diagnostics.c documents; a dead last layer under a live first is
    # an infinite ratio.
    ratio = first / last if last != 0 else (math.inf if first > 0 else math.nan)
    diag = {"layers": layers, "rows": len(x),
            "dead_fraction": sum(d["n_dead"] for d in relu) / units if units else 0.0,
            "collapsed": any(d["n_dead"] == d["units"] for d in relu),
            "nonfinite": any(d["nonfinite_units"] > 0 for d in layers),
            "gradient_ratio": ratio, "vanishing": ratio < 1e-3, "exploding": ratio > 1e3,
            "has_loss": labels is not None or targets is not None}
    return {"outputs": al.detach().numpy().astype(np.float64),
            "loss": float(g) if diag["has_loss"] else None,
            "param_grads": [{"weight": Ws[l].grad.numpy(), "bias": Bs[l].grad.numpy()}
                            for l in range(L)],
            "input_gradient": X.grad.numpy(),
            "diagnostics": diag,
            "z": [z.detach().numpy() for z in Zs],
            "a": [a.detach().numpy() for a in As]}


# ------------------------------------------------------------- comparison

# libmlp computes in float32; the reference in float64. A float32 forward and
# backward through <= 6 layers of <= 64 units accumulates relative errors of a
# few 1e-7 per dot product; 1e-4 relative to an element plus 1e-5 of the
# tensor's largest magnitude (cancellation makes tiny elements noisy, so
# they are judged against the tensor's scale) leaves two orders of margin yet
# catches any wrong term, sign or missing factor, which moves values by O(1).
RTOL = 1e-4
ATOL_SCALE = 1e-5


def assert_close(got, want, what, rtol=RTOL, atol_scale=ATOL_SCALE, atol_min=1e-7):
    got = np.asarray(_numeric(got), dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if want.size == 0:
        return
    if not np.all(np.isfinite(want)):
        assert np.array_equal(np.isinf(got), np.isinf(want)) and \
            np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: {got} vs {want}"
        mask = np.isfinite(want)
        got, want = got[mask], want[mask]
        if want.size == 0:
            return
    scale = float(np.max(np.abs(want)))
    tol = atol_min + atol_scale * scale + rtol * np.abs(want)
    err = np.abs(got - want)
    bad = err > tol
    if np.any(bad):
        i = np.unravel_index(int(np.argmax(err - tol)), err.shape)
        raise AssertionError(f"{what}: {int(bad.sum())} of {want.size} elements differ; "
                             f"worst at {tuple(int(k) for k in i)}: got {got[i]!r}, "
                             f"expected {want[i]!r} (tolerance {tol[i]:.3g}, scale {scale:.3g})")


def _numeric(v):
    """Turns the "nan"/"inf" strings mlp_eval writes back into floats."""
    if isinstance(v, str):
        return float(v)
    if isinstance(v, list):
        return [_numeric(e) for e in v]
    return v


def ambiguous_units(ref, l, eps=1e-4):
    """Units of layer l whose dead/alive verdict float32 rounding could flip:
    the largest pre-activation over the rows is within eps (relative to the
    layer's scale) of 0."""
    z = ref["z"][l]
    scale = max(1.0, float(np.max(np.abs(z))))
    return set(int(j) for j in np.nonzero(np.abs(z.max(axis=0)) <= eps * scale)[0])


def fraction_tolerance(ref_z, pred, eps=1e-4):
    """How many entries of a counted fraction float32 could flip: those with
    |z| within eps of the threshold (pred gives the distance)."""
    return int(np.sum(np.abs(pred) <= eps))


def compare_diagnostics(got, ref, what="diagnostics", check_grads=True, has_units_list=True):
    """got: diagnostics dict in the names of mlp_diagnostics / DESIGN.md."""
    want = ref["diagnostics"]
    gl, wl = got["layers"], want["layers"]
    assert len(gl) == len(wl), f"{what}: {len(gl)} layers, expected {len(wl)}"
    total_dead_slack = 0
    for l, (g, w) in enumerate(zip(gl, wl)):
        where = f"{what}.layers[{l}]"
        assert g["index"] == l, f"{where}.index = {g['index']}"
        assert g["units"] == w["units"], f"{where}.units = {g['units']}, expected {w['units']}"
        assert g["activation"] == w["activation"], f"{where}.activation = {g['activation']}"
        # mean_activation is reported on every layer (mlp.h), output included.
        assert "mean_activation" in g, f"{where}: no mean_activation"
        if g["mean_activation"] is None:  # JSON null: the server's NaN or infinity
            assert not math.isfinite(w["mean_activation"]), \
                f"{where}.mean_activation null, expected {w['mean_activation']}"
        else:
            assert_close(g["mean_activation"], w["mean_activation"], f"{where}.mean_activation",
                         atol_min=1e-6)
        assert g["nonfinite_units"] == w["nonfinite_units"], \
            f"{where}.nonfinite_units = {g['nonfinite_units']}, expected {w['nonfinite_units']}"
        if w["relu_stats"]:
            amb = ambiguous_units(ref, l)
            total_dead_slack += len(amb)
            assert "dead_fraction" in g, f"{where}: no dead_fraction on a {w['activation']} layer"
            if has_units_list:
                gs, ws = set(g["dead_units"]), set(w["dead_units"])
                assert gs ^ ws <= amb, f"{where}.dead_units = {sorted(gs)}, expected {sorted(ws)}"
                assert g["dead_units"] == sorted(g["dead_units"]), f"{where}.dead_units unsorted"
                if "n_dead" in g:
                    assert g["n_dead"] == len(g["dead_units"])
                assert np.float32(g["dead_fraction"]) == \
                    np.float32(len(g["dead_units"]) / w["units"]), \
                    f"{where}.dead_fraction {g['dead_fraction']} disagrees with its dead_units"
            assert abs(g["dead_fraction"] - w["dead_fraction"]) <= \
                (len(amb) + 1e-3) / w["units"], \
                f"{where}.dead_fraction = {g['dead_fraction']}, expected {w['dead_fraction']}"
            zl = ref["z"][l]
            flip = fraction_tolerance(zl, zl, 1e-4 * max(1.0, float(np.max(np.abs(zl)))))
            assert abs(g["sparsity"] - w["sparsity"]) <= (flip + 1e-3) / zl.size, \
                f"{where}.sparsity = {g['sparsity']}, expected {w['sparsity']}"
        else:
            for k in ("dead_fraction", "dead_units", "sparsity"):
                assert k not in g, \
                    f"{where}: {k} reported on a {w['activation']} layer"
        if w["saturation_stats"]:
            assert "saturated_fraction" in g, f"{where}: no saturated_fraction"
            a = ref["a"][l]
            d = a * (1 - a) if w["activation"] == "sigmoid" else 1 - a * a
            flip = int(np.sum(np.abs(np.abs(d) - 0.01) <= 1e-5))
            assert abs(g["saturated_fraction"] - w["saturated_fraction"]) <= \
                (flip + 1e-3) / a.size, \
                f"{where}.saturated_fraction = {g['saturated_fraction']}, " \
                f"expected {w['saturated_fraction']}"
        else:
            assert "saturated_fraction" not in g, \
                f"{where}: saturated_fraction on a {w['activation']} layer"
        if check_grads:
            for k in ("weight_grad_norm", "bias_grad_norm", "activation_grad_norm"):
                assert_close(g[k], w[k], f"{where}.{k}")
    units = sum(w["units"] for w in wl if w["relu_stats"])
    slack = (total_dead_slack + 1e-3) / units if units else 1e-6
    assert abs(got["dead_fraction"] - want["dead_fraction"]) <= slack, \
        f"{what}.dead_fraction = {got['dead_fraction']}, expected {want['dead_fraction']}"
    assert got["nonfinite"] == want["nonfinite"], \
        f"{what}.nonfinite = {got['nonfinite']}, expected {want['nonfinite']}"
    if total_dead_slack == 0:
        assert got["collapsed"] == want["collapsed"], \
            f"{what}.collapsed = {got['collapsed']}, expected {want['collapsed']}"
    if check_grads:
        gr, wr = _numeric(got["gradient_ratio"]), want["gradient_ratio"]
        if gr is None:  # JSON has neither infinity nor NaN; the server writes null
            assert not math.isfinite(wr), f"{what}.gradient_ratio null, expected {wr}"
            gr = wr
        assert_close(gr, wr, f"{what}.gradient_ratio")
        near_threshold = 0.9e-3 <= wr <= 1.1e-3 or 0.9e3 <= wr <= 1.1e3
        if not near_threshold:
            assert got["vanishing"] == want["vanishing"], f"{what}.vanishing"
            assert got["exploding"] == want["exploding"], f"{what}.exploding"
