/*
 * decode_v2 — Open Inference Protocol v2 request bodies into rs_request
 * (with the binary tensor extension), plus the checks v1 shares
 * (decode_v1.c).
 *
 * Every byte string gives either a complete request or a 4xx with one
 * sentence naming the field and what was expected. Unknown keys are skipped
 * (the protocols let clients send extra fields); known keys are type-checked.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ID_MAX     1024
#define MAX_INPUTS 8

/* Diagnostic tensors a v2 request may ask for in "outputs". */
static const struct {
    const char *name;
    unsigned flag;
} diag_outputs[] = {
    {"input_gradient", RS_OUT_INPUT_GRADIENT},
    {"layer_dead_fraction", RS_OUT_LAYER_DEAD_FRACTION},
    {"layer_sparsity", RS_OUT_LAYER_SPARSITY},
    {"layer_weight_grad_norm", RS_OUT_LAYER_WEIGHT_GRAD_NORM},
    {"layer_bias_grad_norm", RS_OUT_LAYER_BIAS_GRAD_NORM},
    {"layer_activation_grad_norm", RS_OUT_LAYER_ACT_GRAD_NORM},
    {"dead_fraction", RS_OUT_DEAD_FRACTION},
    {"loss", RS_OUT_LOSS},
};
#define N_DIAG_OUTPUTS (sizeof diag_outputs / sizeof diag_outputs[0])

void rs_request_free(rs_request *req)
{
    if (req == NULL) return;
    free(req->id);
    free(req->x);
    free(req->labels);
    free(req->targets);
    memset(req, 0, sizeof *req);
}

/* --------------------------------------------------- shared request checks */

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
    rs_shape_format(x->shape, x->rank, sh, sizeof sh);
    if (x->rank != 2 || x->shape[1] != m->n_inputs || x->shape[0] < 1 || x->shape[0] > INT32_MAX ||
        x->count != (size_t)x->shape[0] * (size_t)m->n_inputs) {
        snprintf(err, errlen, "input: %zu values of shape %s are not [rows, %d] with rows >= 1",
                 x->count, sh, m->n_inputs);
        return 400;
    }
    int rows = (int)x->shape[0];
    if (targets != NULL) {
        rs_shape_format(targets->shape, targets->rank, sh, sizeof sh);
        if (targets->rank != 2 || targets->shape[0] != rows || targets->shape[1] != m->n_outputs ||
            targets->count != (size_t)rows * (size_t)m->n_outputs) {
            snprintf(err, errlen, "targets: %zu values of shape %s are not [%d, %d]",
                     targets->count, sh, rows, m->n_outputs);
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

/* Common parameter values: "diagnostics" and "timeout_us". Returns 1 when
 * key was one of them (value consumed), 0 when not, -1 on error. */
int rs_decode_param(rs_json *j, const char *key, const char *path, rs_request *req)
{
    if (strcmp(key, "diagnostics") == 0) {
        char v[16];
        int c = rs_json_peek(j);
        if (c != '"')
            return rs_json_fail(
                j, "%s.diagnostics: expected \"none\", \"summary\" or \"full\", got %s", path,
                rs_json_kind(c));
        int r = rs_json_string(j, v, sizeof v, NULL);
        if (r < 0) return -1;
        if (r == 0 && strcmp(v, "none") == 0)
            req->diag = RS_DIAG_NONE;
        else if (r == 0 && strcmp(v, "summary") == 0)
            req->diag = RS_DIAG_SUMMARY;
        else if (r == 0 && strcmp(v, "full") == 0)
            req->diag = RS_DIAG_FULL;
        else
            return rs_json_fail(j, "%s.diagnostics: expected \"none\", \"summary\" or \"full\"",
                                path);
        return 1;
    }
    if (strcmp(key, "timeout_us") == 0) {
        double d;
        bool integral;
        int c = rs_json_peek(j);
        if (!(c == '-' || (c >= '0' && c <= '9')))
            return rs_json_fail(j, "%s.timeout_us: expected a non-negative integer, got %s", path,
                                rs_json_kind(c));
        if (rs_json_number(j, &d, &integral) < 0) return -1;
        if (!integral || d < 0 || d > 9.2e18)
            return rs_json_fail(j, "%s.timeout_us: expected a non-negative integer", path);
        req->timeout_us = (int64_t)d;
        return 1;
    }
    return 0;
}

/* A positive integer (classification k). */
static int int_positive(rs_json *j, const char *path, int *out)
{
    double d;
    bool integral;
    int c = rs_json_peek(j);
    if (!(c == '-' || (c >= '0' && c <= '9')))
        return rs_json_fail(j, "%s: expected a positive integer, got %s", path, rs_json_kind(c));
    if (rs_json_number(j, &d, &integral) < 0) return -1;
    if (!integral || d < 1 || d > 1e9)
        return rs_json_fail(j, "%s: expected a positive integer", path);
    *out = (int)d;
    return 0;
}

static int bool_value(rs_json *j, const char *path, bool *out)
{
    int c = rs_json_peek(j);
    if (c != 't' && c != 'f')
        return rs_json_fail(j, "%s: expected true or false, got %s", path, rs_json_kind(c));
    return rs_json_bool(j, out);
}

/* ==================================================================== v2 */

typedef struct {
    char name[RS_KEY_CAP];
    bool has_name, name_long;
    int64_t shape[RS_MAX_RANK];
    int rank;
    bool has_shape;
    rs_datatype dt;
    bool has_dt;
    rs_tensor_data data;
    bool has_data;
    bool has_binary;
    uint64_t binary_size;
    rs_tensor tensor; /* the validated values (JSON or binary) */
} v2_input;

static int v2_shape(rs_json *j, v2_input *t, const char *path)
{
    int c = rs_json_peek(j);
    if (c != '[')
        return rs_json_fail(j, "%s.shape: expected an array of integers, got %s", path,
                            rs_json_kind(c));
    rs_json_array_begin(j);
    bool first = true;
    int r;
    t->rank = 0;
    while ((r = rs_json_array_next(j, &first)) == 1) {
        if (t->rank == RS_MAX_RANK)
            return rs_json_fail(j, "%s.shape: more than %d dimensions", path, RS_MAX_RANK);
        double d;
        bool integral;
        c = rs_json_peek(j);
        if (!(c == '-' || (c >= '0' && c <= '9')))
            return rs_json_fail(j, "%s.shape[%d]: expected a non-negative integer, got %s", path,
                                t->rank, rs_json_kind(c));
        if (rs_json_number(j, &d, &integral) < 0) return -1;
        if (!integral || d < 0 || d > 2147483647.0)
            return rs_json_fail(j, "%s.shape[%d]: expected a non-negative integer below 2^31", path,
                                t->rank);
        t->shape[t->rank++] = (int64_t)d;
    }
    if (r < 0) return -1;
    t->has_shape = true;
    return 0;
}

static int v2_input_parameters(rs_json *j, v2_input *t, const char *path)
{
    int c = rs_json_peek(j);
    if (c != '{')
        return rs_json_fail(j, "%s.parameters: expected an object, got %s", path, rs_json_kind(c));
    rs_json_object_begin(j);
    bool first = true;
    char key[RS_KEY_CAP];
    bool trunc;
    int r;
    while ((r = rs_json_object_next(j, &first, key, sizeof key, &trunc)) == 1) {
        if (!trunc && strcmp(key, "binary_data_size") == 0) {
            double d;
            bool integral;
            c = rs_json_peek(j);
            if (!(c == '-' || (c >= '0' && c <= '9')))
                return rs_json_fail(j,
                                    "%s.parameters.binary_data_size: expected a byte count, got %s",
                                    path, rs_json_kind(c));
            if (rs_json_number(j, &d, &integral) < 0) return -1;
            if (!integral || d < 0 || d > 9e15)
                return rs_json_fail(j, "%s.parameters.binary_data_size: expected a byte count",
                                    path);
            if (t->has_binary)
                return rs_json_fail(j, "%s.parameters: 'binary_data_size' given twice", path);
            t->has_binary = true;
            t->binary_size = (uint64_t)d;
        } else if (rs_json_skip(j, 3) < 0) {
            return -1;
        }
    }
    return r;
}

static int v2_input_parse(rs_json *j, v2_input *t, int idx)
{
    char path[32];
    snprintf(path, sizeof path, "inputs[%d]", idx);
    int c = rs_json_peek(j);
    if (c != '{') return rs_json_fail(j, "%s: expected an object, got %s", path, rs_json_kind(c));
    rs_json_object_begin(j);
    bool first = true;
    char key[RS_KEY_CAP];
    bool trunc;
    int r;
    while ((r = rs_json_object_next(j, &first, key, sizeof key, &trunc)) == 1) {
        if (trunc) {
            if (rs_json_skip(j, 2) < 0) return -1;
        } else if (strcmp(key, "name") == 0) {
            if (t->has_name) return rs_json_fail(j, "%s: 'name' given twice", path);
            c = rs_json_peek(j);
            if (c != '"')
                return rs_json_fail(j, "%s.name: expected a string, got %s", path, rs_json_kind(c));
            int s = rs_json_string(j, t->name, sizeof t->name, NULL);
            if (s < 0) return -1;
            t->name_long = s == 1;
            t->has_name = true;
        } else if (strcmp(key, "shape") == 0) {
            if (t->has_shape) return rs_json_fail(j, "%s: 'shape' given twice", path);
            if (v2_shape(j, t, path) < 0) return -1;
        } else if (strcmp(key, "datatype") == 0) {
            if (t->has_dt) return rs_json_fail(j, "%s: 'datatype' given twice", path);
            char dt[16];
            c = rs_json_peek(j);
            if (c != '"')
                return rs_json_fail(j, "%s.datatype: expected a string, got %s", path,
                                    rs_json_kind(c));
            int s = rs_json_string(j, dt, sizeof dt, NULL);
            if (s < 0) return -1;
            t->dt = s == 0 ? rs_datatype_parse(dt) : RS_DT_INVALID;
            if (t->dt == RS_DT_INVALID)
                return rs_json_fail(j,
                                    "%s.datatype: expected one of FP32, FP64, INT8, INT16, INT32, "
                                    "INT64, UINT8, UINT16, UINT32, UINT64, BOOL",
                                    path);
            t->has_dt = true;
        } else if (strcmp(key, "data") == 0) {
            if (t->has_data) return rs_json_fail(j, "%s: 'data' given twice", path);
            char dpath[40];
            snprintf(dpath, sizeof dpath, "%s.data", path);
            size_t hint = 0;
            if (t->has_shape) {
                hint = 1;
                for (int i = 0; i < t->rank && hint < ((size_t)1 << 40); i++)
                    hint *= (size_t)t->shape[i];
            }
            if (rs_tensor_data_read(j, &t->data, hint, dpath) < 0) return -1;
            t->has_data = true;
        } else if (strcmp(key, "parameters") == 0) {
            if (v2_input_parameters(j, t, path) < 0) return -1;
        } else if (rs_json_skip(j, 2) < 0) {
            return -1;
        }
    }
    return r;
}

/* Checks one input's fields and builds its validated tensor (from the JSON
 * already read, or from the binary tail at *tail_off). */
static int v2_input_finish(v2_input *t, int idx, const unsigned char *tail, size_t tail_len,
                           size_t *tail_off, char *err, size_t errlen)
{
    char name[RS_KEY_CAP + 16];
    if (!t->has_name) {
        snprintf(err, errlen, "inputs[%d]: missing 'name'", idx);
        return 400;
    }
    snprintf(name, sizeof name, "input '%s'", t->name);
    if (!t->has_shape) {
        snprintf(err, errlen, "%s: missing 'shape'", name);
        return 400;
    }
    if (!t->has_dt) {
        snprintf(err, errlen, "%s: missing 'datatype'", name);
        return 400;
    }
    if (rs_shape_count(t->shape, t->rank) < 0) {
        char sh[128];
        rs_shape_format(t->shape, t->rank, sh, sizeof sh);
        snprintf(err, errlen, "%s: shape %s is too large", name, sh);
        return 413;
    }
    if (t->has_binary) {
        if (t->has_data) {
            snprintf(err, errlen, "%s: has both 'data' and parameters.binary_data_size", name);
            return 400;
        }
        if (tail == NULL) {
            snprintf(err, errlen,
                     "%s: parameters.binary_data_size needs the Inference-Header-Content-Length "
                     "header",
                     name);
            return 400;
        }
        int st = rs_tensor_from_bytes(&t->tensor, tail + *tail_off, tail_len - *tail_off,
                                      t->binary_size, t->dt, t->shape, t->rank, name, err, errlen);
        if (st) return st;
        *tail_off += (size_t)t->binary_size;
        return 0;
    }
    if (!t->has_data) {
        snprintf(err, errlen, "%s: missing 'data' (or parameters.binary_data_size)", name);
        return 400;
    }
    int st = rs_tensor_from_json(&t->tensor, &t->data, t->shape, t->rank, name, err, errlen);
    if (st) return st;
    if (rs_tensor_data_check_type(&t->data, t->dt, name, err, errlen) < 0) return 400;
    return 0;
}

/* Output names a model accepts: its own output and the diagnostic tensors. */
static void outputs_expected(const mlp_model *m, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "'%s'", m->output_name);
    for (size_t i = 0; i < N_DIAG_OUTPUTS && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, ", '%s'", diag_outputs[i].name);
}

typedef struct {
    unsigned requested;
    unsigned bin_set, bin_val; /* outputs with an explicit binary_data */
    int classification;
} v2_outputs;

static int v2_output_parse(rs_json *j, const mlp_model *m, v2_outputs *o, int idx)
{
    char path[32];
    snprintf(path, sizeof path, "outputs[%d]", idx);
    int c = rs_json_peek(j);
    if (c != '{') return rs_json_fail(j, "%s: expected an object, got %s", path, rs_json_kind(c));
    rs_json_object_begin(j);
    bool first = true, has_name = false, has_bin = false, bin = false;
    int k = 0;
    unsigned flag = 0;
    char key[RS_KEY_CAP], name[RS_KEY_CAP];
    bool trunc;
    int r;
    while ((r = rs_json_object_next(j, &first, key, sizeof key, &trunc)) == 1) {
        if (!trunc && strcmp(key, "name") == 0) {
            c = rs_json_peek(j);
            if (c != '"')
                return rs_json_fail(j, "%s.name: expected a string, got %s", path, rs_json_kind(c));
            int s = rs_json_string(j, name, sizeof name, NULL);
            if (s < 0) return -1;
            flag = 0;
            if (s == 0 && strcmp(name, m->output_name) == 0) flag = RS_OUT_PRIMARY;
            for (size_t i = 0; s == 0 && flag == 0 && i < N_DIAG_OUTPUTS; i++)
                if (strcmp(name, diag_outputs[i].name) == 0) flag = diag_outputs[i].flag;
            if (flag == 0) {
                char exp[512];
                outputs_expected(m, exp, sizeof exp);
                return rs_json_fail(j, "%s.name: unknown output '%s'; expected one of %s", path,
                                    name, exp);
            }
            has_name = true;
        } else if (!trunc && strcmp(key, "parameters") == 0) {
            c = rs_json_peek(j);
            if (c != '{')
                return rs_json_fail(j, "%s.parameters: expected an object, got %s", path,
                                    rs_json_kind(c));
            rs_json_object_begin(j);
            bool pfirst = true;
            int pr;
            char ppath[64];
            while ((pr = rs_json_object_next(j, &pfirst, key, sizeof key, &trunc)) == 1) {
                if (!trunc && strcmp(key, "binary_data") == 0) {
                    snprintf(ppath, sizeof ppath, "%s.parameters.binary_data", path);
                    if (bool_value(j, ppath, &bin) < 0) return -1;
                    has_bin = true;
                } else if (!trunc && strcmp(key, "classification") == 0) {
                    snprintf(ppath, sizeof ppath, "%s.parameters.classification", path);
                    if (int_positive(j, ppath, &k) < 0) return -1;
                } else if (rs_json_skip(j, 3) < 0) {
                    return -1;
                }
            }
            if (pr < 0) return -1;
        } else if (rs_json_skip(j, 2) < 0) {
            return -1;
        }
    }
    if (r < 0) return -1;
    if (!has_name) return rs_json_fail(j, "%s: missing 'name'", path);
    if (k > 0 && flag != RS_OUT_PRIMARY)
        return rs_json_fail(j,
                            "%s.parameters.classification: only the model output '%s' can be "
                            "classified",
                            path, m->output_name);
    if (k > 0) o->classification = k;
    o->requested |= flag;
    if (has_bin) {
        o->bin_set |= flag;
        if (bin) o->bin_val |= flag;
    }
    return 0;
}

typedef struct {
    v2_input in[MAX_INPUTS];
    int n_in;
    bool has_inputs;
    v2_outputs out;
    bool has_outputs;
    bool binary_output; /* parameters.binary_data_output */
    int classification; /* parameters.classification */
} v2_body;

static void v2_body_free(v2_body *b)
{
    for (int i = 0; i < b->n_in; i++) {
        rs_tensor_data_free(&b->in[i].data);
        rs_tensor_free(&b->in[i].tensor);
    }
}

static int v2_parameters(rs_json *j, v2_body *b, rs_request *req)
{
    int c = rs_json_peek(j);
    if (c != '{') return rs_json_fail(j, "parameters: expected an object, got %s", rs_json_kind(c));
    rs_json_object_begin(j);
    bool first = true, trunc;
    char key[RS_KEY_CAP];
    int r;
    while ((r = rs_json_object_next(j, &first, key, sizeof key, &trunc)) == 1) {
        int k = trunc ? 0 : rs_decode_param(j, key, "parameters", req);
        if (k < 0) return -1;
        if (k == 1) continue;
        if (!trunc && strcmp(key, "binary_data_output") == 0) {
            if (bool_value(j, "parameters.binary_data_output", &b->binary_output) < 0) return -1;
        } else if (!trunc && strcmp(key, "classification") == 0) {
            if (int_positive(j, "parameters.classification", &b->classification) < 0) return -1;
        } else if (!trunc && strcmp(key, "preactivations") == 0) {
            if (bool_value(j, "parameters.preactivations", &req->preactivations) < 0) return -1;
        } else if (rs_json_skip(j, 2) < 0) {
            return -1;
        }
    }
    return r;
}

/* Parses the JSON header into b and req (id, parameters). */
static int v2_parse(rs_json *j, const mlp_model *m, v2_body *b, rs_request *req)
{
    int c = rs_json_peek(j);
    if (c != '{')
        return rs_json_fail(j, "request body: expected a JSON object, got %s", rs_json_kind(c));
    rs_json_object_begin(j);
    bool first = true, trunc;
    char key[RS_KEY_CAP];
    int r;
    while ((r = rs_json_object_next(j, &first, key, sizeof key, &trunc)) == 1) {
        if (trunc) {
            if (rs_json_skip(j, 1) < 0) return -1;
        } else if (strcmp(key, "id") == 0) {
            free(req->id);
            req->id = NULL;
            if (rs_json_string_dup(j, ID_MAX, "id", &req->id) < 0) return -1;
        } else if (strcmp(key, "inputs") == 0) {
            if (b->has_inputs) return rs_json_fail(j, "inputs: given twice");
            b->has_inputs = true;
            c = rs_json_peek(j);
            if (c != '[')
                return rs_json_fail(j, "inputs: expected an array of tensors, got %s",
                                    rs_json_kind(c));
            rs_json_array_begin(j);
            bool afirst = true;
            int ar;
            while ((ar = rs_json_array_next(j, &afirst)) == 1) {
                if (b->n_in == MAX_INPUTS)
                    return rs_json_fail(j, "inputs: more than %d tensors", MAX_INPUTS);
                v2_input *t = &b->in[b->n_in++];
                memset(t, 0, sizeof *t);
                if (v2_input_parse(j, t, b->n_in - 1) < 0) return -1;
            }
            if (ar < 0) return -1;
        } else if (strcmp(key, "outputs") == 0) {
            c = rs_json_peek(j);
            if (c != '[')
                return rs_json_fail(j, "outputs: expected an array, got %s", rs_json_kind(c));
            b->has_outputs = true;
            rs_json_array_begin(j);
            bool afirst = true;
            int ar, idx = 0;
            while ((ar = rs_json_array_next(j, &afirst)) == 1)
                if (v2_output_parse(j, m, &b->out, idx++) < 0) return -1;
            if (ar < 0) return -1;
        } else if (strcmp(key, "parameters") == 0) {
            if (v2_parameters(j, b, req) < 0) return -1;
        } else if (rs_json_skip(j, 1) < 0) {
            return -1;
        }
    }
    if (r < 0) return -1;
    return rs_json_end(j);
}

/* Binds the parsed inputs to the model's input, labels and targets. */
static int v2_bind(const mlp_model *m, v2_body *b, const rs_decode_limits *lim, rs_request *req,
                   char *err, size_t errlen)
{
    v2_input *x = NULL, *labels = NULL, *targets = NULL;
    for (int i = 0; i < b->n_in; i++) {
        v2_input *t = &b->in[i];
        for (int k = 0; k < i; k++)
            if (!t->name_long && strcmp(b->in[k].name, t->name) == 0) {
                snprintf(err, errlen, "inputs[%d]: input '%s' given twice", i, t->name);
                return 400;
            }
        if (!t->name_long && strcmp(t->name, m->input_name) == 0)
            x = t;
        else if (!t->name_long && strcmp(t->name, "labels") == 0)
            labels = t;
        else if (!t->name_long && strcmp(t->name, "targets") == 0)
            targets = t;
        else {
            snprintf(err, errlen,
                     "inputs[%d]: unknown input '%s'; expected '%s', 'labels' or 'targets'", i,
                     t->name, m->input_name);
            return 400;
        }
    }
    if (x == NULL) {
        snprintf(err, errlen, "inputs: no tensor named '%s' (the model's input)", m->input_name);
        return 400;
    }
    char sh[128];
    rs_shape_format(x->shape, x->rank, sh, sizeof sh);
    if (x->rank != 2 || x->shape[1] != m->n_inputs) {
        snprintf(err, errlen, "input '%s': shape must be [rows, %d], got %s", x->name, m->n_inputs,
                 sh);
        return 400;
    }
    int st = rs_decode_rows(lim, x->shape[0], "input", err, errlen);
    if (st) return st;
    int64_t rows = x->shape[0];
    if (labels != NULL && targets != NULL) {
        snprintf(err, errlen, "inputs: send either 'labels' or 'targets', not both");
        return 400;
    }
    if (labels != NULL) {
        bool ok = (labels->rank == 1 && labels->shape[0] == rows) ||
                  (labels->rank == 2 && labels->shape[0] == rows && labels->shape[1] == 1);
        if (!ok) {
            rs_shape_format(labels->shape, labels->rank, sh, sizeof sh);
            snprintf(err, errlen,
                     "input 'labels': shape must be [%lld] (one class index per row), got %s",
                     (long long)rows, sh);
            return 400;
        }
    }
    if (targets != NULL &&
        (targets->rank != 2 || targets->shape[0] != rows || targets->shape[1] != m->n_outputs)) {
        rs_shape_format(targets->shape, targets->rank, sh, sizeof sh);
        snprintf(err, errlen, "input 'targets': shape must be [%lld, %d], got %s", (long long)rows,
                 m->n_outputs, sh);
        return 400;
    }
    return rs_request_bind(req, m, &x->tensor, labels ? &labels->tensor : NULL, "input 'labels'",
                           targets ? &targets->tensor : NULL, err, errlen);
}

int rs_decode_v2(const mlp_model *m, const char *body, size_t len, size_t json_len,
                 const rs_decode_limits *lim, rs_request *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    if (body == NULL) /* an empty POST may come without a buffer */
        body = "", len = 0;
    req->proto = RS_PROTO_V2;
    req->diag = RS_DIAG_SUMMARY;
    if (json_len > len) {
        snprintf(err, errlen,
                 "Inference-Header-Content-Length: %zu is larger than the body (%zu bytes)",
                 json_len, len);
        return 400;
    }
    size_t jl = json_len > 0 ? json_len : len;
    const unsigned char *tail = json_len > 0 ? (const unsigned char *)body + json_len : NULL;
    size_t tail_len = json_len > 0 ? len - json_len : 0;

    v2_body *b = calloc(1, sizeof *b);
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    int status = 0;
    rs_json j;
    rs_json_init(&j, body, jl, err, errlen);
    if (v2_parse(&j, m, b, req) < 0) {
        status = 400;
        goto done;
    }
    if (!b->has_inputs || b->n_in == 0) {
        snprintf(err, errlen, "inputs: missing; expected an array with the tensor '%s'",
                 m->input_name);
        status = 400;
        goto done;
    }
    size_t off = 0;
    for (int i = 0; i < b->n_in && status == 0; i++)
        status = v2_input_finish(&b->in[i], i, tail, tail_len, &off, err, errlen);
    if (status) goto done;
    if (tail != NULL && off != tail_len) {
        snprintf(err, errlen,
                 "binary data: %zu bytes after the JSON header but the inputs' binary_data_size "
                 "add up to %zu",
                 tail_len, off);
        status = 400;
        goto done;
    }
    status = v2_bind(m, b, lim, req, err, errlen);
    if (status) goto done;

    /* Outputs: the model's own when none are named. */
    unsigned requested = b->has_outputs ? b->out.requested : RS_OUT_PRIMARY;
    if (requested == 0) requested = RS_OUT_PRIMARY;
    unsigned all_bin = b->binary_output ? requested : 0;
    req->outputs = requested;
    req->binary_outputs =
        ((b->out.bin_set & b->out.bin_val) | (~b->out.bin_set & all_bin)) & requested;
    int k = b->out.classification ? b->out.classification : b->classification;
    if (k > 0) req->classification = k < m->n_outputs ? k : m->n_outputs;
    if ((requested & ~RS_OUT_PRIMARY) && req->diag == RS_DIAG_NONE) {
        snprintf(err, errlen,
                 "outputs: diagnostic tensors need parameters.diagnostics \"summary\" or \"full\", "
                 "got \"none\"");
        status = 400;
        goto done;
    }
    if (req->preactivations && req->diag != RS_DIAG_FULL) {
        snprintf(err, errlen,
                 "parameters.preactivations: needs parameters.diagnostics \"full\", got \"%s\"",
                 req->diag == RS_DIAG_NONE ? "none" : "summary");
        status = 400;
        goto done;
    }
    if ((requested & RS_OUT_LOSS) && req->labels == NULL && req->targets == NULL) {
        snprintf(err, errlen, "outputs: 'loss' needs a 'labels' or 'targets' input");
        status = 400;
        goto done;
    }

done:
    v2_body_free(b);
    free(b);
    if (status) rs_request_free(req);
    return status;
}
