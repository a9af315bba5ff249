/*
 * test_train_without_blas — training never reaches BLAS, so a model trains to
 * the same bits whatever BLAS build a machine has and whichever CPU kernel
 * OpenBLAS picks there (README, `make models`; tests/integration/test_models.py
 * compares the bytes with the committed models).
 *
 * The Makefile links this binary with libmlp.a and WITHOUT OpenBLAS: the
 * cblas_sgemm below is the only BLAS the binary has. It counts its calls and
 * computes nothing. A control first proves that it is what libmlp calls
 * (a workspace pinned to MLP_KERNEL_BLAS reaches it from forward and
 * backward); then mlp_train runs on shapes and batch sizes where the AUTO
 * kernel choice would go to BLAS in forward, backward and the per-epoch
 * accuracy pass, and must not have called it once. Should libmlp ever call
 * another cblas_* function, this binary stops linking: give the stub that
 * entry point too (counting, never computing).
 */
#include <cblas.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"
#include "../test_models.h"

/* ------------------------------------------------------- the stub BLAS */

static long sgemm_calls;
static int last_m, last_n, last_k;

void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER Order, OPENBLAS_CONST enum CBLAS_TRANSPOSE TransA,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE TransB, OPENBLAS_CONST blasint M,
                 OPENBLAS_CONST blasint N, OPENBLAS_CONST blasint K, OPENBLAS_CONST float alpha,
                 OPENBLAS_CONST float *A, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *B,
                 OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float *C,
                 OPENBLAS_CONST blasint ldc)
{
    (void)Order, (void)TransA, (void)TransB, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb;
    (void)beta, (void)C, (void)ldc;
    sgemm_calls++;
    last_m = (int)M;
    last_n = (int)N;
    last_k = (int)K;
}

static void assert_no_blas(const char *what)
{
    if (sgemm_calls != 0)
        fail_msg("%s called cblas_sgemm %ld times (last M=%d N=%d K=%d): its bits would depend "
                 "on the machine's BLAS build and CPU",
                 what, sgemm_calls, last_m, last_n, last_k);
}

/* ------------------------------------------------------------ helpers */

/* Softmax last: a classifier; identity last: a regressor (mlp_model_create). */
static mlp_model *make_model(int in, const mlp_layer_spec *spec, int n_layers, uint64_t seed)
{
    return test_model_init(in, spec, n_layers, MLP_INIT_HE_NORMAL, seed);
}

/* n rows of d N(0, 1) values (the caller frees them). */
static float *random_rows(int n, int d, uint64_t seed)
{
    return test_normals((size_t)n * (size_t)d, seed, 1.0);
}

static bool keep_going(const mlp_epoch_stats *s, void *user)
{
    (void)s;
    (void)user;
    return true;
}

/* ------------------------------------------------------------ tests */

/* The control: without it, a binary that somehow still reached OpenBLAS
 * (or a libmlp that stopped using BLAS at all) would pass vacuously. */
static void test_the_stub_is_the_blas_libmlp_calls(void **state)
{
    (void)state;
    mlp_layer_spec spec[] = {{32, MLP_ACT_RELU, 0}, {32, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = make_model(16, spec, 3, 1);
    float *x = random_rows(64, 16, 2);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_non_null(ws);
    mlp_workspace_set_kernel(ws, MLP_KERNEL_BLAS, NULL);
    sgemm_calls = 0;
    assert_int_equal(mlp_forward(m, ws, x, 64, NULL, NULL), MLP_OK);
    assert_int_equal(sgemm_calls, 3); /* one product per layer */
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_backward(m, ws, 0, 64, &t, NULL, NULL), MLP_OK);
    assert_int_equal(sgemm_calls, 3 + 6); /* dW and dA per layer */
    mlp_workspace_free(ws);
    free(x);
    mlp_model_free(m);
}

/* Forward and backward of 1, 4, 16, 64 and 256 rows of a 32-64-64-10 model
 * on ws (both gradient modes), where AUTO takes BLAS from 12 rows on;
 * returns the cblas_sgemm calls they made. */
static long blas_calls_of(mlp_workspace *ws)
{
    mlp_layer_spec spec[] = {
        {64, MLP_ACT_RELU, 0}, {64, MLP_ACT_RELU, 0}, {10, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = make_model(32, spec, 3, 3);
    float *x = random_rows(256, 32, 4);
    sgemm_calls = 0;
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    for (int n = 1; n <= 256; n *= 4) {
        assert_int_equal(mlp_forward(m, ws, x, n, NULL, NULL), MLP_OK);
        assert_int_equal(mlp_backward(m, ws, 0, n, &t, NULL, NULL), MLP_OK);
        assert_int_equal(mlp_workspace_set_param_grads(ws, n % 2 == 0, NULL), MLP_OK);
    }
    free(x);
    mlp_model_free(m);
    return sgemm_calls;
}

/* Also pins the other side of the contract: a workspace on either
 * batch-invariant kernel (PORTABLE, NATIVE) never calls BLAS, in forward or
 * backward, whatever the batch; AUTO on the same shapes does (so the check is
 * not vacuous). */
static void test_batch_invariant_workspace_never_calls_blas(void **state)
{
    mlp_workspace *ws = *state;
    assert_int_equal(mlp_workspace_set_kernel(ws, MLP_KERNEL_PORTABLE, NULL), MLP_OK);
    blas_calls_of(ws);
    assert_no_blas("forward/backward on an MLP_KERNEL_PORTABLE workspace");
    assert_int_equal(mlp_workspace_set_kernel(ws, MLP_KERNEL_NATIVE, NULL), MLP_OK);
    blas_calls_of(ws);
    assert_no_blas("forward/backward on an MLP_KERNEL_NATIVE workspace");
    assert_int_equal(mlp_workspace_set_kernel(ws, MLP_KERNEL_AUTO, NULL), MLP_OK);
    assert_true(blas_calls_of(ws) > 0);
}

/* The default is the batch-invariant kernel (it was AUTO): a workspace that
 * never chose gives the same bits whatever the batch and the machine. */
static void test_default_workspace_is_batch_invariant(void **state)
{
    mlp_workspace *ws = *state;
    blas_calls_of(ws);
    assert_no_blas("forward/backward on a workspace left at the default kernel");
}

/* The bundled models' recipes (make models): iris-shaped 4-16-16-3 with
 * Adam, wave-shaped 2-32-32-1 regression; batch 32 and a 300-row data set, so
 * AUTO would take BLAS for the 16x16 and 32x32 products and for the 256-row
 * accuracy chunks. */
static void test_training_never_calls_blas(void **state)
{
    (void)state;
    const int n = 300;
    float *x = random_rows(n, 4, 5);
    int *labels = malloc(sizeof(int) * (size_t)n);
    assert_non_null(labels);
    for (int i = 0; i < n; i++)
        labels[i] = x[(size_t)i * 4] > 0.5f ? 2 : x[(size_t)i * 4 + 1] > 0.0f ? 1 : 0;
    mlp_layer_spec iris[] = {{16, MLP_ACT_RELU, 0}, {16, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = make_model(4, iris, 3, 7);
    mlp_train_params p = mlp_train_default_params();
    p.optimizer = MLP_OPT_ADAM;
    p.epochs = 5;
    p.batch_size = 32;
    p.on_epoch = keep_going; /* per-epoch loss, accuracy and diagnostics */
    mlp_error err;
    sgemm_calls = 0;
    assert_int_equal(mlp_train(m, x, labels, NULL, n, &p, &err), MLP_OK);
    assert_no_blas("mlp_train (classification, Adam)");
    mlp_model_free(m);

    float *xw = random_rows(n, 2, 6), *tw = random_rows(n, 1, 7);
    mlp_layer_spec wave[] = {
        {32, MLP_ACT_RELU, 0}, {32, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0}};
    m = make_model(2, wave, 3, 3);
    p.optimizer = MLP_OPT_SGD;
    p.clip_norm = 1.0f;
    p.batch_size = 64;
    assert_int_equal(mlp_train(m, xw, NULL, tw, n, &p, &err), MLP_OK);
    assert_no_blas("mlp_train (regression, SGD, clipping)");
    mlp_model_free(m);
    free(xw);
    free(tw);
    free(labels);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_stub_is_the_blas_libmlp_calls),
        cmocka_unit_test_setup_teardown(test_batch_invariant_workspace_never_calls_blas,
                                        test_workspace_new, test_workspace_free),
        cmocka_unit_test_setup_teardown(test_default_workspace_is_batch_invariant,
                                        test_workspace_new, test_workspace_free),
        cmocka_unit_test(test_training_never_calls_blas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
