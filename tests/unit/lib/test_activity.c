/*
 * test_activity — per-unit activity counters across batches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"
#include "../test_models.h"

#include "../test_params.h"

/* 1 -> 3 relu -> 2 relu -> 1: layer 0 computes z = (x, -x, -1), so unit 2 is
 * never active; layer 1 sums layer 0's units with weights +1 / -1. */
static mlp_model *model(void)
{
    mlp_model *m =
        TEST_MODEL(1, {3, MLP_ACT_RELU, 0}, {2, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    const float p[] = {1, -1, 0, 0,  0,  -1,       /* W0, b0 */
                       1, 1,  0, -1, -1, 0,  0, 0, /* W1, b1 */
                       1, 1,  0};                  /* W2, b2 */
    assert_int_equal(mlp_model_n_params(m), sizeof p / sizeof p[0]);
    params_set_all(m, p, sizeof p / sizeof p[0]);
    return m;
}

static void test_counts_and_never_active(void **s)
{
    mlp_model *m = model();
    mlp_activity a;
    assert_int_equal(mlp_activity_init(m, &a, NULL), MLP_OK);
    assert_int_equal(a.n_layers, 2);
    assert_int_equal(a.units[0], 3);
    assert_int_equal(a.units[1], 2);
    assert_float_equal(mlp_activity_never_active_fraction(&a, 0), 0.0, 0); /* nothing seen */

    mlp_workspace *ws = *s;
    const float x[4] = {1, 2, 3, -1};
    assert_int_equal(mlp_forward(m, ws, x, 4, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_activity_add(&a, ws, 0, 3, NULL), MLP_OK); /* positive x only */
    assert_true(a.rows == 3);
    assert_true(a.active[0][0] == 3 && a.active[0][1] == 0 && a.active[0][2] == 0);
    /* layer 1: z = (a0 + a1, -a0 - a1) */
    assert_true(a.active[1][0] == 3 && a.active[1][1] == 0);
    assert_float_equal(mlp_activity_never_active_fraction(&a, 0), 2.0 / 3.0, 1e-7);
    assert_float_equal(mlp_activity_never_active_fraction(&a, 1), 0.5, 0);

    assert_int_equal(mlp_activity_add(&a, ws, 3, 1, NULL),
                     MLP_OK); /* x = -1 wakes unit 1 of layer 0 */
    assert_true(a.rows == 4);
    assert_true(a.active[0][1] == 1);
    assert_float_equal(mlp_activity_never_active_fraction(&a, 0), 1.0 / 3.0, 1e-7);

    mlp_error e;
    assert_int_equal(mlp_activity_add(&a, ws, 3, 2, &e), MLP_ERR_INVALID); /* past the batch */
    assert_non_null(strstr(e.msg, "rows [3, 5) lie outside the last forward's 4 rows"));
    assert_true(a.rows == 4);
    assert_float_equal(mlp_activity_never_active_fraction(&a, 5), 0.0, 0);

    mlp_activity b;
    assert_int_equal(mlp_activity_init(m, &b, NULL), MLP_OK);
    assert_int_equal(mlp_activity_add(&b, ws, 0, 4, NULL), MLP_OK);
    assert_int_equal(mlp_activity_merge(&a, &b, NULL), MLP_OK);
    assert_true(a.rows == 8);
    assert_true(a.active[0][0] == 6 && a.active[0][1] == 2 && a.active[0][2] == 0);

    mlp_activity_reset(&a);
    assert_true(a.rows == 0 && a.active[0][0] == 0 && a.active[1][0] == 0);
    mlp_activity_free(&a);
    mlp_activity_free(&b);
    mlp_model_free(m);
}

/* Rows with a NaN or infinite Z are counted as non-finite, neither active
 * (+inf > 0) nor silent (NaN > 0 is false): over [3e38, 1], layer 1 is NaN
 * then <= 0, which used to make both its units "never active". */
static void test_nonfinite_rows_counted_apart(void **s)
{
    mlp_model *m =
        TEST_MODEL(1, {2, MLP_ACT_RELU, 0}, {2, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    const float p[] = {10, 10, 0, 0, 1, -1, -1, 0.5f, 0, -1, 1, 1, 0.5f};
    params_set_all(m, p, sizeof p / sizeof p[0]);
    mlp_activity a, b;
    assert_int_equal(mlp_activity_init(m, &a, NULL), MLP_OK);
    assert_int_equal(mlp_activity_init(m, &b, NULL), MLP_OK);
    mlp_workspace *ws = *s;
    const float x[2] = {3e38f, 1.0f};
    assert_int_equal(mlp_forward(m, ws, x, 2, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_activity_add(&a, ws, 0, 2, NULL), MLP_OK);
    /* layer 0: +inf on row 0 (not active), 10 on row 1 (active) */
    assert_true(a.active[0][0] == 1 && a.nonfinite[0][0] == 1);
    /* layer 1: NaN on row 0, <= 0 on row 1 */
    assert_true(a.active[1][0] == 0 && a.nonfinite[1][0] == 1);
    assert_true(a.active[1][1] == 0 && a.nonfinite[1][1] == 1);
    assert_false(mlp_activity_never_active(&a, 1, 0));
    assert_float_equal(mlp_activity_never_active_fraction(&a, 1), 0.0, 0);
    assert_float_equal(mlp_activity_nonfinite_fraction(&a, 1), 1.0, 0);
    assert_float_equal(mlp_activity_nonfinite_fraction(&a, 0), 1.0, 0);

    /* the finite row alone: layer 1 never active, nothing non-finite */
    assert_int_equal(mlp_activity_add(&b, ws, 1, 1, NULL), MLP_OK);
    assert_true(mlp_activity_never_active(&b, 1, 0) && mlp_activity_never_active(&b, 1, 1));
    assert_float_equal(mlp_activity_never_active_fraction(&b, 1), 1.0, 0);
    assert_float_equal(mlp_activity_nonfinite_fraction(&b, 1), 0.0, 0);
    assert_int_equal(mlp_activity_merge(&b, &a, NULL),
                     MLP_OK); /* merging carries the non-finite counts */
    assert_true(b.nonfinite[1][0] == 1 && b.rows == 3);
    assert_float_equal(mlp_activity_never_active_fraction(&b, 1), 0.0, 0);
    mlp_activity_reset(&b);
    assert_true(b.nonfinite[1][0] == 0 && b.rows == 0);
    assert_false(mlp_activity_never_active(&b, 1, 0)); /* no rows: no verdict */
    mlp_activity_free(&a);
    mlp_activity_free(&b);
    mlp_model_free(m);
}

/* Counters of one shape refuse a workspace or counters of another, adding
 * nothing (they used to ignore it silently). */
static void test_shape_mismatch_refused(void **s)
{
    mlp_model *m = model();
    mlp_model *other = TEST_MODEL(1, {4, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    mlp_activity a, b;
    assert_int_equal(mlp_activity_init(m, &a, NULL), MLP_OK);
    assert_int_equal(mlp_activity_init(other, &b, NULL), MLP_OK);
    mlp_workspace *ws = *s;
    const float x = 1.0f;
    assert_int_equal(mlp_forward(other, ws, &x, 1, NULL, NULL), MLP_OK);
    mlp_error e;
    assert_int_equal(mlp_activity_add(&a, ws, 0, 1, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "another shape"));
    assert_true(a.rows == 0);
    assert_int_equal(mlp_activity_add(&b, ws, 0, 1, NULL), MLP_OK);
    assert_true(b.rows == 1);
    assert_int_equal(mlp_activity_merge(&a, &b, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "another model shape"));
    assert_true(a.rows == 0);
    mlp_activity_free(&a);
    mlp_activity_free(&b);
    mlp_model_free(other);
    mlp_model_free(m);
}

/* A model without hidden layers has nothing to count. */
static void test_no_hidden_layers(void **s)
{
    mlp_model *m = TEST_MODEL(3, {2, MLP_ACT_SOFTMAX, 0});
    mlp_activity a;
    assert_int_equal(mlp_activity_init(m, &a, NULL), MLP_OK);
    assert_int_equal(a.n_layers, 0);
    mlp_workspace *ws = *s;
    const float x[3] = {1, 2, 3};
    assert_int_equal(mlp_forward(m, ws, x, 1, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_activity_add(&a, ws, 0, 1, NULL), MLP_OK);
    mlp_activity_reset(&a);
    assert_float_equal(mlp_activity_never_active_fraction(&a, 0), 0.0, 0);
    mlp_activity_free(&a);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_and_never_active, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_nonfinite_rows_counted_apart, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_shape_mismatch_refused, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_no_hidden_layers, test_workspace_new,
                                        test_workspace_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
