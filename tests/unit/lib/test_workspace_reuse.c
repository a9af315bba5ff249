/*
 * test_workspace_reuse — one workspace driven through a long random sequence
 * of forwards, backwards, diagnoses, activity counts and reserves over models
 * of different shapes (and of the same shape with other activations), with
 * row ranges inside and outside the last batch. Every call that succeeds must
 * give exactly what a fresh workspace gives for the same request; every
 * impossible request must be refused without touching the last results. Run
 * under SAN=1, this is the check that no sequence reads or writes out of
 * bounds.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"

enum { N_MODELS = 6, MAX_ROWS = 40, STEPS = 1500 };

typedef struct {
    mlp_model *m[N_MODELS];
    float *x;   /* MAX_ROWS x widest input */
    float *t;   /* MAX_ROWS x widest output */
    int *label; /* MAX_ROWS */
} pool;

static mlp_model *make(int in, const mlp_layer_spec *spec, int n, uint64_t seed)
{
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(in, spec, n, &m, NULL), MLP_OK);
    mlp_model_init(m, MLP_INIT_AUTO, seed, NULL);
    return m;
}

static void pool_init(pool *p)
{
    /* 0 and 1 share their shape (and so pass the shape checks for each
     * other); the rest differ in depth, width or input size. */
    mlp_layer_spec a[] = {{16, MLP_ACT_RELU, 0}, {8, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_layer_spec b[] = {
        {16, MLP_ACT_TANH, 0}, {8, MLP_ACT_LEAKY_RELU, 0.1f}, {3, MLP_ACT_IDENTITY, 0}};
    mlp_layer_spec c[] = {{2, MLP_ACT_SIGMOID, 0}};
    mlp_layer_spec d[] = {{40, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0}};
    mlp_layer_spec e[] = {
        {5, MLP_ACT_RELU, 0}, {5, MLP_ACT_RELU, 0}, {5, MLP_ACT_RELU, 0}, {7, MLP_ACT_SOFTMAX, 0}};
    mlp_layer_spec f[] = {{3, MLP_ACT_RELU, 0}, {33, MLP_ACT_IDENTITY, 0}};
    p->m[0] = make(5, a, 3, 1);
    p->m[1] = make(5, b, 3, 2);
    p->m[2] = make(9, c, 1, 3);
    p->m[3] = make(33, d, 2, 4);
    p->m[4] = make(2, e, 4, 5);
    p->m[5] = make(1, f, 2, 6);
    float mean[5] = {0.1f, -0.2f, 0.3f, 0, 1}, std[5] = {1, 2, 0.5f, 1, 3};
    assert_int_equal(mlp_model_set_standardization(p->m[1], mean, std, NULL), MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, 99);
    p->x = malloc(sizeof(float) * MAX_ROWS * 33);
    p->t = malloc(sizeof(float) * MAX_ROWS * 33);
    p->label = malloc(sizeof(int) * MAX_ROWS);
    assert_non_null(p->x);
    assert_non_null(p->t);
    assert_non_null(p->label);
    for (int i = 0; i < MAX_ROWS * 33; i++) {
        p->x[i] = (float)mlp_rng_normal(&r);
        p->t[i] = (float)mlp_rng_uniform(&r);
    }
    for (int i = 0; i < MAX_ROWS; i++)
        p->label[i] = i % 2; /* out of range only for the one-output model */
}

static void pool_free(pool *p)
{
    for (int i = 0; i < N_MODELS; i++)
        mlp_model_free(p->m[i]);
    free(p->x);
    free(p->t);
    free(p->label);
}

static bool same_shape(const mlp_model *a, const mlp_model *b)
{
    if (mlp_model_n_inputs(a) != mlp_model_n_inputs(b) ||
        mlp_model_n_layers(a) != mlp_model_n_layers(b))
        return false;
    for (int l = 0; l < mlp_model_n_layers(a); l++)
        if (mlp_model_layer(a, l)->out != mlp_model_layer(b, l)->out) return false;
    return true;
}

/* What the reused workspace must reproduce: the last forward replayed on a
 * fresh workspace, then the same backward (if any). */
typedef struct {
    const mlp_model *m;
    int rows;
} last_forward;

static void check_diag_equal(const mlp_diagnostics *a, const mlp_diagnostics *b)
{
    assert_int_equal(a->n_layers, b->n_layers);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->has_gradients, b->has_gradients);
    assert_int_equal(a->collapsed, b->collapsed);
    assert_memory_equal(&a->dead_fraction, &b->dead_fraction, sizeof(float));
    for (int l = 0; l < a->n_layers; l++) {
        const mlp_layer_diag *x = &a->layers[l], *y = &b->layers[l];
        assert_int_equal(x->n_dead, y->n_dead);
        if (x->n_dead) assert_memory_equal(x->dead_units, y->dead_units, sizeof(int) * x->n_dead);
        assert_memory_equal(&x->sparsity, &y->sparsity, sizeof(float));
        assert_memory_equal(&x->mean_activation, &y->mean_activation, sizeof(float));
        assert_memory_equal(&x->weight_grad_norm, &y->weight_grad_norm, sizeof(float));
        assert_memory_equal(&x->bias_grad_norm, &y->bias_grad_norm, sizeof(float));
        assert_memory_equal(&x->activation_grad_norm, &y->activation_grad_norm, sizeof(float));
    }
}

static void test_random_sequences(void **state)
{
    (void)state;
    pool p;
    pool_init(&p);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_non_null(ws);
    mlp_rng r;
    mlp_rng_seed(&r, 2024);
    last_forward lf = {NULL, 0};
    bool keep = true;
    int n_ok_backward = 0, n_refused = 0;
    for (int step = 0; step < STEPS; step++) {
        const mlp_model *m = p.m[mlp_rng_below(&r, N_MODELS)];
        int op = (int)mlp_rng_below(&r, 6);
        /* mostly the model just forwarded (the valid case), else any */
        if (op != 0 && lf.m && mlp_rng_below(&r, 4) != 0) m = lf.m;
        if (op == 0 || !lf.m) { /* forward */
            int rows = 1 + (int)mlp_rng_below(&r, MAX_ROWS);
            float *y = malloc(sizeof(float) * (size_t)rows * (size_t)mlp_model_n_outputs(m));
            assert_int_equal(mlp_forward(m, ws, p.x, rows, y, NULL), MLP_OK);
            mlp_workspace *fresh = NULL;
            assert_int_equal(mlp_workspace_create(&fresh, NULL), MLP_OK);
            assert_int_equal(mlp_forward(m, fresh, p.x, rows, NULL, NULL), MLP_OK);
            assert_memory_equal(y, mlp_workspace_output(fresh),
                                sizeof(float) * (size_t)rows * (size_t)mlp_model_n_outputs(m));
            assert_memory_equal(mlp_workspace_output(ws), y,
                                sizeof(float) * (size_t)rows * (size_t)mlp_model_n_outputs(m));
            mlp_workspace_free(fresh);
            free(y);
            lf.m = m;
            lf.rows = rows;
        } else if (op == 1 || op == 2) { /* backward, sometimes impossible */
            static const int odd[] = {0, -1, INT_MIN, INT_MAX, MAX_ROWS + 1};
            int row0, n;
            if (mlp_rng_below(&r, 3) == 0) {
                row0 = odd[mlp_rng_below(&r, 5)];
                n = odd[mlp_rng_below(&r, 5)];
            } else {
                row0 = (int)mlp_rng_below(&r, (uint64_t)lf.rows);
                n = 1 + (int)mlp_rng_below(&r, (uint64_t)(lf.rows - row0));
            }
            mlp_target_kind kinds[] = {MLP_TARGET_MAX_LOGIT, MLP_TARGET_LABELS,
                                       MLP_TARGET_DISTRIBUTION, MLP_TARGET_MSE, MLP_TARGET_BINARY};
            mlp_target t = {.kind = kinds[mlp_rng_below(&r, 5)], .labels = p.label, .targets = p.t};
            bool valid = same_shape(m, lf.m) && n >= 1 && row0 >= 0 && row0 <= lf.rows - n;
            bool softmax_ce = t.kind == MLP_TARGET_LABELS || t.kind == MLP_TARGET_DISTRIBUTION;
            if (softmax_ce && mlp_model_n_outputs(m) == 1)
                valid = false; /* cross-entropy over one output is identically 0 */
            if (t.kind == MLP_TARGET_BINARY && mlp_model_n_outputs(m) != 1)
                valid = false; /* labels 0/1 name the class of one logit */
            float loss;
            mlp_status s = mlp_backward(m, ws, row0, n, &t, &loss, NULL);
            if (!valid) {
                assert_int_equal(s, MLP_ERR_INVALID);
                n_refused++;
                continue;
            }
            assert_int_equal(s, MLP_OK);
            n_ok_backward++;
            /* the same on a fresh workspace: forward of lf, then this backward */
            mlp_workspace *fresh = NULL;
            assert_int_equal(mlp_workspace_create(&fresh, NULL), MLP_OK);
            mlp_workspace_set_param_grads(fresh, keep, NULL);
            assert_int_equal(mlp_forward(lf.m, fresh, p.x, lf.rows, NULL, NULL), MLP_OK);
            float loss2;
            assert_int_equal(mlp_backward(m, fresh, row0, n, &t, &loss2, NULL), MLP_OK);
            assert_memory_equal(&loss, &loss2, sizeof loss);
            assert_memory_equal(mlp_workspace_input_grad(ws), mlp_workspace_input_grad(fresh),
                                sizeof(float) * (size_t)n * (size_t)mlp_model_n_inputs(m));
            const float *g1 = mlp_workspace_param_grad(ws), *g2 = mlp_workspace_param_grad(fresh);
            assert_int_equal(g1 == NULL, !keep);
            assert_int_equal(g2 == NULL, !keep);
            if (keep) assert_memory_equal(g1, g2, sizeof(float) * mlp_model_n_params(m));
            mlp_diagnostics d1, d2;
            assert_int_equal(mlp_diagnose(m, ws, NULL, &d1, NULL), MLP_OK);
            assert_int_equal(mlp_diagnose(m, fresh, NULL, &d2, NULL), MLP_OK);
            check_diag_equal(&d1, &d2);
            mlp_workspace_free(fresh);
        } else if (op == 3) { /* diagnose, possibly with a model of another shape */
            mlp_diagnostics d;
            mlp_status s = mlp_diagnose(m, ws, NULL, &d, NULL);
            assert_int_equal(s, same_shape(m, lf.m) ? MLP_OK : MLP_ERR_INVALID);
            if (s == MLP_OK) assert_true(d.rows >= 1 && d.rows <= lf.rows);
        } else if (op == 4) { /* activity counts over any range */
            mlp_activity a;
            assert_int_equal(mlp_activity_init(m, &a, NULL), MLP_OK);
            int row0 = (int)mlp_rng_below(&r, MAX_ROWS + 2) - 1;
            int n = (int)mlp_rng_below(&r, MAX_ROWS + 2) - 1;
            mlp_status s = mlp_activity_add(&a, ws, row0, n, NULL);
            bool valid = same_shape(m, lf.m) && n >= 1 && row0 >= 0 && row0 <= lf.rows - n;
            assert_int_equal(s, valid ? MLP_OK : MLP_ERR_INVALID);
            assert_int_equal(a.rows, valid ? (uint64_t)n : 0);
            mlp_activity_free(&a);
        } else { /* reserve for another model, or flip the gradient mode */
            if (mlp_rng_below(&r, 2)) {
                assert_int_equal(
                    mlp_workspace_reserve(ws, m, 1 + (int)mlp_rng_below(&r, 2 * MAX_ROWS), NULL),
                    MLP_OK);
                /* the last forward's results survive growth */
                assert_int_equal(mlp_workspace_rows(ws), lf.rows);
            } else {
                keep = !keep;
                mlp_workspace_set_param_grads(ws, keep, NULL);
            }
        }
    }
    print_message("%d backwards checked against a fresh workspace, %d refused\n", n_ok_backward,
                  n_refused);
    /* the sequence exercised both outcomes */
    assert_true(n_ok_backward > 100);
    assert_true(n_refused > 50);
    mlp_workspace_free(ws);
    pool_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
