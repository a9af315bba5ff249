/*
 * stats — per model version counters of the statistics extension (Triton's
 * GET /v2/models/{m}[/versions/{v}]/stats): successful and failed inference
 * requests, time queued, the three compute phases of the batches, and the
 * same per batch size. Each loaded version owns one (rs_model_version.stats),
 * so the counters cover the version since it was loaded.
 *
 * Threads: every function may be called from any thread (one mutex each).
 */
#ifndef RS_STATS_H
#define RS_STATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct rs_stats rs_stats;

/* The compute phases of one batch, in nanoseconds: gathering the requests'
 * rows into one input, the forward pass, and per-request diagnostics and
 * response encoding. */
typedef struct {
    uint64_t input_ns, infer_ns, output_ns;
} rs_stats_phases;

rs_stats *rs_stats_create(void); /* NULL when out of memory */
void rs_stats_free(rs_stats *s); /* NULL is ignored */

/* An inference request answered: ok (200) with its rows, or failed; ns from
 * its first byte to its answer. Stamps last_inference with the wall clock. */
void rs_stats_request(rs_stats *s, bool ok, int rows, uint64_t ns);

/* A request taken from the queue into a batch after waiting ns. */
void rs_stats_queue(rs_stats *s, uint64_t ns);

/* A batch of `requests` requests and `rows` rows computed in phases p. */
void rs_stats_batch(rs_stats *s, int rows, int requests, const rs_stats_phases *p);

/* The extension's $model_stat object for this version. New reference, NULL
 * when out of memory. */
json_t *rs_stats_json(rs_stats *s, const char *name, const char *version);

#endif /* RS_STATS_H */
