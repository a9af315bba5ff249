/*
 * decode_v1 — TensorFlow Serving style v1 predict bodies into
 * rs_request. Accepted (documented in the README's v1 section too):
 *
 *   {"instances": [[x0, x1, ...], ...]}              rows as lists
 *   {"instances": [{"<input>": [x0, ...]}, ...]}     rows as objects
 *   {"instances": [x, ...]}                          models with one input value
 *   {"inputs": [[...], ...]}  or  {"inputs": {"<input>": [[...], ...],
 *                                             "labels"?: [...], "targets"?: [[...]]}}
 *
 * plus optional top-level "labels": [..] (class indices, one per row),
 * "targets": [[..]] (rows x n_outputs), "parameters": {"diagnostics": ...,
 * "timeout_us": ...} or "diagnostics": "..." at the top, and
 * "signature_name" (ignored, like any unknown key). v1 diagnostics default
 * to "none": the v1 API is the plain, fastest path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A tensor given as nested arrays: [rows, width], or, when width is 1, a
 * flat list of rows. Builds the validated tensor t of shape [rows, width]. */
static int v1_matrix(rs_json *j, int width, const char *path, rs_tensor *t)
{
    rs_tensor_data d;
    if (rs_tensor_data_read(j, &d, 0, path) < 0) return -1;
    if (d.saw_bool) {
        size_t at = d.bool_at; /* read before the free clears it */
        rs_tensor_data_free(&d);
        return rs_json_fail(j, "%s[%zu]: expected a number, got a boolean", path, at);
    }
    int64_t shape[2] = {0, width};
    if (d.n == 0 && d.dims[0] == 0) {
        shape[0] = 0; /* "[]": refused later as "needs at least one row" */
    } else if (d.depth == 2 && d.dims[1] == width) {
        shape[0] = d.dims[0];
    } else if (d.depth == 1 && width == 1) {
        shape[0] = (int64_t)d.n;
    } else {
        int got0 = d.dims[0] < 0 ? 0 : d.dims[0], got1 = d.dims[1] < 0 ? 0 : d.dims[1];
        int depth = d.depth;
        rs_tensor_data_free(&d);
        if (depth == 2)
            return rs_json_fail(j, "%s: expected rows of %d values, got shape [%d,%d]", path, width,
                                got0, got1);
        return rs_json_fail(j, "%s: expected a list of rows of %d values each", path, width);
    }
    char msg[256];
    int st = rs_tensor_from_json(t, &d, shape, 2, path, msg, sizeof msg);
    rs_tensor_data_free(&d);
    return st ? rs_json_fail(j, "%s", msg) : 0;
}

/* The request being read: the model and the request's own fields, and the
 * tensors read so far (the member callbacks' ctx). */
typedef struct {
    const mlp_model *m;
    rs_request *req;
    rs_tensor x, labels, targets;
    bool has_x, has_labels, has_targets;
} v1_body;

static void v1_body_free(v1_body *b)
{
    rs_tensor_free(&b->x);
    rs_tensor_free(&b->labels);
    rs_tensor_free(&b->targets);
}

/* "labels": a flat list of class indices (or [n, 1]). */
static int v1_labels(rs_json *j, v1_body *b, const char *path)
{
    if (b->has_labels) return rs_json_fail(j, "%s: given twice", path);
    if (v1_matrix(j, 1, path, &b->labels) < 0) return -1;
    b->has_labels = true;
    return 0;
}

static int v1_targets(rs_json *j, v1_body *b, const char *path)
{
    if (b->has_targets) return rs_json_fail(j, "%s: given twice", path);
    if (v1_matrix(j, mlp_model_n_outputs(b->m), path, &b->targets) < 0) return -1;
    b->has_targets = true;
    return 0;
}

/* One row object's input list, appended to x (rows rows so far, room for
 * cap). */
static int v1_instance_row(rs_json *j, const mlp_model *m, const char *path, float **x, size_t *cap,
                           size_t rows)
{
    size_t width = (size_t)mlp_model_n_inputs(m);
    rs_tensor_data t;
    char dpath[64];
    size_t dl = rs_text_put(dpath, sizeof dpath, rs_text_put(dpath, sizeof dpath, 0, path), ".");
    rs_text_put(dpath, sizeof dpath, dl, mlp_model_input_name(m));
    if (rs_tensor_data_read(j, &t, width, dpath) < 0) return -1;
    if (t.depth != 1 || t.n != width || t.saw_bool) {
        rs_tensor_data_free(&t);
        return rs_json_fail(j, "%s: expected a list of %zu numbers", dpath, width);
    }
    if (rows == *cap) {
        float *nx = realloc(*x, *cap * 2 * width * sizeof(float));
        if (nx == NULL) {
            rs_tensor_data_free(&t);
            return rs_json_fail(j, "instances: out of memory");
        }
        *x = nx;
        *cap *= 2;
    }
    memcpy(*x + rows * width, t.v, width * sizeof(float));
    rs_tensor_data_free(&t);
    return 0;
}

/* One row object of "instances" being read: path "instances[3]". */
typedef struct {
    const mlp_model *m;
    const char *path;
    float **x;
    size_t *cap, rows;
    bool got;
} v1_row;

static int v1_row_member(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v1_row *w = ctx;
    if (truncated || strcmp(key, mlp_model_input_name(w->m)) != 0)
        return rs_json_fail(j, "%s: unknown key '%s'; expected '%s'", w->path, key,
                            mlp_model_input_name(w->m));
    if (w->got) return rs_json_fail(j, "%s: '%s' given twice", w->path, key);
    w->got = true;
    return v1_instance_row(j, w->m, w->path, w->x, w->cap, w->rows);
}

/* {"instances": [{"<input>": [...]}, ...]}: one object per row. */
static int v1_instance_objects(rs_json *j, const mlp_model *m, v1_body *b)
{
    size_t cap = 16, rows = 0, width = (size_t)mlp_model_n_inputs(m);
    float *x = malloc(cap * width * sizeof(float));
    if (x == NULL) return rs_json_fail(j, "instances: out of memory");
    bool first = true;
    int r;
    while ((r = rs_json_array_next(j, &first)) == 1) {
        char path[48];
        /* Every row builds its path: by hand, as snprintf costs more (text.c). */
        size_t pl = rs_text_int(path, sizeof path, rs_text_put(path, sizeof path, 0, "instances["),
                                (long long)rows);
        rs_text_put(path, sizeof path, pl, "]");
        v1_row w = {m, path, &x, &cap, rows, false};
        if (rs_json_expect(j, '{', "an object like the others", "%s", path) < 0 ||
            rs_json_members(j, 2, v1_row_member, &w) < 0) {
            free(x);
            return -1;
        }
        if (!w.got) {
            free(x);
            return rs_json_fail(j, "%s: missing '%s'", path, mlp_model_input_name(m));
        }
        rows++;
    }
    if (r < 0) {
        free(x);
        return -1;
    }
    int64_t shape[2] = {(int64_t)rows, (int64_t)width};
    char msg[256];
    if (rs_tensor_from_values(&b->x, shape, 2, x, rows * width, "instances", msg, sizeof msg))
        return rs_json_fail(j, "%s", msg);
    return 0;
}

/* {"inputs": {"<input>": [[...]], "labels"?: [...], "targets"?: [[...]]}} */
static int v1_inputs_member(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v1_body *b = ctx;
    char path[RS_KEY_CAP + 16];
    snprintf(path, sizeof path, "inputs.%s", key);
    if (!truncated && strcmp(key, mlp_model_input_name(b->m)) == 0) {
        if (b->has_x) return rs_json_fail(j, "%s: given twice", path);
        if (v1_matrix(j, mlp_model_n_inputs(b->m), path, &b->x) < 0) return -1;
        b->has_x = true;
        return 0;
    }
    if (!truncated && strcmp(key, "labels") == 0) return v1_labels(j, b, path);
    if (!truncated && strcmp(key, "targets") == 0) return v1_targets(j, b, path);
    return rs_json_fail(j, "inputs: unknown key '%s'; expected '%s', 'labels' or 'targets'", key,
                        mlp_model_input_name(b->m));
}

/* "instances" (inst) or "inputs": the rows, in any of the accepted forms. */
static int v1_rows(rs_json *j, v1_body *b, bool inst)
{
    if (b->has_x) return rs_json_fail(j, "request body: send either 'instances' or 'inputs', once");
    b->has_x = true;
    b->req->v1_instances = inst;
    int ch = rs_json_peek(j);
    if (inst) {
        if (rs_json_expect(j, '[', "an array of rows", "instances") < 0) return -1;
        /* Look past '[' to see whether rows are objects. */
        const char *save = j->p;
        j->p++;
        if (rs_json_peek(j) == '{') return v1_instance_objects(j, b->m, b);
        j->p = save;
        return v1_matrix(j, mlp_model_n_inputs(b->m), "instances", &b->x);
    }
    if (ch == '{') {
        b->has_x = false;
        if (rs_json_members(j, 2, v1_inputs_member, b) < 0) return -1;
        if (!b->has_x) return rs_json_fail(j, "inputs: missing '%s'", mlp_model_input_name(b->m));
        return 0;
    }
    if (ch == '[') return v1_matrix(j, mlp_model_n_inputs(b->m), "inputs", &b->x);
    return rs_json_fail(j, "inputs: expected an array of rows or an object, got %s",
                        rs_json_kind(ch));
}

static int v1_member(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v1_body *b = ctx;
    if (truncated) return 1;
    if (strcmp(key, "instances") == 0 || strcmp(key, "inputs") == 0)
        return v1_rows(j, b, strcmp(key, "instances") == 0);
    if (strcmp(key, "labels") == 0) return v1_labels(j, b, "labels");
    if (strcmp(key, "targets") == 0) return v1_targets(j, b, "targets");
    if (strcmp(key, "parameters") == 0)
        return rs_decode_parameters(j, "parameters", b->req, NULL, NULL);
    if (strcmp(key, "diagnostics") == 0)
        return rs_decode_param(j, key, "request", b->req) < 0 ? -1 : 0;
    return 1;
}

int rs_decode_v1(const mlp_model *m, const char *body, size_t len, const rs_decode_limits *lim,
                 rs_request *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    if (body == NULL) body = "", len = 0;
    req->proto = RS_PROTO_V1;
    req->diag = RS_DIAG_NONE;
    req->outputs = RS_OUT_PRIMARY;
    v1_body b = {.m = m, .req = req};
    rs_json j;
    rs_json_init(&j, body, len, err, errlen);
    int status = 0;
    if (rs_json_document(&j, v1_member, &b) < 0) {
        status = 400;
        goto done;
    }
    if (!b.has_x) {
        snprintf(err, errlen, "request body: missing 'instances' or 'inputs'");
        status = 400;
        goto done;
    }
    int64_t rows = b.x.rank == 2 ? b.x.shape[0] : 0;
    status = rs_decode_rows(lim, rows, req->v1_instances ? "instances" : "inputs", err, errlen);
    if (status) goto done;
    if (b.has_labels && b.has_targets) {
        snprintf(err, errlen, "request body: send either 'labels' or 'targets', not both");
        status = 400;
        goto done;
    }
    if (b.has_targets && b.targets.shape[0] != rows) {
        snprintf(err, errlen, "targets: expected %lld rows (one per input row), got %lld",
                 (long long)rows, (long long)b.targets.shape[0]);
        status = 400;
        goto done;
    }
    status = rs_request_bind(req, m, &b.x, b.has_labels ? &b.labels : NULL, "labels",
                             b.has_targets ? &b.targets : NULL, err, errlen);
    if (status == 0) status = rs_decode_response_fits(m, lim, req, err, errlen);
done:
    v1_body_free(&b);
    if (status) rs_request_free(req);
    return status;
}
