"""--max-body-total bounds the request data held over all connections at once:
an upload that would pass it is answered 503 with Retry-After (read to the end
first, so the client is not reset), and the budget comes back as requests end.
Bodies are charged as they arrive, one client's unfinished uploads hold at most
--max-body-per-client, and --upload-timeout-ms cuts off uploads that trickle
(408) or stall (closed), so slow clients cannot starve the others."""

import json
import re
import select
import socket
import subprocess
import threading
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


def open_upload(port, body, first, source="127.0.0.1"):
    """A POST of body, of which only the first bytes are sent, from source
    (any 127.x address: a different client to the server)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * helpers.SLOW,
                                 source_address=(source, 0))
    s.sendall(b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: localhost\r\n"
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
    # one client here: its share is the whole budget, so the total is what is tested
    with helpers.serving(repo[0], ["--max-body", "100K", "--max-body-total", "150K",
                                   "--max-body-per-client", "150K"], log_dir=str(tmp_path)) as s:
        yield s


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


def test_metrics_show_the_memory_and_connections_held(budget_server):
    """/metrics shows what the budget holds and its limit, and the open
    connections and theirs: an upload holds at least the bytes that arrived
    (its buffer), nothing once it is given up, and its connection counts
    while open."""
    port = budget_server.port
    m = helpers.metrics(port)
    assert m["reluserve_request_memory_limit_bytes"] == 150 * 1024
    assert m["reluserve_max_connections"] >= 1
    assert m["reluserve_request_memory_bytes"] == 0, m
    assert m["reluserve_open_connections"] >= 1  # this request's own
    a = open_upload(port, padded_request(BODY), 80_000)
    try:
        helpers.wait_metric(port, "reluserve_request_memory_bytes", 80_000)
        m = helpers.metrics(port)
        assert 80_000 <= m["reluserve_request_memory_bytes"] <= 2 * BODY, m
        assert m["reluserve_open_connections"] >= 2, m
    finally:
        a.close()
    deadline = time.time() + 30 * helpers.SLOW
    while helpers.metrics(port)["reluserve_request_memory_bytes"] != 0:
        assert time.time() < deadline, "the abandoned upload's memory was never given back"
        time.sleep(0.01)


def test_total_below_max_body_is_refused_at_startup(repo):
    p = subprocess.run([helpers.binary(), "serve", "--models", str(repo[0]), "--port", "0",
                        "--max-body", "1M", "--max-body-total", "100K"],
                       capture_output=True, text=True, timeout=30 * helpers.SLOW)
    assert p.returncode != 0
    assert "--max-body-total" in p.stderr and "--max-body" in p.stderr


# ---------------------------------------------------------- slow clients

UPLOAD_MS = int(2000 * helpers.SLOW)


def upload(port, body, source):
    """One whole POST from source; (status, head, payload)."""
    return finish(open_upload(port, body, len(body), source), b"")


def read_answer(s):
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data


def trickle(s, give_up_s):
    """Sends one more body byte every 0.2 s until the server answers (or
    closes); returns what it answered, b"" if nothing."""
    end = time.monotonic() + give_up_s
    while time.monotonic() < end:
        readable, _, _ = select.select([s], [], [], 0.2)
        if readable:
            return read_answer(s)
        try:
            s.sendall(b" ")
        except (BrokenPipeError, ConnectionResetError):
            return read_answer(s)
    raise AssertionError(f"no answer after trickling for {give_up_s} s")


@pytest.fixture
def slow_server(repo, tmp_path):
    # --max-body-per-client defaults to a quarter of the total: 256K
    with helpers.serving(repo[0], ["--max-body", "256K", "--max-body-total", "1M",
                                   "--upload-timeout-ms", str(UPLOAD_MS)],
                         log_dir=str(tmp_path)) as s:
        yield s


def test_trickling_uploads_neither_starve_others_nor_outlive_the_deadline(slow_server):
    """Four uploads declaring 256 KiB, sending 250 KiB at once and then a byte
    now and then, from one client, against a 1 MiB budget: they hold at most
    that client's share, so another client is served, and each is answered
    408 at the deadline. Without the per-client cap the four would hold the
    whole budget (the other client: 503); without the deadline they would
    never be answered."""
    port = slow_server.port
    body = padded_request(256 << 10)
    trick = [open_upload(port, body, 250 << 10) for _ in range(4)]
    time.sleep(0.3 * helpers.SLOW)  # their 4 x 250 KiB are in
    status, head, payload = upload(port, padded_request(200_000), "127.0.0.2")
    assert status == 200, (head, payload)
    # a body as large as --max-body fits a client's share
    status, head, payload = upload(port, padded_request(256 << 10), "127.0.0.3")
    assert status == 200, (head, payload)
    # the trickling client itself has no room left
    status, head, payload = upload(port, padded_request(100_000), "127.0.0.1")
    assert status == 503 and "Retry-After" in head, head
    assert "--max-body-per-client" in json.loads(payload)["error"]
    answers = [None] * len(trick)

    def run(i):
        try:
            answers[i] = trickle(trick[i], UPLOAD_MS / 1000 + 15 * helpers.SLOW)
        except AssertionError as ex:
            answers[i] = str(ex).encode()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(trick))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for s in trick:
        s.close()
    for a in answers:
        head, _, payload = a.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), a[:300]
        assert b"Connection: close" in head, head
        assert b"application/json" in head, head
        assert "--upload-timeout-ms" in json.loads(payload)["error"]
    # all of it given back
    status, head, payload = upload(port, padded_request(250_000), "127.0.0.1")
    assert status == 200, (head, payload)
    log = slow_server.synced_stderr()
    assert log.count(" 408 ") >= 4, log[-3000:]


def test_declared_but_unsent_bodies_hold_only_what_arrived(slow_server):
    """Eight clients whose uploads declare 200 KB and sent 10 bytes hold a few
    KiB each (bodies are charged as they arrive), so another client still has
    room for a 200 KB request (charged whole at their first bytes, five of
    them would hold the whole 1 MiB)."""
    port = slow_server.port
    body = padded_request(200_000)
    idle = [open_upload(port, body, 10, f"127.0.0.{10 + i}") for i in range(8)]
    time.sleep(0.3 * helpers.SLOW)
    status, head, payload = upload(port, padded_request(200_000), "127.0.0.2")
    for s in idle:
        s.close()
    assert status == 200, (head, payload)


def test_stalled_upload_is_closed_at_the_deadline(slow_server):
    """A client that sends part of its body and then nothing is closed once
    --upload-timeout-ms has passed (not after --connection-timeout-s, 60 s),
    and what it held is given back."""
    port = slow_server.port
    s = open_upload(port, padded_request(256 << 10), 250 << 10)
    s.settimeout(UPLOAD_MS / 1000 + 15 * helpers.SLOW)
    try:
        data = read_answer(s)
    except socket.timeout:
        raise AssertionError("the stalled upload was not closed at its deadline")
    finally:
        s.close()
    assert data == b"", data[:200]
    status, head, payload = upload(port, padded_request(250_000), "127.0.0.1")
    assert status == 200, (head, payload)


# ------------------------------------------------------------ answers

# Answers are charged to the same budget as the bodies: from the decode (the
# most their buffer can hold, rs_response_capacity) until they are sent. The
# requests below are small (zeros, 2 bytes a value) and their answers large
# (full diagnostics: every row's input gradient, and with v2 preactivations
# every unit's pre-activation), so without that charge any number of them
# would fit at once.
BOUND = re.compile(r"could take up to (\d+) bytes")
RCVBUF = 64 << 10


def answer_body(proto, rows):
    if proto == "v1":
        return ('{"instances":[%s],"diagnostics":"full"}'
                % ",".join(["[0,0,0,0]"] * rows)).encode()
    return ('{"inputs":[{"name":"input","shape":[%d,4],"datatype":"FP32","data":[%s]}],'
            '"parameters":{"diagnostics":"full","preactivations":true}}'
            % (rows, ",".join(["0"] * (4 * rows)))).encode()


def answer_path(proto):
    return "/v1/models/tiny:predict" if proto == "v1" else "/v2/models/tiny/infer"


def kernel_buffering():
    """The most bytes of an answer the kernel can take off the server while
    the client reads nothing: the server's send buffer at its largest, and the
    client's receive buffer (set to RCVBUF, which Linux doubles)."""
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        wmem = int(f.read().split()[2])
    return wmem + 2 * RCVBUF


@pytest.fixture(scope="module")
def probe(repo, tmp_path_factory):
    """A server whose --max-response-bytes refuses everything: its 413 names
    the bound of an answer (what the budget is charged for it)."""
    with helpers.serving(repo[0], ["--max-response-bytes", "1024", "--max-rows", "1000000",
                                   "--max-body", "64M"],
                         log_dir=str(tmp_path_factory.mktemp("probe"))) as s:
        yield s


def answer_bound(port, proto, rows):
    r = helpers.post(port, answer_path(proto), answer_body(proto, rows),
                     headers={"Content-Type": "application/json"})
    msg = helpers.assert_error(r, 413, "--max-response-bytes")
    return int(BOUND.search(msg).group(1))


def hold_answer(port, path, body):
    """Sends a request and reads its answer's head only: until the client
    reads the rest, the server cannot finish sending it (it is larger than
    kernel_buffering), so the request stays charged. (socket, head, bytes of
    the answer read so far)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    s.settimeout(60 * helpers.SLOW)
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % (path.encode(), len(body)) + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return s, head.decode(), rest


def content_length(head):
    return int(re.search(r"(?im)^content-length: *(\d+)", head).group(1))


def read_answer_and_ask_again(s, head, rest):
    """Reads the held answer to its end, then asks for GET /v2/health/live on
    the same connection: libmicrohttpd reads the next request only after the
    previous one has completed, so once this answer arrives the held request
    has given its charge back. Returns the held answer's body length."""
    want = content_length(head)
    while len(rest) < want:
        chunk = s.recv(1 << 20)
        assert chunk, (len(rest), want)
        rest += chunk
    s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    tail = read_answer(s)
    s.close()
    assert tail.startswith(b"HTTP/1.1 200 "), tail[:200]
    return len(rest)


@pytest.mark.parametrize("proto,lean", [("v2", False), ("v2", True), ("v1", False)],
                         ids=["v2-batched", "v2-lean", "v1-batched"])
def test_answers_count_against_the_total_budget(repo, probe, tmp_path, proto, lean):
    """Two requests whose answers each fit --max-body-total, but not both at
    once: while the first answer is still being sent, the second is answered
    503 with Retry-After naming --max-body-total; a small request is served
    meanwhile; one whose answer alone could never fit gets 413; and once the
    first answer is out, the second is served."""
    per_row = answer_bound(probe.port, proto, 1001) - answer_bound(probe.port, proto, 1000)
    # rows whose answer (at least a third of its bound: floats' text is
    # shorter than the longest) outgrows what the kernel buffers
    rows = kernel_buffering() * 3 // per_row + 1000
    bound = answer_bound(probe.port, proto, rows)
    total = bound * 3 // 2  # one answer and its tensors fit, two do not
    never_body = answer_body(proto, 2 * rows)  # its answer alone is more than the total
    args = ["--max-body", str(len(never_body) + (1 << 20)), "--max-body-total", str(total),
            "--max-rows", str(4 * rows), "--max-response-bytes", str(4 * bound)]
    if lean:  # computed on the HTTP thread that then sends the answer
        args += ["--max-batch", str(rows), "--lean-max-flops", str(1 << 40)]
    path, body = answer_path(proto), answer_body(proto, rows)
    json_hdr = {"Content-Type": "application/json"}
    with helpers.serving(repo[0], args, log_dir=str(tmp_path)) as srv:
        port = srv.port
        never = helpers.post(port, path, never_body, headers=json_hdr)
        helpers.assert_error(never, 413, "--max-body-total", "its answer", "fewer rows")
        s, head, rest = hold_answer(port, path, body)
        assert head.startswith("HTTP/1.1 200 "), head
        assert content_length(head) > kernel_buffering(), (content_length(head), head)
        second = helpers.post(port, path, body, headers=json_hdr)
        helpers.assert_error(second, 503, "--max-body-total", "retry")
        assert second.headers.get("retry-after") == "1", second.headers
        small = helpers.post(port, path, answer_body(proto, 1), headers=json_hdr)
        assert small.status == 200, small
        assert read_answer_and_ask_again(s, head, rest) == content_length(head)
        again = helpers.post(port, path, body, headers=json_hdr)
        assert again.status == 200, again
        assert len(again.body) == content_length(head)
        lean_count = helpers.metrics(port).get('reluserve_lean_requests_total{model="tiny"}', 0)
        # the small request is lean work either way; the big ones only when asked
        assert lean_count == (3 if lean else 1)
        log = srv.synced_stderr()
    assert log.count(" 503 ") == 1 and log.count(" 413 ") == 1, log[-3000:]
