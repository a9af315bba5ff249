/*
 * norm — Euclidean norms in double, every one summed in the same order:
 * ||v|| of a float array (mlp_norm2), the clipping norm of the trainer, and
 * ||Uᵀ·V||_F without forming the product (mlp_outer_norm2).
 *
 * The order. Every sum of products Σ_t x_t·y_t over k floats is taken in
 * double (float x float is exact in double: 24 + 24 < 53 bits) in eight
 * lanes: the product of element t goes to lane t mod 8 for the first
 * 8·floor(k/8) elements, the lanes are added as
 *     ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)),
 * and the k mod 8 remaining products, summed in index order, are added last.
 * Eight independent lanes break the add-latency chain (two 4-double vectors);
 * the fixed order keeps the result identical on every machine, with or
 * without AVX2 (vec8.h's clones perform the same operations in the same
 * order).
 *
 * ||Uᵀ·V||_F for U (n x p) and V (n x q) is the weight-gradient norm
 * ||dW_l||_F = ||dZ_lᵀ·A_{l-1}||_F of the norms-only backward
 * (mlp_workspace_set_param_grads). With u_i, v_i the rows,
 * Uᵀ·V = Σ_i u_iᵀ v_i, so
 *     ||Uᵀ·V||²_F = Σ_{i,j} <u_i, u_j>·<v_i, v_j>
 *                 = Σ_i |u_i|²|v_i|² + 2 Σ_{i<j} <u_i, u_j><v_i, v_j>,
 * the elementwise product of the two n x n Gram matrices summed: n(n+1)/2
 * pairs of dots of length p + q instead of n·p·q multiply-adds (for n = 1
 * just |u|²·|v|²). Off-diagonal terms can have either sign, but the sum is
 * exactly Σ (UᵀV)²_{ab} >= 0; cancellation costs at most a factor
 * Σ|terms| / total of double's 1e-16, far below the float32 rounding of the
 * formed product this replaces. A negative total can only be rounding of a
 * zero norm, so it is clamped to 0 (a NaN, from non-finite activations, is
 * returned as it is). For each row i the dots with 4 rows j share the load
 * of row i.
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "vec8.h"

typedef float nv_v4f __attribute__((vector_size(16)));
typedef double nv_v4d __attribute__((vector_size(32)));

/* The eight lanes: lo holds lanes 0-3, hi lanes 4-7. */
typedef struct {
    nv_v4d lo, hi;
} lanes8;

/* 4 floats at any float address, widened to double (exactly). */
static MLP_INLINE void v4_load(nv_v4d *out, const float *p)
{
    nv_v4f f;
    memcpy(&f, p, sizeof f);
    *out = __builtin_convertvector(f, nv_v4d);
}

/* acc += x[t..t+8) · y[t..t+8), lane by lane. */
static MLP_INLINE void lanes_add(lanes8 *acc, const nv_v4d x[2], const float *y)
{
    nv_v4d y0, y1;
    v4_load(&y0, y);
    v4_load(&y1, y + 4);
    acc->lo += x[0] * y0;
    acc->hi += x[1] * y1;
}

/* The lanes in the documented order, then the tail products from t to k. */
static MLP_INLINE double lanes_total(const lanes8 *acc, const float *x, const float *y, size_t t,
                                     size_t k)
{
    double tail = 0.0;
    for (; t < k; t++)
        tail += (double)x[t] * (double)y[t];
    const nv_v4d *a = &acc->lo, *b = &acc->hi;
    return (((*a)[0] + (*a)[1]) + ((*a)[2] + (*a)[3])) +
           (((*b)[0] + (*b)[1]) + ((*b)[2] + (*b)[3])) + tail;
}

/* <x, y> over k elements, in the documented order. */
static MLP_INLINE double dot1(const float *x, const float *y, size_t k)
{
    lanes8 acc = {{0}, {0}};
    size_t t = 0;
    for (; t + 8 <= k; t += 8) {
        nv_v4d xv[2];
        v4_load(&xv[0], x + t);
        v4_load(&xv[1], x + t + 4);
        lanes_add(&acc, xv, y + t);
    }
    return lanes_total(&acc, x, y, t, k);
}

/* s[r] = <x, y + r·stride> for r = 0..3, each exactly as dot1 sums it. */
static MLP_INLINE void dot4(const float *x, const float *y, size_t stride, size_t k, double s[4])
{
    lanes8 acc[4] = {{{0}, {0}}, {{0}, {0}}, {{0}, {0}}, {{0}, {0}}};
    size_t t = 0;
    for (; t + 8 <= k; t += 8) {
        nv_v4d xv[2];
        v4_load(&xv[0], x + t);
        v4_load(&xv[1], x + t + 4);
        for (int r = 0; r < 4; r++)
            lanes_add(&acc[r], xv, y + (size_t)r * stride + t);
    }
    for (int r = 0; r < 4; r++)
        s[r] = lanes_total(&acc[r], x, y + (size_t)r * stride, t, k);
}

MLP_CLONES double mlp_sum_squares(const float *v, size_t count)
{
    return dot1(v, v, count);
}

float mlp_norm2(const float *v, size_t count)
{
    return (float)sqrt(mlp_sum_squares(v, count));
}

/* gu[j] = <row i, row j> of m (n x k) for j = i .. n-1. */
static MLP_INLINE void gram_row(const float *m, int k, int n, int i, double *gu)
{
    const float *mi = m + (size_t)i * k;
    int j = i;
    for (; j + 4 <= n; j += 4)
        dot4(mi, m + (size_t)j * k, (size_t)k, (size_t)k, gu + j);
    for (; j < n; j++)
        gu[j] = dot1(mi, m + (size_t)j * k, (size_t)k);
}

MLP_CLONES float mlp_outer_norm2(const float *u, int p, const float *v, int q, int n, double *gu)
{
    if (n == 1) {
        double uu = dot1(u, u, (size_t)p), vv = dot1(v, v, (size_t)q);
        return (float)sqrt(uu * vv);
    }
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        gram_row(u, p, n, i, gu);
        const float *vi = v + (size_t)i * q;
        double diag = gu[i] * dot1(vi, vi, (size_t)q), off = 0.0;
        int j = i + 1;
        for (; j + 4 <= n; j += 4) {
            /* A zero <u_i, u_j> (one-hot max-logit rows, dead units) needs
             * no <v_i, v_j>. */
            if (gu[j] == 0.0 && gu[j + 1] == 0.0 && gu[j + 2] == 0.0 && gu[j + 3] == 0.0) continue;
            double gv[4];
            dot4(vi, v + (size_t)j * q, (size_t)q, (size_t)q, gv);
            off += (gu[j] * gv[0] + gu[j + 1] * gv[1]) + (gu[j + 2] * gv[2] + gu[j + 3] * gv[3]);
        }
        for (; j < n; j++)
            if (gu[j] != 0.0) off += gu[j] * dot1(vi, v + (size_t)j * q, (size_t)q);
        total += diag + 2.0 * off;
    }
    if (total < 0.0) total = 0.0; /* NaN stays NaN, as in the formed product */
    return (float)sqrt(total);
}
