/*
 * test_kernels — the dense-layer kernels Z = X·Wᵀ + b (lib/kernels.c).
 *
 * Pins what lib/kernels.c promises: the portable kernel matches a double-precision
 * reference and BLAS to float32 rounding for every ragged shape (tails in
 * inputs, outputs and rows); it sums in exactly the documented order (so the
 * AVX2 and baseline clones, and every machine, give the same bits); a row's
 * result does not depend on the batch it is computed in; and the dispatch
 * follows mlp_kernel_crossover_rows.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels.h"
#include "../test_models.h"

/* Shapes that exercise every path: in < 8 (vectorised across outputs),
 * in % 8 tails, out % 4 tails, odd row counts and rows < 4. */
static const int INS[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 64, 100, 784};
static const int OUTS[] = {1, 2, 3, 4, 5, 8, 9, 10, 16, 17, 33};
#define MAX_ROWS 11

typedef struct {
    float *x, *w, *b, *z, *z2;
} bufs;

static bufs bufs_make(int n, int in, int out, uint64_t seed)
{
    bufs B;
    B.x = malloc(sizeof(float) * (size_t)n * (size_t)in);
    B.w = malloc(sizeof(float) * (size_t)in * (size_t)out);
    B.b = malloc(sizeof(float) * (size_t)out);
    B.z = malloc(sizeof(float) * (size_t)n * (size_t)out);
    B.z2 = malloc(sizeof(float) * (size_t)n * (size_t)out);
    assert_non_null(B.x);
    assert_non_null(B.w);
    assert_non_null(B.b);
    assert_non_null(B.z);
    assert_non_null(B.z2);
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    test_fill_uniform(&r, B.x, (size_t)n * (size_t)in);
    test_fill_uniform(&r, B.w, (size_t)in * (size_t)out);
    test_fill_uniform(&r, B.b, (size_t)out);
    return B;
}

static void bufs_free(bufs *B)
{
    free(B->x);
    free(B->w);
    free(B->b);
    free(B->z);
    free(B->z2);
}

/* The documented summation order, written out in scalar code: 8 lane sums
 * over the full vectors, lanes as ((0+4)+(2+6)) + ((1+5)+(3+7)), then the
 * tail in order, then the bias. */
static float dot_in_order(const float *x, const float *w, float b, int in)
{
    float lane[8] = {0};
    int k = 0;
    for (; k + 8 <= in; k += 8)
        for (int l = 0; l < 8; l++)
            lane[l] += x[k + l] * w[k + l];
    float a0 = lane[0] + lane[4], a1 = lane[1] + lane[5];
    float a2 = lane[2] + lane[6], a3 = lane[3] + lane[7];
    float v = (a0 + a2) + (a1 + a3), t = 0.0f;
    for (; k < in; k++)
        t += x[k] * w[k];
    return b + (v + t);
}

static double dot_exact(const float *x, const float *w, float b, int in)
{
    double s = b;
    for (int k = 0; k < in; k++)
        s += (double)x[k] * (double)w[k];
    return s;
}

#define FOR_SHAPES                                                                                 \
    for (size_t si = 0; si < sizeof INS / sizeof INS[0]; si++)                                     \
        for (size_t so = 0; so < sizeof OUTS / sizeof OUTS[0]; so++)                               \
            for (int n = 1; n <= MAX_ROWS; n++)

static void test_portable_matches_double_reference(void **s)
{
    (void)s;
    FOR_SHAPES
    {
        int in = INS[si], out = OUTS[so];
        bufs B = bufs_make(n, in, out, (uint64_t)(in * 1000 + out * 10 + n));
        mlp_dense_portable(B.x, n, in, B.w, B.b, out, B.z);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < out; j++) {
                double ref = dot_exact(B.x + (size_t)i * in, B.w + (size_t)j * in, B.b[j], in);
                /* |terms| <= 1: float32 summation error stays far below this */
                assert_true(fabs(ref - B.z[(size_t)i * out + j]) <= 1e-6 * (in + 1));
            }
        bufs_free(&B);
    }
}

static void test_portable_sums_in_documented_order(void **s)
{
    (void)s;
    FOR_SHAPES
    {
        int in = INS[si], out = OUTS[so];
        bufs B = bufs_make(n, in, out, (uint64_t)(in * 7 + out * 3 + n));
        mlp_dense_portable(B.x, n, in, B.w, B.b, out, B.z);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < out; j++) {
                float e = dot_in_order(B.x + (size_t)i * in, B.w + (size_t)j * in, B.b[j], in);
                float got = B.z[(size_t)i * out + j];
                assert_memory_equal(&e, &got, sizeof e);
            }
        bufs_free(&B);
    }
}

/* Row i computed inside a batch of n has the same bits as row i alone. */
static void test_portable_is_batch_invariant(void **s)
{
    (void)s;
    FOR_SHAPES
    {
        int in = INS[si], out = OUTS[so];
        bufs B = bufs_make(n, in, out, (uint64_t)(in + out + n));
        mlp_dense_portable(B.x, n, in, B.w, B.b, out, B.z);
        for (int i = 0; i < n; i++) {
            mlp_dense_portable(B.x + (size_t)i * in, 1, in, B.w, B.b, out, B.z2);
            assert_memory_equal(B.z + (size_t)i * out, B.z2, sizeof(float) * (size_t)out);
        }
        bufs_free(&B);
    }
}

static void test_blas_matches_portable(void **s)
{
    (void)s;
    FOR_SHAPES
    {
        int in = INS[si], out = OUTS[so];
        bufs B = bufs_make(n, in, out, (uint64_t)(3 * in + 5 * out + n));
        mlp_dense_portable(B.x, n, in, B.w, B.b, out, B.z);
        mlp_dense_blas(B.x, n, in, B.w, B.b, out, B.z2);
        for (size_t k = 0; k < (size_t)n * (size_t)out; k++)
            assert_true(fabs((double)B.z[k] - (double)B.z2[k]) <= 1e-6 * (in + 1));
        bufs_free(&B);
    }
}

/* Large layers take the blocked paths (several X blocks for 784 inputs). */
static void test_portable_large_batch(void **s)
{
    (void)s;
    const int n = 97, in = 784, out = 37;
    bufs B = bufs_make(n, in, out, 99);
    mlp_dense_portable(B.x, n, in, B.w, B.b, out, B.z);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < out; j++) {
            float e = dot_in_order(B.x + (size_t)i * in, B.w + (size_t)j * in, B.b[j], in);
            assert_memory_equal(&e, &B.z[(size_t)i * out + j], sizeof e);
        }
    bufs_free(&B);
}

/* Non-finite inputs propagate instead of being masked. */
static void test_portable_propagates_nan(void **s)
{
    (void)s;
    bufs B = bufs_make(2, 16, 4, 5);
    B.x[3] = NAN;
    mlp_dense_portable(B.x, 2, 16, B.w, B.b, 4, B.z);
    for (int j = 0; j < 4; j++) {
        assert_true(isnan(B.z[j]));
        assert_false(isnan(B.z[4 + j]));
    }
    bufs_free(&B);
}

static void test_dispatch_follows_crossover(void **s)
{
    (void)s;
    const int in = 64, out = 64;
    int c = mlp_kernel_crossover_rows(in, out);
    assert_true(c > 1 && c <= 256);
    /* Narrow layers never go to BLAS (measured: it never wins there). */
    assert_true(mlp_kernel_crossover_rows(4, 16) > 4096);
    assert_true(mlp_kernel_crossover_rows(16, 3) > 4096);
    /* AUTO below the crossover is the portable kernel, bit for bit; above, BLAS. */
    int n = c + 1;
    bufs B = bufs_make(n, in, out, 11);
    mlp_dense(MLP_KERNEL_AUTO, B.x, c - 1, in, B.w, B.b, out, B.z);
    mlp_dense_portable(B.x, c - 1, in, B.w, B.b, out, B.z2);
    assert_memory_equal(B.z, B.z2, sizeof(float) * (size_t)(c - 1) * out);
    mlp_dense(MLP_KERNEL_AUTO, B.x, n, in, B.w, B.b, out, B.z);
    mlp_dense_blas(B.x, n, in, B.w, B.b, out, B.z2);
    assert_memory_equal(B.z, B.z2, sizeof(float) * (size_t)n * out);
    mlp_dense(MLP_KERNEL_PORTABLE, B.x, n, in, B.w, B.b, out, B.z);
    mlp_dense_portable(B.x, n, in, B.w, B.b, out, B.z2);
    assert_memory_equal(B.z, B.z2, sizeof(float) * (size_t)n * out);
    bufs_free(&B);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_portable_matches_double_reference),
        cmocka_unit_test(test_portable_sums_in_documented_order),
        cmocka_unit_test(test_portable_is_batch_invariant),
        cmocka_unit_test(test_blas_matches_portable),
        cmocka_unit_test(test_portable_large_batch),
        cmocka_unit_test(test_portable_propagates_nan),
        cmocka_unit_test(test_dispatch_follows_crossover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
