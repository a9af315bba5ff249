/*
 * reference_decoder — REFERENCE ONLY: the JSON number parser and the
 * tensor-data reader as they were before the word-at-a-time scanner
 * (server/codec/number.c and tensor_data.c at commit 0fffc4f), renamed
 * ref_*, for the differential tests in test_number.c. Do not change them:
 * they define the results (bytes consumed, bits, facts, messages) the
 * server's code must reproduce.
 */
#ifndef RS_TEST_REFERENCE_DECODER_H
#define RS_TEST_REFERENCE_DECODER_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/internal.h"

/* ---- server/codec/number.c: rs_parse_number */
static const double ref_p10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool ref_is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static size_t ref_parse_number(const char *s, const char *end, double *out)
{
    const char *p = s;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end) return 0;

    uint64_t sig = 0; /* significant digits, at most 19 */
    int nsig = 0;     /* digits in sig (leading zeros not counted) */
    int dropped = 0;  /* integer digits beyond 19 (each scales by 10) */
    bool inexact = false;
    int frac = 0; /* fraction digits taken into sig */

    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && ref_is_digit(*p)) {
            if (nsig < 19) {
                sig = sig * 10 + (uint64_t)(*p - '0');
                nsig++;
            } else {
                dropped++;
                if (*p != '0') inexact = true;
            }
            p++;
        }
    } else {
        return 0;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !ref_is_digit(*p)) return 0;
        while (p < end && ref_is_digit(*p)) {
            if (nsig < 19) {
                sig = sig * 10 + (uint64_t)(*p - '0');
                if (sig != 0) nsig++;
                frac++;
            } else if (*p != '0') {
                inexact = true;
            }
            p++;
        }
    }
    int exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !ref_is_digit(*p)) return 0;
        while (p < end && ref_is_digit(*p)) {
            if (exp < 100000) /* saturate; anything this large is 0 or inf */
                exp = exp * 10 + (*p - '0');
            p++;
        }
        if (eneg) exp = -exp;
    }
    size_t n = (size_t)(p - s);
    int e10 = exp - frac + dropped;

    if (sig == 0 && !inexact) {
        *out = neg ? -0.0 : 0.0;
        return n;
    }
    if (!inexact && dropped == 0 && sig <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)sig;
        d = e10 >= 0 ? d * ref_p10_exact[e10] : d / ref_p10_exact[-e10];
        *out = neg ? -d : d;
        return n;
    }

    /* Slow path: strtod on a NUL-terminated copy of exactly these bytes. */
    char stack[128];
    char *copy = n < sizeof stack ? stack : malloc(n + 1);
    if (copy == NULL) return 0;
    memcpy(copy, s, n);
    copy[n] = '\0';
    *out = strtod(copy, NULL);
    if (copy != stack) free(copy);
    return n;
}

/* ---- server/codec/tensor_data.c: rs_tensor_data_read and its helpers */

/* Grows the buffer as values arrive: 1024 first, then doubling, so memory
 * follows the values that exist. The hint (the shape's count) only caps a
 * step while the values are within it, so that a true count ends in a buffer
 * of exactly its size; a shape that claims 10^8 values over a data array of
 * one costs 4 KiB, not a buffer sized by the claim (which is held outside the
 * --max-body-total charge). Past the hint it keeps doubling. May reallocate
 * t->v. */
static int ref_data_grow(rs_json *j, rs_tensor_data *t, size_t hint, const char *path)
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
static inline int ref_data_scalar(rs_json *j, rs_tensor_data *t, size_t hint, const char *path)
{
    if (t->n == t->cap && ref_data_grow(j, t, hint, path) < 0) return -1;
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
    size_t n = ref_parse_number(p, j->end, &d);
    if (n == 0) {
        int k = rs_json_peek(j);
        if (k == '"' || k == '{' || k == 'n')
            return rs_json_fail(j, "%s[%zu]: expected a number, got %s", path, t->n,
                                rs_json_kind(k));
        return rs_json_syntax(j, "a number");
    }
    if (!t->saw_fraction) {
        for (size_t i = 0; i < n; i++)
            if (p[i] == '.' || p[i] == 'e' || p[i] == 'E') {
                t->saw_fraction = true;
                t->fraction_at = t->n;
                t->fraction_value = (double)(float)d;
                break;
            }
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

/* "[2047][0]": where the reader is, one index per open array up to depth. */
static void ref_data_where(const rs_tensor_data *t, int depth, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < depth && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "[%zu]", t->pos[i]);
}

/* Numbers and arrays side by side at one nesting level, in one array or in
 * two: [[1,2],[[],[]]] would claim 2 x 2 values while holding 2. */
static int ref_data_mixed(rs_json *j, const rs_tensor_data *t, int depth, const char *path)
{
    char where[RS_MAX_RANK * 24];
    ref_data_where(t, depth, where, sizeof where);
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
static int ref_data_array(rs_json *j, rs_tensor_data *t, int depth, size_t hint, const char *path)
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
                    return ref_data_mixed(j, t, depth, path);
                if (ref_data_array(j, t, depth + 1, hint, path) < 0) return -1;
            } else {
                if (t->leaf_depth == 0) t->leaf_depth = depth;
                if (t->leaf_depth != depth || t->max_depth > depth)
                    return ref_data_mixed(j, t, depth, path);
                if (c == -1) return rs_json_syntax(j, "a value");
                if (ref_data_scalar(j, t, hint, path) < 0) return -1;
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

static int ref_tensor_data_read(rs_json *j, rs_tensor_data *t, size_t size_hint, const char *path)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < RS_MAX_RANK; i++)
        t->dims[i] = -1;
    int c = rs_json_peek(j);
    if (c != '[') return rs_json_fail(j, "%s: expected an array, got %s", path, rs_json_kind(c));
    if (ref_data_array(j, t, 1, size_hint, path) < 0) {
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

#endif
