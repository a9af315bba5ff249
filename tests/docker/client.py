#!/usr/bin/python3
"""HTTP client of tests/docker/run.sh (Python's standard library and numpy).

  client.py infer URL MODEL_JSON [--same-as URL2]
      One v2 inference of two iris rows with full diagnostics. The outputs
      must match a numpy forward pass of MODEL_JSON, the diagnostics the dead
      units and sparsity that pass sees; with --same-as, URL2 (the host's own
      build) must answer the very same bytes.

  client.py load URL OUT_JSON [--clients N] [--until-close] [--ready FILE] [--stop FILE]
      N keep-alive clients send iris inferences in a loop, each with its own
      X-Request-Id, and record every outcome: status and X-Served-By per
      request id, and any request that got no answer. With --until-close a
      client ends at its first answer carrying Connection: close (the server
      is stopping); otherwise it reconnects then, and ends when FILE --stop
      exists. --ready FILE is created once every client has had an answer.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

import numpy as np

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def _conn(url, timeout=60):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


def _post(conn, path, body, rid=None):
    headers = {"Content-Type": "application/json"}
    if rid:
        headers["X-Request-Id"] = rid
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    return r, r.read()


def _forward(model, x):
    """The model's outputs and its hidden layers' pre-activations, in float64."""
    x = (np.asarray(x, np.float64) - model["input"]["mean"]) / model["input"]["std"]
    zs = []
    for layer in model["layers"]:
        z = x @ np.asarray(layer["weight"], np.float64).T + layer["bias"]
        if layer["activation"] == "relu":
            zs.append(z)
            x = np.maximum(z, 0)
        elif layer["activation"] == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            x = e / e.sum(axis=1, keepdims=True)
        else:
            raise SystemExit(f"client.py: activation {layer['activation']} not modelled here")
    return x, zs


def infer(args):
    with open(args.model_json) as f:
        model = json.load(f)
    body = json.dumps({"inputs": [{"name": "input", "shape": [len(ROWS), 4], "datatype": "FP32",
                                   "data": ROWS}],
                       "parameters": {"diagnostics": "full"}}).encode()
    path = f"/v2/models/{model['name']}/infer"
    r, data = _post(_conn(args.url), path, body)
    assert r.status == 200, f"{r.status} {data[:300]!r}"
    doc = json.loads(data)
    want, zs = _forward(model, ROWS)
    [out] = doc["outputs"]
    got = np.asarray(out["data"], np.float64).reshape(out["shape"])
    assert out["shape"] == [len(ROWS), 3], out["shape"]
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), (got, want)
    assert list(got.argmax(axis=1)) == [0, 2], got  # setosa, virginica
    d = doc["diagnostics"]
    assert d["rows"] == len(ROWS) and d["collapsed"] is False, d
    assert [layer["units"] for layer in d["layers"]] == [len(lay["bias"]) for lay in model["layers"]]
    dead_total = 0
    for z, layer in zip(zs, d["layers"]):
        dead = int(np.all(z <= 0, axis=0).sum())
        dead_total += dead
        assert abs(layer["dead_fraction"] - dead / z.shape[1]) < 1e-6, (layer, dead)
        assert abs(layer["sparsity"] - float(np.mean(z <= 0))) < 1e-6, layer
    hidden = sum(z.shape[1] for z in zs)
    assert abs(d["dead_fraction"] - dead_total / hidden) < 1e-6, d["dead_fraction"]
    assert doc["parameters"]["dead_fraction"] == d["dead_fraction"]
    assert len(d["input_gradient"]["data"]) == len(ROWS) * 4, d["input_gradient"]
    print(f"outputs match numpy (max diff {np.abs(got - want).max():.1e}); "
          f"dead_fraction {d['dead_fraction']} = {dead_total}/{hidden} units")
    if args.same_as:
        r2, data2 = _post(_conn(args.same_as), path, body)
        assert r2.status == 200 and data2 == data, \
            f"the host's build answers differently:\n{data2[:300]!r}\n{data[:300]!r}"
        print(f"byte-identical to {args.same_as} ({len(data)} bytes)")


class Client:
    def __init__(self, url, name, until_close, stop_file):
        self.url, self.name = url, name
        self.until_close, self.stop_file = until_close, stop_file
        self.answers = {}  # request id -> [status, X-Served-By]
        self.errors = []
        self.wrong = []

    def run(self, body, path):
        conn = _conn(self.url)
        k = 0
        while not (self.stop_file and os.path.exists(self.stop_file)):
            rid = f"{self.name}-{k}"
            k += 1
            try:
                r, data = _post(conn, path, body, rid)
            except Exception as ex:  # noqa: BLE001 - every failure is a lost request
                self.errors.append(f"{rid}: {type(ex).__name__}: {ex}")
                return
            self.answers[rid] = [r.status, r.getheader("X-Served-By")]
            if r.status == 200:
                y = json.loads(data)["outputs"][0]["data"]
                if max(range(3), key=y.__getitem__) != 0:
                    self.wrong.append(rid)
            if (r.getheader("Connection") or "").lower() == "close":
                conn.close()
                if self.until_close:
                    return
                conn = _conn(self.url)
        conn.close()


def load(args):
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                                   "data": ROWS[0]}]}).encode()
    clients = [Client(args.url, f"c{i}", args.until_close, args.stop) for i in range(args.clients)]
    threads = [threading.Thread(target=c.run, args=(body, "/v2/models/iris/infer"), daemon=True)
               for c in clients]
    for t in threads:
        t.start()
    if args.ready:
        while not all(c.answers or c.errors for c in clients):
            time.sleep(0.01)
        open(args.ready, "w").close()
    for t in threads:
        t.join(args.timeout)
    hung = [c.name for c, t in zip(clients, threads) if t.is_alive()]
    result = {"answers": {}, "errors": [], "wrong": [], "hung": hung}
    for c in clients:
        result["answers"].update(c.answers)
        result["errors"] += c.errors
        result["wrong"] += c.wrong
    with open(args.out, "w") as f:
        json.dump(result, f)
    statuses = {}
    for status, _ in result["answers"].values():
        statuses[status] = statuses.get(status, 0) + 1
    print(f"{len(result['answers'])} answers {statuses}, {len(result['errors'])} lost, "
          f"{len(result['wrong'])} wrong, {len(hung)} clients hung")
    return 0 if not (result["errors"] or result["wrong"] or hung) else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("infer")
    i.add_argument("url")
    i.add_argument("model_json")
    i.add_argument("--same-as")
    lo = sub.add_parser("load")
    lo.add_argument("url")
    lo.add_argument("out")
    lo.add_argument("--clients", type=int, default=8)
    lo.add_argument("--until-close", action="store_true")
    lo.add_argument("--ready")
    lo.add_argument("--stop")
    lo.add_argument("--timeout", type=float, default=120)
    args = p.parse_args()
    if args.cmd == "infer":
        infer(args)
        return 0
    return load(args)


if __name__ == "__main__":
    sys.exit(main())
