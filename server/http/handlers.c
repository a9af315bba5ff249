/*
 * handlers — the answers to each route (see handlers.h). Bodies are built with jansson (these
 * endpoints are not on the hot path) and serialised compactly.
 */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

#include "mlp.h"

#define SERVER_NAME "reluserve"

/* Serialises j into out and drops it. */
static int put_json(rs_buf *out, json_t *j, int status)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        rs_encode_error(out, "out of memory while writing the response");
        return 500;
    }
    rs_buf_puts(out, s);
    free(s);
    return status;
}

static int put_error(rs_buf *out, int status, const char *msg)
{
    rs_encode_error(out, msg);
    return status;
}

static int handle_live(rs_app *app, const rs_route *r, rs_buf *out)
{
    (void)r;
    (void)app;
    rs_buf_puts(out, "{\"live\":true}");
    return 200;
}

static int handle_ready(rs_app *app, const rs_route *r, rs_buf *out)
{
    (void)r;
    char why[1024];
    if (!rs_registry_ready(app->reg, why, sizeof why)) return put_error(out, 503, why);
    rs_buf_puts(out, "{\"ready\":true}");
    return 200;
}

static int handle_server_meta(rs_app *app, const rs_route *r, rs_buf *out)
{
    (void)r;
    (void)app;
    return put_json(out,
                    json_pack("{s:s, s:s, s:[s,s,s,s,s,s]}", "name", SERVER_NAME, "version",
                              MLP_VERSION, "extensions", "binary_tensor_data", "classification",
                              "model_repository", "diagnostics", "statistics",
                              "model_configuration"),
                    200);
}

/* Every loaded version string of model `name`, as a JSON array. */
static json_t *version_list(rs_app *app, const char *name)
{
    json_t *arr = json_array();
    rs_model_version **vs;
    int n;
    if (rs_registry_list(app->reg, &vs, &n)) return arr;
    for (int i = 0; i < n; i++) {
        if (!strcmp(vs[i]->name, name) && vs[i]->model)
            json_array_append_new(arr, json_string(vs[i]->version));
        rs_model_version_release(vs[i]);
    }
    free(vs);
    return arr;
}

static const char *task_name(mlp_task t)
{
    return t == MLP_TASK_CLASSIFICATION ? "classification" : "regression";
}

/* Acquires the route's version or fills the error body; returns 0 or a status. */
static int route_acquire(rs_app *app, const rs_route *r, rs_model_version **mv, rs_buf *out)
{
    char err[1024];
    int st = rs_registry_acquire(app->reg, r->model, r->version[0] ? r->version : NULL, mv, err,
                                 sizeof err);
    if (st) put_error(out, st, err);
    return st;
}

/* The handlers of one model version's routes run with the version acquired
 * (handle_model_route releases it). */
static int model_meta(rs_app *app, rs_model_version *mv, rs_buf *out)
{
    const mlp_model *m = mv->model;
    json_t *layers = json_array();
    for (int l = 0; l < mlp_model_n_layers(m); l++) {
        json_t *o = json_pack("{s:i, s:s}", "units", mlp_model_layer(m, l)->out, "activation",
                              mlp_activation_name(mlp_model_layer(m, l)->activation));
        if (mlp_model_layer(m, l)->activation == MLP_ACT_LEAKY_RELU)
            json_object_set_new(o, "alpha", json_real(mlp_model_layer(m, l)->alpha));
        json_array_append_new(layers, o);
    }
    json_t *j = json_pack(
        "{s:s, s:o, s:s, s:[{s:s, s:s, s:[i,i]}], s:[{s:s, s:s, s:[i,i]}], s:{s:s, s:s}, s:s, "
        "s:s, s:i, s:o}",
        "name", mv->name, "versions", version_list(app, mv->name), "platform", "reluserve_mlp",
        "inputs", "name", mlp_model_input_name(m), "datatype", "FP32", "shape", -1,
        mlp_model_n_inputs(m), "outputs", "name", mlp_model_output_name(m), "datatype", "FP32",
        "shape", -1, mlp_model_n_outputs(m), "parameters", "task", task_name(mlp_model_task(m)),
        "model_version", mv->version, "model_version", mv->version, "task",
        task_name(mlp_model_task(m)), "max_batch", mv->cfg.max_batch, "layers", layers);
    if (j && mlp_model_labels(m)) {
        json_t *labels = json_array();
        for (int i = 0; i < mlp_model_n_outputs(m); i++)
            json_array_append_new(labels, json_string(mlp_model_labels(m)[i]));
        json_object_set_new(j, "labels", labels);
    }
    if (j && mlp_model_input_mean(m)) json_object_set_new(j, "standardized_input", json_true());
    return put_json(out, j, 200);
}

static int model_ready(rs_app *app, rs_model_version *mv, rs_buf *out)
{
    (void)app;
    return put_json(
        out, json_pack("{s:s, s:s, s:b}", "name", mv->name, "version", mv->version, "ready", 1),
        200);
}

static int model_diag(rs_app *app, rs_model_version *mv, rs_buf *out)
{
    (void)app;
    const mlp_model *m = mv->model;
    mlp_activity a;
    if (mlp_activity_init(m, &a, NULL) != MLP_OK)
        return put_error(out, 500, "out of memory while reading the activity monitor");
    rs_monitor_snapshot(mv->monitor, &a);
    json_t *layers = json_array();
    int never = 0, units = 0, nonfinite = 0;
    for (int l = 0; l < a.n_layers; l++) {
        json_t *idx = json_array();
        int dead = 0, bad = 0;
        for (int j = 0; j < a.units[l]; j++) {
            if (mlp_activity_never_active(&a, l, j)) {
                json_array_append_new(idx, json_integer(j));
                dead++;
            }
            bad += a.nonfinite[l][j] != 0; /* NaN/inf: neither fired nor silent */
        }
        never += dead;
        nonfinite += bad;
        units += a.units[l];
        json_array_append_new(
            layers,
            json_pack("{s:i, s:s, s:i, s:b, s:f, s:i, s:o, s:i}", "index", l, "activation",
                      mlp_activation_name(mlp_model_layer(m, l)->activation), "units", a.units[l],
                      "relu_family",
                      mlp_activation_is_relu_family(mlp_model_layer(m, l)->activation),
                      "never_active_fraction", (double)mlp_activity_never_active_fraction(&a, l),
                      "never_active", dead, "never_active_units", idx, "nonfinite_units", bad));
    }
    json_t *j = json_pack("{s:s, s:s, s:i, s:I, s:f, s:b, s:o}", "model_name", mv->name,
                          "model_version", mv->version, "window_seconds",
                          rs_monitor_window_s(mv->monitor), "rows", (json_int_t)a.rows,
                          "never_active_fraction", units && a.rows ? (double)never / units : 0.0,
                          "nonfinite", nonfinite > 0, "layers", layers);
    mlp_activity_free(&a);
    return put_json(out, j, 200);
}

static int handle_model_stats(rs_app *app, const rs_route *r, rs_buf *out)
{
    /* One named version: its errors (404 unknown, 503 not loaded) as elsewhere. */
    if (r->version[0]) {
        rs_model_version *mv;
        int st = route_acquire(app, r, &mv, out);
        if (st) return st;
        json_t *one = mv->stats ? rs_stats_json(mv->stats, mv->name, mv->version) : NULL;
        rs_model_version_release(mv);
        return put_json(out, json_pack("{s:[o]}", "model_stats", one), 200);
    }
    /* Every loaded version of the model, or of every model (Triton's answer
     * when the URL names no version, or no model). */
    rs_model_version **vs;
    int n;
    if (rs_registry_list(app->reg, &vs, &n))
        return put_error(out, 500, "out of memory while listing models");
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        rs_model_version *v = vs[i];
        if (v->stats && (!r->model[0] || !strcmp(v->name, r->model)))
            json_array_append_new(arr, rs_stats_json(v->stats, v->name, v->version));
        rs_model_version_release(v);
    }
    free(vs);
    if (r->model[0] && json_array_size(arr) == 0) {
        json_decref(arr);
        rs_model_version *mv;
        int st = route_acquire(app, r, &mv, out); /* says why: unknown or not loaded */
        if (!st) { /* loaded meanwhile: its statistics are all zero */
            json_t *one = mv->stats ? rs_stats_json(mv->stats, mv->name, mv->version) : NULL;
            rs_model_version_release(mv);
            return put_json(out, json_pack("{s:[o]}", "model_stats", one), 200);
        }
        return st;
    }
    return put_json(out, json_pack("{s:o}", "model_stats", arr), 200);
}

static int model_config(rs_app *app, rs_model_version *mv, rs_buf *out)
{
    (void)app;
    const mlp_model *m = mv->model;
    /* Triton's model configuration, in its JSON form: dims leave out the
     * batch dimension (max_batch_size > 0 says there is one). Every version
     * in the repository folder is served, hence the "all" version policy. */
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:{s:{}}, s:i, s:[{s:s, s:s, s:s, s:[i]}], s:[{s:s, s:s, s:[i]}], "
        "s:{s:[], s:I, s:{s:i}}}",
        "name", mv->name, "platform", "reluserve_mlp", "backend", "reluserve", "version_policy",
        "all", "max_batch_size", mv->cfg.max_batch, "input", "name", mlp_model_input_name(m),
        "data_type", "TYPE_FP32", "format", "FORMAT_NONE", "dims", mlp_model_n_inputs(m), "output",
        "name", mlp_model_output_name(m), "data_type", "TYPE_FP32", "dims", mlp_model_n_outputs(m),
        "dynamic_batching", "preferred_batch_size", "max_queue_delay_microseconds",
        (json_int_t)mv->cfg.batch_delay_us, "default_queue_policy", "max_queue_size",
        mv->cfg.max_queue);
    return put_json(out, j, 200);
}

/* Metadata, readiness, activity and configuration of one version: acquired
 * (404/503 when it is not there) and released in this one place. */
static int handle_model_route(rs_app *app, const rs_route *r, rs_buf *out)
{
    static int (*const table[])(rs_app *, rs_model_version *, rs_buf *) = {
        [RS_ROUTE_MODEL_META] = model_meta,
        [RS_ROUTE_MODEL_READY] = model_ready,
        [RS_ROUTE_MODEL_DIAG] = model_diag,
        [RS_ROUTE_MODEL_CONFIG] = model_config,
    };
    rs_model_version *mv;
    int st = route_acquire(app, r, &mv, out);
    if (st) return st;
    st = table[r->kind](app, mv, out);
    rs_model_version_release(mv);
    return st;
}

static int handle_status_v1(rs_app *app, const rs_route *r, rs_buf *out)
{
    rs_model_version **vs;
    int n;
    if (rs_registry_list(app->reg, &vs, &n))
        return put_error(out, 500, "out of memory while listing models");
    json_t *arr = json_array();
    bool found_model = false;
    for (int i = 0; i < n; i++) {
        rs_model_version *v = vs[i];
        if (!strcmp(v->name, r->model)) found_model = true;
        if (!strcmp(v->name, r->model) && (!r->version[0] || !strcmp(v->version, r->version)))
            json_array_append_new(arr, json_pack("{s:s, s:s, s:{s:s, s:s}}", "version", v->version,
                                                 "state", v->model ? "AVAILABLE" : "END", "status",
                                                 "error_code", v->model ? "OK" : "UNAVAILABLE",
                                                 "error_message", v->model ? "" : v->error));
        rs_model_version_release(v);
    }
    free(vs);
    char err[600];
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        if (found_model)
            snprintf(err, sizeof err, "model '%s' has no version '%s'", r->model, r->version);
        else
            snprintf(err, sizeof err, "model '%s' is not in the repository", r->model);
        return put_error(out, 404, err);
    }
    return put_json(out, json_pack("{s:o}", "model_version_status", arr), 200);
}

static int handle_repo_index(rs_app *app, const rs_route *r, rs_buf *out)
{
    (void)r;
    return put_json(out, rs_registry_index(app->reg), 200);
}

int rs_handle_repo_control(rs_app *app, const rs_route *r, rs_buf *out)
{
    if (app->poll)
        return put_error(out, 403,
                         "model control is off while the repository is polled "
                         "(--repository-poll-s): change the model folders on disk instead");
    if (!app->cfg->enable_model_control)
        return put_error(out, 403,
                         "model control is disabled: start reluserve with --enable-model-control "
                         "(RELUSERVE_ENABLE_MODEL_CONTROL=true) to load and unload models");
    char err[1024];
    int st = r->kind == RS_ROUTE_REPO_LOAD
                 ? rs_registry_load(app->reg, r->model, err, sizeof err)
                 : rs_registry_unload(app->reg, r->model, err, sizeof err);
    if (st) return put_error(out, st, err);
    rs_buf_puts(out, "{}");
    return 200;
}

static int handle_metrics(rs_app *app, const rs_route *r, rs_buf *out)
{
    (void)r;
    rs_metrics_render(app->metrics, app->reg, rs_scheduler_in_flight(app->sched), out);
    return 200;
}

rs_handler rs_handler_for(rs_route_kind kind)
{
    static const rs_handler table[] = {
        [RS_ROUTE_LIVE] = handle_live,
        [RS_ROUTE_READY] = handle_ready,
        [RS_ROUTE_SERVER_META] = handle_server_meta,
        [RS_ROUTE_MODEL_META] = handle_model_route,
        [RS_ROUTE_MODEL_READY] = handle_model_route,
        [RS_ROUTE_MODEL_DIAG] = handle_model_route,
        [RS_ROUTE_MODEL_STATS] = handle_model_stats,
        [RS_ROUTE_MODEL_CONFIG] = handle_model_route,
        [RS_ROUTE_STATUS_V1] = handle_status_v1,
        [RS_ROUTE_REPO_INDEX] = handle_repo_index,
        [RS_ROUTE_REPO_LOAD] = rs_handle_repo_control,
        [RS_ROUTE_REPO_UNLOAD] = rs_handle_repo_control,
        [RS_ROUTE_METRICS] = handle_metrics,
    };
    return (unsigned)kind < sizeof table / sizeof table[0] ? table[kind] : NULL;
}
