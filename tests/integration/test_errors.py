"""Every error status of DESIGN.md with its {"error": ...} body naming the field,
and the server still serving afterwards."""

import http.client
import json
import re
import socket
import time

import numpy as np
import pytest

import helpers
from conftest import MAX_BODY, MAX_ROWS
from helpers import assert_error, get, post, request


INFER = "/v2/models/tiny/infer"


def good(x=None):
    return helpers.v2_body(x if x is not None else [[1.0, 2.0, 3.0, 4.0]])


# --------------------------------------------------------------------- 400

def tensor(shape, data, datatype="FP32", name="input"):
    """A v2 body with one input tensor."""
    return {"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]}


def test_malformed_json(port):
    assert_error(post(port, INFER, '{"inputs": [', headers={"Content-Type": "application/json"}),
                 400)


def test_empty_body(port):
    assert_error(post(port, INFER, b"", headers={"Content-Type": "application/json"}), 400)


def test_inputs_missing(port):
    assert_error(post(port, INFER, {"id": "x"}), 400, "inputs")


def test_data_length_mismatch_message(port):
    body = tensor([2, 4], [1, 2, 3, 4, 5, 6, 7])
    msg = assert_error(post(port, INFER, body), 400)
    assert "input 'input': shape [2,4] needs 8 values, got 7" in msg, msg


@pytest.mark.parametrize("body, needles", [
    pytest.param(tensor([2, 5], list(range(10))), ["input 'input'", "4"], id="wrong_input_width"),
    pytest.param(tensor([1, 2, 2], [1, 2, 3, 4]), ["shape"], id="wrong_rank"),
    pytest.param(tensor([1, 4], [1, 2, 3, 4], datatype="STRING"), ["datatype"],
                 id="unknown_datatype"),
    pytest.param(tensor([1, 4], [1, "two", 3, 4]), ["data[1]"], id="non_numeric_data"),
    pytest.param(tensor([1, 4], [1, 2, 3, 4], name="bogus"), ["bogus"], id="unknown_input_name"),
])
def test_bad_input_tensor(port, body, needles):
    assert_error(post(port, INFER, body), 400, *needles)


def test_bad_diagnostics_value(port):
    body = good()
    body["parameters"] = {"diagnostics": "verbose"}
    assert_error(post(port, INFER, body), 400, "diagnostics")


@pytest.mark.parametrize("x, target, needle", [
    pytest.param([[1, 2, 3, 4], [4, 3, 2, 1]], {"labels": [0, 3]}, "labels",
                 id="labels_out_of_range"),
    pytest.param([[1, 2, 3, 4]], {"labels": [-1]}, "labels", id="negative_label"),
    pytest.param([[1, 2, 3, 4], [4, 3, 2, 1]], {"labels": [0]}, "labels",
                 id="labels_count_mismatch"),
    pytest.param([[1, 2, 3, 4]], {"targets": [[1.0, 0.0]]}, "targets",
                 id="targets_shape_mismatch"),
])
def test_bad_labels_or_targets(port, x, target, needle):
    assert_error(post(port, INFER, helpers.v2_body(x, **target)), 400, needle)


def test_unknown_output_name(port):
    body = good()
    body["outputs"] = [{"name": "no_such_output"}]
    assert_error(post(port, INFER, body), 400, "no_such_output")


def test_nan_not_json(port):
    assert_error(post(port, INFER, '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32",'
                                   '"data":[NaN,1,2,3]}]}',
                      headers={"Content-Type": "application/json"}), 400)


def test_v1_ragged_instances(port):
    assert_error(post(port, "/v1/models/tiny:predict", {"instances": [[1, 2, 3, 4], [1, 2]]}),
                 400)


def test_v1_missing_instances(port):
    assert_error(post(port, "/v1/models/tiny:predict", {"foo": 1}), 400, "instances")


# --------------------------------------------------------------------- 404

def test_unknown_model(port):
    assert_error(post(port, "/v2/models/nope/infer", good()), 404, "nope")


def test_unknown_model_metadata(port):
    assert_error(get(port, "/v2/models/nope"), 404, "nope")


def test_unknown_version(port):
    assert_error(post(port, "/v2/models/tiny/versions/7/infer", good()), 404, "7")


def test_unknown_route(port):
    assert_error(get(port, "/v3/whatever"), 404)


def test_unknown_v1_model(port):
    assert_error(post(port, "/v1/models/nope:predict", {"instances": [[1]]}), 404, "nope")


# --------------------------------------------------------------------- 405

def test_get_on_infer_is_405(port):
    r = get(port, INFER)
    assert_error(r, 405)
    assert "POST" in r.headers.get("allow", ""), r.headers


def test_post_on_health_is_405(port):
    assert_error(post(port, "/v2/health/live", {}), 405)


def test_delete_model_is_405(port):
    assert_error(request(port, "DELETE", "/v2/models/tiny"), 405)


# --------------------------------------------------------------------- 413

def test_body_over_max_body(port):
    pad = " " * (MAX_BODY + 10)
    body = '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}' + pad
    try:
        r = post(port, INFER, body, headers={"Content-Type": "application/json"})
    except (ConnectionResetError, BrokenPipeError):
        pytest.fail("connection dropped instead of a 413 response")
    assert_error(r, 413)


def test_rows_over_max_rows(port):
    x = np.ones((MAX_ROWS + 1, 4), np.float32)
    assert_error(post(port, INFER, helpers.v2_body(x)), 413, "rows")


def test_rows_at_max_rows_ok(port):
    x = np.ones((MAX_ROWS, 4), np.float32)
    assert post(port, INFER, helpers.v2_body(x, diag="none")).status == 200


# --------------------------------------------------------------------- 415

def test_wrong_content_type(port):
    r = post(port, INFER, b'{"inputs": []}', headers={"Content-Type": "application/xml"})
    assert_error(r, 415)


# ------------------------------------------------------------------ after

def test_still_serves_after_errors(port, models):
    """Run last in this file: a burst of every kind of bad request, then a
    correct one answered correctly."""
    bad = [
        ("POST", INFER, b"{nope", {"Content-Type": "application/json"}),
        ("POST", INFER, b"\xff\xfe\x00garbage", {"Content-Type": "application/json"}),
        ("POST", INFER, b'{"inputs":[{"name":"input","shape":[-1,4],"datatype":"FP32","data":[]}]}',
         {"Content-Type": "application/json"}),
        ("POST", INFER, b'{"inputs":[{"name":"input","shape":[99999999999,4],"datatype":"FP32",'
                        b'"data":[1]}]}', {"Content-Type": "application/json"}),
        ("POST", INFER, b'{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32",'
                        b'"data":[1e999,1,1,1]}]}', {"Content-Type": "application/json"}),
        ("POST", INFER, b"[" * 100000, {"Content-Type": "application/json"}),
        ("GET", "/v2/models/%00/infer", b"", {}),
        ("POST", "/v2/models/tiny/versions/-1/infer", b"{}", {"Content-Type": "application/json"}),
        ("POST", "/v1/models/tiny:predict", b'{"instances": "x"}',
         {"Content-Type": "application/json"}),
        ("POST", "/v1/models/tiny:predict", b'{"instances": [[[[1]]]]}',
         {"Content-Type": "application/json"}),
    ]
    for method, path, body, hdrs in bad:
        r = request(port, method, path, body=body, headers=hdrs)
        assert 400 <= r.status < 500, f"{method} {path} {body[:60]!r}: {r}"
        assert isinstance(r.json().get("error"), str)
    x = np.array([[0.5, 0.5, -0.5, 1.0]], np.float32)
    r = post(port, INFER, helpers.v2_body(x, labels=[2], diag="full"))
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), models["tiny"]["1"], x, "tiny", "1", labels=[2],
                              diag="full")


def test_slow_client_does_not_block_others(port):
    """A client that sends half a request and stalls must not block a
    second client (libmicrohttpd polls; nothing blocks on one request)."""
    s = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    s.putrequest("POST", INFER)
    s.putheader("Content-Type", "application/json")
    s.putheader("Content-Length", "1000")
    s.endheaders(b'{"inputs": [')
    try:
        assert get(port, "/v2/health/live", timeout=5).status == 200
        # Ordering, not timing: the second client got its answer while the
        # first one's request was still waiting for its body (no byte of an
        # answer on its connection yet).
        s.sock.setblocking(False)
        try:
            early = s.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            early = None
        assert early is None, f"the stalled request was answered ({early!r}) before the other"
    finally:
        s.close()


# ------------------------------------------------------ raw-socket abuse

def _complete(buf, n):
    """True when buf holds n complete HTTP responses with Content-Length."""
    for _ in range(n):
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if not sep:
            return False
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if not m:
            return False  # read to the close
        if len(rest) < int(m.group(1)):
            return False
        buf = rest[int(m.group(1)):]
    return True


def _raw(port, data, timeout=10.0, read=True, responses=1):
    """Sends raw bytes on a fresh socket; returns what the server sent back:
    `responses` complete responses, or all until it closed or went quiet."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * helpers.SLOW)
    try:
        s.sendall(data)
        if not read:
            return b""
        buf = b""
        while not _complete(buf, responses):
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                break
            buf += c
        return buf
    finally:
        s.close()


def _chunked(payload, size=1000):
    out = b""
    for i in range(0, len(payload), size):
        part = payload[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def test_chunked_request_body_is_decoded(port, models):
    body = json.dumps(helpers.v2_body([[1, 2, 3, 4], [0, 1, 0, 1]])).encode()
    req = (b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + _chunked(body, 7))
    resp = _raw(port, req)
    head, _, payload = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), resp[:300]
    if b"chunked" in head.lower():  # the answer may itself be chunked
        payload = _dechunk(payload)
    helpers.check_v2_response(json.loads(payload), models["tiny"]["1"], [[1, 2, 3, 4], [0, 1, 0, 1]],
                              "tiny", "1")


def _dechunk(data):
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            break
        out += data[:n]
        data = data[n + 2:]
    return out


def test_chunked_body_over_max_body_is_413(port):
    """No Content-Length to refuse up front: the limit must hold while reading."""
    payload = b'{"inputs": [' + b" " * (MAX_BODY + 100000) + b"]}"
    req = (b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(payload, 65536))
    try:
        resp = _raw(port, req)
    except (ConnectionResetError, BrokenPipeError):
        resp = b""  # the server may close mid-upload after answering
    assert resp.startswith(b"HTTP/1.1 413"), resp[:300]


def test_pipelined_requests_answered_in_order(port, models):
    rows = [[[1, 2, 3, 4]], [[4, 3, 2, 1], [0, 0, 0, 0]], [[-1, 0.5, 2, 0]]]
    data = b""
    for i, x in enumerate(rows):
        body = json.dumps(helpers.v2_body(x, rid=f"p{i}")).encode()
        data += (b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body) +
                 (b"Connection: close\r\n" if i == len(rows) - 1 else b"") + b"\r\n" + body)
    resp = _raw(port, data, responses=len(rows))
    for i, x in enumerate(rows):
        head, sep, rest = resp.partition(b"\r\n\r\n")
        assert sep, f"response {i} missing: {resp[:200]!r}"
        assert head.startswith(b"HTTP/1.1 200"), head
        n = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        doc, resp = json.loads(rest[:n]), rest[n:]
        helpers.check_v2_response(doc, models["tiny"]["1"], x, "tiny", "1", rid=f"p{i}")


def test_expect_100_continue(port):
    body = json.dumps(good()).encode()
    req = (b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" % len(body)
           + body)
    resp = _raw(port, req)
    assert b"HTTP/1.1 200" in resp, resp[:300]


def test_path_traversal_is_404(port):
    for path in ["/v2/models/..%2F..%2Fetc%2Fpasswd", "/v2/models/../../etc/passwd/infer",
                 "/../../etc/passwd", "/v2/models/%2e%2e/ready"]:
        r = get(port, path)
        assert r.status in (400, 404), f"{path}: {r}"


def test_clients_that_hang_up_mid_request_do_not_hurt_the_server(port, models):
    """Clients that send an inference request and close the socket at once
    (while it is queued or computing — the connection is suspended then) must
    not crash the server or leak (the session server's SIGTERM teardown checks
    ASan's report)."""
    x = np.random.default_rng(3).normal(size=(MAX_ROWS, 4)).astype(np.float32)
    body = json.dumps(helpers.v2_body(x, labels=[0] * MAX_ROWS, diag="full")).encode()
    req = (b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body) + body)
    for _ in range(30):
        _raw(port, req, read=False)
    time.sleep(0.3 * helpers.SLOW)
    r = post(port, INFER, helpers.v2_body([[1, 2, 3, 4]], labels=[1], diag="full"))
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), models["tiny"]["1"], [[1, 2, 3, 4]], "tiny", "1",
                              labels=[1], diag="full")


def test_a_whole_request_then_a_half_close_is_answered(port):
    """A client may send its whole request and then close its sending side
    (shutdown(SHUT_WR), as `nc -N` does); the request is complete and is
    answered on the half that stays open. A small body arrives together with
    the headers and the FIN, so the server must not take the pending EOF for
    a client that hung up mid-upload. Repeated: the FIN's timing varies."""
    import socket
    body = json.dumps(helpers.v2_body([[1, 2, 3, 4]])).encode()
    req = (b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body) + body)
    statuses = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port), timeout=10 * helpers.SLOW)
        try:
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            buf = b""
            while not _complete(buf, 1):
                c = s.recv(65536)
                if not c:
                    break
                buf += c
        finally:
            s.close()
        statuses.append(buf.split(b" ", 2)[1].decode() if buf.startswith(b"HTTP/1.1 ") else "none")
    assert statuses == ["200"] * 20, statuses


@pytest.mark.parametrize("sent", [0, 40])
def test_a_client_that_hangs_up_mid_upload_is_closed_soon(repo, tmp_path, sent):
    """Headers that declare a 4000-byte body, `sent` bytes of it, then the
    client's FIN (shutdown(SHUT_WR)): the body can never complete. The server
    closes the connection within seconds (a body cut short at once, one not
    begun after a second), not at --upload-timeout-ms or
    --connection-timeout-s, both 300 s here. libmicrohttpd 0.9.75 alone would
    keep it until then (http.c: "Hang-ups mid-upload"). Several connections,
    since the FIN may come in the same segment as the bytes or after them."""
    req = (b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
           b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n" + b" " * sent)
    with helpers.serving(repo[0], ["--upload-timeout-ms", "300000", "--connection-timeout-s",
                                   "300"], log_dir=str(tmp_path)) as s:
        socks = []
        try:
            for _ in range(4):
                c = socket.create_connection(("127.0.0.1", s.port), timeout=20 * helpers.SLOW)
                socks.append(c)
                c.sendall(req)
                c.shutdown(socket.SHUT_WR)
            for c in socks:
                assert c.recv(65536) == b"", "the server answered a request it never got whole"
        finally:
            for c in socks:
                c.close()
        assert post(s.port, INFER, helpers.v2_body([[1, 2, 3, 4]])).status == 200


# ------------------------------------------------- values and combinations

def test_value_beyond_float32_is_400(port):
    assert_error(post(port, INFER, '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32",'
                                   '"data":[1e39,1,1,1]}]}',
                      headers={"Content-Type": "application/json"}), 400, "data[0]")


def test_non_finite_binary_input_is_400(port):
    raw = np.array([[np.nan, 1, 2, 3]], "<f4").tobytes()
    h = json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                                "parameters": {"binary_data_size": 16}}]}).encode()
    assert_error(post(port, INFER, h + raw,
                      headers={"Inference-Header-Content-Length": str(len(h)),
                               "Content-Type": "application/octet-stream"}), 400, "input 'input'")


def test_labels_and_targets_together_is_400(port):
    assert_error(post(port, INFER, helpers.v2_body([[1, 2, 3, 4]], labels=[0],
                                                   targets=[[1, 0, 0]])), 400, "labels")


def test_labels_on_a_regression_model_is_400(port):
    assert_error(post(port, "/v2/models/reg/infer",
                      helpers.v2_body([[1, 2, 3, 4, 5]], labels=[0])), 400, "labels")


def test_integer_datatype_range_is_checked(port):
    assert_error(post(port, INFER, helpers.v2_body(np.array([[1000, 2, 3, 4]]), datatype="INT8")),
                 400, "INT8")


def test_input_given_twice_is_400(port):
    one = {"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}
    assert_error(post(port, INFER, {"inputs": [one, one]}), 400, "input")


def test_classification_count_must_be_positive(port):
    assert_error(post(port, INFER, helpers.v2_body(
        [[1, 2, 3, 4]], outputs=[{"name": "output", "parameters": {"classification": 0}}])),
        400, "classification")


def test_zero_rows_is_400(port):
    assert_error(post(port, INFER, '{"inputs":[{"name":"input","shape":[0,4],"datatype":"FP32",'
                                   '"data":[]}]}', headers={"Content-Type": "application/json"}),
                 400)


def test_access_log_cannot_be_forged_through_the_url(server, port):
    """libmicrohttpd decodes %0A in the path: written raw into the text access
    log, a URL could start a line of its own and forge an entry."""
    marker = "forged-entry-7f3a"
    r = get(port, f"/v2/models/x%0A{marker}%0D%1B[31m/ready")
    assert r.status == 404, r
    r = get(port, f"/nosuch%0A{marker}")
    assert r.status == 404, r
    log = server.synced_stderr()
    assert marker in log, "the access lines are missing"
    for line in log.splitlines():
        assert not line.startswith(marker), f"forged log line: {line!r}"
    assert "\x1b" not in log, "a terminal escape reached the log"


def test_text_log_line_cannot_gain_a_field_from_the_url(server, port):
    """libmicrohttpd decodes %20 in the path: written raw into a text access
    line, a URL could add fields (status, model=...) that log readers split on."""
    rid = "field-forge-1c9e"
    r = get(port, "/x%20200%20model=evil%20rows=9%22", headers={"X-Request-Id": rid})
    assert r.status == 404, r
    lines = [ln for ln in server.synced_stderr().splitlines() if ln.endswith("id=" + rid)]
    assert len(lines) == 1, lines
    fields = lines[0].split()
    # ts, level, method, path, status, model=, rows=, us=, id=
    assert len(fields) == 9, fields
    assert fields[3] == "/x\\x20200\\x20model=evil\\x20rows=9\\x22", fields
    assert fields[4] == "404" and fields[5] == "model=-", fields
