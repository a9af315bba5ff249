#!/usr/bin/python3
"""Exports reluserve native-JSON MLPs to ONNX for the peer benchmark (bench/http/peer.py).

    /usr/bin/python3 bench/http/export_onnx.py MODEL.json OUT.onnx [MODEL.json OUT.onnx ...]

Each model becomes torch.nn.Linear + ReLU layers with its own weights (float32),
and a Softmax when its last layer is "softmax", exported by torch.onnx.export with a
dynamic batch axis, input "input", output "output": the graph onnxruntime runs for
the peer is the function reluserve serves. Needs Debian's python3-torch (the `onnx`
package is not needed: torch writes the protobuf itself).
"""
import json
import sys

import torch


def to_torch(doc):
    if "mean" in doc["input"] or "std" in doc["input"]:
        raise ValueError("input normalization (mean/std) is not exported")
    mods = []
    fan_in = doc["input"]["size"]
    for layer in doc["layers"]:
        lin = torch.nn.Linear(fan_in, layer["units"])
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(layer["weight"], dtype=torch.float32))
            lin.bias.copy_(torch.tensor(layer["bias"], dtype=torch.float32))
        mods.append(lin)
        act = layer["activation"]
        if act == "relu":
            mods.append(torch.nn.ReLU())
        elif act == "softmax":
            mods.append(torch.nn.Softmax(dim=-1))
        elif act != "identity":
            raise ValueError("activation %r: only relu, identity and softmax are exported" % act)
        fan_in = layer["units"]
    return torch.nn.Sequential(*mods).eval(), doc["input"]["size"]


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    for src, dst in zip(argv[::2], argv[1::2]):
        with open(src) as f:
            model, width = to_torch(json.load(f))
        torch.onnx.export(model, torch.zeros(1, width), dst, input_names=["input"],
                          output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
