/*
 * config — the settings of `reluserve serve`: command-line flags, each with a
 * RELUSERVE_* environment twin (a flag wins over its twin, the twin over the
 * default). One static table drives parsing, validation and --help, so a flag
 * cannot exist without its twin and its documentation.
 */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mlp.h"

typedef enum { RS_LOG_TEXT = 0, RS_LOG_JSON } rs_log_format;
typedef enum { RS_LOG_DEBUG = 0, RS_LOG_INFO, RS_LOG_WARN, RS_LOG_ERROR } rs_log_level;

typedef struct {
    char *models_dir; /* owned */
    char *host;       /* owned; address to bind */
    int port;
    int threads;       /* compute pool threads (UV_THREADPOOL_SIZE); 0 = the usable CPUs */
    int http_threads;  /* HTTP polling threads; 0 = auto (from the usable CPUs) */
    mlp_kernel kernel; /* MLP_KERNEL_NATIVE or MLP_KERNEL_PORTABLE (--kernel) */
    int max_batch;     /* rows merged into one batch */
    int64_t batch_delay_us;
    int64_t busy_poll_us;        /* HTTP threads keep polling this long after activity; 0 = off,
                                  * -1 = auto (http/wakeup.h) */
    int64_t lean_max_flops;      /* lean path: largest compute (multiply-adds) run on the HTTP
                                    thread; 0 = off */
    int max_queue;               /* requests waiting per model version */
    int64_t max_body;            /* bytes */
    int64_t max_body_total;      /* bytes of request bodies held at once, all connections */
    int64_t max_body_per_client; /* bytes of one client's unfinished uploads (0 before parsing
                                    resolves the default) */
    int64_t upload_timeout_ms;   /* a body must arrive whole within this of its headers; 0 = no
                                    limit */
    int max_rows;                /* rows per request */
    int64_t max_response_bytes;  /* bound of an inference answer (rs_response_bound) */
    int max_connections;
    int connection_timeout_s;   /* idle keep-alive connections are closed after this */
    int64_t request_timeout_ms; /* queue wait limit for requests without timeout_us; 0 = none */
    int64_t shutdown_grace_ms;  /* how long shutdown waits for in-flight requests */
    char *api_key;              /* owned; NULL = no authentication */
    char *cors_origin;          /* owned; comma-separated allow-list, "*" for any; NULL = off */
    char *allowed_hosts;        /* owned; Host allow-list (http/hosts.h), "*" for any; NULL = the
                                   default: localhost and IP addresses on a loopback --host,
                                   any host otherwise */
    char *tls_cert;             /* owned; PEM certificate chain file; NULL = plain HTTP */
    char *tls_key;              /* owned; PEM private key file (with tls_cert) */
    rs_log_format log_format;
    rs_log_level log_level;
    bool enable_model_control;
    int repository_poll_s; /* seconds between repository polls; 0 = off */
    double vanishing_threshold;
    double exploding_threshold;
    int monitor_window_s;
    /* Not a flag: the usable CPUs (cpus.h) the automatic counts size from,
     * found by rs_config_parse; a test sets its own. */
    int cpus;
} rs_config;

/* Looks an environment variable up; getenv when NULL is passed. */
typedef const char *(*rs_env_fn)(const char *name);

/* Fills c with the defaults (strings owned by c). */
void rs_config_defaults(rs_config *c);
void rs_config_free(rs_config *c);

/*
 * Parses the arguments after `serve` (argv[0] is the first flag) over the
 * environment and the defaults: c starts from rs_config_defaults, then every
 * RELUSERVE_* variable that is set, then every flag. Accepts `--flag value`
 * and `--flag=value`. Returns 0, 1 when --help was asked for (nothing else is
 * validated), or -1 with one sentence in err naming the flag (or variable)
 * and what was expected. c always holds something rs_config_free can free.
 */
int rs_config_parse(rs_config *c, int argc, char **argv, rs_env_fn env, char *err, size_t errlen);

/* The --help text: every flag with its environment twin and default. */
void rs_config_usage(FILE *out);

/* Compute threads after resolving 0 to the usable CPUs (c->cpus). */
int rs_config_threads(const rs_config *c);

/* Connections libmicrohttpd accepts past --max-connections, so that each
 * request on them is answered 503 at once (max/8, from 16 to 256). */
int rs_config_connection_margin(const rs_config *c);

/* HTTP polling threads after resolving 0 (1 on up to 2 usable CPUs, else
 * half of them).
 * At most --max-connections plus its margin: that limit is split among the
 * threads' daemons, and a thread with a share of 0 would never accept (a
 * larger --http-threads is refused by rs_config_parse, the automatic count
 * is cut to it). */
int rs_config_http_threads(const rs_config *c);

#endif /* RS_CONFIG_H */
