/*
 * decode — what the v1 (decode_v1.c) and v2 (decode_v2.c) request decoders
 * share: binding validated tensors to a request, the row limit, the common
 * parameters, and the typed values (integers, booleans) with their messages.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void rs_request_free(rs_request *req)
{
    if (req == NULL) return;
    free(req->id);
    free(req->x);
    free(req->labels);
    free(req->targets);
    memset(req, 0, sizeof *req);
}

/* Class indices: integral and in [0, mlp_model_classes) (0/1 for a
 * one-output classifier). */
static int labels_convert(const mlp_model *m, const rs_tensor *t, const char *name, int **out,
                          char *err, size_t errlen)
{
    mlp_target_kind kind;
    mlp_error e;
    if (mlp_target_select(m, true, &kind, &e) != MLP_OK) {
        snprintf(err, errlen, "%s: %s", name, e.msg);
        return 400;
    }
    int classes = mlp_model_classes(m);
    int *labels = malloc((t->count ? t->count : 1) * sizeof(int));
    if (labels == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return 500;
    }
    for (size_t i = 0; i < t->count; i++) {
        float v = t->v[i];
        if (!(v >= 0.0f && v < (float)classes) || v != floorf(v)) {
            snprintf(err, errlen, "%s: value %.9g at index %zu is not a class index in [0, %d)%s",
                     name, (double)v, i, classes,
                     kind == MLP_TARGET_BINARY ? " (a one-output classifier takes 0 or 1)" : "");
            free(labels);
            return 400;
        }
        labels[i] = (int)v;
    }
    *out = labels;
    return 0;
}

int rs_request_bind(rs_request *req, const mlp_model *m, rs_tensor *x, rs_tensor *labels,
                    const char *labels_name, rs_tensor *targets, char *err, size_t errlen)
{
    /* The decoders word these for their protocol before they get here; this
     * is the one check every path passes, so it does not trust them. */
    char sh[128];
    if (x->rank != 2 || x->shape[1] != mlp_model_n_inputs(m) || x->shape[0] < 1 ||
        x->shape[0] > INT32_MAX ||
        x->count != (size_t)x->shape[0] * (size_t)mlp_model_n_inputs(m)) {
        rs_shape_format(x->shape, x->rank, sh, sizeof sh);
        snprintf(err, errlen, "input: %zu values of shape %s are not [rows, %d] with rows >= 1",
                 x->count, sh, mlp_model_n_inputs(m));
        return 400;
    }
    int rows = (int)x->shape[0];
    if (targets != NULL) {
        if (targets->rank != 2 || targets->shape[0] != rows ||
            targets->shape[1] != mlp_model_n_outputs(m) ||
            targets->count != (size_t)rows * (size_t)mlp_model_n_outputs(m)) {
            rs_shape_format(targets->shape, targets->rank, sh, sizeof sh);
            snprintf(err, errlen, "targets: %zu values of shape %s are not [%d, %d]",
                     targets->count, sh, rows, mlp_model_n_outputs(m));
            return 400;
        }
    }
    int *lab = NULL;
    if (labels != NULL) {
        if (labels->count != (size_t)rows) {
            snprintf(err, errlen, "%s: expected %d class indices (one per row), got %zu",
                     labels_name, rows, labels->count);
            return 400;
        }
        int st = labels_convert(m, labels, labels_name, &lab, err, errlen);
        if (st) return st;
    }
    req->rows = rows;
    req->x = x->v;
    req->x_count = x->count;
    x->v = NULL;
    req->labels = lab;
    req->labels_count = labels != NULL ? labels->count : 0;
    if (targets != NULL) {
        req->targets = targets->v;
        req->targets_count = targets->count;
        targets->v = NULL;
    }
    return 0;
}

/* Rows of the model input: at least one, at most lim->max_rows (413). */
int rs_decode_rows(const rs_decode_limits *lim, int64_t rows, const char *name, char *err,
                   size_t errlen)
{
    if (rows < 1) {
        snprintf(err, errlen, "%s: needs at least one row", name);
        return 400;
    }
    if (lim != NULL && lim->max_rows > 0 && rows > lim->max_rows) {
        snprintf(err, errlen, "%s: %lld rows exceed the limit of %d rows per request", name,
                 (long long)rows, lim->max_rows);
        return 413;
    }
    return 0;
}

/* Appends ", <s>" (the first without the comma) to the advice in out. */
static size_t advice_add(char *out, size_t cap, size_t n, const char *s)
{
    return rs_text_put(out, cap, n > 0 ? rs_text_put(out, cap, n, ", ") : n, s);
}

int rs_decode_response_fits(const mlp_model *m, const rs_decode_limits *lim, rs_request *req,
                            char *err, size_t errlen)
{
    if (lim == NULL) return 0;
    size_t bound = rs_response_bound(&lim->mid, m, req);
    req->bound = bound;
    if (lim->max_response_bytes == 0 || bound <= lim->max_response_bytes) return 0;
    /* What makes the answer large, in the order it usually matters. */
    char advice[256];
    size_t n = advice_add(advice, sizeof advice, 0, "fewer rows per request");
    bool v2 = req->proto == RS_PROTO_V2;
    unsigned per_row = RS_OUT_INPUT_GRADIENT | (req->classification > 0 ? 0 : RS_OUT_PRIMARY);
    if (v2 && (req->outputs & per_row & ~req->binary_outputs))
        n = advice_add(advice, sizeof advice, n,
                       "binary outputs (parameters.binary_data_output: true)");
    if (req->preactivations)
        n = advice_add(advice, sizeof advice, n, "no parameters.preactivations");
    if (req->diag == RS_DIAG_FULL)
        n = advice_add(advice, sizeof advice, n, "diagnostics \"summary\" or \"none\"");
    if (v2 && (req->outputs & RS_OUT_INPUT_GRADIENT))
        advice_add(advice, sizeof advice, n, "no 'input_gradient' output");
    snprintf(err, errlen,
             "response: the answer to these %d rows could take up to %zu bytes, over the "
             "server's --max-response-bytes of %zu; ask for %s",
             req->rows, bound, lim->max_response_bytes, advice);
    return 413;
}

/* Common parameter values: "diagnostics" and "timeout_us". Returns 1 when
 * key was one of them (value consumed), 0 when not, -1 on error. Messages
 * name "<path>.<key>", composed only for an error. */
int rs_decode_param(rs_json *j, const char *key, const char *path, rs_request *req)
{
    size_t n = strlen(key);
    if (RS_KEY_IS(key, n, "timeout_us")) {
        double d;
        if (rs_decode_integer_at(j, 0, 9.2e18, "a non-negative integer", &d, "%s.%s", path, key) <
            0)
            return -1;
        req->timeout_us = (int64_t)d;
        return 1;
    }
    if (!RS_KEY_IS(key, n, "diagnostics")) return 0;
    const char *want = "\"none\", \"summary\" or \"full\"";
    if (rs_json_expect(j, '"', want, "%s.%s", path, key) < 0) return -1;
    char v[16];
    size_t vn;
    int r = rs_json_string(j, v, sizeof v, &vn);
    if (r < 0) return -1;
    /* By the decoded length: "summary\u0000x" is none of the three. */
    if (r != 0) vn = 0;
    if (r == 0 && RS_KEY_IS(v, vn, "none")) {
        req->diag = RS_DIAG_NONE;
        return 1;
    }
    if (r == 0 && RS_KEY_IS(v, vn, "summary")) {
        req->diag = RS_DIAG_SUMMARY;
        return 1;
    }
    if (r == 0 && RS_KEY_IS(v, vn, "full")) {
        req->diag = RS_DIAG_FULL;
        return 1;
    }
    return rs_json_fail(j, "%s.%s: expected %s", path, key, want);
}

/* The "parameters" object being read: where it is and who takes the rest. */
typedef struct {
    const char *path;
    rs_request *req;
    rs_member_fn other;
    void *ctx;
} parameters_ctx;

static int parameters_member(rs_json *j, const char *key, bool truncated, void *ctx)
{
    parameters_ctx *c = ctx;
    int k = truncated ? 0 : rs_decode_param(j, key, c->path, c->req); /* 1: consumed */
    if (k != 0) return k < 0 ? -1 : 0;
    return c->other ? c->other(j, key, truncated, c->ctx) : 1; /* 1: to be skipped */
}

int rs_decode_parameters(rs_json *j, const char *path, rs_request *req, rs_member_fn other,
                         void *ctx)
{
    if (rs_json_expect(j, '{', "an object", "%s", path) < 0) return -1;
    parameters_ctx c = {path, req, other, ctx};
    return rs_json_members(j, 2, parameters_member, &c);
}

int rs_decode_integer_at(rs_json *j, double lo, double hi, const char *what, double *out,
                         const char *path_fmt, ...)
{
    int c = rs_json_peek(j);
    bool number = c == '-' || (c >= '0' && c <= '9');
    bool integral = false;
    if (number) {
        if (rs_json_number(j, out, &integral) < 0) return -1;
        if (integral && *out >= lo && *out <= hi) return 0;
    }
    char path[RS_KEY_CAP + 64];
    va_list ap;
    va_start(ap, path_fmt);
    vsnprintf(path, sizeof path, path_fmt, ap);
    va_end(ap);
    if (!number) return rs_json_fail(j, "%s: expected %s, got %s", path, what, rs_json_kind(c));
    return rs_json_fail(j, "%s: expected %s", path, what);
}

int rs_decode_integer(rs_json *j, const char *path, double lo, double hi, const char *what,
                      double *out)
{
    return rs_decode_integer_at(j, lo, hi, what, out, "%s", path);
}

int rs_decode_bool_at(rs_json *j, bool *out, const char *path_fmt, ...)
{
    int c = rs_json_peek(j);
    if (c == 't' || c == 'f') return rs_json_bool(j, out);
    char path[RS_KEY_CAP + 64];
    va_list ap;
    va_start(ap, path_fmt);
    vsnprintf(path, sizeof path, path_fmt, ap);
    va_end(ap);
    return rs_json_fail(j, "%s: expected true or false, got %s", path, rs_json_kind(c));
}

int rs_decode_bool(rs_json *j, const char *path, bool *out)
{
    return rs_decode_bool_at(j, out, "%s", path);
}
