"""`reluserve train`: --target, --val-split, --early-stop, --history and the
progress display (in place on a terminal, plain lines otherwise)."""

import csv
import json
import os
import pty
import subprocess

import numpy as np

import helpers

ROOT = helpers.ROOT


def train(*args, **kw):
    return subprocess.run([helpers.binary(), "train", *map(str, args)], capture_output=True,
                          text=True, timeout=300 * helpers.SLOW, **kw)


def trained(out, *args):
    """Trains with args into out, which must succeed; the model written, as JSON."""
    p = train(*args, "--out", out)
    assert p.returncode == 0, p.stderr
    with open(out) as f:
        return json.load(f)


def history(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")


def test_target_names_any_column(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 2))
    cls = np.where(x[:, 0] + x[:, 1] > 0, "up", "down")
    data = tmp_path / "kinds.csv"  # the class first
    write_csv(data, ["kind", "a", "b"], [(cls[i], x[i, 0], x[i, 1]) for i in range(60)])
    out = tmp_path / "c.json"
    model = trained(out, "--data", data, "--task", "classification", "--layers", "4",
                    "--epochs", "5", "--target", "kind")
    assert model["input"]["size"] == 2
    assert model["output"]["labels"] == list(dict.fromkeys(cls))
    # without --target the last column (b) would be the class: one class per row
    p = train("--data", data, "--task", "classification", "--layers", "4", "--epochs", "1",
              "--out", out)
    assert p.returncode == 1 and "column 'kind' is not a number" in p.stderr

    goal = x[:, 0] - 2 * x[:, 1]
    data = tmp_path / "goal.csv"  # the regression target in the middle
    write_csv(data, ["a", "goal", "b"], [(x[i, 0], goal[i], x[i, 1]) for i in range(60)])
    out = tmp_path / "r.json"
    model = trained(out, "--data", data, "--task", "regression", "--layers", "4", "--epochs",
                    "5", "--target", "goal")
    assert model["input"]["size"] == 2 and model["layers"][-1]["units"] == 1
    # the inputs are a and b: their standardisation says so
    assert np.allclose(model["input"]["mean"], x.mean(0), atol=1e-6)
    p = train("--data", data, "--task", "regression", "--layers", "4", "--target", "nope",
              "--out", out)
    assert p.returncode == 1
    assert "no column named 'nope' (the header has: a, goal, b)" in p.stderr
    dup = tmp_path / "dup.csv"
    write_csv(dup, ["a", "a", "t"], [(1, 2, 3), (2, 3, 4)])
    p = train("--data", dup, "--task", "regression", "--layers", "2", "--target", "a",
              "--out", out)
    assert p.returncode == 1 and "more than one column named 'a'" in p.stderr
    p = train("--data", data, "--task", "regression", "--layers", "4", "--target", "goal",
              "--targets", "1", "--out", out)
    assert p.returncode == 2


def test_val_split_is_deterministic_and_reported_per_epoch(tmp_path):
    iris = os.path.join(ROOT, "data", "iris.csv")
    runs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        out, hist = tmp_path / name / "model.json", tmp_path / name / "history.csv"
        p = train("--data", iris, "--task", "classification", "--layers", "8", "--epochs", "12",
                  "--seed", seed, "--val-split", "0.2", "--history", hist, "--out", out)
        assert p.returncode == 0, p.stderr
        assert "120 rows (30 more held out for validation)" in p.stderr
        assert "validation loss" in p.stdout and "over 30 rows" in p.stdout
        runs.append((out.read_bytes(), hist.read_text(), p.stderr))
    assert runs[0][:2] == runs[1][:2]  # same seed: same split, same model, same history
    assert runs[0][1] != runs[2][1]
    rows = history(tmp_path / "a" / "history.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 13))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "dead_0",
                             "grad_norm"]
    for r in rows:
        assert float(r["val_loss"]) > 0 and 0 <= float(r["val_accuracy"]) <= 1
        assert 0 <= float(r["dead_0"]) <= 1
        # val_accuracy is a count of 30 rows
        assert abs(float(r["val_accuracy"]) * 30 - round(float(r["val_accuracy"]) * 30)) < 1e-4
    # the plain progress lines carry the validation metric and the per-layer dead fraction
    assert "val_loss" in runs[0][2] and "val_accuracy" in runs[0][2] and "dead 0." in runs[0][2]
    assert "\r" not in runs[0][2]


def test_regression_history_without_val_split(tmp_path):
    wave = os.path.join(ROOT, "data", "wave.csv")
    hist = tmp_path / "h.csv"
    p = train("--data", wave, "--task", "regression", "--layers", "8,4", "--activation", "relu",
              "--epochs", "3", "--history", hist, "--out", tmp_path / "m.json")
    assert p.returncode == 0, p.stderr
    rows = history(hist)
    assert list(rows[0]) == ["epoch", "loss", "dead_0", "dead_1", "grad_norm"]
    assert len(rows) == 3
    p = train("--data", wave, "--task", "regression", "--layers", "4", "--activation", "tanh",
              "--epochs", "2", "--val-split", "0.25", "--history", hist,
              "--out", tmp_path / "t.json")
    assert p.returncode == 0, p.stderr
    rows = history(hist)
    assert list(rows[0]) == ["epoch", "loss", "val_loss", "val_rmse", "dead_0", "grad_norm"]
    assert rows[0]["dead_0"] == ""  # tanh units are never "dead"
    assert abs(float(rows[-1]["val_rmse"]) ** 2 - float(rows[-1]["val_loss"])) < 1e-5


def test_early_stop_keeps_the_best_weights(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 4))
    noise = tmp_path / "noise.csv"  # labels without signal: validation loss soon rises
    write_csv(noise, ["a", "b", "c", "d", "y"],
              [(*x[i], rng.choice(["p", "q"])) for i in range(80)])
    hist, out = tmp_path / "h.csv", tmp_path / "m.json"
    p = train("--data", noise, "--task", "classification", "--layers", "64,64", "--epochs", "500",
              "--lr", "0.01", "--val-split", "0.25", "--early-stop", "5", "--history", hist,
              "--out", out)
    assert p.returncode == 0, p.stderr
    rows = history(hist)
    losses = [float(r["val_loss"]) for r in rows]
    best = int(np.argmin(losses))
    assert len(rows) < 500 and len(rows) == best + 1 + 5
    assert f"early stop at epoch {len(rows)}" in p.stderr
    assert f"keeping the weights of epoch {best + 1}" in p.stderr
    # the saved model is the best epoch's: its validation loss, measured afresh, is the minimum
    assert f"validation loss {rows[best]['val_loss']}," in p.stdout
    assert rows[-1]["val_loss"] != rows[best]["val_loss"]


def test_progress_updates_in_place_on_a_terminal(tmp_path):
    iris = os.path.join(ROOT, "data", "iris.csv")
    master, slave = pty.openpty()
    try:
        p = subprocess.run([helpers.binary(), "train", "--data", iris, "--task",
                            "classification", "--layers", "8,8", "--epochs", "30",
                            "--val-split", "0.2", "--out", str(tmp_path / "m.json")],
                           stdout=subprocess.PIPE, stderr=slave, timeout=300 * helpers.SLOW)
        os.close(slave)
        slave = None
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0
    text = shown.decode()
    assert "\r\x1b[Kepoch 1/30" in text and "\r\x1b[Kepoch 30/30" in text
    last = text.split("\r\x1b[K")[-1]
    assert "val_loss" in last and "val_accuracy" in last and "dead 0." in last and "took" in last
    assert "left" in text.split("\r\x1b[K")[1]
    assert "epoch      1/30" not in text  # no plain lines on a terminal


def test_train_flag_errors(tmp_path):
    iris = os.path.join(ROOT, "data", "iris.csv")
    base = ["--data", iris, "--task", "classification", "--layers", "4",
            "--out", tmp_path / "m.json"]
    p = train(*base, "--early-stop", "3")
    assert p.returncode == 2 and "--val-split" in p.stderr
    for bad in ("0", "1", "1.5", "-0.2", "x"):
        p = train(*base, "--val-split", bad)
        assert p.returncode == 2 and "--val-split must be a fraction in (0, 1)" in p.stderr
    p = train(*base, "--val-split", "0.2", "--early-stop", "0")
    assert p.returncode == 2
    tiny = tmp_path / "tiny.csv"
    write_csv(tiny, ["a", "y"], [(1, "p"), (2, "q"), (3, "p")])
    p = train("--data", tiny, "--task", "classification", "--layers", "2", "--val-split",
              "0.1", "--out", tmp_path / "t.json")
    assert p.returncode == 1 and "leaves no validation row" in p.stderr
    p = train(*base, "--history", "/proc/no/such/history.csv")
    assert p.returncode == 1 and "cannot write --history" in p.stderr
