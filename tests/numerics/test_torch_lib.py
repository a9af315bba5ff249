"""libmlp against PyTorch autograd: outputs, losses, every gradient and every
diagnostic field, for random models of several depths and activations.

libmlp is driven through tests/tools/mlp_eval (path: env MLP_EVAL, default
$RELUSERVE_BUILD/tools/mlp_eval, RELUSERVE_BUILD defaulting to build). Run:  /usr/bin/python3 -m pytest tests/numerics -q
"""

import itertools
import math
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
import mlpref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def eval_binary():
    build = os.environ.get("RELUSERVE_BUILD", "build")
    path = os.environ.get("MLP_EVAL", os.path.join(build, "tools", "mlp_eval"))
    if not os.path.isabs(path):
        path = os.path.join(ROOT, path)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not built (make build/tools/mlp_eval, or set MLP_EVAL)")
    return path


def run_eval(tmp_path, model_path, x, **request):
    req = {"x": np.asarray(x, dtype=np.float64).tolist()}
    for k, v in request.items():
        req[k] = v.tolist() if isinstance(v, np.ndarray) else v
    req_path = tmp_path / "request.json"
    req_path.write_text(json.dumps(req))
    p = subprocess.run([eval_binary(), str(model_path), str(req_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"mlp_eval failed ({p.returncode}): {p.stderr}"
    return json.loads(p.stdout)


def write(tmp_path, model):
    path = tmp_path / "model.json"
    mlpref.write_model(model, path)
    return path


def compare_all(got, ref, with_grads=True, norms_only=False):
    mlpref.assert_close(got["outputs"], ref["outputs"], "outputs")
    if not with_grads:
        return
    assert got["status"] == "ok", got
    if ref["loss"] is None:
        assert mlpref._numeric(got["loss"]) != mlpref._numeric(got["loss"]), \
            f"loss without a target should be NaN, got {got['loss']}"
    else:
        mlpref.assert_close(got["loss"], ref["loss"], "loss")
        assert got["diagnostics"]["has_loss"] is True
        mlpref.assert_close(got["diagnostics"]["loss"], ref["loss"], "diagnostics.loss")
    for l, (g, w) in enumerate(zip(got["param_grads"], ref["param_grads"])):
        mlpref.assert_close(g["weight"], w["weight"], f"layer {l} weight grad")
        mlpref.assert_close(g["bias"], w["bias"], f"layer {l} bias grad")
    # norms-only backward (the server's mode) keeps no gradient array, only norms
    assert len(got["param_grads"]) == (0 if norms_only else len(ref["param_grads"]))
    mlpref.assert_close(got["input_gradient"], ref["input_gradient"], "input gradient")
    d = got["diagnostics"]
    assert d["has_gradients"] is True
    assert d["rows"] == ref["diagnostics"]["rows"]
    mlpref.assert_close(d["input_gradient"], ref["input_gradient"], "diagnostics.input_gradient")
    mlpref.compare_diagnostics(d, ref)


# ------------------------------------------------- the random model matrix

LASTS = [("identity", "regression"), ("softmax", "classification"),
         ("identity", "classification"), ("sigmoid", "regression"),
         ("sigmoid", "classification")]
TARGETS = ["none", "labels", "targets"]
ROWS = [1, 5, 33, 70]
KERNELS = ["auto", "portable", "native", "blas"]


def matrix_cases():
    cases = []
    for i, (depth, act) in enumerate(itertools.product([1, 2, 3, 5], mlpref.HIDDEN_ACTS)):
        last, task = LASTS[i % len(LASTS)]
        target = TARGETS[i % len(TARGETS)]
        if target == "labels" and task == "regression":
            target = "targets"
        cases.append(pytest.param(
            dict(seed=1000 + i, depth=depth, act=act, last=last, task=task, target=target,
                 standardize=bool(i % 2), rows=ROWS[i % len(ROWS)],
                 kernel=KERNELS[(i // 2) % len(KERNELS)]),
            id=f"d{depth}-{act}-{last}-{task[:5]}-{target}-r{ROWS[i % len(ROWS)]}"
               f"{'-std' if i % 2 else ''}-{KERNELS[(i // 2) % len(KERNELS)]}"))
    return cases


@pytest.mark.parametrize("mode", ["full", "norms_only"])
@pytest.mark.parametrize("case", matrix_cases())
def test_random_model_matches_torch(tmp_path, case, mode):
    rng = np.random.default_rng(case["seed"])
    n_in = int(rng.integers(2, 12))
    hidden = [int(rng.integers(3, 24)) for _ in range(case["depth"])]
    n_out = int(rng.integers(2, 6))
    model = mlpref.random_model(rng, n_in, hidden, n_out, hidden_act=case["act"],
                                last_act=case["last"], task=case["task"],
                                alpha=float(rng.uniform(0.01, 0.3)),
                                standardize=case["standardize"],
                                dead_units=2 if case["act"] in mlpref.RELU_FAMILY else 0)
    rows = case["rows"]
    x = mlpref.random_inputs(rng, model, rows)
    req = {"kernel": case["kernel"], "param_grads": mode == "full"}
    labels = targets = None
    if case["target"] == "labels":
        labels = [int(v) for v in rng.integers(0, n_out, rows)]
        req["labels"] = labels
    elif case["target"] == "targets":
        if case["task"] == "classification":
            t = rng.uniform(0.0, 1.0, (rows, n_out)).astype(np.float32)
            t = (t / t.sum(axis=1, keepdims=True)).astype(np.float32)
        else:
            t = rng.normal(0.0, 1.0, (rows, n_out)).astype(np.float32)
        targets = t.astype(np.float64)
        req["targets"] = targets
    got = run_eval(tmp_path, write(tmp_path, model), x, **req)
    ref = mlpref.reference(model, x, labels=labels, targets=targets)
    compare_all(got, ref, norms_only=mode == "norms_only")


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_mixed_activations_and_dead_units(tmp_path, act):
    """Every hidden activation in one network, ReLU-family layers with dead units."""
    rng = np.random.default_rng(7)
    acts = [act, "tanh", act, "sigmoid", "identity"]
    model = mlpref.random_model(rng, 6, [16, 12, 10, 8, 8], 4, hidden_act=acts,
                                last_act="softmax", dead_units=3, alpha=0.05)
    x = mlpref.random_inputs(rng, model, 17)
    labels = [int(v) for v in rng.integers(0, 4, 17)]
    got = run_eval(tmp_path, write(tmp_path, model), x, labels=labels)
    ref = mlpref.reference(model, x, labels=labels)
    assert ref["diagnostics"]["layers"][0]["n_dead"] >= 3  # the test means something
    compare_all(got, ref)


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_relu_derivative_at_zero_is_pytorchs(tmp_path, act):
    """Zero biases and all-zero input rows make Z of layer 0 exactly 0:
    ReLU'(0) = 0 and leaky ReLU'(0) = alpha, as in PyTorch."""
    rng = np.random.default_rng(11)
    model = mlpref.random_model(rng, 5, [8, 8], 3, hidden_act=act, last_act="softmax",
                                zero_bias=True, alpha=0.125)
    x = mlpref.random_inputs(rng, model, 4, zero_rows=4)
    labels = [0, 1, 2, 1]
    got = run_eval(tmp_path, write(tmp_path, model), x, labels=labels)
    ref = mlpref.reference(model, x, labels=labels)
    assert np.all(ref["z"][0] == 0)
    compare_all(got, ref)
    if act == "relu":
        # every unit dead (Z <= 0 on all rows), sparsity 1, input gradient exactly 0
        d = got["diagnostics"]
        assert d["layers"][0]["dead_fraction"] == 1.0
        assert d["layers"][0]["sparsity"] == 1.0
        assert d["collapsed"] is True
        assert np.all(np.asarray(got["input_gradient"]) == 0.0)


def test_collapsed_network_vanishing(tmp_path):
    """A hidden layer with all biases -1e3 is entirely dead: collapsed, first
    layer gradient 0, gradient_ratio 0 → vanishing."""
    rng = np.random.default_rng(12)
    model = mlpref.random_model(rng, 4, [10, 10, 10], 3, last_act="softmax", dead_layer=1)
    x = mlpref.random_inputs(rng, model, 9)
    got = run_eval(tmp_path, write(tmp_path, model), x, labels=[0, 1, 2] * 3)
    ref = mlpref.reference(model, x, labels=[0, 1, 2] * 3)
    compare_all(got, ref)
    d = got["diagnostics"]
    assert d["collapsed"] is True
    assert d["layers"][1]["dead_fraction"] == 1.0
    assert d["layers"][1]["dead_units"] == list(range(10))
    assert float(d["gradient_ratio"]) == 0.0
    assert d["vanishing"] is True and d["exploding"] is False


def test_backward_over_a_row_range_equals_those_rows_alone(tmp_path):
    """mlp_backward(row0, n) must give what forwarding those rows alone gives
    (the batcher's exactness rests on it)."""
    rng = np.random.default_rng(13)
    model = mlpref.random_model(rng, 7, [20, 15], 4, last_act="softmax", dead_units=2,
                                standardize=True)
    x = mlpref.random_inputs(rng, model, 40)
    labels = [int(v) for v in rng.integers(0, 4, 12)]
    got = run_eval(tmp_path, write(tmp_path, model), x, row0=25, rows=12, labels=labels)
    mlpref.assert_close(got["outputs"], mlpref.reference(model, x)["outputs"], "outputs")
    ref = mlpref.reference(model, x[25:37], labels=labels)
    got["outputs"] = got["outputs"][25:37]
    compare_all(got, ref)


@pytest.mark.parametrize("param_grads", [False, True])
@pytest.mark.parametrize("task", ["classification", "regression", "binary"])
def test_backward_ranges_match_torch_per_range(tmp_path, task, param_grads):
    """mlp_backward_ranges (the server's merged batch): every range, with its
    own target or none, its own row count, with or without dg/dX, gets what
    PyTorch computes for those rows alone."""
    rng = np.random.default_rng(17)
    n_out = {"classification": 4, "regression": 3, "binary": 1}[task]
    last = {"classification": "softmax", "regression": "identity", "binary": "identity"}[task]
    model = mlpref.random_model(rng, 9, [24, 18], n_out, last_act=last,
                                task="regression" if task == "regression" else "classification",
                                dead_units=2, standardize=True)
    x = mlpref.random_inputs(rng, model, 40)
    # (row0, rows, target, input_grad): gaps at rows 4-5 and 37-39
    spans = [(0, 3, "labels", True), (3, 1, "none", False), (6, 6, "targets", False),
             (12, 1, "labels", True), (13, 7, "none", True), (20, 17, "targets", True)]
    ranges, refs = [], []
    for row0, n, kind, grad in spans:
        r = {"row0": row0, "rows": n, "input_grad": grad}
        labels = targets = None
        if kind == "labels" and task != "regression":
            labels = [int(v) for v in rng.integers(0, max(n_out, 2), n)]
            r["labels"] = labels
        elif kind != "none":
            t = rng.uniform(0.0, 1.0, (n, n_out))
            if task == "classification":
                t = t / t.sum(axis=1, keepdims=True)
            targets = t.astype(np.float32).astype(np.float64)
            r["targets"] = targets.tolist()
        ranges.append(r)
        refs.append(mlpref.reference(model, x[row0:row0 + n], labels=labels, targets=targets))
    got = run_eval(tmp_path, write(tmp_path, model), x, ranges=ranges, param_grads=param_grads)
    assert got["status"] == "ok", got
    mlpref.assert_close(got["outputs"], mlpref.reference(model, x)["outputs"], "outputs")
    for k, (r, ref, g) in enumerate(zip(ranges, refs, got["ranges"])):
        d = g["diagnostics"]
        assert d["rows"] == r["rows"]
        if ref["loss"] is None:
            assert d["has_loss"] is False
        else:
            mlpref.assert_close(g["loss"], ref["loss"], f"range {k} loss")
            mlpref.assert_close(d["loss"], ref["loss"], f"range {k} diagnostics.loss")
        if r["input_grad"]:
            mlpref.assert_close(d["input_gradient"], ref["input_gradient"],
                                f"range {k} input gradient")
        else:
            assert "input_gradient" not in d
        mlpref.compare_diagnostics(d, ref, what=f"range {k} diagnostics")


def test_forward_only_diagnostics_cover_all_rows(tmp_path):
    rng = np.random.default_rng(14)
    model = mlpref.random_model(rng, 5, [12, 9], 3, hidden_act="relu", last_act="identity",
                                dead_units=2)
    x = mlpref.random_inputs(rng, model, 21)
    got = run_eval(tmp_path, write(tmp_path, model), x, backward=False)
    ref = mlpref.reference(model, x)
    mlpref.assert_close(got["outputs"], ref["outputs"], "outputs")
    d = got["diagnostics"]
    assert d["has_gradients"] is False
    assert d["rows"] == 21
    mlpref.compare_diagnostics(d, ref, check_grads=False)


def test_labels_out_of_range_is_an_error_not_a_crash(tmp_path):
    rng = np.random.default_rng(15)
    model = mlpref.random_model(rng, 3, [4], 3, last_act="softmax")
    x = mlpref.random_inputs(rng, model, 2)
    for bad in ([0, 3], [-1, 0]):
        got = run_eval(tmp_path, write(tmp_path, model), x, labels=bad)
        assert got["status"] != "ok", f"labels {bad} accepted"


def test_float32_reference_agrees_too(tmp_path):
    """The same comparison against a float32 PyTorch run: the tolerance is
    about float32 rounding, not about precision libmlp lacks."""
    rng = np.random.default_rng(16)
    model = mlpref.random_model(rng, 10, [32, 32, 32], 5, last_act="softmax", dead_units=4)
    x = mlpref.random_inputs(rng, model, 50)
    labels = [int(v) for v in rng.integers(0, 5, 50)]
    got = run_eval(tmp_path, write(tmp_path, model), x, labels=labels)
    ref32 = mlpref.reference(model, x, labels=labels, dtype=torch.float32)
    compare_all(got, ref32)


@pytest.mark.parametrize("kernel", ["portable", "native", "blas", "auto"])
def test_wide_model_both_kernels(tmp_path, kernel):
    rng = np.random.default_rng(17)
    model = mlpref.random_model(rng, 64, [128, 96], 10, last_act="softmax", dead_units=5,
                                standardize=True)
    x = mlpref.random_inputs(rng, model, 130)
    labels = [int(v) for v in rng.integers(0, 10, 130)]
    got = run_eval(tmp_path, write(tmp_path, model), x, labels=labels, kernel=kernel)
    compare_all(got, mlpref.reference(model, x, labels=labels))


def test_tolerance_catches_a_wrong_value():
    """The comparison must be able to fail: a single perturbed element of a
    gradient fails it, a float32 rounding of the same tensor passes."""
    rng = np.random.default_rng(18)
    w = rng.normal(size=(20, 30))
    mlpref.assert_close(w.astype(np.float32), w, "rounded")
    bad = w.copy()
    bad[3, 4] *= 1.001
    with pytest.raises(AssertionError):
        mlpref.assert_close(bad, w, "perturbed")


# ------------------------------------------------------------ safetensors

def _bf16_bytes(a):
    """float32 values already representable in bfloat16 -> their upper halves."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4")
    return (u >> 16).astype("<u2").tobytes()


def _round_to(a, dtype):
    a = np.asarray(a, np.float32)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    if dtype == "BF16":  # round to nearest even on the upper 16 bits
        u = a.view(np.uint32).astype(np.uint64)
        u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
        return u.astype(np.uint32).view(np.float32)
    return a


def safetensors_bytes(tensors, dtype):
    """tensors: [(name, np.ndarray)] in order. The format: u64 little-endian
    header length, the JSON header {name: {dtype, shape, data_offsets}}, the
    raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        if dtype == "BF16":
            raw = _bf16_bytes(arr)
        else:
            np_dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}[dtype]
            raw = np.ascontiguousarray(arr, dtype=np_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16", "F64"])
def test_safetensors_from_a_torch_state_dict(tmp_path, dtype):
    """A torch.nn.Sequential's state_dict written as safetensors by hand, with
    the config.json of lib/io_safetensors.c / docs/model-formats.md: outputs,
    loss and every gradient equal PyTorch's."""
    rng = np.random.default_rng(19)
    torch.manual_seed(5)
    seq = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.LeakyReLU(0.125),
                              torch.nn.Linear(16, 12), torch.nn.ReLU(),
                              torch.nn.Linear(12, 3))
    # the parameters at the file's precision, so both sides use the same numbers
    with torch.no_grad():
        for p in seq.parameters():
            p.copy_(torch.tensor(_round_to(p.numpy(), dtype)))
    prefix = "net." if dtype == "F16" else ""  # a Sequential stored as attribute `net`
    tensors = [(prefix + k, v.numpy()) for k, v in seq.state_dict().items()]
    (tmp_path / "model.safetensors").write_bytes(safetensors_bytes(tensors, dtype))
    mean = rng.normal(size=6).astype(np.float32).astype(np.float64).tolist()
    std = rng.uniform(0.5, 2, size=6).astype(np.float32).astype(np.float64).tolist()
    config = {"name": "seq", "task": "classification",
              "input": {"name": "input", "size": 6, "mean": mean, "std": std},
              "output": {"name": "output", "labels": ["a", "b", "c"]},
              "activations": ["leaky_relu", "relu", "softmax"], "alpha": [0.125, None, None]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    # the same model in the native JSON form, for the reference
    lin = [m for m in seq if isinstance(m, torch.nn.Linear)]
    model = {"task": "classification", "input": {"size": 6, "mean": mean, "std": std},
             "output": {"name": "output"},
             "layers": [{"units": m.out_features, "activation": a, "alpha": 0.125,
                         "weight": m.weight.detach().numpy().astype(np.float64).tolist(),
                         "bias": m.bias.detach().numpy().astype(np.float64).tolist()}
                        for m, a in zip(lin, ["leaky_relu", "relu", "softmax"])]}
    x = mlpref.random_inputs(rng, model, 9)
    labels = [int(v) for v in rng.integers(0, 3, 9)]
    got = run_eval(tmp_path, tmp_path / "model.safetensors", x, labels=labels)
    compare_all(got, mlpref.reference(model, x, labels=labels))
    with torch.no_grad():
        xs = (torch.tensor(x, dtype=torch.float64) - torch.tensor(mean, dtype=torch.float64)) \
            / torch.tensor(std, dtype=torch.float64)
        want = torch.softmax(seq.double()(xs), dim=1)
    mlpref.assert_close(got["outputs"], want.numpy(), "outputs vs the torch module itself")


def test_safetensors_truncated_file_is_refused(tmp_path):
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    data = safetensors_bytes([(k, v.numpy()) for k, v in seq.state_dict().items()], "F32")
    (tmp_path / "config.json").write_text(json.dumps(
        {"task": "regression", "input": {"name": "input"}, "output": {"name": "output"},
         "activations": ["relu", "identity"]}))
    (tmp_path / "model.safetensors").write_bytes(data[:-5])
    (tmp_path / "request.json").write_text('{"x": [[1, 2, 3]]}')
    p = subprocess.run([eval_binary(), str(tmp_path / "model.safetensors"),
                        str(tmp_path / "request.json")], capture_output=True, text=True)
    assert p.returncode != 0 and "model.safetensors" in p.stderr, p.stderr


@pytest.mark.parametrize("target", ["labels", "targets"])
def test_huge_logits_stay_finite_and_exact(tmp_path, target):
    """Inputs x1000 push logits to ~1e3: softmax and cross-entropy must be
    computed stably (log-sum-exp), as PyTorch does, not overflow to inf/NaN."""
    rng = np.random.default_rng(21)
    model = mlpref.random_model(rng, 5, [16, 16], 4, last_act="softmax")
    x = (mlpref.random_inputs(rng, model, 8) * 1000).astype(np.float32)
    req, labels, targets = {}, None, None
    if target == "labels":
        labels = [int(v) for v in rng.integers(0, 4, 8)]
        req["labels"] = labels
    else:
        t = rng.uniform(0, 1, (8, 4)).astype(np.float32)
        targets = (t / t.sum(1, keepdims=True)).astype(np.float32).astype(np.float64)
        req["targets"] = targets
    got = run_eval(tmp_path, write(tmp_path, model), x, **req)
    ref = mlpref.reference(model, x, labels=labels, targets=targets)
    assert np.all(np.isfinite(np.asarray(got["outputs"], dtype=np.float64)))
    assert math.isfinite(float(got["loss"]))
    compare_all(got, ref)


def test_saturated_sigmoid_and_tanh_layers(tmp_path):
    """Large pre-activations saturate sigmoid/tanh: saturated_fraction near 1,
    gradients tiny but still PyTorch's."""
    rng = np.random.default_rng(22)
    model = mlpref.random_model(rng, 4, [12, 12], 2, hidden_act=["sigmoid", "tanh"],
                                last_act="sigmoid", task="regression")
    x = (mlpref.random_inputs(rng, model, 10) * 30).astype(np.float32)
    t = rng.uniform(0, 1, (10, 2)).astype(np.float32).astype(np.float64)
    got = run_eval(tmp_path, write(tmp_path, model), x, targets=t)
    ref = mlpref.reference(model, x, targets=t)
    assert ref["diagnostics"]["layers"][0]["saturated_fraction"] > 0.5
    compare_all(got, ref)


def inf_minus_inf_model(w, out_bias):
    """x -> relu([w·x, w·x]) -> relu(h0 - h1) -> + out_bias: once w·x overflows
    float32 the middle unit computes inf - inf = NaN."""
    return {"format": "reluserve-mlp", "version": 1, "name": "ovf", "task": "regression",
            "input": {"name": "input", "size": 1}, "output": {"name": "output"},
            "layers": [
                {"units": 2, "activation": "relu", "weight": [[w], [w]], "bias": [0.0, 0.0]},
                {"units": 1, "activation": "relu", "weight": [[1.0, -1.0]], "bias": [0.0]},
                {"units": 1, "activation": "identity", "weight": [[1.0]], "bias": [out_bias]}]}


def test_relu_propagates_nan_like_pytorch(tmp_path):
    """A hidden overflow (inputs near FLT_MAX are legal requests) turns Z into
    inf, the next layer into inf - inf = NaN. torch.relu(NaN) is NaN, so
    PyTorch's output is NaN; a ReLU that maps NaN to 0 would hide the
    overflow behind a finite, wrong answer."""
    model = inf_minus_inf_model(10.0, 0.5)
    x = np.array([[3e38], [1.0]], dtype=np.float32)
    ref = mlpref.reference(model, x, dtype=torch.float32)
    want = np.asarray(ref["outputs"], dtype=np.float64)
    assert math.isnan(want[0, 0]) and want[1, 0] == 0.5  # what PyTorch says
    for kernel in ("portable", "native", "blas"):
        got = run_eval(tmp_path, write(tmp_path, model), x, backward=False, kernel=kernel)
        out = [[mlpref._numeric(v) for v in row] for row in got["outputs"]]
        assert math.isnan(out[0][0]), (kernel, out)
        assert out[1][0] == 0.5, (kernel, out)


@pytest.mark.parametrize("param_grads", [True, False])
def test_nan_last_layer_gradient_gives_nan_ratio_not_exploding(tmp_path, param_grads):
    """Z_0 overflows to inf (a legal input near FLT_MAX), so dg/dW of the last
    layer holds inf·0 = NaN while the first layer's gradient stays finite.
    PyTorch's ||dW_last|| is NaN, so first/last is NaN: no vanishing or
    exploding verdict, in both gradient modes (the Gram route of norms-only
    mode cannot see the inf·0 products by itself)."""
    model = {"format": "reluserve-mlp", "version": 1, "name": "ovf", "task": "regression",
             "input": {"name": "input", "size": 1}, "output": {"name": "output"},
             "layers": [
                 {"units": 1, "activation": "relu", "weight": [[1e30]], "bias": [0.0]},
                 {"units": 2, "activation": "identity", "weight": [[1.0], [-1.0]],
                  "bias": [0.0, 0.0]}]}
    # Z_0 = 1e30 * 1e10 overflows float32 (1e40); dg/dW_0 = x = 1e10 is finite
    x = np.array([[1e10]], dtype=np.float32)
    ref = mlpref.reference(model, x, dtype=torch.float32)["diagnostics"]
    assert math.isnan(ref["layers"][1]["weight_grad_norm"])  # what PyTorch says
    assert math.isfinite(ref["layers"][0]["weight_grad_norm"])
    assert math.isnan(ref["gradient_ratio"]) and not ref["vanishing"] and not ref["exploding"]
    got = run_eval(tmp_path, write(tmp_path, model), x, param_grads=param_grads)
    d = got["diagnostics"]
    assert math.isnan(mlpref._numeric(d["layers"][1]["weight_grad_norm"])), d["layers"][1]
    mlpref.assert_close(d["layers"][0]["weight_grad_norm"], ref["layers"][0]["weight_grad_norm"],
                        "first layer weight_grad_norm")
    assert math.isnan(mlpref._numeric(d["gradient_ratio"])), d
    assert not d["vanishing"] and not d["exploding"], d


@pytest.mark.parametrize("param_grads", [True, False])
def test_relu_backward_through_nan_like_pytorch(tmp_path, param_grads):
    """Z_0 = 1e30 * 1e10 overflows to inf, Z_1 = inf - inf = NaN. torch.relu's
    backward lets the gradient through a NaN (it masks where the result is
    <= 0, and NaN is not), so dg/dW_0 is finite and non-zero in PyTorch;
    blocking it at the NaN unit would report a zero first-layer gradient."""
    model = inf_minus_inf_model(1e30, 0.0)
    x = np.array([[1e10]], dtype=np.float32)
    ref = mlpref.reference(model, x, dtype=torch.float32)
    want = [d["weight_grad_norm"] for d in ref["diagnostics"]["layers"]]
    assert math.isfinite(want[0]) and want[0] > 0 and math.isinf(want[1])  # PyTorch's
    got = run_eval(tmp_path, write(tmp_path, model), x, param_grads=param_grads)
    layers = got["diagnostics"]["layers"]
    mlpref.assert_close(layers[0]["weight_grad_norm"], want[0], "layer 0 weight_grad_norm")
    assert math.isinf(mlpref._numeric(layers[1]["weight_grad_norm"])), layers[1]
    assert math.isnan(mlpref._numeric(layers[2]["weight_grad_norm"])), layers[2]
    mlpref.assert_close(got["input_gradient"], ref["input_gradient"], "input_gradient")
