/*
 * tensor — rs_tensor, the one validated tensor: its constructors check
 * that the values a request carried fill the shape it declared, exactly.
 *
 * Every decoder (v2 JSON data, v2 binary extension, v1 instances and inputs,
 * labels, targets) builds its tensors here, and rs_request takes its values
 * only from an rs_tensor (rs_request_bind), so the model never sees a row
 * count that was not checked against the values behind it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void rs_tensor_free(rs_tensor *t)
{
    if (t == NULL) return;
    free(t->v);
    memset(t, 0, sizeof *t);
}

int64_t rs_shape_count(const int64_t *shape, int rank)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) n = 0; /* no values, however large the other dimensions */
    }
    if (n == 0) return 0;
    for (int i = 0; i < rank; i++) {
        if (n > RS_MAX_VALUES / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

void rs_shape_format(const int64_t *shape, int rank, char *out, size_t cap)
{
    size_t n = rs_text_put(out, cap, 0, "[");
    for (int i = 0; i < rank; i++) {
        if (i) n = rs_text_put(out, cap, n, ",");
        n = rs_text_int(out, cap, n, (long long)shape[i]);
    }
    rs_text_put(out, cap, n, "]");
}

/* Checks rank and count; 0 with *count set, or a status with err. */
static int shape_check(const int64_t *shape, int rank, const char *name, int64_t *count, char *err,
                       size_t errlen)
{
    if (rank < 0 || rank > RS_MAX_RANK) {
        snprintf(err, errlen, "%s: %d dimensions, expected at most %d", name, rank, RS_MAX_RANK);
        return 400;
    }
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0) {
            snprintf(err, errlen, "%s: shape[%d] is %lld, expected a non-negative integer", name, i,
                     (long long)shape[i]);
            return 400;
        }
    *count = rs_shape_count(shape, rank);
    if (*count < 0) {
        char sh[128];
        rs_shape_format(shape, rank, sh, sizeof sh);
        snprintf(err, errlen, "%s: shape %s is too large", name, sh);
        return 413;
    }
    return 0;
}

/* The last step of every constructor, after its shape_check gave count:
 * written must be count; then t takes v (freed on failure). */
static int tensor_take(rs_tensor *t, const int64_t *shape, int rank, int64_t count, float *v,
                       size_t written, const char *name, char *err, size_t errlen)
{
    int st = 0;
    if ((uint64_t)count != (uint64_t)written) {
        char sh[128];
        rs_shape_format(shape, rank, sh, sizeof sh);
        snprintf(err, errlen, "%s: shape %s needs %lld values, got %zu", name, sh, (long long)count,
                 written);
        st = 400;
    }
    if (st == 0 && v == NULL) { /* no values: still a pointer the model may be given */
        v = malloc(sizeof(float));
        if (v == NULL) {
            snprintf(err, errlen, "%s: out of memory", name);
            st = 500;
        }
    }
    if (st) {
        free(v);
        return st;
    }
    t->rank = rank;
    memcpy(t->shape, shape, (size_t)rank * sizeof shape[0]);
    t->count = (size_t)count;
    t->v = v;
    return 0;
}

int rs_tensor_from_values(rs_tensor *t, const int64_t *shape, int rank, float *v, size_t written,
                          const char *name, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int64_t count;
    int st = shape_check(shape, rank, name, &count, err, errlen);
    if (st) {
        free(v);
        return st;
    }
    return tensor_take(t, shape, rank, count, v, written, name, err, errlen);
}

int rs_tensor_from_json(rs_tensor *t, rs_tensor_data *d, const int64_t *shape, int rank,
                        const char *name, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int64_t count;
    int st = shape_check(shape, rank, name, &count, err, errlen);
    if (st) return st;
    /* Nested data must be the declared shape level for level; flat data
     * (depth 1) is the row-major values of any shape, counted below. */
    if (d->depth > 1) {
        bool same = d->depth == rank;
        for (int i = 0; same && i < rank; i++)
            same = d->dims[i] == shape[i];
        if (!same) {
            int64_t got[RS_MAX_RANK];
            for (int i = 0; i < d->depth; i++)
                got[i] = d->dims[i] < 0 ? 0 : d->dims[i];
            char sh[128], gs[128];
            rs_shape_format(shape, rank, sh, sizeof sh);
            rs_shape_format(got, d->depth, gs, sizeof gs);
            snprintf(err, errlen, "%s: nested data has shape %s, expected %s", name, gs, sh);
            return 400;
        }
    }
    float *v = d->v;
    d->v = NULL;
    d->cap = 0;
    return tensor_take(t, shape, rank, count, v, d->n, name, err, errlen);
}

int rs_tensor_from_bytes(rs_tensor *t, const unsigned char *src, size_t avail, uint64_t nbytes,
                         rs_datatype dt, const int64_t *shape, int rank, const char *name,
                         char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int64_t count;
    int st = shape_check(shape, rank, name, &count, err, errlen);
    if (st) return st;
    size_t esize = rs_datatype_size(dt);
    if (esize == 0) {
        snprintf(err, errlen, "%s: datatype cannot be sent as binary data", name);
        return 400;
    }
    /* count <= 2^40 and esize <= 8: the product cannot overflow. */
    uint64_t want = (uint64_t)count * esize;
    if (nbytes != want) {
        char sh[128];
        rs_shape_format(shape, rank, sh, sizeof sh);
        snprintf(err, errlen,
                 "%s: binary_data_size %llu does not match shape %s of %s (%llu bytes)", name,
                 (unsigned long long)nbytes, sh, rs_datatype_name(dt), (unsigned long long)want);
        return 400;
    }
    if (nbytes > avail) {
        snprintf(err, errlen,
                 "%s: binary_data_size %llu runs past the end of the body (%zu bytes left)", name,
                 (unsigned long long)nbytes, avail);
        return 400;
    }
    float *v = malloc((size_t)(count ? count : 1) * sizeof(float));
    if (v == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return 500;
    }
    if (rs_binary_convert(src, (size_t)count, dt, v, name, err, errlen) < 0) {
        free(v);
        return 400;
    }
    return tensor_take(t, shape, rank, count, v, (size_t)count, name, err, errlen);
}
