/*
 * decode_v2 — Open Inference Protocol v2 request bodies into rs_request
 * (with the binary tensor extension); what v1 shares is in decode.c.
 *
 * Every byte string gives either a complete request or a 4xx with one
 * sentence naming the field and what was expected. Unknown keys are skipped
 * (the protocols let clients send extra fields); known keys are type-checked.
 */
#include <math.h>
#include <stddef.h>
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

typedef struct {
    char name[RS_KEY_CAP];
    bool has_name, name_long;
    int64_t shape[RS_MAX_RANK];
    int rank;
    int64_t count; /* rs_shape_count of shape, once it is read */
    bool has_shape;
    rs_datatype dt;
    bool has_dt;
    rs_tensor_data data;
    bool has_data;
    bool has_binary;
    uint64_t binary_size;
    rs_tensor tensor; /* the validated values (JSON or binary) */
} v2_input;

/*
 * Messages name the field by its path ("inputs[0].shape[1]"). The paths are
 * composed only when there is an error to report (printf formats with the
 * index), never for a valid request: building them for every field cost
 * more than reading the field.
 */

static int v2_shape(rs_json *j, v2_input *t, int idx)
{
    if (rs_json_expect(j, '[', "an array of integers", "inputs[%d].shape", idx) < 0) return -1;
    rs_json_array_begin(j);
    bool first = true;
    int r;
    t->rank = 0;
    while ((r = rs_json_array_next(j, &first)) == 1) {
        if (t->rank == RS_MAX_RANK)
            return rs_json_fail(j, "inputs[%d].shape: more than %d dimensions", idx, RS_MAX_RANK);
        double d;
        if (rs_decode_integer_at(j, 0, 2147483647.0, "a non-negative integer below 2^31", &d,
                                 "inputs[%d].shape[%d]", idx, t->rank) < 0)
            return -1;
        t->shape[t->rank++] = (int64_t)d;
    }
    if (r < 0) return -1;
    t->count = rs_shape_count(t->shape, t->rank);
    t->has_shape = true;
    return 0;
}

/* One input tensor being read, and its index in "inputs" for messages. */
typedef struct {
    v2_input *t;
    int idx;
} v2_input_ctx;

static int v2_input_parameter(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v2_input_ctx *c = ctx;
    if (truncated || !RS_KEY_IS(key, strlen(key), "binary_data_size")) return 1;
    double d;
    if (rs_decode_integer_at(j, 0, 9e15, "a byte count", &d,
                             "inputs[%d].parameters.binary_data_size", c->idx) < 0)
        return -1;
    if (c->t->has_binary)
        return rs_json_fail(j, "inputs[%d].parameters: 'binary_data_size' given twice", c->idx);
    c->t->has_binary = true;
    c->t->binary_size = (uint64_t)d;
    return 0;
}

/* A string member of "<base>[<idx>]" into out (cap bytes): 1 when it was
 * longer, -1 on error. An escaped NUL is an error: out is read as a C
 * string, which would end there ("FP32\u0000x" would read as FP32). */
static int v2_string(rs_json *j, const char *base, int idx, const char *field, char *out,
                     size_t cap)
{
    if (rs_json_expect(j, '"', "a string", "%s[%d].%s", base, idx, field) < 0) return -1;
    size_t len;
    int r = rs_json_string(j, out, cap, &len);
    if (r >= 0 && rs_json_has_nul(j, out, len))
        return rs_json_fail(j, "%s[%d].%s: a NUL character (\\u0000) in the string", base, idx,
                            field);
    return r;
}

/* The members of an input tensor the decoder reads. */
typedef enum { IN_OTHER, IN_NAME, IN_SHAPE, IN_DATATYPE, IN_DATA, IN_PARAMETERS } v2_input_key;

static v2_input_key input_key(const char *key)
{
    size_t n = strlen(key);
    return RS_KEY_IS(key, n, "name")         ? IN_NAME
           : RS_KEY_IS(key, n, "shape")      ? IN_SHAPE
           : RS_KEY_IS(key, n, "datatype")   ? IN_DATATYPE
           : RS_KEY_IS(key, n, "data")       ? IN_DATA
           : RS_KEY_IS(key, n, "parameters") ? IN_PARAMETERS
                                             : IN_OTHER;
}

/* "inputs[<idx>].data", the path tensor_data.c names in its messages: one
 * digit written into a template (MAX_INPUTS keeps the index to one). */
_Static_assert(MAX_INPUTS <= 10, "the data path has room for one digit of index");
#define DATA_PATH_TEMPLATE "inputs[0].data"
#define DATA_PATH_DIGIT    7 /* where the '0' is */

static int v2_input_member(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v2_input_ctx *c = ctx;
    v2_input *t = c->t;
    v2_input_key k = truncated ? IN_OTHER : input_key(key);
    bool seen = (k == IN_NAME && t->has_name) || (k == IN_SHAPE && t->has_shape) ||
                (k == IN_DATATYPE && t->has_dt) || (k == IN_DATA && t->has_data);
    if (seen) return rs_json_fail(j, "inputs[%d]: '%s' given twice", c->idx, key);
    switch (k) {
    case IN_NAME: {
        int s = v2_string(j, "inputs", c->idx, "name", t->name, sizeof t->name);
        t->name_long = s == 1;
        t->has_name = s >= 0;
        return s < 0 ? -1 : 0;
    }
    case IN_SHAPE:
        return v2_shape(j, t, c->idx);
    case IN_DATATYPE: {
        char dt[16];
        int s = v2_string(j, "inputs", c->idx, "datatype", dt, sizeof dt);
        if (s < 0) return -1;
        t->dt = s == 0 ? rs_datatype_parse(dt) : RS_DT_INVALID;
        if (t->dt == RS_DT_INVALID)
            return rs_json_fail(j,
                                "inputs[%d].datatype: expected one of FP32, FP64, INT8, INT16, "
                                "INT32, INT64, UINT8, UINT16, UINT32, UINT64, BOOL",
                                c->idx);
        t->has_dt = true;
        return 0;
    }
    case IN_DATA: {
        char dpath[] = DATA_PATH_TEMPLATE;
        dpath[DATA_PATH_DIGIT] = (char)('0' + c->idx);
        /* The declared count (negative when too large: no hint): the
         * reader's buffer stops growing at it, never starts there. */
        size_t hint = t->has_shape && t->count > 0 ? (size_t)t->count : 0;
        if (rs_tensor_data_read(j, &t->data, hint, dpath) < 0) return -1;
        t->has_data = true;
        return 0;
    }
    case IN_PARAMETERS:
        if (rs_json_expect(j, '{', "an object", "inputs[%d].parameters", c->idx) < 0) return -1;
        return rs_json_members(j, 3, v2_input_parameter, c);
    case IN_OTHER:
        break;
    }
    return 1;
}

static int v2_input_parse(rs_json *j, v2_input *t, int idx)
{
    v2_input_ctx c = {t, idx};
    if (rs_json_expect(j, '{', "an object", "inputs[%d]", idx) < 0) return -1;
    return rs_json_members(j, 2, v2_input_member, &c);
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
    /* "input '<name>'" (the name is at most RS_KEY_CAP - 1 bytes: it fits). */
    static const char pre[] = "input '";
    size_t nl = strlen(t->name);
    memcpy(name, pre, sizeof pre - 1);
    memcpy(name + sizeof pre - 1, t->name, nl);
    memcpy(name + sizeof pre - 1 + nl, "'", 2);
    if (!t->has_shape) {
        snprintf(err, errlen, "%s: missing 'shape'", name);
        return 400;
    }
    if (!t->has_dt) {
        snprintf(err, errlen, "%s: missing 'datatype'", name);
        return 400;
    }
    if (t->count < 0) {
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
    size_t n = (size_t)snprintf(out, cap, "'%s'", mlp_model_output_name(m));
    for (size_t i = 0; i < N_DIAG_OUTPUTS && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, ", '%s'", diag_outputs[i].name);
}

typedef struct {
    unsigned requested;
    unsigned bin_set, bin_val; /* outputs with an explicit binary_data */
    int classification;
} v2_outputs;

/* One entry of "outputs" being read. */
typedef struct {
    const mlp_model *m;
    int idx; /* in "outputs", for messages */
    bool has_name, has_bin, bin;
    int k;
    unsigned flag;
} v2_output_ctx;

static int v2_output_parameter(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v2_output_ctx *c = ctx;
    if (truncated) return 1;
    size_t n = strlen(key);
    if (RS_KEY_IS(key, n, "binary_data")) {
        c->has_bin = true;
        return rs_decode_bool_at(j, &c->bin, "outputs[%d].parameters.binary_data", c->idx);
    }
    if (RS_KEY_IS(key, n, "classification")) {
        double d;
        if (rs_decode_integer_at(j, 1, 1e9, "a positive integer", &d,
                                 "outputs[%d].parameters.classification", c->idx) < 0)
            return -1;
        c->k = (int)d;
        return 0;
    }
    return 1;
}

static int v2_output_member(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v2_output_ctx *c = ctx;
    size_t n = truncated ? 0 : strlen(key);
    if (!truncated && RS_KEY_IS(key, n, "parameters")) {
        if (rs_json_expect(j, '{', "an object", "outputs[%d].parameters", c->idx) < 0) return -1;
        return rs_json_members(j, 3, v2_output_parameter, c);
    }
    if (truncated || !RS_KEY_IS(key, n, "name")) return 1;
    char name[RS_KEY_CAP];
    int s = v2_string(j, "outputs", c->idx, "name", name, sizeof name);
    if (s < 0) return -1;
    c->flag = 0;
    if (s == 0 && strcmp(name, mlp_model_output_name(c->m)) == 0) c->flag = RS_OUT_PRIMARY;
    for (size_t i = 0; s == 0 && c->flag == 0 && i < N_DIAG_OUTPUTS; i++)
        if (strcmp(name, diag_outputs[i].name) == 0) c->flag = diag_outputs[i].flag;
    if (c->flag == 0) {
        char exp[512];
        outputs_expected(c->m, exp, sizeof exp);
        return rs_json_fail(j, "outputs[%d].name: unknown output '%s'; expected one of %s", c->idx,
                            name, exp);
    }
    c->has_name = true;
    return 0;
}

static int v2_output_parse(rs_json *j, const mlp_model *m, v2_outputs *o, int idx)
{
    v2_output_ctx c = {.m = m, .idx = idx};
    if (rs_json_expect(j, '{', "an object", "outputs[%d]", idx) < 0 ||
        rs_json_members(j, 2, v2_output_member, &c) < 0)
        return -1;
    if (!c.has_name) return rs_json_fail(j, "outputs[%d]: missing 'name'", idx);
    if (c.k > 0 && c.flag != RS_OUT_PRIMARY)
        return rs_json_fail(j,
                            "outputs[%d].parameters.classification: only the model output '%s' "
                            "can be classified",
                            idx, mlp_model_output_name(m));
    if (c.k > 0) o->classification = c.k;
    o->requested |= c.flag;
    if (c.has_bin) {
        o->bin_set |= c.flag;
        if (c.bin) o->bin_val |= c.flag;
    }
    return 0;
}

/* The request being read: the model and the request's own fields, and what
 * the body gave so far (the member callbacks' ctx). */
typedef struct {
    const mlp_model *m;
    rs_request *req;
    int n_in;
    bool has_inputs;
    v2_outputs out;
    bool has_outputs;
    bool binary_output; /* parameters.binary_data_output */
    int classification; /* parameters.classification */
    /* Last: only the first n_in are ever read, each zeroed as it starts
     * (v2_inputs), so rs_decode_v2 zeroes the fields above alone. */
    v2_input in[MAX_INPUTS];
} v2_body;

static void v2_body_free(v2_body *b)
{
    for (int i = 0; i < b->n_in; i++) {
        rs_tensor_data_free(&b->in[i].data);
        rs_tensor_free(&b->in[i].tensor);
    }
}

static int v2_parameter(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v2_body *b = ctx;
    if (truncated) return 1;
    size_t n = strlen(key);
    if (RS_KEY_IS(key, n, "binary_data_output"))
        return rs_decode_bool(j, "parameters.binary_data_output", &b->binary_output);
    if (RS_KEY_IS(key, n, "preactivations"))
        return rs_decode_bool(j, "parameters.preactivations", &b->req->preactivations);
    if (!RS_KEY_IS(key, n, "classification")) return 1;
    double d;
    if (rs_decode_integer(j, "parameters.classification", 1, 1e9, "a positive integer", &d) < 0)
        return -1;
    b->classification = (int)d;
    return 0;
}

static int v2_inputs(rs_json *j, v2_body *b)
{
    if (b->has_inputs) return rs_json_fail(j, "inputs: given twice");
    b->has_inputs = true;
    if (rs_json_expect(j, '[', "an array of tensors", "inputs") < 0) return -1;
    rs_json_array_begin(j);
    bool first = true;
    int r;
    while ((r = rs_json_array_next(j, &first)) == 1) {
        if (b->n_in == MAX_INPUTS)
            return rs_json_fail(j, "inputs: more than %d tensors", MAX_INPUTS);
        v2_input *t = &b->in[b->n_in++];
        memset(t, 0, sizeof *t);
        if (v2_input_parse(j, t, b->n_in - 1) < 0) return -1;
    }
    return r;
}

static int v2_outputs_read(rs_json *j, v2_body *b)
{
    if (rs_json_expect(j, '[', "an array", "outputs") < 0) return -1;
    b->has_outputs = true;
    rs_json_array_begin(j);
    bool first = true;
    int r, idx = 0;
    while ((r = rs_json_array_next(j, &first)) == 1)
        if (v2_output_parse(j, b->m, &b->out, idx++) < 0) return -1;
    return r;
}

static int v2_member(rs_json *j, const char *key, bool truncated, void *ctx)
{
    v2_body *b = ctx;
    if (truncated) return 1;
    size_t n = strlen(key);
    if (RS_KEY_IS(key, n, "id")) {
        free(b->req->id);
        b->req->id = NULL;
        return rs_json_string_dup(j, ID_MAX, "id", &b->req->id) < 0 ? -1 : 0;
    }
    if (RS_KEY_IS(key, n, "inputs")) return v2_inputs(j, b);
    if (RS_KEY_IS(key, n, "outputs")) return v2_outputs_read(j, b);
    if (RS_KEY_IS(key, n, "parameters"))
        return rs_decode_parameters(j, "parameters", b->req, v2_parameter, b);
    return 1;
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
        if (!t->name_long && strcmp(t->name, mlp_model_input_name(m)) == 0)
            x = t;
        else if (!t->name_long && strcmp(t->name, "labels") == 0)
            labels = t;
        else if (!t->name_long && strcmp(t->name, "targets") == 0)
            targets = t;
        else {
            snprintf(err, errlen,
                     "inputs[%d]: unknown input '%s'; expected '%s', 'labels' or 'targets'", i,
                     t->name, mlp_model_input_name(m));
            return 400;
        }
    }
    if (x == NULL) {
        snprintf(err, errlen, "inputs: no tensor named '%s' (the model's input)",
                 mlp_model_input_name(m));
        return 400;
    }
    char sh[128];
    if (x->rank != 2 || x->shape[1] != mlp_model_n_inputs(m)) {
        rs_shape_format(x->shape, x->rank, sh, sizeof sh);
        snprintf(err, errlen, "input '%s': shape must be [rows, %d], got %s", x->name,
                 mlp_model_n_inputs(m), sh);
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
    if (targets != NULL && (targets->rank != 2 || targets->shape[0] != rows ||
                            targets->shape[1] != mlp_model_n_outputs(m))) {
        rs_shape_format(targets->shape, targets->rank, sh, sizeof sh);
        snprintf(err, errlen, "input 'targets': shape must be [%lld, %d], got %s", (long long)rows,
                 mlp_model_n_outputs(m), sh);
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

    /* On the stack (about 4.5 KB): a heap block that size per request went
     * past malloc's per-thread cache into its bins. */
    v2_body parsed;
    v2_body *b = &parsed;
    memset(b, 0, offsetof(v2_body, in));
    b->m = m;
    b->req = req;
    int status = 0;
    rs_json j;
    rs_json_init(&j, body, jl, err, errlen);
    if (rs_json_document(&j, v2_member, b) < 0) {
        status = 400;
        goto done;
    }
    if (!b->has_inputs || b->n_in == 0) {
        snprintf(err, errlen, "inputs: missing; expected an array with the tensor '%s'",
                 mlp_model_input_name(m));
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
    if (k > 0) req->classification = k < mlp_model_n_outputs(m) ? k : mlp_model_n_outputs(m);
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
    status = rs_decode_response_fits(m, lim, req, err, errlen);

done:
    v2_body_free(b);
    if (status) rs_request_free(req);
    return status;
}
