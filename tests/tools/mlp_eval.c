/*
 * mlp_eval — runs one forward/backward/diagnose pass of libmlp and prints
 * everything as JSON, so tests/numerics can compare it with PyTorch autograd.
 *
 *     mlp_eval MODEL_PATH REQUEST.json
 *
 * REQUEST: {"x": [[...], ...],          rows of raw (unstandardised) input
 *           "labels"?: [int, ...],      class indices -> the loss mlp_target_select
 *                                       picks (cross-entropy, binary for one output)
 *           "targets"?: [[...], ...],   -> the loss mlp_target_kind_for_targets picks
 *           "row0"?: int, "rows"?: int, backward row range (default: all rows)
 *           "backward"?: bool,          false: diagnose forward statistics only
 *           "kernel"?: "portable" (the default)|"native"|"auto"|"blas",
 *           "param_grads"?: bool,        false: norms-only backward (as the server runs)
 *           "set_params"?: [[i, v], ...]} params[i] = v after loading, v a number or
 *                                       "nan"/"inf"/"-inf": a model gone non-finite in
 *                                       memory (training diverged), which no loader
 *                                       accepts from a file
 *           "ranges"?: [{"row0", "rows", "labels"?, "targets"?, "input_grad"?}, ...]
 *                                       one mlp_backward_ranges over these ranges (each
 *                                       with its own loss; input_grad default true)
 *                                       instead of one mlp_backward
 * labels/targets cover the backward rows only, as mlp_backward expects.
 *
 * Output: {"outputs", "loss", "status", "param_grads": [{"weight", "bias"}],
 * "input_gradient", "diagnostics": {...every mlp_diagnostics field...}}; with
 * "ranges": {"outputs", "status", "ranges": [{"loss", "diagnostics"}, ...]},
 * each range's diagnostics from mlp_diagnose_range.
 * Floats are printed from float exactly (jansson writes doubles with 17
 * digits); NaN and infinities, which JSON lacks, as the strings "nan",
 * "inf", "-inf". Uses only the public lib/mlp.h API.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

/* A JSON number for f, or a string for the values JSON cannot hold. */
static json_t *float_json(float f)
{
    if (isnan(f)) return json_string("nan");
    if (isinf(f)) return json_string(f > 0 ? "inf" : "-inf");
    return json_real((double)f);
}

/* rows x cols floats as a nested array (caller owns the result). */
static json_t *matrix_json(const float *v, int rows, int cols)
{
    json_t *outer = json_array();
    for (int i = 0; i < rows; i++) {
        json_t *row = json_array();
        for (int j = 0; j < cols; j++)
            json_array_append_new(row, float_json(v[(size_t)i * (size_t)cols + (size_t)j]));
        json_array_append_new(outer, row);
    }
    return outer;
}

static json_t *vector_json(const float *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, float_json(v[i]));
    return a;
}

/* Reads a rows x cols nested array of numbers into a malloc'd buffer. */
static float *matrix_read(const json_t *a, int cols, int *rows_out)
{
    if (!json_is_array(a)) return NULL;
    int rows = (int)json_array_size(a);
    float *v = malloc(sizeof(float) * (size_t)(rows ? rows : 1) * (size_t)cols);
    if (!v) return NULL;
    for (int i = 0; i < rows; i++) {
        const json_t *row = json_array_get(a, (size_t)i);
        if (!json_is_array(row) || (int)json_array_size(row) != cols) {
            free(v);
            return NULL;
        }
        for (int j = 0; j < cols; j++) {
            const json_t *e = json_array_get(row, (size_t)j);
            if (!json_is_number(e)) {
                free(v);
                return NULL;
            }
            v[(size_t)i * (size_t)cols + (size_t)j] = (float)json_number_value(e);
        }
    }
    *rows_out = rows;
    return v;
}

static json_t *diagnostics_json(const mlp_diagnostics *d, int n_inputs)
{
    json_t *o = json_object();
    json_object_set_new(o, "n_layers", json_integer(d->n_layers));
    json_object_set_new(o, "rows", json_integer(d->rows));
    json_object_set_new(o, "dead_fraction", float_json(d->dead_fraction));
    json_object_set_new(o, "collapsed", json_boolean(d->collapsed));
    json_object_set_new(o, "nonfinite", json_boolean(d->nonfinite));
    json_object_set_new(o, "has_gradients", json_boolean(d->has_gradients));
    json_object_set_new(o, "gradient_ratio", float_json(d->gradient_ratio));
    json_object_set_new(o, "vanishing", json_boolean(d->vanishing));
    json_object_set_new(o, "exploding", json_boolean(d->exploding));
    json_object_set_new(o, "has_loss", json_boolean(d->has_loss));
    json_object_set_new(o, "loss", float_json(d->loss));
    static const char *const kinds[] = {"max_logit", "labels", "distribution", "mse", "binary"};
    json_object_set_new(o, "target", json_string(kinds[d->target]));
    if (d->has_gradients && d->input_gradient)
        json_object_set_new(o, "input_gradient", matrix_json(d->input_gradient, d->rows, n_inputs));
    json_t *layers = json_array();
    for (int l = 0; l < d->n_layers; l++) {
        const mlp_layer_diag *ld = &d->layers[l];
        json_t *lo = json_object();
        json_object_set_new(lo, "index", json_integer(ld->index));
        json_object_set_new(lo, "units", json_integer(ld->units));
        json_object_set_new(lo, "activation", json_string(mlp_activation_name(ld->activation)));
        json_object_set_new(lo, "relu_stats", json_boolean(ld->relu_stats));
        json_object_set_new(lo, "mean_activation", float_json(ld->mean_activation));
        json_object_set_new(lo, "nonfinite_units", json_integer(ld->n_nonfinite));
        if (ld->relu_stats) {
            json_object_set_new(lo, "dead_fraction", float_json(ld->dead_fraction));
            json_object_set_new(lo, "n_dead", json_integer(ld->n_dead));
            json_t *du = json_array();
            for (int k = 0; k < ld->n_dead; k++)
                json_array_append_new(du, json_integer(ld->dead_units[k]));
            json_object_set_new(lo, "dead_units", du);
            json_object_set_new(lo, "sparsity", float_json(ld->sparsity));
        }
        json_object_set_new(lo, "saturation_stats", json_boolean(ld->saturation_stats));
        if (ld->saturation_stats)
            json_object_set_new(lo, "saturated_fraction", float_json(ld->saturated_fraction));
        if (d->has_gradients) {
            json_object_set_new(lo, "weight_grad_norm", float_json(ld->weight_grad_norm));
            json_object_set_new(lo, "bias_grad_norm", float_json(ld->bias_grad_norm));
            json_object_set_new(lo, "activation_grad_norm", float_json(ld->activation_grad_norm));
        }
        json_array_append_new(layers, lo);
    }
    json_object_set_new(o, "layers", layers);
    return o;
}

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "mlp_eval: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

/* A range's target from its "labels" or "targets" (as for the whole
 * request), into buffers the caller frees; false when they are malformed. */
static bool target_read(const mlp_model *m, const json_t *o, mlp_target *t, int **labels,
                        float **targets)
{
    *t = (mlp_target){.kind = MLP_TARGET_MAX_LOGIT};
    const json_t *jl = json_object_get(o, "labels"), *jt = json_object_get(o, "targets");
    if (json_is_array(jl)) {
        size_t nl = json_array_size(jl);
        *labels = malloc(sizeof(int) * (nl ? nl : 1));
        if (!*labels) return false;
        for (size_t i = 0; i < nl; i++)
            (*labels)[i] = (int)json_integer_value(json_array_get(jl, i));
        t->kind = MLP_TARGET_LABELS;
        mlp_target_select(m, true, &t->kind, NULL); /* BINARY for one output */
        t->labels = *labels;
    } else if (json_is_array(jt)) {
        int tr = 0;
        *targets = matrix_read(jt, mlp_model_n_outputs(m), &tr);
        if (!*targets) return false;
        t->kind = mlp_target_kind_for_targets(m);
        t->targets = *targets;
    }
    return true;
}

/* "ranges": one mlp_backward_ranges after the forward in ws; adds "status"
 * and "ranges" to out. */
static int run_ranges(const mlp_model *m, mlp_workspace *ws, const json_t *jr, json_t *out)
{
    size_t n = json_array_size(jr);
    mlp_backward_range *r = calloc(n ? n : 1, sizeof *r);
    int **labels = calloc(n ? n : 1, sizeof *labels);
    float **targets = calloc(n ? n : 1, sizeof *targets);
    float *losses = calloc(n ? n : 1, sizeof *losses);
    int rc = 0;
    if (!r || !labels || !targets || !losses) {
        rc = fail("out of memory", NULL);
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        const json_t *o = json_array_get(jr, k);
        r[k].row0 = (int)json_integer_value(json_object_get(o, "row0"));
        r[k].n = (int)json_integer_value(json_object_get(o, "rows"));
        r[k].input_grad = !json_is_false(json_object_get(o, "input_grad"));
        if (!target_read(m, o, &r[k].target, &labels[k], &targets[k])) {
            rc = fail("a range's \"targets\" must be a rows x n_outputs array", NULL);
            goto done;
        }
    }
    mlp_status s = mlp_backward_ranges(m, ws, r, (int)n, losses, NULL);
    json_object_set_new(out, "status", json_string(mlp_status_str(s)));
    if (s != MLP_OK) goto done;
    json_t *list = json_array();
    for (size_t k = 0; k < n; k++) {
        mlp_diagnostics d;
        s = mlp_diagnose_range(m, ws, (int)k, NULL, &d, NULL);
        if (s != MLP_OK) {
            json_decref(list);
            rc = fail("mlp_diagnose_range failed", mlp_status_str(s));
            goto done;
        }
        json_t *o = json_object();
        json_object_set_new(o, "loss", float_json(losses[k]));
        json_object_set_new(o, "diagnostics", diagnostics_json(&d, mlp_model_n_inputs(m)));
        json_array_append_new(list, o);
    }
    json_object_set_new(out, "ranges", list);
done:
    for (size_t k = 0; k < n && labels && targets; k++) {
        free(labels[k]);
        free(targets[k]);
    }
    free(r);
    free(labels);
    free(targets);
    free(losses);
    return rc;
}

/* Everything after the model is loaded; owns nothing it does not free. */
static int run(const mlp_model *m, const json_t *req)
{
    int rows = 0;
    float *x = matrix_read(json_object_get(req, "x"), mlp_model_n_inputs(m), &rows);
    if (!x || rows == 0) {
        free(x);
        return fail("\"x\" must be a non-empty rows x n_inputs array", NULL);
    }
    int row0 = 0, brows = rows;
    if (json_is_integer(json_object_get(req, "row0")))
        row0 = (int)json_integer_value(json_object_get(req, "row0"));
    if (json_is_integer(json_object_get(req, "rows")))
        brows = (int)json_integer_value(json_object_get(req, "rows"));
    else
        brows = rows - row0;
    bool do_backward = !json_is_false(json_object_get(req, "backward"));

    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    int *labels = NULL;
    float *targets = NULL;
    const json_t *jl = json_object_get(req, "labels");
    const json_t *jt = json_object_get(req, "targets");
    if (json_is_array(jl)) {
        size_t nl = json_array_size(jl);
        labels = malloc(sizeof(int) * (nl ? nl : 1));
        for (size_t i = 0; labels && i < nl; i++)
            labels[i] = (int)json_integer_value(json_array_get(jl, i));
        t.kind = MLP_TARGET_LABELS;
        mlp_target_select(m, true, &t.kind, NULL); /* BINARY for one output */
        t.labels = labels;
    } else if (json_is_array(jt)) {
        int tr = 0;
        targets = matrix_read(jt, mlp_model_n_outputs(m), &tr);
        if (!targets) {
            free(x);
            return fail("\"targets\" must be a rows x n_outputs array", NULL);
        }
        t.kind = mlp_target_kind_for_targets(m);
        t.targets = targets;
    }

    mlp_workspace *ws = NULL;
    mlp_workspace_create(&ws, NULL); /* NULL when out of memory: checked below */
    const json_t *jk = json_object_get(req, "kernel");
    if (ws && jk) {
        const char *k = json_is_string(jk) ? json_string_value(jk) : "";
        mlp_kernel kernel = strcmp(k, "portable") == 0 ? MLP_KERNEL_PORTABLE
                            : strcmp(k, "native") == 0 ? MLP_KERNEL_NATIVE
                            : strcmp(k, "blas") == 0   ? MLP_KERNEL_BLAS
                            : strcmp(k, "auto") == 0   ? MLP_KERNEL_AUTO
                                                       : (mlp_kernel)-1;
        if (mlp_workspace_set_kernel(ws, kernel, NULL) != MLP_OK) {
            mlp_workspace_free(ws);
            free(x);
            free(labels);
            free(targets);
            return fail("\"kernel\" must be \"portable\", \"native\", \"auto\" or \"blas\"", k);
        }
    }
    if (ws && json_is_false(json_object_get(req, "param_grads")))
        mlp_workspace_set_param_grads(ws, false, NULL);
    float *y = malloc(sizeof(float) * (size_t)rows * (size_t)mlp_model_n_outputs(m));
    json_t *out = json_object();
    int rc = 0;
    if (!ws || !y || !out) {
        rc = fail("out of memory", NULL);
        goto done;
    }
    mlp_status s = mlp_forward(m, ws, x, rows, y, NULL);
    if (s != MLP_OK) {
        rc = fail("mlp_forward failed", mlp_status_str(s));
        goto done;
    }
    json_object_set_new(out, "outputs", matrix_json(y, rows, mlp_model_n_outputs(m)));

    const json_t *jr = json_object_get(req, "ranges");
    if (json_is_array(jr)) {
        rc = run_ranges(m, ws, jr, out);
        if (rc == 0) goto print;
        goto done;
    }

    float loss = NAN;
    if (do_backward) {
        s = mlp_backward(m, ws, row0, brows, &t, &loss, NULL);
        json_object_set_new(out, "status", json_string(mlp_status_str(s)));
        if (s != MLP_OK) goto print; /* e.g. labels out of range: the status is the answer */
        json_object_set_new(out, "loss", float_json(loss));
        const float *g = mlp_workspace_param_grad(ws);
        json_t *pg = json_array();
        for (int l = 0; g != NULL && l < mlp_model_n_layers(m); l++) {
            const mlp_layer *ly = mlp_model_layer(m, l);
            json_t *lo = json_object();
            json_object_set_new(lo, "weight", matrix_json(g + ly->weight_offset, ly->out, ly->in));
            json_object_set_new(lo, "bias", vector_json(g + ly->bias_offset, ly->out));
            json_array_append_new(pg, lo);
        }
        json_object_set_new(out, "param_grads", pg);
        json_object_set_new(
            out, "input_gradient",
            matrix_json(mlp_workspace_input_grad(ws), brows, mlp_model_n_inputs(m)));
    }

    mlp_diagnostics d;
    s = mlp_diagnose(m, ws, NULL, &d, NULL);
    if (s != MLP_OK) {
        rc = fail("mlp_diagnose failed", mlp_status_str(s));
        goto done;
    }
    json_object_set_new(out, "diagnostics", diagnostics_json(&d, mlp_model_n_inputs(m)));

print:;
    char *text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (!text) {
        rc = fail("could not encode the result", NULL);
        goto done;
    }
    puts(text);
    free(text);
done:
    json_decref(out);
    free(y);
    mlp_workspace_free(ws);
    free(x);
    free(labels);
    free(targets);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mlp_eval MODEL_PATH REQUEST.json\n");
        return 2;
    }
    mlp_model *m = NULL;
    mlp_error err;
    mlp_status s = mlp_model_load(argv[1], &m, &err);
    if (s != MLP_OK) return fail("cannot load the model", err.msg);
    json_error_t jerr;
    json_t *req = json_load_file(argv[2], 0, &jerr);
    if (!req) {
        mlp_model_free(m);
        return fail("cannot read the request", jerr.text);
    }
    /* Edited in a copy and written back at once: mlp_model_set_params is the
     * one way to change a model's parameters from outside libmlp. */
    const json_t *sp = json_object_get(req, "set_params");
    size_t np = mlp_model_n_params(m);
    float *params = malloc(np * sizeof *params);
    if (!params) {
        json_decref(req);
        mlp_model_free(m);
        return fail("out of memory", NULL);
    }
    memcpy(params, mlp_model_params(m), np * sizeof *params);
    for (size_t k = 0; json_is_array(sp) && k < json_array_size(sp); k++) {
        const json_t *pair = json_array_get(sp, k);
        json_int_t i = json_integer_value(json_array_get(pair, 0));
        const json_t *v = json_array_get(pair, 1);
        if (i < 0 || (size_t)i >= np || !(json_is_number(v) || json_is_string(v))) {
            free(params);
            json_decref(req);
            mlp_model_free(m);
            return fail("\"set_params\" entries are [index < n_params, value]", NULL);
        }
        params[i] =
            json_is_number(v) ? (float)json_number_value(v) : strtof(json_string_value(v), NULL);
    }
    mlp_model_set_params(m, params, np, NULL); /* np values: cannot fail */
    free(params);
    int rc = run(m, req);
    json_decref(req);
    mlp_model_free(m);
    return rc;
}
