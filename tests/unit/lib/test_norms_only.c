/*
 * test_norms_only — the serving fast paths of libmlp: norms-only backward
 * (mlp_workspace_set_param_grads false) against the full gradient, 64-byte
 * alignment of parameters and workspace buffers, and the branchless ReLU
 * loops against the scalar definitions (signed zeros, NaN, ReLU'(0) = 0),
 * and the one summation order every norm uses (norm.c).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "mlp.h"
#include "../test_models.h"

#include "../test_params.h"

static void random_fill(float *v, size_t n, mlp_rng *r, double scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(scale * mlp_rng_normal(r));
}

/* |a - b| / max(|a|, |b|), 0 when both are 0 */
static double rel_diff(double a, double b)
{
    double s = fmax(fabs(a), fabs(b));
    return s > 0.0 ? fabs(a - b) / s : 0.0;
}

/*
 * One model, every row count 1..70 (small counts take the Gram route, large
 * ones on narrow layers form dW in scratch), several targets: both modes must
 * report the same norms to float32 accuracy and identical dg/dX, and the
 * weight norm must equal the norm of the full mode's own dW computed here in
 * double.
 */
static void compare_modes(int in, const mlp_layer_spec *spec, int n_layers, uint64_t seed)
{
    enum { MAX_ROWS = 70 };
    mlp_model *m = test_model_random(in, spec, n_layers, MLP_INIT_HE_NORMAL, seed);
    mlp_rng r;
    mlp_rng_seed(&r, seed + 7);
    float *x = malloc(sizeof(float) * MAX_ROWS * (size_t)in);
    int *labels = malloc(sizeof(int) * MAX_ROWS);
    assert_non_null(x);
    assert_non_null(labels);
    random_fill(x, (size_t)MAX_ROWS * in, &r, 1.0);
    for (int i = 0; i < MAX_ROWS; i++)
        labels[i] = (int)mlp_rng_below(&r, (uint64_t)m->n_outputs);

    mlp_workspace *full = NULL, *fast = NULL;
    assert_int_equal(mlp_workspace_create(&full, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_create(&fast, NULL), MLP_OK);
    assert_non_null(full);
    assert_non_null(fast);
    mlp_workspace_set_param_grads(fast, false, NULL);
    double worst = 0.0;
    for (int n = 1; n <= MAX_ROWS; n++) {
        mlp_target t = {.kind = n % 2 ? MLP_TARGET_MAX_LOGIT : MLP_TARGET_LABELS, .labels = labels};
        float loss_full, loss_fast;
        assert_int_equal(mlp_forward(m, full, x, n, NULL, NULL), MLP_OK);
        assert_int_equal(mlp_forward(m, fast, x, n, NULL, NULL), MLP_OK);
        assert_int_equal(mlp_backward(m, full, 0, n, &t, &loss_full, NULL), MLP_OK);
        assert_int_equal(mlp_backward(m, fast, 0, n, &t, &loss_fast, NULL), MLP_OK);
        assert_true(memcmp(&loss_full, &loss_fast, sizeof loss_full) == 0);
        const float *g = mlp_workspace_param_grad(full);
        assert_non_null(g);
        assert_null(mlp_workspace_param_grad(fast));
        assert_memory_equal(mlp_workspace_input_grad(full), mlp_workspace_input_grad(fast),
                            sizeof(float) * (size_t)n * in);

        mlp_diagnostics df, dq;
        assert_int_equal(mlp_diagnose(m, full, NULL, &df, NULL), MLP_OK);
        assert_int_equal(mlp_diagnose(m, fast, NULL, &dq, NULL), MLP_OK);
        assert_true(df.has_gradients && dq.has_gradients);
        for (int l = 0; l < n_layers; l++) {
            const mlp_layer *ly = &m->layers[l];
            double s = 0.0;
            for (size_t k = 0; k < (size_t)ly->in * ly->out; k++)
                s += (double)g[ly->weight_offset + k] * g[ly->weight_offset + k];
            const mlp_layer_diag *a = &df.layers[l], *b = &dq.layers[l];
            assert_true(a->weight_grad_norm > 0.0f);
            double d1 = rel_diff(a->weight_grad_norm, sqrt(s));
            double d2 = rel_diff(a->weight_grad_norm, b->weight_grad_norm);
            if (d2 > worst) worst = d2;
            if (!(d1 < 1e-6 && d2 < 1e-5))
                fail_msg("rows %d layer %d: full %.9g, of dW %.9g, norms-only %.9g", n, l,
                         (double)a->weight_grad_norm, sqrt(s), (double)b->weight_grad_norm);
            /* bias sums and activation-gradient norms take the same path */
            assert_true(a->bias_grad_norm == b->bias_grad_norm);
            assert_true(a->activation_grad_norm == b->activation_grad_norm);
        }
        assert_true(memcmp(&df.gradient_ratio, &dq.gradient_ratio, sizeof(float)) == 0 ||
                    rel_diff(df.gradient_ratio, dq.gradient_ratio) < 2e-5);
    }
    assert_true(worst < 1e-5);
    mlp_workspace_free(full);
    mlp_workspace_free(fast);
    mlp_model_free(m);
    free(x);
    free(labels);
}

static void test_modes_agree_tiny(void **state)
{
    (void)state;
    mlp_layer_spec spec[] = {{16, MLP_ACT_RELU, 0}, {16, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    compare_modes(4, spec, 3, 11);
}

static void test_modes_agree_wide(void **state)
{
    (void)state;
    mlp_layer_spec spec[] = {
        {96, MLP_ACT_LEAKY_RELU, 0.1f}, {64, MLP_ACT_TANH, 0}, {10, MLP_ACT_SOFTMAX, 0}};
    compare_modes(130, spec, 3, 12);
}

static void test_modes_agree_odd_sizes(void **state)
{
    (void)state;
    mlp_layer_spec spec[] = {
        {37, MLP_ACT_RELU, 0}, {5, MLP_ACT_SIGMOID, 0}, {2, MLP_ACT_IDENTITY, 0}};
    compare_modes(13, spec, 3, 13);
}

/* A sub-range of a merged batch, an MSE target, and switching modes back:
 * param_grad reflects what the last backward did, not the current setting. */
static void test_row_range_and_switching(void **state)
{
    (void)state;
    mlp_layer_spec spec[] = {{24, MLP_ACT_RELU, 0}, {4, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_random(9, spec, 2, MLP_INIT_HE_NORMAL, 21);
    mlp_rng r;
    mlp_rng_seed(&r, 22);
    float x[20 * 9], y[20 * 4];
    random_fill(x, 20 * 9, &r, 1.0);
    random_fill(y, 20 * 4, &r, 1.0);
    mlp_workspace *full = NULL, *fast = NULL;
    assert_int_equal(mlp_workspace_create(&full, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_create(&fast, NULL), MLP_OK);
    mlp_workspace_set_param_grads(fast, false, NULL);
    mlp_target t = {.kind = MLP_TARGET_MSE, .targets = y + 5 * 4};
    assert_int_equal(mlp_forward(m, full, x, 20, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, fast, x, 20, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, full, 5, 7, &t, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, fast, 5, 7, &t, NULL, NULL), MLP_OK);
    mlp_diagnostics df, dq;
    assert_int_equal(mlp_diagnose(m, full, NULL, &df, NULL), MLP_OK);
    assert_int_equal(mlp_diagnose(m, fast, NULL, &dq, NULL), MLP_OK);
    assert_int_equal(dq.rows, 7);
    for (int l = 0; l < 2; l++)
        assert_true(rel_diff(df.layers[l].weight_grad_norm, dq.layers[l].weight_grad_norm) < 1e-5);

    mlp_workspace_set_param_grads(fast, true, NULL);
    assert_null(mlp_workspace_param_grad(fast)); /* last backward formed nothing */
    assert_int_equal(mlp_backward(m, fast, 5, 7, &t, NULL, NULL), MLP_OK);
    assert_non_null(mlp_workspace_param_grad(fast));
    assert_memory_equal(mlp_workspace_param_grad(fast), mlp_workspace_param_grad(full),
                        sizeof(float) * m->n_params);
    mlp_workspace_free(full);
    mlp_workspace_free(fast);
    mlp_model_free(m);
}

static void test_alignment(void **state)
{
    (void)state;
    mlp_layer_spec spec[] = {{7, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = test_model_random(5, spec, 2, MLP_INIT_HE_NORMAL, 31), *c = NULL;
    assert_int_equal((uintptr_t)m->params % 64, 0);
    assert_int_equal(mlp_model_clone(m, &c, NULL), MLP_OK);
    assert_int_equal((uintptr_t)c->params % 64, 0);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    float x[3 * 5] = {0};
    /* grow twice: buffers re-allocated on growth stay aligned and keep data */
    assert_int_equal(mlp_forward(m, ws, x, 1, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_reserve(ws, m, 300, NULL), MLP_OK);
    assert_int_equal((uintptr_t)mlp_workspace_preactivation(ws, 0) % 64, 0);
    assert_int_equal((uintptr_t)mlp_workspace_activation(ws, 0) % 64, 0);
    assert_int_equal(mlp_forward(m, ws, x, 3, NULL, NULL), MLP_OK);
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_backward(m, ws, 0, 3, &t, NULL, NULL), MLP_OK);
    assert_int_equal((uintptr_t)mlp_workspace_param_grad(ws) % 64, 0);
    assert_int_equal((uintptr_t)mlp_workspace_input_grad(ws) % 64, 0);
    mlp_workspace_free(ws);
    mlp_model_free(c);
    mlp_model_free(m);
}

/* A one-layer identity-weight model exposes the activation directly:
 * Z = x (W = I, b = 0), A = f(Z), and with MSE against 0 the input gradient
 * is f'(z)·2a/(n·K). Lengths 1..19 cover the vector body and the tail. */
static void check_relu_family(mlp_activation act, float alpha)
{
    enum { K = 19 };
    mlp_model *m = TEST_MODEL(K, {K, act, alpha});
    for (int j = 0; j < K; j++)
        weight_set(m, 0, j * K + j, 1.0f);
    float x[K] = {-0.0f, 0.0f,  NAN,   -NAN,  INFINITY, -INFINITY, 1.5f, -2.5f, 1e-30f, -1e-30f,
                  3.0f,  -3.0f, 0.25f, -0.0f, 7.0f,     -7.0f,     0.0f, 1.0f,  -1.0f};
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, ws, x, 1, NULL, NULL), MLP_OK);
    const float *z = mlp_workspace_preactivation(ws, 0), *a = mlp_workspace_activation(ws, 0);
    for (int j = 0; j < K; j++) {
        /* NaN stays NaN (bits and all), as torch.relu and leaky_relu do */
        float want = z[j] <= 0.0f ? (act == MLP_ACT_RELU ? 0.0f : alpha * z[j]) : z[j];
        if (memcmp(&want, &a[j], sizeof want) != 0)
            fail_msg("unit %d: f(%g) = %g, want %g", j, (double)z[j], (double)a[j], (double)want);
        assert_int_equal(isnan(a[j]) != 0, isnan(z[j]) != 0);
        if (act == MLP_ACT_RELU && !isnan(z[j])) assert_false(signbit(a[j]));
    }
    /* Derivative on finite inputs (a NaN would reach every column of dX
     * through the zero weights): dX_j = f'(z_j)·2a_j/K, with ReLU'(0) = 0. */
    float x2[K] = {-0.0f, 0.0f,  2.0f,  -2.0f, 1e-30f, -1e-30f, 1.5f, -2.5f, 0.5f, -0.5f,
                   3.0f,  -3.0f, 0.25f, -0.0f, 7.0f,   -7.0f,   0.0f, 1.0f,  -1.0f};
    float zeros[K] = {0};
    mlp_target t = {.kind = MLP_TARGET_MSE, .targets = zeros};
    assert_int_equal(mlp_forward(m, ws, x2, 1, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_OK);
    const float *dx = mlp_workspace_input_grad(ws);
    for (int j = 0; j < K; j++) {
        float d = x2[j] > 0.0f ? 1.0f : act == MLP_ACT_RELU ? 0.0f : alpha;
        float want = (float)(2.0 * (double)a[j] / K) * d;
        if (!(dx[j] == want)) fail_msg("unit %d: dX = %g, want %g", j, (double)dx[j], (double)want);
    }
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

static void test_relu_forward_bits(void **state)
{
    (void)state;
    check_relu_family(MLP_ACT_RELU, 0.0f);
    check_relu_family(MLP_ACT_LEAKY_RELU, 0.2f);
}

/* Σ x_t·y_t in norm.c's documented order: eight lanes (t mod 8) over the
 * first 8·floor(k/8) products, added ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)),
 * then the tail products summed in order. */
static double documented_dot(const float *x, const float *y, size_t k)
{
    double l[8] = {0}, tail = 0.0;
    size_t t = 0;
    for (; t + 8 <= k; t += 8)
        for (int j = 0; j < 8; j++)
            l[j] += (double)x[t + j] * (double)y[t + j];
    for (; t < k; t++)
        tail += (double)x[t] * (double)y[t];
    return (((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))) + tail;
}

/* Every norm is summed in that one order, bit for bit: the plain norm, the
 * trainer's sum of squares and the Gram route's dots (one row: |u|·|v|; two
 * rows: <u0,u0><v0,v0> + 2<u0,u1><v0,v1> + <u1,u1><v1,v1>). */
static void test_one_summation_order(void **state)
{
    (void)state;
    enum { K = 75 };
    float u[2 * K], v[2 * K];
    mlp_rng r;
    mlp_rng_seed(&r, 11);
    random_fill(u, 2 * K, &r, 1.0);
    random_fill(v, 2 * K, &r, 1e3);
    double gram[2];
    for (size_t k = 0; k <= K; k++) {
        double uu = documented_dot(u, u, k);
        if (mlp_sum_squares(u, k) != uu) fail_msg("sum of squares of %zu values", k);
        if (mlp_norm2(u, k) != (float)sqrt(uu)) fail_msg("norm of %zu values", k);
        if (k == 0) continue;
        size_t q = K + 1 - k;
        if (mlp_outer_norm2(u, (int)k, v, (int)q, 1, gram) !=
            (float)sqrt(uu * documented_dot(v, v, q)))
            fail_msg("outer norm of one row, %zu x %zu", k, q);
        /* two rows: u (2 x k) and v (2 x q), row-major */
        const float *u1 = u + k, *v1 = v + q;
        double two = (documented_dot(u, u, k) * documented_dot(v, v, q) +
                      2.0 * (documented_dot(u, u1, k) * documented_dot(v, v1, q))) +
                     (documented_dot(u1, u1, k) * documented_dot(v1, v1, q) + 2.0 * 0.0);
        if (mlp_outer_norm2(u, (int)k, v, (int)q, 2, gram) != (float)sqrt(two))
            fail_msg("outer norm of two rows, %zu x %zu", k, q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_agree_tiny),
        cmocka_unit_test(test_modes_agree_wide),
        cmocka_unit_test(test_modes_agree_odd_sizes),
        cmocka_unit_test(test_row_range_and_switching),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_relu_forward_bits),
        cmocka_unit_test(test_one_summation_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
