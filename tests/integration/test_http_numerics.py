"""Over HTTP, outputs and every diagnostic field match PyTorch autograd; the
extensions (outputs selection, classification, binary tensors) are exact."""

import json
import re
import zlib

import numpy as np
import pytest

import helpers
from helpers import post

import mlpref

CASES = [  # model, target, diagnostics level
    ("tiny", "none", "summary"), ("tiny", "labels", "full"), ("tiny", "targets", "full"),
    ("tiny", "labels", "none"), ("deep", "none", "full"), ("deep", "labels", "summary"),
    ("deep", "targets", "full"), ("reg", "targets", "full"), ("reg", "none", "summary"),
    ("sig", "targets", "full"), ("sig", "none", "full"), ("dead", "labels", "full"),
    ("dead", "none", "summary"),
]


def make_request(models, name, target, rows, seed):
    return helpers.random_request(models, name, target, rows, np.random.default_rng(seed))


@pytest.mark.parametrize("name,target,diag", CASES,
                         ids=[f"{m}-{t}-{d}" for m, t, d in CASES])
@pytest.mark.parametrize("rows", [1, 9])
def test_v2_matches_torch(port, models, name, target, diag, rows):
    model, version, x, labels, targets = make_request(models, name, target, rows,
                                                      zlib.crc32(f"{name}{target}{diag}{rows}".encode()))
    body = helpers.v2_body(x, labels=labels, targets=targets,
                           diag=None if diag == "summary" else diag)
    r = post(port, f"/v2/models/{name}/infer", body)
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), model, x, name, version, labels=labels, targets=targets,
                              diag=diag)


def test_dead_model_reports_collapse(port, models):
    model, version, x, labels, _ = make_request(models, "dead", "labels", 5, 3)
    r = post(port, "/v2/models/dead/infer", helpers.v2_body(x, labels=labels, diag="full"))
    d = r.json()["diagnostics"]
    assert d["collapsed"] is True
    assert d["layers"][1]["dead_fraction"] == 1.0
    assert d["layers"][1]["dead_units"] == list(range(8))
    assert d["vanishing"] is True


def test_nested_data_accepted(port, models):
    x = [[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
    body = {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": x}]}
    r = post(port, "/v2/models/tiny/infer", body)
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), models["tiny"]["1"], x, "tiny", "1")


@pytest.mark.parametrize("dtype", ["FP64", "INT32", "INT64", "UINT8", "INT8", "FP32"])
def test_datatypes_converted_to_float(port, models, dtype):
    x = [[1, 2, 3, 4], [0, 5, 7, 1]]
    body = helpers.v2_body(np.asarray(x), datatype=dtype)
    r = post(port, "/v2/models/tiny/infer", body)
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), models["tiny"]["1"], x, "tiny", "1")


def test_bool_datatype(port, models):
    body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "BOOL",
                        "data": [True, False, True, True]}]}
    r = post(port, "/v2/models/tiny/infer", body)
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), models["tiny"]["1"], [[1, 0, 1, 1]], "tiny", "1")


def test_outputs_selection_diagnostic_tensors(port, models):
    model = models["deep"]["1"]
    rng = np.random.default_rng(5)
    x = mlpref.random_inputs(rng, model, 6)
    labels = [int(v) for v in rng.integers(0, 4, 6)]
    names = ["input_gradient", "layer_dead_fraction", "layer_sparsity", "layer_weight_grad_norm",
             "layer_bias_grad_norm", "layer_activation_grad_norm", "dead_fraction", "loss"]
    body = helpers.v2_body(x, labels=labels, outputs=[{"name": n} for n in names])
    r = post(port, "/v2/models/deep/infer", body)
    assert r.status == 200, r
    doc = r.json()
    got = {o["name"]: o for o in doc["outputs"]}
    assert "output" not in got, "primary output returned though not asked for"
    assert set(got) == set(names), set(got)
    ref = mlpref.reference(model, x, labels=labels)
    rl = ref["diagnostics"]["layers"]
    L = len(rl)
    mlpref.assert_close(helpers.tensor_array(got["input_gradient"]), ref["input_gradient"],
                        "input_gradient tensor")
    for n, key in [("layer_weight_grad_norm", "weight_grad_norm"),
                   ("layer_bias_grad_norm", "bias_grad_norm"),
                   ("layer_activation_grad_norm", "activation_grad_norm")]:
        t = got[n]
        assert t["shape"] == [L], t["shape"]
        mlpref.assert_close(helpers.tensor_array(t), [d[key] for d in rl], n)
    for n, key in [("layer_dead_fraction", "dead_fraction"), ("layer_sparsity", "sparsity")]:
        a = helpers.tensor_array(got[n])
        assert a.shape == (L,)
        for l, d in enumerate(rl):
            if d["relu_stats"]:
                assert abs(a[l] - d[key]) < 1e-6, f"{n}[{l}] = {a[l]}, expected {d[key]}"
    mlpref.assert_close(helpers.tensor_array(got["dead_fraction"]).reshape(-1),
                        [ref["diagnostics"]["dead_fraction"]], "dead_fraction tensor")
    mlpref.assert_close(helpers.tensor_array(got["loss"]).reshape(-1), [ref["loss"]], "loss")


def test_outputs_selection_with_primary(port, models):
    x = [[1, 2, 3, 4]]
    body = helpers.v2_body(x, outputs=[{"name": "output"}, {"name": "input_gradient"}])
    r = post(port, "/v2/models/tiny/infer", body)
    assert r.status == 200, r
    doc = r.json()
    assert {o["name"] for o in doc["outputs"]} == {"output", "input_gradient"}
    ref = mlpref.reference(models["tiny"]["1"], np.asarray(x, np.float64))
    mlpref.assert_close(helpers.tensor_array(helpers.output_tensor(doc)), ref["outputs"], "out")
    mlpref.assert_close(helpers.tensor_array(helpers.output_tensor(doc, "input_gradient")),
                        ref["input_gradient"], "input_gradient (max-logit)")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_classification_extension_top_k(port, models, k):
    model = models["tiny"]["1"]
    rng = np.random.default_rng(k)
    x = mlpref.random_inputs(rng, model, 4)
    body = helpers.v2_body(x, outputs=[{"name": "output", "parameters": {"classification": k}}])
    r = post(port, "/v2/models/tiny/infer", body)
    assert r.status == 200, r
    out = helpers.output_tensor(r.json())
    assert out["datatype"] == "BYTES", out["datatype"]
    assert out["shape"] == [4, k], out["shape"]
    y = mlpref.reference(model, x)["outputs"]
    labels = model["output"]["labels"]
    data = np.asarray(out["data"]).reshape(4, k)
    for i in range(4):
        order = np.argsort(-y[i])[:k]
        for j in range(k):
            parts = data[i, j].split(":")
            assert len(parts) == 3, data[i, j]
            assert int(parts[1]) == order[j], f"row {i} rank {j}: {data[i, j]}, want {order[j]}"
            assert abs(float(parts[0]) - y[i, order[j]]) <= 1e-5 + 1e-4 * abs(y[i, order[j]])
            assert parts[2] == labels[order[j]]


def _split_binary_response(r):
    n = int(r.headers["inference-header-content-length"])
    return json.loads(r.body[:n]), r.body[n:]


def test_binary_request_json_response(port, models):
    x = np.array([[0.5, -1.5, 2.0, 3.25], [1, 0, 0, 1]], np.float32)
    body, hdrs = helpers.binary_body(x)
    r = post(port, "/v2/models/tiny/infer", body, headers=hdrs)
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), models["tiny"]["1"], x, "tiny", "1")


def test_binary_response_per_output(port, models):
    x = np.array([[0.5, -1.5, 2.0, 3.25], [1, 0, 0, 1], [0, 0, 0, 0]], np.float32)
    body, hdrs = helpers.binary_body(
        x, outputs=[{"name": "output", "parameters": {"binary_data": True}}])
    r = post(port, "/v2/models/tiny/infer", body, headers=hdrs)
    assert r.status == 200, r
    doc, tail = _split_binary_response(r)
    out = helpers.output_tensor(doc)
    size = out["parameters"]["binary_data_size"]
    assert size == 3 * 3 * 4 and len(tail) == size, (size, len(tail))
    assert "data" not in out
    y = np.frombuffer(tail, "<f4").reshape(3, 3)
    mlpref.assert_close(y, mlpref.reference(models["tiny"]["1"], x)["outputs"], "binary outputs")


def test_binary_data_output_for_all(port, models):
    x = np.array([[0.5, -1.5, 2.0, 3.25]], np.float32)
    body, hdrs = helpers.binary_body(x, params={"binary_data_output": True})
    r = post(port, "/v2/models/tiny/infer", body, headers=hdrs)
    assert r.status == 200, r
    doc, tail = _split_binary_response(r)
    out = helpers.output_tensor(doc)
    assert out["parameters"]["binary_data_size"] == len(tail) == 12
    mlpref.assert_close(np.frombuffer(tail, "<f4").reshape(1, 3),
                        mlpref.reference(models["tiny"]["1"], x)["outputs"], "binary outputs")


def test_binary_size_mismatch_is_400(port):
    x = np.ones((2, 4), np.float32)
    body, hdrs = helpers.binary_body(x)
    helpers.assert_error(post(port, "/v2/models/tiny/infer", body[:-4], headers=hdrs), 400,
                         "input 'input'")


def test_binary_header_length_past_body_is_400(port):
    x = np.ones((1, 4), np.float32)
    body, hdrs = helpers.binary_body(x)
    hdrs["Inference-Header-Content-Length"] = str(len(body) + 100)
    helpers.assert_error(post(port, "/v2/models/tiny/infer", body, headers=hdrs), 400)


@pytest.mark.parametrize("value", ["0", "+{n}", "00", "{n}.0", "0x{n}", "99999999999999999999999"])
def test_binary_header_length_must_be_plain_digits(port, value):
    """Inference-Header-Content-Length is the length of the JSON part: 0
    cannot be one (it used to be read as no header at all, and a JSON body
    was served), and only digits make a length, as in Content-Length (a
    leading '+' used to pass)."""
    body = json.dumps(helpers.v2_body([[1, 2, 3, 4]])).encode()
    value = value.format(n=len(body))
    r = post(port, "/v2/models/tiny/infer", body,
             headers={"Inference-Header-Content-Length": value,
                      "Content-Type": "application/json"})
    helpers.assert_error(r, 400, "Inference-Header-Content-Length",
                         "length in bytes of the request's JSON part",
                         f"from 1 to the body length {len(body)}", f"got '{value}'")


def test_binary_header_length_of_the_whole_body_is_served(port):
    body = json.dumps(helpers.v2_body([[1, 2, 3, 4]])).encode()
    for value in (str(len(body)), "00" + str(len(body))):
        r = post(port, "/v2/models/tiny/infer", body,
                 headers={"Inference-Header-Content-Length": value,
                          "Content-Type": "application/json"})
        assert r.status == 200, (value, r)


def test_float_text_round_trips_float32(port):
    """Outputs are written with the shortest text that reads back as the same
    float32 (not jansson's 17 digits): never more significant digits than
    numpy's shortest float32 repr of the same value."""
    r = post(port, "/v2/models/tiny/infer", helpers.v2_body([[0.3, 0.1, 0.7, 0.9],
                                                            [1.1, -2.3, 0.01, 5.5]]))
    assert r.status == 200, r

    def digits(t):
        mant = re.sub(r"[eE].*", "", t.strip()).replace("-", "").replace(".", "")
        return len(mant.strip("0")) or 1

    m = re.search(r'"data"\s*:\s*\[([^\]]*)\]', r.body.decode())
    for tok in m.group(1).split(","):
        shortest = repr(np.float32(float(tok)))
        shortest = re.sub(r"^np\.float32\((.*)\)$", r"\1", shortest)
        assert digits(tok) <= digits(shortest), f"{tok} is longer than {shortest}"


def test_preactivations_are_each_requests_own_z(port, models):
    # parameters.preactivations: diagnostics.preactivations[l] is Z_l of the
    # request's rows. Sent concurrently so the dynamic batcher may merge them:
    # each answer must still hold its own rows (the row offset into the batch).
    from concurrent.futures import ThreadPoolExecutor
    model = models["deep"]["1"]
    xs = [mlpref.random_inputs(np.random.default_rng(40 + i), model, 1 + i) for i in range(6)]

    def run(x):
        body = helpers.v2_body(x, diag="full")
        body["parameters"]["preactivations"] = True
        return post(port, "/v2/models/deep/infer", body)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(run, xs))
    for x, r in zip(xs, answers):
        assert r.status == 200, r
        ref = mlpref.reference(model, x)
        pre = r.json()["diagnostics"]["preactivations"]
        assert len(pre) == len(model["layers"])
        for l, t in enumerate(pre):
            units = len(model["layers"][l]["bias"])
            assert t["shape"] == [len(x), units]
            got = np.asarray(t["data"], dtype=np.float64).reshape(len(x), units)
            mlpref.assert_close(got, ref["z"][l], f"preactivations[{l}]")


def test_preactivations_need_full_diagnostics(port):
    body = helpers.v2_body([[1, 2, 3, 4]], diag="summary")
    body["parameters"]["preactivations"] = True
    r = post(port, "/v2/models/tiny/infer", body)
    helpers.assert_error(r, 400, "parameters.preactivations", "\"full\"")
