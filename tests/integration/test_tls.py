"""HTTPS through libmicrohttpd's GnuTLS: --tls-cert/--tls-key serve the same API
over TLS, plain HTTP on that port gets no answer, and bad key material is a clear
startup error rather than a crash."""

import http.client
import json
import os
import shutil
import ssl
import subprocess
import time

import pytest

import helpers

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def make_cert(directory, name):
    cert, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def https(port, cafile, method, path, body=None):
    ctx = ssl.create_default_context(cafile=cafile)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10 * helpers.SLOW)
    try:
        c.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


@pytest.fixture(scope="module")
def tls_server(repo, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    cert, key = make_cert(d, "server")
    s = helpers.Server(repo[0], ["--tls-cert", cert, "--tls-key", key], log_dir=d)
    deadline = time.time() + 30 * helpers.SLOW
    while True:
        assert s.proc.poll() is None, s.stderr()
        try:
            if https(s.port, cert, "GET", "/v2/health/ready")[0] == 200:
                break
        except OSError:
            assert time.time() < deadline, s.stderr()
            time.sleep(0.05)
    yield s, cert
    s.stop()


def test_https_serves_inference(tls_server):
    s, cert = tls_server
    body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                        "data": [5.1, 3.5, 1.4, 0.2]}]}
    status, raw = https(s.port, cert, "POST", "/v2/models/iris/infer", json.dumps(body))
    assert status == 200, raw
    out = json.loads(raw)
    assert out["outputs"][0]["shape"] == [1, 3]
    assert "diagnostics" in out
    s.stderr_with("listening on https://")


def test_own_origin_over_https_is_the_https_one(tls_server):
    """The playground served over TLS calls its API with an https:// Origin;
    the same host and port with http:// is another origin (403)."""
    s, cert = tls_server
    ctx = ssl.create_default_context(cafile=cert)
    for scheme, want in (("https", 200), ("http", 403)):
        c = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10 * helpers.SLOW)
        try:
            c.request("GET", "/v2", headers={"Origin": f"{scheme}://127.0.0.1:{s.port}"})
            r = c.getresponse()
            r.read()
            assert r.status == want, (scheme, r.status)
        finally:
            c.close()


def test_plain_http_on_tls_port_gets_no_response(tls_server):
    s, _ = tls_server
    with pytest.raises((OSError, http.client.HTTPException)):
        helpers.get(s.port, "/v2/health/live", timeout=3)
    # ... and the server keeps serving TLS clients
    assert https(s.port, tls_server[1], "GET", "/v2/health/live")[0] == 200


@pytest.mark.parametrize("case", ["cert_only", "missing_file", "not_pem", "mismatched_key"])
def test_bad_tls_material_is_a_clear_startup_error(repo, tmp_path, case):
    cert, key = make_cert(str(tmp_path), "a")
    other_cert, other_key = make_cert(str(tmp_path), "b")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    args, expect = {
        "cert_only": (["--tls-cert", cert], "--tls-cert and --tls-key go together"),
        "missing_file": (["--tls-cert", cert, "--tls-key", str(tmp_path / "nope.key")],
                         "--tls-key"),
        "not_pem": (["--tls-cert", str(junk), "--tls-key", key], "expected a PEM file"),
        "mismatched_key": (["--tls-cert", cert, "--tls-key", other_key], "--tls-cert/--tls-key"),
    }[case]
    p = subprocess.run([helpers.binary(), "serve", "--models", str(repo[0]), "--host",
                        "127.0.0.1", "--port", str(helpers.free_port())] + args,
                       capture_output=True, text=True, timeout=60 * helpers.SLOW)
    assert p.returncode != 0
    assert expect in p.stderr, p.stderr
    helpers.check_sanitizer_clean(p.stderr)
