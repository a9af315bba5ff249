/*
 * test_workspace_shrink — the shrink policy: after a big batch,
 * mlp_workspace_shrink gives back exactly the memory beyond what n rows need
 * (the workspace then holds what one reserved for n rows from scratch holds),
 * keeps the model-sized buffers, changes nothing when nothing is larger, and
 * leaves a workspace that computes the same bits as a fresh one.
 */
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

/* Bytes mlp_workspace_shrink gave back (it must succeed). */
static size_t shrink(mlp_workspace *ws, const mlp_model *m, int rows)
{
    size_t freed = 0;
    assert_int_equal(mlp_workspace_shrink(ws, m, rows, &freed, NULL), MLP_OK);
    return freed;
}

static mlp_model *make(int in, int hidden, int out, uint64_t seed)
{
    mlp_model *m = TEST_MODEL(in, {hidden, MLP_ACT_RELU, 0}, {hidden, MLP_ACT_RELU, 0},
                              {out, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_HE_NORMAL, seed, NULL);
    return m;
}

static float *inputs(int rows, int in)
{
    float *x = malloc(sizeof(float) * (size_t)rows * (size_t)in);
    assert_non_null(x);
    mlp_rng r;
    mlp_rng_seed(&r, 9);
    for (int i = 0; i < rows * in; i++)
        x[i] = (float)mlp_rng_normal(&r);
    return x;
}

/* Bytes a workspace holds after serving (forward + backward) rows of m. */
static size_t bytes_for(const mlp_model *m, const float *x, int rows)
{
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_forward(m, ws, x, rows, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, ws, 0, rows, &t, NULL, NULL), MLP_OK);
    size_t b = mlp_workspace_bytes(ws);
    mlp_workspace_free(ws);
    return b;
}

static void test_big_batch_memory_is_given_back(void **s)
{
    (void)s;
    enum { IN = 32, BIG = 4000, KEEP = 16 };
    mlp_model *m = make(IN, 128, 4, 1);
    float *x = inputs(BIG, IN);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_forward(m, ws, x, BIG, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, ws, 0, BIG, &t, NULL, NULL), MLP_OK);
    size_t big = mlp_workspace_bytes(ws), keep = bytes_for(m, x, KEEP);
    assert_true(big > 8 * keep); /* the test means something */

    size_t given = shrink(ws, m, KEEP);
    assert_int_equal(given, big - keep);
    assert_int_equal(mlp_workspace_bytes(ws), keep); /* as if it had served KEEP rows */
    assert_int_equal(mlp_workspace_rows(ws), 0);     /* the results went with the memory */
    assert_null(mlp_workspace_output(ws));
    assert_null(mlp_workspace_input_grad(ws));
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);

    /* up to KEEP rows it needs no allocation, and computes a fresh workspace's bits */
    mlp_workspace *fresh = NULL;
    assert_int_equal(mlp_workspace_create(&fresh, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, ws, x, KEEP, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, ws, 0, KEEP, &t, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_bytes(ws), keep);
    assert_int_equal(mlp_forward(m, fresh, x, KEEP, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, fresh, 0, KEEP, &t, NULL, NULL), MLP_OK);
    assert_memory_equal(mlp_workspace_output(ws), mlp_workspace_output(fresh),
                        sizeof(float) * KEEP * 4);
    assert_memory_equal(mlp_workspace_param_grad(ws), mlp_workspace_param_grad(fresh),
                        sizeof(float) * mlp_model_n_params(m));
    assert_memory_equal(mlp_workspace_input_grad(ws), mlp_workspace_input_grad(fresh),
                        sizeof(float) * KEEP * IN);

    /* nothing larger than KEEP rows: no-op, results kept */
    assert_int_equal(shrink(ws, m, KEEP), 0);
    assert_int_equal(shrink(ws, m, 2 * KEEP), 0);
    assert_int_equal(mlp_workspace_rows(ws), KEEP);
    assert_non_null(mlp_workspace_output(ws));

    /* and it grows again when a big batch comes back */
    assert_int_equal(mlp_forward(m, ws, x, BIG, NULL, NULL), MLP_OK);
    assert_true(mlp_workspace_bytes(ws) >= big - sizeof(double) * BIG);
    mlp_workspace_free(fresh);
    mlp_workspace_free(ws);
    free(x);
    mlp_model_free(m);
}

/* The row-sized buffers follow the model asked about; the model-sized ones
 * (gradients of the widest model served) stay, so serving two models does
 * not reallocate them back and forth. */
static void test_model_sized_buffers_stay(void **s)
{
    (void)s;
    mlp_model *wide = make(64, 256, 10, 2), *narrow = make(4, 8, 3, 3);
    float *x = inputs(200, 64);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_forward(wide, ws, x, 200, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(wide, ws, 0, 200, &t, NULL, NULL), MLP_OK);
    size_t big = mlp_workspace_bytes(ws);
    size_t given = shrink(ws, narrow, 4);
    assert_true(given > 0);
    /* what is left covers the wide model's gradient (params) in full */
    assert_true(mlp_workspace_bytes(ws) >= sizeof(float) * mlp_model_n_params(wide));
    assert_true(mlp_workspace_bytes(ws) < big);
    assert_int_equal(mlp_forward(narrow, ws, x, 4, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(narrow, ws, 0, 4, &t, NULL, NULL), MLP_OK);
    /* impossible requests are refused with a status, not a silent 0 */
    size_t freed = 7;
    mlp_error e;
    assert_int_equal(mlp_workspace_shrink(NULL, narrow, 4, &freed, NULL), MLP_ERR_INVALID);
    assert_int_equal(mlp_workspace_shrink(ws, NULL, 4, &freed, NULL), MLP_ERR_INVALID);
    assert_int_equal(mlp_workspace_shrink(ws, narrow, -1, &freed, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "-1"));
    assert_int_equal(freed, 7);
    mlp_workspace_free(ws);
    free(x);
    mlp_model_free(wide);
    mlp_model_free(narrow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_batch_memory_is_given_back),
        cmocka_unit_test(test_model_sized_buffers_stay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
