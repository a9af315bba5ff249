"""`reluserve prune`: the units dead on a probe set go, the outputs on it stay.

Models come from mlpref.random_model with units given a bias of -1e3 (dead
for any probe row); the probe rows are float32 values written exactly. The
pruned file is compared with the original by the float64 reference
(mlpref.reference) and by the float32 difference the command prints."""

import json
import os
import re
import subprocess

import numpy as np

import helpers
import mlpref


def prune(*args):
    return subprocess.run([helpers.binary(), "prune", *map(str, args)], capture_output=True,
                          text=True, timeout=120 * helpers.SLOW)


def write_probe(path, x, extra=None):
    with open(path, "w") as f:
        cols = [f"x{j}" for j in range(x.shape[1])] + (["label"] if extra is not None else [])
        f.write(",".join(cols) + "\n")
        for i, row in enumerate(x):
            vals = [repr(float(v)) for v in row] + ([extra[i]] if extra is not None else [])
            f.write(",".join(vals) + "\n")


def dead_units(model, x):
    ref = mlpref.reference(model, x)
    return [set(d["dead_units"]) if d["relu_stats"] else set() for d in ref["diagnostics"]["layers"][:-1]]


def check_pruned(model, pruned, x, dead):
    """pruned has exactly the original's rows minus the dead units (ReLU layers only), and
    the same outputs on x."""
    for l, layer in enumerate(model["layers"][:-1]):
        gone = dead[l] if layer["activation"] == "relu" else set()
        if len(gone) == layer["units"]:
            gone = gone - {0}
        keep = [j for j in range(layer["units"]) if j not in gone]
        assert pruned["layers"][l]["units"] == len(keep), l
        assert np.array_equal(np.array(pruned["layers"][l]["bias"], np.float32),
                              np.array(layer["bias"], np.float32)[keep])
    for key in ("name", "task", "output"):
        assert pruned[key] == model[key], key
    for key in ("name", "size", "mean", "std"):
        want = model["input"].get(key)
        got = pruned["input"].get(key)
        if isinstance(want, list):
            want, got = np.array(want, np.float32), np.array(got, np.float32)
        assert np.array_equal(got, want), key
    want = np.asarray(mlpref.reference(model, x)["outputs"])
    got = np.asarray(mlpref.reference(pruned, x)["outputs"])
    assert np.abs(got - want).max() <= 1e-6


def largest_difference(stdout):
    m = re.search(r"largest difference on the probe set (\S+)", stdout)
    assert m, stdout
    return float(m.group(1))


def test_prune_removes_dead_units_and_keeps_the_outputs(tmp_path):
    rng = np.random.default_rng(5)
    model = mlpref.random_model(rng, 5, [12, 10, 8], 3, hidden_act=["relu", "relu", "leaky_relu"],
                                last_act="softmax", standardize=True, dead_units=3,
                                labels=["a", "b", "c"], name="deadly")
    src = tmp_path / "model.json"
    mlpref.write_model(model, src)
    x = mlpref.random_inputs(rng, model, 300)
    probe = tmp_path / "probe.csv"
    write_probe(probe, x, extra=["a"] * len(x))  # a label column after the inputs is ignored
    out = tmp_path / "pruned" / "1" / "model.json"
    p = prune(src, "--data", probe, "--out", out)
    assert p.returncode == 0, p.stderr
    dead = dead_units(model, x)
    assert len(dead[0]) >= 3 and len(dead[1]) >= 3 and len(dead[2]) >= 3
    with open(out) as f:
        pruned = json.load(f)
    check_pruned(model, pruned, x, dead)
    assert pruned["layers"][2]["units"] == 8  # leaky_relu: never pruned
    assert largest_difference(p.stdout) <= 1e-6
    for l in range(2):
        assert re.search(rf"^\s+{l}\s+relu\s+{model['layers'][l]['units']}\s+{len(dead[l])}\s",
                         p.stdout, re.M), p.stdout
    assert "not ReLU: not pruned" in p.stdout
    n0 = sum(len(L["weight"]) * len(L["weight"][0]) + len(L["bias"]) for L in model["layers"])
    n1 = sum(len(L["weight"]) * len(L["weight"][0]) + len(L["bias"]) for L in pruned["layers"])
    assert f"parameters {n0} -> {n1}" in p.stdout
    assert re.search(r"forward\s+\S+ ms -> \S+ ms", p.stdout)


def test_a_layer_dead_on_every_row_keeps_one_unit(tmp_path):
    rng = np.random.default_rng(6)
    model = mlpref.random_model(rng, 4, [6, 5], 2, dead_layer=1, name="collapsed")
    src = tmp_path / "model.json"
    mlpref.write_model(model, src)
    x = mlpref.random_inputs(rng, model, 50)
    probe = tmp_path / "probe.csv"
    write_probe(probe, x)
    out = tmp_path / "pruned.json"
    p = prune(src, "--data", probe, "--out", out)
    assert p.returncode == 0, p.stderr
    assert "layer 1 is dead on every probe row; it keeps unit 0" in p.stdout
    with open(out) as f:
        pruned = json.load(f)
    assert pruned["layers"][1]["units"] == 1
    check_pruned(model, pruned, x, dead_units(model, x))


def test_prune_saves_safetensors_and_the_server_formats_load_it(tmp_path):
    rng = np.random.default_rng(7)
    model = mlpref.random_model(rng, 3, [16], 1, dead_units=5, name="reg")
    src = tmp_path / "model.json"
    mlpref.write_model(model, src)
    x = mlpref.random_inputs(rng, model, 40)
    probe = tmp_path / "probe.csv"
    write_probe(probe, x)
    out = tmp_path / "st" / "model.safetensors"
    p = prune(src, "--data", probe, "--out", out)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "st" / "config.json").exists()
    assert largest_difference(p.stdout) <= 1e-6
    # and back to JSON from the safetensors copy: nothing more to remove
    again = tmp_path / "again.json"
    p = prune(out, "--data", probe, "--out", again)
    assert p.returncode == 0, p.stderr
    with open(again) as f:
        pruned = json.load(f)
    assert pruned["layers"][0]["units"] == 16 - len(dead_units(model, x)[0])
    check_pruned(model, pruned, x, dead_units(model, x))


def test_prune_usage_and_bad_input(tmp_path):
    rng = np.random.default_rng(8)
    model = mlpref.random_model(rng, 3, [4], 1)
    src = tmp_path / "model.json"
    mlpref.write_model(model, src)
    probe = tmp_path / "probe.csv"
    write_probe(probe, mlpref.random_inputs(rng, model, 4))
    out = tmp_path / "o.json"
    assert prune("--help").returncode == 0
    assert prune(src, "--out", out).returncode == 2
    assert prune(src, "--data", probe).returncode == 2
    p = prune(src, "--data", probe, "--out", tmp_path / "o.onnx")
    assert p.returncode == 2 and ".json or .safetensors" in p.stderr
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("a,b\n1,2\n")
    p = prune(src, "--data", narrow, "--out", out)
    assert p.returncode == 1 and "takes 3 inputs" in p.stderr
    text = tmp_path / "text.csv"
    text.write_text("a,b,c\n1,2,x\n")
    p = prune(src, "--data", text, "--out", out)
    assert p.returncode == 1 and "column 'c' is not a finite number" in p.stderr
    p = prune(tmp_path / "missing.json", "--data", probe, "--out", out)
    assert p.returncode == 1
    assert not out.exists()


def test_prune_keeps_a_mean_without_a_std_and_a_std_without_a_mean(tmp_path):
    rng = np.random.default_rng(7)
    for drop in ("std", "mean"):
        model = mlpref.random_model(rng, 4, [8, 6], 2, standardize=True, dead_units=2,
                                    name=f"no_{drop}")
        del model["input"][drop]
        src = tmp_path / f"{drop}.json"
        mlpref.write_model(model, src)
        x = mlpref.random_inputs(rng, model, 100)
        probe = tmp_path / f"{drop}.csv"
        write_probe(probe, x)
        out = tmp_path / f"pruned_{drop}.json"
        p = prune(src, "--data", probe, "--out", out)
        assert p.returncode == 0, p.stderr
        with open(out) as f:
            pruned = json.load(f)
        assert drop not in pruned["input"]
        check_pruned(model, pruned, x, dead_units(model, x))
