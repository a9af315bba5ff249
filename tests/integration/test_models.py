"""The bundled models (iris, wave, digits) are what `make models` trains from
data/, byte for byte.

Training never calls BLAS (mlp_train uses libmlp's own fixed-order kernels;
tests/unit/lib/test_train_without_blas.c proves it), so the trained bits do
not depend on the machine's BLAS build or on the CPU kernel OpenBLAS would
pick: `make models` on any machine reproduces the committed files exactly.
A failure also says how far the predictions drifted."""

import csv
import filecmp
import json
import os
import subprocess

import numpy as np

import helpers
import mlpref

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_models(out):
    build = os.path.dirname(helpers.binary())
    san = ["SAN=1"] if build.rstrip("/").endswith("asan") else []
    p = subprocess.run(["make", "-s", "--no-print-directory", "models", f"BUILD={build}",
                        f"MODELS_OUT={out}"] + san,
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]


def predict(path, x):
    with open(path) as f:
        model = json.load(f)
    return np.asarray(mlpref.reference(model, x)["outputs"])


def test_make_models_is_deterministic_and_matches_the_committed_models(tmp_path):
    make_models(tmp_path / "a")
    make_models(tmp_path / "b")
    with open(os.path.join(ROOT, "data", "iris.csv")) as f:
        rows = list(csv.reader(f))[1:]
    x_iris = np.array([[float(v) for v in r[:4]] for r in rows])
    species = sorted(set(r[4] for r in rows), key=[r[4] for r in rows].index)
    labels = np.array([species.index(r[4]) for r in rows])
    with open(os.path.join(ROOT, "data", "wave.csv")) as f:
        x_wave = np.array([[float(v) for v in r[:2]] for r in list(csv.reader(f))[1:]])
    with open(os.path.join(ROOT, "data", "digits.csv")) as f:
        rows = list(csv.reader(f))[1:]
    x_digits = np.array([[float(v) for v in r[:64]] for r in rows])
    digits = np.array([int(r[64]) for r in rows])
    for name, x in (("iris", x_iris), ("wave", x_wave), ("digits", x_digits)):
        rel = os.path.join(name, "1", "model.json")
        a, b = tmp_path / "a" / rel, tmp_path / "b" / rel
        assert filecmp.cmp(a, b, shallow=False), f"two `make models` runs differ for {name}"
        committed = os.path.join(ROOT, "models", rel)
        got, want = predict(a, x), predict(committed, x)
        drift = np.abs(got - want).max()
        assert filecmp.cmp(a, committed, shallow=False), (
            f"models/{name} differs from what `make models` trains now "
            f"(outputs differ by up to {drift:.3g}); if training changed on purpose, "
            f"regenerate with `make models` and commit")
        if name == "iris":
            assert (got.argmax(1) == labels).mean() >= 0.95
        if name == "digits":  # 80% of the rows trained on, all of them checked
            with open(committed) as f:
                assert json.load(f)["output"]["labels"] == [str(k) for k in range(10)]
            assert (got.argmax(1) == digits).mean() >= 0.95
