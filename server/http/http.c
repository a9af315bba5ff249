/*
 * http — the libmicrohttpd front: connections, limits, auth, Host, CORS, suspend.
 *
 * Threads: one daemon per HTTP polling thread (pollers.h), all accepting from
 * one listen socket; a connection's callbacks all run on its daemon's thread.
 *
 * Life of a request (all on its HTTP polling thread unless noted):
 *   1st call      state created; route, method, auth, content type, Origin,
 *                 Host and a declared Content-Length checked; any error is
 *                 remembered and answered once the body has been read (and
 *                 dropped: keeps keep-alive).
 *   body calls    bytes appended up to --max-body (over it: 413 at the end),
 *                 charged to the body budget as they arrive (body.h; over
 *                 it: 503 at the end), until --upload-timeout-ms (408).
 *   last call     cheap endpoints answer; inference answers 503 at once
 *                 when the model's queue is full (before any decode),
 *                 else decodes the body and either computes it here (the
 *                 lean path: small work, rs_scheduler_lean) and answers,
 *                 or suspends and admits a task. The decoded tensors and
 *                 the answer's most memory replace the body's charge
 *                 (charge_held; over it: 503, or 413 if it can never fit).
 *   (pool thread) the task's done() marks the state and resumes (task_done
 *                 lists the other threads it may run on).
 *   Model control (load/unload) suspends the same way while the control
 *   worker (control.h) runs the job; its done() resumes.
 *   resumed call  the task's response is queued.
 *   completed     the state is freed (MHD_OPTION_NOTIFY_COMPLETED: the
 *                 answer is sent or the connection died; libmicrohttpd frees
 *                 the answer right after) and its charge given back.
 *
 * Hang-ups mid-upload: the epoll mode of libmicrohttpd 0.9.75 registers
 * sockets edge-triggered without EPOLLRDHUP and, after a recv() shorter than
 * its buffer, takes the socket as drained until the next edge. When a
 * client's last bytes and its FIN arrive together (a client hanging up
 * partway through an upload), they make one edge: the short read takes the
 * bytes, the FIN is never read, and the connection with its half-read body
 * (up to --max-body of memory) lingers until the idle timeout. (Fixed
 * upstream in 1.0 by adding EPOLLRDHUP; Debian 12 ships 0.9.75.) MHD_USE_POLL
 * would see the pending EOF, but costs an O(open connections) scan per
 * wake-up: with 1000 idle keep-alive connections open it halved health and
 * cut inference throughput by 60%. So epoll stays, and while a declared body
 * is incomplete the access handler peeks at the socket after each piece
 * (peer_hung_up): a pending EOF means the body can never complete, and the
 * request is aborted at once. Not at the headers: libmicrohttpd may hold the
 * whole body in its buffer by then, from a client that sent it all and
 * half-closed; a body still incomplete once the run that read its headers
 * ends is checked then (uploads_settle, upload_watch).
 *
 * Connection limit: libmicrohttpd stops polling the listen socket once at its
 * limit, so a client past it would wait silently in the listen backlog.
 * libmicrohttpd is therefore given --max-connections plus a margin (split
 * evenly among the daemons, as its own thread pool did), and the
 * connections we count past --max-connections (on_connection) are "excess":
 * each request on them is answered 503 + Retry-After + Connection: close
 * (GET /v2/health/live excepted, still with Connection: close), and they are
 * closed after EXCESS_IDLE_S idle seconds so the margin turns over quickly.
 *
 * Shutdown: each polling thread quiesces its own daemon (rs_http_quiesce);
 * the daemons are stopped once their threads are joined (rs_http_stop). A
 * request is "owed" an answer from the moment its body is complete until its
 * completion (queued, computing or its response being sent). Shutdown waits for owed requests only;
 * connections that are idle or mid-upload are closed with the daemon. OWED_CLOSED in h->owed closes
 * the gate atomically so that no request becomes owed after the stop decision.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "body.h"
#include "control.h"
#include "hosts.h"
#include "log.h"
#include "pollers.h"
#include "wakeup.h"

typedef struct req_state req_state;

struct rs_http {
    rs_pollers *pollers; /* the polling threads, each with its daemon */
    req_state **fresh;   /* per HTTP thread: its uploads begun in the current MHD_run */
    rs_app *app;
    int port;
    atomic_int active, suspended;
    atomic_int owed;        /* requests owed an answer, | OWED_CLOSED once stopping */
    atomic_int open;        /* open connections (on_connection) */
    rs_body_budget *budget; /* --max-body-total and --max-body-per-client */
    int max_open;           /* --max-connections */
    int excess_idle_s;      /* idle timeout of excess connections */
    atomic_bool draining;
    atomic_ullong next_id;
    unsigned long long id_salt;
    char **origins; /* CORS allow-list; NULL = CORS off */
    int n_origins;
    bool any_origin;
    rs_hosts hosts;           /* Host header allow-list (--allowed-hosts or its default) */
    char *tls_cert, *tls_key; /* PEM text for GnuTLS, kept for the daemon's life; NULL = HTTP */
    rs_control *control;      /* model control and poll worker; NULL without
                                 --enable-model-control and --repository-poll-s */
    int spin_max_open;        /* SPIN_MAX_CONNECTIONS x HTTP threads */
    char busy_poll_note[160]; /* why, for the start-up line */
};

typedef enum { PHASE_READING = 0, PHASE_SUSPENDED, PHASE_RESUMED } phase;

#define OWED_CLOSED (1 << 30)
/* Open connections per HTTP thread up to which its thread may spin: with
 * more, their requests overlap, the thread finds its next event waiting most
 * of the time, and its spinning mostly takes CPU time from everything else
 * on the machine (bench/README.md#busy-polling: 1.03-1.11x the throughput of
 * blocking from 2 to 8 connections, 0.92x at 16). */
#define SPIN_MAX_CONNECTIONS 8
/* Excess connections are closed after this many idle seconds. */
#define EXCESS_IDLE_S 2
/* The socket context of an excess connection points here. */
static char excess_mark;

struct req_state {
    rs_http *h;
    struct MHD_Connection *conn;
    rs_poller *poller; /* the thread polling conn's daemon: woken after a resume */
    uint64_t start_ns;
    const char *method, *url; /* owned by MHD, valid until completion */
    rs_route route;
    bool is_options;
    int early_status; /* decided on the first call, answered after the body */
    char early_msg[768];
    const char *allow; /* Allow header of a 405 */
    rs_body body;
    bool responded;
    bool owed;                   /* counted in h->owed */
    long long declared;          /* Content-Length, or -1 (none: chunked) */
    unsigned long long received; /* body bytes seen so far */
    uint64_t upload_deadline_ns; /* --upload-timeout-ms after the headers; 0 = none */
    unsigned idle_timeout_s; /* the connection's libmicrohttpd timeout we last set; 0 = its own */
    bool close;              /* answer with Connection: close (excess connection) */
    phase ph;
    rs_request req;
    rs_model_version *mv; /* reference held until completion */
    rs_task task;
    rs_control_job job; /* model control: its result moves into task */
    int rows;           /* for the access line; -1 = none */
    char request_id[72];
    const char *origin;                  /* allowed Origin to echo, or NULL */
    req_state *fresh_next, **fresh_link; /* on h->fresh (uploads_settle); NULL link: not */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- headers */

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* A length header's value: plain decimal digits, no sign or spaces (what
 * HTTP allows in Content-Length; strtoull would also take "+12" and " 12").
 * False when it is anything else or does not fit. */
static bool header_decimal(const char *s, unsigned long long *out)
{
    if (s == NULL || *s == '\0') return false;
    unsigned long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* An X-Request-Id worth echoing: short, printable, no spaces or quotes. */
static bool request_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\') return false;
    return true;
}

/* Our own request id: v as 16 lowercase hex digits (what "%016llx" writes),
 * by hand, since every request without an X-Request-Id makes one. */
static void request_id_make(char out[17], unsigned long long v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[v & 15];
        v >>= 4;
    }
    out[16] = '\0';
}

/* ------------------------------------------------------------------ CORS
 *
 * A browser attaches Origin to every cross-origin request and to same-origin
 * ones other than GET/HEAD. Requests it sends without a preflight (GET, HEAD,
 * and POST with text/plain, a form type or no Content-Type) reach us whatever
 * the page's origin, so the answer headers alone protect nothing: a page on
 * any site could run inference or unload models on a server it can reach.
 * Hence a request whose Origin is neither this server's own (the playground)
 * nor on --cors-origin is refused with 403 before it runs, preflight
 * included. Requests without Origin (curl, SDKs) are not from a web page. */

/* The allowed Origin to echo in Access-Control-Allow-Origin ("*" for
 * --cors-origin '*'), or NULL. */
static const char *cors_match(rs_http *h, const char *origin)
{
    if (!origin || !h->origins) return NULL;
    if (h->any_origin) return "*";
    for (int i = 0; i < h->n_origins; i++)
        if (!strcmp(h->origins[i], origin)) return origin;
    return NULL;
}

/* Splits an authority "host[:port]" (host may be "[v6]") of length n; the
 * port defaults to dflt. False when malformed. */
static bool authority_split(const char *a, size_t n, unsigned dflt, size_t *host_len,
                            unsigned *port)
{
    size_t h;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close) return false;
        h = (size_t)(close - a) + 1;
    } else {
        const char *colon = memchr(a, ':', n);
        h = colon ? (size_t)(colon - a) : n;
    }
    if (h == 0) return false;
    *host_len = h;
    *port = dflt;
    if (h == n) return true;
    if (a[h] != ':' || h + 1 == n || n - h - 1 > 5) return false;
    unsigned p = 0;
    for (size_t i = h + 1; i < n; i++) {
        if (a[i] < '0' || a[i] > '9') return false;
        p = p * 10 + (unsigned)(a[i] - '0');
    }
    if (p > 65535) return false;
    *port = p;
    return true;
}

/* Whether origin is the server's own: the scheme this daemon speaks and the
 * host and port of the Host header the request was sent to (the page the
 * playground was loaded from calling its own API). Hosts compare without
 * case, and an absent port means the scheme's default, as browsers write
 * them. */
static bool origin_is_own(const rs_http *h, const char *origin, const char *host)
{
    const char *scheme = h->tls_cert ? "https://" : "http://";
    unsigned dflt = h->tls_cert ? 443 : 80;
    size_t sl = strlen(scheme);
    if (!host || strncasecmp(origin, scheme, sl)) return false;
    const char *oa = origin + sl;
    size_t on = strlen(oa), hn = strlen(host), ohl, hhl;
    unsigned op, hp;
    if (!authority_split(oa, on, dflt, &ohl, &op) || !authority_split(host, hn, dflt, &hhl, &hp))
        return false;
    return ohl == hhl && !strncasecmp(oa, host, ohl) && op == hp;
}

/* Refuses st (403, answered after its body is dropped, nothing run) when it
 * comes from a web page of a foreign origin. Decided before everything else
 * but the connection limit: a refused page learns nothing, not even whether
 * its API key or path was right. */
static void judge_origin(req_state *st)
{
    const char *origin = header(st->conn, "Origin");
    if (!origin || st->origin || origin_is_own(st->h, origin, header(st->conn, "Host"))) return;
    st->is_options = false;
    st->allow = NULL;
    st->early_status = 403;
    snprintf(st->early_msg, sizeof st->early_msg,
             "header Origin '%.200s' is neither this server's own origin nor allowed by "
             "--cors-origin; web pages of other origins may not call this server",
             origin);
}

/* ------------------------------------------------------------ Host
 *
 * DNS rebinding (hosts.h): a page whose name resolves to this machine calls
 * the server as its own origin, so judge_origin lets it through; its Host
 * header, the attacker's name, does not pass this check. A request without
 * Host (HTTP/1.0 allows that; libmicrohttpd 0.9.75 passes HTTP/1.1 without
 * one too) is not from a browser, which always sends it, and is served. With
 * several Host headers libmicrohttpd gives the first; browsers send one. */

/* Refuses st (403, answered after its body is dropped, nothing run) when its
 * Host is not allowed. Decided after judge_origin, whose verdict it replaces:
 * the request was not meant for this server at all. */
static void judge_host(req_state *st)
{
    if (st->h->hosts.any) return; /* not even the header lookup */
    const char *host = header(st->conn, "Host");
    if (!host || rs_hosts_allow(&st->h->hosts, host)) return;
    st->is_options = false;
    st->allow = NULL;
    st->early_status = 403;
    snprintf(st->early_msg, sizeof st->early_msg,
             "header Host '%.200s' is not a name this server answers to: it serves localhost, "
             "IP addresses and the names on --allowed-hosts (RELUSERVE_ALLOWED_HOSTS), so that "
             "a web page cannot reach it through a DNS name rebound to its address; add the "
             "name there if it is yours",
             host);
}

static enum MHD_Result host_header_count(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    (void)kind;
    (void)value;
    if (strcasecmp(key, "Host") == 0) (*(int *)cls)++;
    return MHD_YES;
}

/* RFC 9112 section 3.2: an HTTP/1.1 request carries exactly one Host header,
 * and a server answers 400 to one without it or with more (two could name
 * different hosts to a proxy in front and to us; libmicrohttpd 0.9.75 takes
 * the first and lets the request through). HTTP/1.0 may omit it. Judged last
 * among the headers: the request is malformed whatever else it asks. */
static void judge_host_count(req_state *st, const char *version)
{
    int n = 0;
    MHD_get_connection_values(st->conn, MHD_HEADER_KIND, host_header_count, &n);
    if (n == 1 || (n == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) != 0)) return;
    st->is_options = false;
    st->allow = NULL;
    st->early_status = 400;
    if (n == 0)
        snprintf(st->early_msg, sizeof st->early_msg,
                 "header Host: an HTTP/1.1 request must carry one (RFC 9112), naming the host "
                 "and port it was sent to");
    else
        snprintf(st->early_msg, sizeof st->early_msg,
                 "header Host: sent %d times; a request carries exactly one (RFC 9112)", n);
}

static void add_common_headers(req_state *st, struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Request-Id", st->request_id);
    /* Every answer depends on Origin (refused, or with CORS headers): a shared
     * cache must not give one origin's answer to another. */
    MHD_add_response_header(r, "Vary", "Origin");
    if (st->origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", st->origin);
        MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                "X-Request-Id, Inference-Header-Content-Length, Retry-After");
    }
    if (st->close || atomic_load(&st->h->draining))
        MHD_add_response_header(r, "Connection", "close");
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static bool auth_ok(const char *hdr, const char *key)
{
    if (!hdr || strncasecmp(hdr, "Bearer ", 7)) return false;
    hdr += 7;
    while (*hdr == ' ')
        hdr++;
    size_t a = strlen(hdr), b = strlen(key);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(key[i] ^ (i < a ? hdr[i] : 0));
    return diff == 0;
}

/* Content types whose body is read as JSON (or JSON + binary tensors):
 * application/json and anything+json; application/octet-stream (binary
 * extension); none at all; and, leniently, the two types clients send
 * without being asked: application/x-www-form-urlencoded (curl -d) and
 * text/plain (a browser fetch that avoids a CORS preflight; from a foreign
 * page judge_origin refuses it). Anything else (XML, multipart, ...) is a 415. */
static bool content_type_ok(const char *ct)
{
    static const char *const ok[] = {"application/json", "application/octet-stream",
                                     "application/x-www-form-urlencoded", "text/plain"};
    if (!ct || !*ct) return true;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (n == strlen(ok[i]) && !strncasecmp(ct, ok[i], n)) return true;
    return n > 5 && !strncasecmp(ct + n - 5, "+json", 5);
}

/* -------------------------------------------------------------- responses */

/* The model label of st's metrics: the URL's model name only when the
 * repository knows it. The name is the client's to choose, and a series per
 * name would let anyone grow /metrics and our memory without bound; requests
 * naming an unknown model count under "" with the rest. */
static const char *metrics_model(req_state *st)
{
    if (st->mv) return st->mv->name;
    if (!st->route.model[0]) return NULL;
    rs_model_version *mv;
    char err[8];
    int status = rs_registry_acquire(st->h->app->reg, st->route.model, NULL, &mv, err, sizeof err);
    rs_model_version_release(mv);
    return status == 404 ? NULL : st->route.model;
}

/* The metrics and the access line of st's answer. */
static void account(req_state *st, int status)
{
    rs_http *h = st->h;
    uint64_t us = (now_ns() - st->start_ns) / 1000;
    const char *model = st->route.model[0] ? st->route.model : NULL;
    if (h->app->metrics) rs_metrics_request(h->app->metrics, metrics_model(st), status, us / 1e6);
    /* The statistics extension counts the inference requests that reached a
     * loaded version, whatever their answer (a 400 from decoding fails too). */
    bool inference = st->route.kind == RS_ROUTE_INFER || st->route.kind == RS_ROUTE_PREDICT;
    if (inference && st->mv && st->mv->stats)
        rs_stats_request(st->mv->stats, status == 200, st->rows, us * 1000u);
    rs_access a = {st->method,
                   st->url,
                   model,
                   st->mv ? st->mv->version : (st->route.version[0] ? st->route.version : NULL),
                   st->request_id,
                   status,
                   st->rows,
                   us};
    rs_log_access(&a);
}

static enum MHD_Result respond_raw(req_state *st, int status, const void *data, size_t len,
                                   enum MHD_ResponseMemoryMode mode, const char *ctype,
                                   size_t json_len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) free((void *)data);
        rs_log(RS_LOG_ERROR, "request %s: out of memory for its response", st->request_id);
        return MHD_NO;
    }
    if (ctype) MHD_add_response_header(r, "Content-Type", ctype);
    add_common_headers(st, r);
    if (json_len < len) {
        char num[32];
        snprintf(num, sizeof num, "%zu", json_len);
        MHD_add_response_header(r, "Inference-Header-Content-Length", num);
    }
    if (status == 503) MHD_add_response_header(r, "Retry-After", "1");
    if (status == 405 && st->allow) MHD_add_response_header(r, "Allow", st->allow);
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(st->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    st->responded = true;
    account(st, status);
    return ret;
}

/* Sends body (its memory passes to libmicrohttpd). */
static enum MHD_Result respond_buf(req_state *st, int status, rs_buf *body, const char *ctype,
                                   size_t json_len)
{
    if (body->failed) {
        rs_buf_free(body);
        rs_encode_error(body, "out of memory while writing the response");
        status = 500;
        json_len = body->len;
    }
    /* A JSON answer ends with a newline, as text on a terminal does: curl's
     * output then ends its line instead of running into the prompt. Not a
     * binary answer: its JSON header is followed by raw tensor bytes. */
    if (json_len >= body->len && ctype && strcmp(ctype, "application/json") == 0) {
        rs_buf_append(body, "\n", 1);
        json_len = (size_t)-1; /* still all JSON */
    }
    size_t len;
    char *data = rs_buf_steal(body, &len);
    if (!data) return respond_raw(st, status, "", 0, MHD_RESPMEM_PERSISTENT, ctype, 0);
    if (json_len > len) json_len = len;
    return respond_raw(st, status, data, len, MHD_RESPMEM_MUST_FREE, ctype, json_len);
}

static enum MHD_Result respond_json(req_state *st, int status, rs_buf *body)
{
    return respond_buf(st, status, body, "application/json", (size_t)-1);
}

static enum MHD_Result respond_error(req_state *st, int status, const char *msg)
{
    rs_buf b;
    rs_buf_init(&b);
    rs_encode_error(&b, msg);
    return respond_json(st, status, &b);
}

static enum MHD_Result respond_options(req_state *st)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        rs_log(RS_LOG_ERROR, "request %s: out of memory for its response", st->request_id);
        return MHD_NO;
    }
    add_common_headers(st, r);
    bool post = st->route.kind != RS_ROUTE_NONE && rs_route_is_post(st->route.kind);
    const char *allow = post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
    MHD_add_response_header(r, "Allow", allow);
    if (st->origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                "Content-Type, Authorization, X-Request-Id, "
                                "Inference-Header-Content-Length");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    }
    enum MHD_Result ret = MHD_queue_response(st->conn, 204, r);
    MHD_destroy_response(r);
    st->responded = true;
    rs_access a = {st->method,     st->url, NULL, NULL,
                   st->request_id, 204,     -1,   (now_ns() - st->start_ns) / 1000};
    rs_log_access(&a);
    return ret;
}

/* -------------------------------------------------------------- inference */

/* The scheduler's last touch of the task: on the pool thread that computed
 * it, on the loop thread when answered uncomputed, or here in
 * start_inference when admission refuses it. Also control_done's tail. */
static void task_done(rs_task *t)
{
    req_state *st = t->user;
    struct MHD_Connection *conn = st->conn;
    rs_http *h = st->h;
    rs_poller *poller = st->poller;
    st->ph = PHASE_RESUMED;
    /* Thread-safe; it flags the connection for the daemon, whose next
     * access-handler call sees PHASE_RESUMED (the daemon's lock orders these
     * writes before it). */
    MHD_resume_connection(conn); /* st may be freed from here on */
    /* The flag is looked at only when the daemon runs: wake its thread (also
     * when this is that thread, which would otherwise block first). */
    rs_poller_wake(poller);
    /* Counted as done only now: shutdown stops the daemon once nothing is
     * suspended, and libmicrohttpd panics on a connection still suspended
     * (one whose resume has been asked for is fine: the stop resumes it).
     * h and its pollers live until that stop, which waits for this count. */
    atomic_fetch_sub(&h->suspended, 1);
}

/* Frees st's body and gives the bytes st holds (its body while it arrives,
 * then its decoded tensors) back to the --max-body-total budget. */
static void body_release(req_state *st)
{
    rs_body_release(st->h->budget, &st->body);
}

/* Charges held bytes (a decoded request's tensors and its answer's buffer) to
 * the --max-body-total budget through st's body, given back with it. 0; or
 * 413 when the whole budget could never hold them (a retry cannot help); or
 * 503 while other requests hold too much of it. err names the flag. */
static int charge_held(req_state *st, size_t held, size_t tensors, size_t answer, char *err,
                       size_t errlen)
{
    long long total = (long long)st->h->app->cfg->max_body_total;
    if (held > (unsigned long long)total) {
        snprintf(err, errlen,
                 "this request's decoded inputs (%zu bytes) and its answer (up to %zu bytes) "
                 "need more than the server's whole --max-body-total of %lld bytes; ask for "
                 "fewer rows per request, binary outputs, or fewer outputs and diagnostics",
                 tensors, answer, total);
        return 413;
    }
    if (rs_body_charge(st->h->budget, &st->body, held)) return 0;
    snprintf(err, errlen,
             "the server is holding its limit of %lld bytes of request data and answers "
             "(--max-body-total); retry shortly",
             total);
    return 503;
}

/* The task's answer: a computed or refused inference, or a control job's. */
static enum MHD_Result finish_inference(req_state *st)
{
    rs_task *t = &st->task;
    bool binary = t->json_len < t->body.len;
    return respond_buf(st, t->status, &t->body,
                       binary ? "application/octet-stream" : "application/json", t->json_len);
}

static enum MHD_Result start_inference(req_state *st)
{
    rs_app *app = st->h->app;
    char err[1024];
    const rs_route *rt = &st->route;
    int status = rs_registry_acquire(app->reg, rt->model, rt->version[0] ? rt->version : NULL,
                                     &st->mv, err, sizeof err);
    if (status) return respond_error(st, status, err);
    /* A full queue refuses before the decode: under overload every excess
     * request would otherwise cost this thread a full parse of its body
     * (tens of milliseconds for a big one) only to be refused by admit. */
    status = rs_scheduler_refuses(app->sched, st->mv, err, sizeof err);
    if (status) return respond_error(st, status, err);

    const char *body = st->body.data ? st->body.data : "";
    size_t len = st->body.len;
    rs_decode_limits lim = {.max_rows = app->cfg->max_rows,
                            .max_response_bytes = (size_t)app->cfg->max_response_bytes,
                            .mid = {st->mv->name, st->mv->version}};
    if (rt->kind == RS_ROUTE_INFER) {
        size_t json_len = 0;
        const char *ihcl = header(st->conn, "Inference-Header-Content-Length");
        if (ihcl) {
            /* The length of the JSON part (binary extension): a JSON header
             * is never empty, so 0 is an error, not "no header". */
            unsigned long long v = 0;
            if (!header_decimal(ihcl, &v) || v == 0 || v > len) {
                snprintf(err, sizeof err,
                         "header Inference-Header-Content-Length: expected the length in bytes "
                         "of the request's JSON part, digits from 1 to the body length %zu, got "
                         "'%.64s'",
                         len, ihcl);
                return respond_error(st, 400, err);
            }
            json_len = (size_t)v;
        }
        status = rs_decode_v2(st->mv->model, body, len, json_len, &lim, &st->req, err, sizeof err);
    } else {
        status = rs_decode_v1(st->mv->model, body, len, &lim, &st->req, err, sizeof err);
    }
    if (status) return respond_error(st, status, err);
    st->rows = st->req.rows;
    /* The body is decoded: give its memory back before the wait, and count
     * what the request holds from now until its answer is sent instead (the
     * one charge after the body; on_completed gives it back): the decoded
     * tensors, by the counts of the buffers the decoder allocated
     * (rs_request_bind; they can be larger than the text: "0,0" is 2 bytes a
     * value, a float 4), and the answer's buffer, which the encoder never
     * grows past rs_response_capacity (lean or batched, v1 or v2, JSON or
     * binary alike). */
    body_release(st);
    size_t tensors = (st->req.x_count + st->req.targets_count) * sizeof(float) +
                     st->req.labels_count * sizeof(int);
    rs_model_id mid = {st->mv->name, st->mv->version};
    size_t answer = rs_request_capacity(&st->req, &mid, st->mv->model);
    size_t held = answer > SIZE_MAX - tensors ? SIZE_MAX : tensors + answer;
    status = charge_held(st, held, tensors, answer, err, sizeof err);
    if (status) {
        rs_request_free(&st->req); /* not charged: not kept while the refusal is sent */
        return respond_error(st, status, err);
    }

    rs_task *t = &st->task;
    t->mv = st->mv;
    t->req = &st->req;
    t->done = task_done;
    t->user = st;
    /* Small work is computed right here (the lean path, scheduler.h): the
     * hops to the loop and pool threads and back would cost it more than
     * its compute. Owed since owed_take, so shutdown waits for it. */
    if (rs_scheduler_lean(app->sched, t)) return finish_inference(st);
    /* Suspend before admitting: the completion may resume at once. */
    atomic_fetch_add(&st->h->suspended, 1);
    st->ph = PHASE_SUSPENDED;
    MHD_suspend_connection(st->conn);
    status = rs_scheduler_admit(app->sched, t, err, sizeof err);
    if (status) {
        rs_buf_init_answer(&t->body, &st->req);
        rs_encode_error(&t->body, err);
        t->status = status;
        t->json_len = t->body.len;
        task_done(t);
    }
    return MHD_YES;
}

/* Worker thread (see control.h): the job's answer goes out as a task's. */
static void control_done(rs_control_job *j)
{
    req_state *st = j->user;
    rs_task *t = &st->task;
    t->status = j->status;
    t->body = j->body;
    t->json_len = j->body.len;
    task_done(t);
}

/* Loading takes seconds for a big model: the connection waits suspended, like
 * an inference, while the control worker runs the job. */
static enum MHD_Result start_control(req_state *st)
{
    rs_control_job *j = &st->job;
    j->route = &st->route;
    j->done = control_done;
    j->user = st;
    st->task.user = st;
    atomic_fetch_add(&st->h->suspended, 1);
    st->ph = PHASE_SUSPENDED;
    MHD_suspend_connection(st->conn);
    char err[256];
    int status = rs_control_submit(st->h->control, j, err, sizeof err);
    if (status) {
        rs_buf_init(&j->body);
        rs_encode_error(&j->body, err);
        j->status = status;
        control_done(j);
    }
    return MHD_YES;
}

/* ------------------------------------------------------------- dispatch */

/* Counts st as owed an answer. False once shutdown has closed the gate (the
 * daemon is being stopped): the caller then drops the connection. */
static bool owed_take(req_state *st)
{
    if (st->owed) return true;
    int before = atomic_fetch_add(&st->h->owed, 1);
    if (before & OWED_CLOSED) {
        atomic_fetch_sub(&st->h->owed, 1);
        return false;
    }
    st->owed = true;
    return true;
}

/* Whether the client has closed its side (or the connection failed): a peek
 * that reads 0 bytes is a pending EOF. Called on the polling thread inside
 * the access handler, where libmicrohttpd's socket is valid; MSG_PEEK leaves
 * any data for libmicrohttpd. See the top of this file for why. */
static bool peer_hung_up(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    char b;
    ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* True when st's declared body is not complete and its client has hung up:
 * the request can never be answered, so the caller returns MHD_NO (close). */
static bool upload_abandoned(req_state *st)
{
    if (st->declared <= 0 || st->received >= (unsigned long long)st->declared) return false;
    if (!peer_hung_up(st->conn)) return false;
    rs_log(RS_LOG_DEBUG, "request %s: client hung up after %llu of %lld body bytes", st->request_id,
           st->received, st->declared);
    return true;
}

/* A body still incomplete after the run that read its headers
 * (uploads_settle): a pending EOF now says the client hung up before sending
 * it all, since libmicrohttpd has handed over everything it had read. The
 * bytes that did arrive are judged as they come (upload_abandoned). When
 * none come, no further call comes either: the connection's idle timeout
 * drops to a second (upload_finished restores it if the body does come), so
 * it is closed soon. */
static void upload_watch(req_state *st)
{
    if (st->declared <= 0 || !peer_hung_up(st->conn)) return;
    st->idle_timeout_s = 1;
    MHD_set_connection_option(st->conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
}

static bool is_excess(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci && ci->socket_context == &excess_mark;
}

/* ---------------------------------------------------------- upload deadline
 *
 * libmicrohttpd's idle timeout restarts with every byte, so a client sending
 * a byte now and then would hold its connection, and the body memory it has
 * charged, for ever. A body must therefore arrive whole by a deadline
 * (--upload-timeout-ms after the headers). A client still sending at the
 * deadline is answered 408 at its next bytes; one that sends nothing is closed
 * by libmicrohttpd, whose timeout for the connection is kept at the time left
 * (whole seconds, rounded up) until the body is in. */

/* The idle timeout of st's connection outside an upload. */
static unsigned idle_timeout_normal(req_state *st)
{
    return is_excess(st->conn) ? (unsigned)st->h->excess_idle_s
                               : (unsigned)st->h->app->cfg->connection_timeout_s;
}

/* Keeps the connection's idle timeout at most the time left to the deadline. */
static void upload_timeout_arm(req_state *st, uint64_t now)
{
    uint64_t left = st->upload_deadline_ns - now;
    unsigned s = (unsigned)((left + 999999999u) / 1000000000u), normal = idle_timeout_normal(st);
    if (normal && normal < s) s = normal;
    if (s == 0) s = 1;
    if (s == st->idle_timeout_s) return;
    st->idle_timeout_s = s;
    MHD_set_connection_option(st->conn, MHD_CONNECTION_OPTION_TIMEOUT, s);
}

/* ------------------------------------------------ uploads begun this run
 *
 * An upload whose body does not come with its headers needs its deadline
 * armed as the connection's timeout and a look for a pending hang-up
 * (upload_watch): two libmicrohttpd calls that each take a mutex, and a
 * recv(). Most bodies arrive with their headers, and libmicrohttpd then hands
 * over both in the same MHD_run, so the first call only puts the request on
 * its thread's list of fresh uploads (upload_start), the body's completion
 * takes it off (upload_finished), and after the run the polling thread gives
 * the ones still on it those checks (uploads_settle). A body that did come
 * whole costs none of them. */

static void fresh_remove(req_state *st)
{
    if (!st->fresh_link) return;
    *st->fresh_link = st->fresh_next;
    if (st->fresh_next) st->fresh_next->fresh_link = st->fresh_link;
    st->fresh_link = NULL;
}

/* First call: the deadline of st's body, if it has one to come, and its
 * place on the fresh list. */
static void upload_start(req_state *st)
{
    int64_t ms = st->h->app->cfg->upload_timeout_ms;
    const char *te = st->declared > 0 ? NULL : header(st->conn, "Transfer-Encoding");
    if (st->declared <= 0 && !te) return;
    if (ms > 0) st->upload_deadline_ns = st->start_ns + (uint64_t)ms * 1000000u;
    if (!st->poller) return; /* not on a polling thread: no run ends for it */
    req_state **head = &st->h->fresh[rs_poller_index(st->poller)];
    st->fresh_next = *head;
    if (*head) (*head)->fresh_link = &st->fresh_next;
    *head = st;
    st->fresh_link = head;
}

/* After each MHD_run, on the polling thread: the uploads it began whose body
 * is still to come get their deadline and their hang-up check. */
static void uploads_settle(void *ctx)
{
    rs_http *h = ctx;
    req_state **head = &h->fresh[rs_poller_index(rs_poller_current())];
    if (!*head) return;
    uint64_t now = now_ns();
    while (*head) {
        req_state *st = *head;
        fresh_remove(st);
        if (st->upload_deadline_ns) upload_timeout_arm(st, now);
        upload_watch(st);
    }
}

/* The body is in: it stops counting against its client (it is decoded and
 * answered now), and the connection gets its usual idle timeout back. */
static void upload_finished(req_state *st)
{
    fresh_remove(st);
    rs_body_complete(st->h->budget, &st->body);
    st->upload_deadline_ns = 0;
    if (!st->idle_timeout_s) return;
    st->idle_timeout_s = 0;
    MHD_set_connection_option(st->conn, MHD_CONNECTION_OPTION_TIMEOUT, idle_timeout_normal(st));
}

/* Answers st with status and msg by writing to its socket, for the one case
 * libmicrohttpd has no way to answer: in the middle of an upload (it queues a
 * response only once the body is in). The caller then returns MHD_NO, which
 * closes the connection behind the answer. Over TLS the socket carries
 * GnuTLS records, so the connection is only closed. */
static void answer_midway(req_state *st, int status, const char *reason, const char *msg)
{
    rs_http *h = st->h;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!h->tls_cert && ci) {
        rs_buf body;
        rs_buf_init(&body);
        rs_encode_error(&body, msg);
        char head[640];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\nX-Request-Id: %s\r\n"
                         "Vary: Origin\r\n%s%s%s\r\n",
                         status, reason, body.len, st->request_id,
                         st->origin ? "Access-Control-Allow-Origin: " : "",
                         st->origin ? st->origin : "", st->origin ? "\r\n" : "");
        /* A few hundred bytes into an idle send buffer: one non-blocking send
         * each; if the client does not take them, it does not get its answer. */
        if (n > 0 && (size_t)n < sizeof head && !body.failed &&
            send(ci->connect_fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
            (void)!send(ci->connect_fd, body.data, body.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        rs_buf_free(&body);
    }
    st->responded = true;
    account(st, status);
}

/* True when st's body is still incomplete past its deadline: the client has
 * been answered 408 and the caller closes the connection. */
static bool upload_late(req_state *st)
{
    if (!st->upload_deadline_ns) return false;
    if (st->declared > 0 && st->received >= (unsigned long long)st->declared) return false;
    uint64_t now = now_ns();
    if (now < st->upload_deadline_ns) {
        upload_timeout_arm(st, now);
        return false;
    }
    char msg[256];
    snprintf(msg, sizeof msg,
             "the request body did not arrive within %lld ms (--upload-timeout-ms); "
             "%llu bytes came in",
             (long long)st->h->app->cfg->upload_timeout_ms, st->received);
    body_release(st);
    answer_midway(st, 408, "Request Timeout", msg);
    return true;
}

/* A request on a connection past --max-connections: 503 for everything but
 * the liveness probe (a saturated server is still alive; failing the probe
 * would get it restarted and lose every request in flight). */
static void judge_excess(req_state *st)
{
    st->close = true;
    bool get = !strcmp(st->method, "GET") || !strcmp(st->method, "HEAD");
    if (get && !st->is_options && st->route.kind == RS_ROUTE_LIVE && !st->early_status) return;
    st->is_options = false;
    st->early_status = 503;
    st->allow = NULL;
    snprintf(st->early_msg, sizeof st->early_msg,
             "the server is at its connection limit (--max-connections %d); retry later on a "
             "new connection",
             st->h->max_open);
}

/* The HTTP front's gauges, after the application's metrics: what its limits
 * bound, beside the limits, so a dashboard shows how near they are. */
static void front_metrics(rs_http *h, rs_buf *out)
{
    const rs_config *cfg = h->app->cfg;
    rs_buf_printf(out,
                  "# HELP reluserve_open_connections Client connections open now (over "
                  "--max-connections they are answered 503).\n"
                  "# TYPE reluserve_open_connections gauge\nreluserve_open_connections %d\n"
                  "# HELP reluserve_max_connections --max-connections.\n"
                  "# TYPE reluserve_max_connections gauge\nreluserve_max_connections %d\n",
                  atomic_load(&h->open), h->max_open);
    rs_buf_printf(out,
                  "# HELP reluserve_request_memory_bytes Bytes held now for requests: bodies "
                  "arriving, then decoded inputs and answers until sent (--max-body-total).\n"
                  "# TYPE reluserve_request_memory_bytes gauge\nreluserve_request_memory_bytes "
                  "%lld\n"
                  "# HELP reluserve_request_memory_limit_bytes --max-body-total.\n"
                  "# TYPE reluserve_request_memory_limit_bytes gauge\n"
                  "reluserve_request_memory_limit_bytes %lld\n",
                  (long long)rs_body_budget_held(h->budget), (long long)cfg->max_body_total);
}

static enum MHD_Result answer(req_state *st)
{
    rs_app *app = st->h->app;
    if (st->is_options) return respond_options(st);
    if (st->early_status) return respond_error(st, st->early_status, st->early_msg);
    switch (st->route.kind) {
    case RS_ROUTE_ASSET: {
        const rs_web_asset *a = st->route.asset;
        return respond_raw(st, 200, a->data, a->len, MHD_RESPMEM_PERSISTENT, a->content_type,
                           (size_t)-1);
    }
    case RS_ROUTE_INFER:
    case RS_ROUTE_PREDICT:
        return start_inference(st);
    case RS_ROUTE_REPO_LOAD:
    case RS_ROUTE_REPO_UNLOAD:
        if (app->cfg->enable_model_control) return start_control(st);
        break; /* the handler's 403 */
    default:
        break;
    }
    rs_handler handle = rs_handler_for(st->route.kind);
    if (handle == NULL) return respond_error(st, 404, "no such endpoint");
    rs_buf out;
    rs_buf_init(&out);
    int status = handle(app, &st->route, &out);
    if (st->route.kind == RS_ROUTE_METRICS) {
        front_metrics(st->h, &out);
        return respond_buf(st, status, &out, "text/plain; version=0.0.4; charset=utf-8",
                           (size_t)-1);
    }
    return respond_json(st, status, &out);
}

/* First call: everything that can be judged from the request line and the
 * headers. Errors are stored, to be answered after the body. */
static void judge_headers(req_state *st)
{
    rs_http *h = st->h;
    const rs_config *cfg = h->app->cfg;
    const char *m = st->method;
    if (!strcmp(m, "OPTIONS")) {
        rs_route_parse(st->url, &st->route);
        st->is_options = true;
        return;
    }
    if (!rs_route_parse(st->url, &st->route)) {
        st->early_status = 404;
        if (!strcmp(st->url, "/"))
            snprintf(st->early_msg, sizeof st->early_msg,
                     "this binary was built without the web playground (web/ was empty)");
        else
            snprintf(st->early_msg, sizeof st->early_msg,
                     "no endpoint at path '%.200s'; see GET /v2 and the README for the API",
                     st->url);
        return;
    }
    bool post = rs_route_is_post(st->route.kind);
    bool method_ok = post ? !strcmp(m, "POST") : (!strcmp(m, "GET") || !strcmp(m, "HEAD"));
    if (!method_ok) {
        st->early_status = 405;
        st->allow = post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
        snprintf(st->early_msg, sizeof st->early_msg,
                 "method %.16s is not allowed on %.200s; use %s", m, st->url,
                 post ? "POST" : "GET");
        return;
    }
    rs_route_kind k = st->route.kind;
    bool open = k == RS_ROUTE_LIVE || k == RS_ROUTE_READY || k == RS_ROUTE_ASSET;
    if (cfg->api_key && !open && !auth_ok(header(st->conn, "Authorization"), cfg->api_key)) {
        st->early_status = 401;
        snprintf(st->early_msg, sizeof st->early_msg,
                 "header Authorization must be 'Bearer <api key>' with the server's API key");
        return;
    }
    if (post) {
        const char *ct = header(st->conn, "Content-Type");
        if (!content_type_ok(ct)) {
            st->early_status = 415;
            snprintf(st->early_msg, sizeof st->early_msg,
                     "header Content-Type must be application/json (or application/octet-stream "
                     "with Inference-Header-Content-Length), got '%.100s'",
                     ct);
            return;
        }
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    rs_http *h = cls;
    req_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) {
            rs_log(RS_LOG_ERROR, "out of memory for a new request");
            return MHD_NO;
        }
        *con_cls = st;
        atomic_fetch_add(&h->active, 1);
        st->h = h;
        st->conn = conn;
        st->poller = rs_poller_current();
        st->start_ns = now_ns();
        st->method = method;
        st->url = url;
        st->rows = -1;
        rs_body_init(&st->body);
        const char *rid = header(conn, "X-Request-Id");
        if (rid && request_id_ok(rid))
            memcpy(st->request_id, rid, strlen(rid) + 1); /* at most 64 bytes */
        else
            request_id_make(st->request_id,
                            atomic_fetch_add(&h->next_id, 1) * 0x9E3779B97F4A7C15ull ^ h->id_salt);
        st->origin = cors_match(h, header(conn, "Origin"));
        judge_headers(st);
        judge_origin(st);
        judge_host(st);
        judge_host_count(st, version);
        if (is_excess(conn)) judge_excess(st);
        const char *cl = header(conn, "Content-Length");
        st->declared = -1;
        unsigned long long n = 0; /* the Content-Length, parsed once */
        bool cl_ok = false;
        if (cl) {
            cl_ok = header_decimal(cl, &n);
            if (cl_ok && n <= (unsigned long long)LLONG_MAX) st->declared = (long long)n;
        }
        unsigned long long max = (unsigned long long)h->app->cfg->max_body;
        if (cl_ok && n > max && !st->is_options && !st->early_status) {
            st->early_status = 413;
            snprintf(st->early_msg, sizeof st->early_msg,
                     "request body of %llu bytes is over the limit of %llu bytes (--max-body)", n,
                     max);
        }
        /* Most clients send the whole body before reading: answering now and
         * closing would reset the connection under them, so the body of a
         * refused request is read and dropped, and the refusal answered once
         * it is complete. Only an absurd one (over 4x the limit plus 16 MiB) is
         * answered at once, closing the connection, whatever the refusal (413,
         * or one decided above: Host, Origin, auth...): reading it would only
         * hold the connection until --upload-timeout-ms. */
        if (cl_ok && n > 4 * max + (16ull << 20) && !st->is_options)
            return owed_take(st) ? respond_error(st, st->early_status, st->early_msg) : MHD_NO;
        upload_start(st);
        return MHD_YES;
    }
    if (st->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->ph == PHASE_RESUMED) return finish_inference(st);
    if (st->ph == PHASE_SUSPENDED)
        return MHD_YES; /* not expected: MHD does not call while suspended */
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        st->received += n;
        if (upload_abandoned(st)) return MHD_NO;
        if (upload_late(st)) return MHD_NO;
        if (st->early_status || st->is_options) return MHD_YES; /* read and dropped */
        unsigned long long max = (unsigned long long)h->app->cfg->max_body;
        if ((unsigned long long)st->body.len + n > max) {
            /* A chunked body with no declared length: libmicrohttpd cannot answer in the
             * middle of an upload, so stop keeping it, read the rest and answer 413 at the
             * end. The memory stays bounded by --max-body either way. */
            body_release(st);
            st->early_status = 413;
            snprintf(st->early_msg, sizeof st->early_msg,
                     "request body is over the limit of %lld bytes (--max-body)",
                     (long long)h->app->cfg->max_body);
            return MHD_YES;
        }
        /* Counted as it grows (body.h); a declared length bounds the buffer. */
        size_t limit = st->declared > 0 && (unsigned long long)st->declared < max
                           ? (size_t)st->declared
                           : (size_t)max;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        rs_body_status bs = rs_body_append(h->budget, &st->body, ci ? ci->client_addr : NULL,
                                           upload_data, n, limit);
        if (bs != RS_BODY_OK) {
            /* Dropped (body_append released it): read the rest and answer 503
             * with Retry-After at the end. */
            st->early_status = 503;
            if (bs == RS_BODY_OVER_TOTAL)
                snprintf(st->early_msg, sizeof st->early_msg,
                         "the server is holding its limit of %lld bytes of request bodies "
                         "(--max-body-total); retry shortly",
                         (long long)h->app->cfg->max_body_total);
            else if (bs == RS_BODY_OVER_CLIENT)
                snprintf(st->early_msg, sizeof st->early_msg,
                         "this client's unfinished uploads hold its limit of %lld bytes "
                         "(--max-body-per-client); retry when they complete",
                         (long long)h->app->cfg->max_body_per_client);
            else
                snprintf(st->early_msg, sizeof st->early_msg,
                         "out of memory while reading the request body");
        }
        return MHD_YES;
    }
    /* The whole request is in: from here it is owed an answer, and shutdown waits for it. */
    upload_finished(st);
    if (!owed_take(st)) return MHD_NO;
    return answer(st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    rs_http *h = cls;
    req_state *st = *con_cls;
    if (!st) return;
    *con_cls = NULL;
    fresh_remove(st);
    body_release(st);
    rs_buf_free(&st->task.body);
    rs_request_free(&st->req);
    rs_model_version_release(st->mv);
    if (st->owed) atomic_fetch_sub(&h->owed, 1);
    free(st);
    atomic_fetch_sub(&h->active, 1);
}

/* Counts open connections; the ones past --max-connections are marked excess
 * (answered 503, see judge_excess) and get a short idle timeout. Called on a
 * polling thread; safe to set the per-connection timeout here (the connection
 * is already in libmicrohttpd's lists and nothing else touches it yet). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    rs_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&h->open, 1);
        return;
    }
    if (atomic_fetch_add(&h->open, 1) + 1 <= h->max_open) return;
    *socket_context = &excess_mark;
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)h->excess_idle_s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    /* Its answer to our MHD_NO, which we return only for a client that hung up
     * mid-upload or a request arriving as shutdown closes (both normal), or
     * after out-of-memory (reported where it happens): not a warning. */
    bool ours = !strncmp(msg, "Application reported internal error", 35);
    rs_log(ours ? RS_LOG_DEBUG : RS_LOG_WARN, "libmicrohttpd: %s", msg);
}

/* ---------------------------------------------------------------- daemon */

static int parse_origins(rs_http *h, const char *list)
{
    if (!list || !*list) return 0;
    char *copy = strdup(list);
    if (!copy) return -1;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = 0;
        if (!n) continue;
        if (!strcmp(tok, "*")) h->any_origin = true;
        char **p = realloc(h->origins, (size_t)(h->n_origins + 1) * sizeof *p);
        if (!p || !(p[h->n_origins] = strdup(tok))) {
            if (p) h->origins = p;
            free(copy);
            return -1;
        }
        h->origins = p;
        h->n_origins++;
    }
    free(copy);
    return 0;
}

static void http_free(rs_http *h)
{
    rs_control_free(h->control);
    rs_body_budget_free(h->budget);
    rs_hosts_free(&h->hosts);
    for (int i = 0; i < h->n_origins; i++)
        free(h->origins[i]);
    free(h->origins);
    free(h->tls_cert);
    free(h->tls_key);
    free(h->fresh);
    free(h);
}

/* Reads a PEM file (at most 1 MiB: a certificate chain, not a data set) as a
 * NUL-terminated string for MHD_OPTION_HTTPS_MEM_*. */
static char *pem_read(const char *flag, const char *path, char *err, size_t errlen)
{
    enum { PEM_MAX = 1 << 20 };
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s '%s': %s", flag, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (!buf || bad || n == 0 || n > PEM_MAX || !strstr((buf[n] = 0, buf), "-----BEGIN ")) {
        snprintf(err, errlen, "%s '%s': expected a PEM file of at most 1 MiB", flag, path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* Closes fd, the dup of listen_fd a daemon that failed to start was given,
 * unless libmicrohttpd already has: 0.9.75 closes it on some failure paths
 * (a refused TLS certificate, for one) and not on others (its option
 * parsing, its epoll set-up: out of descriptors).
 * fd is still ours only if it is open on the very socket listen_fd is: had
 * libmicrohttpd closed it, its number could since be another thread's new
 * file (the control and loop threads run already), which must stay open;
 * nothing but this thread makes another descriptor of the listen socket. */
static void listen_dup_close(int listen_fd, int fd)
{
    struct stat ours, now;
    if (fstat(listen_fd, &ours) == 0 && fstat(fd, &now) == 0 && now.st_dev == ours.st_dev &&
        now.st_ino == ours.st_ino)
        close(fd);
}

/* One daemon of the pool: external epoll mode (its thread is ours, see
 * pollers.h), accepting from a dup of listen_fd, at most limit connections.
 * NULL when libmicrohttpd refuses (it says why through on_mhd_log). */
static struct MHD_Daemon *daemon_start(rs_http *h, int listen_fd, int ipv6, unsigned limit)
{
    const rs_config *cfg = h->app->cfg;
    int fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        rs_log(RS_LOG_ERROR, "cannot duplicate the listen socket: %s", strerror(errno));
        return NULL;
    }
    /* No MHD_USE_ITC: libmicrohttpd drops it in external mode; our threads
     * have their own eventfd (pollers.c). */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ipv6) flags |= MHD_USE_IPv6;
    if (h->tls_cert) flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[11];
    int n = 0;
    /* The logger goes first so that libmicrohttpd reports option problems through it. */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
    /* serve.c ignores SIGPIPE and the pollers block it: libmicrohttpd may then
     * use its fastest send calls, as it did on its own threads. */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)limit, NULL};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s, NULL};
    if (h->tls_cert) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY,
                                            opts, MHD_OPTION_END);
    if (!d) listen_dup_close(listen_fd, fd);
    return d;
}

/* h's Host allow-list: --allowed-hosts when given. Otherwise, on a socket
 * only this machine can reach (a loopback --host, make run's), localhost and
 * IP addresses: a browser is the one client there that may carry another
 * name, and only a rebinding page would. On any other address (0.0.0.0 in
 * containers) the names clients use (a Service's, a pod IP, a proxy's) are
 * not ours to know, so every Host is served until a list is given. */
static int hosts_setup(rs_http *h, int listen_fd, char *err, size_t errlen)
{
    const char *list = h->app->cfg->allowed_hosts;
    if (list) {
        char why[256];
        if (!rs_hosts_parse(&h->hosts, list, why, sizeof why)) return 0;
        snprintf(err, errlen, "--allowed-hosts: %s", why);
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getsockname(listen_fd, (struct sockaddr *)&sa, &len)) {
        snprintf(err, errlen, "cannot read the listen socket's address: %s", strerror(errno));
        return -1;
    }
    h->hosts.any = !rs_hosts_loopback((struct sockaddr *)&sa);
    return 0;
}

/* --busy-poll-us with auto resolved (wakeup.h), and the start-up line's
 * words on it. */
static int64_t busy_poll_setup(rs_http *h, const rs_config *cfg, int threads)
{
    h->spin_max_open = SPIN_MAX_CONNECTIONS * threads;
    int64_t us = cfg->busy_poll_us;
    if (us < 0) {
        rs_wakeup w;
        rs_wakeup_inspect(&w);
        char why[sizeof h->busy_poll_note - 40];
        us = rs_busy_poll_auto(&w, threads, why, sizeof why);
        snprintf(h->busy_poll_note, sizeof h->busy_poll_note, "HTTP threads busy-poll %s", why);
    } else if (us > 0) {
        snprintf(h->busy_poll_note, sizeof h->busy_poll_note, "HTTP threads busy-poll %lld us",
                 (long long)us);
    } else {
        snprintf(h->busy_poll_note, sizeof h->busy_poll_note, "HTTP threads busy-poll off");
    }
    return us;
}

/* The pollers' spin hold: requests of this server wait for the pool (their
 * answers wake the thread, and until then the cores are the loop and pool
 * threads'), or more connections are open than spinning pays for. */
static bool spin_hold(void *h)
{
    rs_http *http = h;
    return atomic_load_explicit(&http->suspended, memory_order_relaxed) > 0 ||
           atomic_load_explicit(&http->open, memory_order_relaxed) > http->spin_max_open;
}

int rs_http_start(rs_http **out, rs_app *app, char *err, size_t errlen)
{
    const rs_config *cfg = app->cfg;
    rs_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->app = app;
    h->id_salt = ((unsigned long long)getpid() << 32) ^ now_ns();
    if (parse_origins(h, cfg->cors_origin)) {
        http_free(h);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int64_t per_client =
        cfg->max_body_per_client > 0 ? cfg->max_body_per_client : cfg->max_body_total;
    if (!(h->budget = rs_body_budget_create(cfg->max_body_total, per_client))) {
        http_free(h);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cfg->enable_model_control || app->poll) { /* the poll runs on the control worker */
        int rc = rs_control_start(&h->control, app);
        if (rc) {
            snprintf(err, errlen, "cannot start the model control thread: %s", strerror(rc));
            http_free(h);
            return -1;
        }
    }

    if (cfg->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "--tls-cert: this libmicrohttpd was built without TLS support");
            http_free(h);
            return -1;
        }
        if (!(h->tls_cert = pem_read("--tls-cert", cfg->tls_cert, err, errlen)) ||
            !(h->tls_key = pem_read("--tls-key", cfg->tls_key, err, errlen))) {
            http_free(h);
            return -1;
        }
    }

    int threads = rs_config_http_threads(cfg);
    int ipv6 = 0;
    int listen_fd = rs_listen_open(cfg->host, cfg->port, &ipv6, &h->port, err, errlen);
    if (listen_fd < 0) {
        http_free(h);
        return -1;
    }
    if (hosts_setup(h, listen_fd, err, errlen)) {
        close(listen_fd);
        http_free(h);
        return -1;
    }
    struct MHD_Daemon **daemons = calloc((size_t)threads, sizeof *daemons);
    h->fresh = calloc((size_t)threads, sizeof *h->fresh);
    if (!daemons || !h->fresh) {
        free(daemons);
        close(listen_fd);
        http_free(h);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->max_open = cfg->max_connections;
    h->excess_idle_s = cfg->connection_timeout_s > 0 && cfg->connection_timeout_s < EXCESS_IDLE_S
                           ? cfg->connection_timeout_s
                           : EXCESS_IDLE_S;
    /* libmicrohttpd's own thread pool split its limit among its workers this
     * way; the excess count (on_connection) stays global. Every share is at
     * least 1: there are no more threads than the limit (rs_config_http_threads). */
    unsigned limit = (unsigned)cfg->max_connections + (unsigned)rs_config_connection_margin(cfg);
    int started = 0;
    for (; started < threads; started++) {
        unsigned share =
            limit / (unsigned)threads + ((unsigned)started < limit % (unsigned)threads);
        if (!(daemons[started] = daemon_start(h, listen_fd, ipv6, share))) break;
    }
    close(listen_fd); /* each daemon has its own dup */
    int rc = -1;
    if (started < threads)
        snprintf(err, errlen,
                 h->tls_cert ? "cannot start HTTPS on %s:%d: --tls-cert/--tls-key are not a "
                               "matching certificate and key (or libmicrohttpd refused them)"
                             : "cannot start libmicrohttpd on %s:%d (see its message above)",
                 cfg->host, cfg->port);
    else
        rc = rs_pollers_start(&h->pollers, daemons, threads,
                              (rs_poll_policy){.us = busy_poll_setup(h, cfg, threads),
                                               .hold = spin_hold,
                                               .after_run = uploads_settle,
                                               .ctx = h},
                              err, errlen);
    if (rc) {
        for (int i = 0; i < started; i++) {
            MHD_socket fd = MHD_quiesce_daemon(daemons[i]);
            if (fd != MHD_INVALID_SOCKET) close(fd);
            MHD_stop_daemon(daemons[i]);
        }
        free(daemons);
        http_free(h);
        return -1;
    }
    free(daemons);
    *out = h;
    return 0;
}

int rs_http_port(const rs_http *h)
{
    return h->port;
}

const char *rs_http_busy_poll_note(const rs_http *h)
{
    return h->busy_poll_note;
}

const char *rs_http_hosts_note(const rs_http *h)
{
    if (h->hosts.any) return "any Host";
    return h->hosts.n_names ? "Host localhost, an IP address or --allowed-hosts"
                            : "Host localhost or an IP address";
}

void rs_http_quiesce(rs_http *h)
{
    atomic_store(&h->draining, true);
    if (h->control) rs_control_stop(h->control);
    rs_pollers_quiesce(h->pollers);
}

int rs_http_active(const rs_http *h)
{
    return atomic_load(&((rs_http *)h)->active);
}

int rs_http_suspended(const rs_http *h)
{
    return atomic_load(&((rs_http *)h)->suspended);
}

int rs_http_owed(const rs_http *h)
{
    return atomic_load(&((rs_http *)h)->owed) & ~OWED_CLOSED;
}

bool rs_http_close_if_done(rs_http *h)
{
    int zero = 0;
    return atomic_compare_exchange_strong(&h->owed, &zero, OWED_CLOSED);
}

void rs_http_close_gate(rs_http *h)
{
    atomic_fetch_or(&h->owed, OWED_CLOSED);
}

void rs_http_stop(rs_http *h)
{
    if (!h) return;
    /* The daemons first: once the grace period is over, a request can still be
     * owed but not yet suspended, on its way into start_control, and it reads
     * h->control there. rs_pollers_stop joins the polling threads, so after it
     * nobody does. Nothing is suspended, so no control job is queued or
     * running (one submitted since is refused: the worker is stopping), and
     * the worker touches no connection: this join only waits for a poll tick. */
    rs_pollers_stop(h->pollers);
    http_free(h); /* joins the control worker */
}
