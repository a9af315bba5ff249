"""Memory goes back after a maximum-size request (issue 7, item 8): the
per-thread workspace and merge buffers used to keep the peak of the largest
request ever served for the life of the process. The server runs one compute
thread, serves a few small requests, then one request of --max-rows rows
through a 16-1024-1024-2 model (its workspace: tens of MiB), then a small one
(with one compute thread, that one is computed only after the big batch's
clean-up finished). The peak (VmHWM) shows the big request really took the
memory; the resident set afterwards (VmRSS) must be back to where it was
before it, plus what does not depend on the row count (the model-sized
gradient scratch the big batch touched) and a small slack."""

import os

import numpy as np
import pytest

import helpers

SIZES = [16, 1024, 1024, 2]
MAX_ROWS = 2048
MODEL = "wide"
# Allocator and libmicrohttpd slack around one request: connection pools,
# the freed body and decoded tensor, glibc arena tops. Under ASan the shadow
# of touched memory and the allocator's caches come on top.
SLACK_KIB = 8 * 1024 * (3 if helpers.SLOW > 1 else 1)


def read_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def infer(port, rows, seed):
    x = np.random.default_rng(seed).normal(size=(rows, SIZES[0])).astype(np.float32)
    r = helpers.post(port, f"/v2/models/{MODEL}/infer", helpers.v2_body(x, diag="summary"),
                     timeout=120)
    assert r.status == 200, r
    assert helpers.output_tensor(r.json())["shape"] == [rows, SIZES[-1]]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("idle_memory")
    helpers.write_relu_mlp_safetensors(str(root / MODEL / "1"), MODEL, SIZES, 7)
    env = {}
    if helpers.SLOW > 1:  # ASan: freed blocks go straight back instead of into quarantine
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"
    with helpers.serving(root, ["--threads", "1", "--max-rows", str(MAX_ROWS),
                                "--max-body", str(16 << 20)], env=env) as s:
        yield s


def test_max_size_request_memory_is_given_back(server):
    pid = server.proc.pid
    for i in range(3):  # the ordinary working set: small batches
        infer(server.port, 4, i)
    rss_before = read_status_kib(pid, "VmRSS")
    hwm_before = read_status_kib(pid, "VmHWM")

    infer(server.port, MAX_ROWS, 10)
    infer(server.port, 4, 11)  # one compute thread: runs after the big batch's clean-up
    rss_after = read_status_kib(pid, "VmRSS")
    hwm_after = read_status_kib(pid, "VmHWM")

    # forward keeps the input, Z and A of every layer; backward two scratch
    # tensors as wide as the widest layer and dg/dX: all of it row-sized
    units = sum(SIZES[1:])
    workspace_kib = MAX_ROWS * (2 * SIZES[0] + 2 * units + 2 * max(SIZES)) * 4 // 1024
    # model-sized, so kept: the gradient scratch a big batch forms dW in
    params_kib = sum(a * b + b for a, b in zip(SIZES, SIZES[1:])) * 4 // 1024
    kept = rss_after - rss_before
    print(f"\nRSS KiB before {rss_before}, peak {hwm_after} (was {hwm_before}), "
          f"after {rss_after} (kept {kept}); the {MAX_ROWS}-row request's row-sized "
          f"workspace {workspace_kib} KiB, model-sized scratch {params_kib} KiB")
    assert hwm_after - rss_before >= workspace_kib * 8 // 10, \
        "the max-size request did not take the memory this test is about"
    assert kept <= params_kib + SLACK_KIB, \
        f"the server kept {kept} KiB after a {MAX_ROWS}-row request (row-sized workspace " \
        f"{workspace_kib} KiB; allowed: model-sized scratch {params_kib} + slack {SLACK_KIB})"


# A loaded model keeps its weights and, under the default --kernel native,
# their copy in the native forward's panels (mlp_model_prepare: each layer's
# outputs padded to 32 on AVX-512, 16 on AVX2); parsing its native JSON takes
# many times that (jansson holds every number as an object) only while it loads.
JSON_SIZES = [784, 512, 512, 10]
# Allocator slack beside those: glibc arena tops, the fragments the load
# leaves between live blocks (measured: under 0.1 MiB).
LOAD_SLACK_KIB = 3 * 1024


def packed_kib(sizes, panel=32):
    """KiB of the native kernel's panel copy of the weights, at most."""
    return sum(-(-b // panel) * panel * a for a, b in zip(sizes, sizes[1:])) * 4 // 1024


def ready_rss_kib(root):
    with helpers.serving(root, ["--threads", "1"]) as s:
        return helpers.read_rss_kib(s.proc.pid)


@pytest.mark.skipif(helpers.SLOW > 1, reason="about glibc's malloc, which ASan replaces with "
                    "its own allocator (it keeps freed memory mapped)")
def test_json_model_parse_memory_is_given_back(tmp_path):
    """A 784-512-512-10 model in native JSON (~5 MB of text, 2.6 MiB of
    weights) used to cost ~27 MiB of resident memory at idle: glibc kept the
    freed pages of the parse's JSON tree. Compared with the same server
    holding a 4-16-3 model, in the same run."""
    small, big = tmp_path / "small", tmp_path / "big"
    os.makedirs(small / "m" / "1")
    os.makedirs(big / "m" / "1")
    helpers.write_big_json_model(str(small / "m" / "1" / "model.json"), [4, 16, 3], 1)
    helpers.write_big_json_model(str(big / "m" / "1" / "model.json"), JSON_SIZES, 1)
    weights_kib = sum(a * b + b for a, b in zip(JSON_SIZES, JSON_SIZES[1:])) * 4 // 1024
    kept_kib = weights_kib + packed_kib(JSON_SIZES) - packed_kib([4, 16, 3])
    json_kib = os.path.getsize(big / "m" / "1" / "model.json") // 1024
    base, loaded = ready_rss_kib(small), ready_rss_kib(big)
    extra = loaded - base
    print(f"\nRSS KiB at ready: 4-16-3 model {base}, 784-512-512-10 model {loaded} "
          f"(+{extra}); its weights {weights_kib} KiB (with the panel copy {kept_kib}), "
          f"its JSON {json_kib} KiB")
    assert extra <= kept_kib + LOAD_SLACK_KIB, \
        f"a model with {weights_kib} KiB of weights costs {extra} KiB at idle (allowed: " \
        f"weights and their panel copy {kept_kib} + slack {LOAD_SLACK_KIB} KiB)"
