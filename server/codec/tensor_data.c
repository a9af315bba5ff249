/*
 * tensor_data — tensor "data" into float32: JSON arrays (flat or nested) and
 * the raw little-endian bytes of the binary tensor extension.
 *
 * The JSON reader is the decoder's hot loop: one pass, digits straight into
 * the float buffer, and only the facts the datatype check needs afterwards
 * (were there booleans, fractions, what were min and max) — because "shape"
 * and "datatype" may come after "data" in the object. Runs of `,number`
 * take a tighter loop (data_run) with the short-number reader inline; the
 * general path below handles everything else and every error.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "number.h"

/* Every datatype the protocol names, its element size in the binary
 * extension, and for integer types the inclusive range of its values. In
 * the order the decoder's message lists them, FP32 (what nearly every
 * request sends) first, where the lookups below find it at once. */
static const struct {
    const char *name;
    rs_datatype dt;
    size_t size;
    double lo, hi;
} datatypes[] = {
    {"FP32", RS_DT_FP32, 4, -INFINITY, INFINITY},
    {"FP64", RS_DT_FP64, 8, -INFINITY, INFINITY},
    {"INT8", RS_DT_INT8, 1, -128, 127},
    {"INT16", RS_DT_INT16, 2, -32768, 32767},
    {"INT32", RS_DT_INT32, 4, -2147483648.0, 2147483647.0},
    {"INT64", RS_DT_INT64, 8, -9223372036854775808.0, 9223372036854775807.0},
    {"UINT8", RS_DT_UINT8, 1, 0, 255},
    {"UINT16", RS_DT_UINT16, 2, 0, 65535},
    {"UINT32", RS_DT_UINT32, 4, 0, 4294967295.0},
    {"UINT64", RS_DT_UINT64, 8, 0, 18446744073709551615.0},
    {"BOOL", RS_DT_BOOL, 1, 0, 1},
};
#define N_DATATYPES (sizeof datatypes / sizeof datatypes[0])

/* The row of t in datatypes, or -1. */
static int datatype_index(rs_datatype t)
{
    for (size_t i = 0; i < N_DATATYPES; i++)
        if (datatypes[i].dt == t) return (int)i;
    return -1;
}

rs_datatype rs_datatype_parse(const char *s)
{
    /* The first letter before a strcmp: one strcmp for FP32, not one per
     * row of the table. */
    for (size_t i = 0; i < N_DATATYPES; i++)
        if (datatypes[i].name[0] == s[0] && strcmp(s, datatypes[i].name) == 0)
            return datatypes[i].dt;
    return RS_DT_INVALID;
}

const char *rs_datatype_name(rs_datatype t)
{
    int i = datatype_index(t);
    return i < 0 ? "INVALID" : datatypes[i].name;
}

size_t rs_datatype_size(rs_datatype t)
{
    int i = datatype_index(t);
    return i < 0 ? 0 : datatypes[i].size;
}

void rs_tensor_data_free(rs_tensor_data *t)
{
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Grows the buffer as values arrive: 1024 first, then doubling, so memory
 * follows the values that exist. The hint (the shape's count) only caps a
 * step while the values are within it, so that a true count ends in a buffer
 * of exactly its size; a shape that claims 10^8 values over a data array of
 * one costs 4 KiB, not a buffer sized by the claim (which is held outside the
 * --max-body-total charge). Past the hint it keeps doubling. May reallocate
 * t->v. */
static int data_grow(rs_json *j, rs_tensor_data *t, size_t hint, const char *path)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    if (hint > t->n && cap > hint) cap = hint;
    /* Every value takes at least two bytes of text ("1,"), so the text
     * bounds the count. */
    size_t bound = (size_t)(j->end - j->start) / 2 + 1;
    if (cap > bound) cap = bound;
    if (cap <= t->n) cap = t->n + 1;
    if (cap > SIZE_MAX / sizeof(float)) return rs_json_fail(j, "%s: too many values", path);
    float *v = realloc(t->v, cap * sizeof(float));
    if (v == NULL) return rs_json_fail(j, "%s: out of memory for %zu values", path, cap);
    t->v = v;
    t->cap = cap;
    return 0;
}

/* One scalar leaf: a number or a boolean. */
static inline int data_scalar(rs_json *j, rs_tensor_data *t, size_t hint, const char *path)
{
    if (t->n == t->cap && data_grow(j, t, hint, path) < 0) return -1;
    const char *p = j->p;
    char c = *p;
    if (c == 't' || c == 'f') {
        bool b;
        if (rs_json_bool(j, &b) < 0) return -1;
        if (!t->saw_bool) {
            t->saw_bool = true;
            t->bool_at = t->n;
        }
        t->v[t->n++] = b ? 1.0f : 0.0f;
        return 0;
    }
    double d;
    bool integral;
    size_t n = rs_number_scan(p, j->end, &d, &integral);
    if (n == 0) {
        int k = rs_json_peek(j);
        if (k == '"' || k == '{' || k == 'n')
            return rs_json_fail(j, "%s[%zu]: expected a number, got %s", path, t->n,
                                rs_json_kind(k));
        return rs_json_syntax(j, "a number");
    }
    if (!integral && !t->saw_fraction) {
        t->saw_fraction = true;
        t->fraction_at = t->n;
        t->fraction_value = (double)(float)d;
    }
    float f = (float)d;
    if (isinf(f))
        return rs_json_fail(j, "%s[%zu]: %.*s does not fit in float32", path, t->n,
                            (int)(n > 40 ? 40 : n), p);
    if (!t->saw_number) {
        t->saw_number = true;
        t->number_at = t->n;
        t->min = t->max = d;
    }
    if (d < t->min) t->min = d;
    if (d > t->max) t->max = d;
    t->v[t->n++] = f;
    j->p = p + n;
    return 0;
}

/*
 * After a number or boolean, the run of `,number` (or `, number`, as
 * Python's json.dumps writes it) that follows: the common case of the hot
 * loop, taken without the general loop's per-element checks, which cannot
 * change within the run (the element kind and depth; the buffer's room is
 * checked against a local count). Each value is read by rs_number_short;
 * anything else — a number it does not take, the first fraction (a fact to
 * record), a boolean, other whitespace, the array's end, fewer than
 * RS_NUMBER_SHORT_READ bytes left, a full buffer — ends the run before that
 * element, with j->p after the last number consumed, and data_array's
 * general path takes it from there, so values, facts and messages are what
 * the general path alone gives (test_number.c compares them). Returns the
 * values consumed. Out of line: inlined into the recursive data_array, its
 * loop variables would live on the stack.
 */
static __attribute__((noinline)) size_t data_run(rs_json *j, rs_tensor_data *t)
{
    if (!t->saw_number) return 0;
    const char *p = j->p, *end = j->end;
    float *v = t->v;
    size_t n = t->n, cap = t->cap, n0 = n;
    double lo = t->min, hi = t->max;
    bool fractions_ok = t->saw_fraction;
    while (n < cap && end - p >= RS_NUMBER_SHORT_READ + 2 && *p == ',') {
        const char *q = p + 1;
        if (*q == ' ') q++; /* ", " as Python's json.dumps writes it */
        double d;
        bool integral;
        size_t len = rs_number_short(q, &d, &integral);
        if (len == 0 || !(integral || fractions_ok)) break;
        /* |d| < 10^7 (at most 7 integer digits): finite as a float,
         * unlike what data_scalar must check. */
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        v[n++] = (float)d;
        p = q + len;
    }
    t->n = n;
    t->min = lo;
    t->max = hi;
    j->p = p;
    return n - n0;
}

/* "[2047][0]": where the reader is, one index per open array up to depth. */
static void data_where(const rs_tensor_data *t, int depth, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < depth && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "[%zu]", t->pos[i]);
}

/* Numbers and arrays side by side at one nesting level, in one array or in
 * two: [[1,2],[[],[]]] would claim 2 x 2 values while holding 2. */
static int data_mixed(rs_json *j, const rs_tensor_data *t, int depth, const char *path)
{
    char where[RS_MAX_RANK * 24];
    data_where(t, depth, where, sizeof where);
    return rs_json_fail(j,
                        "%s%s: mixes numbers and arrays at one level; nested arrays must be "
                        "rectangular",
                        path, where);
}

/*
 * An array at nesting `depth` (1 = the outermost). Arrays at one depth must
 * all have one length, and numbers must all sit at one depth with no array
 * anywhere deeper (checked both ways round, whichever comes first): then the
 * lengths multiply to the number of values, which is what makes the nested
 * shape trustworthy.
 */
static int data_array(rs_json *j, rs_tensor_data *t, int depth, size_t hint, const char *path)
{
    if (depth > RS_MAX_RANK)
        return rs_json_fail(j, "%s: nested deeper than %d levels", path, RS_MAX_RANK);
    if (depth > t->max_depth) t->max_depth = depth;
    j->p++; /* '[' */
    size_t count = 0;
    int c = rs_json_peek(j);
    if (c != ']') {
        for (;;) {
            t->pos[depth - 1] = count;
            if (c == '[') {
                /* The new array's elements sit at depth + 1. */
                if (t->leaf_depth != 0 && t->leaf_depth <= depth)
                    return data_mixed(j, t, depth, path);
                if (data_array(j, t, depth + 1, hint, path) < 0) return -1;
            } else {
                if (t->leaf_depth == 0) t->leaf_depth = depth;
                if (t->leaf_depth != depth || t->max_depth > depth)
                    return data_mixed(j, t, depth, path);
                if (c == -1) return rs_json_syntax(j, "a value");
                if (data_scalar(j, t, hint, path) < 0) return -1;
                count += data_run(j, t);
            }
            count++;
            c = rs_json_peek(j);
            if (c == ']') break;
            if (c != ',') return rs_json_syntax(j, "',' or ']'");
            j->p++;
            c = rs_json_peek(j);
        }
    }
    j->p++; /* ']' */
    if (count > (size_t)INT32_MAX) return rs_json_fail(j, "%s: too many values", path);
    int *dim = &t->dims[depth - 1];
    if (*dim < 0) {
        *dim = (int)count;
    } else if (*dim != (int)count) {
        return rs_json_fail(j, "%s: nested arrays are ragged (lengths %d and %zu at level %d)",
                            path, *dim, count, depth);
    }
    return 0;
}

int rs_tensor_data_read(rs_json *j, rs_tensor_data *t, size_t size_hint, const char *path)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < RS_MAX_RANK; i++)
        t->dims[i] = -1;
    int c = rs_json_peek(j);
    if (c != '[') return rs_json_fail(j, "%s: expected an array, got %s", path, rs_json_kind(c));
    if (data_array(j, t, 1, size_hint, path) < 0) {
        rs_tensor_data_free(t);
        return -1;
    }
    /* With numbers present they sit at max_depth (data_array refused
     * anything else); with none, the deepest array holds nothing. Either
     * way the lengths must multiply to the count: checked here once more so
     * that no later step depends on the argument above. */
    t->depth = t->max_depth;
    int64_t dims[RS_MAX_RANK];
    for (int i = 0; i < t->depth; i++)
        dims[i] = t->dims[i];
    int64_t want = rs_shape_count(dims, t->depth);
    if (want < 0 || (uint64_t)want != (uint64_t)t->n) {
        char sh[128];
        rs_shape_format(dims, t->depth, sh, sizeof sh);
        rs_json_fail(j, "%s: %zu values do not fill nested arrays of shape %s", path, t->n, sh);
        rs_tensor_data_free(t);
        return -1;
    }
    return 0;
}

int rs_tensor_data_check_type(const rs_tensor_data *t, rs_datatype dt, const char *name, char *err,
                              size_t errlen)
{
    if (dt == RS_DT_BOOL) {
        if (t->saw_number) {
            snprintf(err, errlen,
                     "%s: datatype BOOL needs true or false, got a number at data[%zu]", name,
                     t->number_at);
            return -1;
        }
        return 0;
    }
    if (t->saw_bool) {
        snprintf(err, errlen, "%s: datatype %s needs numbers, got a boolean at data[%zu]", name,
                 rs_datatype_name(dt), t->bool_at);
        return -1;
    }
    if (dt == RS_DT_FP32 || dt == RS_DT_FP64 || !t->saw_number) return 0;
    if (t->saw_fraction) {
        snprintf(err, errlen, "%s: datatype %s needs integers, got %.9g at data[%zu]", name,
                 rs_datatype_name(dt), t->fraction_value, t->fraction_at);
        return -1;
    }
    int i = datatype_index(dt);
    if (i < 0) return 0;                               /* the decoder refused it already */
    double lo = datatypes[i].lo, hi = datatypes[i].hi; /* inclusive range */
    if (t->min < lo || t->max > hi) {
        snprintf(err, errlen, "%s: datatype %s holds [%.0f, %.0f], got %.17g", name,
                 rs_datatype_name(dt), lo, hi, t->min < lo ? t->min : t->max);
        return -1;
    }
    return 0;
}

/* Little-endian loads that work at any alignment on any host. */
static inline uint64_t load_le(const unsigned char *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int rs_binary_convert(const unsigned char *src, size_t n, rs_datatype dt, float *dst,
                      const char *name, char *err, size_t errlen)
{
    size_t i;
    switch (dt) {
    case RS_DT_FP32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, src, n * sizeof(float));
#else
        for (i = 0; i < n; i++) {
            uint32_t u = (uint32_t)load_le(src + 4 * i, 4);
            memcpy(&dst[i], &u, 4);
        }
#endif
        for (i = 0; i < n; i++)
            if (!isfinite(dst[i])) goto not_finite;
        return 0;
    case RS_DT_FP64:
        for (i = 0; i < n; i++) {
            uint64_t u = load_le(src + 8 * i, 8);
            double d;
            memcpy(&d, &u, 8);
            if (!isfinite(d)) goto not_finite;
            if (fabs(d) > (double)FLT_MAX && isinf((float)d)) {
                snprintf(err, errlen, "%s: binary value %.17g at index %zu does not fit in float32",
                         name, d, i);
                return -1;
            }
            dst[i] = (float)d;
        }
        return 0;
    case RS_DT_BOOL:
        for (i = 0; i < n; i++)
            dst[i] = src[i] ? 1.0f : 0.0f;
        return 0;
    case RS_DT_UINT8:
    case RS_DT_UINT16:
    case RS_DT_UINT32:
    case RS_DT_UINT64: {
        size_t size = rs_datatype_size(dt);
        for (i = 0; i < n; i++)
            dst[i] = (float)load_le(src + size * i, size);
        return 0;
    }
    case RS_DT_INT8:
    case RS_DT_INT16:
    case RS_DT_INT32:
    case RS_DT_INT64: {
        size_t size = rs_datatype_size(dt);
        unsigned bits = (unsigned)(8 * size);
        for (i = 0; i < n; i++) {
            uint64_t u = load_le(src + size * i, size);
            /* Sign-extend from `bits` (two's complement). */
            int64_t v;
            if (bits < 64 && (u >> (bits - 1)) & 1)
                v = -(int64_t)((~u + 1) & ((1ull << bits) - 1));
            else
                memcpy(&v, &u, sizeof v);
            dst[i] = (float)v;
        }
        return 0;
    }
    default:
        snprintf(err, errlen, "%s: datatype cannot be sent as binary data", name);
        return -1;
    }
not_finite:
    snprintf(err, errlen, "%s: binary value at index %zu is not finite (NaN or infinity)", name, i);
    return -1;
}
