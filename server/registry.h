/*
 * registry — the model repository: DIR/<name>/<version>/model.{json,safetensors}
 * (+ config.json beside safetensors weights) and an optional
 * DIR/<name>/config.json saying how to serve the model (batching, queue,
 * monitor window). Version folders are positive integers; the numerically
 * highest loaded version serves when a request names none.
 *
 * Lifetime: a loaded version is immutable and reference counted. A request
 * acquires the version it runs on and releases it when done, so unloading or
 * reloading a model never frees one that is still computing.
 *
 * Threads: every function may be called from any thread (one mutex guards the
 * table); the `sq` field of a version belongs to the scheduler's loop thread.
 */
#ifndef RS_REGISTRY_H
#define RS_REGISTRY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlp.h"
#include "monitor.h"
#include "stats.h"

/* How a model is served; the server flags give the defaults and
 * models/<name>/config.json may override each field. */
typedef struct {
    int max_batch;          /* rows per merged batch */
    int64_t batch_delay_us; /* longest wait for a fuller batch */
    int max_queue;          /* requests waiting; past it 503 */
    int monitor_window_s;   /* dying-ReLU window */
    /* The server's --kernel, the same for every model (config.json does not
     * set it): a model is prepared for it when it loads, so that the memory
     * it needs is there by the time the model is ready. */
    mlp_kernel kernel;
} rs_model_config;

struct rs_task;
struct rs_model_version;

/* Per-version queue state of the scheduler (loop thread only). */
typedef struct {
    struct rs_task *head, *tail;
    int n_tasks, rows;
    bool listed;                   /* on the scheduler's round-robin ring */
    struct rs_model_version *next; /* ring link */
} rs_sched_queue;

typedef struct rs_model_version {
    atomic_int refs;
    char *name;    /* model name (its folder); owned */
    char *version; /* version folder name; owned */
    long long number;
    mlp_model *model; /* NULL when loading failed */
    char *error;      /* why loading failed, or NULL; owned */
    /* Why the files on disk did not replace this loaded copy (a reload that
     * failed), or NULL; owned. The one field that changes after loading: the
     * registry writes and reads it under its lock only. */
    char *reload_error;
    rs_model_config cfg;
    rs_monitor *monitor; /* NULL when model is NULL */
    rs_stats *stats;     /* statistics extension; NULL when model is NULL */
    atomic_int queued;   /* requests admitted and not yet taken into a batch */
    rs_sched_queue sq;
} rs_model_version;

typedef struct rs_registry rs_registry;

/*
 * Scans dir and loads every model version found; a version that fails is
 * logged with the loader's message and kept as not ready. Returns 0, or -1
 * with err set when dir itself cannot be read. *out is owned by the caller
 * (rs_registry_free).
 */
int rs_registry_open(rs_registry **out, const char *dir, const rs_model_config *defaults, char *err,
                     size_t errlen);
void rs_registry_free(rs_registry *r);

/*
 * Finds model `name`, version `version` (NULL = newest loaded) and takes a
 * reference. Returns 0 with *out set, 404 (unknown model or version) or 503
 * (known but not loaded) with a sentence in err.
 */
int rs_registry_acquire(rs_registry *r, const char *name, const char *version,
                        rs_model_version **out, char *err, size_t errlen);
void rs_model_version_acquire(rs_model_version *v);
/* Drops a reference; the last one frees the version. NULL is ignored. */
void rs_model_version_release(rs_model_version *v);

/* Every version of every model, each acquired, ordered by name then number.
 * The caller releases each and frees the array. Returns -1 when out of memory. */
int rs_registry_list(rs_registry *r, rs_model_version ***out, int *n);

/* True when every model in the repository loaded every version; otherwise
 * false with the first reason in why. */
bool rs_registry_ready(rs_registry *r, char *why, size_t whylen);

/* The repository index of the model repository extension:
 * [{"name", "version", "state": "READY"|"UNAVAILABLE", "reason"}]. New reference. */
json_t *rs_registry_index(rs_registry *r);

/*
 * Model control. load (re)reads DIR/<name>: versions that load replace the
 * served ones, versions that fail keep the previously loaded copy (with the
 * failure as its reload_error; a broken config.json keeps every loaded
 * version so, the model's previous config too). Returns 0,
 * 400 (bad name, or some version failed: err says which), 404 (no such
 * folder). unload removes the model: 0 or 404.
 */
int rs_registry_load(rs_registry *r, const char *name, char *err, size_t errlen);
int rs_registry_unload(rs_registry *r, const char *name, char *err, size_t errlen);

/*
 * One version folder, for the repository poll. load_version (re)reads
 * DIR/<name>/<version> with the model's serving config: a copy that loads
 * replaces the served one (requests running on the old copy finish on it); one
 * that fails leaves a loaded copy serving, with the error as its
 * reload_error (the repository index shows it), or is listed as not ready.
 * Returns 0, 400 (failed; err says why) or 404 (the model is not loaded).
 * unload_version removes it from the table: 0, or 404 when not there.
 */
int rs_registry_load_version(rs_registry *r, const char *name, const char *version, char *err,
                             size_t errlen);
int rs_registry_unload_version(rs_registry *r, const char *name, const char *version, char *err,
                               size_t errlen);

/* The folder names the repository accepts: a model name (letters, digits,
 * '.', '_', '-'; not starting with '.') and a version (decimal digits). */
bool rs_registry_name_valid(const char *name);
bool rs_registry_version_valid(const char *version, long long *number);

/* Parses a model-level config.json text into cfg (fields absent keep their
 * value). Returns 0, or -1 with err (valid UTF-8, starting "config.json: ")
 * naming the field; a key other than the four, or one given twice, is such an
 * error, never ignored. cfg is untouched on error. Exposed for tests. */
int rs_model_config_parse(const char *text, size_t len, rs_model_config *cfg, char *err,
                          size_t errlen);

#endif /* RS_REGISTRY_H */
