/*
 * test_forward — outputs by hand for every activation, standardisation, the
 * ReLU'(0) = 0 convention, kernel agreement, and the workspace contract.
 */
#include <math.h>
#include <pthread.h>
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

/* One layer 2 -> 3, W = [[1, 2], [-1, 0.5], [0, -3]], b = [0.5, -0.25, 1].
 * For x = (1, -2): z = (-2.5, -2.25, 7). */
static const double Z[3] = {-2.5, -2.25, 7.0};

static mlp_model *one_layer(mlp_activation act, float alpha)
{
    mlp_model *m = TEST_MODEL(2, {3, act, alpha});
    const float w[6] = {1, 2, -1, 0.5f, 0, -3}, b[3] = {0.5f, -0.25f, 1};
    weights_put(m, 0, w);
    biases_put(m, 0, b);
    return m;
}

static void expect_outputs(mlp_activation act, float alpha, const double want[3])
{
    mlp_model *m = one_layer(act, alpha);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    const float x[2] = {1, -2};
    float y[3];
    assert_int_equal(mlp_forward(m, ws, x, 1, y, NULL), MLP_OK);
    for (int j = 0; j < 3; j++) {
        assert_float_equal(y[j], want[j], 1e-6 * fmax(1.0, fabs(want[j])));
        assert_float_equal(mlp_workspace_preactivation(ws, 0)[j], Z[j], 0);
        assert_true(mlp_workspace_output(ws)[j] == y[j]);
    }
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

static void test_every_activation_by_hand(void **s)
{
    (void)s;
    const double relu[3] = {0, 0, 7}, leaky[3] = {-0.25, -0.225, 7};
    double sig[3], th[3], sm[3];
    double sum = 0;
    for (int j = 0; j < 3; j++) {
        sig[j] = 1.0 / (1.0 + exp(-Z[j]));
        th[j] = tanh(Z[j]);
        sum += exp(Z[j]);
    }
    for (int j = 0; j < 3; j++)
        sm[j] = exp(Z[j]) / sum;
    expect_outputs(MLP_ACT_RELU, 0, relu);
    expect_outputs(MLP_ACT_LEAKY_RELU, 0.1f, leaky);
    expect_outputs(MLP_ACT_SIGMOID, 0, sig);
    expect_outputs(MLP_ACT_TANH, 0, th);
    expect_outputs(MLP_ACT_IDENTITY, 0, Z);
    expect_outputs(MLP_ACT_SOFTMAX, 0, sm);
}

/* Softmax must survive logits whose exp overflows float. */
static void test_softmax_stable(void **s)
{
    (void)s;
    mlp_model *m = one_layer(MLP_ACT_SOFTMAX, 0);
    bias_set(m, 0, 2, 1000.0f);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    const float x[2] = {1, -2};
    float y[3];
    assert_int_equal(mlp_forward(m, ws, x, 1, y, NULL), MLP_OK);
    assert_float_equal(y[2], 1.0, 1e-7);
    assert_true(y[0] >= 0.0f && y[0] < 1e-30f);
    /* sigmoid at huge |z| stays finite and in [0, 1] */
    mlp_model *sg = one_layer(MLP_ACT_SIGMOID, 0);
    bias_set(sg, 0, 0, -1000.0f);
    bias_set(sg, 0, 2, 1000.0f);
    assert_int_equal(mlp_forward(sg, ws, x, 1, y, NULL), MLP_OK);
    assert_true(y[0] == 0.0f && y[2] == 1.0f);
    mlp_model_free(sg);
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

static void test_standardisation(void **s)
{
    (void)s;
    mlp_model *m = one_layer(MLP_ACT_IDENTITY, 0);
    const float mean[2] = {3, -1}, std[2] = {2, 0.5f};
    assert_int_equal(mlp_model_set_standardization(m, mean, std, NULL), MLP_OK);
    /* raw (5, -2) standardises to (1, -2): the hand-computed z again */
    const float x[2] = {5, -2}, z[3] = {(float)Z[0], (float)Z[1], (float)Z[2]};
    test_outputs_equal(m, x, 1, z, 1e-6);
    mlp_model_free(m);
}

/* Two layers and several rows: the second layer reads the first's A. */
static void test_two_layers_rows(void **s)
{
    (void)s;
    mlp_model *m = TEST_MODEL(1, {2, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    const float p[] = {1, -1, /* W0 */ 0, 0, /* b0 */ 2, 3, /* W1 */ 0.5f /* b1 */};
    params_set_all(m, p, sizeof p / sizeof p[0]);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    const float x[3] = {2, -4, 0};
    float y[3];
    assert_int_equal(mlp_forward(m, ws, x, 3, y, NULL), MLP_OK);
    /* relu(x, -x) · (2, 3) + 0.5 */
    assert_float_equal(y[0], 4.5, 0);
    assert_float_equal(y[1], 12.5, 0);
    assert_float_equal(y[2], 0.5, 0);
    assert_int_equal(mlp_workspace_rows(ws), 3);
    const float *a0 = mlp_workspace_activation(ws, 0);
    assert_float_equal(a0[2], 0, 0); /* row 1, unit 0: relu(-4) */
    assert_float_equal(a0[3], 4, 0);
    assert_null(mlp_workspace_activation(ws, 2));
    assert_null(mlp_workspace_preactivation(ws, -1));
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

/* ReLU'(0) = 0 (PyTorch): with Z exactly 0, no gradient reaches layer 0. */
static void test_relu_derivative_at_zero(void **s)
{
    (void)s;
    mlp_model *m = TEST_MODEL(1, {1, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    const float p[] = {1, 0, 1, 0}; /* z0 = x, y = relu(z0) */
    params_set_all(m, p, sizeof p / sizeof p[0]);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    const float x = 0.0f;
    assert_int_equal(mlp_forward(m, ws, &x, 1, NULL, NULL), MLP_OK);
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    assert_int_equal(mlp_backward(m, ws, 0, 1, &t, NULL, NULL), MLP_OK);
    const float *g = mlp_workspace_param_grad(ws);
    assert_true(g[0] == 0.0f && g[1] == 0.0f); /* dW0, db0 */
    assert_true(g[3] == 1.0f);                 /* db1: the output itself is live */
    assert_true(mlp_workspace_input_grad(ws)[0] == 0.0f);
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

/* Our kernel and BLAS compute the same products (to rounding), for shapes
 * with and without vector tails. */
static void test_kernels_agree(void **s)
{
    (void)s;
    const int shapes[][3] = {{1, 1, 1}, {1, 7, 3}, {3, 16, 8}, {33, 37, 19}, {64, 128, 64}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int n = shapes[k][0], in = shapes[k][1], out = shapes[k][2];
        mlp_model *m = TEST_MODEL(in, {out, MLP_ACT_IDENTITY, 0});
        float *p = params_copy(m);
        test_fill_normal(p, mlp_model_n_params(m), 100 + k, 1.0);
        params_put(m, p);
        float *x = test_normals((size_t)n * in, 200 + k, 1.0);
        float *y1 = malloc((size_t)n * out * sizeof *y1),
              *y2 = malloc((size_t)n * out * sizeof *y2);
        mlp_workspace *ws = NULL;
        assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
        mlp_workspace_set_kernel(ws, MLP_KERNEL_PORTABLE, NULL);
        assert_int_equal(mlp_forward(m, ws, x, n, y1, NULL), MLP_OK);
        mlp_workspace_set_kernel(ws, MLP_KERNEL_BLAS, NULL);
        assert_int_equal(mlp_forward(m, ws, x, n, y2, NULL), MLP_OK);
        for (int i = 0; i < n * out; i++) {
            /* reference in double */
            int r = i / out, j = i % out;
            double ref = mlp_layer_bias(m, 0)[j];
            for (int q = 0; q < in; q++)
                ref += (double)x[r * in + q] * mlp_layer_weight(m, 0)[j * in + q];
            double tol = 1e-5 * sqrt((double)in) * 4;
            assert_float_equal(y1[i], ref, tol);
            assert_float_equal(y2[i], ref, tol);
        }
        mlp_workspace_free(ws);
        free(x);
        free(y1);
        free(y2);
        mlp_model_free(m);
    }
}

static void test_workspace_reserve_then_no_growth(void **s)
{
    (void)s;
    mlp_model *m = TEST_MODEL(8, {16, MLP_ACT_RELU, 0}, {4, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_AUTO, 1, NULL);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_null(mlp_workspace_output(ws));
    assert_int_equal(mlp_workspace_rows(ws), 0);
    assert_int_equal(mlp_workspace_reserve(ws, m, 32, NULL), MLP_OK);
    size_t bytes = mlp_workspace_bytes(ws);
    assert_true(bytes >= 32 * (8 + 2 * 20) * sizeof(float));
    float x[32 * 8];
    test_fill_normal(x, 32 * 8, 5, 1.0);
    for (int n = 1; n <= 32; n *= 2) {
        assert_int_equal(mlp_forward(m, ws, x, n, NULL, NULL), MLP_OK);
        mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
        assert_int_equal(mlp_backward(m, ws, 0, n, &t, NULL, NULL), MLP_OK);
        mlp_diagnostics d;
        assert_int_equal(mlp_diagnose(m, ws, NULL, &d, NULL), MLP_OK);
        assert_int_equal(mlp_workspace_bytes(ws), bytes);
    }
    /* growing past the reservation keeps the last results readable */
    float y_before = mlp_workspace_output(ws)[0];
    assert_int_equal(mlp_workspace_reserve(ws, m, 1000, NULL), MLP_OK);
    assert_true(mlp_workspace_bytes(ws) > bytes);
    assert_true(mlp_workspace_output(ws)[0] == y_before);
    assert_non_null(mlp_workspace_param_grad(ws));
    /* a new forward drops the old gradients */
    assert_int_equal(mlp_forward(m, ws, x, 2, NULL, NULL), MLP_OK);
    assert_null(mlp_workspace_param_grad(ws));
    assert_null(mlp_workspace_input_grad(ws));
    mlp_error e;
    assert_int_equal(mlp_forward(m, ws, x, 0, NULL, &e), MLP_ERR_INVALID);
    assert_string_equal(e.msg, "rows must be >= 1, got 0");
    assert_int_equal(mlp_forward(m, ws, NULL, 1, NULL, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "NULL"));
    assert_int_equal(mlp_workspace_reserve(ws, m, -1, &e), MLP_ERR_INVALID);
    assert_string_equal(e.msg, "rows must be >= 0, got -1");
    mlp_workspace_free(ws);
    mlp_workspace_free(NULL);
    mlp_model_free(m);
}

/* The workspace's constructor and setters report what they refuse: a status
 * and a message, never a NULL to guess from or a silently ignored call. */
static void test_workspace_calls_report_failures(void **s)
{
    (void)s;
    mlp_error e;
    assert_int_equal(mlp_workspace_create(NULL, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "NULL"));
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, &e), MLP_OK);
    assert_non_null(ws);
    assert_int_equal(mlp_workspace_set_kernel(ws, (mlp_kernel)7, &e), MLP_ERR_INVALID);
    assert_string_equal(e.msg, "unknown kernel choice 7");
    assert_int_equal(mlp_workspace_set_kernel(NULL, MLP_KERNEL_BLAS, NULL), MLP_ERR_INVALID);
    assert_int_equal(mlp_workspace_set_kernel(ws, MLP_KERNEL_BLAS, &e), MLP_OK);
    assert_int_equal(mlp_workspace_set_param_grads(NULL, false, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "NULL"));
    assert_int_equal(mlp_workspace_set_param_grads(ws, false, &e), MLP_OK);
    mlp_workspace_free(ws);
}

/* Threads share one read-only model, each with its own workspace, and get
 * exactly the single-threaded results. */
typedef struct {
    const mlp_model *m;
    const float *x;
    float y[64 * 3];
    float grad[512];
    int ok;
} thread_job;

static void *run_job(void *arg)
{
    thread_job *j = arg;
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    mlp_workspace_set_kernel(ws, MLP_KERNEL_PORTABLE, NULL);
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    j->ok = ws && mlp_forward(j->m, ws, j->x, 64, j->y, NULL) == MLP_OK &&
            mlp_backward(j->m, ws, 0, 64, &t, NULL, NULL) == MLP_OK;
    if (j->ok)
        memcpy(j->grad, mlp_workspace_param_grad(ws), mlp_model_n_params(j->m) * sizeof(float));
    mlp_workspace_free(ws);
    return NULL;
}

static void test_threads_share_model(void **s)
{
    (void)s;
    mlp_model *m = TEST_MODEL(8, {16, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_AUTO, 3, NULL);
    assert_true(mlp_model_n_params(m) <= 512);
    float x[64 * 8];
    test_fill_normal(x, 64 * 8, 4, 1.0);
    static thread_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){.m = m, .x = x};
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_true(jobs[i].ok);
        assert_memory_equal(jobs[i].y, jobs[0].y, sizeof jobs[0].y);
        assert_memory_equal(jobs[i].grad, jobs[0].grad, mlp_model_n_params(m) * sizeof(float));
    }
    mlp_model_free(m);
}

/* The AUTO switch point is a sane row count. */
static void test_crossover_positive(void **s)
{
    (void)s;
    assert_true(mlp_kernel_crossover_rows(16, 16) >= 1);
    assert_true(mlp_kernel_crossover_rows(1024, 1024) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_activation_by_hand),
        cmocka_unit_test(test_workspace_calls_report_failures),
        cmocka_unit_test(test_softmax_stable),
        cmocka_unit_test(test_standardisation),
        cmocka_unit_test(test_two_layers_rows),
        cmocka_unit_test(test_relu_derivative_at_zero),
        cmocka_unit_test(test_kernels_agree),
        cmocka_unit_test(test_workspace_reserve_then_no_growth),
        cmocka_unit_test(test_threads_share_model),
        cmocka_unit_test(test_crossover_positive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
