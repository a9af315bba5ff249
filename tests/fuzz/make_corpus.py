#!/usr/bin/python3
"""Regenerates the seed corpora of the model and file-format fuzz targets in
tests/fuzz/corpus/<target>/ (the request-decoder targets keep hand-written
seeds). Run from anywhere with Debian's interpreter:

    /usr/bin/python3 tests/fuzz/make_corpus.py

Seeds are small valid files (the bundled models shrunk to a few units, every
activation, dtype and optional field) and small invalid ones (each a different
way to be wrong), so the fuzzer starts next to every branch of the readers.
Deterministic: the same files every run. Layouts are those of the targets:
model.json as is; "<config.json>\\0<model.safetensors>"; "<config.json or
nothing>\\0<model.onnx>"; a CSV file as is; a models/<name>/config.json as is.
"""
import glob
import json
import os
import shutil
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def shrink(model, keep):
    """The model with only the first `keep` units of every hidden layer."""
    m = json.loads(json.dumps(model))
    layers = m["layers"]
    for i, ly in enumerate(layers):
        if i > 0:  # drop the columns of the units removed from the layer before
            ly["weight"] = [row[: layers[i - 1]["units"]] for row in ly["weight"]]
        if i < len(layers) - 1:
            ly["units"] = keep
            ly["weight"] = ly["weight"][:keep]
            ly["bias"] = ly["bias"][:keep]
    return m


def dumps(m):
    return json.dumps(m, separators=(",", ":"))


def tiny(acts, n_in=2, units=None, task=None, **extra):
    """A small model with fixed weights: one layer per activation."""
    units = units or [3] * (len(acts) - 1) + [2]
    layers, k = [], n_in
    for i, (a, u) in enumerate(zip(acts, units)):
        ly = {
            "units": u,
            "activation": a,
            "weight": [[round(0.25 * (r - c) + 0.125 * i, 3) for c in range(k)] for r in range(u)],
            "bias": [round(0.1 * r - 0.05, 3) for r in range(u)],
        }
        if a == "leaky_relu":
            ly["alpha"] = 0.2
        layers.append(ly)
        k = u
    m = {
        "format": "reluserve-mlp",
        "version": 1,
        "name": "tiny",
        "task": task or ("classification" if acts[-1] == "softmax" else "regression"),
        "input": {"name": "x", "size": n_in},
        "output": {"name": "y"},
        "layers": layers,
    }
    for key, v in extra.items():
        if key in ("mean", "std"):
            m["input"][key] = v
        elif key == "labels":
            m["output"]["labels"] = v
        else:
            m[key] = v
    return m


# ------------------------------------------------------------------ JSON

def model_json_seeds(iris, wave):
    t = "fuzz_model_json"
    out(t, "iris.json", dumps(iris))
    out(t, "iris_small.json", dumps(shrink(iris, 3)))
    out(t, "wave_small.json", dumps(shrink(wave, 2)))
    out(t, "leaky_sigmoid_tanh.json", dumps(tiny(["leaky_relu", "sigmoid", "tanh", "identity"])))
    out(t, "softmax_labels_std.json",
        dumps(tiny(["relu", "softmax"], labels=["a", "b"], mean=[0.5, -1], std=[2, 0.25])))
    out(t, "one_layer.json", dumps(tiny(["identity"], n_in=1, units=[1])))
    out(t, "wide.json", dumps(tiny(["relu", "tanh", "softmax"], n_in=9, units=[37, 20, 3])))
    out(t, "negative_zero.json", dumps(tiny(["relu"], n_in=1, units=[1])).replace("-0.05", "-0.0"))
    bad = {
        "not_json.json": '{"format": "reluserve-mlp", "version": 1,',
        "wrong_format.json": dumps(dict(tiny(["relu"]), format="other")),
        "version_2.json": dumps(dict(tiny(["relu"]), version=2)),
        "no_layers.json": dumps(dict(tiny(["relu"]), layers=[])),
        "softmax_middle.json": dumps(tiny(["softmax", "identity"])),
        "alpha_on_relu.json": dumps(tiny(["relu"])).replace('"activation":"relu"',
                                                            '"activation":"relu","alpha":0.1'),
        "units_zero.json": dumps(tiny(["relu"])).replace('"units":2', '"units":0'),
        "units_huge.json": dumps(tiny(["relu"])).replace('"units":2', '"units":70000'),
        "std_zero.json": dumps(tiny(["relu"], mean=[0, 0], std=[1, 0])),
        "mean_short.json": dumps(tiny(["relu"], mean=[0])),
        "labels_count.json": dumps(tiny(["softmax"], labels=["a"])),
        "weight_overflow.json": dumps(tiny(["relu"])).replace("0.25", "1e39", 1),
        "duplicate_key.json": dumps(tiny(["relu"])).replace('"name":"tiny"',
                                                            '"name":"tiny","name":"twice"'),
        "row_short.json": dumps(tiny(["relu", "identity"])).replace("[0.125,-0.125,-0.375]",
                                                                    "[0.125,-0.125]", 1),
    }
    for name, text in bad.items():
        out(t, name, text)


# ------------------------------------------------------------- safetensors

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}


def encode(values, dtype):
    a = np.asarray(values, dtype=np.float32)
    if dtype == "BF16":
        return (a.view(np.uint32) >> 16).astype("<u2").tobytes()
    return a.astype(DTYPES[dtype]).tobytes()


def safetensors(tensors, metadata=True, pad=True):
    """tensors: list of (name, dtype, shape, values)."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = {"format": "pt"}
    for name, dtype, shape, values in tensors:
        raw = encode(values, dtype)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def st_from_model(m, dtype="F32", prefix="", bias=True, step=2):
    tensors = []
    for i, ly in enumerate(m["layers"]):
        tensors.append((f"{prefix}{step * i}.weight", dtype,
                        [ly["units"], len(ly["weight"][0])], ly["weight"]))
        if bias:
            tensors.append((f"{prefix}{step * i}.bias", dtype, [ly["units"]], ly["bias"]))
    return safetensors(tensors)


def config_from_model(m, alpha=None):
    c = {"name": m["name"], "task": m["task"], "input": dict(m["input"]),
         "output": dict(m["output"]), "activations": [ly["activation"] for ly in m["layers"]]}
    if alpha is not None:
        c["alpha"] = alpha
    return json.dumps(c, separators=(",", ":"))


def pair(config, weights):
    return config.encode() + b"\0" + weights


def safetensors_seeds(iris, wave):
    t = "fuzz_safetensors"
    small = shrink(iris, 3)
    out(t, "iris_small_f32", pair(config_from_model(small), st_from_model(small)))
    out(t, "wave_small_f64", pair(config_from_model(shrink(wave, 2)),
                                  st_from_model(shrink(wave, 2), "F64")))
    lk = tiny(["leaky_relu", "sigmoid", "tanh"], labels=None)
    out(t, "leaky_f16_prefix", pair(config_from_model(lk, alpha=[0.2, None, None]),
                                    st_from_model(lk, "F16", prefix="net.")))
    sm = tiny(["relu", "softmax"], labels=["a", "b"], mean=[0.5, -1], std=[2, 0.25])
    out(t, "softmax_bf16_no_bias", pair(config_from_model(sm), st_from_model(sm, "BF16",
                                                                             bias=False)))
    wide = tiny(["relu", "sigmoid", "identity"], n_in=9, units=[37, 33, 2])
    out(t, "wide_f16", pair(config_from_model(wide), st_from_model(wide, "F16")))
    one = tiny(["leaky_relu"], n_in=1, units=[1])
    out(t, "alpha_number_step1", pair(config_from_model(one, alpha=0.3),
                                      st_from_model(one, step=1)))
    good = st_from_model(small)
    cfg = config_from_model(small)
    hlen = struct.unpack("<Q", good[:8])[0]
    bad = {
        "config_only": cfg.encode(),
        "header_too_long": pair(cfg, struct.pack("<Q", 1 << 40) + good[8:]),
        "truncated": pair(cfg, good[: 8 + hlen + 10]),
        "trailing_bytes": pair(cfg, good + b"\0\0\0\0"),
        "bad_dtype": pair(cfg, good.replace(b'"F32"', b'"I32"', 1)),
        "activations_count": pair(cfg.replace('"softmax"]', '"softmax","relu"]'), good),
        "softmax_first": pair(cfg.replace('"activations":["relu"', '"activations":["softmax"'),
                              good),
        "overlap": pair(cfg, safetensors([("0.weight", "F32", [1, 1], [[1]]),
                                          ("0.bias", "F32", [1], [1])]).replace(
                                              b'"data_offsets":[4,8]', b'"data_offsets":[0,4]')),
        "chain_mismatch": pair(config_from_model(tiny(["relu", "identity"])), safetensors(
            [("0.weight", "F32", [3, 2], [[1, 2]] * 3), ("2.weight", "F32", [2, 4], [[1] * 4] * 2)])),
        "not_linear": pair(cfg, safetensors([("0.running_mean", "F32", [2], [0, 0])])),
        "nan_weight": pair(config_from_model(one), safetensors(
            [("0.weight", "F32", [1, 1], [[float("nan")]])])),
    }
    for name, data in bad.items():
        out(t, name, data)


# -------------------------------------------------------------------- ONNX

# A minimal protobuf writer for hand-built ONNX graphs (field numbers from
# onnx.proto; the same shapes as tests/unit/lib/test_io_onnx.c builds), so the
# seeds reach the reader's structural checks that torch exports never hit.

def pb_varint(v):
    v &= (1 << 64) - 1
    b = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        b.append(c | (0x80 if v else 0))
        if not v:
            return bytes(b)


def pb_int(field, v):
    return pb_varint(field << 3) + pb_varint(v)


def pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def pb_f32(field, v):
    return pb_varint(field << 3 | 5) + struct.pack("<f", v)


FLOAT, FLOAT16, DOUBLE, INT64 = 1, 10, 11, 7


def tensor(name, dims, values, enc="raw"):
    t = b"".join(pb_int(1, d) for d in dims)
    t += pb_int(2, {"double": DOUBLE, "half": FLOAT16, "int64": INT64}.get(enc, FLOAT))
    t += pb_bytes(8, name)
    v = np.asarray(values, dtype=np.float32).ravel()
    if enc == "raw":
        t += pb_bytes(9, v.astype("<f4").tobytes())
    elif enc == "packed":
        t += pb_bytes(4, v.astype("<f4").tobytes())
    elif enc == "unpacked":
        t += b"".join(pb_f32(4, float(x)) for x in v)
    elif enc == "half":
        t += pb_bytes(5, b"".join(pb_varint(int(h)) for h in v.astype("<f2").view("<u2")))
    elif enc == "double":
        t += pb_bytes(10, v.astype("<f8").tobytes())
    elif enc == "int64":
        t += pb_bytes(7, b"".join(pb_varint(int(x)) for x in v))
    return t


def attr(name, i=None, f=None):
    a = pb_bytes(1, name)
    if f is not None:
        a += pb_f32(2, f) + pb_int(20, 1)
    else:
        a += pb_int(3, i) + pb_int(20, 2)
    return pb_bytes(5, a)


def node(op, inputs, output, attrs=b"", domain=None):
    n = b"".join(pb_bytes(1, i) for i in inputs) + pb_bytes(2, output) + pb_bytes(4, op)
    if domain is not None:
        n += pb_bytes(7, domain)
    return n + attrs


def value_info(name, dims=None):
    vi = pb_bytes(1, name)
    if dims is not None:
        shape = b"".join(pb_bytes(1, pb_int(1, d) if d > 0 else pb_bytes(2, "batch"))
                         for d in dims)
        vi += pb_bytes(2, pb_bytes(1, pb_int(1, FLOAT) + pb_bytes(2, shape)))
    return vi


def onnx_model(nodes, inits, inputs=(("x", None),), outputs=("y",), opset=14):
    g = b"".join(pb_bytes(1, n) for n in nodes) + pb_bytes(2, "g")
    g += b"".join(pb_bytes(5, t) for t in inits)
    g += b"".join(pb_bytes(11, value_info(n, d)) for n, d in inputs)
    g += b"".join(pb_bytes(12, value_info(n)) for n in outputs)
    return pb_int(1, 7) + pb_bytes(7, g) + pb_bytes(8, pb_bytes(1, "") + pb_int(2, opset))


W = [[1, 2], [3, 4], [5, 6]]  # nn.Linear(2, 3): out x in
WT = [[1, 3, 5], [2, 4, 6]]
B = [0.5, -1, 2]


def gemm(enc="raw", trans_b=1, alpha=None, beta=None, bias_dims=(3,)):
    a = attr("transB", trans_b)
    if alpha is not None:
        a += attr("alpha", f=alpha)
    if beta is not None:
        a += attr("beta", f=beta)
    w = tensor("w", (3, 2) if trans_b else (2, 3), W if trans_b else WT, enc)
    return onnx_model([node("Gemm", ["x", "w", "b"], "y", a)],
                      [w, tensor("b", bias_dims, B[: int(np.prod(bias_dims))], enc)])


def hand_built_onnx():
    two = [node("Gemm", ["x", "w", "b"], "h", attr("transB", 1)), node("Relu", ["h"], "r"),
           node("MatMul", ["r", "w2"], "m"), node("Add", ["b2", "m"], "y")]
    two_inits = [tensor("w", (3, 2), W), tensor("b", (3,), B),
                 tensor("w2", (3, 2), [[1, 0], [0, 1], [1, 1]]), tensor("b2", (2,), [0, 1])]
    good = {
        "gemm_raw": gemm(),
        "gemm_packed": gemm("packed"),
        "gemm_unpacked": gemm("unpacked"),
        "gemm_half": gemm("half"),
        "gemm_double": gemm("double"),
        "gemm_transb0_alpha_beta": gemm(trans_b=0, alpha=0.5, beta=2.0),
        "gemm_bias_1x3": gemm(bias_dims=(1, 3)),
        "gemm_bias_scalar": onnx_model([node("Gemm", ["x", "w", "b"], "y", attr("transB", 1))],
                                       [tensor("w", (3, 2), W), tensor("b", (1,), [0.25])]),
        "two_layers_matmul_add": onnx_model(two, two_inits),
        "flatten_identity_leaky_softmax": onnx_model(
            [node("Flatten", ["x"], "f", attr("axis", 1)), node("Identity", ["f"], "i"),
             node("Gemm", ["i", "w", "b"], "h", attr("transB", 1)),
             node("LeakyRelu", ["h"], "l", attr("alpha", f=0.2)),
             node("MatMul", ["l", "w2"], "m"), node("Softmax", ["m"], "y", attr("axis", -1))],
            [tensor("w", (3, 2), W), tensor("b", (3,), B),
             tensor("w2", (3, 2), [[1, 0], [0, 1], [1, 1]])],
            inputs=(("x", (0, 2)),)),
        "sigmoid_domain": onnx_model(
            [node("Gemm", ["x", "w", "b"], "h", attr("transB", 1), domain="ai.onnx"),
             node("Sigmoid", ["h"], "y")],
            [tensor("w", (3, 2), W), tensor("b", (3,), B)]),
        "weights_listed_as_inputs": onnx_model(
            [node("Gemm", ["x", "w", "b"], "y", attr("transB", 1))],
            [tensor("w", (3, 2), W), tensor("b", (3,), B)],
            inputs=(("x", (0, 2)), ("w", (3, 2)), ("b", (3,))), opset=9),
    }
    bad = {
        "weight_not_initializer": onnx_model([node("Gemm", ["x", "w", "b"], "y")],
                                             [tensor("b", (3,), B)]),
        "weight_rank3": onnx_model([node("Gemm", ["x", "w", "b"], "y", attr("transB", 1))],
                                   [tensor("w", (1, 3, 2), W), tensor("b", (3,), B)]),
        "weight_dim_zero": onnx_model([node("MatMul", ["x", "w"], "y")],
                                      [tensor("w", (0, 3), [])]),
        "weight_dims_huge": onnx_model([node("MatMul", ["x", "w"], "y")],
                                       [tensor("w", (70000, 70000), [1])]),
        "values_short": onnx_model([node("MatMul", ["x", "w"], "y")],
                                   [tensor("w", (2, 3), [1, 2, 3])]),
        "bias_2x3": gemm(bias_dims=(2, 3)),
        "int64_weights": gemm("int64"),
        "two_inputs": onnx_model([node("MatMul", ["x", "w"], "y")], [tensor("w", (2, 3), WT)],
                                 inputs=(("x", None), ("z", None))),
        "two_outputs": onnx_model([node("MatMul", ["x", "w"], "y")], [tensor("w", (2, 3), WT)],
                                  outputs=("y", "z")),
        "no_nodes": onnx_model([], [], outputs=("x",)),
        "unknown_op": onnx_model([node("Gather", ["x", "w"], "y")], [tensor("w", (2, 3), WT)]),
        "custom_domain": onnx_model([node("Relu", ["x"], "y", domain="com.example")], []),
        "trans_a": onnx_model([node("Gemm", ["x", "w", "b"], "y", attr("transA", 1))],
                              [tensor("w", (2, 3), WT), tensor("b", (3,), B)]),
        "disconnected": onnx_model([node("MatMul", ["z", "w"], "y")], [tensor("w", (2, 3), WT)]),
        "softmax_middle": onnx_model(
            [node("MatMul", ["x", "w"], "m"), node("Softmax", ["m"], "s"),
             node("MatMul", ["s", "w2"], "y")],
            [tensor("w", (2, 3), WT), tensor("w2", (3, 2), [[1, 0], [0, 1], [1, 1]])]),
        "two_activations": onnx_model(
            [node("Gemm", ["x", "w", "b"], "h", attr("transB", 1)), node("Sigmoid", ["h"], "s"),
             node("Tanh", ["s"], "y")],
            [tensor("w", (3, 2), W), tensor("b", (3,), B)]),
        "chain_mismatch": onnx_model(
            [node("MatMul", ["x", "w"], "m"), node("MatMul", ["m", "w2"], "y")],
            [tensor("w", (2, 3), WT), tensor("w2", (2, 2), [[1, 0], [0, 1]])]),
    }
    return good, bad

def onnx_seeds():
    t = "fuzz_onnx"
    fx = os.path.join(ROOT, "tests", "fixtures", "onnx")
    outputs = {}
    for path in sorted(glob.glob(os.path.join(fx, "*.onnx"))):
        name = os.path.basename(path)[: -len(".onnx")]
        with open(path, "rb") as f:
            onnx = f.read()
        out(t, name, b"\0" + onnx)
        exp = os.path.join(fx, name + ".expected")
        if os.path.exists(exp):
            with open(exp) as f:
                _, n_in, n_out = (int(v) for v in f.readline().split())
            outputs[name] = (n_in, n_out, onnx)
    n_in, n_out, onnx = outputs["softmax"]
    cfg = {"name": "soft", "task": "classification",
           "input": {"name": "x", "size": n_in, "mean": [0.5] * n_in, "std": [2.0] * n_in},
           "output": {"name": "p", "labels": [f"c{k}" for k in range(n_out)]}}
    out(t, "softmax_with_config", json.dumps(cfg).encode() + b"\0" + onnx)
    n_in, n_out, onnx = outputs["relu"]
    out(t, "relu_regression_config", b'{"task": "regression"}\0' + onnx)
    out(t, "relu_bad_config", b'{"task": "regression", "input": {"size": 99}}\0' + onnx)
    out(t, "truncated", b"\0" + onnx[: len(onnx) // 2])
    good, bad = hand_built_onnx()
    for name, data in list(good.items()) + list(bad.items()):
        out(t, "built_" + name, b"\0" + data)
    out(t, "built_gemm_with_labels", b'{"task": "classification", "output": {"labels": '
        b'["a", "b", "c"]}}\0' + good["gemm_raw"])


# --------------------------------------------------------------------- CSV

def csv_seeds():
    t = "fuzz_csv"
    with open(os.path.join(ROOT, "data", "iris.csv")) as f:
        iris = f.read().splitlines()
    with open(os.path.join(ROOT, "data", "wave.csv")) as f:
        wave = f.read().splitlines()
    head = iris[:2] + iris[51:53] + iris[101:103]
    out(t, "iris_head.csv", "\n".join(head) + "\n")
    out(t, "wave_head.csv", "\n".join(wave[:6]) + "\n")
    out(t, "crlf_no_final_newline.csv", "\r\n".join(head))
    out(t, "quoted_spaces_blank_lines.csv",
        '\n  \n"a", b ,"class"\n\n 1.5 , "2e3","x y"\n-0,  .5,  \n\t\n')
    out(t, "numbers_edge.csv", "a,b,c\n1e38,-3e38,inf\nnan,0x1p3,4e38\n1e-50,,\"\"\n")
    bad = {
        "empty.csv": "",
        "header_only.csv": "a,b,c\n",
        "field_count.csv": "a,b\n1,2\n1,2,3\n",
        "utf16.csv": "\n".join(head[:3]).encode("utf-16-le"),
        "cr_inside_line.csv": "a,b\n1,2\r3,4\n",
        "blank_only.csv": " \n\t\n\r\n",
    }
    for name, data in bad.items():
        out(t, name, data)


# ----------------------------------------------------- model-level config

def model_config_seeds():
    t = "fuzz_model_config"
    seeds = {
        "all_fields.json": '{"max_batch": 32, "batch_delay_us": 200, "max_queue": 100, '
                           '"monitor_window_s": 3600}',
        "empty_object.json": "{}",
        "one_field.json": '{"max_queue": 1}',
        "unknown_key.json": '{"max_bach": 8, "comment": "typo"}',
        "duplicate_key.json": '{"max_queue": 5, "max_batch": 2, "max_queue": 6}',
        "duplicate_escaped.json": '{"max_queue": 5, "max_\\u0071ueue": 6}',
        # jansson quotes the bytes near an error, here a cut character: the
        # message must still be valid UTF-8 (a crash the fuzzer found).
        "bad_escape_cut_utf8.json": b'{"max_queue": 5, "ma]x_\\u007\xcb\x8aeue": 6}',
        "queue_zero.json": '{"max_queue": 0}',
        "batch_float.json": '{"max_batch": 1.5}',
        "delay_huge.json": '{"batch_delay_us": 99999999999999999999}',
        "window_negative.json": '{"monitor_window_s": -1}',
        "array.json": "[]",
        "truncated.json": '{"max_batch": ',
        "string_value.json": '{"max_batch": "64"}',
    }
    for name, text in seeds.items():
        out(t, name, text)


def main():
    for t in ("fuzz_model_json", "fuzz_safetensors", "fuzz_onnx", "fuzz_csv",
              "fuzz_model_config"):
        shutil.rmtree(os.path.join(CORPUS, t), ignore_errors=True)
    with open(os.path.join(ROOT, "models", "iris", "1", "model.json")) as f:
        iris = json.load(f)
    with open(os.path.join(ROOT, "models", "wave", "1", "model.json")) as f:
        wave = json.load(f)
    model_json_seeds(iris, wave)
    safetensors_seeds(iris, wave)
    onnx_seeds()
    csv_seeds()
    model_config_seeds()


if __name__ == "__main__":
    main()
