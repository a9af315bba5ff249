/*
 * metrics — Prometheus counters and histograms of the server, rendered in
 * the text exposition format for GET /metrics:
 *
 *   reluserve_requests_total{model,status}          requests answered
 *   reluserve_request_duration_seconds{model}       first byte to response queued
 *   reluserve_queue_duration_seconds{model}         admitted to taken into a batch
 *   reluserve_compute_duration_seconds{model}       one batch (pool thread, or lean on HTTP)
 *   reluserve_batch_rows{model}                     rows per batch
 *   reluserve_lean_requests_total{model}            computed on an HTTP thread (lean path)
 *   reluserve_queue_depth{model,version}            requests waiting now
 *   reluserve_model_ready{model,version}            1 when loaded
 *   reluserve_never_active_fraction{model,version,layer}  dying-ReLU monitor
 *   reluserve_monitor_rows{model,version}           rows in the monitor window
 *   reluserve_batches_in_flight                     jobs on the pool now
 *
 * Threads: every function may be called from any thread (one mutex).
 */
#ifndef RS_METRICS_H
#define RS_METRICS_H

#include "codec/codec.h"
#include "registry.h"

typedef struct rs_metrics rs_metrics;

rs_metrics *rs_metrics_create(void); /* NULL when out of memory */
void rs_metrics_free(rs_metrics *m);

/* model may be NULL for requests that name none. */
void rs_metrics_request(rs_metrics *m, const char *model, int status, double seconds);
void rs_metrics_queue_time(rs_metrics *m, const char *model, double seconds);
void rs_metrics_batch(rs_metrics *m, const char *model, int rows, double compute_seconds);
/* A request the lean path computed: its queue time (0), its batch of one as
 * rs_metrics_batch counts it, and the lean counter. */
void rs_metrics_lean(rs_metrics *m, const char *model, int rows, double compute_seconds);

/* Appends the whole exposition to out; gauges are read from r. */
void rs_metrics_render(rs_metrics *m, rs_registry *r, int batches_in_flight, rs_buf *out);

#endif /* RS_METRICS_H */
