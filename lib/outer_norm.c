/*
 * outer_norm — ||Uᵀ·V||_F for U (n x p) and V (n x q) without forming the
 * p x q product: the weight-gradient norm ||dW_l||_F = ||dZ_lᵀ·A_{l-1}||_F
 * of the norms-only backward (mlp_workspace_set_param_grads).
 *
 * With u_i, v_i the rows, Uᵀ·V = Σ_i u_iᵀ v_i, so
 *     ||Uᵀ·V||²_F = Σ_{i,j} <u_i, u_j>·<v_i, v_j>
 *                 = Σ_i |u_i|²|v_i|² + 2 Σ_{i<j} <u_i, u_j><v_i, v_j>,
 * the elementwise product of the two n x n Gram matrices summed: n(n+1)/2
 * pairs of dots of length p + q instead of n·p·q multiply-adds (for n = 1
 * just |u|²·|v|²).
 *
 * Accuracy: float x float is exact in double (24 + 24 < 53 bits), so every
 * dot and the final sum are accumulated in double. Off-diagonal terms can
 * have either sign, but the sum is exactly Σ (UᵀV)²_{ab} >= 0; cancellation
 * costs at most a factor Σ|terms| / total of double's 1e-16, far below the
 * float32 rounding of the formed product this replaces. A negative total
 * can only be rounding of a zero norm, so it is clamped to 0 (a NaN, from
 * non-finite activations, is returned as it is).
 *
 * Speed: dots run on 4 doubles per vector; for each row i the dots with 4
 * rows j share the load of row i. Compiled for AVX2 and baseline x86-64
 * through target_clones (the order of operations is the same in both, so
 * results are identical).
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "vec8.h"

typedef float on_v4f __attribute__((vector_size(16)));
typedef double on_v4d __attribute__((vector_size(32)));

/* 4 floats at any float address, widened to double (exactly). */
static MLP_INLINE void v4_load(on_v4d *out, const float *p)
{
    on_v4f f;
    memcpy(&f, p, sizeof f);
    *out = __builtin_convertvector(f, on_v4d);
}

/* Lanes summed in a fixed order, then the k % 4 tail in order. */
static MLP_INLINE double v4_sum(const on_v4d *v)
{
    return ((*v)[0] + (*v)[2]) + ((*v)[1] + (*v)[3]);
}

/* s[r] = <x, y + r·stride> for r = 0..3, in double. */
static MLP_INLINE void dot4(const float *x, const float *y, size_t stride, int k, double s[4])
{
    on_v4d acc[4] = {{0}, {0}, {0}, {0}};
    int t = 0;
    for (; t + 4 <= k; t += 4) {
        on_v4d xv, yv;
        v4_load(&xv, x + t);
        for (int r = 0; r < 4; r++) {
            v4_load(&yv, y + (size_t)r * stride + t);
            acc[r] += xv * yv;
        }
    }
    for (int r = 0; r < 4; r++) {
        double tail = 0.0;
        for (int u = t; u < k; u++)
            tail += (double)x[u] * (double)y[(size_t)r * stride + u];
        s[r] = v4_sum(&acc[r]) + tail;
    }
}

/* <x, y> in double, in the same order as one lane of dot4. */
static MLP_INLINE double dot1(const float *x, const float *y, int k)
{
    on_v4d acc = {0};
    int t = 0;
    for (; t + 4 <= k; t += 4) {
        on_v4d xv, yv;
        v4_load(&xv, x + t);
        v4_load(&yv, y + t);
        acc += xv * yv;
    }
    double tail = 0.0;
    for (; t < k; t++)
        tail += (double)x[t] * (double)y[t];
    return v4_sum(&acc) + tail;
}

/* gu[j] = <row i, row j> of m (n x k) for j = i .. n-1. */
static MLP_INLINE void gram_row(const float *m, int k, int n, int i, double *gu)
{
    const float *mi = m + (size_t)i * k;
    int j = i;
    for (; j + 4 <= n; j += 4)
        dot4(mi, m + (size_t)j * k, (size_t)k, k, gu + j);
    for (; j < n; j++)
        gu[j] = dot1(mi, m + (size_t)j * k, k);
}

MLP_CLONES float mlp_outer_norm2(const float *u, int p, const float *v, int q, int n, double *gu)
{
    if (n == 1) {
        double uu = dot1(u, u, p), vv = dot1(v, v, q);
        return (float)sqrt(uu * vv);
    }
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        gram_row(u, p, n, i, gu);
        const float *vi = v + (size_t)i * q;
        double diag = gu[i] * dot1(vi, vi, q), off = 0.0;
        int j = i + 1;
        for (; j + 4 <= n; j += 4) {
            /* A zero <u_i, u_j> (one-hot max-logit rows, dead units) needs
             * no <v_i, v_j>. */
            if (gu[j] == 0.0 && gu[j + 1] == 0.0 && gu[j + 2] == 0.0 && gu[j + 3] == 0.0) continue;
            double gv[4];
            dot4(vi, v + (size_t)j * q, (size_t)q, q, gv);
            off += (gu[j] * gv[0] + gu[j + 1] * gv[1]) + (gu[j + 2] * gv[2] + gu[j + 3] * gv[3]);
        }
        for (; j < n; j++)
            if (gu[j] != 0.0) off += gu[j] * dot1(vi, v + (size_t)j * q, q);
        total += diag + 2.0 * off;
    }
    if (total < 0.0) total = 0.0; /* NaN stays NaN, as in the formed product */
    return (float)sqrt(total);
}
