/*
 * test_backward — gradients against central finite differences, losses
 * against hand values, and the row-range contract of mlp_backward.
 *
 * The numerical derivative re-runs mlp_forward + mlp_loss with one parameter
 * (or input) moved by ±EPS and differences the losses in double. Inputs and
 * weights are random, so no pre-activation sits within EPS of a ReLU kink
 * (the check asserts that too, so a kink cannot pass silently).
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
#include "../test_cases.h"
#include "../test_params.h"

#define EPS 1e-3f

/* Distance of the last forward from the nearest kink: the smallest |Z| on a
 * ReLU-family layer, and the smallest gap between a row's two largest logits
 * (max-logit's argmax). A kink closer than the finite-difference step would
 * make the numerical derivative meaningless. */
static float kink_margin(const mlp_model *m, const mlp_workspace *ws, int n)
{
    float mn = INFINITY;
    for (int l = 0; l < mlp_model_n_layers(m); l++) {
        if (!mlp_activation_is_relu_family(mlp_model_layer(m, l)->activation)) continue;
        const float *z = mlp_workspace_preactivation(ws, l);
        for (int i = 0; i < n * mlp_model_layer(m, l)->out; i++)
            mn = fminf(mn, fabsf(z[i]));
    }
    int k = mlp_model_n_outputs(m);
    const float *z = mlp_workspace_preactivation(ws, mlp_model_n_layers(m) - 1);
    for (int i = 0; i < n && k > 1; i++) {
        float a = -INFINITY, b = -INFINITY;
        for (int j = 0; j < k; j++) {
            float v = z[i * k + j];
            if (v > a) {
                b = a;
                a = v;
            } else if (v > b) {
                b = v;
            }
        }
        mn = fminf(mn, a - b);
    }
    return mn;
}

/* g of rows [row0, row0 + n) of the last forward (mlp_loss, which must succeed). */
static double loss_of(const mlp_model *m, const mlp_workspace *ws, int row0, int n,
                      const mlp_target *t)
{
    float g = NAN;
    mlp_error e;
    if (mlp_loss(m, ws, row0, n, t, &g, &e) != MLP_OK) fail_msg("mlp_loss: %s", e.msg);
    return (double)g;
}

static double loss_at(mlp_model *m, mlp_workspace *ws, const float *x, int n, const mlp_target *t)
{
    assert_int_equal(mlp_forward(m, ws, x, n, NULL, NULL), MLP_OK);
    return loss_of(m, ws, 0, n, t);
}

static void assert_close(double num, double ana, const char *what, size_t i)
{
    double tol = 5e-4 + 5e-3 * fabs(num);
    if (fabs(num - ana) > tol)
        fail_msg("%s[%zu]: analytic %.6g vs numeric %.6g", what, i, ana, num);
}

/* Checks every parameter gradient and every input gradient of g. */
static void check_gradients(mlp_model *m, float *x, int n, const mlp_target *t)
{
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_non_null(ws);
    assert_int_equal(mlp_forward(m, ws, x, n, NULL, NULL), MLP_OK);
    assert_true(kink_margin(m, ws, n) > 10 * EPS);
    float loss;
    assert_int_equal(mlp_backward(m, ws, 0, n, t, &loss, NULL), MLP_OK);
    if (t->kind == MLP_TARGET_MAX_LOGIT)
        assert_true(isnan(loss));
    else
        assert_float_equal(loss, loss_of(m, ws, 0, n, t), 1e-6);

    size_t np = mlp_model_n_params(m), nx = (size_t)n * mlp_model_n_inputs(m);
    float *gp = malloc(np * sizeof *gp), *gx = malloc(nx * sizeof *gx);
    assert_non_null(gp);
    assert_non_null(gx);
    memcpy(gp, mlp_workspace_param_grad(ws), np * sizeof *gp);
    memcpy(gx, mlp_workspace_input_grad(ws), nx * sizeof *gx);

    for (size_t i = 0; i < np; i++) {
        float keep = mlp_model_params(m)[i];
        param_set(m, i, keep + EPS);
        double up = loss_at(m, ws, x, n, t);
        param_set(m, i, keep - EPS);
        double down = loss_at(m, ws, x, n, t);
        param_set(m, i, keep);
        assert_close((up - down) / (2.0 * EPS), gp[i], "param", i);
    }
    for (size_t i = 0; i < nx; i++) {
        float keep = x[i];
        x[i] = keep + EPS;
        double up = loss_at(m, ws, x, n, t);
        x[i] = keep - EPS;
        double down = loss_at(m, ws, x, n, t);
        x[i] = keep;
        assert_close((up - down) / (2.0 * EPS), gx[i], "input", i);
    }
    free(gp);
    free(gx);
    mlp_workspace_free(ws);
}

/* check_gradients on a new model (test_model_random with seed) and `rows`
 * random rows (seed + 1). */
static void check_new_model(int in, const mlp_layer_spec *spec, int n_layers, uint64_t seed,
                            int rows, const mlp_target *t)
{
    mlp_model *m = test_model_random(in, spec, n_layers, MLP_INIT_XAVIER_NORMAL, seed);
    float *x = test_normals((size_t)rows * (size_t)in, seed + 1, 1.0);
    check_gradients(m, x, rows, t);
    free(x);
    mlp_model_free(m);
}

/* A 3-5-4-3 network with the given activations, checked on 4 rows. */
/* A random 3-input model of the n_layers layers spec and N(0, 1) inputs x of
 * n rows, from the first seed (*seed, *seed + 1000, ...) whose network sits
 * away from every kink, so finite differences do not cross one; *seed is
 * left at the seed used. */
static mlp_model *model_off_kinks(const mlp_layer_spec *spec, int n_layers, float *x, int n,
                                  uint64_t *seed)
{
    mlp_model *m = NULL;
    mlp_workspace *probe = NULL;
    assert_int_equal(mlp_workspace_create(&probe, NULL), MLP_OK);
    for (int attempt = 0; attempt < 50; attempt++, *seed += 1000) {
        mlp_model_free(m);
        m = test_model_random(3, spec, n_layers, MLP_INIT_XAVIER_NORMAL, *seed);
        test_fill_normal(x, (size_t)n * 3, *seed + 2, 1.0);
        assert_int_equal(mlp_forward(m, probe, x, n, NULL, NULL), MLP_OK);
        if (kink_margin(m, probe, n) > 10 * EPS) break;
    }
    mlp_workspace_free(probe);
    return m;
}

static void check_net(mlp_activation h1, mlp_activation h2, mlp_activation last,
                      mlp_target_kind kind, uint64_t seed)
{
    mlp_layer_spec spec[] = {{5, h1, 0.1f}, {4, h2, 0.1f}, {3, last, 0.1f}};
    enum { N = 4 };
    float x[N * 3], targets[N * 3];
    int labels[N] = {0, 2, 1, 2};
    mlp_model *m = model_off_kinks(spec, 3, x, N, &seed);
    if (kind == MLP_TARGET_DISTRIBUTION) {
        /* soft labels: rows sum to 1, except the last row (sums to 1.5) so
         * the p·Σt term is exercised */
        const float dist[N * 3] = {0.7f, 0.2f, 0.1f, 0, 0, 1, 0.3f, 0.3f, 0.4f, 0.5f, 0.5f, 0.5f};
        memcpy(targets, dist, sizeof dist);
    } else {
        test_fill_normal(targets, N * 3, seed + 3, 0.5);
    }
    mlp_target t = {.kind = kind, .labels = labels, .targets = targets};
    check_gradients(m, x, N, &t);
    mlp_model_free(m);
}

/* Gradient checks of three-layer nets (check_net), up to five per test:
 * activations, target kind and seed. Each row is its own cmocka test. */
typedef struct {
    const char *name; /* the test's name */
    struct {
        mlp_activation a0, a1, a2;
        mlp_target_kind kind;
        uint64_t seed; /* 0: no more nets */
    } net[5];
} net_case;

static void run_net_case(void **state)
{
    const net_case *c = *state;
    for (int i = 0; i < 5 && c->net[i].seed; i++)
        check_net(c->net[i].a0, c->net[i].a1, c->net[i].a2, c->net[i].kind, c->net[i].seed);
}

static const net_case net_cases[] = {
    {"test_relu_softmax_labels",
     {{MLP_ACT_RELU, MLP_ACT_RELU, MLP_ACT_SOFTMAX, MLP_TARGET_LABELS, 11}}},
    {"test_relu_softmax_distribution",
     {{MLP_ACT_RELU, MLP_ACT_LEAKY_RELU, MLP_ACT_SOFTMAX, MLP_TARGET_DISTRIBUTION, 12}}},
    {"test_softmax_mse_uses_jacobian",
     {{MLP_ACT_TANH, MLP_ACT_SIGMOID, MLP_ACT_SOFTMAX, MLP_TARGET_MSE, 13}}},
    {"test_max_logit",
     {{MLP_ACT_LEAKY_RELU, MLP_ACT_RELU, MLP_ACT_SOFTMAX, MLP_TARGET_MAX_LOGIT, 14},
      {MLP_ACT_SIGMOID, MLP_ACT_TANH, MLP_ACT_IDENTITY, MLP_TARGET_MAX_LOGIT, 15}}},
    /* cross-entropy reads Z_L whatever the last activation is */
    {"test_identity_outputs_cross_entropy",
     {{MLP_ACT_SIGMOID, MLP_ACT_TANH, MLP_ACT_IDENTITY, MLP_TARGET_LABELS, 16},
      {MLP_ACT_IDENTITY, MLP_ACT_RELU, MLP_ACT_IDENTITY, MLP_TARGET_DISTRIBUTION, 17}}},
    {"test_mse_every_last_activation",
     {{MLP_ACT_RELU, MLP_ACT_TANH, MLP_ACT_IDENTITY, MLP_TARGET_MSE, 18},
      {MLP_ACT_RELU, MLP_ACT_IDENTITY, MLP_ACT_SIGMOID, MLP_TARGET_MSE, 19},
      {MLP_ACT_LEAKY_RELU, MLP_ACT_SIGMOID, MLP_ACT_TANH, MLP_TARGET_MSE, 20},
      {MLP_ACT_TANH, MLP_ACT_TANH, MLP_ACT_LEAKY_RELU, MLP_TARGET_MSE, 21},
      {MLP_ACT_SIGMOID, MLP_ACT_SIGMOID, MLP_ACT_RELU, MLP_TARGET_MSE, 22}}},
};

static void test_input_gradient_standardised(void **s)
{
    (void)s;
    mlp_layer_spec spec[] = {{6, MLP_ACT_RELU, 0}, {2, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_random(3, spec, 2, MLP_INIT_XAVIER_NORMAL, 30);
    const float mean[3] = {1.0f, -2.0f, 0.5f}, std[3] = {2.0f, 0.5f, 4.0f};
    assert_int_equal(mlp_model_set_standardization(m, mean, std, NULL), MLP_OK);
    float x[5 * 3], targets[5 * 2];
    test_fill_normal(x, 15, 31, 2.0);
    test_fill_normal(targets, 10, 32, 1.0);
    mlp_target t = {.kind = MLP_TARGET_MSE, .targets = targets};
    check_gradients(m, x, 5, &t);
    mlp_model_free(m);
}

static void test_single_layer(void **s)
{
    (void)s;
    int labels[3] = {3, 0, 1};
    mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = labels};
    check_new_model(2, (const mlp_layer_spec[]){{4, MLP_ACT_SOFTMAX, 0}}, 1, 40, 3, &t);
}

/* Loss values by hand: z = (0, ln 3) -> softmax (1/4, 3/4). */
static void test_loss_values(void **s)
{
    mlp_model *m = TEST_MODEL(1, {2, MLP_ACT_SOFTMAX, 0});
    weight_set(m, 0, 0, 0.0f);
    weight_set(m, 0, 1, (float)log(3.0));
    mlp_workspace *ws = *s;
    float x = 1.0f;
    assert_int_equal(mlp_forward(m, ws, &x, 1, NULL, NULL), MLP_OK);

    int label = 0;
    mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = &label};
    assert_float_equal(loss_of(m, ws, 0, 1, &t), log(4.0), 1e-6);
    float dist[2] = {0.5f, 0.5f};
    t = (mlp_target){.kind = MLP_TARGET_DISTRIBUTION, .targets = dist};
    assert_float_equal(loss_of(m, ws, 0, 1, &t), 0.5 * log(4.0) + 0.5 * log(4.0 / 3.0), 1e-6);
    float tgt[2] = {0.0f, 1.0f};
    t = (mlp_target){.kind = MLP_TARGET_MSE, .targets = tgt};
    /* A = (0.25, 0.75): ((0.25)^2 + (0.25)^2) / 2 */
    assert_float_equal(loss_of(m, ws, 0, 1, &t), 0.0625, 1e-6);
    float loss = 0.0f;
    t = (mlp_target){.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, &loss, NULL), MLP_OK);
    assert_true(isnan(loss));
    assert_float_equal(loss_of(m, ws, 0, 1, &t), log(3.0), 1e-6); /* g itself */
    /* dg/dW = onehot(argmax=1) x^T */
    const float *g = mlp_workspace_param_grad(ws);
    assert_float_equal(g[0], 0.0f, 0);
    assert_float_equal(g[1], 1.0f, 0);
    mlp_model_free(m);
}

/* Rows [2, 5) of a 7-row batch get exactly the gradients of those 3 rows
 * forwarded alone. */
static void test_row_range_equals_alone(void **s)
{
    (void)s;
    mlp_layer_spec spec[] = {{8, MLP_ACT_RELU, 0}, {8, MLP_ACT_TANH, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = test_model_random(4, spec, 3, MLP_INIT_XAVIER_NORMAL, 50);
    float x[7 * 4];
    test_fill_normal(x, 28, 51, 1.0);
    int labels[7] = {0, 1, 2, 0, 1, 2, 0};
    mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = labels + 2};

    mlp_workspace *merged = NULL, *alone = NULL;
    assert_int_equal(mlp_workspace_create(&merged, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_create(&alone, NULL), MLP_OK);
    mlp_workspace_set_kernel(merged, MLP_KERNEL_PORTABLE, NULL);
    mlp_workspace_set_kernel(alone, MLP_KERNEL_PORTABLE, NULL);
    float l1, l2;
    assert_int_equal(mlp_forward(m, merged, x, 7, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, merged, 2, 3, &t, &l1, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, alone, x + 2 * 4, 3, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, alone, 0, 3, &t, &l2, NULL), MLP_OK);
    assert_float_equal(l1, l2, 1e-7);
    const float *g1 = mlp_workspace_param_grad(merged), *g2 = mlp_workspace_param_grad(alone);
    for (size_t i = 0; i < mlp_model_n_params(m); i++)
        assert_float_equal(g1[i], g2[i], 1e-6);
    const float *x1 = mlp_workspace_input_grad(merged), *x2 = mlp_workspace_input_grad(alone);
    for (int i = 0; i < 3 * 4; i++)
        assert_float_equal(x1[i], x2[i], 1e-6);
    mlp_workspace_free(merged);
    mlp_workspace_free(alone);
    mlp_model_free(m);
}

static void test_refuses_bad_requests(void **s)
{
    mlp_layer_spec spec[] = {{3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = test_model_random(2, spec, 1, MLP_INIT_XAVIER_NORMAL, 60);
    mlp_workspace *ws = *s;
    int bad = 3, neg = -1, ok = 1;
    mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = &ok};
    /* no forward yet */
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    float x[2] = {1, 2};
    assert_int_equal(mlp_forward(m, ws, x, 1, NULL, NULL), MLP_OK);
    float loss = 0.0f;
    mlp_error e;
    t.labels = &bad;
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, &loss, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "labels[0] = 3"));
    t.labels = &neg;
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    t.labels = &ok;
    assert_int_equal(mlp_backward(m, ws, 1, 1, &t, NULL, &e), MLP_ERR_INVALID); /* past the batch */
    assert_non_null(strstr(e.msg, "rows [1, 2) lie outside the last forward's 1 rows"));
    assert_int_equal(mlp_backward(m, ws, 0, 0, &t, NULL, NULL), MLP_ERR_INVALID);
    t.labels = NULL;
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    t = (mlp_target){.kind = MLP_TARGET_MSE};
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    float g = 0.0f;
    /* an impossible request is a status and a message, not a NaN */
    assert_int_equal(mlp_loss(m, ws, 0, 1, &t, &g, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "targets"));
    /* a model of another shape than the one forwarded */
    mlp_layer_spec other[] = {{4, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m2 = test_model_random(2, other, 1, MLP_INIT_XAVIER_NORMAL, 61);
    t = (mlp_target){.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_backward(m2, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_OK);
    mlp_model_free(m2);
    mlp_model_free(m);
}

static void test_target_kind_for_task(void **s)
{
    (void)s;
    mlp_layer_spec cls[] = {{3, MLP_ACT_SOFTMAX, 0}}, reg[] = {{1, MLP_ACT_IDENTITY, 0}};
    mlp_model *a = test_model_random(2, cls, 1, MLP_INIT_XAVIER_NORMAL, 1),
              *b = test_model_random(2, reg, 1, MLP_INIT_XAVIER_NORMAL, 1);
    assert_int_equal(mlp_target_kind_for_targets(a), MLP_TARGET_DISTRIBUTION);
    assert_int_equal(mlp_target_kind_for_targets(b), MLP_TARGET_MSE);
    mlp_model_free(a);
    mlp_model_free(b);
}

/* A one-output sigmoid classifier: binary cross-entropy on the logit, from
 * labels 0/1 and from targets in [0, 1], against finite differences. */
static void test_binary_cross_entropy_gradients(void **s)
{
    (void)s;
    mlp_layer_spec spec[] = {{5, MLP_ACT_TANH, 0}, {4, MLP_ACT_RELU, 0}, {1, MLP_ACT_SIGMOID, 0}};
    enum { N = 4 };
    float x[N * 3];
    uint64_t seed = 80;
    mlp_model *m = model_off_kinks(spec, 3, x, N, &seed);
    assert_int_equal(mlp_model_set_task(m, MLP_TASK_CLASSIFICATION, NULL), MLP_OK);
    int labels[N] = {1, 0, 0, 1};
    mlp_target t = {.kind = MLP_TARGET_BINARY, .labels = labels};
    check_gradients(m, x, N, &t);
    float targets[N] = {0.25f, 1.0f, 0.0f, 0.5f};
    t = (mlp_target){.kind = MLP_TARGET_BINARY, .targets = targets};
    check_gradients(m, x, N, &t);
    mlp_model_free(m);
}

/* Several outputs with BINARY targets: independent logits, mean over all
 * rows x outputs (BCEWithLogitsLoss on a multi-label output). */
static void test_binary_cross_entropy_multi_output_targets(void **s)
{
    (void)s;
    float targets[3 * 3] = {0, 1, 0.5f, 1, 1, 0, 0.125f, 0, 1};
    mlp_target t = {.kind = MLP_TARGET_BINARY, .targets = targets};
    check_new_model(2, (const mlp_layer_spec[]){{5, MLP_ACT_TANH, 0}, {3, MLP_ACT_IDENTITY, 0}}, 2,
                    90, 3, &t);
}

/* Loss values by hand: z = ln 3 -> σ(z) = 3/4; z = 0 -> 1/2. */
static void test_binary_loss_values(void **s)
{
    mlp_model *m = TEST_MODEL(1, {1, MLP_ACT_SIGMOID, 0});
    weight_set(m, 0, 0, (float)log(3.0));
    mlp_workspace *ws = *s;
    float x[2] = {1.0f, 0.0f}; /* z = ln 3, then z = 0 */
    assert_int_equal(mlp_forward(m, ws, x, 2, NULL, NULL), MLP_OK);
    int one[2] = {1, 1}, zero[2] = {0, 0};
    mlp_target t = {.kind = MLP_TARGET_BINARY, .labels = one};
    assert_float_equal(loss_of(m, ws, 0, 1, &t), -log(0.75), 1e-6);
    assert_float_equal(loss_of(m, ws, 0, 2, &t), 0.5 * (-log(0.75) + log(2.0)), 1e-6);
    t.labels = zero;
    assert_float_equal(loss_of(m, ws, 0, 1, &t), -log(0.25), 1e-6);
    float half[1] = {0.5f};
    t = (mlp_target){.kind = MLP_TARGET_BINARY, .targets = half};
    assert_float_equal(loss_of(m, ws, 0, 1, &t), 0.5 * (-log(0.75) - log(0.25)), 1e-6);
    /* dg/dz = σ(z) - y, and the gradient is not the zero a softmax gives */
    float loss;
    t = (mlp_target){.kind = MLP_TARGET_BINARY, .labels = zero};
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, &loss, NULL), MLP_OK);
    assert_float_equal(loss, -log(0.25), 1e-6);
    assert_float_equal(mlp_workspace_param_grad(ws)[1], 0.75f, 1e-6); /* db */
    assert_float_equal(mlp_workspace_param_grad(ws)[0], 0.75f, 1e-6); /* dW = dz·x */
    mlp_diagnostics d;
    assert_int_equal(mlp_diagnose(m, ws, NULL, &d, NULL), MLP_OK);
    assert_int_equal(d.target, MLP_TARGET_BINARY);
    assert_true(d.has_loss);
    mlp_model_free(m);
}

/* What has no loss is refused, never computed as a zero: cross-entropy
 * over one output (softmax of one logit is 1), labels other than 0/1 and
 * targets outside [0, 1] for binary cross-entropy, labels for a BINARY loss
 * over several outputs. */
static void test_binary_refusals(void **s)
{
    mlp_layer_spec one[] = {{1, MLP_ACT_SIGMOID, 0}}, three[] = {{3, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_random(2, one, 1, MLP_INIT_XAVIER_NORMAL, 95),
              *m3 = test_model_random(2, three, 1, MLP_INIT_XAVIER_NORMAL, 96);
    mlp_workspace *ws = *s;
    float x[2] = {0.5f, -1.0f};
    assert_int_equal(mlp_forward(m, ws, x, 1, NULL, NULL), MLP_OK);
    int zero = 0, two = 2, neg = -1;
    float t0 = 0.0f, big = 1.5f, below = -0.25f, nan = NAN;
    float loss = 0.0f;
    mlp_error e;
    mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = &zero};
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, &loss, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "one output"));
    t = (mlp_target){.kind = MLP_TARGET_DISTRIBUTION, .targets = &t0};
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    mlp_error err;
    t = (mlp_target){.kind = MLP_TARGET_BINARY, .labels = &two};
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    assert_int_equal(mlp_target_check(m, &t, 1, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "labels[0] = 2 is out of range [0, 2)"));
    t.labels = &neg;
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    const float *bad[] = {&big, &below, &nan};
    for (int i = 0; i < 3; i++) {
        t = (mlp_target){.kind = MLP_TARGET_BINARY, .targets = bad[i]};
        assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
        assert_int_equal(mlp_target_check(m, &t, 1, &err), MLP_ERR_INVALID);
        assert_non_null(strstr(err.msg, "is not in [0, 1]"));
    }
    assert_int_equal(mlp_forward(m3, ws, x, 1, NULL, NULL), MLP_OK);
    t = (mlp_target){.kind = MLP_TARGET_BINARY, .labels = &zero};
    assert_int_equal(mlp_backward(m3, ws, 0, 1, &t, NULL, NULL), MLP_ERR_INVALID);
    mlp_model_free(m);
    mlp_model_free(m3);
}

/* mlp_target_select: the loss each task and output implies, and a message
 * naming the combination where there is none. */
static void test_target_select(void **s)
{
    (void)s;
    mlp_layer_spec soft3[] = {{3, MLP_ACT_SOFTMAX, 0}}, sig1[] = {{1, MLP_ACT_SIGMOID, 0}},
                   id1[] = {{1, MLP_ACT_IDENTITY, 0}}, soft1[] = {{1, MLP_ACT_SOFTMAX, 0}};
    mlp_model *c3 = test_model_random(2, soft3, 1, MLP_INIT_XAVIER_NORMAL, 1),
              *b = test_model_random(2, sig1, 1, MLP_INIT_XAVIER_NORMAL, 2),
              *bi = test_model_random(2, id1, 1, MLP_INIT_XAVIER_NORMAL, 3),
              *s1 = test_model_random(2, soft1, 1, MLP_INIT_XAVIER_NORMAL, 4),
              *r = test_model_random(2, id1, 1, MLP_INIT_XAVIER_NORMAL, 5);
    assert_int_equal(mlp_model_set_task(b, MLP_TASK_CLASSIFICATION, NULL), MLP_OK);
    assert_int_equal(mlp_model_set_task(bi, MLP_TASK_CLASSIFICATION, NULL), MLP_OK);
    assert_int_equal(mlp_model_task(s1), MLP_TASK_CLASSIFICATION);
    assert_int_equal(mlp_model_task(r), MLP_TASK_REGRESSION);
    mlp_target_kind k;
    mlp_error err;
    assert_int_equal(mlp_target_select(c3, true, &k, &err), MLP_OK);
    assert_int_equal(k, MLP_TARGET_LABELS);
    assert_int_equal(mlp_target_select(c3, false, &k, &err), MLP_OK);
    assert_int_equal(k, MLP_TARGET_DISTRIBUTION);
    for (int i = 0; i < 2; i++) {
        mlp_model *one = i ? bi : b;
        assert_int_equal(mlp_target_select(one, true, &k, &err), MLP_OK);
        assert_int_equal(k, MLP_TARGET_BINARY);
        assert_int_equal(mlp_target_select(one, false, &k, &err), MLP_OK);
        assert_int_equal(k, MLP_TARGET_BINARY);
        assert_int_equal(mlp_model_classes(one), 2);
        assert_int_equal(mlp_target_kind_for_targets(one), MLP_TARGET_BINARY);
    }
    assert_int_equal(mlp_target_select(r, false, &k, &err), MLP_OK);
    assert_int_equal(k, MLP_TARGET_MSE);
    assert_int_equal(mlp_target_select(r, true, &k, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "regression model"));
    assert_int_equal(mlp_target_select(s1, true, &k, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "one softmax output"));
    assert_int_equal(mlp_target_select(s1, false, &k, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_model_classes(c3), 3);
    assert_int_equal(mlp_model_classes(s1), 0);
    assert_int_equal(mlp_model_classes(r), 0);
    mlp_model_free(c3);
    mlp_model_free(b);
    mlp_model_free(bi);
    mlp_model_free(s1);
    mlp_model_free(r);
}

/* Large enough that the BLAS path of the gradient products runs. */
static void test_large_batch_blas_path(void **s)
{
    mlp_layer_spec spec[] = {{64, MLP_ACT_RELU, 0}, {10, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = test_model_random(32, spec, 2, MLP_INIT_XAVIER_NORMAL, 70);
    enum { N = 64 };
    float *x = test_normals(N * 32, 71, 1.0);
    int labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = i % 10;
    mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = labels};
    mlp_workspace *ws = *s;
    assert_int_equal(mlp_forward(m, ws, x, N, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_backward(m, ws, 0, N, &t, NULL, NULL), MLP_OK);
    /* spot-check a few weights of each layer by finite differences */
    const size_t probe[] = {
        0, 7, 32 * 64 - 1, 32 * 64 + 5, mlp_model_n_params(m) - 1, mlp_model_n_params(m) - 20};
    float gp[6];
    for (int k = 0; k < 6; k++)
        gp[k] = mlp_workspace_param_grad(ws)[probe[k]];
    for (int k = 0; k < 6; k++) {
        float keep = mlp_model_params(m)[probe[k]];
        param_set(m, probe[k], keep + EPS);
        double up = loss_at(m, ws, x, N, &t);
        param_set(m, probe[k], keep - EPS);
        double down = loss_at(m, ws, x, N, &t);
        param_set(m, probe[k], keep);
        assert_close((up - down) / (2.0 * EPS), gp[k], "param", probe[k]);
    }
    free(x);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_input_gradient_standardised),
        cmocka_unit_test(test_single_layer),
        cmocka_unit_test_setup_teardown(test_loss_values, test_workspace_new, test_workspace_free),
        cmocka_unit_test(test_binary_cross_entropy_gradients),
        cmocka_unit_test(test_binary_cross_entropy_multi_output_targets),
        cmocka_unit_test_setup_teardown(test_binary_loss_values, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test_setup_teardown(test_binary_refusals, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test(test_target_select),
        cmocka_unit_test(test_row_range_equals_alone),
        cmocka_unit_test_setup_teardown(test_refuses_bad_requests, test_workspace_new,
                                        test_workspace_free),
        cmocka_unit_test(test_target_kind_for_task),
        cmocka_unit_test_setup_teardown(test_large_batch_blas_path, test_workspace_new,
                                        test_workspace_free),
    };
    static test_list tests;
    TESTS_ADD_CASES(&tests, net_cases, run_net_case);
    TESTS_ADD(&tests, others);
    return tests_run("test_backward", &tests, NULL, NULL);
}
