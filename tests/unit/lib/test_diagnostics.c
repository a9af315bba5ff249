/*
 * test_diagnostics — each statistic of DESIGN.md's diagnostics contract on a
 * network built so the right answer is known.
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
#include "../test_params.h"

/* Forwards the n rows x through m on ws, then (unless t is NULL) a backward
 * pass over all of them towards t, and diagnoses: each step must succeed. */
static void diagnose_rows(const mlp_model *m, mlp_workspace *ws, const float *x, int n,
                          const mlp_target *t, mlp_diagnostics *d)
{
    assert_int_equal(mlp_forward(m, ws, x, n, NULL, NULL), MLP_OK);
    if (t != NULL) assert_int_equal(mlp_backward(m, ws, 0, n, t, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_diagnose(m, ws, NULL, d, NULL), MLP_OK);
}

/* Biases of -100 kill every unit of layer 0; layer 1 then sees only zeros,
 * so Z = bias = 0 there: dead too (Z <= 0). */
static void test_dead_and_collapsed(void **s)
{
    mlp_layer_spec spec[] = {{8, MLP_ACT_RELU, 0}, {6, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = test_model_init(4, spec, 3, MLP_INIT_HE_NORMAL, 1);
    for (int j = 0; j < 8; j++)
        bias_set(m, 0, j, -100.0f);
    float x[16 * 4];
    test_fill_normal(x, 64, 2, 1.0);
    mlp_workspace *ws = *s;
    int labels[16] = {0};
    mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = labels};
    mlp_diagnostics d;
    diagnose_rows(m, ws, x, 16, &t, &d);
    assert_int_equal(d.n_layers, 3);
    assert_int_equal(d.rows, 16);
    assert_true(d.collapsed);
    assert_float_equal(d.dead_fraction, 1.0, 0);
    assert_true(d.layers[0].relu_stats);
    assert_float_equal(d.layers[0].dead_fraction, 1.0, 0);
    assert_int_equal(d.layers[0].n_dead, 8);
    for (int j = 0; j < 8; j++)
        assert_int_equal(d.layers[0].dead_units[j], j);
    assert_float_equal(d.layers[0].sparsity, 1.0, 0);
    assert_float_equal(d.layers[0].mean_activation, 0.0, 0);
    assert_int_equal(d.layers[1].n_dead, 6);
    assert_false(d.layers[2].relu_stats); /* the output layer never has them */
    assert_int_equal(d.layers[2].index, 2);
    assert_int_equal(d.layers[2].units, 3);
    assert_int_equal(d.layers[2].activation, MLP_ACT_SOFTMAX);
    /* no gradient passes a dead layer */
    assert_float_equal(d.layers[0].weight_grad_norm, 0.0, 0);
    assert_true(d.layers[2].bias_grad_norm > 0.0f);
    assert_true(d.has_loss);
    assert_float_equal(d.loss, log(3.0), 1e-6); /* all logits equal the zero bias */
    mlp_model_free(m);
}

/* A He-initialised ReLU layer zeroes about half of a Gaussian input. */
static void test_fresh_relu_half_sparse(void **s)
{
    mlp_layer_spec spec[] = {{64, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_init(32, spec, 2, MLP_INIT_HE_NORMAL, 3);
    enum { N = 1000 };
    float *x = test_normals(N * 32, 4, 1.0);
    mlp_workspace *ws = *s;
    mlp_diagnostics d;
    diagnose_rows(m, ws, x, N, NULL, &d);
    assert_int_equal(d.rows, N);
    assert_false(d.has_gradients);
    assert_null(d.input_gradient);
    assert_false(d.has_loss);
    assert_true(isnan(d.gradient_ratio));
    assert_in_range((int)(d.layers[0].sparsity * 1000), 450, 550);
    assert_int_equal(d.layers[0].n_dead, 0);
    assert_false(d.collapsed);
    assert_float_equal(d.dead_fraction, 0.0, 0);
    /* E[relu(z)] = sd(z)/sqrt(2π), sd(z) = sqrt(2) for He weights on N(0,1) */
    assert_float_equal(d.layers[0].mean_activation, sqrt(2.0) / sqrt(2.0 * M_PI), 0.08);
    free(x);
    mlp_model_free(m);
}

static void test_saturation(void **s)
{
    mlp_layer_spec spec[] = {
        {16, MLP_ACT_SIGMOID, 0}, {16, MLP_ACT_TANH, 0}, {2, MLP_ACT_SIGMOID, 0}};
    mlp_model *m = test_model_init(8, spec, 3, MLP_INIT_XAVIER_NORMAL, 5);
    float x[100 * 8];
    test_fill_normal(x, 800, 6, 1.0);
    mlp_workspace *ws = *s;
    mlp_diagnostics d;
    /* near the origin nothing saturates */
    float *p = params_copy(m);
    for (size_t i = 0; i < mlp_model_n_params(m); i++)
        p[i] *= 0.1f;
    params_put(m, p);
    diagnose_rows(m, ws, x, 100, NULL, &d);
    assert_true(d.layers[0].saturation_stats && d.layers[1].saturation_stats);
    assert_true(d.layers[2].saturation_stats);
    assert_float_equal(d.layers[0].saturated_fraction, 0.0, 0);
    assert_float_equal(d.layers[1].saturated_fraction, 0.0, 0);
    assert_false(d.layers[0].relu_stats);
    /* huge weights push every unit onto its flat tails */
    p = params_copy(m);
    for (size_t i = 0; i < mlp_model_n_params(m); i++)
        p[i] *= 10000.0f;
    params_put(m, p);
    diagnose_rows(m, ws, x, 100, NULL, &d);
    assert_true(d.layers[0].saturated_fraction > 0.97f);
    assert_true(d.layers[1].saturated_fraction > 0.97f);
    mlp_model_free(m);
}

/* A chain of 1-unit identity layers with weights w_0 .. w_{L-1}, no biases,
 * input x: dg/dW_0 = x·Π_{l>0} w_l and dg/dW_{L-1} = x·Π_{l<L-1} w_l, so the
 * gradient ratio is exactly w_{L-1} / w_0. */
static void chain_ratio(float w_first, float w_last, const mlp_diag_params *p, mlp_diagnostics *d,
                        mlp_workspace *ws, mlp_model **keep)
{
    mlp_layer_spec spec[5];
    for (int l = 0; l < 5; l++)
        spec[l] = (mlp_layer_spec){1, MLP_ACT_IDENTITY, 0};
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(1, spec, 5, &m, NULL), MLP_OK);
    for (int l = 0; l < 5; l++)
        weight_set(m, l, 0, 2.0f);
    weight_set(m, 0, 0, w_first);
    weight_set(m, 4, 0, w_last);
    const float x = 1.5f;
    assert_int_equal(mlp_forward(m, ws, &x, 1, NULL, NULL), MLP_OK);
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_diagnose(m, ws, p, d, NULL), MLP_OK);
    *keep = m;
}

static void test_gradient_ratio_flags(void **s)
{
    (void)s;
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    mlp_model *m;
    mlp_diagnostics d;
    chain_ratio(1.0f, 1e-4f, NULL, &d, ws, &m);
    assert_true(d.has_gradients);
    assert_float_equal(d.gradient_ratio, 1e-4, 1e-9);
    assert_true(d.vanishing);
    assert_false(d.exploding);
    assert_float_equal(d.layers[4].activation_grad_norm, 1.0, 0);     /* dg/dZ_L = 1 */
    assert_float_equal(d.layers[3].activation_grad_norm, 1e-4, 1e-9); /* = w_last */
    assert_false(d.has_loss);
    assert_true(isnan(d.loss));
    mlp_model_free(m);

    chain_ratio(1.0f, 1e4f, NULL, &d, ws, &m);
    assert_float_equal(d.gradient_ratio, 1e4, 1e-2);
    assert_false(d.vanishing);
    assert_true(d.exploding);
    mlp_model_free(m);

    chain_ratio(1.0f, 0.5f, NULL, &d, ws, &m);
    assert_false(d.vanishing || d.exploding);
    mlp_model_free(m);
    const mlp_diag_params strict = {.vanishing_below = 0.9f, .exploding_above = 1e3f};
    chain_ratio(1.0f, 0.5f, &strict, &d, ws, &m);
    assert_true(d.vanishing);
    mlp_model_free(m);

    /* w_first = 0 zeroes every activation after layer 0, so dW_last = 0,
     * while dW_0 = x·Π_{l>0} w_l stays alive: an infinite ratio */
    chain_ratio(0.0f, 1.0f, NULL, &d, ws, &m);
    assert_true(isinf(d.gradient_ratio));
    assert_true(d.exploding);
    mlp_model_free(m);
    mlp_workspace_free(ws);
}

/* 0/0: no gradient anywhere says nothing about vanishing or exploding. */
static void test_gradient_ratio_zero_over_zero(void **s)
{
    mlp_layer_spec spec[] = {{2, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_init(2, spec, 2, MLP_INIT_HE_NORMAL, 7);
    const float x[2] = {0, 0}; /* A_{-1} = 0 and A_0 = relu(0) = 0 */
    mlp_workspace *ws = *s;
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    mlp_diagnostics d;
    diagnose_rows(m, ws, x, 1, &t, &d);
    assert_true(isnan(d.gradient_ratio));
    assert_false(d.vanishing || d.exploding);
    mlp_model_free(m);
}

/* Z_0 = 1e30·1e10 overflows to inf, so dg/dW_last = dZᵀ·A_0 holds inf·0 =
 * NaN while dg/dW_0 = x stays finite: ||dW_last|| is NaN (as in PyTorch) in
 * both gradient modes, and first/last is NaN with no verdict, not an
 * infinite ratio flagged as exploding. */
static void test_gradient_ratio_nan_last_layer(void **s)
{
    (void)s;
    mlp_model *m = TEST_MODEL(1, {1, MLP_ACT_RELU, 0}, {2, MLP_ACT_IDENTITY, 0});
    weight_set(m, 0, 0, 1e30f);
    weight_set(m, 1, 0, 1.0f);
    weight_set(m, 1, 1, -1.0f);
    const float x[1] = {1e10f};
    for (int keep = 0; keep < 2; keep++) {
        mlp_workspace *ws = NULL;
        assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
        mlp_workspace_set_param_grads(ws, keep, NULL);
        assert_int_equal(mlp_forward(m, ws, x, 1, NULL, NULL), MLP_OK);
        mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
        assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_OK);
        mlp_diagnostics d;
        assert_int_equal(mlp_diagnose(m, ws, NULL, &d, NULL), MLP_OK);
        assert_true(isnan(d.layers[1].weight_grad_norm));
        assert_float_equal(d.layers[0].weight_grad_norm, 1e10f, 1e3f);
        assert_true(isnan(d.gradient_ratio));
        assert_false(d.vanishing || d.exploding);
        mlp_workspace_free(ws);
    }
    mlp_model_free(m);
}

/* Statistics cover the backward's rows only: a unit alive on row 0 and dead
 * on row 1 is dead for a request that owns row 1. */
static void test_rows_of_last_backward(void **s)
{
    mlp_model *m = TEST_MODEL(1, {2, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    const float p[] = {1, -1, 0, 0, 1, 1, 0}; /* z0 = (x, -x) */
    params_set_all(m, p, sizeof p / sizeof p[0]);
    const float x[2] = {1, -1};
    mlp_workspace *ws = *s;
    mlp_diagnostics d;
    diagnose_rows(m, ws, x, 2, NULL, &d);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.layers[0].n_dead, 0);
    assert_float_equal(d.layers[0].sparsity, 0.5, 0);
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_backward(m, ws, 1, 1, &t, NULL, NULL), MLP_OK); /* x = -1 only */
    assert_int_equal(mlp_diagnose(m, ws, NULL, &d, NULL), MLP_OK);
    assert_int_equal(d.rows, 1);
    assert_int_equal(d.layers[0].n_dead, 1);
    assert_int_equal(d.layers[0].dead_units[0], 0);
    assert_float_equal(d.layers[0].dead_fraction, 0.5, 0);
    assert_float_equal(d.dead_fraction, 0.5, 0);
    assert_false(d.collapsed);
    assert_float_equal(d.layers[0].mean_activation, 0.5, 0);
    assert_non_null(d.input_gradient);
    assert_float_equal(d.input_gradient[0], -1.0, 0); /* d/dx of relu(-x) at x = -1 */
    mlp_model_free(m);
}

/* Leaky ReLU units with Z <= 0 everywhere count as dead; sparsity is 0. */
static void test_leaky_relu_dead_not_sparse(void **s)
{
    mlp_layer_spec spec[] = {{4, MLP_ACT_LEAKY_RELU, 0.1f}, {1, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_init(3, spec, 2, MLP_INIT_HE_NORMAL, 8);
    for (int j = 0; j < 4; j++)
        bias_set(m, 0, j, j < 2 ? -50.0f : 50.0f);
    float x[10 * 3];
    test_fill_normal(x, 30, 9, 1.0);
    mlp_workspace *ws = *s;
    mlp_diagnostics d;
    diagnose_rows(m, ws, x, 10, NULL, &d);
    assert_int_equal(d.layers[0].n_dead, 2);
    assert_float_equal(d.layers[0].sparsity, 0.0, 0);
    assert_float_equal(d.dead_fraction, 0.5, 0);
    mlp_model_free(m);
}

/* A ReLU output layer is not hidden: no dead-unit statistics, even if dead,
 * and it does not count towards the top-level dead fraction. */
static void test_relu_output_layer_has_no_relu_stats(void **s)
{
    mlp_layer_spec spec[] = {{3, MLP_ACT_RELU, 0}, {2, MLP_ACT_RELU, 0}};
    mlp_model *m = test_model_init(2, spec, 2, MLP_INIT_HE_NORMAL, 10);
    bias_set(m, 1, 0, -100.0f);
    bias_set(m, 1, 1, -100.0f);
    const float x[2] = {0.5f, -0.5f};
    mlp_workspace *ws = *s;
    mlp_diagnostics d;
    diagnose_rows(m, ws, x, 1, NULL, &d);
    assert_true(d.layers[0].relu_stats);
    assert_false(d.layers[1].relu_stats);
    assert_int_equal(d.layers[1].n_dead, 0);
    assert_false(d.collapsed);
    assert_float_equal(d.dead_fraction, (float)d.layers[0].n_dead / 3.0f, 0);
    mlp_model_free(m);
}

/* 1 -> 2 ReLU (W = 10, 10) -> 2 ReLU (W = [[1, -1], [-1, 0.5]], b = [0, -1])
 * -> 1 identity. x = 3e38 overflows Z0 to +inf and Z1 to inf - inf = NaN;
 * x = 1 gives Z1 = (0, -6) <= 0. */
static mlp_model *overflow_model(void)
{
    mlp_model *m =
        TEST_MODEL(1, {2, MLP_ACT_RELU, 0}, {2, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    const float p[] = {10, 10, 0, 0, 1, -1, -1, 0.5f, 0, -1, 1, 1, 0.5f};
    assert_int_equal(mlp_model_n_params(m), sizeof p / sizeof p[0]);
    params_set_all(m, p, sizeof p / sizeof p[0]);
    return m;
}

/* A unit with a NaN or infinite Z on some row is counted non-finite, never
 * dead: on the overflowing row layer 1 is NaN, on the other <= 0, and calling
 * it dead (NaN is not > 0) made the network look collapsed. */
static void test_nonfinite_units_are_not_dead(void **s)
{
    mlp_model *m = overflow_model();
    mlp_workspace *ws = *s;
    mlp_diagnostics d;
    const float both[2] = {3e38f, 1.0f};
    diagnose_rows(m, ws, both, 2, NULL, &d);
    assert_true(d.nonfinite);
    assert_false(d.collapsed);
    assert_int_equal(d.layers[0].n_nonfinite, 2); /* +inf on row 0 */
    assert_int_equal(d.layers[0].n_dead, 0);
    assert_int_equal(d.layers[1].n_nonfinite, 2); /* NaN on row 0 */
    assert_int_equal(d.layers[1].n_dead, 0);
    assert_float_equal(d.layers[1].dead_fraction, 0.0f, 0.0f);
    assert_int_equal(d.layers[2].n_nonfinite, 1); /* the output layer is counted too */
    assert_float_equal(d.dead_fraction, 0.0f, 0.0f);

    /* the finite row alone: layer 1 is dead and the network collapsed */
    diagnose_rows(m, ws, both + 1, 1, NULL, &d);
    assert_false(d.nonfinite);
    assert_true(d.collapsed);
    assert_int_equal(d.layers[1].n_dead, 2);
    for (int l = 0; l < 3; l++)
        assert_int_equal(d.layers[l].n_nonfinite, 0);

    /* -inf is <= 0 but not a dead unit's finite silence */
    const float neg = -3e38f;
    diagnose_rows(m, ws, &neg, 1, NULL, &d);
    assert_int_equal(d.layers[0].n_nonfinite, 2);
    assert_int_equal(d.layers[0].n_dead, 0);
    assert_true(d.nonfinite);
    mlp_model_free(m);
}

static void test_refusals(void **s)
{
    mlp_layer_spec spec[] = {{2, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_init(2, spec, 2, MLP_INIT_AUTO, 1);
    mlp_workspace *ws = *s;
    mlp_diagnostics d;
    mlp_error e;
    assert_int_equal(mlp_diagnose(m, ws, NULL, &d, &e), MLP_ERR_INVALID); /* no forward */
    assert_string_equal(e.msg, "the workspace holds no forward pass");
    const float x[2] = {1, 2};
    assert_int_equal(mlp_forward(m, ws, x, 1, NULL, NULL), MLP_OK);
    mlp_layer_spec other[] = {{3, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0}};
    mlp_model *m2 = test_model_init(2, other, 2, MLP_INIT_AUTO, 1);
    assert_int_equal(mlp_diagnose(m2, ws, NULL, &d, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "another shape"));
    mlp_diag_params p = mlp_diag_default_params();
    assert_float_equal(p.vanishing_below, 1e-3, 0);
    assert_float_equal(p.exploding_above, 1e3, 0);
    mlp_model_free(m2);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dead_and_collapsed, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_fresh_relu_half_sparse, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_saturation, test_workspace_new, test_workspace_free),
        cmocka_unit_test(test_gradient_ratio_flags),
        cmocka_unit_test_setup_teardown(test_gradient_ratio_zero_over_zero, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test(test_gradient_ratio_nan_last_layer),
        cmocka_unit_test_setup_teardown(test_rows_of_last_backward, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_leaky_relu_dead_not_sparse, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_relu_output_layer_has_no_relu_stats,
                                        test_workspace_new, test_workspace_free),
        cmocka_unit_test_setup_teardown(test_nonfinite_units_are_not_dead, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_refusals, test_workspace_new, test_workspace_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
