/*
 * io_onnx_graph — decodes the ONNX subset described in io_onnx_graph.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_onnx_graph.h"
#include "protobuf.h"

/* ------------------------------------------------------------ strings */

bool mlp_onnx_span_is(onnx_span s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

bool mlp_onnx_span_eq(onnx_span a, onnx_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* s for a message: at most 64 bytes, anything but printable ASCII as '?'. */
const char *mlp_onnx_span_show(onnx_span s, char buf[72])
{
    size_t n = s.len < 64 ? s.len : 64, i;
    for (i = 0; i < n; i++)
        buf[i] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
    if (s.len > 64) buf[i++] = '~';
    buf[i] = '\0';
    return buf;
}

/* Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or values above
 * U+10FFFF) without NUL, so it can become a C string and a JSON string. */
bool mlp_onnx_span_utf8(onnx_span s)
{
    size_t i = 0;
    while (i < s.len) {
        uint8_t c = s.p[i];
        size_t n;
        uint32_t cp, min;
        if (c == 0) return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (s.len - i - 1 < n) return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s.p[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s.p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

/* A NUL-terminated malloc'd copy (caller frees), NULL when out of memory. */
char *mlp_onnx_span_dup(onnx_span s)
{
    char *c = malloc(s.len + 1);
    if (!c) return NULL;
    if (s.len) memcpy(c, s.p, s.len);
    c[s.len] = '\0';
    return c;
}

/* ------------------------------------------------------------ decoding */

static mlp_status pb_fail(mlp_error *err, const char *origin, mlp_pb_status s,
                          const mlp_pb_reader *r, const char *where)
{
    if (s == MLP_PB_ERR_DEPTH)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT, "%s: %s (more than %d levels)", where,
                           mlp_pb_status_str(s), MLP_PB_MAX_DEPTH);
    return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "not a valid ONNX file: %s at byte %zu (in %s)",
                       mlp_pb_status_str(s), mlp_pb_offset(r), where);
}

/* Enters the sub-message f of parent; where names it in messages. */
static mlp_status pb_enter(const mlp_pb_reader *parent, const mlp_pb_field *f, const char *where,
                           const char *origin, mlp_pb_reader *r, mlp_error *err)
{
    mlp_pb_status s = mlp_pb_enter(parent, f, r);
    return s == MLP_PB_OK ? MLP_OK : pb_fail(err, origin, s, parent, where);
}

/* After the last mlp_pb_next of r: the message ended cleanly, or why not. */
static mlp_status pb_done(mlp_pb_status s, const mlp_pb_reader *r, const char *where,
                          const char *origin, mlp_error *err)
{
    return s == MLP_PB_END ? MLP_OK : pb_fail(err, origin, s, r, where);
}

/* A field that should be a string (or bytes, or a message) but is not LEN. */
static mlp_status wire_fail(mlp_error *err, const char *origin, const mlp_pb_field *f,
                            const char *where)
{
    return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                       "not a valid ONNX file: field %u of %s has wire type %d, which onnx.proto "
                       "does not allow there",
                       f->number, where, f->wire);
}

/* A pass over the elements of one repeated scalar field of a TensorProto
 * (packed or not): counts them, and with dst converts the first cap of them
 * to float32, remembering the first non-finite one. elem is the element
 * size: 4 (fixed32), 8 (fixed64) or 0 (varint). */
typedef struct {
    int number, elem;
    float *dst; /* NULL: count only */
    size_t cap, count;
    mlp_io_dtype dtype;
    size_t bad_index; /* first non-finite element */
    double bad;
    bool has_bad;
} value_walk;

static void walk_put(value_walk *w, uint64_t bits)
{
    if (w->dst && w->count < w->cap) {
        double bad;
        if (!mlp_io_bits_to_float(w->dtype, bits, &w->dst[w->count], &bad) && !w->has_bad) {
            w->has_bad = true;
            w->bad = bad;
            w->bad_index = w->count;
        }
    }
    w->count++;
}

static mlp_pb_status walk_values(onnx_span msg, value_walk *w)
{
    mlp_pb_reader r = mlp_pb_reader_init(msg.p, msg.len);
    mlp_pb_field f;
    mlp_pb_status s;
    int scalar_wire = w->elem == 4 ? MLP_PB_I32 : w->elem == 8 ? MLP_PB_I64 : MLP_PB_VARINT;
    while ((s = mlp_pb_next(&r, &f)) == MLP_PB_OK) {
        if (f.number != (uint32_t)w->number) continue;
        if (f.wire == scalar_wire) {
            walk_put(w, f.value);
        } else if (f.wire == MLP_PB_LEN) {
            if (w->elem) {
                if (f.len % (size_t)w->elem) return MLP_PB_ERR_TRUNCATED;
                for (size_t k = 0; k < f.len; k += (size_t)w->elem)
                    walk_put(w, w->elem == 4 ? mlp_pb_le32(f.data + k) : mlp_pb_le64(f.data + k));
            } else {
                const uint8_t *p = f.data, *end = f.data + f.len;
                while (p < end) {
                    uint64_t v;
                    mlp_pb_status vs = mlp_pb_varint(&p, end, &v);
                    if (vs != MLP_PB_OK) return vs;
                    walk_put(w, v);
                }
            }
        } else {
            return MLP_PB_ERR_WIRE;
        }
    }
    return s == MLP_PB_END ? MLP_PB_OK : s;
}

static mlp_status parse_attr(const mlp_pb_reader *parent, const mlp_pb_field *af,
                             const char *origin, onnx_attr *a, mlp_error *err)
{
    mlp_pb_reader r;
    mlp_pb_field f;
    mlp_status entered = pb_enter(parent, af, "an attribute", origin, &r, err);
    if (entered != MLP_OK) return entered;
    mlp_pb_status s;
    memset(a, 0, sizeof *a);
    while ((s = mlp_pb_next(&r, &f)) == MLP_PB_OK) {
        if (f.number == 1) {
            if (f.wire != MLP_PB_LEN) return wire_fail(err, origin, &f, "an attribute");
            a->name = (onnx_span){f.data, f.len};
        } else if (f.number == 2 && f.wire == MLP_PB_I32) {
            uint32_t b = (uint32_t)f.value;
            memcpy(&a->f, &b, sizeof a->f);
        } else if (f.number == 3 && f.wire == MLP_PB_VARINT) {
            a->i = (int64_t)f.value;
        } else if (f.number == 20 && f.wire == MLP_PB_VARINT) {
            a->type = f.value <= 100 ? (int)f.value : 100;
        }
    }
    return pb_done(s, &r, "an attribute", origin, err);
}

static mlp_status parse_node(const mlp_pb_reader *parent, const mlp_pb_field *nf, int index,
                             const char *origin, onnx_node *n, mlp_error *err)
{
    mlp_pb_reader r;
    mlp_pb_field f;
    char where[48];
    snprintf(where, sizeof where, "graph node %d", index);
    mlp_status entered = pb_enter(parent, nf, where, origin, &r, err);
    if (entered != MLP_OK) return entered;
    mlp_pb_status s;
    memset(n, 0, sizeof *n);
    while ((s = mlp_pb_next(&r, &f)) == MLP_PB_OK) {
        if (f.number > 7 || f.number == 6) continue; /* doc_string, metadata, ... */
        if (f.wire != MLP_PB_LEN) return wire_fail(err, origin, &f, where);
        onnx_span v = {f.data, f.len};
        switch (f.number) {
        case 1:
            if (n->n_in < ONNX_MAX_NODE_IN) n->in[n->n_in] = v;
            if (n->n_in < 1000000) n->n_in++;
            break;
        case 2:
            if (n->n_out == 0) n->out = v;
            if (n->n_out < 1000000) n->n_out++;
            break;
        case 3:
            n->name = v;
            break;
        case 4:
            n->op = v;
            break;
        case 5:
            if (n->n_attrs == ONNX_MAX_ATTRS)
                return mlp_io_fail(err, origin, MLP_ERR_LIMIT,
                                   "node %d has more than %d attributes", index, ONNX_MAX_ATTRS);
            mlp_status st = parse_attr(&r, &f, origin, &n->attrs[n->n_attrs], err);
            if (st != MLP_OK) return st;
            n->n_attrs++;
            break;
        case 7:
            n->domain = v;
            break;
        }
    }
    return pb_done(s, &r, where, origin, err);
}

static mlp_status parse_tensor(const mlp_pb_reader *parent, const mlp_pb_field *tf, int index,
                               const char *origin, onnx_tensor *t, mlp_error *err)
{
    mlp_pb_reader r;
    mlp_pb_field f;
    char where[48];
    snprintf(where, sizeof where, "initializer %d", index);
    mlp_status entered = pb_enter(parent, tf, where, origin, &r, err);
    if (entered != MLP_OK) return entered;
    mlp_pb_status s;
    memset(t, 0, sizeof *t);
    t->msg = (onnx_span){tf->data, tf->len};
    while ((s = mlp_pb_next(&r, &f)) == MLP_PB_OK) {
        if (f.number == 1) { /* dims: packed or not */
            bool packed = f.wire == MLP_PB_LEN;
            /* A varint field has no data pointer (NULL), and NULL + 0 is
             * undefined behaviour: form the end only for a packed field. */
            const uint8_t *p = f.data, *end = packed ? f.data + f.len : NULL;
            uint64_t v = f.value;
            if (!packed && f.wire != MLP_PB_VARINT) return wire_fail(err, origin, &f, where);
            while (!packed || p < end) {
                if (packed && (s = mlp_pb_varint(&p, end, &v)) != MLP_PB_OK)
                    return pb_fail(err, origin, s, &r, where);
                if (t->ndim == ONNX_MAX_DIMS)
                    return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                                       "initializer %d has more than %d dimensions", index,
                                       ONNX_MAX_DIMS);
                t->dims[t->ndim++] = (int64_t)v;
                if (!packed) break;
            }
        } else if (f.number == 2 && f.wire == MLP_PB_VARINT) {
            t->data_type = f.value <= 1000 ? (int)f.value : 1000;
        } else if (f.number == 3 || f.number == 13 || (f.number == 14 && f.value != 0)) {
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "initializer %d is %s, which is not supported (weights must be "
                               "stored inside the file)",
                               index, f.number == 3 ? "segmented" : "stored as external data");
        } else if (f.number == 8 || f.number == 9) {
            if (f.wire != MLP_PB_LEN) return wire_fail(err, origin, &f, where);
            if (f.number == 8)
                t->name = (onnx_span){f.data, f.len};
            else
                t->raw = (onnx_span){f.data, f.len}, t->has_raw = true;
        }
    }
    return pb_done(s, &r, where, origin, err);
}

/* ValueInfoProto: the name, and the shape when the type gives one. */
static mlp_status parse_value(const mlp_pb_reader *parent, const mlp_pb_field *vf,
                              const char *where, const char *origin, onnx_value *v, mlp_error *err)
{
    mlp_pb_reader r[6];
    mlp_pb_field f;
    mlp_pb_status s = mlp_pb_enter(parent, vf, &r[0]);
    if (s != MLP_PB_OK) return pb_fail(err, origin, s, parent, where);
    memset(v, 0, sizeof *v);
    v->rank = -1;
    /* Each level descends into the one field it wants: ValueInfo.type (2) >
     * Type.tensor_type (1) > Tensor.shape (2) > Shape.dim (1, repeated) >
     * Dimension.dim_value (1). */
    static const uint32_t want[] = {2, 1, 2, 1};
    int level = 0;
    while (level >= 0) {
        s = mlp_pb_next(&r[level], &f);
        if (s == MLP_PB_END) {
            level--;
            continue;
        }
        if (s != MLP_PB_OK) return pb_fail(err, origin, s, &r[level], where);
        if (level == 0 && f.number == 1) {
            if (f.wire != MLP_PB_LEN) return wire_fail(err, origin, &f, where);
            v->name = (onnx_span){f.data, f.len};
            continue;
        }
        if (level == 4) { /* inside a Dimension */
            if (f.number == 1 && f.wire == MLP_PB_VARINT && (int64_t)f.value > 0)
                v->dims[v->rank - 1] = (int64_t)f.value;
            continue;
        }
        if (f.number != want[level] || f.wire != MLP_PB_LEN) continue;
        if (level == 2) v->rank = 0; /* a shape is given */
        if (level == 3) {
            if (v->rank == ONNX_MAX_DIMS)
                return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                                   "%s has more than %d dimensions", where, ONNX_MAX_DIMS);
            v->dims[v->rank++] = -1;
        }
        if ((s = mlp_pb_enter(&r[level], &f, &r[level + 1])) != MLP_PB_OK)
            return pb_fail(err, origin, s, &r[level], where);
        level++;
    }
    return MLP_OK;
}

void mlp_onnx_graph_free(onnx_graph *g)
{
    free(g->nodes);
    free(g->inits);
    free(g->inputs);
    free(g->outputs);
}

/* Counts then fills the repeated fields of GraphProto. */
static mlp_status parse_graph(const mlp_pb_reader *parent, const mlp_pb_field *gf,
                              const char *origin, onnx_graph *g, mlp_error *err)
{
    mlp_pb_reader r;
    mlp_pb_field f;
    mlp_pb_status s = mlp_pb_enter(parent, gf, &r);
    if (s != MLP_PB_OK) return pb_fail(err, origin, s, parent, "the graph");
    const mlp_pb_reader start = r;
    size_t n[13] = {0};
    while ((s = mlp_pb_next(&r, &f)) == MLP_PB_OK) {
        if (f.number != 1 && f.number != 5 && f.number != 11 && f.number != 12) continue;
        if (f.wire != MLP_PB_LEN) return wire_fail(err, origin, &f, "the graph");
        n[f.number]++;
    }
    if (s != MLP_PB_END) return pb_fail(err, origin, s, &r, "the graph");
    if (n[1] > ONNX_MAX_NODES || n[5] > ONNX_MAX_INITS || n[11] > ONNX_MAX_VALUES ||
        n[12] > ONNX_MAX_VALUES)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT,
                           "the graph has %zu nodes, %zu initializers, %zu inputs and %zu "
                           "outputs; the limits are %d, %d, %d and %d",
                           n[1], n[5], n[11], n[12], ONNX_MAX_NODES, ONNX_MAX_INITS,
                           ONNX_MAX_VALUES, ONNX_MAX_VALUES);
    g->nodes = calloc(n[1] ? n[1] : 1, sizeof *g->nodes);
    g->inits = calloc(n[5] ? n[5] : 1, sizeof *g->inits);
    g->inputs = calloc(n[11] ? n[11] : 1, sizeof *g->inputs);
    g->outputs = calloc(n[12] ? n[12] : 1, sizeof *g->outputs);
    if (!g->nodes || !g->inits || !g->inputs || !g->outputs)
        return mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory");

    r = start;
    mlp_status st = MLP_OK;
    while (st == MLP_OK && mlp_pb_next(&r, &f) == MLP_PB_OK) {
        char where[48];
        switch (f.number) {
        case 1:
            st = parse_node(&r, &f, g->n_nodes, origin, &g->nodes[g->n_nodes], err);
            g->n_nodes++;
            break;
        case 5:
            st = parse_tensor(&r, &f, g->n_inits, origin, &g->inits[g->n_inits], err);
            g->n_inits++;
            break;
        case 11:
            snprintf(where, sizeof where, "graph input %d", g->n_inputs);
            st = parse_value(&r, &f, where, origin, &g->inputs[g->n_inputs++], err);
            break;
        case 12:
            snprintf(where, sizeof where, "graph output %d", g->n_outputs);
            st = parse_value(&r, &f, where, origin, &g->outputs[g->n_outputs++], err);
            break;
        }
    }
    return st;
}

mlp_status mlp_onnx_graph_parse(const uint8_t *data, size_t len, const char *origin, onnx_graph *g,
                                mlp_error *err)
{
    mlp_pb_reader r = mlp_pb_reader_init(data, len);
    mlp_pb_field f, graph = {0};
    mlp_pb_status s;
    bool have_graph = false, have_opset = false;
    while ((s = mlp_pb_next(&r, &f)) == MLP_PB_OK) {
        if (f.number != 7 && f.number != 8) continue;
        if (f.wire != MLP_PB_LEN) return wire_fail(err, origin, &f, "the model");
        if (f.number == 8) {
            /* OperatorSetIdProto {1 domain, 2 version}: the standard operator
             * set must be imported (the ONNX checker insists, and torch
             * writes it last, so its absence also catches a cut-off file). */
            mlp_pb_reader o;
            mlp_pb_field of;
            onnx_span domain = {NULL, 0};
            if ((s = mlp_pb_enter(&r, &f, &o)) != MLP_PB_OK)
                return pb_fail(err, origin, s, &r, "opset_import");
            while ((s = mlp_pb_next(&o, &of)) == MLP_PB_OK)
                if (of.number == 1 && of.wire == MLP_PB_LEN) domain = (onnx_span){of.data, of.len};
            if (s != MLP_PB_END) return pb_fail(err, origin, s, &o, "opset_import");
            have_opset |= domain.len == 0 || mlp_onnx_span_is(domain, "ai.onnx");
            continue;
        }
        if (have_graph)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "the model holds more than one graph");
        graph = f;
        have_graph = true;
    }
    if (s != MLP_PB_END) return pb_fail(err, origin, s, &r, "the model");
    if (!have_graph)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "not an ONNX model: no graph (ModelProto field 7)");
    if (!have_opset)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "the model imports no standard operator set (opset_import with "
                           "domain \"\"); truncated file?");
    return parse_graph(&r, &graph, origin, g, err);
}

/* ------------------------------------------------------------ tensors */

const onnx_tensor *mlp_onnx_find_init(const onnx_graph *g, onnx_span name)
{
    for (int i = 0; i < g->n_inits; i++)
        if (mlp_onnx_span_eq(g->inits[i].name, name)) return &g->inits[i];
    return NULL;
}

static const char *dtype_name(int t)
{
    switch (t) {
    case ONNX_FLOAT:
        return "FLOAT";
    case ONNX_DOUBLE:
        return "DOUBLE";
    case ONNX_FLOAT16:
        return "FLOAT16";
    case ONNX_BFLOAT16:
        return "BFLOAT16";
    }
    return "?";
}

/* Elements of t, or false when a dimension is negative or the product
 * exceeds 2^40 (far above anything a legal model holds). */
bool mlp_onnx_tensor_numel(const onnx_tensor *t, uint64_t *out)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0 || t->dims[i] > ((int64_t)1 << 40)) return false;
        n *= (uint64_t)t->dims[i];
        if (n > ((uint64_t)1 << 40)) return false;
    }
    *out = n;
    return true;
}

/*
 * Reads the count values of t into dst as float32. The value count is
 * checked against the dims before this (and before any allocation) by
 * calling it with dst = NULL.
 */
mlp_status mlp_onnx_tensor_values(const onnx_tensor *t, size_t count, float *dst,
                                  const char *origin, mlp_error *err)
{
    char nb[72];
    const char *name = mlp_onnx_span_show(t->name, nb);
    value_walk w = {0};
    switch (t->data_type) {
    case ONNX_FLOAT:
        w.dtype = MLP_IO_F32, w.number = 4, w.elem = 4;
        break;
    case ONNX_DOUBLE:
        w.dtype = MLP_IO_F64, w.number = 10, w.elem = 8;
        break;
    case ONNX_FLOAT16:
    case ONNX_BFLOAT16:
        /* bits in int32_data varints */
        w.dtype = t->data_type == ONNX_FLOAT16 ? MLP_IO_F16 : MLP_IO_BF16, w.number = 5, w.elem = 0;
        break;
    default:
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "initializer \"%s\" has data_type %d (supported: FLOAT, DOUBLE, "
                           "FLOAT16, BFLOAT16)",
                           name, t->data_type);
    }
    size_t es = mlp_io_dtype_size(w.dtype);
    w.dst = dst;
    w.cap = count;
    if (t->has_raw) {
        if (t->raw.len != count * es)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "initializer \"%s\" has %zu bytes of raw_data, but %zu %s values "
                               "take %zu",
                               name, t->raw.len, count, dtype_name(t->data_type), count * es);
        for (size_t i = 0; dst && i < count; i++)
            walk_put(&w, mlp_io_le(t->raw.p + i * es, es));
    } else {
        mlp_pb_status s = walk_values(t->msg, &w);
        if (s != MLP_PB_OK)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "initializer \"%s\": malformed values (%s)", name,
                               mlp_pb_status_str(s));
        if (w.count != count)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "initializer \"%s\" holds %zu values, but its dims say %zu", name,
                               w.count, count);
    }
    if (w.has_bad)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "initializer \"%s\"[%zu] = %g is not a finite float32", name,
                           w.bad_index, w.bad);
    return MLP_OK;
}
