/*
 * kernels_grad — the two products of back-propagation through a dense layer,
 * in libmlp's own fixed-order kernels:
 *     dW[out x in] = dZ[n x out]ᵀ · A[n x in]     dw[j][k] = Σ_i dz[i][j]·a[i][k]
 *     dA[n x in]   = dZ[n x out] · W[out x in]     da[i][k] = Σ_j dz[i][j]·w[j][k]
 *
 * The order. Every element is one sum that starts from 0 and adds its
 * products one by one in increasing order of the summed index (i for dW, j
 * for dA), each product rounded to float and then added (no FMA: vec8.h).
 * Elements never share a partial sum, so how they are tiled into vectors and
 * registers changes no bit: the AVX2 clone, the baseline clone and a plain
 * scalar loop give the same result on every machine, for any BLAS build or
 * none. That is what makes training reproducible (mlp_train never calls
 * BLAS). A dA row depends only on its own dZ row, so it is also the same
 * whatever batch it is computed in; dW sums exactly the rows it is given.
 *
 * Speed comes from register tiling: a tile keeps 8 vector accumulators live
 * (8 independent add chains hide the add latency) and reuses each loaded
 * vector for several outputs, instead of the rank-1 updates that stream
 * the whole dW (or dA) through memory once per row.
 */
#include <stdbool.h>
#include <string.h>

#include "kernels.h"
#include "vec8.h"

/* Rows per pass of the products: 64 rows of A (or dZ) of a 784-wide layer
 * are 200 KB, which stay in L2 while every tile of the pass reads them. A
 * long sum is carried from pass to pass in the output itself: storing a
 * float and loading it back changes no bit, so the order is still "i by i". */
#define GRAD_ROW_CHUNK 64

/* ------------------------------------------------ dW = dZᵀ·A, summed over i */

/* The tiles below add rows [0, n) of their dz and a to dw's elements, which
 * start from 0 (fresh) or from the partial sums of earlier rows. */
#define GW_START(c, p) mlp_v8 c = fresh ? (mlp_v8){0} : (mlp_v8)v8_load(p)

/* The 4 x 16 tiles of both products: accumulators c00..c31 for rows d,
 * d + in, d + 2in, d + 3in (two vectors each), started as GW_START says, each
 * step adding s_r · [u v] to row r, and stored back. Macros, so the
 * accumulators stay named locals the compiler keeps in registers. */
#define TILE4x16_START(d, in)                                                                      \
    GW_START(c00, d);                                                                              \
    GW_START(c01, d + 8);                                                                          \
    GW_START(c10, d + in);                                                                         \
    GW_START(c11, d + in + 8);                                                                     \
    GW_START(c20, d + 2 * (size_t)in);                                                             \
    GW_START(c21, d + 2 * (size_t)in + 8);                                                         \
    GW_START(c30, d + 3 * (size_t)in);                                                             \
    GW_START(c31, d + 3 * (size_t)in + 8)
#define TILE4x16_ADD(s0, s1, s2, s3, u, v)                                                         \
    do {                                                                                           \
        c00 += (s0) * (u);                                                                         \
        c01 += (s0) * (v);                                                                         \
        c10 += (s1) * (u);                                                                         \
        c11 += (s1) * (v);                                                                         \
        c20 += (s2) * (u);                                                                         \
        c21 += (s2) * (v);                                                                         \
        c30 += (s3) * (u);                                                                         \
        c31 += (s3) * (v);                                                                         \
    } while (0)
#define TILE4x16_STORE(d, in)                                                                      \
    do {                                                                                           \
        float *row_ = (d);                                                                         \
        v8_store(row_, c00);                                                                       \
        v8_store(row_ + 8, c01);                                                                   \
        row_ += (in);                                                                              \
        v8_store(row_, c10);                                                                       \
        v8_store(row_ + 8, c11);                                                                   \
        row_ += (in);                                                                              \
        v8_store(row_, c20);                                                                       \
        v8_store(row_ + 8, c21);                                                                   \
        row_ += (in);                                                                              \
        v8_store(row_, c30);                                                                       \
        v8_store(row_ + 8, c31);                                                                   \
    } while (0)

/* dw rows j..j+3, columns k..k+15. */
static MLP_INLINE void gw_4x16(const float *dz, const float *a, int n, int in, int out, int j,
                               int k, float *dw, bool fresh)
{
    float *d = dw + (size_t)j * (size_t)in + k;
    TILE4x16_START(d, in);
    const float *ai = a + k, *di = dz + j;
    for (int i = 0; i < n; i++, ai += in, di += out) {
        mlp_v8 u = v8_load(ai), v = v8_load(ai + 8);
        TILE4x16_ADD(di[0], di[1], di[2], di[3], u, v);
    }
    TILE4x16_STORE(d, in);
}

/* dw rows j..j+3, columns k..k+7. */
static MLP_INLINE void gw_4x8(const float *dz, const float *a, int n, int in, int out, int j, int k,
                              float *dw, bool fresh)
{
    float *d = dw + (size_t)j * (size_t)in + k;
    GW_START(c0, d);
    GW_START(c1, d + in);
    GW_START(c2, d + 2 * (size_t)in);
    GW_START(c3, d + 3 * (size_t)in);
    const float *ai = a + k, *di = dz + j;
    for (int i = 0; i < n; i++, ai += in, di += out) {
        mlp_v8 u = v8_load(ai);
        c0 += di[0] * u;
        c1 += di[1] * u;
        c2 += di[2] * u;
        c3 += di[3] * u;
    }
    v8_store(d, c0);
    v8_store(d + in, c1);
    v8_store(d + 2 * (size_t)in, c2);
    v8_store(d + 3 * (size_t)in, c3);
}

/* dw row j, columns k..k+31 (the out % 4 last rows: 4 add chains). */
static MLP_INLINE void gw_1x32(const float *dz, const float *a, int n, int in, int out, int j,
                               int k, float *dw, bool fresh)
{
    float *d = dw + (size_t)j * (size_t)in + k;
    GW_START(c0, d);
    GW_START(c1, d + 8);
    GW_START(c2, d + 16);
    GW_START(c3, d + 24);
    const float *ai = a + k, *di = dz + j;
    for (int i = 0; i < n; i++, ai += in, di += out) {
        float s = di[0];
        c0 += s * v8_load(ai);
        c1 += s * v8_load(ai + 8);
        c2 += s * v8_load(ai + 16);
        c3 += s * v8_load(ai + 24);
    }
    v8_store(d, c0);
    v8_store(d + 8, c1);
    v8_store(d + 16, c2);
    v8_store(d + 24, c3);
}

/* dw row j, columns k..k+7. */
static MLP_INLINE void gw_1x8(const float *dz, const float *a, int n, int in, int out, int j, int k,
                              float *dw, bool fresh)
{
    float *d = dw + (size_t)j * (size_t)in + k;
    GW_START(c, d);
    const float *ai = a + k, *di = dz + j;
    for (int i = 0; i < n; i++, ai += in, di += out)
        c += di[0] * v8_load(ai);
    v8_store(d, c);
}

/* dw[j][k] alone (the in % 8 last columns). */
static MLP_INLINE void gw_1x1(const float *dz, const float *a, int n, int in, int out, int j, int k,
                              float *dw, bool fresh)
{
    float *d = dw + (size_t)j * (size_t)in + k;
    float s = fresh ? 0.0f : *d;
    for (int i = 0; i < n; i++)
        s += dz[(size_t)i * (size_t)out + j] * a[(size_t)i * (size_t)in + k];
    *d = s;
}

/* Rows [0, n) of dz and a, one pass. */
static MLP_INLINE void gw_pass(const float *dz, const float *a, int n, int in, int out, float *dw,
                               bool fresh)
{
    int j = 0;
    for (; j + 4 <= out; j += 4) {
        int k = 0;
        for (; k + 16 <= in; k += 16)
            gw_4x16(dz, a, n, in, out, j, k, dw, fresh);
        for (; k + 8 <= in; k += 8)
            gw_4x8(dz, a, n, in, out, j, k, dw, fresh);
        for (; k < in; k++)
            for (int jj = j; jj < j + 4; jj++)
                gw_1x1(dz, a, n, in, out, jj, k, dw, fresh);
    }
    for (; j < out; j++) {
        int k = 0;
        for (; k + 32 <= in; k += 32)
            gw_1x32(dz, a, n, in, out, j, k, dw, fresh);
        for (; k + 8 <= in; k += 8)
            gw_1x8(dz, a, n, in, out, j, k, dw, fresh);
        for (; k < in; k++)
            gw_1x1(dz, a, n, in, out, j, k, dw, fresh);
    }
}

MLP_CLONES
static void grad_weights(const float *dz, const float *a, int n, int in, int out, float *dw)
{
    for (int i0 = 0; i0 < n; i0 += GRAD_ROW_CHUNK) {
        int rows = n - i0 < GRAD_ROW_CHUNK ? n - i0 : GRAD_ROW_CHUNK;
        gw_pass(dz + (size_t)i0 * (size_t)out, a + (size_t)i0 * (size_t)in, rows, in, out, dw,
                i0 == 0);
    }
}

/* ------------------------------------------------- dA = dZ·W, summed over j */

/*
 * da rows i..i+3, columns k..k+15, adding the products of outputs
 * [j0, j1) to sums that start from 0 (fresh) or from earlier outputs'. wp
 * is the strip W[j0..j1)[k..k+16) packed 16 floats per output: W's rows are
 * 2-3 KB apart in wide layers, so the strip read in place would map onto a
 * few L1 sets and miss on every load.
 */
static MLP_INLINE void gi_4x16(const float *dz, const float *wp, int j0, int j1, int in, int out,
                               int i, int k, float *da, bool fresh)
{
    float *d = da + (size_t)i * (size_t)in + k;
    TILE4x16_START(d, in);
    const float *d0 = dz + (size_t)i * (size_t)out, *d1 = d0 + out, *d2 = d1 + out, *d3 = d2 + out;
    for (int j = j0; j < j1; j++, wp += 16) {
        mlp_v8 u = v8_load(wp), v = v8_load(wp + 8);
        TILE4x16_ADD(d0[j], d1[j], d2[j], d3[j], u, v);
    }
    TILE4x16_STORE(d, in);
}

/* da rows i..i+3, columns k..k+7. */
static MLP_INLINE void gi_4x8(const float *dz, const float *w, int in, int out, int i, int k,
                              float *da)
{
    mlp_v8 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
    const float *d0 = dz + (size_t)i * (size_t)out, *d1 = d0 + out, *d2 = d1 + out, *d3 = d2 + out;
    const float *wj = w + k;
    for (int j = 0; j < out; j++, wj += in) {
        mlp_v8 u = v8_load(wj);
        c0 += d0[j] * u;
        c1 += d1[j] * u;
        c2 += d2[j] * u;
        c3 += d3[j] * u;
    }
    float *d = da + (size_t)i * (size_t)in + k;
    v8_store(d, c0);
    v8_store(d + in, c1);
    v8_store(d + 2 * (size_t)in, c2);
    v8_store(d + 3 * (size_t)in, c3);
}

/* da row i, columns k..k+63: one row needs 8 vectors of columns for 8
 * independent add chains (the single-request case). */
static MLP_INLINE void gi_1x64(const float *dz, const float *w, int in, int out, int i, int k,
                               float *da)
{
    mlp_v8 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0}, c6 = {0}, c7 = {0};
    const float *di = dz + (size_t)i * (size_t)out, *wj = w + k;
    for (int j = 0; j < out; j++, wj += in) {
        float s = di[j];
        c0 += s * v8_load(wj);
        c1 += s * v8_load(wj + 8);
        c2 += s * v8_load(wj + 16);
        c3 += s * v8_load(wj + 24);
        c4 += s * v8_load(wj + 32);
        c5 += s * v8_load(wj + 40);
        c6 += s * v8_load(wj + 48);
        c7 += s * v8_load(wj + 56);
    }
    float *d = da + (size_t)i * (size_t)in + k;
    v8_store(d, c0);
    v8_store(d + 8, c1);
    v8_store(d + 16, c2);
    v8_store(d + 24, c3);
    v8_store(d + 32, c4);
    v8_store(d + 40, c5);
    v8_store(d + 48, c6);
    v8_store(d + 56, c7);
}

/* da row i, columns k..k+7. */
static MLP_INLINE void gi_1x8(const float *dz, const float *w, int in, int out, int i, int k,
                              float *da)
{
    mlp_v8 c = {0};
    const float *di = dz + (size_t)i * (size_t)out, *wj = w + k;
    for (int j = 0; j < out; j++, wj += in)
        c += di[j] * v8_load(wj);
    v8_store(da + (size_t)i * (size_t)in + k, c);
}

/* da[i][k] alone (the in % 8 last columns). */
static MLP_INLINE float gi_1x1(const float *dz, const float *w, int in, int out, int i, int k)
{
    float s = 0.0f;
    const float *di = dz + (size_t)i * (size_t)out;
    for (int j = 0; j < out; j++)
        s += di[j] * w[(size_t)j * (size_t)in + k];
    return s;
}

/* Outputs per packed strip: 256 x 16 floats, 16 KB of stack, half of L1. */
#define GI_PACK_OUTS 256

/*
 * Four rows at a time, column strip by column strip: a 16-column strip of W
 * for up to GI_PACK_OUTS outputs is packed once and stays in L1 while every
 * 4-row tile of the pass reads it, so W comes from memory once per pass
 * instead of once per tile. The last n % 4 rows go one by one (W streamed
 * once each).
 */
MLP_CLONES
static void grad_inputs(const float *dz, const float *w, int n, int in, int out, float *da)
{
    float pack[GI_PACK_OUTS * 16] __attribute__((aligned(32)));
    int i = 0;
    for (int i0 = 0; i0 + 4 <= n; i0 += GRAD_ROW_CHUNK) {
        int i1 = i0 + ((n - i0 < GRAD_ROW_CHUNK ? n - i0 : GRAD_ROW_CHUNK) & ~3);
        int k = 0;
        for (; k + 16 <= in; k += 16)
            for (int j0 = 0; j0 < out; j0 += GI_PACK_OUTS) {
                int j1 = out - j0 < GI_PACK_OUTS ? out : j0 + GI_PACK_OUTS;
                for (int j = j0; j < j1; j++)
                    memcpy(pack + 16 * (j - j0), w + (size_t)j * (size_t)in + k,
                           16 * sizeof(float));
                for (i = i0; i < i1; i += 4)
                    gi_4x16(dz, pack, j0, j1, in, out, i, k, da, j0 == 0);
            }
        for (; k + 8 <= in; k += 8)
            for (i = i0; i < i1; i += 4)
                gi_4x8(dz, w, in, out, i, k, da);
        for (; k < in; k++)
            for (i = i0; i < i1; i++)
                da[(size_t)i * (size_t)in + k] = gi_1x1(dz, w, in, out, i, k);
        i = i1;
    }
    for (; i < n; i++) {
        int k = 0;
        for (; k + 64 <= in; k += 64)
            gi_1x64(dz, w, in, out, i, k, da);
        for (; k + 8 <= in; k += 8)
            gi_1x8(dz, w, in, out, i, k, da);
        for (; k < in; k++)
            da[(size_t)i * (size_t)in + k] = gi_1x1(dz, w, in, out, i, k);
    }
}

/* The exported names are plain functions around the cloned ones: clang
 * (the fuzz build) names a target_clones function's dispatcher NAME.ifunc,
 * which callers in other files (lib/kernels.c, the tests) would not find. */
void mlp_grad_weights_portable(const float *dz, const float *a, int n, int in, int out, float *dw)
{
    grad_weights(dz, a, n, in, out, dw);
}

void mlp_grad_inputs_portable(const float *dz, const float *w, int n, int in, int out, float *da)
{
    grad_inputs(dz, w, n, in, out, da);
}
