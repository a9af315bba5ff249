"""DNS rebinding: the Host header allow-list (--allowed-hosts).

A page on evil.example whose DNS name is rebound to 127.0.0.1 makes its
visitor's browser call a server on the visitor's machine as the page's own
origin: Origin is http://evil.example:PORT, the same as the Host, so the
Origin check lets it through. On a loopback-bound server (make run's) the
default serves only localhost and IP addresses; any other Host is refused
with 403 before anything runs, and the server goes on serving. The decision
for a server on every interface (any Host by default) is a unit test
(test_hosts.c): binding 0.0.0.0 here would expose a test server."""

import json
import os
import re
import socket
import subprocess

import pytest

import helpers
from helpers import assert_error, request

V2 = '{"inputs":[{"name":"input","shape":[1,5],"datatype":"FP32","data":[1,2,3,4,5]}]}'
TINY = helpers.v2_body([[1, 2, 3, 4]], diag="none")
TINY_BYTES = json.dumps(TINY).encode()


@pytest.fixture(scope="module")
def srv(repo, tmp_path_factory):
    with helpers.serving(repo[0], ["--enable-model-control"],
                         log_dir=str(tmp_path_factory.mktemp("hostlogs"))) as s:
        yield s


def metric(port, name, **labels):
    """The sum of the series of name whose labels include these."""
    text = request(port, "GET", "/metrics").body.decode()
    total = 0.0
    for m in re.finditer(r"^%s\{([^}]*)\} (\S+)$" % re.escape(name), text, re.M):
        if all(f'{k}="{v}"' in m.group(1).split(",") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def refused(r, host):
    return assert_error(r, 403, "header Host", host, "--allowed-hosts")


def raw(port, data, timeout=10.0):
    """Sends data on one connection and reads until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * helpers.SLOW) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_a_rebound_name_is_refused_before_anything_runs(srv):
    """What a rebinding page sends, same-origin to the browser: inference in
    every content type a page may use, model control, metadata, metrics,
    health, the playground and a preflight. All 403 naming the Host and the
    flag, nothing computed or unloaded, each counted in /metrics and logged."""
    port = srv.port
    evil = f"evil.example:{port}"
    page = {"Host": evil, "Origin": f"http://{evil}"}
    before = metric(port, "reluserve_requests_total", status="403")
    sent = []
    for path, ctype in (("/v2/models/reg/infer", "text/plain"),
                        ("/v2/models/reg/infer", "application/json"),
                        ("/v1/models/reg:predict", None)):
        body = V2 if path.startswith("/v2") else '{"instances": [[1, 2, 3, 4, 5]]}'
        hdrs = dict(page, **({"Content-Type": ctype} if ctype else {}))
        hdrs["X-Request-Id"] = rid = f"rebound-{len(sent)}"
        refused(request(port, "POST", path, body=body, headers=hdrs), evil)
        sent.append(rid)
    for method, path in (("POST", "/v2/repository/models/reg/unload"),
                         ("POST", "/v2/repository/models/tiny/load"),
                         ("GET", "/v2/models/reg"), ("GET", "/metrics"),
                         ("GET", "/v2/health/live"), ("GET", "/v2/health/ready"), ("GET", "/"),
                         ("OPTIONS", "/v2/models/reg/infer"), ("GET", "/nosuch")):
        rid = f"rebound-{len(sent)}"
        r = request(port, method, path, headers=dict(page, **{"X-Request-Id": rid}))
        refused(r, evil)
        assert "access-control-allow-origin" not in r.headers, r.headers
        sent.append(rid)
    # without Origin (a script's fetch of a GET) and without the port: the same
    refused(request(port, "GET", "/v2", headers={"Host": "evil.example"}), "evil.example")
    # nothing ran: reg is still loaded and computed no row
    assert request(port, "GET", "/v2/models/reg/ready").status == 200
    assert metric(port, "reluserve_batch_rows_count", model="reg") == 0
    assert metric(port, "reluserve_requests_total", status="403") == before + len(sent) + 1
    log = srv.synced_stderr()
    for rid in sent:
        lines = [ln for ln in log.splitlines() if ln.endswith("id=" + rid)]
        assert len(lines) == 1 and " 403 " in lines[0], (rid, lines)
    # and the server serves on
    r = request(port, "POST", "/v2/models/reg/infer", body=V2)
    assert r.status == 200, r


def test_localhost_and_ip_addresses_are_served(srv):
    """curl http://localhost:8080, http://127.0.0.1:8080, http://[::1]:8080,
    the playground calling its API from its own page, and any IP address (a
    name that was not looked up cannot have been rebound)."""
    port = srv.port
    for host in (f"localhost:{port}", "localhost", "LocalHost", f"localhost.:{port}",
                 f"127.0.0.1:{port}", "127.0.0.1", f"[::1]:{port}", "[::1]", "[0:0::1]",
                 "[::FFFF:127.0.0.1]", "10.0.0.7:8080", "127.0.0.1."):
        r = request(port, "GET", "/v2/health/ready", headers={"Host": host})
        assert r.status == 200, (host, r)
        r = request(port, "POST", "/v2/models/tiny/infer", body=TINY,
                    headers={"Host": host, "Origin": f"http://{host}"})
        assert r.status == 200, (host, r)
    page = request(port, "GET", "/", headers={"Host": f"localhost:{port}"})
    assert page.status == 200 and b"<html" in page.body.lower(), page


@pytest.mark.parametrize("host", [
    "evil.example.", "EVIL.example", "localhost.evil.example", "127.0.0.1.evil.example",
    "evil.localhost", "localhost:http", "localhost:99999", "localhost:", "[::1", "[::1]x",
    "[::1]:", "[evil.example]", "localhost evil.example", "localhost,evil.example",
    "0x7f000001", "2130706433", pytest.param("", id="empty"),
    pytest.param("x" * 400, id="overlong")])
def test_other_and_malformed_hosts_are_refused(srv, host):
    refused(request(srv.port, "GET", "/v2/health/ready", headers={"Host": host}), host[:200])


def test_refusals_keep_the_connection_and_the_server_serving(srv):
    """A refused POST's body is read and dropped: the next request on the same
    keep-alive connection is answered, and other clients are served."""
    port = srv.port
    body = V2.encode()
    data = (b"POST /v2/models/reg/infer HTTP/1.1\r\nHost: evil.example\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body) +
            b"POST /v2/models/reg/infer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    out = raw(port, data)
    statuses = re.findall(rb"^HTTP/1\.1 (\d{3})", out, re.M)
    assert statuses == [b"403", b"200"], out[:2000]
    assert b"--allowed-hosts" in out and b'"outputs"' in out, out[:2000]
    assert request(port, "GET", "/v2/health/ready").status == 200


def test_an_absurd_body_of_a_refused_request_is_not_waited_for(srv):
    """A refused request that declares an absurd body (over 4x --max-body plus
    16 MiB) and sends none of it is answered at once with its refusal, and the
    connection closed: the server does not hold the connection reading and
    dropping a body that may never come (until --upload-timeout-ms, 60 s)."""
    data = (b"POST /v2/models/reg/infer HTTP/1.1\r\nHost: evil.example\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n")
    out = raw(srv.port, data)  # reads until the server closes the connection
    assert out.startswith(b"HTTP/1.1 403"), out[:500]
    assert b"header Host 'evil.example'" in out, out[:2000]
    assert request(srv.port, "GET", "/v2/health/ready").status == 200


def test_an_http_1_0_request_without_host_is_served(srv):
    """HTTP/1.0 may omit Host; browsers always send it, so such a request is
    no rebinding page's."""
    out = raw(srv.port, b"GET /v2/health/ready HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.") and b" 200 " in out.split(b"\r\n")[0], out[:500]


@pytest.mark.parametrize("headers,said", [
    (b"", b"an HTTP/1.1 request must carry one"),
    (b"Host: localhost\r\nHost: evil.example\r\n", b"sent 2 times"),
    (b"Host: evil.example\r\nhost: localhost\r\n", b"sent 2 times"),
    (b"Host: localhost\r\nHost: localhost\r\n", b"sent 2 times"),
])
def test_an_http_1_1_request_needs_exactly_one_host(srv, headers, said):
    """RFC 9112: an HTTP/1.1 request without Host, or with more than one, is
    answered 400 (libmicrohttpd 0.9.75 alone served it, reading the first
    Host only), on GET and POST alike, and the server keeps serving."""
    for req in (b"GET /v2/health/ready HTTP/1.1\r\n" + headers + b"Connection: close\r\n\r\n",
                b"POST /v2/models/tiny/infer HTTP/1.1\r\n" + headers +
                b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n" % len(TINY_BYTES) + TINY_BYTES):
        out = raw(srv.port, req)
        assert out.startswith(b"HTTP/1.1 400 "), out[:500]
        body = out.split(b"\r\n\r\n", 1)[1]
        assert json.loads(body)["error"].startswith("header Host: "), body
        assert said in body, body
    assert request(srv.port, "GET", "/v2/health/ready").status == 200


def test_the_list_allows_its_names_besides_localhost_and_addresses(repo, tmp_path):
    with helpers.serving(repo[0], ["--allowed-hosts", " reluserve.example, Models.Internal. "],
                         log_dir=str(tmp_path)) as s:
        for host in ("reluserve.example", f"reluserve.example:{s.port}", "RELUSERVE.EXAMPLE.:80",
                     "models.internal", f"localhost:{s.port}", f"127.0.0.1:{s.port}", "[::1]"):
            r = request(s.port, "POST", "/v2/models/tiny/infer", body=TINY,
                        headers={"Host": host, "Origin": f"http://{host}"})
            assert r.status == 200, (host, r)
        for host in ("evil.example", "example", "sub.reluserve.example", "reluserve.example.evil"):
            refused(request(s.port, "GET", "/v2", headers={"Host": host}), host)
        assert request(s.port, "GET", "/v2/health/live").status == 200


def test_the_environment_twin_and_the_star(repo, tmp_path):
    env = {"RELUSERVE_ALLOWED_HOSTS": "reluserve.example"}
    with helpers.serving(repo[0], [], env=env, log_dir=str(tmp_path)) as s:
        assert request(s.port, "GET", "/v2", headers={"Host": "reluserve.example"}).status == 200
        refused(request(s.port, "GET", "/v2", headers={"Host": "evil.example"}), "evil.example")
    # the flag wins over its twin; * serves every Host
    with helpers.serving(repo[0], ["--allowed-hosts", "*"], env=env, log_dir=str(tmp_path)) as s:
        for host in ("evil.example", f"evil.example:{s.port}", "anything.at.all"):
            r = request(s.port, "POST", "/v2/models/tiny/infer", body=TINY,
                        headers={"Host": host, "Origin": f"http://{host}"})
            assert r.status == 200, (host, r)


@pytest.mark.parametrize("value, needle", [
    ("evil.example:8080", "without a port"), ("", "host names separated by commas"),
    (" , ", "host names separated by commas"), ("*.example", "'*' alone"),
    ("::1", "in brackets"), ("[evil]", "IPv6 address in brackets"), ("a b", "not a host name"),
    ("a..b", "not a host name"), pytest.param("x" * 254, "at most 253 bytes", id="overlong")])
def test_a_bad_list_stops_the_start_naming_the_flag_or_variable(repo, value, needle):
    for args, env, who in ((["--allowed-hosts", value], {}, "--allowed-hosts"),
                           ([], {"RELUSERVE_ALLOWED_HOSTS": value}, "RELUSERVE_ALLOWED_HOSTS")):
        p = subprocess.run([helpers.binary(), "serve", "--models", str(repo[0]), "--port", "0"]
                           + args, capture_output=True, text=True, timeout=10 * helpers.SLOW,
                           env=dict(os.environ, **env))
        assert p.returncode != 0, (value, p.stderr)
        assert who in p.stderr and needle in p.stderr, (value, p.stderr)
