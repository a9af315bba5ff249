"""Every endpoint of DESIGN.md / issue 3, one behaviour per test."""

import os
import re
import subprocess
import time
import uuid

import numpy as np

import helpers
from helpers import get, post

import mlpref


def test_health_live(port):
    r = get(port, "/v2/health/live")
    assert r.status == 200, r


def test_health_ready(port):
    r = get(port, "/v2/health/ready")
    assert r.status == 200, r


def test_json_answers_end_with_a_newline(port):
    """curl prints a body as it is: without a final newline the shell's prompt, or the next
    command's output, would carry on the JSON's line. One newline, at the end only."""
    x = [[0.5, -1.5, 2.0, 3.25]]
    for method, path, body in [("GET", "/v2/health/ready", None),
                               ("GET", "/v2/models/tiny", None),
                               ("POST", "/v2/models/tiny/infer", helpers.v2_body(x)),
                               ("POST", "/v1/models/tiny:predict", {"instances": x}),
                               ("GET", "/v2/models/nope", None),
                               ("POST", "/v2/models/tiny/infer", "{nope")]:
        r = helpers.request(port, method, path, body,
                            headers={"Content-Type": "application/json"} if body else None)
        assert r.headers["content-type"].startswith("application/json"), (path, r.headers)
        assert r.body.endswith(b"}\n") and r.body.count(b"\n") == 1, (path, r.body[-60:])
        assert int(r.headers["content-length"]) == len(r.body), (path, r.headers)
        assert "inference-header-content-length" not in r.headers, (path, r.headers)
    assert get(port, "/v2/health/live").body == b'{"live":true}\n'


def test_server_metadata_has_required_fields(port):
    r = get(port, "/v2")
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert isinstance(doc["name"], str) and doc["name"]
    assert isinstance(doc["version"], str) and doc["version"]
    assert isinstance(doc["extensions"], list)
    assert all(isinstance(e, str) for e in doc["extensions"])


def test_model_metadata(port, models):
    r = get(port, "/v2/models/tiny")
    assert r.status == 200, r
    doc = r.json()
    assert doc["name"] == "tiny"
    assert doc["platform"] == "reluserve_mlp"
    assert doc["versions"] == ["1"], doc["versions"]
    assert len(doc["inputs"]) >= 1 and len(doc["outputs"]) >= 1
    inp, out = doc["inputs"][0], doc["outputs"][0]
    assert inp["name"] == "input" and inp["datatype"] == "FP32" and inp["shape"] == [-1, 4], inp
    assert out["name"] == "output" and out["datatype"] == "FP32" and out["shape"] == [-1, 3], out


def test_model_metadata_lists_every_version(port):
    doc = get(port, "/v2/models/ver").json()
    assert sorted(doc["versions"], key=int) == ["2", "10"], doc["versions"]


def test_model_version_metadata(port):
    r = get(port, "/v2/models/ver/versions/2")
    assert r.status == 200, r
    doc = r.json()
    assert doc["name"] == "ver"
    assert doc["inputs"][0]["shape"] == [-1, 3]


def test_model_ready(port):
    assert get(port, "/v2/models/tiny/ready").status == 200
    assert get(port, "/v2/models/ver/versions/2/ready").status == 200


def test_unknown_model_not_ready(port):
    assert get(port, "/v2/models/nope/ready").status == 404


def _infer_ver(port, path, models, version):
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], np.float32)
    r = post(port, path, helpers.v2_body(x, diag="none"))
    assert r.status == 200, r
    doc = r.json()
    helpers.check_v2_response(doc, models["ver"][version], x, "ver", version, diag="none")
    # the other version's weights must not match (the test can tell them apart)
    other = "2" if version == "10" else "10"
    assert not np.allclose(helpers.tensor_array(helpers.output_tensor(doc)),
                           mlpref.reference(models["ver"][other], x)["outputs"], atol=1e-4)


def test_newest_version_serves_by_default(port, models):
    _infer_ver(port, "/v2/models/ver/infer", models, "10")


def test_version_addressing(port, models):
    _infer_ver(port, "/v2/models/ver/versions/2/infer", models, "2")
    _infer_ver(port, "/v2/models/ver/versions/10/infer", models, "10")


def test_v1_predict_instances(port, models):
    x = np.array([[0.1, 0.2, 0.3, 0.4], [-1, 2, -3, 4]], np.float32)
    r = post(port, "/v1/models/tiny:predict", {"instances": x.tolist()})
    assert r.status == 200, r
    doc = r.json()
    mlpref.assert_close(doc["predictions"], mlpref.reference(models["tiny"]["1"], x)["outputs"],
                        "predictions")


def test_v1_predict_inputs_form(port, models):
    x = np.array([[0.1, 0.2, 0.3, 0.4]], np.float32)
    r = post(port, "/v1/models/tiny:predict", {"inputs": x.tolist()})
    assert r.status == 200, r
    doc = r.json()
    got = doc.get("predictions", doc.get("outputs"))
    assert got is not None, doc
    mlpref.assert_close(got, mlpref.reference(models["tiny"]["1"], x)["outputs"], "outputs")


def test_v1_predict_version(port, models):
    x = np.array([[0.1, 0.2, 0.3]], np.float32)
    r = post(port, "/v1/models/ver/versions/2:predict", {"instances": x.tolist()})
    assert r.status == 200, r
    mlpref.assert_close(r.json()["predictions"], mlpref.reference(models["ver"]["2"], x)["outputs"],
                        "predictions")


def test_v1_predict_with_diagnostics(port, models):
    x = np.array([[0.1, 0.2, 0.3, 0.4], [1, 1, 1, 1]], np.float32)
    r = post(port, "/v1/models/tiny:predict",
             {"instances": x.tolist(), "parameters": {"diagnostics": "full"}})
    assert r.status == 200, r
    d = r.json()["diagnostics"]
    mlpref.compare_diagnostics(d, mlpref.reference(models["tiny"]["1"], x))


def test_v1_model_status(port):
    r = get(port, "/v1/models/tiny")
    assert r.status == 200, r
    st = r.json()["model_version_status"]
    assert any(s["version"] == "1" and s["state"] == "AVAILABLE" for s in st), st


def test_metrics_prometheus_text(port):
    post(port, "/v2/models/tiny/infer", helpers.v2_body([[1, 2, 3, 4]]))
    r = get(port, "/metrics")
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/plain"), r.headers["content-type"]
    text = r.body.decode()
    samples = 0
    for line in text.splitlines():
        if not line or line.startswith("#"):
            if line.startswith("# TYPE"):
                assert line.split()[3] in ("counter", "gauge", "histogram", "summary",
                                           "untyped"), line
            continue
        assert helpers.PROM_LINE.match(line), f"not Prometheus text: {line!r}"
        samples += 1
    assert samples > 0
    assert 'model="tiny"' in text, "no per-model metric for tiny"


def test_metrics_do_not_grow_with_unknown_model_names(port):
    """Model names in URLs are the client's: a label per name would let anyone
    grow /metrics (and the server's memory) without bound. Unknown names are
    counted under model="" instead."""
    names = [f"nosuch-{uuid.uuid4().hex[:12]}" for _ in range(5)]
    for n in names:
        assert get(port, f"/v2/models/{n}/ready").status == 404
        assert post(port, f"/v2/models/{n}/infer", helpers.v2_body([[1, 2, 3, 4]])).status == 404
        assert get(port, f"/v1/models/{n}").status == 404
        assert post(port, f"/v1/models/{n}:predict", {"instances": [[1, 2, 3, 4]]}).status == 404
    text = get(port, "/metrics").body.decode()
    for n in names:
        assert n not in text, f"/metrics grew a series for the unknown model {n}"
    assert 'reluserve_requests_total{model="",status="404"}' in text
    assert 'model="tiny"' in text


def test_repository_index(port, models):
    r = post(port, "/v2/repository/index", {})
    assert r.status == 200, r
    doc = r.json()
    assert isinstance(doc, list)
    names = {e["name"] for e in doc}
    assert set(models) <= names, names
    for e in doc:
        if e["name"] in models:
            assert e.get("state") == "READY", e


def test_playground_html(port):
    r = get(port, "/")
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/html")
    assert b"<html" in r.body.lower()


def test_favicon_served(port):
    # Browsers ask for /favicon.ico whatever the page links; a 404 there is
    # a failed resource in every playground session.
    r = get(port, "/favicon.ico")
    assert r.status == 200, r
    assert r.headers["content-type"] == "image/x-icon"
    assert r.body[:4] == b"\x00\x00\x01\x00"  # ICO header: reserved 0, type 1 (icon)


def test_request_id_echoed(port):
    rid = "test-" + uuid.uuid4().hex
    r = post(port, "/v2/models/tiny/infer", helpers.v2_body([[1, 2, 3, 4]]),
             headers={"X-Request-Id": rid})
    assert r.status == 200, r
    assert r.headers.get("x-request-id") == rid


def test_request_id_generated(port):
    ids = [get(port, "/v2/health/live").headers.get("x-request-id") for _ in range(3)]
    # 16 lowercase hex digits (a counter scrambled with a per-process salt),
    # one per request
    assert all(i and re.fullmatch(r"[0-9a-f]{16}", i) for i in ids), ids
    assert len(set(ids)) == 3, ids


def test_request_id_on_errors_too(port):
    r = get(port, "/v2/models/nope", headers={"X-Request-Id": "err-1"})
    assert r.status == 404 and r.headers.get("x-request-id") == "err-1"


def test_v2_id_echoed(port, models):
    x = [[1, 2, 3, 4]]
    r = post(port, "/v2/models/tiny/infer", helpers.v2_body(x, rid="my-id-7"))
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), models["tiny"]["1"], x, "tiny", "1", rid="my-id-7")


def test_iris_bundled_model_serves(port, repo):
    if not os.path.isdir(os.path.join(helpers.ROOT, "models", "iris")):
        import pytest
        pytest.fail("models/iris is missing from the repository")
    r = post(port, "/v2/models/iris/infer", helpers.v2_body([[5.1, 3.5, 1.4, 0.2],
                                                             [6.7, 3.0, 5.2, 2.3]]))
    assert r.status == 200, r
    y = helpers.tensor_array(helpers.output_tensor(r.json()))
    assert y.shape == (2, 3)
    assert int(np.argmax(y[0])) == 0 and int(np.argmax(y[1])) == 2, y


def test_head_or_keepalive_many_requests_one_connection(port):
    """Keep-alive: several requests on one connection all answered."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * helpers.SLOW)
    try:
        for _ in range(20):
            conn.request("POST", "/v2/models/tiny/infer",
                         body=b'{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32",'
                              b'"data":[1,2,3,4]}]}',
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 200
            r.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ config

def test_help_lists_flags_with_env_twins():
    p = subprocess.run([helpers.binary(), "serve", "--help"], capture_output=True, text=True,
                       timeout=10 * helpers.SLOW)
    assert p.returncode == 0, p.stderr
    text = p.stdout + p.stderr
    for flag in ("port", "host", "models", "threads", "max-batch", "batch-delay-us", "max-queue",
                 "max-body", "max-rows", "max-response-bytes", "log-format", "api-key", "cors-origin",
                 "lean-max-flops", "kernel"):
        assert f"--{flag}" in text, f"--{flag} missing from --help"
        env = "RELUSERVE_" + flag.upper().replace("-", "_")
        assert env in text, f"{env} missing from --help"


def test_env_twins_configure_the_server(repo, tmp_path):
    port = helpers.free_port()
    env = {"RELUSERVE_PORT": str(port), "RELUSERVE_HOST": "127.0.0.1",
           "RELUSERVE_MODELS": str(repo[0]), "RELUSERVE_MAX_ROWS": "3"}
    with helpers.serving(repo[0], [], env=env, port=port, log_dir=str(tmp_path), flags=False):
        assert post(port, "/v2/models/tiny/infer", helpers.v2_body([[1, 2, 3, 4]] * 3)).status == 200
        helpers.assert_error(post(port, "/v2/models/tiny/infer",
                                  helpers.v2_body([[1, 2, 3, 4]] * 4)), 413)


def _listen_addresses(port):
    """Local addresses of the sockets listening on port, from /proc/net/tcp{,6}
    (hex, as the kernel writes them)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.split(":")
                if state == "0A" and int(p, 16) == port:
                    found.append(addr)
    return found


def test_default_host_is_loopback_only(repo, tmp_path, monkeypatch):
    """Without --host (or RELUSERVE_HOST) the server listens on 127.0.0.1
    only: `make run` on a laptop must not expose it to the network."""
    monkeypatch.delenv("RELUSERVE_HOST", raising=False)
    port = helpers.free_port()
    with helpers.serving(repo[0], ["--models", str(repo[0]), "--port", str(port)], port=port,
                         log_dir=str(tmp_path), flags=False) as s:
        assert _listen_addresses(port) == ["0100007F"], _listen_addresses(port)
    _, log = s.stopped
    assert f"listening on http://127.0.0.1:{port}" in log, log[:2000]


def test_openblas_runs_single_threaded_whatever_the_environment(repo, tmp_path):
    """libmlp's callers must run OpenBLAS on one thread (each pool thread calls it; its own
    threads on top would oversubscribe the cores). The binary pins it at start-up, so an
    environment asking for more (or none, which means one per core) does not matter; the
    banner reports what OpenBLAS says after start-up."""
    s = helpers.Server(repo[0], env={"OPENBLAS_NUM_THREADS": "2"}, log_dir=str(tmp_path))
    try:
        s.wait_ready()
    except BaseException:
        s.kill()
        raise
    _, log = s.stop()
    linked = b"libopenblas" in subprocess.run(["ldd", helpers.binary()], capture_output=True,
                                              check=True).stdout
    # make BLAS=0 builds the binary without OpenBLAS: then there is nothing to pin
    want = r"compute threads?, 1 OpenBLAS thread each," if linked else r"compute threads?, no BLAS"
    assert re.search(want, log), log[:2000]


def test_thread_defaults_follow_the_cpu_affinity(repo):
    """--threads and --http-threads default to the CPUs the process may use,
    not the machine's cores: pinned to one CPU (taskset, as a cpuset or a
    Kubernetes static CPU policy would pin it), the server starts one compute
    thread and one HTTP thread and says why; with no pinning, one compute
    thread per CPU of its affinity. (A cgroup CPU quota caps the count the
    same way: test_cpus, and make test-docker runs a container with --cpus.)"""
    cpus = sorted(os.sched_getaffinity(0))
    online = os.sysconf("SC_NPROCESSORS_ONLN")

    line = helpers.start_line(repo[0], ["taskset", "-c", str(cpus[0])])
    assert ", 1 compute thread, " in line, line
    by = " by affinity of %d online" % online if online > 1 else ""
    assert ", 1 HTTP thread for 1 CPU%s, " % by in line, line
    line = helpers.start_line(repo[0])
    n = len(cpus)
    assert ", %d compute thread%s, " % (n, "s" if n > 1 else "") in line \
        or re.search(r"HTTP threads? for \d+ CPUs? by cgroup quota", line), line


def test_flag_wins_over_env_twin(repo, tmp_path):
    with helpers.serving(repo[0], ["--max-rows", "5"], env={"RELUSERVE_MAX_ROWS": "2"},
                         log_dir=str(tmp_path)) as s:
        assert post(s.port, "/v2/models/tiny/infer",
                    helpers.v2_body([[1, 2, 3, 4]] * 5)).status == 200


def test_bad_flag_is_refused_clearly(repo):
    p = subprocess.run([helpers.binary(), "serve", "--models", str(repo[0]), "--max-batch", "zero"],
                       capture_output=True, text=True, timeout=10 * helpers.SLOW)
    assert p.returncode != 0
    assert "--max-batch" in p.stderr, p.stderr


def test_json_log_format_access_lines(repo, tmp_path):
    import json
    with helpers.serving(repo[0], ["--log-format", "json"], log_dir=str(tmp_path)) as s:
        post(s.port, "/v2/models/tiny/infer", helpers.v2_body([[1, 2, 3, 4]] * 2))
    _, log = s.stopped
    lines = [ln for ln in log.splitlines() if ln.strip()]
    docs = []
    for ln in lines:
        if ln.startswith("{"):
            docs.append(json.loads(ln))
    assert docs, f"no JSON log lines:\n{log[:2000]}"
    access = [d for d in docs if d.get("model") == "tiny"]
    assert access, f"no access line naming the model:\n{log[:2000]}"
    assert any(d.get("status") == 200 and d.get("rows") == 2 for d in access), access


def test_json_log_lines_stay_valid_json_whatever_the_url(repo, tmp_path):
    """A 10 KiB URL (cut in the log) and bytes >= 0x80 (libmicrohttpd decodes
    %XX in the path) still give one valid JSON object per line, in UTF-8."""
    import json
    long_path = "/v2/models/" + "a%22%5C%80%0A%C3%A9" * 700 + "/ready"
    with helpers.serving(repo[0], ["--log-format", "json"], log_dir=str(tmp_path)) as s:
        for path in (long_path, "/v2/models/caf%C3%A9%80%FF%C0%AF%ED%A0%80/ready",
                     "/x%E2%82%AC%F0%9F%98%80"):
            r = get(s.port, path, headers={"X-Request-Id": "odd-url"})
            assert r.status == 404, r
    _, log = s.stopped
    raw = open(s.log_path, "rb").read()
    text = raw.decode("utf-8")  # strict: the log is UTF-8
    docs = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    odd = [d for d in docs if d.get("request_id") == "odd-url"]
    assert len(odd) == 3, odd
    for d in odd:
        assert d["msg"] == "access" and d["status"] == 404 and d["method"] == "GET", d
    assert len(odd[0]["path"]) > 500 and odd[0]["path"].endswith("..."), odd[0]["path"][-50:]
    # well-formed UTF-8 as sent, every other byte as U+00XX
    assert odd[1]["path"] == ("/v2/models/caf\u00e9\u0080\u00ff\u00c0\u00af\u00ed\u00a0\u0080"
                              "/ready")
    assert odd[2]["path"] == "/x\u20ac\U0001f600"


def test_model_diagnostics_window_finds_never_active_units(port, models):
    """GET /v2/models/{m}/diagnostics: a hidden layer silent for every row of
    live traffic has never_active_fraction 1; a healthy layer less."""
    rng = np.random.default_rng(31)
    x = mlpref.random_inputs(rng, models["dead"]["1"], 20)
    assert post(port, "/v2/models/dead/infer", helpers.v2_body(x, diag="none")).status == 200
    # the batch's counts are merged on the loop thread just after the answer
    # goes out, so the window may lag the response by a moment
    deadline = time.time() + 5 * helpers.SLOW
    while True:
        r = get(port, "/v2/models/dead/diagnostics")
        assert r.status == 200, r
        doc = r.json()
        if doc["rows"] >= 20 or time.time() > deadline:
            break
        time.sleep(0.02)
    assert doc["rows"] >= 20, doc
    layers = doc["layers"]
    assert layers[1]["never_active_fraction"] == 1.0, layers[1]
    assert layers[1]["never_active_units"] == list(range(8)), layers[1]
    ref = mlpref.reference(models["dead"]["1"], x)
    never0 = float(np.mean((ref["z"][0] <= 0).all(axis=0)))
    assert layers[0]["never_active_fraction"] <= never0 + 1e-6, (layers[0], never0)
    text = get(port, "/metrics").body.decode()
    assert any('model="dead"' in ln and not ln.startswith("#") for ln in text.splitlines())


def test_api_key_required_when_set(repo, tmp_path):
    # ready although a key is set: probes stay open for Kubernetes
    with helpers.serving(repo[0], ["--api-key", "s3cret"], log_dir=str(tmp_path)) as s:
        body = helpers.v2_body([[1, 2, 3, 4]])
        r = post(s.port, "/v2/models/tiny/infer", body)
        helpers.assert_error(r, 401, "authorization")
        assert r.headers.get("www-authenticate", "").startswith("Bearer")
        helpers.assert_error(post(s.port, "/v2/models/tiny/infer", body,
                                  headers={"Authorization": "Bearer wrong"}), 401)
        assert post(s.port, "/v2/models/tiny/infer", body,
                    headers={"Authorization": "Bearer s3cret"}).status == 200
