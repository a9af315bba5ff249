/*
 * config — flag/environment parsing driven by one table (see config.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cpus.h"
#include "http/hosts.h"

typedef enum {
    OPT_STR,
    OPT_INT,
    OPT_INT64,
    OPT_BYTES,
    OPT_DOUBLE,
    OPT_BOOL,
    OPT_LOGFMT,
    OPT_LOGLVL,
    OPT_KERNEL,
    OPT_INT64_AUTO, /* OPT_INT64, or "auto" (stored as -1) */
    OPT_HOSTS       /* a string that http/hosts.h must accept */
} opt_type;

typedef struct {
    const char *flag; /* without the leading "--" */
    const char *env;  /* RELUSERVE_* twin */
    opt_type type;
    size_t offset;     /* into rs_config */
    int64_t min, max;  /* integer kinds: accepted range */
    const char *deflt; /* default, as --help shows it */
    const char *help;
} opt_def;

#define OFF(f) offsetof(rs_config, f)

static const opt_def OPTS[] = {
    {"models", "RELUSERVE_MODELS", OPT_STR, OFF(models_dir), 0, 0, "models",
     "model repository: DIR/<name>/<version>/model.{json,safetensors,onnx}"},
    {"host", "RELUSERVE_HOST", OPT_STR, OFF(host), 0, 0, "127.0.0.1",
     "address to listen on (127.0.0.1 = this machine only; 0.0.0.0 = every interface, as "
     "containers need)"},
    {"port", "RELUSERVE_PORT", OPT_INT, OFF(port), 0, 65535, "8080",
     "TCP port (0 = any free port)"},
    {"threads", "RELUSERVE_THREADS", OPT_INT, OFF(threads), 0, 1024, "0",
     "compute threads of the libuv pool (UV_THREADPOOL_SIZE); 0 = the usable CPUs (the process's "
     "CPU affinity, capped by its cgroup CPU quota rounded up)"},
    {"kernel", "RELUSERVE_KERNEL", OPT_KERNEL, OFF(kernel), 0, 0, "native",
     "the matrix kernels of inference and diagnostics. native: fused multiply-adds on the widest "
     "vectors this CPU has (AVX-512 or AVX2; the start-up line names them; a CPU without FMA "
     "computes as portable), each output summed in one fixed order, so a request gets the same "
     "bits whatever batch it joins, on this machine. portable: no fused multiply-adds, the same "
     "bits on every machine (what `reluserve train` always uses), slower past a few rows. "
     "Neither calls BLAS"},
    {"http-threads", "RELUSERVE_HTTP_THREADS", OPT_INT, OFF(http_threads), 0, 256, "0",
     "HTTP polling threads, each running one libmicrohttpd daemon on the shared listen socket; "
     "0 = 1 on up to 2 usable CPUs, else half of them. At most --max-connections plus its margin "
     "(below): the connections are split among the threads (a larger value is refused at "
     "start-up, the automatic count is cut to it)"},
    {"busy-poll-us", "RELUSERVE_BUSY_POLL_US", OPT_INT64_AUTO, OFF(busy_poll_us), 0, 100000, "auto",
     "low-latency mode: after handling socket activity, each HTTP thread keeps polling "
     "without sleeping until this many microseconds pass with nothing to do, so the next "
     "request on a busy connection does not wait for an idle CPU to wake (tens of "
     "microseconds on virtual machines whose idle vCPUs halt). Costs up to one core per HTTP "
     "thread while requests keep arriving within that time, nothing while idle; no thread "
     "spins while requests wait for the pool or with more than 8 connections open per HTTP "
     "thread. 0 = off: threads sleep at once. auto = 100 on a virtual machine (CPUID) "
     "without guest halt-polling where the process has a CPU (affinity and cgroup quota) for "
     "every HTTP thread plus one, else 0; the start-up line says which and why"},
    {"max-batch", "RELUSERVE_MAX_BATCH", OPT_INT, OFF(max_batch), 1, 1 << 20, "64",
     "rows the dynamic batcher merges into one batch (1 = batching off)"},
    {"batch-delay-us", "RELUSERVE_BATCH_DELAY_US", OPT_INT64, OFF(batch_delay_us), 0, 10000000, "0",
     "longest a request waits for others to batch with (0 = take what is queued)"},
    {"lean-max-flops", "RELUSERVE_LEAN_MAX_FLOPS", OPT_INT64, OFF(lean_max_flops), 0,
     (int64_t)1 << 40, "32768",
     "the lean path: a request whose compute is at most this many multiply-adds (the model's "
     "per-row count x rows, x 3 with diagnostics), in no more rows than max-batch, is computed "
     "on the HTTP thread as soon as it "
     "is decoded, skipping the queue and the pool, when its model version has nothing queued "
     "and no batch-delay-us; the answer is the same byte for byte, except that a lean request "
     "never waits and so cannot expire (timeout_us, --request-timeout-ms) (0 = off)"},
    {"max-queue", "RELUSERVE_MAX_QUEUE", OPT_INT, OFF(max_queue), 1, 1 << 24, "1024",
     "requests waiting per model version; past it, 503 with Retry-After"},
    {"max-body", "RELUSERVE_MAX_BODY", OPT_BYTES, OFF(max_body), 1, (int64_t)1 << 40, "64M",
     "largest request body in bytes (suffix K, M or G); larger is 413"},
    {"max-body-total", "RELUSERVE_MAX_BODY_TOTAL", OPT_BYTES, OFF(max_body_total), 1,
     (int64_t)1 << 42, "1G",
     "request data held at once over all connections — bodies while they arrive, then "
     "each inference request's decoded tensors and its answer's buffer (counted at the "
     "answer's bound, as --max-response-bytes counts it) from before it is computed until "
     "the answer is sent. At least --max-body. A request that would pass it is answered 503 "
     "with Retry-After (413 when its tensors and answer alone need more than the whole "
     "budget), so memory stays bounded however many clients send or read at once"},
    {"max-body-per-client", "RELUSERVE_MAX_BODY_PER_CLIENT", OPT_BYTES, OFF(max_body_per_client), 0,
     (int64_t)1 << 42, "0",
     "request body bytes one client (an IPv4 address, an IPv6 /64) may hold in uploads not "
     "yet complete, so that a few slow uploads cannot take --max-body-total from everyone; "
     "past it, 503 with Retry-After. 0 = a quarter of --max-body-total, at least --max-body. "
     "Behind a proxy all clients share its address: raise it to --max-body-total there"},
    {"upload-timeout-ms", "RELUSERVE_UPLOAD_TIMEOUT_MS", OPT_INT64, OFF(upload_timeout_ms), 0,
     86400000, "60000",
     "a request body must arrive whole within this many ms of the request's headers; a slower "
     "upload is answered 408 and its connection closed, and one that stops sending is closed "
     "(0 = no limit)"},
    {"max-rows", "RELUSERVE_MAX_ROWS", OPT_INT, OFF(max_rows), 1, 1 << 24, "65536",
     "rows per request; more is 413"},
    {"max-response-bytes", "RELUSERVE_MAX_RESPONSE_BYTES", OPT_BYTES, OFF(max_response_bytes), 1024,
     (int64_t)1 << 40, "64M",
     "largest answer to an inference request, in bytes (suffix K, M or G). Checked before "
     "anything is computed, against a bound from what the request asks: its rows times the "
     "model's widths for each output and diagnostic named, 17 bytes per value in JSON (the "
     "longest float text and its comma), 4 in the binary extension; past it, 413 naming what "
     "to ask for instead (fewer rows, binary outputs, fewer outputs). The same bound is "
     "charged to --max-body-total until the answer is sent. The default, the "
     "--max-body default, admits every output of --max-rows rows in JSON for up to 60 "
     "outputs while keeping one request from making the server build and send a "
     "gigabyte-sized answer (preactivations or input_gradient of a wide model)"},
    {"max-connections", "RELUSERVE_MAX_CONNECTIONS", OPT_INT, OFF(max_connections), 1, 1 << 20,
     "1024",
     "open connections served normally. Up to max/8 more (16..256) are accepted so that "
     "each of their requests is answered at once: 503 with Retry-After and Connection: close "
     "(GET /v2/health/live still 200), and they are closed after 2 s idle. Past that margin, "
     "new connections wait in the listen backlog until a slot frees"},
    {"connection-timeout-s", "RELUSERVE_CONNECTION_TIMEOUT_S", OPT_INT, OFF(connection_timeout_s),
     0, 86400, "60", "idle connections are closed after this many seconds (0 = never)"},
    {"request-timeout-ms", "RELUSERVE_REQUEST_TIMEOUT_MS", OPT_INT64, OFF(request_timeout_ms), 0,
     86400000, "30000",
     "a request queued longer than this is answered 503 uncomputed, even while every compute "
     "thread is busy (parameters.timeout_us can shorten it, never lengthen it; 0 = none)"},
    {"shutdown-grace-ms", "RELUSERVE_SHUTDOWN_GRACE_MS", OPT_INT64, OFF(shutdown_grace_ms), 0,
     86400000, "30000",
     "on SIGTERM, how long to wait for accepted requests (fully received: queued, computing or "
     "being sent) before closing; idle connections and partly received requests are closed as "
     "soon as the accepted ones are answered"},
    {"api-key", "RELUSERVE_API_KEY", OPT_STR, OFF(api_key), 0, 0, "(none)",
     "require 'Authorization: Bearer KEY' (health endpoints, OPTIONS and the playground stay "
     "open)"},
    {"cors-origin", "RELUSERVE_CORS_ORIGIN", OPT_STR, OFF(cors_origin), 0, 0, "(none)",
     "comma-separated origins (scheme://host[:port]) whose web pages may call the server, or *; "
     "a request with any other Origin header but the server's own gets 403"},
    {"allowed-hosts", "RELUSERVE_ALLOWED_HOSTS", OPT_HOSTS, OFF(allowed_hosts), 0, 0,
     "(localhost and IP addresses when --host is a loopback address, else any host)",
     "comma-separated host names this server answers to in the Host header (case-insensitive, "
     "any port; IPv6 addresses in brackets), or * for any host; localhost and IP addresses are "
     "always allowed. Any other Host gets 403, so that a web page cannot reach a server on its "
     "visitor's machine by rebinding its own DNS name to that machine's address. Behind a "
     "proxy or a DNS name on a loopback --host, list the names clients use"},
    {"tls-cert", "RELUSERVE_TLS_CERT", OPT_STR, OFF(tls_cert), 0, 0, "(none)",
     "PEM certificate (chain) file: serve HTTPS through libmicrohttpd's GnuTLS (needs --tls-key)"},
    {"tls-key", "RELUSERVE_TLS_KEY", OPT_STR, OFF(tls_key), 0, 0, "(none)",
     "PEM private key file of --tls-cert"},
    {"log-format", "RELUSERVE_LOG_FORMAT", OPT_LOGFMT, OFF(log_format), 0, 0, "text",
     "text or json (one JSON object per line)"},
    {"log-level", "RELUSERVE_LOG_LEVEL", OPT_LOGLVL, OFF(log_level), 0, 0, "info",
     "debug, info (access lines), warn or error"},
    {"enable-model-control", "RELUSERVE_ENABLE_MODEL_CONTROL", OPT_BOOL, OFF(enable_model_control),
     0, 0, "false", "allow POST /v2/repository/models/{m}/load and /unload (else 403)"},
    {"repository-poll-s", "RELUSERVE_REPOSITORY_POLL_S", OPT_INT, OFF(repository_poll_s), 0, 86400,
     "0",
     "poll the repository every this many seconds and load new and changed versions, unload "
     "removed ones (like Triton's POLL mode); files must be unchanged over two polls before "
     "they load, and a version that fails to load leaves the copy loaded before serving. "
     "0 = off. Not with --enable-model-control"},
    {"vanishing-threshold", "RELUSERVE_VANISHING_THRESHOLD", OPT_DOUBLE, OFF(vanishing_threshold),
     0, 0, "0.001", "gradient_ratio below this is reported vanishing"},
    {"exploding-threshold", "RELUSERVE_EXPLODING_THRESHOLD", OPT_DOUBLE, OFF(exploding_threshold),
     0, 0, "1000", "gradient_ratio above this is reported exploding"},
    {"monitor-window-s", "RELUSERVE_MONITOR_WINDOW_S", OPT_INT, OFF(monitor_window_s), 1,
     30 * 86400, "60", "live window of the never-active (dying ReLU) unit monitor"},
};

#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

void rs_config_free(rs_config *c)
{
    free(c->models_dir);
    free(c->host);
    free(c->api_key);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->cors_origin);
    free(c->allowed_hosts);
    memset(c, 0, sizeof *c);
}

int rs_config_threads(const rs_config *c)
{
    if (c->threads > 0) return c->threads;
    return c->cpus > 0 ? c->cpus : 1;
}

int rs_config_connection_margin(const rs_config *c)
{
    int m = c->max_connections / 8;
    return m < 16 ? 16 : m > 256 ? 256 : m;
}

int rs_config_http_threads(const rs_config *c)
{
    if (c->http_threads > 0) return c->http_threads; /* within the limit: config_check */
    int cores = c->cpus > 0 ? c->cpus : 1;
    int n = cores <= 2 ? 1 : cores / 2;
    int limit = c->max_connections + rs_config_connection_margin(c);
    return n < limit ? n : limit;
}

static bool parse_int64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return false;
    *out = v;
    return true;
}

/* Bytes with an optional binary suffix: 512, 64K, 64M, 1G (case-insensitive). */
static bool parse_bytes(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0) return false;
    int shift = 0;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            shift = 10;
            break;
        case 'M':
            shift = 20;
            break;
        case 'G':
            shift = 30;
            break;
        default:
            return false;
        }
        end++;
        if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I') end++;
        if (toupper((unsigned char)*end) == 'B') end++;
        if (*end) return false;
    }
    if (v > (INT64_MAX >> shift)) return false;
    *out = (int64_t)v << shift;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return *out = true, true;
        if (!strcasecmp(s, no[i])) return *out = false, true;
    }
    return false;
}

/* Stores value into the field of o; `who` names the flag or variable for err. */
static int opt_set(rs_config *c, const opt_def *o, const char *value, const char *who, char *err,
                   size_t errlen)
{
    char *field = (char *)c + o->offset;
    int64_t v;
    char why[256];
    switch (o->type) {
    case OPT_HOSTS:
    case OPT_STR: {
        /* A host list is checked here, so that its error names the flag or
         * the variable it came from; the server parses it again at start. */
        if (o->type == OPT_HOSTS && rs_hosts_parse(NULL, value, why, sizeof why)) {
            snprintf(err, errlen, "%s: %s", who, why);
            return -1;
        }
        char **p = (char **)(void *)field;
        char *copy = strdup(value);
        if (!copy) {
            snprintf(err, errlen, "%s: out of memory", who);
            return -1;
        }
        free(*p);
        *p = copy;
        return 0;
    }
    case OPT_INT64_AUTO:
        if (!strcmp(value, "auto")) {
            *(int64_t *)(void *)field = -1;
            return 0;
        }
        if (!parse_int64(value, &v) || v < o->min || v > o->max) {
            snprintf(err, errlen, "%s expects auto or an integer from %lld to %lld, got '%s'", who,
                     (long long)o->min, (long long)o->max, value);
            return -1;
        }
        *(int64_t *)(void *)field = v;
        return 0;
    case OPT_INT:
    case OPT_INT64:
        if (!parse_int64(value, &v) || v < o->min || v > o->max) {
            snprintf(err, errlen, "%s expects an integer from %lld to %lld, got '%s'", who,
                     (long long)o->min, (long long)o->max, value);
            return -1;
        }
        if (o->type == OPT_INT)
            *(int *)(void *)field = (int)v;
        else
            *(int64_t *)(void *)field = v;
        return 0;
    case OPT_BYTES:
        if (!parse_bytes(value, &v) || v < o->min || v > o->max) {
            snprintf(err, errlen,
                     "%s expects a size in bytes such as 1048576, 64K, 64M or 1G (at least %lld), "
                     "got '%s'",
                     who, (long long)o->min, value);
            return -1;
        }
        *(int64_t *)(void *)field = v;
        return 0;
    case OPT_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(d) || d <= 0) {
            snprintf(err, errlen, "%s expects a positive number, got '%s'", who, value);
            return -1;
        }
        *(double *)(void *)field = d;
        return 0;
    }
    case OPT_BOOL: {
        bool b;
        if (!parse_bool(value, &b)) {
            snprintf(err, errlen, "%s expects true or false, got '%s'", who, value);
            return -1;
        }
        *(bool *)(void *)field = b;
        return 0;
    }
    case OPT_LOGFMT:
        if (!strcmp(value, "text"))
            *(rs_log_format *)(void *)field = RS_LOG_TEXT;
        else if (!strcmp(value, "json"))
            *(rs_log_format *)(void *)field = RS_LOG_JSON;
        else {
            snprintf(err, errlen, "%s expects text or json, got '%s'", who, value);
            return -1;
        }
        return 0;
    case OPT_KERNEL:
        if (!strcmp(value, "native"))
            *(mlp_kernel *)(void *)field = MLP_KERNEL_NATIVE;
        else if (!strcmp(value, "portable"))
            *(mlp_kernel *)(void *)field = MLP_KERNEL_PORTABLE;
        else {
            snprintf(err, errlen, "%s expects native or portable, got '%s'", who, value);
            return -1;
        }
        return 0;
    case OPT_LOGLVL: {
        static const char *names[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(value, names[i])) {
                *(rs_log_level *)(void *)field = (rs_log_level)i;
                return 0;
            }
        snprintf(err, errlen, "%s expects debug, info, warn or error, got '%s'", who, value);
        return -1;
    }
    }
    return -1;
}

void rs_config_defaults(rs_config *c)
{
    memset(c, 0, sizeof *c);
    /* The table's defaults through the flags' own parser, so --help shows
     * exactly what is used ("(none)": the field stays empty). */
    for (size_t i = 0; i < N_OPTS; i++) {
        char err[256];
        if (OPTS[i].deflt[0] != '(')
            opt_set(c, &OPTS[i], OPTS[i].deflt, OPTS[i].flag, err, sizeof err);
    }
    rs_cpus cpus;
    rs_cpus_inspect(&cpus);
    c->cpus = rs_cpus_usable(&cpus);
}

static const opt_def *opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(OPTS[i].flag) == len && !strncmp(OPTS[i].flag, name, len)) return &OPTS[i];
    return NULL;
}

/* Cross-field checks the table cannot express. */
static int config_check(const rs_config *c, char *err, size_t errlen)
{
    if (!c->models_dir || !*c->models_dir) {
        snprintf(err, errlen, "--models expects a directory, got an empty string");
        return -1;
    }
    if (!c->host || !*c->host) {
        snprintf(err, errlen, "--host expects an IP address, got an empty string");
        return -1;
    }
    if (c->api_key && !*c->api_key) {
        snprintf(err, errlen, "--api-key expects a non-empty key");
        return -1;
    }
    if (c->max_body_total < c->max_body) {
        snprintf(err, errlen,
                 "--max-body-total (%lld bytes) must be at least --max-body (%lld bytes)",
                 (long long)c->max_body_total, (long long)c->max_body);
        return -1;
    }
    if (c->max_body_per_client &&
        (c->max_body_per_client < c->max_body || c->max_body_per_client > c->max_body_total)) {
        snprintf(err, errlen,
                 "--max-body-per-client (%lld bytes) must be from --max-body (%lld bytes) to "
                 "--max-body-total (%lld bytes), or 0 for the default",
                 (long long)c->max_body_per_client, (long long)c->max_body,
                 (long long)c->max_body_total);
        return -1;
    }
    int conn_limit = c->max_connections + rs_config_connection_margin(c);
    if (c->http_threads > conn_limit) {
        snprintf(err, errlen,
                 "--http-threads (%d) must be at most --max-connections (%d) plus its margin of "
                 "%d, at most %d: that many connections are split among the HTTP threads, and a "
                 "thread with none would never accept",
                 c->http_threads, c->max_connections, rs_config_connection_margin(c), conn_limit);
        return -1;
    }
    if ((c->tls_cert && *c->tls_cert) != (c->tls_key && *c->tls_key)) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together: give both files or neither");
        return -1;
    }
    if (c->repository_poll_s > 0 && c->enable_model_control) {
        snprintf(err, errlen,
                 "--repository-poll-s and --enable-model-control cannot be combined: the poll "
                 "keeps the served models equal to the repository on disk (as Triton's POLL "
                 "mode, which refuses model control)");
        return -1;
    }
    if (c->vanishing_threshold >= c->exploding_threshold) {
        snprintf(err, errlen, "--vanishing-threshold (%g) must be below --exploding-threshold (%g)",
                 c->vanishing_threshold, c->exploding_threshold);
        return -1;
    }
    return 0;
}

int rs_config_parse(rs_config *c, int argc, char **argv, rs_env_fn env, char *err, size_t errlen)
{
    char who[96];
    if (!env) env = (rs_env_fn)getenv;
    rs_config_defaults(c);
    if (!c->models_dir || !c->host) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;

    for (size_t i = 0; i < N_OPTS; i++) {
        const char *v = env(OPTS[i].env);
        if (!v) continue;
        snprintf(who, sizeof who, "environment variable %s", OPTS[i].env);
        if (opt_set(c, &OPTS[i], v, who, err, errlen)) return -1;
    }

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen,
                     "unexpected argument '%s'; flags look like --port 8080 (see --help)", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_def *o = opt_find(name, len);
        if (!o) {
            snprintf(err, errlen, "unknown flag '--%.*s' (see reluserve serve --help)", (int)len,
                     name);
            return -1;
        }
        snprintf(who, sizeof who, "--%s", o->flag);
        const char *value;
        if (eq)
            value = eq + 1;
        else if (o->type == OPT_BOOL)
            value = "true"; /* a bare boolean flag switches it on */
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            snprintf(err, errlen, "%s expects a value", who);
            return -1;
        }
        if (opt_set(c, o, value, who, err, errlen)) return -1;
    }
    if (config_check(c, err, errlen)) return -1;
    if (!c->max_body_per_client) {
        int64_t quarter = c->max_body_total / 4;
        c->max_body_per_client = quarter > c->max_body ? quarter : c->max_body;
    }
    return 0;
}

void rs_config_usage(FILE *out)
{
    fputs("Usage: reluserve serve [flags]\n\n"
          "Serves a model repository over HTTP (Open Inference Protocol v2 and the\n"
          "TensorFlow Serving v1 predict API). Every flag has an environment twin;\n"
          "a flag wins over its twin, the twin over the default.\n\n",
          out);
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_def *o = &OPTS[i];
        const char *arg = o->type == OPT_BOOL                          ? ""
                          : o->type == OPT_STR || o->type == OPT_HOSTS ? " VALUE"
                                                                       : " N";
        if (o->type == OPT_LOGFMT || o->type == OPT_LOGLVL || o->type == OPT_KERNEL) arg = " NAME";
        if (o->type == OPT_BYTES) arg = " BYTES";
        if (o->type == OPT_INT64_AUTO) arg = " N|auto";
        fprintf(out, "  --%s%s\n      %s\n      env %s, default %s\n", o->flag, arg, o->help,
                o->env, o->deflt);
    }
}
