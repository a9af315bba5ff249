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

/* An endpoint: appends a JSON body (or Prometheus text for metrics) to out
 * and returns the status; on errors the body is {"error": "..."}. */
typedef int (*rs_handler)(rs_app *app, const rs_route *r, rs_buf *out);

/* The handler of a route kind, or NULL for the ones http.c answers itself
 * (assets, inference) and for unknown kinds. The statistics extension answers
 * the named version, else every loaded version of the named model, else of
 * every model; model config is Triton's JSON form (model_configuration). */
rs_handler rs_handler_for(rs_route_kind kind);

/* load/unload: 403 unless --enable-model-control. */
int rs_handle_repo_control(rs_app *app, const rs_route *r, rs_buf *out);

#endif /* RS_HANDLERS_H */
