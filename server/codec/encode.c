/*
 * encode — responses: v2 (with the binary tensor and classification
 * extensions, diagnostic tensors and the diagnostics object), v1 predictions,
 * and error bodies.
 *
 * JSON has no NaN or infinity; a non-finite number (gradient_ratio when the
 * last layer's gradient is exactly zero, or an overflowed norm) is written as
 * null, which every JSON reader accepts.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Room per value: mlp_format_float's longest text plus a separator (its
 * MLP_FLOAT_TEXT_MAX counts the NUL, which takes the separator's place). */
#define FLOAT_TEXT_MAX MLP_FLOAT_TEXT_MAX

/* open, n floats separated by commas, then close (open and close are
 * open_len and close_len bytes): the hot loop of every response, in one room
 * made for all of it, then the digits straight into the buffer. Through
 * FLOATS, which passes literals and their sizes. */
static inline void floats_write(rs_buf *out, const char *open, size_t open_len, const float *v,
                                size_t n, const char *close, size_t close_len)
{
    if (n > (SIZE_MAX / 2) / FLOAT_TEXT_MAX) { /* more than any buffer holds */
        out->failed = true;
        return;
    }
    char *o = rs_buf_room(out, open_len + n * FLOAT_TEXT_MAX + close_len);
    if (o == NULL) return;
    memcpy(o, open, open_len);
    o += open_len;
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = ',';
        o += mlp_format_float(v[i], o);
    }
    memcpy(o, close, close_len);
    rs_buf_commit(out, o + close_len);
}

#define FLOATS(out, open, v, n, close)                                                             \
    floats_write((out), (open), sizeof(open) - 1, (v), (n), (close), sizeof(close) - 1)

/* Copies the string literal lit to o and returns the end of the copy: its
 * length is known here, so the copy is a few stores. */
#define PUT(o, lit) ((char *)memcpy((o), (lit), sizeof(lit) - 1) + sizeof(lit) - 1)

/* ,"key": of a member after an object's first, as one literal (key is a
 * string literal), so that it is written with one copy. */
#define KEY(key) ",\"" key "\":"

/*
 * A run of members written straight into out's room: o is the next byte,
 * left how many more fit before the byte kept for the NUL. Each writer below
 * checks the room it needs, a literal and a value at their longest, against
 * left, a register (rs_buf_room reads out's length and capacity again after
 * every store), and out's length is set once, by span_end; between
 * span_begin and span_end only these writers write to out. o is NULL once
 * out has failed, and every later writer does nothing.
 */
typedef struct {
    char *o;
    size_t left;
} span;

static inline span span_begin(rs_buf *out)
{
    if (out->failed || out->cap == 0) return (span){NULL, 0};
    return (span){out->data + out->len, out->cap - out->len - 1};
}

static inline void span_end(rs_buf *out, span s)
{
    if (s.o != NULL) rs_buf_commit(out, s.o);
}

/* s's bytes committed, out grown for n more, and the span after them. */
static span span_grow(rs_buf *out, span s, size_t n)
{
    span_end(out, s);
    if (rs_buf_room(out, n) == NULL) return (span){NULL, 0};
    return span_begin(out);
}

/* s with room for n bytes (s.left >= n), or with o NULL. */
static inline span span_room(rs_buf *out, span s, size_t n)
{
    return n <= s.left ? s : span_grow(out, s, n);
}

/* s once what was written into its room ends at end. */
static inline span span_to(span s, char *end)
{
    return (span){end, s.left - (size_t)(end - s.o)};
}

/* The literal lit (n bytes) and then a value. Through the macros below,
 * which pass a literal and its size. */
static inline span lit_float(rs_buf *out, span s, const char *lit, size_t n, float v)
{
    /* the room's byte for the NUL takes mlp_format_float's */
    s = span_room(out, s, n + FLOAT_TEXT_MAX - 1);
    if (s.o == NULL) return s;
    memcpy(s.o, lit, n);
    return span_to(s, s.o + n + mlp_format_float(v, s.o + n));
}

static inline span lit_int(rs_buf *out, span s, const char *lit, size_t n, long long v)
{
    s = span_room(out, s, n + RS_TEXT_DECIMAL_MAX);
    if (s.o == NULL) return s;
    memcpy(s.o, lit, n);
    return span_to(s, rs_text_decimal_at(s.o + n, v));
}

static inline span lit_only(rs_buf *out, span s, const char *lit, size_t n)
{
    s = span_room(out, s, n);
    if (s.o == NULL) return s;
    memcpy(s.o, lit, n);
    return span_to(s, s.o + n);
}

/* lit, then name and its closing quote (a string that needs no escaping:
 * the library's own names). */
static inline span lit_name(rs_buf *out, span s, const char *lit, size_t n, const char *name)
{
    size_t len = strlen(name);
    s = span_room(out, s, n + len + 1);
    if (s.o == NULL) return s;
    memcpy(s.o, lit, n);
    memcpy(s.o + n, name, len);
    s.o[n + len] = '"';
    return span_to(s, s.o + n + len + 1);
}

#define LIT(out, s, lit)          lit_only((out), (s), (lit), sizeof(lit) - 1)
#define LIT_FLOAT(out, s, lit, v) lit_float((out), (s), (lit), sizeof(lit) - 1, (v))
#define LIT_INT(out, s, lit, v)   lit_int((out), (s), (lit), sizeof(lit) - 1, (v))

/* Members after the first of a JSON object being written: ,"key":value. */
#define FLOAT_MEMBER(out, s, key, v) LIT_FLOAT(out, s, KEY(key), v)
#define INT_MEMBER(out, s, key, v)   LIT_INT(out, s, KEY(key), v)
#define NAME_MEMBER(out, s, key, name)                                                             \
    lit_name((out), (s), KEY(key) "\"", sizeof(KEY(key) "\"") - 1, (name))
#define BOOL_MEMBER(out, s, key, b)                                                                \
    ((b) ? LIT(out, s, KEY(key) "true") : LIT(out, s, KEY(key) "false"))

/* A tensor's opening up to its shape: {"name":...,"datatype":...,"shape":[rows
 * (,cols when cols >= 0)]. */
static void tensor_head(rs_buf *out, const char *name, bool bytes, long long rows, long long cols)
{
    rs_buf_puts(out, "{\"name\":");
    rs_buf_json_string(out, name);
    char *o = rs_buf_room(out, sizeof(",\"datatype\":\"BYTES\",\"shape\":[,]") - 1 +
                                   2 * RS_TEXT_DECIMAL_MAX);
    if (o == NULL) return;
    if (bytes)
        o = PUT(o, ",\"datatype\":\"BYTES\",\"shape\":[");
    else
        o = PUT(o, ",\"datatype\":\"FP32\",\"shape\":[");
    o = rs_text_decimal_at(o, rows);
    if (cols >= 0) {
        *o++ = ',';
        o = rs_text_decimal_at(o, cols);
    }
    *o++ = ']';
    rs_buf_commit(out, o);
}

/* The binary extension's closing of a tensor whose bytes went to the tail. */
static void binary_size_end(rs_buf *out, size_t bytes)
{
    rs_buf_puts(out, ",\"parameters\":{\"binary_data_size\":");
    rs_buf_int(out, (long long)bytes);
    rs_buf_puts(out, "}}");
}

void rs_encode_error(rs_buf *out, const char *msg)
{
    char cut[RS_ERROR_TEXT_MAX + 1];
    if (strlen(msg) > RS_ERROR_TEXT_MAX) {
        /* A character cut in two becomes U+FFFD (rs_buf_json_string). */
        memcpy(cut, msg, RS_ERROR_TEXT_MAX - 3);
        memcpy(cut + RS_ERROR_TEXT_MAX - 3, "...", 4);
        msg = cut;
    }
    rs_buf_puts(out, "{\"error\":");
    rs_buf_json_string(out, msg);
    rs_buf_puts(out, "}");
}

/* ----------------------------------------------------------- diagnostics */

static const char *gradient_target(const mlp_diagnostics *d)
{
    if (!d->has_loss) return "max_logit";
    switch (d->target) {
    case MLP_TARGET_MSE:
        return "mse";
    case MLP_TARGET_BINARY:
        return "binary_cross_entropy";
    default:
        return "cross_entropy";
    }
}

/* The diagnostics object; with z (full level only), "preactivations": per
 * layer the request's Z_l as {"shape": [rows, units], "data": [...]}, what
 * the playground's histogram and unit view draw. */
static void diagnostics_write(rs_buf *out, const mlp_model *m, const mlp_diagnostics *d,
                              rs_diag_level level, const float *const *z);

void rs_encode_diagnostics(rs_buf *out, const mlp_model *m, const mlp_diagnostics *d,
                           rs_diag_level level)
{
    diagnostics_write(out, m, d, level, NULL);
}

static void diagnostics_write(rs_buf *out, const mlp_model *m, const mlp_diagnostics *d,
                              rs_diag_level level, const float *const *z)
{
    span s = span_begin(out);
    s = LIT_INT(out, s, "{\"rows\":", d->rows);
    s = FLOAT_MEMBER(out, s, "dead_fraction", d->dead_fraction);
    s = BOOL_MEMBER(out, s, "collapsed", d->collapsed);
    s = BOOL_MEMBER(out, s, "nonfinite", d->nonfinite);
    s = NAME_MEMBER(out, s, "gradient_target", gradient_target(d));
    if (d->has_loss) s = FLOAT_MEMBER(out, s, "loss", d->loss);
    if (d->has_gradients) {
        s = FLOAT_MEMBER(out, s, "gradient_ratio", d->gradient_ratio);
        s = BOOL_MEMBER(out, s, "vanishing", d->vanishing);
        s = BOOL_MEMBER(out, s, "exploding", d->exploding);
    }
    s = LIT(out, s, ",\"layers\":[");
    for (int l = 0; l < d->n_layers; l++) {
        const mlp_layer_diag *L = &d->layers[l];
        if (l)
            s = LIT_INT(out, s, ",{\"index\":", L->index);
        else
            s = LIT_INT(out, s, "{\"index\":", L->index);
        s = NAME_MEMBER(out, s, "activation", mlp_activation_name(L->activation));
        s = INT_MEMBER(out, s, "units", L->units);
        s = FLOAT_MEMBER(out, s, "mean_activation", L->mean_activation);
        s = INT_MEMBER(out, s, "nonfinite_units", L->n_nonfinite);
        if (L->relu_stats) {
            s = FLOAT_MEMBER(out, s, "dead_fraction", L->dead_fraction);
            s = FLOAT_MEMBER(out, s, "sparsity", L->sparsity);
            if (level == RS_DIAG_FULL) {
                s = LIT(out, s, ",\"dead_units\":[");
                for (int i = 0; i < L->n_dead; i++) {
                    if (i)
                        s = LIT_INT(out, s, ",", L->dead_units[i]);
                    else
                        s = LIT_INT(out, s, "", L->dead_units[i]);
                }
                s = LIT(out, s, "]");
            }
        }
        if (L->saturation_stats)
            s = FLOAT_MEMBER(out, s, "saturated_fraction", L->saturated_fraction);
        if (d->has_gradients) {
            s = FLOAT_MEMBER(out, s, "weight_grad_norm", L->weight_grad_norm);
            s = FLOAT_MEMBER(out, s, "bias_grad_norm", L->bias_grad_norm);
            s = FLOAT_MEMBER(out, s, "activation_grad_norm", L->activation_grad_norm);
        }
        s = LIT(out, s, "}");
    }
    s = LIT(out, s, "]");
    span_end(out, s);
    if (level == RS_DIAG_FULL && d->has_gradients && d->input_gradient != NULL) {
        rs_buf_puts(out, ",\"input_gradient\":{\"shape\":[");
        rs_buf_int(out, d->rows);
        rs_buf_puts(out, ",");
        rs_buf_int(out, mlp_model_n_inputs(m));
        FLOATS(out, "],\"data\":[", d->input_gradient,
               (size_t)d->rows * (size_t)mlp_model_n_inputs(m), "]}");
    }
    if (level == RS_DIAG_FULL && z != NULL) {
        rs_buf_puts(out, ",\"preactivations\":[");
        for (int l = 0; l < d->n_layers; l++) {
            int units = d->layers[l].units;
            rs_buf_puts(out, l ? ",{\"shape\":[" : "{\"shape\":[");
            rs_buf_int(out, d->rows);
            rs_buf_puts(out, ",");
            rs_buf_int(out, units);
            FLOATS(out, "],\"data\":[", z[l], (size_t)d->rows * (size_t)units, "]}");
        }
        rs_buf_puts(out, "]");
    }
    rs_buf_puts(out, "}");
}

/* -------------------------------------------------------------- v2 tensors */

/* Writes one FP32 tensor: JSON data, or binary bytes appended to tail. */
static void tensor_write(rs_buf *out, rs_buf *tail, const char *name, const float *v, size_t rows,
                         size_t cols, bool rank2, bool binary)
{
    tensor_head(out, name, false, (long long)rows, rank2 ? (long long)cols : -1);
    size_t n = rank2 ? rows * cols : rows;
    if (binary) {
        binary_size_end(out, n * sizeof(float));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        rs_buf_append(tail, v, n * sizeof(float));
#else
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            unsigned char b[4] = {u & 255, (u >> 8) & 255, (u >> 16) & 255, u >> 24};
            rs_buf_append(tail, b, 4);
        }
#endif
    } else {
        FLOATS(out, ",\"data\":[", v, n, "]}");
    }
}

typedef struct {
    float v;
    int i;
} scored;

/* Descending by score, NaN last, ties by ascending index (a total order, so
 * the result does not depend on qsort's algorithm). */
static int scored_cmp(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    bool na = isnan(a->v), nb = isnan(b->v);
    if (na != nb) return na ? 1 : -1;
    if (!na && a->v != b->v) return a->v > b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Sorts row v[0..n) into sc, highest first; O(n log n) whatever k is. */
static void scores_sort(const float *v, int n, scored *sc)
{
    for (int i = 0; i < n; i++) {
        sc[i].v = v[i];
        sc[i].i = i;
    }
    qsort(sc, (size_t)n, sizeof *sc, scored_cmp);
}

/* The classification extension: a BYTES tensor [rows, k] of
 * "score:index:label" strings ("score:index" without labels). */
static int classification_write(rs_buf *out, rs_buf *tail, const mlp_model *m, const float *y,
                                int rows, int k, bool binary)
{
    scored *sc = malloc((size_t)mlp_model_n_outputs(m) * sizeof *sc);
    if (sc == NULL) return -1;
    tensor_head(out, mlp_model_output_name(m), true, rows, k);
    if (!binary) rs_buf_puts(out, ",\"data\":[");
    size_t tail_start = tail->len;
    rs_buf s;
    rs_buf_init(&s);
    for (int r = 0; r < rows; r++) {
        const float *row = y + (size_t)r * (size_t)mlp_model_n_outputs(m);
        scores_sort(row, mlp_model_n_outputs(m), sc);
        for (int q = 0; q < k; q++) {
            rs_buf_reset(&s);
            rs_buf_float(&s, sc[q].v);
            rs_buf_puts(&s, ":");
            rs_buf_int(&s, sc[q].i);
            if (mlp_model_labels(m) != NULL) {
                rs_buf_puts(&s, ":");
                rs_buf_puts(&s, mlp_model_labels(m)[sc[q].i]);
            }
            if (s.failed) break;
            if (binary) {
                /* BYTES elements: a 4-byte little-endian length, then the bytes. */
                uint32_t n = (uint32_t)s.len;
                unsigned char len4[4] = {(unsigned char)n, (unsigned char)(n >> 8),
                                         (unsigned char)(n >> 16), (unsigned char)(n >> 24)};
                rs_buf_append(tail, len4, 4);
                rs_buf_append(tail, s.data, s.len);
            } else {
                if (r || q) rs_buf_puts(out, ",");
                rs_buf_json_string(out, s.data);
            }
        }
    }
    bool failed = s.failed;
    rs_buf_free(&s);
    free(sc);
    if (binary)
        binary_size_end(out, tail->len - tail_start);
    else
        rs_buf_puts(out, "]}");
    return failed ? -1 : 0;
}

/* One value per layer for a layer_* diagnostic tensor (0 where the
 * statistic does not apply, e.g. dead_fraction of a sigmoid layer). */
static void layer_values(const mlp_diagnostics *d, unsigned flag, float *v)
{
    for (int l = 0; l < d->n_layers; l++) {
        const mlp_layer_diag *L = &d->layers[l];
        switch (flag) {
        case RS_OUT_LAYER_DEAD_FRACTION:
            v[l] = L->relu_stats ? L->dead_fraction : 0.0f;
            break;
        case RS_OUT_LAYER_SPARSITY:
            v[l] = L->relu_stats ? L->sparsity : 0.0f;
            break;
        case RS_OUT_LAYER_WEIGHT_GRAD_NORM:
            v[l] = L->weight_grad_norm;
            break;
        case RS_OUT_LAYER_BIAS_GRAD_NORM:
            v[l] = L->bias_grad_norm;
            break;
        default:
            v[l] = L->activation_grad_norm;
            break;
        }
    }
}

static int v2_encode(rs_buf *out, const rs_model_id *mid, const mlp_model *m, const rs_request *req,
                     const float *y, const mlp_diagnostics *d, const float *const *z,
                     size_t *json_len)
{
    rs_buf tail;
    rs_buf_init(&tail);
    rs_buf_puts(out, "{\"model_name\":");
    rs_buf_json_string(out, mid->name);
    rs_buf_puts(out, KEY("model_version"));
    rs_buf_json_string(out, mid->version);
    if (req->id != NULL) {
        rs_buf_puts(out, KEY("id"));
        rs_buf_json_string(out, req->id);
    }
    rs_buf_puts(out, ",\"outputs\":[");
    bool any = false;
    bool have_diag = req->diag != RS_DIAG_NONE && d != NULL;
    int status = 0;
    if (req->outputs & RS_OUT_PRIMARY) {
        bool bin = (req->binary_outputs & RS_OUT_PRIMARY) != 0;
        if (req->classification > 0) {
            if (classification_write(out, &tail, m, y, req->rows, req->classification, bin) < 0)
                status = 500;
        } else {
            tensor_write(out, &tail, mlp_model_output_name(m), y, (size_t)req->rows,
                         (size_t)mlp_model_n_outputs(m), true, bin);
        }
        any = true;
    }
    static const struct {
        unsigned flag;
        const char *name;
    } diag_tensors[] = {
        {RS_OUT_INPUT_GRADIENT, "input_gradient"},
        {RS_OUT_LAYER_DEAD_FRACTION, "layer_dead_fraction"},
        {RS_OUT_LAYER_SPARSITY, "layer_sparsity"},
        {RS_OUT_LAYER_WEIGHT_GRAD_NORM, "layer_weight_grad_norm"},
        {RS_OUT_LAYER_BIAS_GRAD_NORM, "layer_bias_grad_norm"},
        {RS_OUT_LAYER_ACT_GRAD_NORM, "layer_activation_grad_norm"},
        {RS_OUT_DEAD_FRACTION, "dead_fraction"},
        {RS_OUT_LOSS, "loss"},
    };
    /* the diagnostic tensors named and not yet written: none for most
     * requests, so the table is not walked */
    unsigned left = have_diag ? req->outputs & ~(unsigned)RS_OUT_PRIMARY : 0;
    for (size_t i = 0; left != 0 && i < sizeof diag_tensors / sizeof diag_tensors[0]; i++) {
        unsigned f = diag_tensors[i].flag;
        if (!(left & f)) continue;
        left &= ~f;
        bool bin = (req->binary_outputs & f) != 0;
        float v[MLP_MAX_LAYERS];
        if (any) rs_buf_puts(out, ",");
        any = true;
        if (f == RS_OUT_INPUT_GRADIENT) {
            if (d->input_gradient != NULL)
                tensor_write(out, &tail, diag_tensors[i].name, d->input_gradient, (size_t)d->rows,
                             (size_t)mlp_model_n_inputs(m), true, bin);
            else
                tensor_write(out, &tail, diag_tensors[i].name, v, 0, (size_t)mlp_model_n_inputs(m),
                             true, bin);
        } else if (f == RS_OUT_DEAD_FRACTION || f == RS_OUT_LOSS) {
            v[0] = f == RS_OUT_LOSS ? (d->has_loss ? d->loss : NAN) : d->dead_fraction;
            tensor_write(out, &tail, diag_tensors[i].name, v, 1, 1, false, bin);
        } else {
            layer_values(d, f, v);
            tensor_write(out, &tail, diag_tensors[i].name, v, (size_t)d->n_layers, 1, false, bin);
        }
    }
    if (have_diag) { /* the outputs' closing bracket, then the parameters */
        span s = span_begin(out);
        s = LIT_FLOAT(out, s, "],\"parameters\":{\"dead_fraction\":", d->dead_fraction);
        if (d->has_loss) s = FLOAT_MEMBER(out, s, "loss", d->loss);
        s = LIT(out, s, "},\"diagnostics\":");
        span_end(out, s);
        diagnostics_write(out, m, d, req->diag, req->preactivations ? z : NULL);
    } else {
        rs_buf_puts(out, "]");
    }
    rs_buf_puts(out, "}");
    *json_len = out->len;
    if (tail.len > 0) rs_buf_append(out, tail.data, tail.len);
    if (tail.failed) out->failed = true;
    rs_buf_free(&tail);
    return status;
}

/* v1: rows as nested lists. */
static void v1_encode(rs_buf *out, const mlp_model *m, const rs_request *req, const float *y,
                      const mlp_diagnostics *d)
{
    rs_buf_puts(out, req->v1_instances ? "{\"predictions\":[" : "{\"outputs\":[");
    size_t w = (size_t)mlp_model_n_outputs(m);
    for (int r = 0; r < req->rows; r++) {
        if (r)
            FLOATS(out, ",[", y + (size_t)r * w, w, "]");
        else
            FLOATS(out, "[", y, w, "]");
    }
    rs_buf_puts(out, "]");
    if (req->diag != RS_DIAG_NONE && d != NULL) {
        rs_buf_puts(out, ",\"diagnostics\":");
        rs_encode_diagnostics(out, m, d, req->diag);
    }
    rs_buf_puts(out, "}");
}

/* The most rs_encode_response allocates before it writes (see there). */
#define ANSWER_FIRST_ALLOC 65536

int rs_encode_response(rs_buf *out, const rs_model_id *mid, const mlp_model *m,
                       const rs_request *req, const float *y, const mlp_diagnostics *d,
                       const float *const *z, size_t *json_len)
{
    int status = 0;
    /* Doubling could otherwise hold up to twice the answer: the memory stays
     * within what was charged for it (rs_response_capacity). */
    size_t bound = rs_request_bound(req, mid, m);
    out->limit = rs_capacity_of_bound(bound);
    /* A fresh buffer is allocated once at the answer's bound (within the
     * charge) rather than grown from 256 bytes by doubling: three
     * reallocations and copies for a tiny model's summary answer. Not at the
     * capacity, whose room for an error body no answer uses; past
     * ANSWER_FIRST_ALLOC it grows as it fills, since the bound overstates
     * large answers most. */
    if (out->cap == 0) rs_buf_reserve(out, bound < ANSWER_FIRST_ALLOC ? bound : ANSWER_FIRST_ALLOC);
    if (req->proto == RS_PROTO_V2) {
        status = v2_encode(out, mid, m, req, y, d, z, json_len);
    } else {
        v1_encode(out, m, req, y, d);
        *json_len = out->len;
    }
    if (out->failed) return 500;
    return status;
}
