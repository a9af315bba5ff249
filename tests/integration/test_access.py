"""Who may call the server: CORS (a web page of a foreign origin is refused
before anything runs, whatever its method and content type; allowed origins
and the playground's own page work) and the API key (required on every
protected route, absent from the open ones)."""

import os
import re
import time

import pytest

import helpers
from helpers import assert_error, request

KEY = "k3y-for-tests"
ALLOWED = "https://app.example"
ALLOWED2 = "http://allowed.test:9000"
FOREIGN = "http://evil.example"
AUTH = {"Authorization": "Bearer " + KEY}
INFER_BODY = helpers.v2_body([[1, 2, 3, 4]], diag="none")


@pytest.fixture(scope="module")
def srv(repo, tmp_path_factory):
    # reluserve.example: a name the own-origin test sends as Host, as a proxy passes it
    with helpers.serving(repo[0], ["--cors-origin", f" {ALLOWED} ,{ALLOWED2}", "--api-key", KEY,
                                   "--enable-model-control", "--allowed-hosts",
                                   "reluserve.example"],
                         log_dir=str(tmp_path_factory.mktemp("accesslogs"))) as s:
        yield s


def rows_computed(port, model="tiny"):
    """Rows the batcher has computed for model (reluserve_batch_rows_sum)."""
    text = request(port, "GET", "/metrics", headers=AUTH).body.decode()
    m = re.search(r'^reluserve_batch_rows_sum\{model="%s"\} (\S+)$' % model, text, re.M)
    return float(m.group(1)) if m else 0.0


def wait_rows(port, want, model="tiny"):
    """Waits for the batch metrics (recorded just after the answer goes out)
    to count `want` rows, and returns the count then."""
    deadline = time.time() + 5 * helpers.SLOW
    while rows_computed(port, model) < want and time.time() < deadline:
        time.sleep(0.02)
    return rows_computed(port, model)


def vary_has_origin(r):
    return "origin" in [v.strip().lower() for v in r.headers.get("vary", "").split(",")]


# ------------------------------------------------------------------ CORS

def test_preflight_from_an_allowed_origin(srv):
    for origin in (ALLOWED, ALLOWED2):
        r = request(srv.port, "OPTIONS", "/v2/models/tiny/infer",
                    headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                             "Access-Control-Request-Headers": "content-type, authorization"})
        assert r.status == 204, r
        assert r.headers.get("access-control-allow-origin") == origin, r.headers
        assert "POST" in r.headers.get("access-control-allow-methods", ""), r.headers
        allow_headers = r.headers.get("access-control-allow-headers", "").lower()
        assert "authorization" in allow_headers and "content-type" in allow_headers, r.headers
        assert vary_has_origin(r), r.headers


def test_preflight_from_a_foreign_origin_is_403(srv):
    r = request(srv.port, "OPTIONS", "/v2/models/tiny/infer",
                headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"})
    assert_error(r, 403, "origin", FOREIGN, "--cors-origin")
    assert "access-control-allow-origin" not in r.headers, r.headers
    assert "access-control-allow-methods" not in r.headers, r.headers


def test_allowed_origin_is_served_with_cors_headers(srv):
    r = request(srv.port, "POST", "/v2/models/tiny/infer", body=INFER_BODY,
                headers={"Origin": ALLOWED, **AUTH})
    assert r.status == 200, r
    assert r.headers.get("access-control-allow-origin") == ALLOWED, r.headers
    assert "x-request-id" in r.headers.get("access-control-expose-headers", "").lower()
    assert vary_has_origin(r), r.headers
    # the key is still required, and the page may read the 401 that says so
    r = request(srv.port, "POST", "/v2/models/tiny/infer", body=INFER_BODY,
                headers={"Origin": ALLOWED})
    assert_error(r, 401, "authorization")
    assert r.headers.get("access-control-allow-origin") == ALLOWED, r.headers


def test_foreign_origin_is_refused_before_anything_runs(srv):
    """The requests a page can send without a preflight (text/plain, forms, no
    Content-Type), and every other kind, carrying the right API key: 403, no
    row computed, nothing unloaded, and the access log has each as a 403.
    Model reg is used by no other test here, so its row count is exact."""
    port = srv.port
    assert rows_computed(port, "reg") == 0
    v2 = '{"inputs":[{"name":"input","shape":[1,5],"datatype":"FP32","data":[1,2,3,4,5]}]}'
    v1 = '{"instances": [[1, 2, 3, 4, 5]]}'
    sent = []
    for ctype in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", None, "application/json"):
        for path, payload in (("/v2/models/reg/infer", v2), ("/v1/models/reg:predict", v1)):
            rid = f"foreign-{len(sent)}"
            hdrs = {"Origin": FOREIGN, "X-Request-Id": rid, **AUTH}
            if ctype:
                hdrs["Content-Type"] = ctype
            r = request(port, "POST", path, body=payload, headers=hdrs)
            assert_error(r, 403, "origin")
            assert "access-control-allow-origin" not in r.headers, r.headers
            sent.append(rid)
    # model control, metadata, metrics and the open routes: refused just the same
    for method, path in (("POST", "/v2/repository/models/reg/unload"),
                         ("POST", "/v2/repository/models/reg/load"),
                         ("POST", "/v2/repository/index"), ("GET", "/v2/models/reg"),
                         ("GET", "/metrics"), ("GET", "/v2/health/ready"),
                         ("GET", "/nosuch"), ("DELETE", "/v2/models/reg")):
        rid = f"foreign-{len(sent)}"
        r = request(port, method, path, headers={"Origin": FOREIGN, "X-Request-Id": rid, **AUTH})
        assert_error(r, 403, "origin")
        sent.append(rid)
    # the origin is compared whole: scheme, host and port
    for origin in ("https://app.example:8443", "http://app.example", ALLOWED + "/",
                   "https://app.example.evil.example", "null", ""):
        r = request(port, "POST", "/v2/models/reg/infer", body=v2,
                    headers={"Origin": origin, "Content-Type": "text/plain", **AUTH})
        assert_error(r, 403, "origin")
    # reg is still loaded, and exactly the 3 rows of the allowed requests ran
    for _ in range(3):
        r = request(port, "POST", "/v2/models/reg/infer", body=v2,
                    headers={"Origin": ALLOWED, **AUTH})
        assert r.status == 200, r
    assert wait_rows(port, 3, "reg") == 3, "a refused request was computed"
    log = srv.synced_stderr()
    for rid in sent:
        lines = [ln for ln in log.splitlines() if ln.endswith("id=" + rid)]
        assert len(lines) == 1 and " 403 " in lines[0], (rid, lines)


def test_the_servers_own_origin_is_served(srv):
    """The playground's page calls the API from the server's own origin: the
    Origin matches the Host the request was sent to (scheme, host, port)."""
    port = srv.port
    page = request(port, "GET", "/")
    assert page.status == 200 and b"<html" in page.body.lower(), page
    for host, origin in ((f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"),
                         (f"localhost:{port}", f"http://localhost:{port}"),
                         (f"LocalHost:{port}", f"http://localhost:{port}"),
                         (f"[::1]:{port}", f"http://[::1]:{port}"),
                         ("reluserve.example", "http://reluserve.example:80"),
                         ("reluserve.example:80", "http://reluserve.example")):
        r = request(port, "POST", "/v2/models/tiny/infer", body=INFER_BODY,
                    headers={"Host": host, "Origin": origin, **AUTH})
        assert r.status == 200, (host, origin, r)
        # same origin needs no CORS headers
        assert "access-control-allow-origin" not in r.headers, r.headers
    for host, origin in ((f"127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"),
                         (f"127.0.0.1:{port}", f"https://127.0.0.1:{port}"),
                         (f"127.0.0.1:{port}", "http://127.0.0.1"),
                         (f"127.0.0.1:{port}", f"http://127.0.0.2:{port}"),
                         (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}/"),
                         (f"127.0.0.1:{port}", f"http://127.0.0.1:0{port}x")):
        r = request(port, "POST", "/v2/models/tiny/infer", body=INFER_BODY,
                    headers={"Host": host, "Origin": origin, **AUTH})
        assert_error(r, 403, "origin")


def test_requests_without_origin_are_unaffected(srv):
    """curl and SDKs send no Origin: any content type the server reads works."""
    body = '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}'
    for ctype in ("application/json", "text/plain", "application/x-www-form-urlencoded", None):
        hdrs = dict(AUTH)
        if ctype:
            hdrs["Content-Type"] = ctype
        r = request(srv.port, "POST", "/v2/models/tiny/infer", body=body, headers=hdrs)
        assert r.status == 200, (ctype, r)
        assert "access-control-allow-origin" not in r.headers, r.headers


def test_vary_origin_on_every_answer(srv):
    """Answers differ by Origin, so each says so, with or without one."""
    for origin in (None, ALLOWED, FOREIGN):
        for method, path, hdrs in (("GET", "/v2/health/live", {}), ("GET", "/v2", AUTH),
                                   ("GET", "/v2", {}), ("GET", "/nosuch", AUTH),
                                   ("OPTIONS", "/v2", {})):
            h = dict(hdrs)
            if origin:
                h["Origin"] = origin
            r = request(srv.port, method, path, headers=h)
            assert vary_has_origin(r), (origin, method, path, r.status, r.headers)


def test_any_origin_with_a_star(repo, tmp_path):
    with helpers.serving(repo[0], ["--cors-origin", "*"], log_dir=str(tmp_path)) as s:
        r = request(s.port, "POST", "/v2/models/tiny/infer", body=INFER_BODY,
                    headers={"Origin": FOREIGN, "Content-Type": "text/plain"})
        assert r.status == 200, r
        assert r.headers.get("access-control-allow-origin") == "*", r.headers


def test_without_cors_origin_only_the_own_origin_is_served(repo, tmp_path):
    with helpers.serving(repo[0], [], log_dir=str(tmp_path)) as s:
        r = request(s.port, "POST", "/v2/models/tiny/infer", body=INFER_BODY,
                    headers={"Origin": FOREIGN, "Content-Type": "text/plain"})
        assert_error(r, 403, "origin")
        r = request(s.port, "POST", "/v2/models/tiny/infer", body=INFER_BODY,
                    headers={"Origin": f"http://127.0.0.1:{s.port}"})
        assert r.status == 200, r
        assert request(s.port, "POST", "/v2/models/tiny/infer", body=INFER_BODY).status == 200


# --------------------------------------------------------------- API key

# Every route kind of server/http/router.h with requests that reach it and the
# status each gets with the right key. Model control is on in srv.
PROTECTED = {
    "RS_ROUTE_SERVER_META": [("GET", "/v2", None, 200), ("HEAD", "/v2", None, 200)],
    "RS_ROUTE_MODEL_META": [("GET", "/v2/models/tiny", None, 200),
                            ("GET", "/v2/models/tiny/versions/1", None, 200)],
    "RS_ROUTE_MODEL_READY": [("GET", "/v2/models/tiny/ready", None, 200),
                             ("GET", "/v2/models/tiny/versions/1/ready", None, 200)],
    "RS_ROUTE_MODEL_DIAG": [("GET", "/v2/models/tiny/diagnostics", None, 200)],
    "RS_ROUTE_MODEL_STATS": [("GET", "/v2/models/stats", None, 200),
                             ("GET", "/v2/models/tiny/stats", None, 200),
                             ("GET", "/v2/models/tiny/versions/1/stats", None, 200)],
    "RS_ROUTE_MODEL_CONFIG": [("GET", "/v2/models/tiny/config", None, 200),
                              ("GET", "/v2/models/tiny/versions/1/config", None, 200)],
    "RS_ROUTE_INFER": [("POST", "/v2/models/tiny/infer", INFER_BODY, 200),
                       ("POST", "/v2/models/tiny/versions/1/infer", INFER_BODY, 200)],
    "RS_ROUTE_PREDICT": [("POST", "/v1/models/tiny:predict", {"instances": [[1, 2, 3, 4]]}, 200),
                         ("POST", "/v1/models/tiny/versions/1:predict",
                          {"instances": [[1, 2, 3, 4]]}, 200)],
    "RS_ROUTE_STATUS_V1": [("GET", "/v1/models/tiny", None, 200),
                           ("GET", "/v1/models/tiny/versions/1", None, 200)],
    "RS_ROUTE_REPO_INDEX": [("POST", "/v2/repository/index", {}, 200)],
    "RS_ROUTE_REPO_UNLOAD": [("POST", "/v2/repository/models/ver/unload", None, 200)],
    "RS_ROUTE_REPO_LOAD": [("POST", "/v2/repository/models/ver/load", None, 200)],
    "RS_ROUTE_METRICS": [("GET", "/metrics", None, 200), ("HEAD", "/metrics", None, 200)],
}
OPEN = {
    "RS_ROUTE_LIVE": [("GET", "/v2/health/live"), ("HEAD", "/v2/health/live")],
    "RS_ROUTE_READY": [("GET", "/v2/health/ready")],
    "RS_ROUTE_ASSET": [("GET", "/")] + [("GET", "/" + f)
                                        for f in sorted(os.listdir(os.path.join(helpers.ROOT,
                                                                                "web")))],
}


def test_every_route_is_listed_here():
    """A route added to the router without deciding here whether it needs the
    key fails this test."""
    with open(os.path.join(helpers.ROOT, "server", "http", "router.h")) as f:
        kinds = set(re.findall(r"\b(RS_ROUTE_[A-Z0-9_]+)\b\s*[,=]", f.read())) - {"RS_ROUTE_NONE"}
    assert kinds == set(PROTECTED) | set(OPEN), kinds ^ (set(PROTECTED) | set(OPEN))
    assert not set(PROTECTED) & set(OPEN)


def test_api_key_on_every_protected_route(srv):
    for kind, cases in PROTECTED.items():
        for method, path, body, want in cases:
            for hdrs in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY},
                         {"Authorization": "Basic " + KEY}):
                r = request(srv.port, method, path, body=body, headers=hdrs)
                assert r.status == 401, (kind, method, path, hdrs, r)
                assert r.headers.get("www-authenticate", "").startswith("Bearer"), r.headers
                if method != "HEAD":
                    assert_error(r, 401, "authorization")
            r = request(srv.port, method, path, body=body, headers=AUTH)
            assert r.status == want, (kind, method, path, r)
            # also from an allowed page
            r = request(srv.port, method, path, body=body, headers={"Origin": ALLOWED})
            assert r.status == 401, (kind, method, path, r)


def test_open_routes_need_no_key(srv):
    for kind, cases in OPEN.items():
        for method, path in cases:
            r = request(srv.port, method, path)
            assert r.status == 200, (kind, method, path, r)
            r = request(srv.port, method, path, headers={"Origin": ALLOWED})
            assert r.status == 200, (kind, method, path, r)
