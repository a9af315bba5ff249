/*
 * kernels — Z = X·Wᵀ + b for one dense layer: the portable kernel
 * (MLP_KERNEL_PORTABLE), BLAS, and the switch between them and the native
 * kernel (lib/kernels_native.c).
 *
 * With W stored out x in (like torch.nn.Linear), every output is a dot
 * product of two contiguous rows: z[i][j] = b[j] + Σ_k x[i][k]·w[j][k].
 *
 * mlp_dense_portable computes those dots with GCC vector extensions (8 floats per
 * vector) and register blocking: a 2-row x 4-output tile keeps 8 vector
 * accumulators live, so each loaded input vector is used 4 times and each
 * weight vector twice, and 8 independent add chains hide the add latency.
 * Every output is summed in one fixed order: 8 lane accumulators over the
 * full vectors of the row, their lanes in a fixed tree, then the in % 8
 * tail products in order, then the bias. Layers with fewer than 8 inputs
 * (all tail) are vectorised across outputs instead, in that same order.
 *
 * Determinism. The source is compiled twice through target_clones: once for
 * AVX2 (one 256-bit register per vector) and once for baseline x86-64 (two
 * SSE registers per vector). Both perform exactly the same IEEE-754 float
 * operations in the same order; FMA is deliberately not in the clone list and
 * -ffp-contract=off forbids contracting a*b+c, so mlp_dense_portable gives
 * bit-identical results on every x86-64 CPU (and on other architectures,
 * where it is compiled once without clones). That portability has a price:
 * from 64 rows on the wide layers this takes 1.3-2x the time of the FMA
 * kernels of MLP_KERNEL_NATIVE (bench/README.md, on the AVX-512 dev VM),
 * which the server uses by default. And because the order does not depend
 * on the tile, a row's result is the same bits whatever batch it is computed
 * in.
 *
 * cblas_sgemm makes neither promise: OpenBLAS picks FMA kernels at run time
 * and may block differently with the row count. So with MLP_KERNEL_AUTO a
 * row's outputs can differ in the last bits between a batch below and a
 * batch above the crossover (within float32 rounding, never more); callers
 * that need batch-invariant bits (a dynamic batcher promising "identical to
 * serving it alone") keep MLP_KERNEL_PORTABLE or MLP_KERNEL_NATIVE on
 * their workspace.
 *
 * mlp_dense_blas pre-fills Z with the bias and calls cblas_sgemm(RowMajor,
 * NoTrans, Trans) with beta = 1. BLAS wins once there are enough rows to
 * amortise its packing: its blocked FMA kernel runs near the core's peak
 * (about 70 GFLOP/s here against about 40 for ours, which is bound by
 * moving W and X through L2).
 */
#ifndef MLP_NO_BLAS
#include <cblas.h>
#endif
#include <limits.h>
#include <string.h>

#include "kernels.h"
#include "vec8.h"

/* Lanes summed as ((0+4) + (2+6)) + ((1+5) + (3+7)): a fixed order, so the
 * result does not depend on how the vector is split into registers. */
static MLP_INLINE float v8_sum(const mlp_v8 *v)
{
    float a0 = (*v)[0] + (*v)[4], a1 = (*v)[1] + (*v)[5];
    float a2 = (*v)[2] + (*v)[6], a3 = (*v)[3] + (*v)[7];
    return (a0 + a2) + (a1 + a3);
}

/* The in % 8 trailing products of one dot, in order. */
static MLP_INLINE float dot_tail(const float *x, const float *w, int k0, int in)
{
    float s = 0.0f;
    for (int k = k0; k < in; k++)
        s += x[k] * w[k];
    return s;
}

/* Two rows x four outputs: z0[0..3] and z1[0..3]. */
static MLP_INLINE void tile_2x4(const float *x0, const float *x1, const float *w, int in,
                                const float *b, float *z0, float *z1)
{
    const float *w0 = w, *w1 = w + in, *w2 = w + 2 * (size_t)in, *w3 = w + 3 * (size_t)in;
    mlp_v8 a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0};
    mlp_v8 a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0};
    int k = 0;
    for (; k + 8 <= in; k += 8) {
        mlp_v8 u = v8_load(x0 + k), v = v8_load(x1 + k);
        mlp_v8 c = v8_load(w0 + k);
        a00 += u * c;
        a10 += v * c;
        c = v8_load(w1 + k);
        a01 += u * c;
        a11 += v * c;
        c = v8_load(w2 + k);
        a02 += u * c;
        a12 += v * c;
        c = v8_load(w3 + k);
        a03 += u * c;
        a13 += v * c;
    }
    z0[0] = b[0] + (v8_sum(&a00) + dot_tail(x0, w0, k, in));
    z0[1] = b[1] + (v8_sum(&a01) + dot_tail(x0, w1, k, in));
    z0[2] = b[2] + (v8_sum(&a02) + dot_tail(x0, w2, k, in));
    z0[3] = b[3] + (v8_sum(&a03) + dot_tail(x0, w3, k, in));
    z1[0] = b[0] + (v8_sum(&a10) + dot_tail(x1, w0, k, in));
    z1[1] = b[1] + (v8_sum(&a11) + dot_tail(x1, w1, k, in));
    z1[2] = b[2] + (v8_sum(&a12) + dot_tail(x1, w2, k, in));
    z1[3] = b[3] + (v8_sum(&a13) + dot_tail(x1, w3, k, in));
}

/* One row x four outputs (odd last row, and n = 1). */
static MLP_INLINE void tile_1x4(const float *x0, const float *w, int in, const float *b, float *z0)
{
    const float *w0 = w, *w1 = w + in, *w2 = w + 2 * (size_t)in, *w3 = w + 3 * (size_t)in;
    mlp_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int k = 0;
    for (; k + 8 <= in; k += 8) {
        mlp_v8 u = v8_load(x0 + k);
        a0 += u * v8_load(w0 + k);
        a1 += u * v8_load(w1 + k);
        a2 += u * v8_load(w2 + k);
        a3 += u * v8_load(w3 + k);
    }
    z0[0] = b[0] + (v8_sum(&a0) + dot_tail(x0, w0, k, in));
    z0[1] = b[1] + (v8_sum(&a1) + dot_tail(x0, w1, k, in));
    z0[2] = b[2] + (v8_sum(&a2) + dot_tail(x0, w2, k, in));
    z0[3] = b[3] + (v8_sum(&a3) + dot_tail(x0, w3, k, in));
}

/* One row x one output (the out % 4 last outputs). */
static MLP_INLINE float dot_1x1(const float *x0, const float *w0, int in, float b0)
{
    mlp_v8 a0 = {0};
    int k = 0;
    for (; k + 8 <= in; k += 8)
        a0 += v8_load(x0 + k) * v8_load(w0 + k);
    return b0 + (v8_sum(&a0) + dot_tail(x0, w0, k, in));
}

/*
 * Narrow inputs (in < 8): the dot products below would be all scalar tail,
 * one output at a time. Vectorise across outputs instead: for a block of 8
 * outputs, gather their weights transposed (wt[k] = W[j..j+8][k], at most 7
 * vectors), then every row costs `in` broadcast-multiply-adds,
 * z[i][j..j+8] = b + (((0 + x0·wt0) + x1·wt1) + ...), four rows at once so
 * four add chains overlap. That is exactly the order dense_dot sums a dot
 * with no full vector (0, then the tail in order, then the bias), so the two
 * paths give the same bits and the choice between them is only about speed.
 */
#define MLP_BCAST_MAX_IN 7

/* The first m (<= 8) lanes of v to z. */
static MLP_INLINE void store_8(float *z, const mlp_v8 *v, int m)
{
    if (m == 8)
        memcpy(z, v, sizeof *v);
    else
        memcpy(z, v, sizeof(float) * (size_t)m);
}

static MLP_INLINE void dense_bcast(const float *x, int n, int in, const float *w, const float *b,
                                   int out, float *z)
{
    if (n < 4) {
        /* Too few rows to repay the transposition: the same sums, in the same
         * order, one output at a time. */
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * (size_t)in;
            for (int j = 0; j < out; j++) {
                const float *wj = w + (size_t)j * (size_t)in;
                float a = 0.0f;
                for (int k = 0; k < in; k++)
                    a += xi[k] * wj[k];
                z[(size_t)i * (size_t)out + j] = b[j] + a;
            }
        }
        return;
    }
    mlp_v8 wt[MLP_BCAST_MAX_IN];
    for (int j0 = 0; j0 < out; j0 += 8) {
        int m = out - j0 < 8 ? out - j0 : 8;
        float t[MLP_BCAST_MAX_IN * 8], bt[8] = {0};
        if (m < 8) memset(t, 0, sizeof(float) * 8 * (size_t)in);
        for (int c = 0; c < m; c++) {
            const float *wj = w + (size_t)(j0 + c) * (size_t)in;
            for (int k = 0; k < in; k++)
                t[8 * k + c] = wj[k];
            bt[c] = b[j0 + c];
        }
        for (int k = 0; k < in; k++)
            wt[k] = v8_load(t + 8 * k);
        mlp_v8 bv = v8_load(bt);
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            const float *x0 = x + (size_t)i * (size_t)in;
            const float *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in;
            mlp_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (int k = 0; k < in; k++) {
                a0 += x0[k] * wt[k];
                a1 += x1[k] * wt[k];
                a2 += x2[k] * wt[k];
                a3 += x3[k] * wt[k];
            }
            a0 = bv + a0;
            a1 = bv + a1;
            a2 = bv + a2;
            a3 = bv + a3;
            float *z0 = z + (size_t)i * (size_t)out + j0;
            store_8(z0, &a0, m);
            store_8(z0 + out, &a1, m);
            store_8(z0 + 2 * (size_t)out, &a2, m);
            store_8(z0 + 3 * (size_t)out, &a3, m);
        }
        for (; i < n; i++) {
            const float *x0 = x + (size_t)i * (size_t)in;
            mlp_v8 a0 = {0};
            for (int k = 0; k < in; k++)
                a0 += x0[k] * wt[k];
            a0 = bv + a0;
            store_8(z + (size_t)i * (size_t)out + j0, &a0, m);
        }
    }
}

/*
 * Wide inputs: dot products in 2-row x 4-output tiles. For each group of 4
 * weight rows (4·in floats, which stay in L1) the tile walks down a block of
 * input rows, so the bandwidth-hungry stream is X from L2 (two vectors per
 * 8 vector products) rather than W (four). Rows are taken in blocks of about
 * MLP_X_BLOCK_BYTES so that X stays in L2 across weight groups. Every output
 * is summed in the same order whatever tile computes it, so a row's result
 * does not depend on the batch it came in.
 */
#define MLP_X_BLOCK_BYTES (256 * 1024)

static MLP_INLINE void dense_dot(const float *x, int n, int in, const float *w, const float *b,
                                 int out, float *z)
{
    size_t sin = (size_t)in, sout = (size_t)out;
    int block = (int)(MLP_X_BLOCK_BYTES / (sin * sizeof(float))) & ~1;
    if (block < 2) block = 2;
    for (int i0 = 0; i0 < n; i0 += block) {
        int i1 = n - i0 < block ? n : i0 + block;
        int j = 0;
        for (; j + 4 <= out; j += 4) {
            const float *wj = w + (size_t)j * sin;
            int i = i0;
            for (; i + 2 <= i1; i += 2) {
                const float *x0 = x + (size_t)i * sin;
                float *z0 = z + (size_t)i * sout + j;
                tile_2x4(x0, x0 + sin, wj, in, b + j, z0, z0 + sout);
            }
            if (i < i1) tile_1x4(x + (size_t)i * sin, wj, in, b + j, z + (size_t)i * sout + j);
        }
        for (; j < out; j++)
            for (int i = i0; i < i1; i++)
                z[(size_t)i * sout + j] =
                    dot_1x1(x + (size_t)i * sin, w + (size_t)j * sin, in, b[j]);
    }
}

MLP_CLONES
void mlp_dense_portable(const float *x, int n, int in, const float *w, const float *b, int out,
                        float *z)
{
    if (in <= MLP_BCAST_MAX_IN)
        dense_bcast(x, n, in, w, b, out, z);
    else
        dense_dot(x, n, in, w, b, out, z);
}

/*
 * make BLAS=0 builds libmlp without a BLAS (-DMLP_NO_BLAS): the three *_blas
 * products below then compute with the portable kernels, so AUTO and BLAS
 * give PORTABLE's results. A program that keeps PORTABLE or NATIVE anyway
 * (reluserve's server does, and training always runs PORTABLE) answers the
 * same bits and no longer loads OpenBLAS: the container image ships this
 * build without its 36 MB.
 */
void mlp_dense_blas(const float *x, int n, int in, const float *w, const float *b, int out,
                    float *z)
{
#ifdef MLP_NO_BLAS
    mlp_dense_portable(x, n, in, w, b, out, z);
#else
    for (int i = 0; i < n; i++)
        memcpy(z + (size_t)i * (size_t)out, b, (size_t)out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 1.0f, z,
                out);
#endif
}

/*
 * The switch point, measured on the 2-core AMD EPYC VM this project is
 * developed on, OpenBLAS 0.3.21 single-threaded, by
 *     make bench   (build/bench/bench_kernels: own vs BLAS per shape, 1..256 rows)
 * four runs (the last with interleaved samples, the most trustworthy on a
 * busy machine), first row count from which BLAS stays faster:
 *     4 -> 16, 16 -> 3       never up to 256 rows (own 1.3-2x faster at 256)
 *     16 -> 16               8, 8, 12, 8
 *     784 -> 512             12, 12, 48, 12
 *     512 -> 512             12, 8, 12, 12
 *     512 -> 10              48, 96, 256, never (within 5% of each other from 48 on)
 * At one row the own kernel is 2.5-8x faster everywhere (BLAS packs its
 * operands whatever the size). Narrow layers (fewer than 8 inputs or outputs)
 * never repay BLAS's packing; with fewer than 16 outputs the two run within
 * 10% of each other from a few dozen rows on; everything else switches at
 * about a dozen rows.
 */
int mlp_kernel_crossover_rows(int in, int out)
{
    if (in < 8 || out < 8) return INT_MAX;
    if (out < 16) return 64;
    return 12;
}

void mlp_dense(mlp_kernel k, const float *x, int n, int in, const float *w, const float *b, int out,
               float *z)
{
    if (k == MLP_KERNEL_AUTO)
        k = n >= mlp_kernel_crossover_rows(in, out) ? MLP_KERNEL_BLAS : MLP_KERNEL_PORTABLE;
    if (k == MLP_KERNEL_BLAS)
        mlp_dense_blas(x, n, in, w, b, out, z);
    else if (k == MLP_KERNEL_NATIVE)
        mlp_dense_native(mlp_native_isa_best(), x, n, in, w, b, out, z);
    else
        mlp_dense_portable(x, n, in, w, b, out, z);
}

/* ----------------------------------------------------- backward products */

void mlp_grad_weights_blas(const float *dz, const float *a, int n, int in, int out, float *dw)
{
#ifdef MLP_NO_BLAS
    mlp_grad_weights_portable(dz, a, n, in, out, dw);
#else
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dz, out, a, in, 0.0f, dw,
                in);
#endif
}

void mlp_grad_inputs_blas(const float *dz, const float *w, int n, int in, int out, float *da)
{
#ifdef MLP_NO_BLAS
    mlp_grad_inputs_portable(dz, w, n, in, out, da);
#else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dz, out, w, in, 0.0f,
                da, in);
#endif
}

/*
 * AUTO's switch for the backward products, from `make bench`
 * (build/bench/bench_kernels, second table: dW and dA of one layer, own
 * kernels vs sgemm; --quick on the busy 2-core dev box, load average 5-7):
 * at one row the own kernels take 0.6-1.0x sgemm's time everywhere; from
 * about 8 rows of 784 -> 512, 512 -> 512 and 512 -> 10 sgemm is faster
 * (own 1.1-1.7x its time); on 16 -> 16 the two stay within 5% up to 64 rows,
 * on 16 -> 3 the own kernels win up to 12 rows. Below 8 inputs the own
 * kernels sum in scalar code and sgemm is 3-9x faster, but those products
 * take a few microseconds.
 */
#define GRAD_BLAS_MIN_ROWS 8
#define GRAD_BLAS_MIN_MACS ((size_t)4096)

bool mlp_grad_uses_blas(mlp_kernel k, int n, int in, int out)
{
    if (k != MLP_KERNEL_AUTO) return k == MLP_KERNEL_BLAS;
    return n >= GRAD_BLAS_MIN_ROWS && (size_t)n * (size_t)in * (size_t)out >= GRAD_BLAS_MIN_MACS;
}

void mlp_grad_weights(mlp_kernel k, const float *dz, const float *a, int n, int in, int out,
                      float *dw)
{
    if (mlp_grad_uses_blas(k, n, in, out))
        mlp_grad_weights_blas(dz, a, n, in, out, dw);
    else if (k == MLP_KERNEL_NATIVE)
        mlp_grad_weights_native(mlp_native_isa_best(), dz, a, n, in, out, dw);
    else
        mlp_grad_weights_portable(dz, a, n, in, out, dw);
}

void mlp_grad_inputs(mlp_kernel k, const float *dz, const float *w, int n, int in, int out,
                     bool w_finite, float *da)
{
    if (mlp_grad_uses_blas(k, n, in, out))
        mlp_grad_inputs_blas(dz, w, n, in, out, da);
    else if (k == MLP_KERNEL_NATIVE)
        mlp_grad_inputs_native(mlp_native_isa_best(), dz, w, n, in, out, w_finite, da);
    else
        mlp_grad_inputs_portable(dz, w, n, in, out, da);
}
