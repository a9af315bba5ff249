"""--max-body-total bounds the request data held over all connections at once:
an upload that would pass it is answered 503 with Retry-After (read to the end
first, so the client is not reset), and the budget comes back as requests end."""

import json
import socket
import subprocess
import time

import pytest

import helpers

BODY = 90_000


def padded_request(size):
    """A valid v2 request for the 4-input tiny model, padded with spaces to size bytes."""
    doc = json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                                  "data": [0.1, 0.2, 0.3, 0.4]}],
                      "parameters": {"diagnostics": "none"}}).encode()
    return doc + b" " * (size - len(doc))


def open_upload(port, body, first):
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * helpers.SLOW)
    s.sendall(b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:first])
    return s


def finish(s, rest):
    s.sendall(rest)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, head.decode(), payload


@pytest.fixture
def budget_server(repo, tmp_path):
    s = helpers.Server(repo[0], ["--max-body", "100K", "--max-body-total", "150K"],
                       log_dir=str(tmp_path))
    try:
        s.wait_ready()
    except BaseException:
        s.kill()
        raise
    yield s
    s.stop()


def test_uploads_past_the_total_budget_get_503_and_the_budget_comes_back(budget_server):
    port = budget_server.port
    body = padded_request(BODY)
    a = open_upload(port, body, 80_000)  # holds 80 KB of the 150 KB budget
    time.sleep(0.3 * helpers.SLOW)
    b = open_upload(port, body, BODY)  # 80 + 90 KB > 150 KB
    time.sleep(0.3 * helpers.SLOW)
    status_b, head_b, payload_b = finish(b, b"")
    assert status_b == 503, head_b
    assert "Retry-After" in head_b
    assert "--max-body-total" in json.loads(payload_b)["error"]
    status_a, head_a, payload_a = finish(a, body[80_000:])
    assert status_a == 200, (head_a, payload_a)
    # both ended: the budget is whole again
    r = helpers.post(port, "/v2/models/tiny/infer", body,
                     headers={"Content-Type": "application/json"})
    assert r.status == 200, r


def test_total_below_max_body_is_refused_at_startup(repo):
    p = subprocess.run([helpers.binary(), "serve", "--models", str(repo[0]), "--port", "0",
                        "--max-body", "1M", "--max-body-total", "100K"],
                       capture_output=True, text=True, timeout=30 * helpers.SLOW)
    assert p.returncode != 0
    assert "--max-body-total" in p.stderr and "--max-body" in p.stderr
