/*
 * test_backward_ranges — mlp_backward_ranges, the backward of a merged batch:
 * every range's diagnostics, loss and dg/dX are the bits mlp_backward gives
 * for those rows forwarded alone, whatever the neighbouring ranges hold
 * (other targets, other row counts, gaps of rows with no backward); what it
 * refuses; and how mlp_diagnose, mlp_diagnose_range and the workspace
 * accessors behave after it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"
#include "../test_models.h"

#include "../test_params.h"

enum { ROWS = 40, MAX_RANGE = 6, MAX_OUT = 8 };

/* Bits, not values: NaN equals NaN, 0 does not equal -0. */
static void same_float(float a, float b, const char *what, int range, int layer)
{
    if (memcmp(&a, &b, sizeof a) != 0)
        fail_msg("range %d layer %d: %s %.9g batched, %.9g alone", range, layer, what, (double)a,
                 (double)b);
}

/* Every field of two diagnostics, bit for bit. */
static void same_diag(const mlp_model *m, const mlp_diagnostics *a, const mlp_diagnostics *b,
                      int range)
{
    assert_int_equal(a->n_layers, b->n_layers);
    assert_int_equal(a->rows, b->rows);
    for (int l = 0; l < a->n_layers; l++) {
        const mlp_layer_diag *x = &a->layers[l], *y = &b->layers[l];
        assert_int_equal(x->relu_stats, y->relu_stats);
        assert_int_equal(x->n_dead, y->n_dead);
        if (x->n_dead) assert_memory_equal(x->dead_units, y->dead_units, sizeof(int) * x->n_dead);
        assert_int_equal(x->n_nonfinite, y->n_nonfinite);
        assert_int_equal(x->saturation_stats, y->saturation_stats);
        same_float(x->dead_fraction, y->dead_fraction, "dead_fraction", range, l);
        same_float(x->sparsity, y->sparsity, "sparsity", range, l);
        same_float(x->mean_activation, y->mean_activation, "mean_activation", range, l);
        same_float(x->saturated_fraction, y->saturated_fraction, "saturated", range, l);
        same_float(x->weight_grad_norm, y->weight_grad_norm, "weight_grad_norm", range, l);
        same_float(x->bias_grad_norm, y->bias_grad_norm, "bias_grad_norm", range, l);
        same_float(x->activation_grad_norm, y->activation_grad_norm, "activation_grad_norm", range,
                   l);
    }
    same_float(a->dead_fraction, b->dead_fraction, "dead_fraction", range, -1);
    assert_int_equal(a->collapsed, b->collapsed);
    assert_int_equal(a->nonfinite, b->nonfinite);
    assert_int_equal(a->has_gradients, b->has_gradients);
    same_float(a->gradient_ratio, b->gradient_ratio, "gradient_ratio", range, -1);
    assert_int_equal(a->vanishing, b->vanishing);
    assert_int_equal(a->exploding, b->exploding);
    assert_int_equal(a->has_loss, b->has_loss);
    same_float(a->loss, b->loss, "loss", range, -1);
    assert_int_equal(a->target, b->target);
    if (a->input_gradient != NULL)
        assert_memory_equal(a->input_gradient, b->input_gradient,
                            sizeof(float) * (size_t)a->rows * mlp_model_n_inputs(m));
}

/* One range's target, drawn among the kinds the model takes. */
typedef struct {
    mlp_target t;
    int labels[MAX_RANGE];
    float targets[MAX_RANGE * MAX_OUT];
} range_target;

static void draw_target(const mlp_model *m, mlp_rng *r, int n, range_target *rt)
{
    int K = mlp_model_n_outputs(m);
    memset(rt, 0, sizeof *rt);
    mlp_target_kind kinds[5];
    int nk = 0;
    kinds[nk++] = MLP_TARGET_MAX_LOGIT;
    kinds[nk++] = MLP_TARGET_MSE;
    kinds[nk++] = MLP_TARGET_BINARY;
    if (K > 1) {
        kinds[nk++] = MLP_TARGET_LABELS;
        kinds[nk++] = MLP_TARGET_DISTRIBUTION;
    }
    rt->t.kind = kinds[mlp_rng_below(r, (uint64_t)nk)];
    bool labels = rt->t.kind == MLP_TARGET_LABELS ||
                  (rt->t.kind == MLP_TARGET_BINARY && K == 1 && mlp_rng_below(r, 2));
    for (int i = 0; i < n; i++) {
        rt->labels[i] = (int)mlp_rng_below(r, rt->t.kind == MLP_TARGET_LABELS ? (uint64_t)K : 2);
        double sum = 0.0;
        for (int j = 0; j < K; j++) {
            float v = (float)mlp_rng_uniform(r);
            rt->targets[i * K + j] = rt->t.kind == MLP_TARGET_MSE ? 4.0f * v - 2.0f : v;
            sum += v;
        }
        if (rt->t.kind == MLP_TARGET_DISTRIBUTION)
            for (int j = 0; j < K; j++)
                rt->targets[i * K + j] = (float)(rt->targets[i * K + j] / sum);
    }
    if (labels)
        rt->t.labels = rt->labels;
    else if (rt->t.kind != MLP_TARGET_MAX_LOGIT)
        rt->t.targets = rt->targets;
}

/*
 * ROWS forward rows cut into ranges of 1..MAX_RANGE rows with gaps between
 * some, each with its own target kind and input_grad, several draws: each
 * range against mlp_backward over the same rows forwarded alone, both on
 * kernel (the bits must agree on each of the batch-invariant kernels).
 */
static void check_model_on(mlp_model *m, bool param_grads, uint64_t seed, mlp_kernel kernel)
{
    int in = mlp_model_n_inputs(m), K = mlp_model_n_outputs(m);
    assert_true(K <= MAX_OUT);
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    float *x = malloc(sizeof(float) * ROWS * (size_t)in);
    assert_non_null(x);
    for (size_t i = 0; i < (size_t)ROWS * in; i++)
        x[i] = (float)(2.0 * mlp_rng_normal(&r));
    mlp_workspace *ws = NULL, *alone = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_create(&alone, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_set_param_grads(ws, param_grads, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_set_param_grads(alone, param_grads, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_set_kernel(ws, kernel, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_set_kernel(alone, kernel, NULL), MLP_OK);

    for (int draw = 0; draw < 8; draw++) {
        assert_int_equal(mlp_forward(m, ws, x, ROWS, NULL, NULL), MLP_OK);
        mlp_backward_range ranges[ROWS];
        range_target rts[ROWS];
        int k = 0;
        for (int row = (int)mlp_rng_below(&r, 2); row < ROWS;) {
            int n = 1 + (int)mlp_rng_below(&r, MAX_RANGE);
            if (n > ROWS - row) n = ROWS - row;
            draw_target(m, &r, n, &rts[k]);
            ranges[k] = (mlp_backward_range){
                .row0 = row, .n = n, .target = rts[k].t, .input_grad = mlp_rng_below(&r, 3) != 0};
            k++;
            row += n + (int)(mlp_rng_below(&r, 4) == 0); /* a gap now and then */
        }
        float losses[ROWS];
        mlp_error e;
        if (mlp_backward_ranges(m, ws, ranges, k, losses, &e) != MLP_OK) fail_msg("%s", e.msg);
        assert_null(mlp_workspace_param_grad(ws));
        const float *dx = mlp_workspace_input_grad(ws);
        size_t dx_row = 0;

        for (int i = 0; i < k; i++) {
            const mlp_backward_range *g = &ranges[i];
            mlp_diagnostics batched, single;
            if (mlp_diagnose_range(m, ws, i, NULL, &batched, &e) != MLP_OK) fail_msg("%s", e.msg);
            float loss;
            assert_int_equal(mlp_forward(m, alone, x + (size_t)g->row0 * in, g->n, NULL, NULL),
                             MLP_OK);
            assert_int_equal(mlp_backward(m, alone, 0, g->n, &g->target, &loss, NULL), MLP_OK);
            assert_int_equal(mlp_diagnose(m, alone, NULL, &single, NULL), MLP_OK);
            same_diag(m, &batched, &single, i);
            same_float(losses[i], loss, "losses[]", i, -1);
            if (g->input_grad) {
                assert_non_null(batched.input_gradient);
                /* stacked in range order among the ranges that asked */
                assert_ptr_equal(batched.input_gradient, dx + dx_row * (size_t)in);
                dx_row += (size_t)g->n;
            } else {
                assert_null(batched.input_gradient);
            }
            /* ws's batch results stay put while `alone` computes */
        }
        if (dx_row == 0) assert_null(dx);
    }
    mlp_workspace_free(ws);
    mlp_workspace_free(alone);
    free(x);
}

/* Both without (seed) and with (seed + 1) the parameter gradients, each on
 * both kernels. */
static void check_model(mlp_model *m, uint64_t seed)
{
    for (int param_grads = 0; param_grads <= 1; param_grads++) {
        check_model_on(m, param_grads, seed + (uint64_t)param_grads, MLP_KERNEL_PORTABLE);
        check_model_on(m, param_grads, seed + (uint64_t)param_grads, MLP_KERNEL_NATIVE);
    }
}

static void test_ranges_equal_alone_classifier(void **s)
{
    (void)s;
    const mlp_layer_spec spec[] = {{24, MLP_ACT_RELU, 0},
                                   {20, MLP_ACT_LEAKY_RELU, 0.1f},
                                   {9, MLP_ACT_TANH, 0},
                                   {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = test_model_random(19, spec, 4, MLP_INIT_HE_NORMAL, 3);
    /* Standardised inputs: dg/dX is divided by std for the asked rows only. */
    float mean[19], std[19];
    for (int i = 0; i < 19; i++) {
        mean[i] = 0.1f * (float)i;
        std[i] = 0.5f + 0.25f * (float)(i % 5);
    }
    assert_int_equal(mlp_model_set_standardization(m, mean, std, NULL), MLP_OK);
    check_model(m, 10);
    mlp_model_free(m);
}

static void test_ranges_equal_alone_regression(void **s)
{
    (void)s;
    const mlp_layer_spec spec[] = {
        {33, MLP_ACT_RELU, 0}, {17, MLP_ACT_SIGMOID, 0}, {2, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_random(8, spec, 3, MLP_INIT_HE_NORMAL, 5);
    check_model(m, 20);
    mlp_model_free(m);
}

/* One output: binary cross-entropy on labels or targets; wide enough (64
 * inputs, 40 units) that the products run the 4-row tiles and the one-row
 * tail in the same call. */
static void test_ranges_equal_alone_one_output(void **s)
{
    (void)s;
    const mlp_layer_spec spec[] = {{40, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_random(64, spec, 2, MLP_INIT_HE_NORMAL, 7);
    assert_int_equal(mlp_model_set_task(m, MLP_TASK_CLASSIFICATION, NULL), MLP_OK);
    check_model(m, 30);
    mlp_model_free(m);
}

/*
 * A weight of +inf in the first layer: rows whose input meets it with a
 * negative value have a unit at -inf, inactive, so its gradient is 0 and
 * 0·inf makes their dg/dX NaN in a batch. A row alone must get the same bits:
 * the native kernel's one-row product steps over zeros of dZ only for finite
 * weights (what its copy of the weights knows), and here it must not.
 */
static void test_ranges_equal_alone_infinite_weight(void **s)
{
    (void)s;
    const mlp_layer_spec spec[] = {{6, MLP_ACT_RELU, 0}, {3, MLP_ACT_IDENTITY, 0}};
    mlp_model *m = test_model_random(5, spec, 2, MLP_INIT_HE_NORMAL, 11);
    size_t np = mlp_model_n_params(m);
    float *p = malloc(sizeof(float) * np);
    assert_non_null(p);
    memcpy(p, mlp_model_params(m), sizeof(float) * np);
    p[2 * 5 + 1] = INFINITY; /* W_0[2][1] */
    assert_int_equal(mlp_model_set_params(m, p, np, NULL), MLP_OK);
    for (int param_grads = 0; param_grads <= 1; param_grads++)
        check_model_on(m, param_grads, 40 + (uint64_t)param_grads, MLP_KERNEL_NATIVE);
    free(p);
    mlp_model_free(m);
}

/* n uniform values from a stream seeded with seed. */
static void fill_uniform(float *v, size_t n, uint64_t seed)
{
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    test_fill_uniform(&r, v, n);
}

/* A ReLU layer of hidden units, then a softmax over classes; He-normal
 * weights drawn from seed. */
static mlp_model *classifier(int n_inputs, int hidden, int classes, uint64_t seed)
{
    const mlp_layer_spec spec[] = {{hidden, MLP_ACT_RELU, 0}, {classes, MLP_ACT_SOFTMAX, 0}};
    return test_model_random(n_inputs, spec, 2, MLP_INIT_HE_NORMAL, seed);
}

/* One range is mlp_backward: the same gradients, kept in full mode. */
static void test_one_range_is_backward(void **s)
{
    (void)s;
    mlp_model *m = classifier(6, 12, 4, 9);
    float x[5 * 6];
    fill_uniform(x, 5 * 6, 1);
    int labels[3] = {0, 3, 1};
    mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = labels};
    mlp_workspace *a = NULL, *b = NULL;
    assert_int_equal(mlp_workspace_create(&a, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_create(&b, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, a, x, 5, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, b, x, 5, NULL, NULL), MLP_OK);
    float la, lb;
    assert_int_equal(mlp_backward(m, a, 1, 3, &t, &la, NULL), MLP_OK);
    mlp_backward_range one = {.row0 = 1, .n = 3, .target = t, .input_grad = true};
    assert_int_equal(mlp_backward_ranges(m, b, &one, 1, &lb, NULL), MLP_OK);
    same_float(la, lb, "loss", 0, -1);
    assert_non_null(mlp_workspace_param_grad(b));
    assert_memory_equal(mlp_workspace_param_grad(a), mlp_workspace_param_grad(b),
                        sizeof(float) * mlp_model_n_params(m));
    assert_memory_equal(mlp_workspace_input_grad(a), mlp_workspace_input_grad(b),
                        sizeof(float) * 3 * 6);
    mlp_diagnostics da, db, dr;
    assert_int_equal(mlp_diagnose(m, a, NULL, &da, NULL), MLP_OK);
    assert_int_equal(mlp_diagnose(m, b, NULL, &db, NULL), MLP_OK);
    same_diag(m, &da, &db, 0);
    assert_int_equal(mlp_diagnose_range(m, b, 0, NULL, &dr, NULL), MLP_OK);
    same_diag(m, &dr, &db, 0);
    mlp_workspace_free(a);
    mlp_workspace_free(b);
    mlp_model_free(m);
}

static void expect_refused(const mlp_model *m, mlp_workspace *ws, const mlp_backward_range *r,
                           int n, const char *needle)
{
    mlp_error e;
    assert_int_equal(mlp_backward_ranges(m, ws, r, n, NULL, &e), MLP_ERR_INVALID);
    if (strstr(e.msg, needle) == NULL) fail_msg("\"%s\" does not name \"%s\"", e.msg, needle);
}

static void test_refusals(void **s)
{
    (void)s;
    mlp_model *m = classifier(4, 8, 3, 2);
    mlp_model *other = classifier(5, 8, 3, 2);
    float x[6 * 4] = {0};
    int bad[2] = {0, 3};
    mlp_target ml = {.kind = MLP_TARGET_MAX_LOGIT};
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    mlp_backward_range r[3] = {{0, 2, ml, true}, {2, 2, ml, false}, {4, 2, ml, true}};
    expect_refused(m, ws, r, 3, "no forward");
    assert_int_equal(mlp_forward(m, ws, x, 6, NULL, NULL), MLP_OK);
    expect_refused(NULL, ws, r, 3, "NULL");
    expect_refused(m, ws, NULL, 3, "NULL");
    expect_refused(m, ws, r, 0, "0 ranges");
    expect_refused(other, ws, r, 3, "another shape");
    /* the first backward result must survive the refusals below */
    assert_int_equal(mlp_backward_ranges(m, ws, r, 3, NULL, NULL), MLP_OK);
    mlp_backward_range overlap[2] = {{0, 3, ml, true}, {2, 2, ml, true}};
    expect_refused(m, ws, overlap, 2, "range 1: rows [2, 4)");
    mlp_backward_range backwards[2] = {{4, 1, ml, true}, {0, 1, ml, true}};
    expect_refused(m, ws, backwards, 2, "range 1");
    mlp_backward_range outside[1] = {{5, 2, ml, true}};
    expect_refused(m, ws, outside, 1, "within the last forward's 6 rows");
    mlp_backward_range empty[1] = {{1, 0, ml, true}};
    expect_refused(m, ws, empty, 1, "range 0");
    mlp_backward_range label[2] = {{0, 2, ml, true},
                                   {2, 2, {.kind = MLP_TARGET_LABELS, .labels = bad}, true}};
    expect_refused(m, ws, label, 2, "range 1: ");
    mlp_diagnostics d;
    assert_int_equal(mlp_diagnose_range(m, ws, 2, NULL, &d, NULL), MLP_OK);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.layers[0].units, 8);
    mlp_workspace_free(ws);
    mlp_model_free(m);
    mlp_model_free(other);
}

/* What the other calls say after a backward over several ranges. */
static void test_after_several_ranges(void **s)
{
    (void)s;
    mlp_model *m = classifier(4, 8, 3, 4);
    float x[6 * 4];
    fill_uniform(x, 6 * 4, 8);
    mlp_target ml = {.kind = MLP_TARGET_MAX_LOGIT};
    mlp_workspace *ws = NULL;
    mlp_error e;
    mlp_diagnostics d;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, ws, x, 6, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_diagnose_range(m, ws, 0, NULL, &d, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "no backward"));

    mlp_backward_range none[2] = {{0, 2, ml, false}, {3, 3, ml, false}};
    float losses[2];
    assert_int_equal(mlp_backward_ranges(m, ws, none, 2, losses, NULL), MLP_OK);
    assert_true(isnan(losses[0]) && isnan(losses[1]));
    assert_null(mlp_workspace_input_grad(ws)); /* none asked */
    assert_null(mlp_workspace_param_grad(ws)); /* full mode, but two gradients */
    assert_int_equal(mlp_diagnose(m, ws, NULL, &d, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "mlp_diagnose_range"));
    assert_int_equal(mlp_diagnose_range(m, ws, 2, NULL, &d, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "range 2"));
    assert_int_equal(mlp_diagnose_range(m, ws, -1, NULL, &d, NULL), MLP_ERR_INVALID);
    assert_int_equal(mlp_diagnose_range(m, ws, 1, NULL, &d, NULL), MLP_OK);
    assert_int_equal(d.rows, 3);
    assert_null(d.input_gradient);

    /* the next forward drops the ranges: forward statistics again */
    assert_int_equal(mlp_forward(m, ws, x, 6, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_diagnose(m, ws, NULL, &d, NULL), MLP_OK);
    assert_int_equal(d.rows, 6);
    assert_false(d.has_gradients);
    assert_int_equal(mlp_diagnose_range(m, ws, 0, NULL, &d, NULL), MLP_ERR_INVALID);
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges_equal_alone_classifier),
        cmocka_unit_test(test_ranges_equal_alone_regression),
        cmocka_unit_test(test_ranges_equal_alone_one_output),
        cmocka_unit_test(test_ranges_equal_alone_infinite_weight),
        cmocka_unit_test(test_one_range_is_backward),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_after_several_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
