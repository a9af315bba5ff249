"""--max-connections: past the limit a new connection is answered at once (503
+ Retry-After + Connection: close, liveness excepted) while the connections
within it keep being served, and service comes back when they close."""

import json
import subprocess
import socket
import time

import pytest

import helpers

LIMIT = 4
EXTRA = 3


def send(sock, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())


def read_response(sock):
    """(status, headers with lower-case names, body) of one HTTP/1.1 answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed before a full answer: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return status, headers, body


def ask(sock, path):
    send(sock, path)
    return read_response(sock)


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10 * helpers.SLOW)


def served_connections(port, n):
    """n open connections, each of which has been served GET /v2 (200) and
    stays open. The server learns of closed connections (the readiness probes,
    earlier tests' sockets) a moment after they close, so a connection it
    still takes for one past the limit is closed and opened again, until a
    deadline."""
    held = []
    deadline = time.time() + 10 * helpers.SLOW
    while len(held) < n:
        c = connect(port)
        status, headers, body = ask(c, "/v2")
        if status == 200:
            assert headers.get("connection", "").lower() != "close", headers
            held.append(c)
            continue
        c.close()
        assert status == 503 and time.time() < deadline, \
            f"connection {len(held) + 1} of {n} not served: {status} {body!r}"
        time.sleep(0.05)
    return held


def assert_closed_by_server(sock):
    sock.settimeout(10 * helpers.SLOW)
    assert sock.recv(1) == b"", "the server kept an excess connection open"


@pytest.fixture
def limited(repo, tmp_path):
    with helpers.serving(repo[0], ["--max-connections", str(LIMIT), "--connection-timeout-s", "60"],
                         log_dir=str(tmp_path)) as s:
        yield s


def test_connections_past_the_limit_get_503_and_service_resumes(limited):
    port = limited.port
    held = served_connections(port, LIMIT)
    try:
        # Past the limit: answered at once, 503 + Retry-After + {"error"}, then closed.
        for i in range(EXTRA):
            with connect(port) as c:
                status, headers, body = ask(c, "/v2")
                assert status == 503, (i, status, body)
                assert headers.get("retry-after"), headers
                assert headers.get("connection", "").lower() == "close", headers
                assert "--max-connections" in json.loads(body)["error"], body
                assert_closed_by_server(c)
        # ... except liveness: a busy server is alive (still closed after the answer)
        with connect(port) as c:
            status, headers, body = ask(c, "/v2/health/live")
            assert status == 200, body
            assert headers.get("connection", "").lower() == "close", headers
            assert_closed_by_server(c)
        # the connections within the limit are still served, on the same sockets
        for c in held:
            status, headers, body = ask(c, "/v2")
            assert status == 200, body
    finally:
        for c in held:
            c.close()
    # Once they close, a full set of connections is served again.
    again = served_connections(port, LIMIT)
    for c in again:
        c.close()


def test_more_http_threads_than_connections_to_share_is_refused_at_startup(repo):
    """--max-connections 8 and its margin of 16 make 24 connections for the
    HTTP threads' daemons to share: a 25th thread would get none and never
    accept, so the server refuses to start, naming both flags."""
    p = subprocess.run([helpers.binary(), "serve", "--models", str(repo[0]), "--port", "0",
                        "--max-connections", "8", "--http-threads", "25"],
                       capture_output=True, text=True, timeout=30 * helpers.SLOW)
    assert p.returncode != 0
    assert "--http-threads (25)" in p.stderr and "--max-connections (8)" in p.stderr, p.stderr
    with helpers.serving(repo[0], ["--max-connections", "8", "--http-threads", "24"]) as s:
        assert helpers.get(s.port, "/v2/health/live").status == 200
