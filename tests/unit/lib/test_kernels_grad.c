/*
 * test_kernels_grad — the backward products dW = dZᵀ·A and dA = dZ·W
 * (lib/kernels_grad.c, dispatch in lib/kernels.c).
 *
 * Pins what lib/kernels_grad.c promises: every element is the plain
 * sequential sum written out below in scalar code, bit for bit, for every
 * ragged shape (tails in inputs, outputs and rows, and row counts across the
 * 64-row passes), so the AVX2 and baseline clones and every machine give the
 * same bits; the sums are right (double reference, and BLAS to float32
 * rounding); a dA row does not depend on the batch it is computed in; and the
 * kernel choice follows mlp_grad_uses_blas.
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

/* Shapes that exercise every tile: in % 32, % 16, % 8 tails and in < 8;
 * out % 4 tails; rows % 4 tails, one row, and rows past one 64-row pass. */
static const int INS[] = {1, 3, 7, 8, 9, 16, 17, 24, 31, 33, 64, 65, 100};
static const int OUTS[] = {1, 2, 3, 4, 5, 8, 9, 10, 17};
static const int ROWS[] = {1, 2, 3, 4, 5, 7, 8, 13, 63, 64, 65, 130};

#define FOR_SHAPES                                                                                 \
    for (size_t si = 0; si < sizeof INS / sizeof INS[0]; si++)                                     \
        for (size_t so = 0; so < sizeof OUTS / sizeof OUTS[0]; so++)                               \
            for (size_t sr = 0; sr < sizeof ROWS / sizeof ROWS[0]; sr++)

typedef struct {
    float *dz, *a, *w, *g, *g2;
} bufs;

/* dz: n x out; a: n x in; w: out x in; g, g2: room for dW or dA. */
static bufs bufs_make(int n, int in, int out, uint64_t seed)
{
    bufs B;
    size_t g_len = (size_t)in * (size_t)(out > n ? out : n);
    B.dz = malloc(sizeof(float) * (size_t)n * (size_t)out);
    B.a = malloc(sizeof(float) * (size_t)n * (size_t)in);
    B.w = malloc(sizeof(float) * (size_t)out * (size_t)in);
    B.g = malloc(sizeof(float) * g_len);
    B.g2 = malloc(sizeof(float) * g_len);
    assert_non_null(B.dz);
    assert_non_null(B.a);
    assert_non_null(B.w);
    assert_non_null(B.g);
    assert_non_null(B.g2);
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    test_fill_uniform(&r, B.dz, (size_t)n * (size_t)out);
    test_fill_uniform(&r, B.a, (size_t)n * (size_t)in);
    test_fill_uniform(&r, B.w, (size_t)out * (size_t)in);
    return B;
}

static void bufs_free(bufs *B)
{
    free(B->dz);
    free(B->a);
    free(B->w);
    free(B->g);
    free(B->g2);
}

/* The documented order, in scalar code: from 0, one product at a time. */
static float dw_in_order(const float *dz, const float *a, int n, int in, int out, int j, int k)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += dz[(size_t)i * out + j] * a[(size_t)i * in + k];
    return s;
}

static float da_in_order(const float *dz, const float *w, int in, int out, int i, int k)
{
    float s = 0.0f;
    for (int j = 0; j < out; j++)
        s += dz[(size_t)i * out + j] * w[(size_t)j * in + k];
    return s;
}

static void test_weight_grad_sums_in_documented_order(void **s)
{
    (void)s;
    FOR_SHAPES
    {
        int in = INS[si], out = OUTS[so], n = ROWS[sr];
        bufs B = bufs_make(n, in, out, (uint64_t)(in * 1000 + out * 10 + n));
        mlp_grad_weights_portable(B.dz, B.a, n, in, out, B.g);
        for (int j = 0; j < out; j++)
            for (int k = 0; k < in; k++) {
                float e = dw_in_order(B.dz, B.a, n, in, out, j, k);
                float got = B.g[(size_t)j * in + k];
                if (memcmp(&e, &got, sizeof e) != 0)
                    fail_msg("dW[%d][%d] of %d rows, %d -> %d: %.9g, in order %.9g", j, k, n, in,
                             out, (double)got, (double)e);
            }
        bufs_free(&B);
    }
}

static void test_input_grad_sums_in_documented_order(void **s)
{
    (void)s;
    FOR_SHAPES
    {
        int in = INS[si], out = OUTS[so], n = ROWS[sr];
        bufs B = bufs_make(n, in, out, (uint64_t)(in * 7 + out * 3 + n));
        mlp_grad_inputs_portable(B.dz, B.w, n, in, out, B.g);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < in; k++) {
                float e = da_in_order(B.dz, B.w, in, out, i, k);
                float got = B.g[(size_t)i * in + k];
                if (memcmp(&e, &got, sizeof e) != 0)
                    fail_msg("dA[%d][%d] of %d rows, %d -> %d: %.9g, in order %.9g", i, k, n, in,
                             out, (double)got, (double)e);
            }
        bufs_free(&B);
    }
}

/* The sums are the right ones: double-precision reference, and BLAS. */
static void test_match_double_reference_and_blas(void **s)
{
    (void)s;
    FOR_SHAPES
    {
        int in = INS[si], out = OUTS[so], n = ROWS[sr];
        bufs B = bufs_make(n, in, out, (uint64_t)(3 * in + 5 * out + n));
        mlp_grad_weights_portable(B.dz, B.a, n, in, out, B.g);
        mlp_grad_weights_blas(B.dz, B.a, n, in, out, B.g2);
        for (int j = 0; j < out; j++)
            for (int k = 0; k < in; k++) {
                double ref = 0.0;
                for (int i = 0; i < n; i++)
                    ref += (double)B.dz[(size_t)i * out + j] * (double)B.a[(size_t)i * in + k];
                /* |terms| <= 1: float32 summation error stays far below this */
                assert_true(fabs(ref - B.g[(size_t)j * in + k]) <= 1e-6 * (n + 1));
                assert_true(fabs(ref - B.g2[(size_t)j * in + k]) <= 1e-6 * (n + 1));
            }
        mlp_grad_inputs_portable(B.dz, B.w, n, in, out, B.g);
        mlp_grad_inputs_blas(B.dz, B.w, n, in, out, B.g2);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < in; k++) {
                double ref = 0.0;
                for (int j = 0; j < out; j++)
                    ref += (double)B.dz[(size_t)i * out + j] * (double)B.w[(size_t)j * in + k];
                assert_true(fabs(ref - B.g[(size_t)i * in + k]) <= 1e-6 * (out + 1));
                assert_true(fabs(ref - B.g2[(size_t)i * in + k]) <= 1e-6 * (out + 1));
            }
        bufs_free(&B);
    }
}

/* Row i of dA computed inside a batch of n has the same bits as row i alone. */
static void test_input_grad_is_batch_invariant(void **s)
{
    (void)s;
    const int n = 70, in = 65, out = 17;
    bufs B = bufs_make(n, in, out, 41);
    mlp_grad_inputs_portable(B.dz, B.w, n, in, out, B.g);
    for (int i = 0; i < n; i++) {
        mlp_grad_inputs_portable(B.dz + (size_t)i * out, B.w, 1, in, out, B.g2);
        assert_memory_equal(B.g + (size_t)i * in, B.g2, sizeof(float) * (size_t)in);
    }
    bufs_free(&B);
}

/* Non-finite gradients propagate to exactly the elements they reach. */
static void test_nan_propagates(void **s)
{
    (void)s;
    const int n = 5, in = 20, out = 6;
    bufs B = bufs_make(n, in, out, 43);
    B.dz[2 * out + 3] = NAN; /* row 2, output 3 */
    mlp_grad_weights_portable(B.dz, B.a, n, in, out, B.g);
    for (int j = 0; j < out; j++)
        for (int k = 0; k < in; k++)
            assert_int_equal(isnan(B.g[(size_t)j * in + k]) != 0, j == 3);
    mlp_grad_inputs_portable(B.dz, B.w, n, in, out, B.g);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < in; k++)
            assert_int_equal(isnan(B.g[(size_t)i * in + k]) != 0, i == 2);
    bufs_free(&B);
}

static void test_dispatch_follows_the_kernel_choice(void **s)
{
    (void)s;
    /* OWN never reaches BLAS and BLAS always does, whatever the size. */
    for (int n = 1; n <= 4096; n *= 8) {
        assert_false(mlp_grad_uses_blas(MLP_KERNEL_PORTABLE, n, 784, 512));
        assert_true(mlp_grad_uses_blas(MLP_KERNEL_BLAS, n, 4, 3));
    }
    /* AUTO: portable kernels for a single row and tiny products, BLAS for big ones. */
    assert_false(mlp_grad_uses_blas(MLP_KERNEL_AUTO, 1, 784, 512));
    assert_false(mlp_grad_uses_blas(MLP_KERNEL_AUTO, 64, 4, 3));
    assert_true(mlp_grad_uses_blas(MLP_KERNEL_AUTO, 256, 784, 512));

    const int n = 9, in = 33, out = 17;
    bufs B = bufs_make(n, in, out, 47);
    mlp_kernel kinds[] = {MLP_KERNEL_PORTABLE, MLP_KERNEL_BLAS, MLP_KERNEL_AUTO};
    for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++) {
        bool blas = mlp_grad_uses_blas(kinds[c], n, in, out);
        mlp_grad_weights(kinds[c], B.dz, B.a, n, in, out, B.g);
        (blas ? mlp_grad_weights_blas : mlp_grad_weights_portable)(B.dz, B.a, n, in, out, B.g2);
        assert_memory_equal(B.g, B.g2, sizeof(float) * (size_t)out * in);
        mlp_grad_inputs(kinds[c], B.dz, B.w, n, in, out, true, B.g);
        (blas ? mlp_grad_inputs_blas : mlp_grad_inputs_portable)(B.dz, B.w, n, in, out, B.g2);
        assert_memory_equal(B.g, B.g2, sizeof(float) * (size_t)n * in);
    }
    bufs_free(&B);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_grad_sums_in_documented_order),
        cmocka_unit_test(test_input_grad_sums_in_documented_order),
        cmocka_unit_test(test_match_double_reference_and_blas),
        cmocka_unit_test(test_input_grad_is_batch_invariant),
        cmocka_unit_test(test_nan_propagates),
        cmocka_unit_test(test_dispatch_follows_the_kernel_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
