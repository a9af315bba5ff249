"""Helpers for the integration tests: start/stop the real reluserve binary,
build a model repository, talk HTTP, and check responses against PyTorch."""

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "numerics"))
import mlpref  # noqa: E402

# Under ASan everything is ~3x slower; timeouts scale with this.
SLOW = 3.0 if os.environ.get("ASAN_OPTIONS") else 1.0


def binary():
    path = os.environ.get("RELUSERVE_BIN", os.path.join(ROOT, "build", "reluserve"))
    if not os.path.isabs(path):
        path = os.path.join(ROOT, path)
    return path


def free_port():
    """An ephemeral loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def request(port, method, path, body=None, headers=None, timeout=30.0):
    """One request on a fresh connection. body: bytes, str or a JSON-able object."""
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def get(port, path, **kw):
    return request(port, "GET", path, **kw)


def post(port, path, body=None, **kw):
    return request(port, "POST", path, body=body, **kw)


def assert_error(resp, status, *needles):
    """status, a JSON body {"error": "<sentence>"} and each needle in it."""
    assert resp.status == status, f"expected {status}, got {resp}"
    ctype = resp.headers.get("content-type", "")
    assert ctype.startswith("application/json"), f"error Content-Type {ctype!r}"
    doc = resp.json()
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], \
        f"error body {doc!r}"
    for n in needles:
        assert n.lower() in doc["error"].lower(), f"{n!r} not in error {doc['error']!r}"
    return doc["error"]


# ---------------------------------------------------------------- server

class Server:
    """The real binary on a free loopback port; stop() sends SIGTERM and
    checks exit code 0 and a clean sanitizer report."""

    def __init__(self, models_dir, args=(), env=None, port=None, log_dir=None, flags=True):
        self.port = port or free_port()
        self.models_dir = models_dir
        self.log_path = os.path.join(log_dir or models_dir, f"server-{self.port}.log")
        cmd = [binary(), "serve"]
        if flags:
            cmd += ["--models", str(models_dir), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=full_env)
        self.cmd = cmd

    def wait_ready(self, timeout=30.0):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                if get(self.port, "/v2/health/ready", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout * SLOW}s:\n{self.stderr()}")

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def synced_stderr(self, timeout=10.0):
        """The log with every line the server has made so far. A running server
        writes its lines in batches, a few ms late and in order
        (server/log_writer.h): once the access line of a fresh health check is
        on disk, so is everything logged before it. Needs access lines (log
        level info) and plain HTTP."""
        self._syncs = getattr(self, "_syncs", 0) + 1
        rid = "log-sync-%d" % self._syncs
        assert get(self.port, "/v2/health/live", headers={"X-Request-Id": rid}).status == 200
        deadline = time.monotonic() + timeout * SLOW
        while True:
            log = self.stderr()
            if "id=" + rid in log or '"request_id":"%s"' % rid in log:
                return log
            assert time.monotonic() < deadline, f"the log never showed {rid}:\n{log[-3000:]}"
            time.sleep(0.005)

    def stderr_with(self, text, timeout=10.0):
        """The log once it holds text (lines reach it a few ms late, see
        synced_stderr); fails with the log's tail if it never does."""
        deadline = time.monotonic() + timeout * SLOW
        while text not in (log := self.stderr()):
            assert time.monotonic() < deadline, f"the log never showed {text!r}:\n{log[-3000:]}"
            time.sleep(0.005)
        return log

    def stop(self, timeout=30.0):
        """SIGTERM; returns (exit code, stderr) and asserts both are clean."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not exit within {timeout * SLOW}s of SIGTERM")
        finally:
            self.log.close()
        err = self.stderr()
        assert rc == 0, f"server exit code {rc}; log:\n{err[-4000:]}"
        check_sanitizer_clean(err)
        return rc, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()


@contextlib.contextmanager
def serving(models_dir, args=(), stop_timeout=30.0, **kw):
    """A ready Server (arguments as Server's) for the with block. After the
    block it is stopped as Server.stop does (exit code 0 and a clean sanitizer
    report asserted; the result is kept as .stopped = (exit code, log)); if
    starting or the block fails, it is killed."""
    s = Server(models_dir, args, **kw)
    try:
        s.wait_ready()
        yield s
    except BaseException:
        s.kill()
        raise
    s.stopped = s.stop(timeout=stop_timeout)


def random_request(models, name, target, rows, rng, low=0.0):
    """Random rows for the newest version of model `name` (make_repo's
    models), drawn from rng, and for target "labels" a class index per row, for
    "targets" a distribution per row (weights from [low, 1)) for a classifier or
    normal values for a regressor. Returns (model, version, x, labels,
    targets), None where not asked for."""
    version = newest(models[name])
    model = models[name][version]
    x = mlpref.random_inputs(rng, model, rows)
    n_out = mlpref.n_outputs(model)
    labels = targets = None
    if target == "labels":
        labels = [int(v) for v in rng.integers(0, n_out, rows)]
    elif target == "targets":
        if model["task"] == "classification":
            t = rng.uniform(low, 1.0, (rows, n_out)).astype(np.float32)
            targets = (t / t.sum(axis=1, keepdims=True)).astype(np.float32).astype(np.float64)
        else:
            targets = rng.normal(0.0, 1.0, (rows, n_out)).astype(np.float32).astype(np.float64)
    return model, version, x, labels, targets


def write_big_json_model(path, sizes, seed):
    """A ReLU classifier with layer widths `sizes` (input first) in the native
    JSON format, He-normal weights rounded to 4 decimals, written as it is
    generated: megabytes of JSON whose load takes a while."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write('{"format":"reluserve-mlp","version":1,"name":"big","task":"classification",'
                f'"input":{{"name":"input","size":{sizes[0]}}},"output":{{"name":"output"}},'
                '"layers":[')
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            w = np.round(rng.normal(0, (2.0 / n_in) ** 0.5, (n_out, n_in)), 4)
            rows = ",".join("[" + ",".join(map(str, r)) + "]" for r in w.tolist())
            act = "softmax" if i == len(sizes) - 2 else "relu"
            f.write(("," if i else "") + f'{{"units":{n_out},"activation":"{act}",'
                    f'"weight":[{rows}],"bias":[{",".join(["0"] * n_out)}]}}')
        f.write("]}")


def tritonclient_get(conn, uri):
    """What tritonclient.http.InferenceServerClient does for its GETs (its
    source, src/python/library/tritonclient/http/_client.py): "/" + uri on a
    kept-alive connection, no body and no extra headers; any status but 200
    raises with the body's "error"; otherwise the body is json.loads'ed."""
    conn.request("GET", "/" + uri)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(json.loads(body)["error"])
    return json.loads(body)


def check_sanitizer_clean(log):
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer"):
        assert marker not in log, f"sanitizer report in the server log:\n{log[-6000:]}"


def start_line(models_dir, prefix=(), args=()):
    """The start-up line ("... listening on ...") of `reluserve serve` started
    under the command prefix (e.g. taskset -c 0) on any free port, once the
    server has stopped cleanly on SIGTERM."""
    p = subprocess.Popen(list(prefix) + [binary(), "serve", "--models", str(models_dir),
                                         "--host", "127.0.0.1", "--port", "0"] + list(args),
                         stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.time() + 30 * SLOW
        while "listening on" not in line:
            assert time.time() < deadline and p.poll() is None, line
            line = p.stderr.readline()
    finally:
        p.send_signal(signal.SIGTERM)
        rest = p.communicate(timeout=30 * SLOW)[1]
    assert p.returncode == 0, rest
    check_sanitizer_clean(rest)
    return line


# ------------------------------------------------------------ repository

def make_repo(root, seed=1234):
    """Builds a model repository of random models; returns {name: {version: model dict}}."""
    rng = np.random.default_rng(seed)
    models = {
        "tiny": {"1": mlpref.random_model(rng, 4, [16, 16], 3, last_act="softmax",
                                           name="tiny", labels=["setosa", "versicolor",
                                                                "virginica"])},
        "deep": {"1": mlpref.random_model(rng, 6, [12, 10, 10, 8, 8], 4,
                                           hidden_act="leaky_relu", alpha=0.05,
                                           last_act="identity", task="classification",
                                           dead_units=2, standardize=True, name="deep")},
        "reg": {"1": mlpref.random_model(rng, 5, [12, 9], 2,
                                          hidden_act=["relu", "tanh"], last_act="identity",
                                          task="regression", standardize=True, name="reg")},
        "sig": {"1": mlpref.random_model(rng, 3, [7, 7, 5], 2,
                                          hidden_act=["sigmoid", "relu", "tanh"],
                                          last_act="sigmoid", task="regression", name="sig")},
        "dead": {"1": mlpref.random_model(rng, 4, [8, 8, 6], 3, last_act="softmax",
                                           dead_layer=1, name="dead")},
        "ver": {"2": mlpref.random_model(rng, 3, [5], 2, last_act="softmax", name="ver"),
                "10": mlpref.random_model(rng, 3, [5], 2, last_act="softmax", name="ver")},
        # one-output classifiers: binary cross-entropy on the logit, and the
        # one-softmax-output model that has no loss at all
        "bin": {"1": mlpref.random_model(rng, 4, [10, 6], 1, last_act="sigmoid",
                                          task="classification", standardize=True, name="bin",
                                          labels=["spam"])},
        "soft1": {"1": mlpref.random_model(rng, 3, [5], 1, last_act="softmax", name="soft1")},
        # finite weights that overflow on an input near FLT_MAX: Z0 = +inf, Z1 = NaN
        "ovf": {"1": {"format": "reluserve-mlp", "version": 1, "name": "ovf",
                      "task": "regression", "input": {"name": "input", "size": 1},
                      "output": {"name": "output"},
                      "layers": [
                          {"units": 2, "activation": "relu", "weight": [[10.0], [10.0]],
                           "bias": [0.0, 0.0]},
                          {"units": 2, "activation": "relu",
                           "weight": [[1.0, -1.0], [-1.0, 0.5]], "bias": [0.0, -1.0]},
                          {"units": 1, "activation": "identity", "weight": [[1.0, 1.0]],
                           "bias": [0.5]}]}},
    }
    for name, versions in models.items():
        for v, m in versions.items():
            d = os.path.join(root, name, v)
            os.makedirs(d, exist_ok=True)
            mlpref.write_model(m, os.path.join(d, "model.json"))
    iris = os.path.join(ROOT, "models", "iris")
    if os.path.isdir(iris):
        shutil.copytree(iris, os.path.join(root, "iris"))
    return models


def newest(versions):
    return max(versions, key=int)


# ------------------------------------------------------------- requests

def v2_body(x, labels=None, targets=None, diag=None, rid=None, outputs=None, datatype="FP32"):
    x = np.asarray(x)
    inputs = [{"name": "input", "shape": list(x.shape), "datatype": datatype,
               "data": x.reshape(-1).tolist()}]
    if labels is not None:
        inputs.append({"name": "labels", "shape": [len(labels)], "datatype": "INT64",
                       "data": list(labels)})
    if targets is not None:
        t = np.asarray(targets)
        inputs.append({"name": "targets", "shape": list(t.shape), "datatype": "FP32",
                       "data": t.reshape(-1).tolist()})
    body = {"inputs": inputs}
    if diag is not None:
        body["parameters"] = {"diagnostics": diag}
    if rid is not None:
        body["id"] = rid
    if outputs is not None:
        body["outputs"] = outputs
    return body


def binary_body(x, params=None, outputs=None):
    """A v2 request of the binary extension: its body (the JSON header, then
    x as little-endian float32) and the headers that say where the JSON ends."""
    x = np.asarray(x, np.float32)
    raw = x.astype("<f4").tobytes()
    header = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                          "parameters": {"binary_data_size": len(raw)}}]}
    if params:
        header["parameters"] = params
    if outputs:
        header["outputs"] = outputs
    h = json.dumps(header).encode()
    return h + raw, {"Inference-Header-Content-Length": str(len(h)),
                     "Content-Type": "application/octet-stream"}


def output_tensor(doc, name="output"):
    for o in doc["outputs"]:
        if o["name"] == name:
            return o
    raise AssertionError(f"no output {name!r} in {[o['name'] for o in doc['outputs']]}")


def tensor_array(t):
    """A v2 output tensor as a numpy array of its declared shape."""
    a = np.asarray(mlpref._numeric(t["data"]), dtype=np.float64)
    assert a.size == int(np.prod(t["shape"])), f"{t['name']}: {a.size} values, shape {t['shape']}"
    return a.reshape(t["shape"])


def as_matrix(v, rows, cols):
    """input_gradient as the server writes it (nested, flat or a tensor object)."""
    if isinstance(v, dict):
        v = v["data"]
    a = np.asarray(mlpref._numeric(v), dtype=np.float64)
    assert a.size == rows * cols, f"input_gradient has {a.size} values, expected {rows}x{cols}"
    return a.reshape(rows, cols)


def check_v2_response(doc, model, x, name, version, labels=None, targets=None, diag="summary",
                      rid=None, ref=None):
    """Checks a v2 infer response against the PyTorch reference (computed
    here unless the caller passes it precomputed)."""
    x = np.asarray(x, dtype=np.float64)
    if ref is None:
        ref = mlpref.reference(model, x, labels=labels, targets=targets)
    assert doc["model_name"] == name, doc.get("model_name")
    assert doc["model_version"] == version, doc.get("model_version")
    if rid is not None:
        assert doc.get("id") == rid, f"id {doc.get('id')!r}, expected {rid!r}"
    out = output_tensor(doc, model["output"]["name"])
    assert out["datatype"] == "FP32", out["datatype"]
    assert out["shape"] == [len(x), mlpref.n_outputs(model)], out["shape"]
    mlpref.assert_close(tensor_array(out), ref["outputs"], "outputs")
    if diag == "none":
        assert "diagnostics" not in doc, "diagnostics returned for diagnostics=none"
        return ref
    d = doc["diagnostics"]
    params = doc.get("parameters", {})
    assert "dead_fraction" in params, f"parameters {params}"
    assert all(not isinstance(v, (dict, list)) for v in params.values()), \
        f"v2 parameters must be scalars: {params}"
    mlpref.assert_close(params["dead_fraction"], d["dead_fraction"], "parameters.dead_fraction")
    if ref["loss"] is not None:
        mlpref.assert_close(d["loss"], ref["loss"], "diagnostics.loss")
        mlpref.assert_close(params["loss"], ref["loss"], "parameters.loss")
    else:
        assert d.get("loss") is None and params.get("loss") is None, \
            f"loss {d.get('loss')} without a target"
    mlpref.compare_diagnostics(d, ref, has_units_list=(diag == "full"))
    if diag == "full":
        g = as_matrix(d["input_gradient"], len(x), model["input"]["size"])
        mlpref.assert_close(g, ref["input_gradient"], "input_gradient")
    else:
        assert "input_gradient" not in d, "input_gradient in a summary"
        for l in d["layers"]:
            assert "dead_units" not in l, "dead_units in a summary"
    return ref


PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEinfaINFNa]+( [0-9]+)?$')


# ------------------------------------------------------------ safetensors

def safetensors_bytes(tensors):
    """A safetensors file of (name, float32 array) pairs, in order."""
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write_relu_mlp_safetensors(folder, name, sizes, seed):
    """A ReLU classifier of these layer sizes (He-normal weights, softmax
    output) as model.safetensors + config.json in folder: seconds faster
    than JSON for the big models the load tests want. Returns the number of
    parameters."""
    rng = np.random.default_rng(seed)
    tensors = []
    for l, (fan_in, units) in enumerate(zip(sizes, sizes[1:])):
        tensors.append((f"{2 * l}.weight",
                        rng.normal(0.0, (2.0 / fan_in) ** 0.5, (units, fan_in)).astype(np.float32)))
        tensors.append((f"{2 * l}.bias", rng.normal(0.0, 0.1, units).astype(np.float32)))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(safetensors_bytes(tensors))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"name": name, "task": "classification",
                   "input": {"name": "input", "size": sizes[0]}, "output": {"name": "output"},
                   "activations": ["relu"] * (len(sizes) - 2) + ["softmax"]}, f)
    return sum(t.size for _, t in tensors)


def read_rss_kib(pid):
    """The process's resident set (VmRSS) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)', re.M)


def metrics(port):
    """GET /metrics as {"name{labels}": value}."""
    text = get(port, "/metrics").body.decode()
    return {m.group(1) + (m.group(2) or ""): float(m.group(3)) for m in METRIC_LINE.finditer(text)}


def without_timing(v):
    """A statistics document (GET .../stats) without its clock readings ("ns",
    "last_inference"), which differ between any two runs."""
    if isinstance(v, dict):
        return {k: without_timing(x) for k, x in v.items() if k not in ("ns", "last_inference")}
    if isinstance(v, list):
        return [without_timing(x) for x in v]
    return v


def wait_metric(port, key, want):
    """Polls /metrics until key reaches want (fails after 60 s, x3 under ASan)."""
    deadline = time.time() + 60 * SLOW
    while metrics(port).get(key, 0) < want:
        assert time.time() < deadline, f"{key} never reached {want}"
        time.sleep(0.005)
