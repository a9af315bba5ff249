/*
 * handlers — the endpoints answered without the scheduler: health, server
 * and model metadata, readiness, the live-window diagnostics, the statistics
 * and model configuration extensions, the repository extension and /metrics. Each fills a body and
 * returns an HTTP status; http.c owns the transport (headers, CORS, logging).
 */
#ifndef RS_HANDLERS_H
#define RS_HANDLERS_H

#include "codec/codec.h"
#include "config.h"
#include "metrics.h"
#include "registry.h"
#include "router.h"
#include "scheduler.h"

/* Everything a request may need; owned by serve.c, outlives the HTTP daemon. */
typedef struct {
    const rs_config *cfg;
    rs_registry *reg;
    rs_scheduler *sched;
    rs_metrics *metrics;
    struct rs_poll *poll; /* the repository poll; NULL unless --repository-poll-s */
} rs_app;

/* Each appends a JSON body (or Prometheus text for metrics) to out and
 * returns the status; on errors the body is {"error": "..."}. */
int rs_handle_live(rs_app *app, rs_buf *out);
int rs_handle_ready(rs_app *app, rs_buf *out);
int rs_handle_server_meta(rs_app *app, rs_buf *out);
int rs_handle_model_meta(rs_app *app, const rs_route *r, rs_buf *out);
int rs_handle_model_ready(rs_app *app, const rs_route *r, rs_buf *out);
int rs_handle_model_diag(rs_app *app, const rs_route *r, rs_buf *out);
/* Statistics extension: the named version, else every loaded version of the
 * named model, else of every model. */
int rs_handle_model_stats(rs_app *app, const rs_route *r, rs_buf *out);
/* The version's configuration in Triton's JSON form (model_configuration). */
int rs_handle_model_config(rs_app *app, const rs_route *r, rs_buf *out);
int rs_handle_status_v1(rs_app *app, const rs_route *r, rs_buf *out);
int rs_handle_repo_index(rs_app *app, rs_buf *out);
/* load/unload: 403 unless --enable-model-control. */
int rs_handle_repo_control(rs_app *app, const rs_route *r, rs_buf *out);
int rs_handle_metrics(rs_app *app, rs_buf *out);

#endif /* RS_HANDLERS_H */
