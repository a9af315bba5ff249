/*
 * test_kernels_native — the native kernels (lib/kernels_native.c), on every
 * instruction set this CPU runs (each test prints which ran and which it
 * skipped, so on an AVX-512 machine the AVX-512 code is what it tests).
 *
 * Pins what lib/kernels_native.c promises:
 * - each product (forward, dA = dZ·W, dW = dZᵀ·A) is, element by element,
 *   one chain of fused multiply-adds over the summed index in increasing
 *   order from 0 (the forward then adds the bias): bit for bit equal to that
 *   chain written as a scalar fmaf() loop, so every ISA gives the same bits;
 * - each is within the documented bound of a double-precision reference:
 *   |computed - exact| <= (K + 1)·u·(|b| + Σ|x_k·w_k|), u = 2^-24, K the
 *   summed length (a chain of K roundings, plus the bias's);
 * - a row's result is the same bits computed alone and at every position of
 *   batches of 1..N rows;
 * - mlp_native_isa_best picks what cpuid says this CPU and OS run, and
 *   MLP_KERNEL_NATIVE computes with it.
 * Shapes cover widths that are not multiples of 8, 16 or 32 (panel and tile
 * tails), rows not multiples of the 6- and 8-row tiles, and summed lengths
 * past one 128-index block (chains carried through C).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <cmocka.h>

#include "kernels.h"
#include "../test_models.h"

static const mlp_native_isa ISAS[] = {MLP_ISA_AVX2_FMA, MLP_ISA_AVX512};
#define N_ISAS (sizeof ISAS / sizeof ISAS[0])

/* in, out pairs: tiny, ragged against 8/16/32/64, and past the 128 block. */
static const int SHAPES[][2] = {{1, 1},   {3, 5},    {7, 9},    {8, 16},   {16, 3},
                                {17, 33}, {31, 65},  {33, 100}, {64, 129}, {100, 37},
                                {129, 7}, {130, 70}, {257, 31}, {300, 200}};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])
static const int ROWS[] = {1, 2,  3,  4,  5,   6,  7, 8,
                           9, 13, 17, 64, 131, 300}; /* 300: past NK_MC (192 rows for AVX2, 256 for
                                                        AVX-512), the row blocking */
#define N_ROWS (sizeof ROWS / sizeof ROWS[0])

/* Runs body for every ISA the CPU supports, printing each verdict once. */
static bool isa_runs(mlp_native_isa isa, const char *test)
{
    bool ok = mlp_native_isa_supported(isa);
    printf("    %s: %s %s\n", test, mlp_native_isa_name(isa),
           ok ? "ran" : "skipped (this CPU does not run it)");
    return ok;
}

static float *randv(mlp_rng *r, size_t n)
{
    float *v = malloc(sizeof(float) * (n ? n : 1));
    assert_non_null(v);
    test_fill_uniform(r, v, n);
    return v;
}

/* The documented order in scalar code: s = fmaf(a_t, b_t, s) for t = 0..K-1. */
static float chain(const float *a, size_t as, const float *b, size_t bs, int K)
{
    float s = 0.0f;
    for (int t = 0; t < K; t++)
        s = fmaf(a[(size_t)t * as], b[(size_t)t * bs], s);
    return s;
}

/* |computed - exact| within (K + 1)·u·(|bias| + Σ|a_t·b_t|). */
static void assert_within_bound(float got, const float *a, size_t as, const float *b, size_t bs,
                                int K, float bias)
{
    double exact = bias, mag = fabs((double)bias);
    for (int t = 0; t < K; t++) {
        double p = (double)a[(size_t)t * as] * (double)b[(size_t)t * bs];
        exact += p;
        mag += fabs(p);
    }
    double bound = (K + 1) * ldexp(1.0, -24) * mag;
    if (!(fabs((double)got - exact) <= bound)) {
        printf("    |%.9g - %.9g| > %.3g (K = %d)\n", got, exact, bound, K);
        fail();
    }
}

/*
 * A product computed on random operands, as rows x cols chains of length K:
 * got[r·cols + c] = bias[c] + Σ_t a[r·a_row + t·a_t] · b[c·b_col + t·b_t]
 * for t = 0..K-1 (no bias for the gradients). It owns its four buffers. The
 * products below fill it in this order.
 */
typedef struct {
    const char *name;
    int rows, cols, K;
    float *got, *a, *b, *bias;
    size_t a_row, a_t, b_col, b_t;
} product;

typedef product (*product_fn)(mlp_native_isa isa, mlp_rng *r, int in, int out, int n);

/*
 * Each element of p: the same bits as its fmaf chain plus the bias (the
 * chain starts from +0 and never yields -0, so the gradients' missing bias
 * changes nothing), and within the bound of the exact sum.
 */
static void check_product(mlp_native_isa isa, const product *p, int in, int out, int n)
{
    for (int i = 0; i < p->rows; i++)
        for (int j = 0; j < p->cols; j++) {
            const float *a = p->a + (size_t)i * p->a_row, *b = p->b + (size_t)j * p->b_col;
            float bias = p->bias ? p->bias[j] : 0.0f;
            float want = bias + chain(a, p->a_t, b, p->b_t, p->K);
            float got = p->got[(size_t)i * p->cols + j];
            if (memcmp(&got, &want, sizeof got) != 0) {
                printf("    %s %d -> %d, %d rows: %s[%d][%d] = %.9g, chain %.9g\n",
                       mlp_native_isa_name(isa), in, out, n, p->name, i, j, got, want);
                fail();
            }
            assert_within_bound(got, a, p->a_t, b, p->b_t, p->K, bias);
        }
}

/* Runs product for every ISA the CPU runs, every shape and every row count
 * (the random stream seeded from seed, the shape and the row count), and
 * checks every element of each result. */
static void for_every_case(const char *what, uint64_t seed, product_fn fn)
{
    for (size_t v = 0; v < N_ISAS; v++) {
        if (!isa_runs(ISAS[v], what)) continue;
        for (size_t sh = 0; sh < N_SHAPES; sh++)
            for (size_t ri = 0; ri < N_ROWS; ri++) {
                int in = SHAPES[sh][0], out = SHAPES[sh][1], n = ROWS[ri];
                mlp_rng r;
                mlp_rng_seed(&r, seed + sh * 31 + ri);
                product p = fn(ISAS[v], &r, in, out, n);
                check_product(ISAS[v], &p, in, out, n);
                free(p.got);
                free(p.a);
                free(p.b);
                free(p.bias);
            }
    }
}

/* z = x·Wᵀ + b: row i of x against row j of W, over in. */
static product forward(mlp_native_isa isa, mlp_rng *r, int in, int out, int n)
{
    float *x = randv(r, (size_t)n * in), *w = randv(r, (size_t)out * in);
    float *b = randv(r, (size_t)out), *z = randv(r, (size_t)n * out);
    mlp_dense_native(isa, x, n, in, w, b, out, z);
    return (product){"z", n, out, in, z, x, w, b, (size_t)in, 1, (size_t)in, 1};
}

/* dA = dZ·W: row i of dZ against column k of W, over out. */
static product grad_inputs(mlp_native_isa isa, mlp_rng *r, int in, int out, int n)
{
    float *dz = randv(r, (size_t)n * out), *w = randv(r, (size_t)out * in);
    float *da = randv(r, (size_t)n * in);
    mlp_grad_inputs_native(isa, dz, w, n, in, out, true, da);
    return (product){"da", n, in, out, da, dz, w, NULL, (size_t)out, 1, 1, (size_t)in};
}

/* dW = dZᵀ·A: column j of dZ against column k of A, over the n rows. */
static product grad_weights(mlp_native_isa isa, mlp_rng *r, int in, int out, int n)
{
    float *dz = randv(r, (size_t)n * out), *a = randv(r, (size_t)n * in);
    float *dw = randv(r, (size_t)out * in);
    mlp_grad_weights_native(isa, dz, a, n, in, out, dw);
    return (product){"dw", out, in, n, dw, dz, a, NULL, 1, (size_t)out, 1, (size_t)in};
}

static void test_forward_is_the_fma_chain(void **s)
{
    (void)s;
    for_every_case("forward vs fmaf chain and double reference", 1000, forward);
}

static void test_grad_inputs_is_the_fma_chain(void **s)
{
    (void)s;
    for_every_case("dA = dZ·W vs fmaf chain and double reference", 2000, grad_inputs);
}

static void test_grad_weights_is_the_fma_chain(void **s)
{
    (void)s;
    for_every_case("dW = dZᵀ·A vs fmaf chain and double reference", 3000, grad_weights);
}

/*
 * Row r of a batch of N, for every N in 1..MAX_BATCH and every position:
 * the same bits as the row computed alone (forward and dA, the per-row
 * products; dW sums the rows it is given). The other rows are random, and
 * fresh for every batch.
 */
#define MAX_BATCH 20

static void test_rows_are_batch_invariant(void **s)
{
    (void)s;
    static const int shapes[][2] = {{5, 3}, {17, 33}, {100, 37}, {130, 70}};
    for (size_t v = 0; v < N_ISAS; v++) {
        if (!isa_runs(ISAS[v], "batch invariance")) continue;
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            int in = shapes[sh][0], out = shapes[sh][1];
            mlp_rng r;
            mlp_rng_seed(&r, 4000 + sh);
            float *w = randv(&r, (size_t)out * in), *b = randv(&r, (size_t)out);
            float *row = randv(&r, (size_t)in), *drow = randv(&r, (size_t)out);
            float *z1 = randv(&r, (size_t)out), *da1 = randv(&r, (size_t)in);
            mlp_dense_native(ISAS[v], row, 1, in, w, b, out, z1);
            mlp_grad_inputs_native(ISAS[v], drow, w, 1, in, out, true, da1);
            for (int N = 1; N <= MAX_BATCH; N++)
                for (int pos = 0; pos < N; pos++) {
                    float *x = randv(&r, (size_t)N * in), *dz = randv(&r, (size_t)N * out);
                    float *z = randv(&r, (size_t)N * out), *da = randv(&r, (size_t)N * in);
                    memcpy(x + (size_t)pos * in, row, sizeof(float) * (size_t)in);
                    memcpy(dz + (size_t)pos * out, drow, sizeof(float) * (size_t)out);
                    mlp_dense_native(ISAS[v], x, N, in, w, b, out, z);
                    mlp_grad_inputs_native(ISAS[v], dz, w, N, in, out, true, da);
                    if (memcmp(z + (size_t)pos * out, z1, sizeof(float) * (size_t)out) != 0 ||
                        memcmp(da + (size_t)pos * in, da1, sizeof(float) * (size_t)in) != 0) {
                        printf("    %s %d -> %d: row at %d of %d differs from alone\n",
                               mlp_native_isa_name(ISAS[v]), in, out, pos, N);
                        fail();
                    }
                    free(x);
                    free(dz);
                    free(z);
                    free(da);
                }
            free(w);
            free(b);
            free(row);
            free(drow);
            free(z1);
            free(da1);
        }
    }
}

/* What cpuid and XGETBV say, independently of libgcc's feature tests. */
static mlp_native_isa cpuid_isa(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return MLP_ISA_PORTABLE;
    bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
    if (!fma || !osxsave || !avx) return MLP_ISA_PORTABLE;
    unsigned xlo, xhi;
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    if ((xlo & 0x6) != 0x6) return MLP_ISA_PORTABLE; /* XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return MLP_ISA_PORTABLE;
    bool avx2 = b & (1u << 5), avx512f = b & (1u << 16);
    if (avx2 && avx512f && (xlo & 0xe6) == 0xe6) return MLP_ISA_AVX512; /* + opmask, ZMM */
    if (avx2) return MLP_ISA_AVX2_FMA;
#endif
    return MLP_ISA_PORTABLE;
}

static void test_dispatch_picks_what_the_cpu_runs(void **s)
{
    (void)s;
    mlp_native_isa best = mlp_native_isa_best(), want = cpuid_isa();
    printf("    this CPU: cpuid says %s, mlp_native_isa_best picks %s, mlp_kernel_native_isa() = "
           "\"%s\"\n",
           mlp_native_isa_name(want), mlp_native_isa_name(best), mlp_kernel_native_isa());
    assert_int_equal(best, want);
    assert_string_equal(mlp_kernel_native_isa(), mlp_native_isa_name(want));
    assert_true(mlp_native_isa_supported(MLP_ISA_PORTABLE));
    for (size_t v = 0; v < N_ISAS; v++)
        assert_int_equal(mlp_native_isa_supported(ISAS[v]), ISAS[v] <= want);

    /* MLP_KERNEL_NATIVE computes with that ISA: the same bits as calling it
     * directly, and (where it is not the portable fallback) not the portable
     * kernel's bits, which differ somewhere on a product this long. */
    int n = 9, in = 300, out = 40;
    mlp_rng r;
    mlp_rng_seed(&r, 5);
    float *x = randv(&r, (size_t)n * in), *w = randv(&r, (size_t)out * in);
    float *b = randv(&r, (size_t)out), *z = randv(&r, (size_t)n * out);
    float *zn = randv(&r, (size_t)n * out), *zp = randv(&r, (size_t)n * out);
    mlp_dense(MLP_KERNEL_NATIVE, x, n, in, w, b, out, z);
    mlp_dense_native(want, x, n, in, w, b, out, zn);
    mlp_dense_portable(x, n, in, w, b, out, zp);
    assert_memory_equal(z, zn, sizeof(float) * (size_t)n * out);
    size_t bytes = sizeof(float) * (size_t)n * out;
    if (want == MLP_ISA_PORTABLE)
        assert_memory_equal(z, zp, bytes);
    else
        assert_memory_not_equal(z, zp, bytes);
    /* and never BLAS */
    assert_false(mlp_grad_uses_blas(MLP_KERNEL_NATIVE, 256, 784, 512));
    free(x);
    free(w);
    free(b);
    free(z);
    free(zn);
    free(zp);
}

/* mlp_forward through a fresh workspace with kernel k: a copy of the outputs. */
static float *forward_copy(const mlp_model *m, mlp_kernel k, const float *x, int n)
{
    mlp_workspace *ws = NULL;
    size_t count = (size_t)n * (size_t)mlp_model_n_outputs(m);
    float *y = malloc(sizeof(float) * count);
    assert_non_null(y);
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_set_kernel(ws, k, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, ws, x, n, y, NULL), MLP_OK);
    mlp_workspace_free(ws);
    return y;
}

/*
 * mlp_forward with MLP_KERNEL_NATIVE reads the weights the model keeps
 * re-laid out (mlp_native_weights): the same bits as the kernel packing W
 * per call, for every shape, on the ISA the dispatch picks.
 */
static void test_forward_with_kept_weights_is_the_same(void **s)
{
    (void)s;
    mlp_native_isa isa = mlp_native_isa_best();
    printf("    kept weights: %s\n", mlp_native_isa_name(isa));
    for (size_t sh = 0; sh < N_SHAPES; sh++) {
        int in = SHAPES[sh][0], out = SHAPES[sh][1];
        mlp_layer_spec spec[] = {{out, MLP_ACT_IDENTITY, 0}};
        mlp_model *m = NULL;
        assert_int_equal(mlp_model_create(in, spec, 1, &m, NULL), MLP_OK);
        mlp_rng r;
        mlp_rng_seed(&r, 7000 + sh);
        float *p = randv(&r, mlp_model_n_params(m));
        assert_int_equal(mlp_model_set_params(m, p, mlp_model_n_params(m), NULL), MLP_OK);
        for (size_t ri = 0; ri < N_ROWS; ri++) {
            int n = ROWS[ri];
            float *x = randv(&r, (size_t)n * in), *z = randv(&r, (size_t)n * out);
            float *y = forward_copy(m, MLP_KERNEL_NATIVE, x, n);
            mlp_dense_native(isa, x, n, in, mlp_layer_weight(m, 0), mlp_layer_bias(m, 0), out, z);
            assert_memory_equal(y, z, sizeof(float) * (size_t)n * out);
            free(x);
            free(z);
            free(y);
        }
        free(p);
        mlp_model_free(m);
    }
}

/* A one-layer identity model in -> out holding params (n_params floats). */
static mlp_model *layer_model(int in, int out, const float *params)
{
    mlp_layer_spec spec[] = {{out, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(in, spec, 1, &m, NULL), MLP_OK);
    assert_int_equal(mlp_model_set_params(m, params, mlp_model_n_params(m), NULL), MLP_OK);
    return m;
}

/* One row through the kept weights of isa, alone and at position 1 of 3
 * rows (the batch path, which never skips), compared bit for bit with each
 * other and with the bias plus the fmaf chain over every index. */
static void assert_one_row_is_the_chain(mlp_native_isa isa, const mlp_model *m, const float *row,
                                        const char *what)
{
    int in = mlp_model_n_inputs(m), out = mlp_model_n_outputs(m);
    mlp_native_layer kept = mlp_native_weights(m, isa, 0);
    assert_non_null(kept.packed);
    float *alone = malloc(sizeof(float) * (size_t)out), *batch = malloc(sizeof(float) * 3 * out);
    float *x3 = malloc(sizeof(float) * 3 * (size_t)in);
    assert_true(alone && batch && x3);
    for (int i = 0; i < 3 * in; i++)
        x3[i] = (float)(i % 7) - 3.0f;
    memcpy(x3 + in, row, sizeof(float) * (size_t)in);
    mlp_dense_native_packed(isa, row, 1, in, kept, mlp_layer_bias(m, 0), out, alone);
    mlp_dense_native_packed(isa, x3, 3, in, kept, mlp_layer_bias(m, 0), out, batch);
    for (int j = 0; j < out; j++) {
        float want =
            mlp_layer_bias(m, 0)[j] + chain(row, 1, mlp_layer_weight(m, 0) + (size_t)j * in, 1, in);
        if (memcmp(&alone[j], &want, sizeof want) != 0 ||
            memcmp(&batch[out + j], &want, sizeof want) != 0) {
            printf("    %s %d -> %d, %s: z[%d] alone %.9g, in a batch %.9g, chain %.9g\n",
                   mlp_native_isa_name(isa), in, out, what, j, alone[j], batch[out + j], want);
            fail();
        }
    }
    free(alone);
    free(batch);
    free(x3);
}

/* dA = dZ·W for one row dz (out values) of a finite W (out x in), alone with
 * w_finite and at position 1 of 3 rows, bit for bit against the fmaf chain
 * over every j. */
static void assert_one_grad_row_is_the_chain(mlp_native_isa isa, const float *w, int in, int out,
                                             const float *dz, const char *what)
{
    float *alone = malloc(sizeof(float) * (size_t)in), *batch = malloc(sizeof(float) * 3 * in);
    float *dz3 = malloc(sizeof(float) * 3 * (size_t)out);
    assert_true(alone && batch && dz3);
    for (int i = 0; i < 3 * out; i++)
        dz3[i] = (float)(i % 5) - 2.0f;
    memcpy(dz3 + out, dz, sizeof(float) * (size_t)out);
    mlp_grad_inputs_native(isa, dz, w, 1, in, out, true, alone);
    mlp_grad_inputs_native(isa, dz3, w, 3, in, out, true, batch);
    for (int k = 0; k < in; k++) {
        float want = chain(dz, 1, w + k, (size_t)in, out);
        if (memcmp(&alone[k], &want, sizeof want) != 0 ||
            memcmp(&batch[in + k], &want, sizeof want) != 0) {
            printf("    %s dA %d <- %d, %s: da[%d] alone %.9g, in a batch %.9g, chain %.9g\n",
                   mlp_native_isa_name(isa), in, out, what, k, alone[k], batch[in + k], want);
            fail();
        }
    }
    free(alone);
    free(batch);
    free(dz3);
}

/*
 * A one-row dA = dZ·W steps over the zeros of dZ (NK(gemv_skip), W read in
 * place): the same bits as the chain and as the row in a batch, for half
 * zeros, all zeros, NaN and infinite gradients, widths that leave a partial
 * vector (W's last row is read only as far as its columns go) and gradient
 * lengths past one 512-index pass.
 */
static void test_one_grad_row_skips_zeros_to_the_same_bits(void **s)
{
    (void)s;
    static const int shapes[][2] = {{1, 1}, {9, 7}, {100, 33}, {70, 130}, {129, 300}, {17, 1100}};
    for (size_t v = 0; v < N_ISAS; v++) {
        if (!isa_runs(ISAS[v], "one gradient row skipping zeros")) continue;
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            int in = shapes[sh][0], out = shapes[sh][1];
            mlp_rng r;
            mlp_rng_seed(&r, 9500 + sh);
            float *w = randv(&r, (size_t)out * in), *dz = randv(&r, (size_t)out);
            for (int j = 0; j < out; j++)
                if (mlp_rng_uniform(&r) < 0.5) dz[j] = j % 2 ? -0.0f : 0.0f;
            assert_one_grad_row_is_the_chain(ISAS[v], w, in, out, dz, "half zeros");
            dz[0] = NAN, dz[out - 1] = -INFINITY;
            assert_one_grad_row_is_the_chain(ISAS[v], w, in, out, dz, "NaN and inf");
            for (int j = 0; j < out; j++)
                dz[j] = j % 2 ? -0.0f : 0.0f;
            assert_one_grad_row_is_the_chain(ISAS[v], w, in, out, dz, "all zeros");
            free(w);
            free(dz);
        }
    }
}

/*
 * A one-row forward steps over the inputs that are zero (NK(gemv_skip)):
 * the same bits as the chain over every index, and as the same row in a
 * batch, for rows that are half zeros of both signs, all zeros (with -0
 * biases, where a chain that started from the bias would differ), zeros
 * between terms that cancel exactly, zeros next to NaN and infinite inputs,
 * and summed lengths past the skip's 512-index pass. A layer holding an
 * infinite weight is not skipped: 0·inf is NaN, at every batch size.
 */
static void test_one_row_skips_zero_inputs_to_the_same_bits(void **s)
{
    (void)s;
    static const int shapes[][2] = {{1, 1},     {7, 9},    {33, 100},  {130, 70},
                                    {300, 129}, {513, 40}, {784, 512}, {1100, 17}};
    for (size_t v = 0; v < N_ISAS; v++) {
        if (!isa_runs(ISAS[v], "one row skipping zero inputs")) continue;
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            int in = shapes[sh][0], out = shapes[sh][1];
            size_t np = (size_t)in * out + (size_t)out;
            mlp_rng r;
            mlp_rng_seed(&r, 9000 + sh);
            float *p = randv(&r, np), *row = randv(&r, (size_t)in);
            for (int j = 0; j < out; j += 2)
                p[(size_t)in * out + j] = -0.0f; /* -0 biases */
            mlp_model *m = layer_model(in, out, p);

            for (int k = 0; k < in; k++) /* half zeros, both signs */
                if (mlp_rng_uniform(&r) < 0.5) row[k] = k % 2 ? -0.0f : 0.0f;
            assert_one_row_is_the_chain(ISAS[v], m, row, "half zeros");

            for (int k = 0; k < in; k++)
                row[k] = k % 3 ? 0.0f : -0.0f;
            assert_one_row_is_the_chain(ISAS[v], m, row, "all zeros");

            if (in >= 2) { /* x0·w0 + x1·w1 = +0 exactly, then zeros */
                for (int j = 0; j < out; j++)
                    p[(size_t)j * in + 1] = -p[(size_t)j * in];
                mlp_model_free(m);
                m = layer_model(in, out, p);
                row[0] = row[1] = 1.5f;
                assert_one_row_is_the_chain(ISAS[v], m, row, "cancelling terms");
                row[0] = NAN, row[in - 1] = INFINITY;
                assert_one_row_is_the_chain(ISAS[v], m, row, "NaN and inf inputs");
            }

            p[(size_t)(out - 1) * in + (size_t)(in - 1) / 2] = INFINITY; /* met by a zero */
            row[(in - 1) / 2] = 0.0f;
            mlp_model_free(m);
            m = layer_model(in, out, p);
            assert_false(mlp_native_weights(m, ISAS[v], 0).finite);
            assert_one_row_is_the_chain(ISAS[v], m, row, "an infinite weight");
            mlp_model_free(m);
            free(p);
            free(row);
        }
    }
}

/* m and like forward x (n rows) to the same bits with MLP_KERNEL_NATIVE. */
static void assert_forwards_alike(const mlp_model *m, const mlp_model *like, const float *x, int n)
{
    float *a = forward_copy(m, MLP_KERNEL_NATIVE, x, n);
    float *b = forward_copy(like, MLP_KERNEL_NATIVE, x, n);
    assert_memory_equal(a, b, sizeof(float) * (size_t)n * (size_t)mlp_model_n_outputs(m));
    free(a);
    free(b);
}

/*
 * The native forward keeps the model's weights re-laid out with the model.
 * Every way of changing the weights must drop that copy: a model whose
 * parameters were replaced (set_params, init, training) forwards exactly as
 * a fresh model holding the new parameters.
 */
static void test_model_weights_copy_follows_the_params(void **s)
{
    (void)s;
    mlp_layer_spec spec[] = {{40, MLP_ACT_RELU, 0}, {9, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = NULL, *fresh = NULL;
    assert_int_equal(mlp_model_create(37, spec, 2, &m, NULL), MLP_OK);
    assert_int_equal(mlp_model_init(m, MLP_INIT_HE_NORMAL, 1, NULL), MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, 6);
    int n = 7;
    float *x = randv(&r, (size_t)n * 37);
    free(forward_copy(m, MLP_KERNEL_NATIVE, x, n)); /* builds the copy for seed 1 */

    /* set_params */
    float *p2 = randv(&r, mlp_model_n_params(m));
    assert_int_equal(mlp_model_set_params(m, p2, mlp_model_n_params(m), NULL), MLP_OK);
    assert_int_equal(mlp_model_create(37, spec, 2, &fresh, NULL), MLP_OK);
    assert_int_equal(mlp_model_set_params(fresh, p2, mlp_model_n_params(m), NULL), MLP_OK);
    assert_forwards_alike(m, fresh, x, n);

    /* mlp_model_init */
    assert_int_equal(mlp_model_init(m, MLP_INIT_HE_NORMAL, 2, NULL), MLP_OK);
    assert_int_equal(mlp_model_init(fresh, MLP_INIT_HE_NORMAL, 2, NULL), MLP_OK);
    mlp_model *again = NULL;
    assert_int_equal(mlp_model_clone(fresh, &again, NULL), MLP_OK);
    assert_forwards_alike(m, again, x, n);

    /* mlp_train: one SGD epoch on the rows, regression targets */
    float *t = randv(&r, (size_t)n * 9);
    mlp_train_params tp = mlp_train_default_params();
    tp.epochs = 1;
    assert_int_equal(mlp_train(m, x, NULL, t, n, &tp, NULL), MLP_OK);
    mlp_model *trained = NULL;
    assert_int_equal(mlp_model_clone(m, &trained, NULL), MLP_OK);
    assert_forwards_alike(m, trained, x, n);

    free(t);
    free(p2);
    free(x);
    mlp_model_free(trained);
    mlp_model_free(again);
    mlp_model_free(fresh);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_is_the_fma_chain),
        cmocka_unit_test(test_grad_inputs_is_the_fma_chain),
        cmocka_unit_test(test_grad_weights_is_the_fma_chain),
        cmocka_unit_test(test_rows_are_batch_invariant),
        cmocka_unit_test(test_dispatch_picks_what_the_cpu_runs),
        cmocka_unit_test(test_forward_with_kept_weights_is_the_same),
        cmocka_unit_test(test_one_row_skips_zero_inputs_to_the_same_bits),
        cmocka_unit_test(test_one_grad_row_skips_zeros_to_the_same_bits),
        cmocka_unit_test(test_model_weights_copy_follows_the_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
