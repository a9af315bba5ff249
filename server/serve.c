/*
 * serve — `reluserve serve`: wires the parts together, drains on SIGTERM.
 *
 * Shutdown: the first SIGTERM/SIGINT stops accepting connections (each HTTP
 * thread quiesces its libmicrohttpd daemon), refuses model control and marks
 * responses Connection: close; a 10 ms timer
 * then waits until every request owed an answer (whole request received:
 * queued, computing or its response being sent) is answered and the
 * scheduler is idle, or until --shutdown-grace-ms has passed and nothing is
 * computing, before the daemon is stopped and everything freed. Connections
 * that are idle or mid-upload are not waited for: stopping the daemon closes
 * them.
 */
#include "serve.h"

#ifndef MLP_NO_BLAS
#include <cblas.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "cpus.h"
#include "http/handlers.h"
#include "http/http.h"
#include "log.h"
#include "log_writer.h"
#include "poll.h"

typedef struct {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain;
    rs_app app;
    rs_http *http;
    uint64_t drain_start_ms;
    bool stopping;
} server;

static void drain_tick(uv_timer_t *t)
{
    server *s = t->data;
    bool grace_over =
        uv_now(&s->loop) - s->drain_start_ms >= (uint64_t)s->app.cfg->shutdown_grace_ms;
    /* Stop before asking whether it is idle: a lean request (computed on an
     * HTTP thread) could otherwise start between the two and be cut off. */
    if (grace_over) rs_scheduler_stop(s->app.sched);
    if (!rs_scheduler_idle(s->app.sched)) return;
    /* Closing the gate atomically with the check: no request can become owed
     * (and be admitted) between this decision and the daemon's stop. */
    if (!rs_http_close_if_done(s->http)) {
        if (!grace_over) return;
        rs_http_close_gate(s->http);
        if (rs_http_suspended(s->http)) return; /* their completions will resume them */
        if (rs_http_owed(s->http))
            rs_log(RS_LOG_WARN, "shutdown grace period over: closing %d unfinished requests",
                   rs_http_owed(s->http));
    }
    rs_http_stop(s->http);
    s->http = NULL;
    rs_scheduler_close(s->app.sched);
    uv_close((uv_handle_t *)&s->drain, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    /* Closing the handles restored the default action; a second SIGTERM (a
     * supervisor's reminder) must not turn the clean exit into a kill. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    rs_log(RS_LOG_INFO, "stopped");
}

static void on_signal(uv_signal_t *h, int signum)
{
    server *s = h->data;
    if (s->stopping) {
        rs_log(RS_LOG_WARN, "%s again: still finishing in-flight requests",
               signum == SIGINT ? "SIGINT" : "SIGTERM");
        return;
    }
    s->stopping = true;
    int owed = rs_http_owed(s->http), partial = rs_http_active(s->http) - owed;
    rs_log(RS_LOG_INFO,
           "%s: no new connections; finishing %d open requests (%d still being received are "
           "dropped)",
           signum == SIGINT ? "SIGINT" : "SIGTERM", owed, partial > 0 ? partial : 0);
    rs_http_quiesce(s->http);
    s->drain_start_ms = uv_now(&s->loop);
    uv_timer_start(&s->drain, drain_tick, 0, 10);
}

/* The banner's word on BLAS. Inference pins libmlp's own kernels (infer.c),
 * but should BLAS ever run in a pool job, OpenBLAS threads of its own would
 * oversubscribe the cores: the binary pinned it to one thread at start-up
 * (cli/blas.c), and this reports what OpenBLAS says now. */
static void blas_note(char *out, size_t cap)
{
#ifdef MLP_NO_BLAS
    snprintf(out, cap, "no BLAS linked");
#else
    int n = openblas_get_num_threads();
    snprintf(out, cap, "%d OpenBLAS thread%s each", n, n == 1 ? "" : "s");
#endif
}

static int serve(const rs_config *cfg)
{
    int threads = rs_config_threads(cfg);
    /* libuv reads this once, when the pool first starts: before any uv_queue_work. */
    char num[16];
    snprintf(num, sizeof num, "%d", threads);
    setenv("UV_THREADPOOL_SIZE", num, 1);
    signal(SIGPIPE, SIG_IGN);

    server s;
    memset(&s, 0, sizeof s);
    s.app.cfg = cfg;
    char err[1024];
    /* Signals first: a SIGTERM while models load is then a clean stop, not a kill. */
    int rc = uv_loop_init(&s.loop);
    if (rc) {
        rs_log(RS_LOG_ERROR, "cannot start the event loop: %s", uv_strerror(rc));
        return 1;
    }
    uv_signal_init(&s.loop, &s.sigterm);
    uv_signal_init(&s.loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_timer_init(&s.loop, &s.drain);
    s.drain.data = &s;

    int exit_code = 0;
    rs_model_config defaults = {cfg->max_batch, cfg->batch_delay_us, cfg->max_queue,
                                cfg->monitor_window_s, cfg->kernel};
    rs_scheduler_params sp = {threads,
                              cfg->request_timeout_ms * 1000,
                              {(float)cfg->vanishing_threshold, (float)cfg->exploding_threshold},
                              (double)cfg->lean_max_flops,
                              cfg->kernel};
    /* The poll's baseline comes before the models load: a change on disk while
     * they load is then seen by the first polls, not missed. */
    if (cfg->repository_poll_s > 0 && !(s.app.poll = rs_poll_create(cfg->models_dir))) {
        rs_log(RS_LOG_ERROR, "cannot start: out of memory");
        exit_code = 1;
    } else if (rs_registry_open(&s.app.reg, cfg->models_dir, &defaults, err, sizeof err)) {
        rs_log(RS_LOG_ERROR, "%s", err);
        exit_code = 1;
    } else if (!(s.app.metrics = rs_metrics_create())) {
        rs_log(RS_LOG_ERROR, "cannot start: out of memory");
        exit_code = 1;
    } else if ((rc = rs_scheduler_create(&s.app.sched, &s.loop, &sp, s.app.metrics))) {
        rs_log(RS_LOG_ERROR, "cannot start the scheduler: %s", uv_strerror(rc));
        exit_code = 1;
    } else if (rs_http_start(&s.http, &s.app, err, sizeof err)) {
        rs_log(RS_LOG_ERROR, "%s", err);
        rs_scheduler_close(s.app.sched);
        exit_code = 1;
    } else {
        char why[256], blas[64], kernel[64], spin[320];
        bool ready = rs_registry_ready(s.app.reg, why, sizeof why);
        blas_note(blas, sizeof blas);
        if (cfg->kernel == MLP_KERNEL_NATIVE)
            snprintf(kernel, sizeof kernel, "native (%s)", mlp_kernel_native_isa());
        else
            snprintf(kernel, sizeof kernel, "portable");
        rs_cpus cpus;
        rs_cpus_inspect(&cpus);
        char usable[96];
        rs_cpus_describe(&cpus, usable, sizeof usable);
        int http_threads = rs_config_http_threads(cfg);
        snprintf(spin, sizeof spin, ", %d HTTP thread%s for %s, %s", http_threads,
                 http_threads == 1 ? "" : "s", usable, rs_http_busy_poll_note(s.http));
        rs_log(RS_LOG_INFO,
               "reluserve %s listening on %s://%s:%d (models %s%s, %d compute thread%s, %s, "
               "kernel %s, max batch %d%s, %s%s%s)",
               MLP_VERSION, cfg->tls_cert ? "https" : "http", cfg->host, rs_http_port(s.http),
               cfg->models_dir, s.app.poll ? ", polled" : "", threads, threads == 1 ? "" : "s",
               blas, kernel, cfg->max_batch, spin, rs_http_hosts_note(s.http),
               ready ? "" : "; NOT READY: ", ready ? "" : why);
    }
    if (exit_code) {
        uv_close((uv_handle_t *)&s.drain, NULL);
        uv_close((uv_handle_t *)&s.sigterm, NULL);
        uv_close((uv_handle_t *)&s.sigint, NULL);
    }
    uv_run(&s.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s.loop)) rs_log(RS_LOG_WARN, "libuv loop closed with open handles");
    if (s.app.sched) rs_scheduler_free(s.app.sched);
    rs_metrics_free(s.app.metrics);
    rs_registry_free(s.app.reg);
    rs_poll_free(s.app.poll); /* after the control worker that ran it was joined */
    return exit_code;
}

int rs_cmd_serve(int argc, char **argv)
{
    rs_config cfg;
    char err[512];
    int rc = rs_config_parse(&cfg, argc - 1, argv + 1, NULL, err, sizeof err);
    if (rc == 1) {
        rs_config_usage(stdout);
        rs_config_free(&cfg);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "reluserve serve: %s\n", err);
        rs_config_free(&cfg);
        return 2;
    }
    rs_log_init(cfg.log_format, cfg.log_level);
    /* Lines are batched by the writer thread from here (log_writer.h); if it
     * cannot start they are written one by one, as before. */
    rs_log_writer_start();
    rc = serve(&cfg);
    rs_log_writer_stop();
    rs_config_free(&cfg);
    return rc;
}
