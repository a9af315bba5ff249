/*
 * fuzz_codec.h — what the request-decoder targets share (fuzz_v2_json,
 * fuzz_v2_binary, fuzz_v1_predict, fuzz_labels_targets): the server's own
 * limits, the models, bodies bigger than the input, and the invariants every
 * decode must keep.
 *
 * Limits are the server's defaults read from config.c (rows per request,
 * body size, answer size), never smaller caps: the 65535-empty-rows overflow
 * hid behind a 64-row cap in the old single target.
 *
 * Invariants checked on every decoded request, not only "no crash":
 * - a refusal is a 400 or 413 with a message that encodes as a JSON error,
 *   and leaves nothing allocated in the request;
 * - rows is in [1, max rows], x_count is rows x n_inputs, the buffers hold at
 *   least their counts (ASan's exact allocation size), every value is finite
 *   and was written: fresh allocations are filled with 0xff bytes (a NaN
 *   float, label -1) by __asan_default_options below, so a slot the decoder
 *   did not write stays NaN and fails the check;
 * - labels lie in [0, mlp_model_classes), targets are rows x n_outputs;
 * - encode(decode(x)) round-trips: the request re-encoded as a canonical v2
 *   JSON body (and v1 or binary where the target says) decodes to the same
 *   bits, rows, labels, targets, id, outputs and parameters;
 * - the batch runner answers it (up to FUZZ_ANSWER_ROWS rows) with a
 *   parseable JSON body whose output has rows rows (or a 400 for a loss it
 *   cannot compute), no longer than rs_response_bound said before the
 *   compute (what --max-response-bytes is checked against).
 *
 * Header-only: every tests/fuzz/fuzz_*.c is one binary.
 */
#ifndef FUZZ_CODEC_H
#define FUZZ_CODEC_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec/codec.h"
#include "config.h"
#include "fuzz_check.h"
#include "infer.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/allocator_interface.h>
#define FUZZ_CODEC_ASAN 1
#endif
#endif

const char *__asan_default_options(void);

/* Every malloc'd byte starts as 0xff (up to 256 MiB per allocation): an
 * unwritten float reads as NaN, an unwritten label as -1. */
const char *__asan_default_options(void)
{
    return "malloc_fill_byte=255:max_malloc_fill_size=268435456";
}

#define FUZZ_ANSWER_ROWS 4096

/* ------------------------------------------------------------- set-up */

enum { FUZZ_CLASSIFIER = 0, FUZZ_BINARY, FUZZ_REGRESSOR, FUZZ_N_MODELS };

typedef struct {
    mlp_model *models[FUZZ_N_MODELS];
    rs_decode_limits lim; /* the server's: --max-rows, --max-response-bytes defaults */
    size_t max_body;      /* the server's --max-body default */
    bool verbose;         /* FUZZ_CODEC_VERBOSE set: print each decode's status */
    rs_infer_scratch scratch;
} fuzz_codec_env;

static fuzz_codec_env *fuzz_env(void)
{
    static fuzz_codec_env env;
    static bool ready;
    if (ready) return &env;
    rs_config cfg;
    rs_config_defaults(&cfg);
    env.lim.max_rows = cfg.max_rows;
    env.lim.max_response_bytes = (size_t)cfg.max_response_bytes;
    env.lim.mid = (rs_model_id){"fuzz", "1"};
    env.max_body = (size_t)cfg.max_body;
    rs_config_free(&cfg);
    env.verbose = getenv("FUZZ_CODEC_VERBOSE") != NULL;

    /* iris-like: 4 inputs, 3 softmax classes with names */
    mlp_layer_spec cls[] = {{5, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    FUZZ_CHECK(mlp_model_create(4, cls, 2, &env.models[FUZZ_CLASSIFIER], NULL) == MLP_OK, "model");
    const char *names[] = {"setosa", "versicolor", "virginica"};
    FUZZ_CHECK(mlp_model_set_labels(env.models[FUZZ_CLASSIFIER], names, NULL) == MLP_OK, "labels");
    /* two classes in one sigmoid unit: labels 0/1 */
    mlp_layer_spec bin[] = {{5, MLP_ACT_RELU, 0}, {1, MLP_ACT_SIGMOID, 0}};
    FUZZ_CHECK(mlp_model_create(4, bin, 2, &env.models[FUZZ_BINARY], NULL) == MLP_OK, "model");
    FUZZ_CHECK(mlp_model_set_task(env.models[FUZZ_BINARY], MLP_TASK_CLASSIFICATION, NULL) == MLP_OK,
               "task");
    /* regression, 2 outputs */
    mlp_layer_spec reg[] = {{3, MLP_ACT_TANH, 0}, {2, MLP_ACT_IDENTITY, 0}};
    FUZZ_CHECK(mlp_model_create(4, reg, 2, &env.models[FUZZ_REGRESSOR], NULL) == MLP_OK, "model");
    for (int i = 0; i < FUZZ_N_MODELS; i++)
        FUZZ_CHECK(mlp_model_init(env.models[i], MLP_INIT_AUTO, 11u + (unsigned)i, NULL) == MLP_OK,
                   "init");
    /* the server's default kernel */
    FUZZ_CHECK(rs_infer_scratch_init(&env.scratch, MLP_KERNEL_NATIVE) == 0, "scratch");
    ready = true;
    return &env;
}

/* --------------------------------------------------------------- bodies */

/*
 * How many times a template's count bytes c0 c1 repeat their unit: c0 << c1
 * when c1 <= 9 (exact counts up to 255 << 9 = 130560, past the row limit:
 * 128 << 9 = 65536, and 65535 is 255 << 8 followed by a second run of 255),
 * c0 >> (c1 % 8) otherwise. Log-scale on purpose: a count byte the fuzzer
 * mutates at random mostly means a few repetitions (median 8, mean 539 over
 * all byte pairs, 1.6% of them past 4096), so most executions decode small
 * bodies fast while the limits stay one byte away. With c0 + 256 * c1, as
 * before, random bytes meant 32768 repetitions on average, and a decoder
 * target ran a few thousand inputs a second at best.
 */
static size_t fuzz_template_count(uint8_t c0, uint8_t c1)
{
    return c1 <= 9 ? (size_t)c0 << c1 : (size_t)c0 >> (c1 % 8);
}

/*
 * An input starting with 0xff is a template: 0x01 c0 c1 <unit> 0x02 stands
 * for unit repeated fuzz_template_count(c0, c1) times (0x02 or the end
 * closes the unit), so a few bytes say "65535 rows of [[],[],[],[]]" within
 * libFuzzer's default input size. Any other input is the body itself.
 * Returns an exact-size copy (ASan sees any read past its end), or NULL when
 * the body would be larger than max (the server answers 413 before decoding).
 */
static char *fuzz_body(const uint8_t *in, size_t n, size_t max, size_t *len)
{
    bool tmpl = n > 0 && in[0] == 0xff;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        char *out = NULL;
        if (pass == 1) {
            out = malloc(total ? total : 1);
            FUZZ_CHECK(out != NULL, "out of memory for a %zu-byte body", total);
        }
        size_t o = 0;
        if (!tmpl) {
            if (pass == 0) {
                total = n;
                if (total > max) return NULL;
                continue;
            }
            if (n) memcpy(out, in, n);
            *len = n;
            return out;
        }
        for (size_t i = 1; i < n;) {
            if (in[i] != 0x01) {
                if (pass == 1) out[o] = (char)in[i];
                o++, i++;
                continue;
            }
            size_t reps = fuzz_template_count(i + 1 < n ? in[i + 1] : 0, i + 2 < n ? in[i + 2] : 0);
            size_t start = i + 3 < n ? i + 3 : n, end = start;
            while (end < n && in[end] != 0x02)
                end++;
            size_t unit = end - start;
            if (pass == 0 && unit > 0 && reps > (max + 1) / unit) return NULL;
            for (size_t r = 0; r < reps; r++) {
                if (pass == 1) memcpy(out + o, in + start, unit);
                o += unit;
            }
            if (pass == 0 && o > max) return NULL;
            i = end < n ? end + 1 : n;
        }
        if (pass == 0) {
            total = o;
            if (total > max) return NULL;
        } else {
            *len = o;
            return out;
        }
    }
    return NULL;
}

/* ----------------------------------------------------------- invariants */

/* A refusal: 400 or 413 with a message, and an empty request. */
static void fuzz_check_refusal(int st, const rs_request *r, const char *err, size_t errlen)
{
    FUZZ_CHECK(st == 400 || st == 413, "status %d for a bad body (err '%s')", st, err);
    size_t n = strnlen(err, errlen);
    FUZZ_CHECK(n > 0 && n < errlen, "status %d without a message", st);
    FUZZ_CHECK(r->x == NULL && r->labels == NULL && r->targets == NULL && r->id == NULL,
               "a refused request still holds memory");
    rs_buf b;
    rs_buf_init(&b);
    rs_encode_error(&b, err);
    FUZZ_CHECK(!b.failed, "error body");
    json_t *doc = json_loadb(b.data, b.len, 0, NULL);
    FUZZ_CHECK(doc != NULL && json_is_string(json_object_get(doc, "error")),
               "error body is not {\"error\": \"...\"}: %s", b.data);
    json_decref(doc);
    rs_buf_free(&b);
}

/* p holds at least bytes (ASan knows each allocation's requested size). */
static void fuzz_check_holds(const void *p, size_t bytes, const char *what)
{
    FUZZ_CHECK(p != NULL, "%s is NULL", what);
#ifdef FUZZ_CODEC_ASAN
    size_t got = __sanitizer_get_allocated_size(p);
    FUZZ_CHECK(got >= bytes, "%s: %zu bytes allocated, %zu needed", what, got, bytes);
#else
    (void)bytes;
#endif
}

/* A decoded request is what its tensors say, every value written. */
static void fuzz_check_request(const fuzz_codec_env *env, const mlp_model *m, const rs_request *r)
{
    FUZZ_CHECK(r->rows >= 1 && r->rows <= env->lim.max_rows, "rows %d outside [1, %d]", r->rows,
               env->lim.max_rows);
    size_t rows = (size_t)r->rows;
    FUZZ_CHECK(r->x_count == rows * (size_t)m->n_inputs,
               "rows %zu x n_inputs %d != the input tensor's count %zu", rows, m->n_inputs,
               r->x_count);
    fuzz_check_holds(r->x, r->x_count * sizeof(float), "x");
    for (size_t i = 0; i < r->x_count; i++)
        FUZZ_CHECK(isfinite(r->x[i]), "x[%zu] = %g: not written, or not finite", i,
                   (double)r->x[i]);
    if (r->labels != NULL) {
        int classes = mlp_model_classes(m);
        FUZZ_CHECK(r->labels_count == rows, "%zu labels for %zu rows", r->labels_count, rows);
        fuzz_check_holds(r->labels, rows * sizeof(int), "labels");
        for (size_t i = 0; i < rows; i++)
            FUZZ_CHECK(r->labels[i] >= 0 && r->labels[i] < classes,
                       "labels[%zu] = %d outside [0, %d)", i, r->labels[i], classes);
    } else {
        FUZZ_CHECK(r->labels_count == 0, "labels_count %zu without labels", r->labels_count);
    }
    if (r->targets != NULL) {
        size_t want = rows * (size_t)m->n_outputs;
        FUZZ_CHECK(r->targets_count == want, "%zu targets for %zu rows x %d outputs",
                   r->targets_count, rows, m->n_outputs);
        fuzz_check_holds(r->targets, want * sizeof(float), "targets");
        for (size_t i = 0; i < want; i++)
            FUZZ_CHECK(isfinite(r->targets[i]), "targets[%zu] = %g: not written, or not finite", i,
                       (double)r->targets[i]);
    } else {
        FUZZ_CHECK(r->targets_count == 0, "targets_count %zu without targets", r->targets_count);
    }
    FUZZ_CHECK(r->labels == NULL || r->targets == NULL, "both labels and targets");
    FUZZ_CHECK(r->outputs != 0, "no outputs");
    FUZZ_CHECK((r->binary_outputs & ~r->outputs) == 0, "binary outputs not requested");
    FUZZ_CHECK(r->classification >= 0 && r->classification <= m->n_outputs, "classification %d",
               r->classification);
}

/* ------------------------------------------------------------ round trip */

/* The RS_OUT_* flags by bit, as a v2 body names them (index 0: the model's). */
static const char *const fuzz_output_names[] = {
    NULL,
    "input_gradient",
    "layer_dead_fraction",
    "layer_sparsity",
    "layer_weight_grad_norm",
    "layer_bias_grad_norm",
    "layer_activation_grad_norm",
    "dead_fraction",
    "loss",
};
#define FUZZ_N_OUTPUTS (sizeof fuzz_output_names / sizeof fuzz_output_names[0])

static const char *fuzz_diag_name(rs_diag_level d)
{
    return d == RS_DIAG_NONE ? "none" : d == RS_DIAG_SUMMARY ? "summary" : "full";
}

static void fuzz_floats(rs_buf *b, const float *v, size_t n)
{
    rs_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) rs_buf_puts(b, ",");
        rs_buf_float(b, v[i]);
    }
    rs_buf_puts(b, "]");
}

static void fuzz_le(rs_buf *tail, uint32_t u)
{
    unsigned char p[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 24)};
    rs_buf_append(tail, p, 4);
}

/* One v2 input tensor, as JSON data or as bytes appended to tail. */
static void fuzz_v2_tensor(rs_buf *b, rs_buf *tail, const char *name, int rows, int width,
                           const float *f, const int *labels)
{
    size_t n = (size_t)rows * (size_t)(width ? width : 1);
    rs_buf_puts(b, "{\"name\":");
    rs_buf_json_string(b, name);
    if (width)
        rs_buf_printf(b, ",\"shape\":[%d,%d]", rows, width);
    else
        rs_buf_printf(b, ",\"shape\":[%d]", rows);
    rs_buf_printf(b, ",\"datatype\":\"%s\"", labels ? "INT32" : "FP32");
    if (tail != NULL) {
        rs_buf_printf(b, ",\"parameters\":{\"binary_data_size\":%zu}}", 4 * n);
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            if (labels) {
                u = (uint32_t)labels[i];
            } else {
                memcpy(&u, &f[i], 4);
            }
            fuzz_le(tail, u);
        }
        return;
    }
    rs_buf_puts(b, ",\"data\":");
    if (labels) {
        rs_buf_puts(b, "[");
        for (size_t i = 0; i < n; i++)
            rs_buf_printf(b, i ? ",%d" : "%d", labels[i]);
        rs_buf_puts(b, "]");
    } else {
        fuzz_floats(b, f, n);
    }
    rs_buf_puts(b, "}");
}

/* r as a canonical v2 body: every field spelled out, so it decodes to r
 * whichever protocol r came from. binary: tensors as bytes after the JSON
 * (*json_len is then the JSON part's length). */
static void fuzz_v2_canonical(rs_buf *b, const mlp_model *m, const rs_request *r, bool binary,
                              size_t *json_len)
{
    rs_buf tail;
    rs_buf_init(&tail);
    rs_buf *t = binary ? &tail : NULL;
    rs_buf_puts(b, "{");
    if (r->id != NULL) {
        rs_buf_puts(b, "\"id\":");
        rs_buf_json_string(b, r->id);
        rs_buf_puts(b, ",");
    }
    rs_buf_puts(b, "\"inputs\":[");
    fuzz_v2_tensor(b, t, m->input_name, r->rows, m->n_inputs, r->x, NULL);
    if (r->labels) {
        rs_buf_puts(b, ",");
        fuzz_v2_tensor(b, t, "labels", r->rows, 0, NULL, r->labels);
    }
    if (r->targets) {
        rs_buf_puts(b, ",");
        fuzz_v2_tensor(b, t, "targets", r->rows, m->n_outputs, r->targets, NULL);
    }
    rs_buf_puts(b, "],\"outputs\":[");
    bool first = true;
    for (size_t i = 0; i < FUZZ_N_OUTPUTS; i++) {
        unsigned flag = 1u << i;
        if (!(r->outputs & flag)) continue;
        rs_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
        first = false;
        rs_buf_json_string(b, i == 0 ? m->output_name : fuzz_output_names[i]);
        rs_buf_printf(b, ",\"parameters\":{\"binary_data\":%s",
                      (r->binary_outputs & flag) ? "true" : "false");
        if (i == 0 && r->classification > 0)
            rs_buf_printf(b, ",\"classification\":%d", r->classification);
        rs_buf_puts(b, "}}");
    }
    rs_buf_printf(b, "],\"parameters\":{\"diagnostics\":\"%s\",\"timeout_us\":%lld}}",
                  fuzz_diag_name(r->diag), (long long)r->timeout_us);
    *json_len = b->len;
    rs_buf_append(b, tail.data, tail.len);
    FUZZ_CHECK(!b->failed && !tail.failed, "out of memory re-encoding");
    rs_buf_free(&tail);
}

/* r as a canonical v1 body ("instances" rows, labels or targets, parameters). */
static void fuzz_v1_canonical(rs_buf *b, const mlp_model *m, const rs_request *r)
{
    size_t w = (size_t)m->n_inputs, o = (size_t)m->n_outputs;
    rs_buf_puts(b, "{\"instances\":[");
    for (int i = 0; i < r->rows; i++) {
        if (i) rs_buf_puts(b, ",");
        fuzz_floats(b, r->x + (size_t)i * w, w);
    }
    rs_buf_puts(b, "]");
    if (r->labels) {
        rs_buf_puts(b, ",\"labels\":[");
        for (int i = 0; i < r->rows; i++)
            rs_buf_printf(b, i ? ",%d" : "%d", r->labels[i]);
        rs_buf_puts(b, "]");
    }
    if (r->targets) {
        rs_buf_puts(b, ",\"targets\":[");
        for (int i = 0; i < r->rows; i++) {
            if (i) rs_buf_puts(b, ",");
            fuzz_floats(b, r->targets + (size_t)i * o, o);
        }
        rs_buf_puts(b, "]");
    }
    rs_buf_printf(b, ",\"parameters\":{\"diagnostics\":\"%s\",\"timeout_us\":%lld}}",
                  fuzz_diag_name(r->diag), (long long)r->timeout_us);
    FUZZ_CHECK(!b->failed, "out of memory re-encoding");
}

/* Same bits and the same meaning (proto and v1_instances aside). */
static void fuzz_check_same(const rs_request *a, const rs_request *b, const char *how)
{
    FUZZ_CHECK(a->rows == b->rows, "%s: rows %d became %d", how, a->rows, b->rows);
    FUZZ_CHECK(a->x_count == b->x_count, "%s: x_count changed", how);
    FUZZ_CHECK(memcmp(a->x, b->x, a->x_count * sizeof(float)) == 0, "%s: x changed", how);
    FUZZ_CHECK(a->labels_count == b->labels_count && (a->labels == NULL) == (b->labels == NULL),
               "%s: labels changed", how);
    if (a->labels)
        FUZZ_CHECK(memcmp(a->labels, b->labels, a->labels_count * sizeof(int)) == 0,
                   "%s: label values changed", how);
    FUZZ_CHECK(a->targets_count == b->targets_count && (a->targets == NULL) == (b->targets == NULL),
               "%s: targets changed", how);
    if (a->targets)
        FUZZ_CHECK(memcmp(a->targets, b->targets, a->targets_count * sizeof(float)) == 0,
                   "%s: target values changed", how);
    FUZZ_CHECK((a->id == NULL) == (b->id == NULL) && (!a->id || strcmp(a->id, b->id) == 0),
               "%s: id changed", how);
    FUZZ_CHECK(a->diag == b->diag && a->timeout_us == b->timeout_us, "%s: parameters changed", how);
    FUZZ_CHECK(a->outputs == b->outputs && a->binary_outputs == b->binary_outputs &&
                   a->classification == b->classification,
               "%s: outputs changed (%x/%x/%d -> %x/%x/%d)", how, a->outputs, a->binary_outputs,
               a->classification, b->outputs, b->binary_outputs, b->classification);
}

/* Re-encodes r canonically (v2 JSON; v2 binary and v1 when asked) and checks
 * each decodes to the same request. */
static void fuzz_round_trip(const fuzz_codec_env *env, const mlp_model *m, const rs_request *r,
                            bool binary, bool v1)
{
    char err[1024];
    for (int form = 0; form < 3; form++) {
        if ((form == 1 && !binary) || (form == 2 && !v1)) continue;
        rs_buf b;
        rs_buf_init(&b);
        size_t json_len = 0;
        if (form == 2)
            fuzz_v1_canonical(&b, m, r);
        else
            fuzz_v2_canonical(&b, m, r, form == 1, &json_len);
        rs_request again;
        int st = form == 2 ? rs_decode_v1(m, b.data, b.len, &env->lim, &again, err, sizeof err)
                           : rs_decode_v2(m, b.data, b.len, form == 1 ? json_len : 0, &env->lim,
                                          &again, err, sizeof err);
        const char *how = form == 0   ? "v2 JSON round trip"
                          : form == 1 ? "v2 binary round trip"
                                      : "v1 round trip";
        FUZZ_CHECK(st == 0, "%s: %d %s\nbody: %.2000s", how, st, err, b.data);
        fuzz_check_same(r, &again, how);
        rs_request_free(&again);
        rs_buf_free(&b);
    }
}

/* ----------------------------------------------------------- the answer */

/* The batch runner answers r: a parseable body with rows rows of output, or
 * a 400 for a target the model has no loss for. */
static void fuzz_check_answer(fuzz_codec_env *env, const mlp_model *m, rs_request *r)
{
    rs_infer_item it = {.req = r};
    rs_buf_init(&it.body);
    FUZZ_CHECK(rs_infer_run(m, &env->lim.mid, &env->scratch, &it, 1, NULL, NULL) == 0,
               "batch failed");
    if (it.status == 200) { /* the bytes sent: a JSON answer ends with a newline */
        size_t sent = it.body.len + (it.json_len == it.body.len ? 1 : 0);
        size_t bound = rs_response_bound(&env->lim.mid, m, r);
        FUZZ_CHECK(sent <= bound, "answer of %zu bytes over its bound %zu", sent, bound);
    }
    json_t *doc = json_loadb(it.body.data, it.json_len, 0, NULL);
    FUZZ_CHECK(doc != NULL, "status %d: response is not JSON: %.500s", it.status, it.body.data);
    if (it.status == 200) {
        json_t *rows_of = NULL;
        if (r->proto == RS_PROTO_V1) {
            rows_of = json_object_get(doc, r->v1_instances ? "predictions" : "outputs");
            FUZZ_CHECK(json_array_size(rows_of) == (size_t)r->rows, "%zu rows answered, not %d",
                       json_array_size(rows_of), r->rows);
        } else {
            /* One tensor per requested output; the model's own has rows rows. */
            json_t *outs = json_object_get(doc, "outputs");
            FUZZ_CHECK(json_array_size(outs) == (size_t)__builtin_popcount(r->outputs),
                       "%zu output tensors for outputs %x", json_array_size(outs), r->outputs);
            rows_of = outs;
            for (size_t i = 0; i < json_array_size(outs); i++) {
                json_t *out = json_array_get(outs, i);
                const char *name = json_string_value(json_object_get(out, "name"));
                FUZZ_CHECK(name != NULL, "output %zu has no name", i);
                if (strcmp(name, m->output_name) != 0) continue;
                json_t *shape = json_object_get(out, "shape");
                FUZZ_CHECK(json_integer_value(json_array_get(shape, 0)) == r->rows,
                           "output shape[0] is not %d rows", r->rows);
            }
        }
        FUZZ_CHECK(rows_of != NULL, "no output in %.500s", it.body.data);
    } else {
        FUZZ_CHECK(it.status == 400 && (r->labels || r->targets),
                   "status %d for a decoded request: %.500s", it.status, it.body.data);
        FUZZ_CHECK(json_is_string(json_object_get(doc, "error")), "error body");
    }
    json_decref(doc);
    rs_buf_free(&it.body);
}

/* Decodes body with v1 or v2 on m and checks everything above. */
static void fuzz_decode_and_check(fuzz_codec_env *env, const mlp_model *m, bool v1,
                                  const char *body, size_t len, size_t json_len)
{
    rs_request r;
    char err[1024];
    err[0] = '\0';
    int st = v1 ? rs_decode_v1(m, body, len, &env->lim, &r, err, sizeof err)
                : rs_decode_v2(m, body, len, json_len, &env->lim, &r, err, sizeof err);
    if (env->verbose) /* FUZZ_CODEC_VERBOSE=1 build/fuzz/<target> FILE: what one input did */
        fprintf(stderr, "decode: %d %s (%d rows, %zu-byte body)\n", st, st ? err : "ok",
                st ? 0 : r.rows, len);
    if (st != 0) {
        fuzz_check_refusal(st, &r, err, sizeof err);
        rs_request_free(&r);
        return;
    }
    fuzz_check_request(env, m, &r);
    fuzz_round_trip(env, m, &r, !v1 || json_len > 0, v1);
    /* The answer of a big request costs half a second under ASan (forward,
     * backward, diagnostics, a JSON parse of every output); the decode checks
     * above run at every size, the answer's up to FUZZ_ANSWER_ROWS rows, where
     * the encoder's paths are the same. */
    if (r.rows <= FUZZ_ANSWER_ROWS) fuzz_check_answer(env, m, &r);
    rs_request_free(&r);
}

/* A whole fuzz input as one JSON body (v1 or v2) for the classifier: the
 * body of fuzz_v1_predict and fuzz_v2_json. */
static inline int fuzz_json_body_target(const uint8_t *data, size_t size, bool v1)
{
    fuzz_codec_env *env = fuzz_env();
    size_t len;
    char *body = fuzz_body(data, size, env->max_body, &len);
    if (body == NULL) return 0; /* past --max-body: a 413 before any decoding */
    fuzz_decode_and_check(env, env->models[FUZZ_CLASSIFIER], v1, body, len, 0);
    free(body);
    return 0;
}

#endif /* FUZZ_CODEC_H */
